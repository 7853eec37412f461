/*
 * accounts_http.c - login, logout and the staff start page.
 */
#include "accounts/accounts_http.h"

#include <string.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "http/http.h"

#define LOGIN_FIELD_MAX 256

/* After login: a local path, never another site. */
const char *accounts_http_after_login(struct http_request *req, const char *next)
{
    if (next && *next && http_local_path(next) && strlen(next) < 512)
        return next;
    const struct account_user *u = http_user(req);
    return u && strcmp(u->kind, "staff") != 0 ? "/konto" : "/verwaltung";
}

static int render_login(struct http_request *req, unsigned status, const char *login,
                        const char *error_key, struct kr_error *err)
{
    int rc = http_session_ensure(req, err);
    if (rc)
        return rc;
    json_t *ctx = json_object();
    const char *next = http_form(req, "next");
    if (!next)
        next = http_query(req, "next");
    if (next && *next && http_local_path(next) && strlen(next) < 512)
        json_object_set_new(ctx, "next", json_string(next));
    if (login) {
        json_t *l = json_string(login);
        if (l)
            json_object_set_new(ctx, "login", l);
    }
    if (error_key)
        json_object_set_new(ctx, "error", json_string(http_message(req, error_key)));
    return http_render(req, status, "pages/login", ctx);
}

static int login_form(struct http_request *req, struct kr_error *err)
{
    return render_login(req, 200, NULL, NULL, err);
}

static int login_submit(struct http_request *req, struct kr_error *err)
{
    const char *login = http_form(req, "login");
    const char *password = http_form(req, "password");
    if (!login || !password || strlen(login) > LOGIN_FIELD_MAX ||
        strlen(password) > LOGIN_FIELD_MAX)
        return render_login(req, 422, login && strlen(login) <= LOGIN_FIELD_MAX ? login : NULL,
                            "login.error.missing", err);
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    if (rc)
        return rc;
    const struct kr_config *cfg = http_config(req);
    struct accounts_login_policy policy = {cfg->login_max_failures, cfg->login_window};
    struct account_user user;
    rc = accounts_login(conn, http_arena(req), login, password, http_client_ip(req), &policy, &user,
                        err);
    if (rc == KR_ERR_UNAUTHENTICATED)
        return render_login(req, 422, login, "login.error.wrong", err);
    if (rc == KR_ERR_RATE_LIMITED) {
        char secs[16];
        snprintf(secs, sizeof(secs), "%u", cfg->login_window);
        http_set_header(req, "Retry-After", secs);
        return render_login(req, 429, login, "login.error.rate_limited", err);
    }
    if (rc)
        return rc;
    struct account_settings settings;
    rc = accounts_settings(conn, user.id, &settings, err);
    if (rc)
        return rc;
    const char *next = http_form(req, "next");
    if (settings.totp_enabled) {
        /* The password was right; the session waits for the code. */
        rc = http_session_set_pending(req, user.id, err);
        if (rc)
            return rc;
        bool keep = next && *next && http_local_path(next) && strlen(next) < 512;
        char *enc = keep ? text_percent_encode(http_arena(req), next) : NULL;
        char *to =
            enc ? arena_printf(http_arena(req), "/anmelden/zweiter-faktor?next=%s", enc) : NULL;
        return http_redirect(req, 303, to ? to : "/anmelden/zweiter-faktor");
    }
    rc = http_session_login(req, user.id, err);
    if (rc)
        return rc;
    return http_redirect(req, 303, accounts_http_after_login(req, next));
}

static int logout(struct http_request *req, struct kr_error *err)
{
    int rc = http_session_logout(req, err);
    if (rc)
        return rc;
    return http_redirect(req, 303, "/");
}

static json_t *units_json(struct http_request *req, const struct account_org_unit *units, size_t n)
{
    bool en = strcmp(http_lang(req), "en") == 0;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_pack("{s:s, s:s, s:i}", "code", units[i].code, "name",
                              en ? units[i].name_en : units[i].name, "depth", units[i].depth);
        /* The tree as nested lists would need recursion in the template; an
         * indentation class per depth is enough for the overview. */
        json_object_set_new(u, "indent", json_integer(units[i].depth));
        json_array_append_new(list, u);
    }
    return list;
}

static json_t *audit_json(const struct audit_entry *e, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char when[32];
        kr_time_format_rfc3339(e[i].created_at, when, sizeof(when));
        json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "seq",
                                              (json_int_t)e[i].seq, "when", when, "actor",
                                              e[i].actor, "action", e[i].action, "object",
                                              e[i].object_type, "object_id", e[i].object_id));
    }
    return list;
}

static int staff_home(struct http_request *req, struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    if (strcmp(http_user(req)->kind, "staff") != 0)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "this area is for the county's staff");
    struct db_conn *conn;
    rc = http_db(req, &conn, err);
    if (rc)
        return rc;
    struct account_org_unit *units;
    size_t n;
    rc = accounts_org_units_list(conn, http_arena(req), &units, &n, err);
    if (rc)
        return rc;
    json_t *ctx = json_object();
    json_object_set_new(ctx, "units", units_json(req, units, n));
    json_object_set_new(ctx, "has_units", json_boolean(n > 0));
    const struct account_user *user = http_user(req);
    if (user->roles & ACCOUNT_ROLE_ADMIN) {
        struct audit_entry *entries;
        size_t count;
        rc = audit_list(conn, http_arena(req), 0, 20, &entries, &count, err);
        if (rc) {
            json_decref(ctx);
            return rc;
        }
        json_object_set_new(ctx, "audit", audit_json(entries, count));
        json_object_set_new(ctx, "has_audit", json_boolean(count > 0));
    }
    return http_render(req, 200, "pages/staff/home", ctx);
}

int accounts_http_routes(struct http_server *s, struct kr_error *err)
{
    int rc = http_route(s, HTTP_GET, "/anmelden", login_form, 0, err);
    if (rc == KR_OK)
        rc = http_route(s, HTTP_POST, "/anmelden", login_submit, 0, err);
    if (rc == KR_OK)
        rc = http_route(s, HTTP_POST, "/abmelden", logout, 0, err);
    if (rc == KR_OK)
        rc = http_route(s, HTTP_GET, "/verwaltung", staff_home, 0, err);
    if (rc == KR_OK)
        rc = accounts_citizen_routes(s, err);
    return rc;
}
