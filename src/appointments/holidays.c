/*
 * holidays.c - the calendar arithmetic of appointments: civil dates as day
 * numbers, Easter, the statutory public holidays of the German states and
 * the Europe/Berlin offset.  Pure functions, no database.
 */
#include "appointments/appointments.h"

#include <stdio.h>
#include <string.h>

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian
 * calendar, with the era trick so that negative years work too. */
int64_t appointments_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void appointments_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int appointments_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (4). */
    int64_t w = (days + 3) % 7;
    if (w < 0)
        w += 7;
    return (int)w + 1;
}

/* The anonymous Gregorian algorithm (Meeus/Jones/Butcher). */
void appointments_easter(int year, int *month, int *day)
{
    int a = year % 19, b = year / 100, c = year % 100;
    int d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
    int h = (19 * a + b - d - g + 15) % 30;
    int i = c / 4, k = c % 4;
    int l = (32 + 2 * e + 2 * i - h - k) % 7;
    int m = (a + 11 * h + 22 * l) / 451;
    *month = (h + l - 7 * m + 114) / 31;
    *day = (h + l - 7 * m + 114) % 31 + 1;
}

static const char *const states[] = {"BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV",
                                     "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH"};

bool appointments_state_valid(const char *state)
{
    for (size_t i = 0; state && i < KR_ARRAY_LEN(states); i++)
        if (strcmp(states[i], state) == 0)
            return true;
    return false;
}

/* True if state is in the space-separated list. */
static bool in(const char *state, const char *list)
{
    size_t n = strlen(state);
    for (const char *p = list; (p = strstr(p, state)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* Holidays at a fixed distance from Easter Sunday. */
static const char *easter_holiday(const char *state, int offset)
{
    switch (offset) {
    case -2: return "Karfreitag";
    case 0: return in(state, "BB") ? "Ostersonntag" : NULL;
    case 1: return "Ostermontag";
    case 39: return "Christi Himmelfahrt";
    case 49: return in(state, "BB") ? "Pfingstsonntag" : NULL;
    case 50: return "Pfingstmontag";
    case 60: return in(state, "BW BY HE NW RP SL") ? "Fronleichnam" : NULL;
    default: return NULL;
    }
}

/* Buss- und Bettag: the Wednesday before 23 November. */
static bool repentance_day(int y, int m, int d)
{
    if (m != 11 || d < 16 || d > 22)
        return false;
    return appointments_weekday(appointments_days_from_civil(y, m, d)) == 3;
}

static const char *fixed_holiday(const char *state, int y, int m, int d)
{
    int md = m * 100 + d;
    switch (md) {
    case 101: return "Neujahr";
    case 106: return in(state, "BW BY ST") ? "Heilige Drei Könige" : NULL;
    case 308:
        if ((in(state, "BE") && y >= 2019) || (in(state, "MV") && y >= 2023))
            return "Internationaler Frauentag";
        return NULL;
    case 501: return "Tag der Arbeit";
    case 508: return in(state, "BE") && (y == 2020 || y == 2025) ? "Tag der Befreiung" : NULL;
    case 815: return in(state, "SL") ? "Mariä Himmelfahrt" : NULL;
    case 920: return in(state, "TH") && y >= 2019 ? "Weltkindertag" : NULL;
    case 1003: return y >= 1990 ? "Tag der Deutschen Einheit" : NULL;
    case 1031:
        if (y == 2017 || in(state, "BB MV SN ST TH") || (y >= 2018 && in(state, "HB HH NI SH")))
            return "Reformationstag";
        return NULL;
    case 1101: return in(state, "BW BY NW RP SL") ? "Allerheiligen" : NULL;
    case 1225: return "1. Weihnachtstag";
    case 1226: return "2. Weihnachtstag";
    default: return NULL;
    }
}

const char *appointments_holiday(const char *state, int y, int m, int d)
{
    if (!appointments_state_valid(state))
        return NULL;
    const char *name = fixed_holiday(state, y, m, d);
    if (name)
        return name;
    if (in(state, "SN") && repentance_day(y, m, d))
        return "Buß- und Bettag";
    int em, ed;
    appointments_easter(y, &em, &ed);
    int64_t offset =
        appointments_days_from_civil(y, m, d) - appointments_days_from_civil(y, em, ed);
    if (offset < -2 || offset > 60)
        return NULL;
    return easter_holiday(state, (int)offset);
}

/* Unix time of the last Sunday of month (3 or 10) of year at 01:00 UTC. */
static int64_t last_sunday_0100(int year, int month)
{
    int64_t last = appointments_days_from_civil(year, month, 31);
    last -= appointments_weekday(last) % 7;
    return last * 86400 + 3600;
}

int appointments_berlin_offset(int64_t t)
{
    int y, m, d;
    appointments_civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y, &m, &d);
    if (t >= last_sunday_0100(y, 3) && t < last_sunday_0100(y, 10))
        return 7200;
    return 3600;
}

int64_t appointments_local_to_utc(int64_t day, int minute)
{
    int64_t local = day * 86400 + (int64_t)minute * 60;
    /* Try summer time first; it holds when the result is in summer time.
     * The hour that does not exist in spring maps forward, the hour that
     * exists twice in autumn to its first occurrence. */
    int64_t t = local - 7200;
    if (appointments_berlin_offset(t) == 7200)
        return t;
    return local - 3600;
}

void appointments_utc_to_local(int64_t t, int64_t *day, int *minute)
{
    int64_t local = t + appointments_berlin_offset(t);
    int64_t dd = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    *day = dd;
    *minute = (int)((local - dd * 86400) / 60);
}

int appointments_parse_day(const char *s, int64_t *day)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return KR_ERR_INVALID;
    int v[3] = {0, 0, 0};
    static const int start[3] = {0, 5, 8}, len[3] = {4, 2, 2};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < len[i]; j++) {
            char c = s[start[i] + j];
            if (c < '0' || c > '9')
                return KR_ERR_INVALID;
            v[i] = v[i] * 10 + (c - '0');
        }
    if (v[0] < 1970 || v[0] > 9999 || v[1] < 1 || v[1] > 12 || v[2] < 1)
        return KR_ERR_INVALID;
    int64_t n = appointments_days_from_civil(v[0], v[1], v[2]);
    int y, m, d;
    appointments_civil_from_days(n, &y, &m, &d);
    if (y != v[0] || m != v[1] || d != v[2])
        return KR_ERR_INVALID; /* 31 April, 29 February of a common year */
    *day = n;
    return KR_OK;
}

void appointments_format_day(int64_t day, char out[11])
{
    int y, m, d;
    appointments_civil_from_days(day, &y, &m, &d);
    (void)snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
                   (unsigned)d % 100u);
}
