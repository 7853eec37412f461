/*
 * request.c - what handlers read from a request: fields, headers, language,
 * database connection, session and user, and the CSRF check.
 */
#include "http/http_internal.h"

#include <string.h>

#include "core/log.h"
#include "core/util.h"

/* Cookies: the session (a __Host- cookie under https: bound to this host,
 * path / and Secure) and the chosen language. */
#define SESSION_COOKIE_HTTPS "__Host-kreisel"
#define SESSION_COOKIE_HTTP "kreisel"
#define LANG_COOKIE "lang"
#define LANG_COOKIE_MAX_AGE (365 * 86400)

struct arena *http_arena(struct http_request *req)
{
    return req->arena;
}

const struct kr_config *http_config(const struct http_request *req)
{
    return req->server->cfg;
}

const char *http_method_name(const struct http_request *req)
{
    return req->method_name;
}

enum http_method http_method(const struct http_request *req)
{
    return req->method;
}

const char *http_path(const struct http_request *req)
{
    return req->path;
}

const char *http_route_pattern(const struct http_request *req)
{
    return req->route_pattern;
}

const char *http_param(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->match.param_count; i++)
        if (strcmp(req->match.param_names[i], name) == 0)
            return req->match.param_values[i];
    return NULL;
}

const char *http_query(const struct http_request *req, const char *name)
{
    return text_pairs_get(&req->query, name);
}

const char *http_form(const struct http_request *req, const char *name)
{
    return text_pairs_get(&req->form, name);
}

const struct text_pairs *http_form_fields(const struct http_request *req)
{
    return &req->form;
}

const char *http_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_body(const struct http_request *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return buf_cstr(&req->body);
}

const char *http_client_ip(const struct http_request *req)
{
    return req->client_ip;
}

const char *http_request_id(const struct http_request *req)
{
    return req->request_id;
}

static const char *cookie(struct http_request *req, const char *name)
{
    return text_cookie_get(req->arena, http_header(req, "Cookie"), name);
}

/* ?lang=xx (remembered in a cookie), else the cookie, else Accept-Language,
 * else the default (German). */
const char *http_lang(struct http_request *req)
{
    if (req->lang)
        return req->lang;
    const struct tpl_set *tpl = req->server->tpl;
    const char *q = http_query(req, "lang");
    if (q && tpl_set_has_lang(tpl, q)) {
        req->lang = q;
        http_set_cookie(req, LANG_COOKIE, q, LANG_COOKIE_MAX_AGE);
        return req->lang;
    }
    const char *c = cookie(req, LANG_COOKIE);
    if (c && tpl_set_has_lang(tpl, c)) {
        req->lang = c;
        return req->lang;
    }
    req->lang = tpl_negotiate_lang(tpl, http_header(req, "Accept-Language"));
    return req->lang;
}

const char *http_county_name(struct http_request *req)
{
    return req->server->county_name[strcmp(http_lang(req), "en") == 0 ? 1 : 0];
}

const char *http_message(struct http_request *req, const char *key)
{
    return tpl_message(req->server->tpl, http_lang(req), key);
}

int http_db(struct http_request *req, struct db_conn **out, struct kr_error *err)
{
    if (!req->db_conn) {
        int rc = db_acquire(req->server->db, &req->db_conn, err);
        if (rc)
            return rc;
    }
    *out = req->db_conn;
    return KR_OK;
}

/* ---- Sessions ---------------------------------------------------------------- */

const char *http_session_cookie_name(const struct http_request *req)
{
    return req->https ? SESSION_COOKIE_HTTPS : SESSION_COOKIE_HTTP;
}

static struct accounts_session_policy session_policy(const struct http_request *req)
{
    return (struct accounts_session_policy){req->server->cfg->session_idle_timeout,
                                            req->server->cfg->session_lifetime};
}

void http_request_load_session(struct http_request *req)
{
    if (req->session_loaded)
        return;
    req->session_loaded = true;
    if (req->match.route && (req->match.route->flags & HTTP_ROUTE_NO_SESSION))
        return;
    const char *token = cookie(req, http_session_cookie_name(req));
    if (!token)
        return;
    struct kr_error err;
    struct db_conn *conn;
    struct accounts_session_policy policy = session_policy(req);
    int rc = http_db(req, &conn, &err);
    if (rc == KR_OK)
        rc = accounts_session_lookup(conn, req->arena, token, &policy, &req->session,
                                     &req->user_storage, &err);
    if (rc == KR_OK) {
        req->has_session = true;
        req->user = req->user_storage.id ? &req->user_storage : NULL;
        return;
    }
    if (rc == KR_ERR_UNAUTHENTICATED || rc == KR_ERR_NOT_FOUND) {
        /* Expired or unknown: forget the cookie. */
        req->session_expired = rc == KR_ERR_UNAUTHENTICATED;
        http_set_cookie(req, http_session_cookie_name(req), "", 0);
        return;
    }
    req->session_failed = true;
    kr_log_error("session_lookup_failed", &err);
}

const struct account_user *http_user(struct http_request *req)
{
    http_request_load_session(req);
    return req->user;
}

int http_require_user(struct http_request *req, unsigned roles, struct kr_error *err)
{
    http_request_load_session(req);
    if (req->session_failed)
        return kr_error_set(err, KR_ERR_BUSY, "sessions cannot be checked right now");
    if (!req->user)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED,
                            req->session_expired ? "your session has expired"
                                                 : "please log in first");
    if ((req->user->roles & roles) != roles)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "your account lacks the role for this page");
    return KR_OK;
}

static int start_session(struct http_request *req, int64_t user_id, const struct account_auth *auth,
                         struct kr_error *err)
{
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    if (rc)
        return rc;
    struct accounts_session_policy policy = session_policy(req);
    const char *ua = http_header(req, "User-Agent");
    rc = accounts_session_create(conn, req->arena, user_id, auth, req->client_ip, ua ? ua : "",
                                 &policy, &req->session, err);
    if (rc)
        return rc;
    req->has_session = true;
    req->session_expired = false;
    /* The cookie lives as long as the session may (the server ends it
     * earlier when idle). */
    return http_set_cookie(req, http_session_cookie_name(req), req->session.token,
                           (int64_t)req->server->cfg->session_lifetime);
}

int http_session_ensure(struct http_request *req, struct kr_error *err)
{
    http_request_load_session(req);
    if (req->has_session)
        return KR_OK;
    if (req->session_failed)
        return kr_error_set(err, KR_ERR_BUSY, "sessions cannot be created right now");
    return start_session(req, 0, NULL, err);
}

int http_session_id_hash(struct http_request *req, char out[65], struct kr_error *err)
{
    int rc = http_session_ensure(req, err);
    if (rc)
        return rc;
    /* A session created during this request has its token in the struct;
     * an existing one is known only by the cookie. */
    const char *token =
        req->session.token[0] ? req->session.token : cookie(req, http_session_cookie_name(req));
    if (!token)
        return kr_error_set(err, KR_ERR_INTERNAL, "a session without a token");
    kr_sha256_hex(token, strlen(token), out);
    return KR_OK;
}

static int destroy_current(struct http_request *req, struct kr_error *err)
{
    const char *token = cookie(req, http_session_cookie_name(req));
    if (!token)
        return KR_OK;
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    return rc ? rc : accounts_session_destroy(conn, token, err);
}

int http_session_login(struct http_request *req, int64_t user_id, struct kr_error *err)
{
    return http_session_login_auth(req, user_id, NULL, err);
}

int http_session_login_auth(struct http_request *req, int64_t user_id,
                            const struct account_auth *auth, struct kr_error *err)
{
    int rc = destroy_current(req, err);
    if (rc)
        return rc;
    rc = start_session(req, user_id, auth, err);
    if (rc)
        return rc;
    struct db_conn *conn;
    rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = accounts_user_get(conn, req->arena, user_id, &req->user_storage, err);
    if (rc == KR_OK)
        req->user = &req->user_storage;
    return rc;
}

int http_session_set_pending(struct http_request *req, int64_t user_id, struct kr_error *err)
{
    int rc = http_session_ensure(req, err);
    struct db_conn *conn;
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = accounts_session_set_pending(conn, http_session_token(req), user_id, err);
    if (rc == KR_OK)
        req->session.pending_user_id = user_id;
    return rc;
}

int64_t http_session_pending(struct http_request *req)
{
    http_request_load_session(req);
    return req->has_session && !req->user ? req->session.pending_user_id : 0;
}

const char *http_session_token(struct http_request *req)
{
    http_request_load_session(req);
    if (!req->has_session)
        return NULL;
    if (req->session.token[0]) /* made by this request */
        return req->session.token;
    return cookie(req, http_session_cookie_name(req));
}

const struct account_auth *http_session_auth(struct http_request *req)
{
    static const struct account_auth none = {"none", "none"};
    return http_user(req) ? &req->session.auth : &none;
}

int http_session_logout(struct http_request *req, struct kr_error *err)
{
    int rc = destroy_current(req, err);
    if (rc)
        return rc;
    req->has_session = false;
    req->user = NULL;
    return http_set_cookie(req, http_session_cookie_name(req), "", 0);
}

/* ---- CSRF ------------------------------------------------------------------------- */

/* Our origin is public_url, or the scheme and Host this request came with
 * (a browser cannot send a foreign Host header cross-site). */
static bool same_origin(struct http_request *req, const char *origin)
{
    if (strcmp(origin, req->server->cfg->public_url) == 0)
        return true;
    const char *host = http_header(req, "Host");
    const char *scheme = req->https ? "https://" : "http://";
    size_t slen = strlen(scheme);
    return host && strncmp(origin, scheme, slen) == 0 && strcmp(origin + slen, host) == 0;
}

/*
 * Two checks for every state-changing request from a browser: the Origin
 * header, when sent, must be our own (browsers send it on cross-site POSTs);
 * and the form's csrf_token (or the X-CSRF-Token header) must equal the
 * session's token.  A request without a session fails: it either never had
 * a form from us or its session expired.
 */
int http_check_csrf(struct http_request *req, struct kr_error *err)
{
    const char *origin = http_header(req, "Origin");
    if (origin && !same_origin(req, origin))
        return kr_error_set(err, KR_ERR_FORBIDDEN,
                            "cross-site form submissions are refused (origin %.80s)", origin);
    http_request_load_session(req);
    if (req->session_failed)
        return kr_error_set(err, KR_ERR_BUSY, "sessions cannot be checked right now");
    if (!req->has_session)
        return kr_error_set(err, KR_ERR_FORBIDDEN,
                            req->session_expired
                                ? "your session has expired; please reload the page and try again"
                                : "the form has no valid session; please reload the page");
    const char *token = http_form(req, "csrf_token");
    if (!token)
        token = http_header(req, "X-CSRF-Token");
    const char *expected = req->session.csrf_token;
    if (!token || !expected || strlen(token) != strlen(expected) ||
        !kr_secure_equal(token, expected, strlen(expected)))
        return kr_error_set(err, KR_ERR_FORBIDDEN,
                            "the form's security token is missing or wrong; please reload the "
                            "page and try again");
    return KR_OK;
}
