/*
 * ical.c - RFC 5545 calendars of appointments and the texts of the
 * appointment e-mails.
 *
 * Calendars are written line by line through put_line(), which folds at
 * 75 octets (continuation lines start with one space, RFC 5545 3.1) and
 * never splits a UTF-8 sequence, and ends every line with CRLF.  Text
 * values are escaped by put_text() (backslash, semicolon, comma, newline;
 * 3.3.11).  Times are local wall-clock times with TZID=Europe/Berlin and a
 * VTIMEZONE describing the EU summer-time rule; DTSTAMP is UTC.
 */
#include "appointments/appointments_internal.h"

#include <string.h>

#include "core/buf.h"

#define ICAL_MAX (256 * 1024)

/* Append one content line, folded. */
static void put_line(struct buf *out, const char *line)
{
    size_t len = strlen(line), col = 0;
    for (size_t i = 0; i < len;) {
        size_t n = 1;
        unsigned char c = (unsigned char)line[i];
        if (c >= 0xf0)
            n = 4;
        else if (c >= 0xe0)
            n = 3;
        else if (c >= 0xc0)
            n = 2;
        if (col + n > 75) {
            buf_puts(out, "\r\n ");
            col = 1;
        }
        buf_append(out, line + i, n);
        col += n;
        i += n;
    }
    buf_puts(out, "\r\n");
}

/* "NAME:" + escaped text as one line. */
static void put_text(struct buf *out, const char *name, const char *text)
{
    struct buf line;
    buf_init(&line, 16384);
    buf_printf(&line, "%s:", name);
    for (const char *c = text ? text : ""; *c; c++) {
        switch (*c) {
        case '\\': buf_puts(&line, "\\\\"); break;
        case ';': buf_puts(&line, "\\;"); break;
        case ',': buf_puts(&line, "\\,"); break;
        case '\n': buf_puts(&line, "\\n"); break;
        case '\r': break;
        default: buf_putc(&line, *c);
        }
    }
    if (buf_status(&line) == KR_OK)
        put_line(out, buf_cstr(&line));
    else
        out->status = buf_status(&line);
    buf_release(&line);
}

static void local_stamp(int64_t t, char out[16])
{
    int64_t day;
    int minute, y, m, d;
    appointments_utc_to_local(t, &day, &minute);
    appointments_civil_from_days(day, &y, &m, &d);
    (void)snprintf(out, 16, "%04u%02u%02uT%02u%02u00", (unsigned)y % 10000u, (unsigned)m % 100u,
                   (unsigned)d % 100u, (unsigned)minute / 60u % 100u, (unsigned)minute % 60u);
}

static void utc_stamp(int64_t t, char out[17])
{
    int64_t day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t sec = t - day * 86400;
    int y, m, d;
    appointments_civil_from_days(day, &y, &m, &d);
    (void)snprintf(out, 17, "%04u%02u%02uT%02u%02u%02uZ", (unsigned)y % 10000u, (unsigned)m % 100u,
                   (unsigned)d % 100u, (unsigned)(sec / 3600) % 100u, (unsigned)(sec / 60 % 60),
                   (unsigned)(sec % 60));
}

/* The host of public_url ("portal.example" of "https://portal.example:8443/"). */
static void url_host(const char *url, char *out, size_t size)
{
    const char *p = strstr(url ? url : "", "://");
    p = p ? p + 3 : (url ? url : "");
    size_t n = strcspn(p, ":/?#");
    if (n == 0 || n >= size) {
        (void)snprintf(out, size, "kreisel.invalid");
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

static void put_timezone(struct buf *out)
{
    static const char *const lines[] = {
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Berlin",
        "BEGIN:DAYLIGHT",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200",
        "TZNAME:CEST",
        "DTSTART:19700329T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        "END:DAYLIGHT",
        "BEGIN:STANDARD",
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0100",
        "TZNAME:CET",
        "DTSTART:19701025T030000",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        "END:STANDARD",
        "END:VTIMEZONE",
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(lines); i++)
        put_line(out, lines[i]);
}

static void put_event(struct buf *out, int64_t now, const char *host, bool cancel,
                      const struct appointments_booking *b)
{
    char line[512], stamp[17], start[16], end[16];
    put_line(out, "BEGIN:VEVENT");
    (void)snprintf(line, sizeof(line), "UID:%s@%s", b->code, host);
    put_line(out, line);
    utc_stamp(now, stamp);
    (void)snprintf(line, sizeof(line), "DTSTAMP:%s", stamp);
    put_line(out, line);
    (void)snprintf(line, sizeof(line), "SEQUENCE:%d", b->sequence);
    put_line(out, line);
    local_stamp(b->starts_at, start);
    local_stamp(b->ends_at, end);
    (void)snprintf(line, sizeof(line), "DTSTART;TZID=Europe/Berlin:%s", start);
    put_line(out, line);
    (void)snprintf(line, sizeof(line), "DTEND;TZID=Europe/Berlin:%s", end);
    put_line(out, line);
    struct buf s;
    buf_init(&s, 4096);
    buf_printf(&s, "Termin: %s – %s", b->title ? b->title : "", b->location_name);
    put_text(out, "SUMMARY", buf_cstr(&s));
    put_text(out, "LOCATION", b->location_address);
    buf_reset(&s);
    buf_printf(&s, "Buchungsnummer / booking number: %s\nSchalter / counter: %s", b->code,
               b->resource_name ? b->resource_name : "");
    put_text(out, "DESCRIPTION", buf_cstr(&s));
    buf_release(&s);
    (void)snprintf(line, sizeof(line), "ORGANIZER;CN=Terminvergabe:mailto:noreply@%s", host);
    put_line(out, line);
    if (b->email && b->email[0]) {
        (void)snprintf(line, sizeof(line), "ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:%s", b->email);
        put_line(out, line);
    }
    bool pending = b->status && strcmp(b->status, "pending") == 0;
    put_line(out, cancel ? "STATUS:CANCELLED" : pending ? "STATUS:TENTATIVE" : "STATUS:CONFIRMED");
    put_line(out, "TRANSP:OPAQUE");
    put_line(out, "END:VEVENT");
}

int appointments_ical(struct arena *a, int64_t now, const char *public_url, const char *method,
                      const struct appointments_booking *bookings, size_t n, char **out,
                      size_t *len, struct kr_error *err)
{
    char host[256], line[64];
    url_host(public_url, host, sizeof(host));
    struct buf b;
    buf_init(&b, ICAL_MAX);
    put_line(&b, "BEGIN:VCALENDAR");
    put_line(&b, "VERSION:2.0");
    put_line(&b, "PRODID:-//Kreisel//Terminvergabe//DE");
    put_line(&b, "CALSCALE:GREGORIAN");
    (void)snprintf(line, sizeof(line), "METHOD:%s", method);
    put_line(&b, line);
    put_timezone(&b);
    bool cancel = strcmp(method, "CANCEL") == 0;
    for (size_t i = 0; i < n; i++)
        put_event(&b, now, host, cancel || strcmp(bookings[i].status, "cancelled") == 0,
                  &bookings[i]);
    put_line(&b, "END:VCALENDAR");
    int rc = buf_status(&b);
    if (rc == KR_OK) {
        *out = arena_strndup(a, b.data, b.len);
        *len = b.len;
        if (!*out)
            rc = KR_ERR_NOMEM;
    }
    buf_release(&b);
    if (rc)
        return kr_error_set(err, rc, "the calendar is too large");
    return KR_OK;
}

/* ---- Mail texts ------------------------------------------------------------------ */

char *appt_format_when(struct arena *a, int64_t t, const char *lang)
{
    static const char *const de_days[] = {"",           "Montag",  "Dienstag", "Mittwoch",
                                          "Donnerstag", "Freitag", "Samstag",  "Sonntag"};
    static const char *const en_days[] = {"",         "Monday", "Tuesday",  "Wednesday",
                                          "Thursday", "Friday", "Saturday", "Sunday"};
    int64_t day;
    int minute, y, m, d;
    appointments_utc_to_local(t, &day, &minute);
    appointments_civil_from_days(day, &y, &m, &d);
    int wd = appointments_weekday(day);
    if (lang && strcmp(lang, "en") == 0)
        return arena_printf(a, "%s, %d-%02d-%02d, %02d:%02d", en_days[wd], y, m, d, minute / 60,
                            minute % 60);
    return arena_printf(a, "%s, %02d.%02d.%d, %02d:%02d Uhr", de_days[wd], d, m, y, minute / 60,
                        minute % 60);
}

struct mail_kind {
    const char *kind, *subject, *lead_de, *lead_en;
};

static const struct mail_kind kinds[] = {
    {"confirm_link", "Bitte bestätigen Sie Ihren Termin / Please confirm your appointment",
     "Bitte bestätigen Sie Ihren Termin innerhalb von 30 Minuten mit diesem Link, sonst wird er "
     "wieder freigegeben:",
     "Please confirm your appointment within 30 minutes with this link, otherwise it is "
     "released:"},
    {"confirmed", "Ihr Termin ist gebucht / Your appointment is booked",
     "Ihr Termin ist gebucht. Absagen oder verlegen können Sie ihn hier:",
     "Your appointment is booked. You can cancel or move it here:"},
    {"moved", "Ihr Termin wurde verlegt / Your appointment was moved",
     "Ihr Termin wurde verlegt. Die neue Zeit steht unten; ändern können Sie ihn hier:",
     "Your appointment was moved to the time below; you can change it here:"},
    {"cancelled", "Ihr Termin wurde abgesagt / Your appointment was cancelled",
     "Ihr Termin wurde abgesagt. Einen neuen Termin können Sie jederzeit buchen.",
     "Your appointment was cancelled. You can book a new one at any time."},
    {"reminder", "Erinnerung: Ihr Termin morgen / Reminder: your appointment tomorrow",
     "Wir erinnern Sie an Ihren Termin morgen. Absagen oder verlegen können Sie ihn hier:",
     "This is a reminder of your appointment tomorrow. You can cancel or move it here:"},
};

int appt_mail_text(struct arena *a, const char *kind, const struct appointments_booking *b,
                   const char *link, char **subject, char **text, struct kr_error *err)
{
    const struct mail_kind *k = NULL;
    for (size_t i = 0; i < KR_ARRAY_LEN(kinds); i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            k = &kinds[i];
    if (!k)
        return kr_error_set(err, KR_ERR_INTERNAL, "unknown mail kind %s", kind);
    bool show_link = strcmp(kind, "cancelled") != 0;
    *subject = arena_strdup(a, k->subject);
    *text = arena_printf(a,
                         "Guten Tag %s,\n\n%s\n%s\n\n"
                         "Termin:      %s\n"
                         "Anliegen:    %s\n"
                         "Ort:         %s, %s\n"
                         "Buchung:     %s\n\n"
                         "-- English --\n\n%s\n%s\n\n"
                         "Appointment: %s\n\n"
                         "Diese Nachricht wurde automatisch erstellt. / This message was sent "
                         "automatically.\n",
                         b->name, k->lead_de, show_link ? link : "",
                         appt_format_when(a, b->starts_at, "de"), b->title ? b->title : "",
                         b->location_name, b->location_address, b->code, k->lead_en,
                         show_link ? link : "", appt_format_when(a, b->starts_at, "en"));
    if (!*subject || !*text)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return KR_OK;
}
