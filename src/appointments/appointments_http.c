/*
 * appointments_http.c - the public booking pages: service, location, day,
 * time, details, confirmation, and the personal link (cancel, move,
 * calendar file).  Every page works without JavaScript; days and times are
 * plain lists of links, moves a radio group in a form.
 */
#include "appointments/appointments_http.h"

#include "appointments/appointments_internal.h"

#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "catalogue/catalogue.h"
#include "core/util.h"

/* ---- Shared helpers ---------------------------------------------------------- */

void appt_http_policy(struct http_request *req, struct appointments_policy *out)
{
    appointments_policy_from_config(http_config(req), out);
}

int appt_http_services(struct http_request *req, const char *text, struct appointments_want *w,
                       struct kr_error *err)
{
    w->service_count = 0;
    if (!text || !text[0] || strlen(text) > 400)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "please choose a service");
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, ",");
        if (w->service_count == APPOINTMENTS_MAX_SERVICES)
            return kr_error_set(err, KR_ERR_INVALID, "at most %d services in one appointment",
                                APPOINTMENTS_MAX_SERVICES);
        char *id = arena_strndup(http_arena(req), p, n);
        if (!id)
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        if (!catalogue_id_valid(id))
            return kr_error_set(err, KR_ERR_NOT_FOUND, "no such service");
        w->services[w->service_count++] = id;
        p += n;
        if (*p == ',')
            p++;
    }
    return KR_OK;
}

const char *appt_http_title(struct http_request *req, struct db_conn *conn, const char *id)
{
    json_t *rec = NULL;
    struct kr_error e;
    if (catalogue_service_get(conn, http_arena(req), id, &rec, NULL, &e) != KR_OK)
        return id;
    const char *t = NULL;
    if (strcmp(http_lang(req), "en") == 0)
        t = json_string_value(json_object_get(rec, "title_en"));
    if (!t || !t[0])
        t = json_string_value(json_object_get(rec, "title"));
    return t && t[0] ? t : id;
}

json_t *appt_http_booking_json(struct http_request *req, const struct appointments_booking *b)
{
    char start[32], end[32];
    kr_time_format_rfc3339(b->starts_at, start, sizeof(start));
    kr_time_format_rfc3339(b->ends_at, end, sizeof(end));
    json_t *services = json_array();
    for (size_t i = 0; i < b->service_count; i++)
        json_array_append_new(services, json_string(b->services[i]));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "code", b->code,
                          "status", b->status, "starts_at", start, "ends_at", end, "when",
                          appt_format_when(http_arena(req), b->starts_at, http_lang(req)),
                          "location", b->location_name ? b->location_name : "", "address",
                          b->location_address ? b->location_address : "", "resource",
                          b->resource_name ? b->resource_name : "", "services", services);
    if (!o)
        return NULL;
    json_object_set_new(o, "title", json_string(b->title ? b->title : ""));
    json_object_set_new(o, "name", json_string(b->name ? b->name : ""));
    if (b->email)
        json_object_set_new(o, "email", json_string(b->email));
    if (b->phone)
        json_object_set_new(o, "phone", json_string(b->phone));
    char key[40];
    (void)snprintf(key, sizeof(key), "is_%s", b->status);
    json_object_set_new(o, key, json_true());
    return o;
}

json_t *appt_http_slots_json(struct http_request *req, const struct appointments_slot *s, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char start[32], end[32];
        int64_t day;
        int minute;
        kr_time_format_rfc3339(s[i].starts_at, start, sizeof(start));
        kr_time_format_rfc3339(s[i].ends_at, end, sizeof(end));
        appointments_utc_to_local(s[i].starts_at, &day, &minute);
        char *time = arena_printf(http_arena(req), "%02d:%02d", minute / 60, minute % 60);
        char dd[11];
        appointments_format_day(day, dd);
        json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:i}", "id",
                                              (json_int_t)s[i].starts_at, "starts_at", start,
                                              "ends_at", end, "day", dd, "time", time ? time : "",
                                              "free", (int)s[i].free));
    }
    return list;
}

static void add_flags(json_t *v, int depth)
{
    if (depth > 8)
        return;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) add_flags(e, depth + 1);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *key;
    json_t *e;
    void *tmp;
    json_t *flags = json_object();
    json_object_foreach_safe(v, tmp, key, e)
    {
        if (json_is_array(e)) {
            char name[80];
            (void)snprintf(name, sizeof(name), "has_%s", key);
            json_object_set_new(flags, name, json_boolean(json_array_size(e) > 0));
        }
        add_flags(e, depth + 1);
    }
    json_object_update(v, flags);
    json_decref(flags);
}

int appt_http_render(struct http_request *req, unsigned status, const char *name, json_t *ctx)
{
    add_flags(ctx, 0);
    return http_render(req, status, name, ctx);
}

/* ---- The steps -------------------------------------------------------------- */

/* Request context of the steps after the service: connection, policy,
 * location and services from ?ort= and ?leistungen=. */
struct step {
    struct db_conn *conn;
    struct appointments_policy pol;
    struct appointments_location loc;
    struct appointments_want want;
    const char *services_param;
    json_t *ctx;
};

static json_t *titles_json(struct http_request *req, struct step *s)
{
    json_t *list = json_array();
    for (size_t i = 0; i < s->want.service_count; i++)
        json_array_append_new(list, json_pack("{s:s, s:s}", "id", s->want.services[i], "title",
                                              appt_http_title(req, s->conn, s->want.services[i])));
    return list;
}

static int step_load(struct http_request *req, const char *services, const char *slug,
                     struct step *s, struct kr_error *err)
{
    memset(s, 0, sizeof(*s));
    appt_http_policy(req, &s->pol);
    int rc = http_db(req, &s->conn, err);
    if (rc == KR_OK)
        rc = appt_http_services(req, services, &s->want, err);
    if (rc == KR_OK && slug) {
        rc = appointments_location_get(s->conn, http_arena(req), slug, 0, &s->loc, err);
        s->want.location_id = s->loc.id;
    }
    if (rc)
        return rc;
    s->services_param = services;
    s->ctx = json_object();
    json_object_set_new(s->ctx, "services", titles_json(req, s));
    json_object_set_new(s->ctx, "leistungen", json_string(services));
    if (slug)
        json_object_set_new(
            s->ctx, "location",
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "slug", s->loc.slug, "name",
                      strcmp(http_lang(req), "en") == 0 ? s->loc.name_en : s->loc.name, "address",
                      s->loc.address, "directions", s->loc.directions, "accessibility",
                      s->loc.accessibility));
    return KR_OK;
}

struct titled {
    const char *id, *title;
};

static int by_title(const void *x, const void *y)
{
    const struct titled *a = x, *b = y;
    return strcoll(a->title, b->title);
}

static int page_services(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    char **ids;
    size_t n;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = appointments_services(conn, http_arena(req), &ids, &n, err);
    struct titled *t = rc ? NULL : arena_calloc(http_arena(req), n + 1, sizeof(*t));
    if (rc == KR_OK && !t)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        t[i] = (struct titled){ids[i], appt_http_title(req, conn, ids[i])};
    qsort(t, n, sizeof(*t), by_title);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:s}", "id", t[i].id, "title", t[i].title));
    return appt_http_render(req, 200, "appointments/services",
                            json_pack("{s:o}", "services", list));
}

static int page_locations(struct http_request *req, struct kr_error *err)
{
    struct step s;
    int rc = step_load(req, http_query(req, "leistungen"), NULL, &s, err);
    struct appointments_location *locs;
    size_t n = 0;
    if (rc == KR_OK)
        rc = appointments_locations(s.conn, http_arena(req), s.want.services[0], &locs, &n, err);
    if (rc) {
        json_decref(s.ctx);
        return rc;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char **offered;
        size_t m, hits = 0;
        if (appointments_location_services(s.conn, http_arena(req), locs[i].id, &offered, &m,
                                           err) != KR_OK)
            continue;
        for (size_t k = 0; k < s.want.service_count; k++)
            for (size_t j = 0; j < m; j++)
                hits += strcmp(offered[j], s.want.services[k]) == 0;
        if (hits == s.want.service_count)
            json_array_append_new(
                list,
                json_pack("{s:s, s:s, s:s, s:s}", "slug", locs[i].slug, "name",
                          strcmp(http_lang(req), "en") == 0 ? locs[i].name_en : locs[i].name,
                          "address", locs[i].address, "accessibility", locs[i].accessibility));
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        json_decref(s.ctx);
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this service cannot be booked online");
    }
    json_object_set_new(s.ctx, "locations", list);
    return appt_http_render(req, 200, "appointments/locations", s.ctx);
}

/* Links that add one more service offered at the location. */
static json_t *more_services(struct http_request *req, struct step *s)
{
    json_t *list = json_array();
    char **ids;
    size_t n;
    struct kr_error e;
    if (s->want.service_count >= APPOINTMENTS_MAX_SERVICES ||
        appointments_location_services(s->conn, http_arena(req), s->loc.id, &ids, &n, &e))
        return list;
    for (size_t i = 0; i < n; i++) {
        bool chosen = false;
        for (size_t k = 0; k < s->want.service_count; k++)
            chosen = chosen || strcmp(ids[i], s->want.services[k]) == 0;
        if (!chosen)
            json_array_append_new(
                list, json_pack("{s:s, s:s}", "leistungen",
                                arena_printf(http_arena(req), "%s,%s", s->services_param, ids[i]),
                                "title", appt_http_title(req, s->conn, ids[i])));
    }
    return list;
}

static char *day_text(struct http_request *req, int64_t day)
{
    static const char *const de[] = {"",           "Montag",  "Dienstag", "Mittwoch",
                                     "Donnerstag", "Freitag", "Samstag",  "Sonntag"};
    static const char *const en[] = {"",         "Monday", "Tuesday",  "Wednesday",
                                     "Thursday", "Friday", "Saturday", "Sunday"};
    int y, m, d, wd = appointments_weekday(day);
    appointments_civil_from_days(day, &y, &m, &d);
    if (strcmp(http_lang(req), "en") == 0)
        return arena_printf(http_arena(req), "%s, %d-%02d-%02d", en[wd], y, m, d);
    return arena_printf(http_arena(req), "%s, %02d.%02d.%d", de[wd], d, m, y);
}

static int page_days(struct http_request *req, struct kr_error *err)
{
    struct step s;
    int rc = step_load(req, http_query(req, "leistungen"), http_query(req, "ort"), &s, err);
    struct appointments_day *days;
    size_t n = 0;
    if (rc == KR_OK)
        rc = appointments_days(s.conn, http_arena(req), kr_now(), &s.pol, &s.want, &days, &n, err);
    if (rc) {
        json_decref(s.ctx);
        return rc;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char dd[11];
        appointments_format_day(days[i].day, dd);
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:i}", "day", dd, "text",
                                        day_text(req, days[i].day), "slots", (int)days[i].slots));
    }
    json_object_set_new(s.ctx, "days", list);
    json_object_set_new(s.ctx, "more", more_services(req, &s));
    return appt_http_render(req, 200, "appointments/days", s.ctx);
}

static int page_times(struct http_request *req, struct kr_error *err)
{
    struct step s;
    int64_t day = 0;
    int rc = step_load(req, http_query(req, "leistungen"), http_query(req, "ort"), &s, err);
    if (rc == KR_OK && appointments_parse_day(http_query(req, "tag"), &day) != KR_OK)
        rc = kr_error_set(err, KR_ERR_INVALID, "please choose a day (YYYY-MM-DD)");
    struct appointments_slot *slots;
    size_t n = 0;
    if (rc == KR_OK)
        rc = appointments_slots(s.conn, http_arena(req), kr_now(), &s.pol, &s.want, day, &slots, &n,
                                err);
    if (rc) {
        json_decref(s.ctx);
        return rc;
    }
    char dd[11];
    appointments_format_day(day, dd);
    json_object_set_new(s.ctx, "day", json_string(dd));
    json_object_set_new(s.ctx, "day_text", json_string(day_text(req, day)));
    json_object_set_new(s.ctx, "slots", appt_http_slots_json(req, slots, n));
    return appt_http_render(req, 200, "appointments/times", s.ctx);
}

/* The details form, first shown or again with an error. */
static int render_details(struct http_request *req, struct step *s, int64_t start, unsigned status,
                          const char *error)
{
    const struct account_user *u = http_user(req);
    const char *name = http_form(req, "name"), *email = http_form(req, "email");
    if (!name && u)
        name = u->display_name;
    if (!email && u)
        email = u->email;
    json_object_set_new(s->ctx, "beginn", json_integer(start));
    json_object_set_new(s->ctx, "when",
                        json_string(appt_format_when(http_arena(req), start, http_lang(req))));
    json_object_set_new(s->ctx, "name", json_string(name ? name : ""));
    json_object_set_new(s->ctx, "email", json_string(email ? email : ""));
    json_object_set_new(s->ctx, "phone",
                        json_string(http_form(req, "phone") ? http_form(req, "phone") : ""));
    json_object_set_new(s->ctx, "logged_in", json_boolean(u != NULL));
    if (error) {
        json_object_set_new(s->ctx, "has_errors", json_true());
        json_object_set_new(s->ctx, "errors", json_pack("[{s:s}]", "message", error));
    }
    return appt_http_render(req, status, "appointments/details", s->ctx);
}

static int page_details(struct http_request *req, struct kr_error *err)
{
    struct step s;
    int64_t start;
    int rc = http_session_ensure(req, err);
    if (rc == KR_OK)
        rc = step_load(req, http_query(req, "leistungen"), http_query(req, "ort"), &s, err);
    if (rc)
        return rc;
    if (kr_parse_int64(http_query(req, "beginn"), 0, INT64_MAX / 2, &start)) {
        json_decref(s.ctx);
        return kr_error_set(err, KR_ERR_INVALID, "please choose a time");
    }
    return render_details(req, &s, start, 200, NULL);
}

/* "Slot just taken": the next free times of the same request. */
static int render_taken(struct http_request *req, struct step *s, int64_t start)
{
    struct appointments_slot *next;
    size_t n = 0;
    struct kr_error e;
    if (appointments_next_free(s->conn, http_arena(req), kr_now(), &s->pol, &s->want, start, 5,
                               &next, &n, &e) != KR_OK)
        n = 0;
    json_t *list = appt_http_slots_json(req, next, n);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        json_object_set_new(
            v, "text",
            json_string(appt_format_when(http_arena(req), next[i].starts_at, http_lang(req))));
    }
    json_object_set_new(s->ctx, "next", list);
    return appt_http_render(req, 409, "appointments/taken", s->ctx);
}

static int book(struct http_request *req, struct kr_error *err)
{
    struct step s;
    int64_t start = 0;
    int rc = step_load(req, http_form(req, "leistungen"), http_form(req, "ort"), &s, err);
    if (rc)
        return rc;
    if (kr_parse_int64(http_form(req, "beginn"), 0, INT64_MAX / 2, &start)) {
        json_decref(s.ctx);
        return kr_error_set(err, KR_ERR_INVALID, "please choose a time");
    }
    const struct account_user *u = http_user(req);
    bool account = u && strcmp(u->kind, "staff") != 0;
    char *actor = account ? arena_printf(http_arena(req), "user:%lld", (long long)u->id) : NULL;
    struct appointments_request r = {.want = s.want,
                                     .starts_at = start,
                                     .name = http_form(req, "name"),
                                     .email = http_form(req, "email"),
                                     .phone = http_form(req, "phone"),
                                     .account_id = account ? u->id : 0,
                                     .ip = http_client_ip(req),
                                     .actor = actor ? actor : "anonymous",
                                     .channel = "web"};
    struct appointments_booking b;
    char token[APPOINTMENTS_TOKEN_LEN];
    rc = appointments_book(s.conn, http_arena(req), kr_now(), &s.pol, &r, &b, token, err);
    if (rc == KR_ERR_INVALID)
        return render_details(req, &s, start, 422, err->message);
    if (rc == KR_ERR_CONFLICT)
        return render_taken(req, &s, start);
    if (rc) {
        json_decref(s.ctx);
        return rc;
    }
    if (strcmp(b.status, "pending") == 0) {
        json_object_set_new(s.ctx, "booking", appt_http_booking_json(req, &b));
        return appt_http_render(req, 200, "appointments/check_mail", s.ctx);
    }
    json_decref(s.ctx);
    char sig[APPOINTMENTS_SIG_LEN];
    rc = appointments_sign(s.conn, "booking", b.code, sig, err);
    char *to = arena_printf(http_arena(req), "/termine/buchung/%s?s=%s", b.code, sig);
    return rc ? rc : http_redirect(req, 303, to);
}

/* ---- Confirmation and the personal link ----------------------------------------- */

static int page_confirm(struct http_request *req, struct kr_error *err)
{
    int rc = http_session_ensure(req, err);
    if (rc)
        return rc;
    const char *token = http_query(req, "token");
    if (!token || strlen(token) != APPOINTMENTS_TOKEN_LEN - 1)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this confirmation link is not valid");
    return appt_http_render(
        req, 200, "appointments/confirm",
        json_pack("{s:s, s:s}", "code", http_param(req, "code"), "token", token));
}

static int confirm(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_policy pol;
    appt_http_policy(req, &pol);
    const char *code = http_param(req, "code");
    enum appointments_confirm_result res;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = appointments_confirm(conn, http_arena(req), kr_now(), &pol, code,
                                  http_form(req, "token"), &res, err);
    char sig[APPOINTMENTS_SIG_LEN];
    if (rc == KR_OK)
        rc = appointments_sign(conn, "booking", code, sig, err);
    if (rc)
        return rc;
    return appt_http_render(req, 200, "appointments/confirmed",
                            json_pack("{s:b, s:s, s:s}", "again",
                                      res == APPOINTMENTS_ALREADY_CONFIRMED, "code", code, "s",
                                      sig));
}

/* Verify ?s= (or the form's s) for :code and load the booking. */
static int personal(struct http_request *req, struct db_conn **conn, struct appointments_booking *b,
                    const char **sig, struct kr_error *err)
{
    const char *code = http_param(req, "code");
    *sig = http_method(req) == HTTP_POST ? http_form(req, "s") : http_query(req, "s");
    int rc = http_db(req, conn, err);
    if (rc == KR_OK)
        rc = appointments_verify(*conn, "booking", code, *sig, err);
    if (rc == KR_OK)
        rc = appointments_get(*conn, http_arena(req), code, b, err);
    return rc;
}

static int page_booking(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_booking b;
    const char *sig;
    int rc = http_session_ensure(req, err);
    if (rc == KR_OK)
        rc = personal(req, &conn, &b, &sig, err);
    if (rc)
        return rc;
    bool open = (strcmp(b.status, "confirmed") == 0 || strcmp(b.status, "pending") == 0) &&
                b.starts_at > kr_now();
    return appt_http_render(req, 200, "appointments/booking",
                            json_pack("{s:o, s:s, s:b}", "booking", appt_http_booking_json(req, &b),
                                      "s", sig, "open", open));
}

static int cancel(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_booking b;
    const char *sig;
    struct appointments_policy pol;
    appt_http_policy(req, &pol);
    int rc = personal(req, &conn, &b, &sig, err);
    if (rc == KR_OK)
        rc = appointments_cancel(conn, http_arena(req), kr_now(), &pol, b.code, "anonymous", err);
    if (rc)
        return rc;
    return appt_http_render(req, 200, "appointments/cancelled",
                            json_pack("{s:o}", "booking", appt_http_booking_json(req, &b)));
}

static int page_move(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_booking b;
    const char *sig;
    struct appointments_policy pol;
    appt_http_policy(req, &pol);
    int rc = http_session_ensure(req, err);
    if (rc == KR_OK)
        rc = personal(req, &conn, &b, &sig, err);
    if (rc)
        return rc;
    struct appointments_want w = {.location_id = b.location_id, .service_count = b.service_count};
    for (size_t i = 0; i < b.service_count; i++)
        w.services[i] = b.services[i];
    json_t *ctx = json_pack("{s:o, s:s}", "booking", appt_http_booking_json(req, &b), "s", sig);
    int64_t day;
    const char *tag = http_query(req, "tag");
    if (tag && appointments_parse_day(tag, &day) == KR_OK) {
        struct appointments_slot *slots;
        size_t n;
        rc = appointments_slots(conn, http_arena(req), kr_now(), &pol, &w, day, &slots, &n, err);
        json_object_set_new(ctx, "day_text", json_string(day_text(req, day)));
        json_object_set_new(ctx, "slots", rc ? json_array() : appt_http_slots_json(req, slots, n));
    } else {
        struct appointments_day *days;
        size_t n;
        rc = appointments_days(conn, http_arena(req), kr_now(), &pol, &w, &days, &n, err);
        json_t *list = json_array();
        for (size_t i = 0; rc == KR_OK && i < n; i++) {
            char dd[11];
            appointments_format_day(days[i].day, dd);
            json_array_append_new(list, json_pack("{s:s, s:s, s:i}", "day", dd, "text",
                                                  day_text(req, days[i].day), "slots",
                                                  (int)days[i].slots));
        }
        json_object_set_new(ctx, "days", list);
    }
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    return appt_http_render(req, 200, "appointments/move", ctx);
}

static int move(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_booking b;
    const char *sig;
    struct appointments_policy pol;
    appt_http_policy(req, &pol);
    int64_t start;
    int rc = personal(req, &conn, &b, &sig, err);
    if (rc == KR_OK && kr_parse_int64(http_form(req, "beginn"), 0, INT64_MAX / 2, &start))
        rc = kr_error_set(err, KR_ERR_INVALID, "please choose a time");
    if (rc == KR_OK)
        rc = appointments_move(conn, http_arena(req), kr_now(), &pol, b.code, start, "anonymous",
                               err);
    if (rc)
        return rc;
    return http_redirect(req, 303,
                         arena_printf(http_arena(req), "/termine/buchung/%s?s=%s", b.code, sig));
}

static int send_ics(struct http_request *req, const struct appointments_booking *b, size_t n,
                    const char *method, struct kr_error *err)
{
    char *ics;
    size_t len;
    int rc = appointments_ical(http_arena(req), kr_now(), http_config(req)->public_url, method, b,
                               n, &ics, &len, err);
    if (rc)
        return rc;
    return http_send(req, 200, "text/calendar; charset=utf-8", ics, len);
}

static int booking_ics(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct appointments_booking b;
    const char *sig;
    int rc = personal(req, &conn, &b, &sig, err);
    return rc ? rc : send_ics(req, &b, 1, "PUBLISH", err);
}

/* ---- Account ------------------------------------------------------------------------ */

static int page_mine(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = http_require_user(req, 0, err);
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    if (rc)
        return rc;
    const struct account_user *u = http_user(req);
    struct appointments_booking *list;
    size_t n;
    char subject[24], sig[APPOINTMENTS_SIG_LEN];
    (void)snprintf(subject, sizeof(subject), "%lld", (long long)u->id);
    rc = appointments_of_account(conn, http_arena(req), u->id, kr_now(), &list, &n, err);
    if (rc == KR_OK)
        rc = appointments_sign(conn, "feed", subject, sig, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        char bs[APPOINTMENTS_SIG_LEN];
        json_t *o = appt_http_booking_json(req, &list[i]);
        if (appointments_sign(conn, "booking", list[i].code, bs, err) == KR_OK)
            json_object_set_new(o, "s", json_string(bs));
        json_array_append_new(items, o);
    }
    char *feed = arena_printf(http_arena(req), "%s/termine/feed/%s/%s.ics",
                              http_config(req)->public_url, subject, sig);
    return appt_http_render(req, 200, "appointments/mine",
                            json_pack("{s:o, s:s}", "bookings", items, "feed", feed ? feed : ""));
}

static int feed(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    int64_t account;
    const char *file = http_param(req, "file");
    size_t len = file ? strlen(file) : 0;
    if (kr_parse_int64(http_param(req, "account"), 1, INT64_MAX, &account) ||
        len != APPOINTMENTS_SIG_LEN - 1 + 4 || strcmp(file + len - 4, ".ics") != 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such calendar");
    char sig[APPOINTMENTS_SIG_LEN];
    memcpy(sig, file, APPOINTMENTS_SIG_LEN - 1);
    sig[APPOINTMENTS_SIG_LEN - 1] = '\0';
    struct appointments_booking *list;
    size_t n;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = appointments_verify(conn, "feed", http_param(req, "account"), sig, err);
    if (rc == KR_OK)
        rc = appointments_of_account(conn, http_arena(req), account, kr_now(), &list, &n, err);
    return rc ? rc : send_ics(req, list, n, "PUBLISH", err);
}

int appt_http_staff_routes(struct http_server *s, struct kr_error *err);
int appt_http_api_routes(struct http_server *s, struct kr_error *err);

int appointments_http_routes(struct http_server *s, struct kr_error *err)
{
    static const struct {
        unsigned methods;
        const char *pattern;
        http_handler handler;
    } routes[] = {
        {HTTP_GET, "/termine", page_services},
        {HTTP_GET, "/termine/orte", page_locations},
        {HTTP_GET, "/termine/tage", page_days},
        {HTTP_GET, "/termine/zeiten", page_times},
        {HTTP_GET, "/termine/angaben", page_details},
        {HTTP_POST, "/termine/buchen", book},
        {HTTP_GET, "/termine/bestaetigen/:code", page_confirm},
        {HTTP_POST, "/termine/bestaetigen/:code", confirm},
        {HTTP_GET, "/termine/buchung/:code", page_booking},
        {HTTP_POST, "/termine/buchung/:code/absagen", cancel},
        {HTTP_GET, "/termine/buchung/:code/verlegen", page_move},
        {HTTP_POST, "/termine/buchung/:code/verlegen", move},
        {HTTP_GET, "/termine/buchung/:code/termin.ics", booking_ics},
        {HTTP_GET, "/termine/meine", page_mine},
        {HTTP_GET, "/termine/feed/:account/:file", feed},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(routes); i++) {
        int rc = http_route(s, routes[i].methods, routes[i].pattern, routes[i].handler, 0, err);
        if (rc)
            return rc;
    }
    int rc = appt_http_staff_routes(s, err);
    return rc ? rc : appt_http_api_routes(s, err);
}
