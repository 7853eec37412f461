/*
 * appointments.h - online appointment booking (Terminvergabe).
 *
 * A location (Dienststelle: address, directions, accessibility) has
 * resources (counters, rooms, staff) that serve catalogue services; each
 * service takes a duration at a location; the location is open by weekday
 * hours, changed by exceptions (closed days, special hours) and closed on
 * the public holidays of its state (computed, Easter-based ones included)
 * and on configured local holidays.
 *
 * Slots: a location divides its day into steps (step_minutes); an
 * appointment for services s1..sn takes the sum of their durations,
 * rounded up to whole steps, plus the location's buffer.  A slot is free
 * when some resource that serves every one of the services has every step
 * of that time unclaimed.  Bookable are slots from now + min_lead up to
 * now + horizon (struct appointments_policy).
 *
 * Integrity: a booking claims each of its steps in appointment_claim, whose
 * primary key (resource_id, starts_at) refuses a second claim on SQLite and
 * PostgreSQL alike.  So however many requests race for one slot, exactly
 * as many succeed as there are free resources; the others get
 * KR_ERR_CONFLICT ("slot just taken").
 *
 * Lifecycle of a booking: without account "pending" until the e-mail link
 * is used (appointments_confirm), else "released" after confirm_timeout
 * (appointments_tick); with account (or by staff) "confirmed" at once;
 * then "checked_in" or "no_show" (staff), or "cancelled" (the person with
 * the signed link, the account, or staff).  Staff block times as bookings
 * of status "blocked".  Every change is audited ("appointment.book",
 * ".confirm", ".cancel", ".move", ".release", ".check_in", ".no_show",
 * ".block") in its transaction; mails (src/mail) are queued in the same
 * transaction.
 *
 * Time: every function that depends on the clock takes `now` (Unix
 * seconds) from its caller: handlers pass kr_now(), tests a fixed time.
 * Local times are Europe/Berlin (appointments_local_to_utc).
 *
 * Memory: results live in the caller's arena; nothing here keeps state
 * between calls except appointments_worker (owned by main).
 */
#ifndef KR_APPOINTMENTS_APPOINTMENTS_H
#define KR_APPOINTMENTS_APPOINTMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/error.h"
#include "db/db.h"

/* ---- Calendar (pure functions, holidays.c) ------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t appointments_days_from_civil(int y, int m, int d);
void appointments_civil_from_days(int64_t days, int *y, int *m, int *d);

/* ISO weekday of a day number: 1 = Monday ... 7 = Sunday. */
int appointments_weekday(int64_t days);

/* Easter Sunday of year (Gregorian, 1583-4099): *month 3 or 4, *day. */
void appointments_easter(int year, int *month, int *day);

/* True if state is one of the 16 two-letter codes (BW, BY, BE, BB, HB, HH,
 * HE, MV, NI, NW, RP, SL, SN, ST, SH, TH). */
bool appointments_state_valid(const char *state);

/* The German name of the statutory public holiday on y-m-d in state, or
 * NULL.  Covers the nationwide days, the state days (Epiphany, Women's Day
 * in Berlin and Mecklenburg-Vorpommern, Corpus Christi, Assumption in
 * Saarland, Children's Day in Thuringia, Reformation Day, All Saints',
 * Repentance Day in Saxony, Easter and Whit Sunday in Brandenburg) with
 * the years they apply, and one-off days (Reformation 2017 everywhere,
 * 8 May 2020 and 2025 in Berlin).  Days that are holidays only in some
 * municipalities of a state are left to the local holidays. */
const char *appointments_holiday(const char *state, int y, int m, int d);

/* UTC offset of Europe/Berlin at Unix time t: 3600 or 7200 (EU rule:
 * summer time from the last Sunday of March 01:00 UTC to the last Sunday
 * of October 01:00 UTC). */
int appointments_berlin_offset(int64_t t);

/* Unix time of local (Europe/Berlin) day + minute of the day. */
int64_t appointments_local_to_utc(int64_t day, int minute);

/* Local day number and minute of the day of Unix time t. */
void appointments_utc_to_local(int64_t t, int64_t *day, int *minute);

/* Parse "YYYY-MM-DD" (a valid date) into a day number; KR_ERR_INVALID. */
int appointments_parse_day(const char *s, int64_t *day) KR_MUST_CHECK;

/* Format a day number as "YYYY-MM-DD" (out holds 11 bytes). */
void appointments_format_day(int64_t day, char out[11]);

/* ---- Configuration --------------------------------------------------------- */

/* From kreisel.conf (appointments_*); appointments_policy_from_config. */
struct appointments_policy {
    int64_t horizon;         /* seconds ahead */
    int64_t min_lead;        /* seconds */
    int64_t confirm_timeout; /* seconds */
    unsigned max_per_email;
    unsigned max_per_ip; /* per hour */
    unsigned days_cache; /* seconds appointments_days reuses a result; 0: off */
    const char *public_url;
};

void appointments_policy_from_config(const struct kr_config *cfg, struct appointments_policy *out);

/* ---- Locations --------------------------------------------------------------- */

struct appointments_location {
    int64_t id;
    const char *slug, *name, *name_en, *address, *directions, *accessibility, *state;
    int64_t unit_id; /* org unit whose clerks run it; 0 for none */
    int step_minutes, buffer_minutes;
};

struct appointments_new_location {
    const char *slug; /* 2-64 of a-z 0-9 '-' */
    const char *name, *name_en, *address, *directions, *accessibility;
    const char *state; /* appointments_state_valid */
    int64_t unit_id;
    int step_minutes;   /* 5-60 */
    int buffer_minutes; /* 0-120 */
};

/* Set-up (seed, administration).  Each joins the caller's transaction or
 * runs its own; KR_ERR_INVALID names the field, KR_ERR_CONFLICT for a
 * duplicate slug.  actor as in audit.h. */
int appointments_location_add(struct db_conn *conn, const char *actor,
                              const struct appointments_new_location *l, int64_t *id,
                              struct kr_error *err) KR_MUST_CHECK;
/* A resource serving services[0..n) (catalogue ids). */
int appointments_resource_add(struct db_conn *conn, int64_t location_id, const char *name,
                              const char *const *services, size_t n, int64_t *id,
                              struct kr_error *err) KR_MUST_CHECK;
int appointments_duration_set(struct db_conn *conn, int64_t location_id, const char *service_id,
                              int minutes, struct kr_error *err) KR_MUST_CHECK;
/* Opening interval [opens, closes) in minutes of the day on weekday (1-7). */
int appointments_hours_add(struct db_conn *conn, int64_t location_id, int weekday, int opens,
                           int closes, struct kr_error *err) KR_MUST_CHECK;
/* An exception for day: opens < 0 closes the day, else special hours. */
int appointments_exception_add(struct db_conn *conn, int64_t location_id, int64_t day, int opens,
                               int closes, const char *note, struct kr_error *err) KR_MUST_CHECK;
/* A local holiday for one location, or all when location_id is 0. */
int appointments_holiday_add(struct db_conn *conn, int64_t location_id, int64_t day,
                             const char *name, struct kr_error *err) KR_MUST_CHECK;

/* The demo county's offices, counters, durations and hours (seed-demo);
 * joins the caller's transaction. */
int appointments_seed_demo(struct db_conn *conn, struct kr_error *err) KR_MUST_CHECK;

/* All locations by name / those offering service_id (NULL: all). */
int appointments_locations(struct db_conn *conn, struct arena *a, const char *service_id,
                           struct appointments_location **out, size_t *count,
                           struct kr_error *err) KR_MUST_CHECK;

/* One location by slug or id; KR_ERR_NOT_FOUND. */
int appointments_location_get(struct db_conn *conn, struct arena *a, const char *slug, int64_t id,
                              struct appointments_location *out,
                              struct kr_error *err) KR_MUST_CHECK;

/* Service ids offered anywhere (with a duration and a resource), sorted.
 * appointments_location_services: the same for one location. */
int appointments_services(struct db_conn *conn, struct arena *a, char ***out, size_t *count,
                          struct kr_error *err) KR_MUST_CHECK;

/* Service ids offered at location_id (with a duration and a resource). */
int appointments_location_services(struct db_conn *conn, struct arena *a, int64_t location_id,
                                   char ***out, size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* A resource of a location. */
struct appointments_resource {
    int64_t id;
    const char *name;
};
int appointments_resources(struct db_conn *conn, struct arena *a, int64_t location_id,
                           struct appointments_resource **out, size_t *count,
                           struct kr_error *err) KR_MUST_CHECK;

/* ---- Slots (slots.c) ------------------------------------------------------------ */

#define APPOINTMENTS_MAX_SERVICES 5

/* What an appointment is for: location and 1-APPOINTMENTS_MAX_SERVICES
 * distinct services. */
struct appointments_want {
    int64_t location_id;
    const char *services[APPOINTMENTS_MAX_SERVICES];
    size_t service_count;
};

struct appointments_slot {
    int64_t starts_at, ends_at; /* ends_at without the buffer */
    unsigned free;              /* resources free for it */
};

/* A day with the number of its free slots. */
struct appointments_day {
    int64_t day;
    unsigned slots;
};

/*
 * Free slots of want on local day (KR_ERR_INVALID when day is before today
 * or beyond the horizon; an empty list on closed days and holidays).
 * KR_ERR_NOT_FOUND when the location does not exist or does not offer one
 * of the services.  *out is an arena array.
 */
int appointments_slots(struct db_conn *conn, struct arena *a, int64_t now,
                       const struct appointments_policy *p, const struct appointments_want *want,
                       int64_t day, struct appointments_slot **out, size_t *count,
                       struct kr_error *err) KR_MUST_CHECK;

/* Days from today to the horizon that have free slots, with their counts
 * (one pass over the claims of the whole range).  The overview is the
 * page a rush of citizens reloads, and with a busy location it reads tens
 * of thousands of claims: the process reuses a result for p->days_cache
 * seconds (by now), and any change of bookings through this module in
 * this process (appointments_days_forget) drops the reused results at
 * once.  Other processes' bookings show after at most that long; a
 * booking is always checked against the database. */
int appointments_days(struct db_conn *conn, struct arena *a, int64_t now,
                      const struct appointments_policy *p, const struct appointments_want *want,
                      struct appointments_day **out, size_t *count,
                      struct kr_error *err) KR_MUST_CHECK;

/* Drop the reused overviews of appointments_days (every location). */
void appointments_days_forget(void);

/* Up to max free slots at or after from (the offer after "slot just
 * taken"). */
int appointments_next_free(struct db_conn *conn, struct arena *a, int64_t now,
                           const struct appointments_policy *p,
                           const struct appointments_want *want, int64_t from, size_t max,
                           struct appointments_slot **out, size_t *count,
                           struct kr_error *err) KR_MUST_CHECK;

/* ---- Bookings (appointments.c) ---------------------------------------------------- */

/* Public booking code ("T" + 10 characters of an unambiguous alphabet). */
#define APPOINTMENTS_CODE_LEN 12
/* Confirmation token in the e-mail link (64 hex digits + NUL). */
#define APPOINTMENTS_TOKEN_LEN 65
/* Signature of a personal link (64 hex digits + NUL). */
#define APPOINTMENTS_SIG_LEN 65

#define APPOINTMENTS_NAME_MAX 200
#define APPOINTMENTS_PHONE_MAX 40

struct appointments_request {
    struct appointments_want want;
    int64_t starts_at;
    const char *name;    /* 1-200 bytes */
    const char *email;   /* required unless account_id or staff booking */
    const char *phone;   /* optional, digits, spaces, + - / ( ) */
    int64_t account_id;  /* 0: anonymous, confirmed by e-mail */
    const char *ip;      /* for the per-address limit; NULL: no limit (staff) */
    const char *actor;   /* audit actor: "anonymous", "user:7" */
    const char *channel; /* "web", "api", "phone" (staff on behalf) */
};

struct appointments_booking {
    int64_t id;
    char code[APPOINTMENTS_CODE_LEN];
    int64_t location_id, resource_id, account_id;
    const char *location_name, *location_address, *resource_name;
    int64_t starts_at, ends_at, created_at, confirm_by;
    const char *status, *name, *email, *phone, *booked_by;
    const char **services; /* service ids */
    size_t service_count;
    const char *title; /* the services' catalogue titles, joined by ", " */
    int sequence;      /* iCalendar SEQUENCE: bumped by every move and cancel */
};

/*
 * Book: checks the input, the limits (KR_ERR_RATE_LIMITED) and that
 * starts_at is a bookable slot of want (KR_ERR_INVALID "not a bookable
 * time": past, beyond the horizon, off the grid, closed), then claims it
 * on a free resource.  KR_ERR_CONFLICT when it was just taken.  Anonymous
 * bookings are "pending" and token gets the confirmation token (mail
 * queued with the link); with account_id or channel "phone" "confirmed"
 * and the confirmation mail with an iCalendar file is queued when there
 * is an address.  Runs its own transactions (one per candidate resource),
 * so conn must not be in one.
 */
int appointments_book(struct db_conn *conn, struct arena *a, int64_t now,
                      const struct appointments_policy *p, const struct appointments_request *r,
                      struct appointments_booking *out, char token[APPOINTMENTS_TOKEN_LEN],
                      struct kr_error *err) KR_MUST_CHECK;

/* Load booking code (KR_ERR_NOT_FOUND). */
int appointments_get(struct db_conn *conn, struct arena *a, const char *code,
                     struct appointments_booking *out, struct kr_error *err) KR_MUST_CHECK;

/* Outcome of a confirmation. */
enum appointments_confirm_result {
    APPOINTMENTS_CONFIRMED,         /* confirmed now */
    APPOINTMENTS_ALREADY_CONFIRMED, /* a second click: nothing changed */
};

/* Confirm a pending booking with its e-mail token.  KR_ERR_NOT_FOUND for
 * a wrong code or token, KR_ERR_CONFLICT when it was released or
 * cancelled meanwhile.  Queues the confirmation mail with iCalendar. */
int appointments_confirm(struct db_conn *conn, struct arena *a, int64_t now,
                         const struct appointments_policy *p, const char *code, const char *token,
                         enum appointments_confirm_result *result,
                         struct kr_error *err) KR_MUST_CHECK;

/* The signature of the personal link of code / of an account's feed. */
int appointments_sign(struct db_conn *conn, const char *purpose, const char *subject,
                      char sig[APPOINTMENTS_SIG_LEN], struct kr_error *err) KR_MUST_CHECK;

/* KR_OK if sig is the signature of purpose/subject (constant time), else
 * KR_ERR_FORBIDDEN. */
int appointments_verify(struct db_conn *conn, const char *purpose, const char *subject,
                        const char *sig, struct kr_error *err) KR_MUST_CHECK;

/* Cancel booking code (pending or confirmed, not yet begun): claims are
 * freed, a cancellation mail with iCalendar CANCEL is queued.
 * KR_ERR_CONFLICT when it is not cancellable (already cancelled, past). */
int appointments_cancel(struct db_conn *conn, struct arena *a, int64_t now,
                        const struct appointments_policy *p, const char *code, const char *actor,
                        struct kr_error *err) KR_MUST_CHECK;

/* Move booking code to new_start (same location and services): the new
 * time is claimed and the old one freed in one transaction; KR_ERR_CONFLICT
 * when the new time was taken, KR_ERR_INVALID when it is not bookable. */
int appointments_move(struct db_conn *conn, struct arena *a, int64_t now,
                      const struct appointments_policy *p, const char *code, int64_t new_start,
                      const char *actor, struct kr_error *err) KR_MUST_CHECK;

/* Bookings of account_id from `from` on (and the last 30 days'), soonest
 * first. */
int appointments_of_account(struct db_conn *conn, struct arena *a, int64_t account_id, int64_t from,
                            struct appointments_booking **out, size_t *count,
                            struct kr_error *err) KR_MUST_CHECK;

/* ---- Staff ------------------------------------------------------------------------ */

/* Bookings (all statuses but released) of a location on local day, by
 * start and resource. */
int appointments_day_list(struct db_conn *conn, struct arena *a, int64_t location_id, int64_t day,
                          struct appointments_booking **out, size_t *count,
                          struct kr_error *err) KR_MUST_CHECK;

/* Check-in or no-show of a confirmed booking (status "checked_in" /
 * "no_show"); KR_ERR_CONFLICT from any other status. */
int appointments_mark(struct db_conn *conn, int64_t now, const char *code, const char *status,
                      const char *actor, struct kr_error *err) KR_MUST_CHECK;

/* Block minutes from starts_at on resource_id (of location_id) so that
 * nobody can book them; KR_ERR_CONFLICT when a part is taken. */
int appointments_block(struct db_conn *conn, struct arena *a, int64_t now, int64_t location_id,
                       int64_t resource_id, int64_t starts_at, int minutes, const char *note,
                       const char *actor, char code[APPOINTMENTS_CODE_LEN],
                       struct kr_error *err) KR_MUST_CHECK;

/* Figures per service and location from..to (created_at for bookings,
 * starts_at for no-shows). */
struct appointments_stat {
    const char *service_id;
    const char *location_name;
    int64_t location_id;
    int64_t bookings, cancellations, no_shows;
    int64_t lead_seconds; /* from now to the next free slot; -1 none */
};
int appointments_stats(struct db_conn *conn, struct arena *a, int64_t now,
                       const struct appointments_policy *p, int64_t from, int64_t to,
                       struct appointments_stat **out, size_t *count,
                       struct kr_error *err) KR_MUST_CHECK;

/* ---- Periodic work ---------------------------------------------------------------- */

/* Release pending bookings past confirm_by, and queue the reminder of
 * confirmed bookings whose local day is tomorrow (once each).  *released
 * and *reminded (may be NULL) get the numbers.  Runs its own
 * transactions. */
int appointments_tick(struct db_conn *conn, struct arena *a, int64_t now,
                      const struct appointments_policy *p, int64_t *released, int64_t *reminded,
                      struct kr_error *err) KR_MUST_CHECK;

/* The background thread of `serve` that calls appointments_tick every
 * interval seconds.  *out is owned by the caller: appointments_worker_stop.
 * cfg and pool must outlive it. */
struct appointments_worker;
int appointments_worker_start(const struct kr_config *cfg, struct db *pool, unsigned interval,
                              struct appointments_worker **out, struct kr_error *err) KR_MUST_CHECK;
void appointments_worker_stop(struct appointments_worker *w);

/* ---- iCalendar (ical.c) ------------------------------------------------------------- */

/*
 * The RFC 5545 calendar of bookings[0..n) (METHOD:PUBLISH for feeds, else
 * REQUEST, or CANCEL with STATUS:CANCELLED): CRLF lines folded at 75
 * octets (never inside a UTF-8 sequence), text escaped, UID
 * <code>@<host of public_url>, DTSTAMP now in UTC, DTSTART/DTEND with
 * TZID=Europe/Berlin and its VTIMEZONE.  *out is an arena string.
 */
int appointments_ical(struct arena *a, int64_t now, const char *public_url, const char *method,
                      const struct appointments_booking *bookings, size_t n, char **out,
                      size_t *len, struct kr_error *err) KR_MUST_CHECK;

#endif
