/*
 * appointments_api.c - the JSON API for the county app: locations, free
 * slots, anonymous bookings (confirmed by e-mail like on the web), the
 * session user's bookings, and a booking by its signed personal link.
 * Errors are RFC 9457 problem+json; "slot just taken" (409) carries the
 * next free slots in "next_free".
 */
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "appointments/appointments_http.h"
#include "appointments/appointments_internal.h"
#include "core/util.h"

#define API_BODY_MAX 8192

static int api_locations(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_location *locs;
    size_t n;
    const char *service = http_query(req, "service");
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = appointments_locations(conn, http_arena(req), service, &locs, &n, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        char **ids;
        size_t m;
        json_t *services = json_array();
        if (appointments_location_services(conn, http_arena(req), locs[i].id, &ids, &m, err) ==
            KR_OK)
            for (size_t k = 0; k < m; k++)
                json_array_append_new(services, json_string(ids[k]));
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", locs[i].slug, "name",
                             locs[i].name, "name_en", locs[i].name_en, "address", locs[i].address,
                             "directions", locs[i].directions, "accessibility",
                             locs[i].accessibility, "state", locs[i].state, "services", services));
    }
    return http_json(req, 200, json_pack("{s:o}", "items", items));
}

static int want_from(struct http_request *req, struct db_conn *conn, const char *location,
                     const char *services, struct appointments_want *w, struct kr_error *err)
{
    struct appointments_location loc;
    if (!location)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such location");
    int rc = appointments_location_get(conn, http_arena(req), location, 0, &loc, err);
    if (rc == KR_OK)
        rc = appt_http_services(req, services, w, err);
    w->location_id = loc.id;
    return rc;
}

static int api_slots(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_want w;
    struct appointments_policy pol;
    appt_http_policy(req, &pol);
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc =
            want_from(req, conn, http_query(req, "location"), http_query(req, "services"), &w, err);
    if (rc)
        return rc;
    const char *day_text = http_query(req, "day");
    int64_t day;
    if (day_text) {
        struct appointments_slot *s;
        size_t n;
        if (appointments_parse_day(day_text, &day))
            return kr_error_set(err, KR_ERR_INVALID, "day: YYYY-MM-DD");
        rc = appointments_slots(conn, http_arena(req), kr_now(), &pol, &w, day, &s, &n, err);
        return rc ? rc
                  : http_json(req, 200,
                              json_pack("{s:s, s:o}", "day", day_text, "slots",
                                        appt_http_slots_json(req, s, n)));
    }
    struct appointments_day *days;
    size_t n;
    rc = appointments_days(conn, http_arena(req), kr_now(), &pol, &w, &days, &n, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        char dd[11];
        appointments_format_day(days[i].day, dd);
        json_array_append_new(items,
                              json_pack("{s:s, s:i}", "day", dd, "slots", (int)days[i].slots));
    }
    return http_json(req, 200, json_pack("{s:o}", "days", items));
}

/* 409 problem+json with the next free slots. */
static int taken(struct http_request *req, struct db_conn *conn,
                 const struct appointments_policy *pol, const struct appointments_want *w,
                 int64_t start)
{
    struct appointments_slot *next;
    size_t n = 0;
    struct kr_error e;
    if (appointments_next_free(conn, http_arena(req), kr_now(), pol, w, start, 5, &next, &n, &e))
        n = 0;
    json_t *p =
        json_pack("{s:s, s:s, s:i, s:s, s:s, s:o}", "type",
                  "https://kreisel.example/problems/slot-taken", "title", "Slot just taken",
                  "status", 409, "detail", "this slot was just taken; here are the next free ones",
                  "instance", http_path(req), "next_free", appt_http_slots_json(req, next, n));
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!text)
        return KR_ERR_NOMEM;
    int rc = http_send(req, 409, "application/problem+json", text, strlen(text));
    free(text);
    return rc;
}

static void json_release(void *v)
{
    json_decref(v);
}

/* Read the JSON body into a request; its strings live as long as the
 * request (the parsed body is handed to the arena). */
static int parse_body(struct http_request *req, struct db_conn *conn,
                      struct appointments_request *r, struct kr_error *err)
{
    size_t len;
    const char *body = http_body(req, &len);
    if (!body || len == 0 || len > API_BODY_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "a JSON object of at most %d bytes is expected",
                            API_BODY_MAX);
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return kr_error_set(err, KR_ERR_INVALID, "the body is not a JSON object");
    }
    if (arena_defer(http_arena(req), json_release, o))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    json_t *services = json_object_get(o, "services");
    char *joined = arena_strdup(http_arena(req), "");
    size_t i;
    json_t *v;
    json_array_foreach(services, i, v)
    {
        if (!json_is_string(v) || !joined)
            return kr_error_set(err, KR_ERR_INVALID, "services: a list of service ids");
        joined =
            arena_printf(http_arena(req), "%s%s%s", joined, i ? "," : "", json_string_value(v));
    }
    int rc = want_from(req, conn, json_string_value(json_object_get(o, "location")), joined,
                       &r->want, err);
    if (rc)
        return rc;
    json_t *start = json_object_get(o, "slot");
    if (!json_is_integer(start))
        return kr_error_set(err, KR_ERR_INVALID, "slot: the id of a free slot is expected");
    r->starts_at = json_integer_value(start);
    r->name = json_string_value(json_object_get(o, "name"));
    r->email = json_string_value(json_object_get(o, "email"));
    r->phone = json_string_value(json_object_get(o, "phone"));
    return KR_OK;
}

static int api_book(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_policy pol;
    appt_http_policy(req, &pol);
    struct appointments_request r = {
        .ip = http_client_ip(req), .actor = "anonymous", .channel = "api"};
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = parse_body(req, conn, &r, err);
    struct appointments_booking b;
    char token[APPOINTMENTS_TOKEN_LEN];
    if (rc == KR_OK)
        rc = appointments_book(conn, http_arena(req), kr_now(), &pol, &r, &b, token, err);
    if (rc == KR_ERR_CONFLICT)
        return taken(req, conn, &pol, &r.want, r.starts_at);
    if (rc)
        return rc;
    json_t *o = appt_http_booking_json(req, &b);
    char by[32];
    kr_time_format_rfc3339(b.confirm_by, by, sizeof(by));
    json_object_set_new(o, "confirm_by", json_string(by));
    return http_json(req, 201, o);
}

static int api_mine(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_booking *list;
    size_t n;
    int rc = http_require_user(req, 0, err);
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = appointments_of_account(conn, http_arena(req), http_user(req)->id, kr_now(), &list, &n,
                                     err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, appt_http_booking_json(req, &list[i]));
    return http_json(req, 200, json_pack("{s:o}", "items", items));
}

static int api_booking(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_booking b;
    const char *code = http_param(req, "code");
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = appointments_verify(conn, "booking", code, http_query(req, "s"), err);
    if (rc == KR_OK && http_method(req) == HTTP_DELETE) {
        struct appointments_policy pol;
        appt_http_policy(req, &pol);
        rc = appointments_cancel(conn, http_arena(req), kr_now(), &pol, code, "anonymous", err);
    }
    if (rc == KR_OK)
        rc = appointments_get(conn, http_arena(req), code, &b, err);
    return rc ? rc : http_json(req, 200, appt_http_booking_json(req, &b));
}

int appt_http_api_routes(struct http_server *s, struct kr_error *err);

int appt_http_api_routes(struct http_server *s, struct kr_error *err)
{
    int rc = http_route(s, HTTP_GET, "/api/appointments/locations", api_locations, 0, err);
    if (rc == KR_OK)
        rc = http_route(s, HTTP_GET, "/api/appointments/slots", api_slots, 0, err);
    /* Anonymous: the e-mail link confirms, the session is not used. */
    if (rc == KR_OK)
        rc = http_route(s, HTTP_POST, "/api/appointments/bookings", api_book, HTTP_ROUTE_NO_CSRF,
                        err);
    if (rc == KR_OK)
        rc = http_route(s, HTTP_GET, "/api/appointments/bookings", api_mine, 0, err);
    /* The signature in ?s= authorises, not the session. */
    if (rc == KR_OK)
        rc = http_route(s, HTTP_GET | HTTP_DELETE, "/api/appointments/bookings/:code", api_booking,
                        HTTP_ROUTE_NO_CSRF, err);
    return rc;
}
