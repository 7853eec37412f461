/*
 * slots.c - free slots from opening hours, exceptions, holidays,
 * durations, resources and the claims of existing bookings.
 *
 * The claims of the whole range are read with one query straight into a
 * bitmap [day][resource][step]; each day then walks its opening intervals
 * step by step over its slice, so that eight weeks of a location with
 * twenty counters cost a few milliseconds.
 */
#include "appointments/appointments_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void appt_window(int64_t now, const struct appointments_policy *pol, int64_t *today,
                 int64_t *last_day, int64_t *lo, int64_t *hi)
{
    int minute;
    *lo = now + pol->min_lead;
    *hi = now + pol->horizon;
    appointments_utc_to_local(now, today, &minute);
    appointments_utc_to_local(*hi, last_day, &minute);
}

static bool service_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 3 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static int check_want(const struct appointments_want *w, struct kr_error *err)
{
    if (w->service_count < 1 || w->service_count > APPOINTMENTS_MAX_SERVICES)
        return kr_error_set(err, KR_ERR_INVALID, "choose between 1 and %d services",
                            APPOINTMENTS_MAX_SERVICES);
    for (size_t i = 0; i < w->service_count; i++) {
        if (!service_id_valid(w->services[i]))
            return kr_error_set(err, KR_ERR_NOT_FOUND, "no such service");
        for (size_t j = 0; j < i; j++)
            if (strcmp(w->services[i], w->services[j]) == 0)
                return kr_error_set(err, KR_ERR_INVALID, "a service is chosen twice");
    }
    return KR_OK;
}

/* Durations add up; resources must serve every service. */
static int load_services(struct db_conn *conn, const struct appointments_want *w,
                         struct appt_plan *p, struct kr_error *err)
{
    for (size_t i = 0; i < w->service_count; i++) {
        int64_t minutes;
        int rc =
            db_query_int64(conn,
                           "SELECT minutes FROM appointment_duration WHERE location_id = $1 "
                           "AND service_id = $2",
                           DB_PARAMS(DB_INT(p->loc.id), DB_TEXT(w->services[i])), &minutes, err);
        if (rc == KR_ERR_NOT_FOUND)
            return kr_error_set(err, KR_ERR_NOT_FOUND, "this service is not offered here");
        if (rc)
            return rc;
        p->total_minutes += (int)minutes;
        struct db_stmt *st;
        rc = db_query(conn,
                      "SELECT rs.resource_id FROM appointment_resource_service rs "
                      "JOIN appointment_resource r ON r.id = rs.resource_id "
                      "WHERE r.location_id = $1 AND r.active = 1 AND rs.service_id = $2 "
                      "ORDER BY rs.resource_id",
                      DB_PARAMS(DB_INT(p->loc.id), DB_TEXT(w->services[i])), &st, err);
        int64_t found[APPT_MAX_RESOURCES];
        size_t n = 0;
        while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW)
            if (n < APPT_MAX_RESOURCES)
                found[n++] = db_column_int64(st, 0);
        db_finish(st);
        if (rc < 0)
            return rc;
        if (i == 0) {
            memcpy(p->resources, found, n * sizeof(found[0]));
            p->resource_count = n;
            continue;
        }
        size_t keep = 0; /* intersect */
        for (size_t r = 0; r < p->resource_count; r++)
            for (size_t k = 0; k < n; k++)
                if (found[k] == p->resources[r])
                    p->resources[keep++] = p->resources[r];
        p->resource_count = keep;
    }
    if (p->resource_count == 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this service is not offered here");
    int step = p->loc.step_minutes;
    p->need_steps = (p->total_minutes + step - 1) / step;
    p->hold_steps = (p->total_minutes + p->loc.buffer_minutes + step - 1) / step;
    return KR_OK;
}

static int load_hours(struct db_conn *conn, struct appt_plan *p, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT weekday, opens, closes FROM appointment_hours WHERE location_id = $1 "
                      "ORDER BY weekday, opens",
                      DB_PARAMS(DB_INT(p->loc.id)), &st, err);
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW) {
        int wd = (int)db_column_int64(st, 0);
        if (wd < 1 || wd > 7 || p->hours_count[wd] >= APPT_MAX_INTERVALS)
            continue;
        p->hours[wd][p->hours_count[wd]++] =
            (struct appt_interval){(int)db_column_int64(st, 1), (int)db_column_int64(st, 2)};
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

static int load_exceptions(struct db_conn *conn, struct arena *a, struct appt_plan *p,
                           struct kr_error *err)
{
    char from[11], to[11];
    appointments_format_day(p->first_day, from);
    appointments_format_day(p->last_day, to);
    size_t cap = 16;
    p->exceptions = arena_calloc(a, cap, sizeof(*p->exceptions));
    p->holidays = arena_calloc(a, cap, sizeof(*p->holidays));
    if (!p->exceptions || !p->holidays)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT day, opens, closes, 0 FROM appointment_exception "
                      "WHERE location_id = $1 AND day >= $2 AND day <= $3 "
                      "UNION ALL SELECT day, -1, -1, 1 FROM appointment_holiday "
                      "WHERE (location_id = $1 OR location_id IS NULL) AND day >= $2 AND day <= $3",
                      DB_PARAMS(DB_INT(p->loc.id), DB_TEXT(from), DB_TEXT(to)), &st, err);
    size_t hcap = cap;
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW) {
        int64_t day;
        if (appointments_parse_day(db_column_text(st, 0), &day))
            continue;
        if (db_column_int64(st, 3)) {
            if (p->holiday_count < hcap)
                p->holidays[p->holiday_count++] = day;
            continue;
        }
        if (p->exception_count == cap) {
            struct appt_exception *more = arena_calloc(a, cap * 2, sizeof(*more));
            if (!more) {
                db_finish(st);
                return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
            }
            memcpy(more, p->exceptions, cap * sizeof(*more));
            p->exceptions = more;
            cap *= 2;
        }
        bool closed = db_column_is_null(st, 1) || db_column_is_null(st, 2);
        p->exceptions[p->exception_count++] = (struct appt_exception){
            day, {closed ? -1 : (int)db_column_int64(st, 1), (int)db_column_int64(st, 2)}};
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

static int resource_index(const struct appt_plan *p, int64_t id)
{
    for (size_t i = 0; i < p->resource_count; i++)
        if (p->resources[i] == id)
            return (int)i;
    return -1;
}

/* Local day and minute of utc, remembering the last day: the rows come
 * ordered by resource and time, so most fall into the day before.  Days
 * with a clock change (not 24 hours) always take the exact conversion. */
struct day_memo {
    int64_t day, start, end;
};

static void local_time(struct day_memo *m, int64_t utc, int64_t *day, int *minute)
{
    if (utc >= m->start && utc < m->end) {
        *day = m->day;
        *minute = (int)((utc - m->start) / 60);
        return;
    }
    appointments_utc_to_local(utc, day, minute);
    int64_t start = appointments_local_to_utc(*day, 0);
    int64_t end = appointments_local_to_utc(*day + 1, 0);
    *m = end - start == 86400 ? (struct day_memo){*day, start, end} : (struct day_memo){0, 0, 0};
}

/* Mark every claim of the range in busy_all, in one pass over the rows
 * (no sorting: each claim lands in its day, resource and step). */
static int load_claims(struct db_conn *conn, struct arena *a, struct appt_plan *p,
                       struct kr_error *err)
{
    int64_t from = appointments_local_to_utc(p->first_day, 0);
    int64_t to = appointments_local_to_utc(p->last_day + 1, 0);
    int spd = p->steps_per_day = 1440 / p->loc.step_minutes + 1;
    size_t per_day = p->resource_count * (size_t)spd;
    size_t days = (size_t)(p->last_day - p->first_day + 1);
    p->busy_all = arena_zalloc(a, days * per_day + 1);
    if (!p->busy_all)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    p->busy = p->busy_all;
    struct day_memo memo = {0, 0, 0};
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT c.resource_id, c.starts_at FROM appointment_claim c "
                      "JOIN appointment_resource r ON r.id = c.resource_id "
                      "WHERE r.location_id = $1 AND c.starts_at >= $2 AND c.starts_at < $3",
                      DB_PARAMS(DB_INT(p->loc.id), DB_INT(from), DB_INT(to)), &st, err);
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW) {
        int idx = resource_index(p, db_column_int64(st, 0));
        int64_t day;
        int minute;
        local_time(&memo, db_column_int64(st, 1), &day, &minute);
        int step = minute / p->loc.step_minutes;
        if (idx < 0 || day < p->first_day || day > p->last_day || step >= spd)
            continue;
        p->busy_all[(size_t)(day - p->first_day) * per_day + (size_t)idx * (size_t)spd +
                    (size_t)step] = 1;
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

int appt_plan_load(struct db_conn *conn, struct arena *a, const struct appointments_want *want,
                   int64_t first, int64_t last, struct appt_plan *p, struct kr_error *err)
{
    memset(p, 0, sizeof(*p));
    int rc = check_want(want, err);
    if (rc)
        return rc;
    rc = appointments_location_get(conn, a, NULL, want->location_id, &p->loc, err);
    if (rc)
        return rc;
    p->first_day = first;
    p->last_day = last;
    rc = load_services(conn, want, p, err);
    if (rc == KR_OK)
        rc = load_hours(conn, p, err);
    if (rc == KR_OK)
        rc = load_exceptions(conn, a, p, err);
    if (rc == KR_OK)
        rc = load_claims(conn, a, p, err);
    return rc;
}

/* The opening intervals of day (0 of them on holidays and closed days). */
static size_t day_intervals(const struct appt_plan *p, int64_t day,
                            struct appt_interval out[APPT_MAX_INTERVALS])
{
    int y, m, d;
    appointments_civil_from_days(day, &y, &m, &d);
    if (appointments_holiday(p->loc.state, y, m, d))
        return 0;
    for (size_t i = 0; i < p->holiday_count; i++)
        if (p->holidays[i] == day)
            return 0;
    size_t n = 0;
    bool special = false;
    for (size_t i = 0; i < p->exception_count; i++) {
        if (p->exceptions[i].day != day)
            continue;
        if (p->exceptions[i].iv.opens < 0)
            return 0;
        special = true;
        if (n < APPT_MAX_INTERVALS)
            out[n++] = p->exceptions[i].iv;
    }
    if (special)
        return n;
    int wd = appointments_weekday(day);
    memcpy(out, p->hours[wd], p->hours_count[wd] * sizeof(out[0]));
    return p->hours_count[wd];
}

/* Look at day (within the loaded range): p->busy is its bitmap per
 * resource; returns the steps per day. */
static int mark_busy(struct appt_plan *p, int64_t day)
{
    size_t per_day = p->resource_count * (size_t)p->steps_per_day;
    p->busy = p->busy_all + (size_t)(day - p->first_day) * per_day;
    return p->steps_per_day;
}

/* Is resource r free for the appointment from step s of the day? */
static bool resource_free(const struct appt_plan *p, int spd, size_t r, int s)
{
    const unsigned char *row = p->busy + r * (size_t)spd;
    for (int k = 0; k < p->hold_steps; k++)
        if (s + k < spd && row[s + k])
            return false;
    return true;
}

/* The free slots of day within [lo, hi) into out (max of them; out may
 * be NULL to count).  Returns the number found. */
static size_t day_slots(struct appt_plan *p, int64_t day, int64_t lo, int64_t hi,
                        struct appointments_slot *out, size_t max)
{
    struct appt_interval iv[APPT_MAX_INTERVALS];
    size_t niv = day_intervals(p, day, iv), found = 0;
    if (niv == 0)
        return 0;
    int step = p->loc.step_minutes;
    int spd = mark_busy(p, day);
    for (size_t i = 0; i < niv; i++) {
        int first = (iv[i].opens + step - 1) / step;
        for (int s = first; s * step + p->total_minutes <= iv[i].closes; s++) {
            int64_t start = appointments_local_to_utc(day, s * step);
            if (start < lo || start >= hi)
                continue;
            unsigned free = 0;
            for (size_t r = 0; r < p->resource_count; r++)
                free += resource_free(p, spd, r, s);
            if (!free)
                continue;
            if (out && found < max)
                out[found] =
                    (struct appointments_slot){start, start + (int64_t)p->total_minutes * 60, free};
            found++;
            if (out && found >= max)
                return found;
        }
    }
    return found;
}

size_t appt_plan_free_at(struct appt_plan *p, int64_t starts_at, int64_t *ids, bool *on_grid)
{
    int64_t day;
    int minute;
    *on_grid = false;
    appointments_utc_to_local(starts_at, &day, &minute);
    int step = p->loc.step_minutes;
    if (day < p->first_day || day > p->last_day || minute % step != 0 ||
        appointments_local_to_utc(day, minute) != starts_at)
        return 0;
    struct appt_interval iv[APPT_MAX_INTERVALS];
    size_t niv = day_intervals(p, day, iv);
    for (size_t i = 0; i < niv && !*on_grid; i++)
        *on_grid = minute >= iv[i].opens && minute + p->total_minutes <= iv[i].closes;
    if (!*on_grid)
        return 0;
    int spd = mark_busy(p, day);
    size_t n = 0;
    for (size_t r = 0; r < p->resource_count; r++)
        if (resource_free(p, spd, r, minute / step))
            ids[n++] = p->resources[r];
    return n;
}

int appointments_slots(struct db_conn *conn, struct arena *a, int64_t now,
                       const struct appointments_policy *pol, const struct appointments_want *want,
                       int64_t day, struct appointments_slot **out, size_t *count,
                       struct kr_error *err)
{
    int64_t today, last, lo, hi;
    appt_window(now, pol, &today, &last, &lo, &hi);
    if (day < today || day > last)
        return kr_error_set(err, KR_ERR_INVALID,
                            "this day cannot be booked: it is in the past or beyond the booking "
                            "period");
    struct appt_plan p;
    int rc = appt_plan_load(conn, a, want, day, day, &p, err);
    if (rc)
        return rc;
    size_t max = (size_t)(1440 / p.loc.step_minutes + 1) * APPT_MAX_INTERVALS;
    *out = arena_calloc(a, max, sizeof(**out));
    if (!*out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    *count = day_slots(&p, day, lo, hi, *out, max);
    return KR_OK;
}

/* ---- Reused overviews (appointments_days) ----------------------------------------- */

#define DAYS_CACHED 32

struct days_cached {
    int64_t location_id, today, last, at; /* at: the now it was computed for */
    char services[512];                   /* the services, each followed by '\n' */
    struct appointments_day *days;        /* malloc'ed */
    size_t count;
};

static pthread_mutex_t days_lock = PTHREAD_MUTEX_INITIALIZER;
static struct days_cached days_cached[DAYS_CACHED]; /* under days_lock */
static unsigned days_next;                          /* the slot to fill next */
static uint64_t days_generation;                    /* bumped by every forget */

void appointments_days_forget(void)
{
    pthread_mutex_lock(&days_lock);
    days_generation++;
    for (size_t i = 0; i < DAYS_CACHED; i++) {
        free(days_cached[i].days);
        days_cached[i] = (struct days_cached){0};
    }
    pthread_mutex_unlock(&days_lock);
}

/* The cache key of want, false when it does not fit. */
static bool days_key(const struct appointments_want *want, char key[512])
{
    size_t used = 0;
    for (size_t i = 0; i < want->service_count; i++) {
        size_t n = strlen(want->services[i]);
        if (used + n + 2 > 512)
            return false;
        memcpy(key + used, want->services[i], n);
        key[used + n] = '\n';
        used += n + 1;
    }
    key[used] = '\0';
    return true;
}

static bool days_lookup(const struct appointments_want *want, const char *key, int64_t today,
                        int64_t last, int64_t now, unsigned ttl, struct arena *a,
                        struct appointments_day **out, size_t *count, uint64_t *generation)
{
    bool hit = false;
    pthread_mutex_lock(&days_lock);
    *generation = days_generation;
    for (size_t i = 0; ttl && i < DAYS_CACHED && !hit; i++) {
        struct days_cached *c = &days_cached[i];
        if (!c->days || c->location_id != want->location_id || c->today != today ||
            c->last != last || now < c->at || now - c->at >= (int64_t)ttl ||
            strcmp(c->services, key) != 0)
            continue;
        *out = arena_alloc(a, (c->count ? c->count : 1) * sizeof(**out));
        if (*out) {
            memcpy(*out, c->days, c->count * sizeof(**out));
            *count = c->count;
            hit = true;
        }
    }
    pthread_mutex_unlock(&days_lock);
    return hit;
}

/* Keep a result, unless a forget came in while it was computed. */
static void days_store(const struct appointments_want *want, const char *key, int64_t today,
                       int64_t last, int64_t now, uint64_t generation,
                       const struct appointments_day *days, size_t count)
{
    struct appointments_day *copy = malloc((count ? count : 1) * sizeof(*copy));
    if (!copy)
        return;
    memcpy(copy, days, count * sizeof(*copy));
    pthread_mutex_lock(&days_lock);
    if (generation == days_generation) {
        struct days_cached *c = &days_cached[days_next++ % DAYS_CACHED];
        free(c->days);
        *c = (struct days_cached){want->location_id, today, last, now, "", copy, count};
        snprintf(c->services, sizeof(c->services), "%s", key);
        copy = NULL;
    }
    pthread_mutex_unlock(&days_lock);
    free(copy);
}

int appointments_days(struct db_conn *conn, struct arena *a, int64_t now,
                      const struct appointments_policy *pol, const struct appointments_want *want,
                      struct appointments_day **out, size_t *count, struct kr_error *err)
{
    int64_t today, last, lo, hi;
    appt_window(now, pol, &today, &last, &lo, &hi);
    char key[512];
    uint64_t generation = 0;
    bool cacheable = pol->days_cache > 0 && days_key(want, key);
    if (cacheable &&
        days_lookup(want, key, today, last, now, pol->days_cache, a, out, count, &generation))
        return KR_OK;
    struct appt_plan p;
    int rc = appt_plan_load(conn, a, want, today, last, &p, err);
    if (rc)
        return rc;
    *out = arena_calloc(a, (size_t)(last - today + 1), sizeof(**out));
    if (!*out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    *count = 0;
    for (int64_t d = today; d <= last; d++) {
        size_t n = day_slots(&p, d, lo, hi, NULL, 0);
        if (n)
            (*out)[(*count)++] = (struct appointments_day){d, (unsigned)n};
    }
    if (cacheable)
        days_store(want, key, today, last, now, generation, *out, *count);
    return KR_OK;
}

int appointments_next_free(struct db_conn *conn, struct arena *a, int64_t now,
                           const struct appointments_policy *pol,
                           const struct appointments_want *want, int64_t from, size_t max,
                           struct appointments_slot **out, size_t *count, struct kr_error *err)
{
    int64_t today, last, lo, hi;
    appt_window(now, pol, &today, &last, &lo, &hi);
    int64_t first;
    int minute;
    appointments_utc_to_local(from > lo ? from : lo, &first, &minute);
    *count = 0;
    *out = arena_calloc(a, max ? max : 1, sizeof(**out));
    if (!*out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (first > last)
        return KR_OK;
    struct appt_plan p;
    int rc = appt_plan_load(conn, a, want, first, last, &p, err);
    if (rc)
        return rc;
    int64_t start = from > lo ? from : lo;
    for (int64_t d = first; d <= last && *count < max; d++)
        *count += day_slots(&p, d, start, hi, *out + *count, max - *count);
    return KR_OK;
}
