/*
 * appointments_staff_http.c - the front office: day view per location and
 * counter, check-in, no-show, booking for a caller, blocking times, and
 * the figures.  Clerks (and heads) of the location's unit and
 * administrators only.
 */
#include <string.h>

#include "accounts/accounts.h"
#include "appointments/appointments_http.h"
#include "appointments/appointments_internal.h"
#include "core/util.h"

/* The user may run location loc. */
static bool may_run(const struct account_user *u, const struct appointments_location *loc)
{
    if (!u || strcmp(u->kind, "staff") != 0)
        return false;
    if (u->roles & ACCOUNT_ROLE_ADMIN)
        return true;
    unsigned work = ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_HEAD_OF_UNIT;
    return (u->roles & work) && loc->unit_id && u->org_unit_id == loc->unit_id;
}

/* Staff user and the location of :ort they may run. */
static int staff_location(struct http_request *req, struct db_conn **conn,
                          struct appointments_location *loc, struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc == KR_OK)
        rc = http_db(req, conn, err);
    if (rc == KR_OK)
        rc = appointments_location_get(*conn, http_arena(req), http_param(req, "ort"), 0, loc, err);
    if (rc == KR_OK && !may_run(http_user(req), loc))
        rc = kr_error_set(err, KR_ERR_FORBIDDEN, "you do not work at this location");
    return rc;
}

static const char *actor(struct http_request *req)
{
    return arena_printf(http_arena(req), "user:%lld", (long long)http_user(req)->id);
}

static int staff_locations(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_location *locs;
    size_t n;
    int rc = http_require_user(req, 0, err);
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = appointments_locations(conn, http_arena(req), NULL, &locs, &n, err);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        if (may_run(http_user(req), &locs[i]))
            json_array_append_new(
                list, json_pack("{s:s, s:s}", "slug", locs[i].slug, "name", locs[i].name));
    if (json_array_size(list) == 0) {
        json_decref(list);
        return kr_error_set(err, KR_ERR_FORBIDDEN, "you do not work at an appointment location");
    }
    return appt_http_render(req, 200, "appointments/staff_locations",
                            json_pack("{s:o}", "locations", list));
}

/* Local day of ?tag= (or the form's tag), today without one. */
static int64_t chosen_day(struct http_request *req)
{
    const char *tag =
        http_method(req) == HTTP_POST ? http_form(req, "tag") : http_query(req, "tag");
    int64_t day;
    int minute;
    if (tag && appointments_parse_day(tag, &day) == KR_OK)
        return day;
    appointments_utc_to_local(kr_now(), &day, &minute);
    return day;
}

static json_t *resources_json(struct http_request *req, struct db_conn *conn, int64_t loc,
                              const struct appointments_booking *list, size_t n)
{
    struct appointments_resource *res;
    size_t nr;
    struct kr_error e;
    json_t *out = json_array();
    if (appointments_resources(conn, http_arena(req), loc, &res, &nr, &e))
        return out;
    for (size_t r = 0; r < nr; r++) {
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++) {
            if (list[i].resource_id != res[r].id)
                continue;
            json_t *o = appt_http_booking_json(req, &list[i]);
            int64_t day;
            int minute;
            appointments_utc_to_local(list[i].starts_at, &day, &minute);
            json_object_set_new(
                o, "time",
                json_string(arena_printf(http_arena(req), "%02d:%02d", minute / 60, minute % 60)));
            json_array_append_new(items, o);
        }
        json_array_append_new(out, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)res[r].id, "name",
                                             res[r].name, "bookings", items));
    }
    return out;
}

static int render_day(struct http_request *req, struct db_conn *conn,
                      const struct appointments_location *loc, int64_t day, unsigned status,
                      const char *message, const char *error)
{
    struct appointments_booking *list;
    size_t n;
    struct kr_error e;
    if (appointments_day_list(conn, http_arena(req), loc->id, day, &list, &n, &e))
        n = 0;
    char dd[11], prev[11], next[11];
    appointments_format_day(day, dd);
    appointments_format_day(day - 1, prev);
    appointments_format_day(day + 1, next);
    char **ids;
    size_t ns;
    json_t *services = json_array();
    if (appointments_location_services(conn, http_arena(req), loc->id, &ids, &ns, &e) == KR_OK)
        for (size_t i = 0; i < ns; i++)
            json_array_append_new(services, json_pack("{s:s, s:s}", "id", ids[i], "title",
                                                      appt_http_title(req, conn, ids[i])));
    json_t *ctx = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "slug", loc->slug, "name",
                            loc->name, "day", dd, "prev", prev, "next", next, "resources",
                            resources_json(req, conn, loc->id, list, n), "services", services);
    if (message)
        json_object_set_new(ctx, "message", json_string(message));
    if (error) {
        json_object_set_new(ctx, "has_errors", json_true());
        json_object_set_new(ctx, "errors", json_pack("[{s:s}]", "message", error));
    }
    return appt_http_render(req, status, "appointments/staff_day", ctx);
}

static int staff_day(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_location loc;
    int rc = staff_location(req, &conn, &loc, err);
    return rc ? rc : render_day(req, conn, &loc, chosen_day(req), 200, NULL, NULL);
}

/* After a staff action: the day again, with its outcome. */
static int after_action(struct http_request *req, struct db_conn *conn,
                        const struct appointments_location *loc, int rc, const char *done,
                        struct kr_error *err)
{
    if (rc == KR_ERR_INVALID || rc == KR_ERR_CONFLICT || rc == KR_ERR_NOT_FOUND ||
        rc == KR_ERR_RATE_LIMITED)
        return render_day(req, conn, loc, chosen_day(req), (unsigned)http_status_for(rc), NULL,
                          err->message);
    if (rc)
        return rc;
    return render_day(req, conn, loc, chosen_day(req), 200, done, NULL);
}

static int staff_status(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_location loc;
    int rc = staff_location(req, &conn, &loc, err);
    if (rc)
        return rc;
    struct appointments_booking b;
    rc = appointments_get(conn, http_arena(req), http_form(req, "code"), &b, err);
    if (rc == KR_OK && b.location_id != loc.id)
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such appointment at this location");
    if (rc == KR_OK)
        rc = appointments_mark(conn, kr_now(), b.code, http_form(req, "status"), actor(req), err);
    return after_action(req, conn, &loc, rc, http_message(req, "appointments.staff.saved"), err);
}

/* Unix time of the form's tag and zeit ("HH:MM"). */
static int form_time(struct http_request *req, int64_t *out, struct kr_error *err)
{
    const char *t = http_form(req, "zeit");
    int64_t h, m;
    if (!t || strlen(t) != 5 || t[2] != ':')
        return kr_error_set(err, KR_ERR_INVALID, "time: HH:MM");
    char hh[3] = {t[0], t[1], 0}, mm[3] = {t[3], t[4], 0};
    if (kr_parse_int64(hh, 0, 23, &h) || kr_parse_int64(mm, 0, 59, &m))
        return kr_error_set(err, KR_ERR_INVALID, "time: HH:MM");
    *out = appointments_local_to_utc(chosen_day(req), (int)(h * 60 + m));
    return KR_OK;
}

static int staff_block(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_location loc;
    int rc = staff_location(req, &conn, &loc, err);
    if (rc)
        return rc;
    int64_t start = 0, resource = 0, minutes = 0;
    rc = form_time(req, &start, err);
    if (rc == KR_OK && (kr_parse_int64(http_form(req, "resource"), 1, INT64_MAX, &resource) ||
                        kr_parse_int64(http_form(req, "minutes"), 5, 1440, &minutes)))
        rc = kr_error_set(err, KR_ERR_INVALID, "choose a counter and 5-1440 minutes");
    char code[APPOINTMENTS_CODE_LEN];
    if (rc == KR_OK)
        rc = appointments_block(conn, http_arena(req), kr_now(), loc.id, resource, start,
                                (int)minutes, http_form(req, "note"), actor(req), code, err);
    return after_action(req, conn, &loc, rc, http_message(req, "appointments.staff.blocked"), err);
}

static int staff_book(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_location loc;
    int rc = staff_location(req, &conn, &loc, err);
    if (rc)
        return rc;
    struct appointments_policy pol;
    appt_http_policy(req, &pol);
    pol.min_lead = 0; /* the front office books what is free right now */
    struct appointments_request r = {.name = http_form(req, "name"),
                                     .email = http_form(req, "email"),
                                     .phone = http_form(req, "phone"),
                                     .actor = actor(req),
                                     .channel = "phone"};
    rc = appt_http_services(req, http_form(req, "leistungen"), &r.want, err);
    r.want.location_id = loc.id;
    if (rc == KR_OK)
        rc = form_time(req, &r.starts_at, err);
    struct appointments_booking b;
    char token[APPOINTMENTS_TOKEN_LEN];
    if (rc == KR_OK)
        rc = appointments_book(conn, http_arena(req), kr_now(), &pol, &r, &b, token, err);
    const char *done = rc ? NULL
                          : arena_printf(http_arena(req), "%s %s",
                                         http_message(req, "appointments.staff.booked"), b.code);
    return after_action(req, conn, &loc, rc, done, err);
}

static int staff_stats(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = http_require_user(req, 0, err);
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    if (rc)
        return rc;
    struct appointments_policy pol;
    appt_http_policy(req, &pol);
    int64_t now = kr_now();
    struct appointments_stat *st;
    size_t n;
    rc = appointments_stats(conn, http_arena(req), now, &pol, now - 30 * 86400, now + 86400, &st,
                            &n, err);
    if (rc)
        return rc;
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        struct appointments_location loc = {.unit_id = 0};
        struct kr_error e;
        if (appointments_location_get(conn, http_arena(req), NULL, st[i].location_id, &loc, &e) ||
            !may_run(http_user(req), &loc))
            continue;
        char *lead = st[i].lead_seconds < 0 ? NULL
                                            : arena_printf(http_arena(req), "%.1f",
                                                           (double)st[i].lead_seconds / 86400);
        json_array_append_new(
            rows,
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:s?}", "location", st[i].location_name, "service",
                      appt_http_title(req, conn, st[i].service_id), "bookings",
                      (json_int_t)st[i].bookings, "cancellations", (json_int_t)st[i].cancellations,
                      "no_shows", (json_int_t)st[i].no_shows, "lead_days", lead));
    }
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return kr_error_set(err, KR_ERR_FORBIDDEN, "you do not work at an appointment location");
    }
    return appt_http_render(req, 200, "appointments/staff_stats", json_pack("{s:o}", "rows", rows));
}

int appt_http_staff_routes(struct http_server *s, struct kr_error *err);

int appt_http_staff_routes(struct http_server *s, struct kr_error *err)
{
    static const struct {
        unsigned methods;
        const char *pattern;
        http_handler handler;
    } routes[] = {
        {HTTP_GET, "/verwaltung/termine", staff_locations},
        {HTTP_GET, "/verwaltung/termine-statistik", staff_stats},
        {HTTP_GET, "/verwaltung/termine/:ort", staff_day},
        {HTTP_POST, "/verwaltung/termine/:ort/status", staff_status},
        {HTTP_POST, "/verwaltung/termine/:ort/sperren", staff_block},
        {HTTP_POST, "/verwaltung/termine/:ort/buchen", staff_book},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(routes); i++) {
        int rc = http_route(s, routes[i].methods, routes[i].pattern, routes[i].handler, 0, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}
