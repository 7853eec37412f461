/*
 * appointments.c - locations, resources, hours and their reading; the
 * staff figures.  Bookings are in booking.c, slots in slots.c.
 */
#include "appointments/appointments_internal.h"

#include <string.h>

#include "audit/audit.h"

void appointments_policy_from_config(const struct kr_config *cfg, struct appointments_policy *out)
{
    out->horizon = cfg->appointments_horizon;
    out->min_lead = cfg->appointments_min_lead;
    out->confirm_timeout = cfg->appointments_confirm_timeout;
    out->max_per_email = cfg->appointments_max_per_email;
    out->max_per_ip = cfg->appointments_max_per_ip;
    out->days_cache = cfg->appointments_days_cache;
    out->public_url = cfg->public_url;
}

static bool slug_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 2 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static bool text_ok(const char *s, size_t max, bool required)
{
    size_t n = s ? strlen(s) : 0;
    return n <= max && (!required || n > 0);
}

static int location_check(const struct appointments_new_location *l, struct kr_error *err)
{
    if (!slug_valid(l->slug))
        return kr_error_set(err, KR_ERR_INVALID, "slug: 2-64 of a-z, 0-9 and '-'");
    if (!text_ok(l->name, 200, true) || !text_ok(l->name_en, 200, true))
        return kr_error_set(err, KR_ERR_INVALID, "name: 1-200 bytes in German and English");
    if (!text_ok(l->address, 500, true))
        return kr_error_set(err, KR_ERR_INVALID, "address: 1-500 bytes");
    if (!text_ok(l->directions, 2000, false) || !text_ok(l->accessibility, 2000, false))
        return kr_error_set(err, KR_ERR_INVALID, "directions/accessibility: at most 2000 bytes");
    if (!appointments_state_valid(l->state))
        return kr_error_set(err, KR_ERR_INVALID, "state: a two-letter code such as NI");
    if (l->step_minutes < 5 || l->step_minutes > 60 || 1440 % l->step_minutes != 0)
        return kr_error_set(err, KR_ERR_INVALID, "step: 5-60 minutes that divide a day");
    if (l->buffer_minutes < 0 || l->buffer_minutes > 120)
        return kr_error_set(err, KR_ERR_INVALID, "buffer: 0-120 minutes");
    return KR_OK;
}

struct location_add {
    const char *actor;
    const struct appointments_new_location *l;
    int64_t id;
};

static int location_add_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct location_add *x = arg;
    const struct appointments_new_location *l = x->l;
    int rc = db_query_int64(
        conn,
        "INSERT INTO appointment_location (slug, name, name_en, unit_id, address, directions, "
        "accessibility, state, step_minutes, buffer_minutes) VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "$8, $9, $10) RETURNING id",
        DB_PARAMS(DB_TEXT(l->slug), DB_TEXT(l->name), DB_TEXT(l->name_en),
                  l->unit_id ? DB_INT(l->unit_id) : DB_NULL, DB_TEXT(l->address),
                  DB_TEXT(l->directions ? l->directions : ""),
                  DB_TEXT(l->accessibility ? l->accessibility : ""), DB_TEXT(l->state),
                  DB_INT(l->step_minutes), DB_INT(l->buffer_minutes)),
        &x->id, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_CONFLICT, "slug: a location '%s' exists already", l->slug);
    if (rc)
        return rc;
    char id[24];
    (void)snprintf(id, sizeof(id), "%lld", (long long)x->id);
    struct audit_event ev = {x->actor, "appointment.location_add", "appointment_location", id,
                             NULL};
    return audit_append(conn, &ev, NULL, err);
}

int appointments_location_add(struct db_conn *conn, const char *actor,
                              const struct appointments_new_location *l, int64_t *id,
                              struct kr_error *err)
{
    int rc = location_check(l, err);
    if (rc)
        return rc;
    struct location_add x = {actor, l, 0};
    rc = db_transact(conn, location_add_tx, &x, err);
    if (rc == KR_OK && id)
        *id = x.id;
    return rc;
}

int appointments_resource_add(struct db_conn *conn, int64_t location_id, const char *name,
                              const char *const *services, size_t n, int64_t *id,
                              struct kr_error *err)
{
    appointments_days_forget(); /* the free days change */
    if (!text_ok(name, 200, true))
        return kr_error_set(err, KR_ERR_INVALID, "name: 1-200 bytes");
    bool own = !db_in_transaction(conn);
    int rc = own ? db_begin(conn, err) : KR_OK;
    int64_t rid = 0;
    if (rc == KR_OK)
        rc = db_query_int64(conn,
                            "INSERT INTO appointment_resource (location_id, name) VALUES ($1, $2) "
                            "RETURNING id",
                            DB_PARAMS(DB_INT(location_id), DB_TEXT(name)), &rid, err);
    for (size_t i = 0; rc == KR_OK && i < n; i++)
        rc = db_exec(conn,
                     "INSERT INTO appointment_resource_service (resource_id, service_id) "
                     "VALUES ($1, $2)",
                     DB_PARAMS(DB_INT(rid), DB_TEXT(services[i])), NULL, err);
    if (rc == KR_OK && own)
        rc = db_commit(conn, err);
    if (rc && own)
        db_rollback(conn);
    if (rc == KR_OK && id)
        *id = rid;
    return rc;
}

int appointments_duration_set(struct db_conn *conn, int64_t location_id, const char *service_id,
                              int minutes, struct kr_error *err)
{
    appointments_days_forget(); /* the free days change */
    if (minutes < 5 || minutes > 480)
        return kr_error_set(err, KR_ERR_INVALID, "duration: 5-480 minutes");
    return db_exec(conn,
                   "INSERT INTO appointment_duration (location_id, service_id, minutes) "
                   "VALUES ($1, $2, $3) ON CONFLICT (location_id, service_id) "
                   "DO UPDATE SET minutes = excluded.minutes",
                   DB_PARAMS(DB_INT(location_id), DB_TEXT(service_id), DB_INT(minutes)), NULL, err);
}

int appointments_hours_add(struct db_conn *conn, int64_t location_id, int weekday, int opens,
                           int closes, struct kr_error *err)
{
    appointments_days_forget(); /* the free days change */
    if (weekday < 1 || weekday > 7 || opens < 0 || closes > 1440 || opens >= closes)
        return kr_error_set(err, KR_ERR_INVALID, "hours: weekday 1-7 and 0 <= opens < closes");
    return db_exec(conn,
                   "INSERT INTO appointment_hours (location_id, weekday, opens, closes) "
                   "VALUES ($1, $2, $3, $4)",
                   DB_PARAMS(DB_INT(location_id), DB_INT(weekday), DB_INT(opens), DB_INT(closes)),
                   NULL, err);
}

int appointments_exception_add(struct db_conn *conn, int64_t location_id, int64_t day, int opens,
                               int closes, const char *note, struct kr_error *err)
{
    appointments_days_forget(); /* the free days change */
    if (opens >= 0 && (closes > 1440 || opens >= closes))
        return kr_error_set(err, KR_ERR_INVALID, "special hours: 0 <= opens < closes <= 1440");
    if (!text_ok(note, 200, false))
        return kr_error_set(err, KR_ERR_INVALID, "note: at most 200 bytes");
    char d[11];
    appointments_format_day(day, d);
    return db_exec(conn,
                   "INSERT INTO appointment_exception (location_id, day, opens, closes, note) "
                   "VALUES ($1, $2, $3, $4, $5)",
                   DB_PARAMS(DB_INT(location_id), DB_TEXT(d), opens < 0 ? DB_NULL : DB_INT(opens),
                             opens < 0 ? DB_NULL : DB_INT(closes), DB_TEXT(note ? note : "")),
                   NULL, err);
}

int appointments_holiday_add(struct db_conn *conn, int64_t location_id, int64_t day,
                             const char *name, struct kr_error *err)
{
    appointments_days_forget(); /* the free days change */
    if (!text_ok(name, 200, true))
        return kr_error_set(err, KR_ERR_INVALID, "name: 1-200 bytes");
    char d[11];
    appointments_format_day(day, d);
    return db_exec(
        conn, "INSERT INTO appointment_holiday (location_id, day, name) VALUES ($1, $2, $3)",
        DB_PARAMS(location_id ? DB_INT(location_id) : DB_NULL, DB_TEXT(d), DB_TEXT(name)), NULL,
        err);
}

#define LOCATION_COLUMNS                                                                           \
    "l.id, l.slug, l.name, l.name_en, l.address, l.directions, l.accessibility, l.state, "         \
    "COALESCE(l.unit_id, 0), l.step_minutes, l.buffer_minutes"

static void location_read(struct db_stmt *st, struct arena *a, struct appointments_location *l)
{
    l->id = db_column_int64(st, 0);
    l->slug = db_column_strdup(st, 1, a);
    l->name = db_column_strdup(st, 2, a);
    l->name_en = db_column_strdup(st, 3, a);
    l->address = db_column_strdup(st, 4, a);
    l->directions = db_column_strdup(st, 5, a);
    l->accessibility = db_column_strdup(st, 6, a);
    l->state = db_column_strdup(st, 7, a);
    l->unit_id = db_column_int64(st, 8);
    l->step_minutes = (int)db_column_int64(st, 9);
    l->buffer_minutes = (int)db_column_int64(st, 10);
}

int appointments_location_get(struct db_conn *conn, struct arena *a, const char *slug, int64_t id,
                              struct appointments_location *out, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT " LOCATION_COLUMNS " FROM appointment_location l "
                      "WHERE l.slug = $1 OR l.id = $2",
                      DB_PARAMS(slug ? DB_TEXT(slug) : DB_NULL, DB_INT(slug ? -1 : id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        location_read(st, a, out);
        rc = out->name && out->state ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    } else if (rc == DB_DONE) {
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such location");
    }
    db_finish(st);
    return rc;
}

int appointments_locations(struct db_conn *conn, struct arena *a, const char *service_id,
                           struct appointments_location **out, size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT " LOCATION_COLUMNS " FROM appointment_location l WHERE $1 = 0 "
                      "OR EXISTS (SELECT 1 FROM appointment_duration d WHERE d.location_id = l.id "
                      "AND d.service_id = $2) ORDER BY l.name",
                      DB_PARAMS(DB_INT(service_id != NULL), DB_TEXT(service_id ? service_id : "")),
                      &st, err);
    if (rc)
        return rc;
    size_t cap = 64;
    *out = arena_calloc(a, cap, sizeof(**out));
    *count = 0;
    if (!*out)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW && *count < cap)
        location_read(st, a, &(*out)[(*count)++]);
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

static int service_list(struct db_conn *conn, struct arena *a, int64_t location_id, char ***out,
                        size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT DISTINCT d.service_id FROM appointment_duration d "
                      "JOIN appointment_resource r ON r.location_id = d.location_id "
                      "JOIN appointment_resource_service rs ON rs.resource_id = r.id "
                      "AND rs.service_id = d.service_id WHERE $1 = 0 OR d.location_id = $1 "
                      "ORDER BY d.service_id",
                      DB_PARAMS(DB_INT(location_id)), &st, err);
    if (rc)
        return rc;
    size_t cap = 512;
    *out = arena_calloc(a, cap, sizeof(char *));
    *count = 0;
    if (!*out)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW && *count < cap)
        (*out)[(*count)++] = db_column_strdup(st, 0, a);
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

int appointments_services(struct db_conn *conn, struct arena *a, char ***out, size_t *count,
                          struct kr_error *err)
{
    return service_list(conn, a, 0, out, count, err);
}

int appointments_location_services(struct db_conn *conn, struct arena *a, int64_t location_id,
                                   char ***out, size_t *count, struct kr_error *err)
{
    return service_list(conn, a, location_id, out, count, err);
}

int appointments_resources(struct db_conn *conn, struct arena *a, int64_t location_id,
                           struct appointments_resource **out, size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT id, name FROM appointment_resource WHERE location_id = $1 "
                      "AND active = 1 ORDER BY id",
                      DB_PARAMS(DB_INT(location_id)), &st, err);
    if (rc)
        return rc;
    size_t cap = 256;
    *out = arena_calloc(a, cap, sizeof(**out));
    *count = 0;
    if (!*out)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW && *count < cap) {
        (*out)[*count].id = db_column_int64(st, 0);
        (*out)[(*count)++].name = db_column_strdup(st, 1, a);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

/* Lead time to the next free slot of one service at one location. */
static int64_t lead_time(struct db_conn *conn, struct arena *a, int64_t now,
                         const struct appointments_policy *p, int64_t location_id,
                         const char *service)
{
    struct appointments_want w = {.location_id = location_id, .service_count = 1};
    w.services[0] = service;
    struct appointments_slot *s;
    size_t n = 0;
    struct kr_error e;
    if (appointments_next_free(conn, a, now, p, &w, now, 1, &s, &n, &e) || n == 0)
        return -1;
    return s[0].starts_at - now;
}

int appointments_stats(struct db_conn *conn, struct arena *a, int64_t now,
                       const struct appointments_policy *p, int64_t from, int64_t to,
                       struct appointments_stat **out, size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(
        conn,
        "SELECT d.service_id, l.id, l.name, "
        "(SELECT COUNT(*) FROM appointment_booking b JOIN appointment_booking_service s "
        " ON s.booking_id = b.id WHERE b.location_id = l.id AND s.service_id = d.service_id "
        " AND b.status <> 'blocked' AND b.created_at >= $1 AND b.created_at < $2), "
        "(SELECT COUNT(*) FROM appointment_booking b JOIN appointment_booking_service s "
        " ON s.booking_id = b.id WHERE b.location_id = l.id AND s.service_id = d.service_id "
        " AND b.status = 'cancelled' AND b.created_at >= $1 AND b.created_at < $2), "
        "(SELECT COUNT(*) FROM appointment_booking b JOIN appointment_booking_service s "
        " ON s.booking_id = b.id WHERE b.location_id = l.id AND s.service_id = d.service_id "
        " AND b.status = 'no_show' AND b.starts_at >= $1 AND b.starts_at < $2) "
        "FROM appointment_duration d JOIN appointment_location l ON l.id = d.location_id "
        "ORDER BY l.name, d.service_id",
        DB_PARAMS(DB_INT(from), DB_INT(to)), &st, err);
    if (rc)
        return rc;
    size_t cap = 512;
    *out = arena_calloc(a, cap, sizeof(**out));
    *count = 0;
    if (!*out)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW && *count < cap) {
        struct appointments_stat *s = &(*out)[(*count)++];
        s->service_id = db_column_strdup(st, 0, a);
        s->location_id = db_column_int64(st, 1);
        s->location_name = db_column_strdup(st, 2, a);
        s->bookings = db_column_int64(st, 3);
        s->cancellations = db_column_int64(st, 4);
        s->no_shows = db_column_int64(st, 5);
    }
    db_finish(st);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < *count; i++)
        (*out)[i].lead_seconds =
            lead_time(conn, a, now, p, (*out)[i].location_id, (*out)[i].service_id);
    return KR_OK;
}
