/*
 * citizen_http.c - the pages of the service account (Servicekonto):
 * registration, confirmation, password reset, the second login step, and
 * "Mein Konto" with password, address, second factor, sessions, data
 * export and deletion.
 *
 * Every form re-renders with the values kept and an error summary on top
 * (field messages linked from the summary).  Pages that answer for an
 * e-mail address (registration, reset) say the same whether or not the
 * address has an account; what differs goes into the e-mail only.
 */
#include "accounts/accounts_http.h"

#include <stdio.h>
#include <string.h>

#include "accounts/accounts.h"
#include "accounts/export.h"
#include "core/text.h"
#include "core/util.h"
#include "http/http.h"
#include "mail/mail.h"

#define FIELD_MAX 256

/* ---- Helpers ---------------------------------------------------------------------- */

static struct accounts_login_policy login_policy(struct http_request *req)
{
    const struct kr_config *cfg = http_config(req);
    return (struct accounts_login_policy){cfg->login_max_failures, cfg->login_window};
}

/* A form field of at most FIELD_MAX bytes, else NULL. */
static const char *field(struct http_request *req, const char *name)
{
    const char *v = http_form(req, name);
    return v && strlen(v) <= FIELD_MAX ? v : NULL;
}

/* Errors for the summary and the fields: [{field, message}]. */
static void add_error(struct http_request *req, json_t *ctx, const char *name, const char *key)
{
    json_t *errors = json_object_get(ctx, "errors");
    if (!errors) {
        errors = json_array();
        json_object_set_new(ctx, "errors", errors);
    }
    const char *text = http_message(req, key);
    json_array_append_new(errors, json_pack("{s:s, s:s, s:b}", "field", name, "message", text,
                                            "link", strcmp(name, "form") != 0));
    json_object_set_new(ctx, "has_errors", json_true());
    char flag[80];
    (void)snprintf(flag, sizeof(flag), "error_%s", name);
    json_object_set_new(ctx, flag, json_string(text));
}

/* The fields password and password_repeat of a form that sets a new
 * password: errors go to ctx; true when both are right. */
static bool check_new_password(struct http_request *req, json_t *ctx, const char *login)
{
    const char *password = field(req, "password");
    const char *repeat = field(req, "password_repeat");
    struct kr_error ignored;
    if (accounts_password_check(login, password, &ignored)) {
        add_error(req, ctx, "password", "accounts.error.password");
        return false;
    }
    if (!repeat || strcmp(repeat, password) != 0) {
        add_error(req, ctx, "password_repeat", "accounts.error.password_repeat");
        return false;
    }
    return true;
}

/* Keep the submitted values of names (never passwords) for the re-render. */
static void keep_values(struct http_request *req, json_t *ctx, const char *const *names)
{
    for (; *names; names++) {
        const char *v = field(req, *names);
        json_t *s = v ? json_string(v) : NULL; /* NULL for invalid UTF-8 */
        if (s)
            json_object_set_new(ctx, *names, s);
    }
}

static int form_page(struct http_request *req, unsigned status, const char *template_name,
                     json_t *ctx, struct kr_error *err)
{
    int rc = http_session_ensure(req, err);
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    return http_render(req, status, template_name, ctx);
}

static int too_many(struct http_request *req, const char *template_name, json_t *ctx,
                    struct kr_error *err)
{
    char secs[16];
    (void)snprintf(secs, sizeof(secs), "%u", http_config(req)->login_window);
    http_set_header(req, "Retry-After", secs);
    add_error(req, ctx, "form", "accounts.error.rate_limited");
    return form_page(req, 429, template_name, ctx, err);
}

/* Queue the e-mail accounts/mail/<name>.txt (subject: message
 * accounts.mail.<name>.subject) to the address, in the caller's
 * transaction.  link, when given, is public_url + path + token. */
static int queue_mail(struct http_request *req, struct db_conn *conn, const char *to,
                      const char *name, const char *path, const char *token, struct kr_error *err)
{
    const struct kr_config *cfg = http_config(req);
    json_t *ctx = json_object();
    if (path) {
        char link[1024];
        (void)snprintf(link, sizeof(link), "%s%s%s", cfg->public_url, path, token ? token : "");
        json_object_set_new(ctx, "link", json_string(link));
    }
    json_object_set_new(ctx, "portal", json_string(cfg->public_url));
    char tpl[96], subject_key[96];
    (void)snprintf(tpl, sizeof(tpl), "accounts/mail/%s", name);
    (void)snprintf(subject_key, sizeof(subject_key), "accounts.mail.%s.subject", name);
    char *text;
    int rc = http_render_string(req, tpl, ctx, &text, err);
    if (rc)
        return rc;
    struct mail_message m = {.to = to, .subject = http_message(req, subject_key), .text = text};
    return mail_enqueue(conn, &m, NULL, err);
}

/* End the transaction the handler began with db_begin: commit after
 * success, roll back after an error (which is returned). */
static int done(struct db_conn *conn, int rc, struct kr_error *err)
{
    if (rc) {
        db_rollback(conn);
        return rc;
    }
    return db_commit(conn, err);
}

/* ---- Registration -------------------------------------------------------------------- */

static const char *const register_fields[] = {"email", "display_name", "kind", "company", NULL};

static int register_form(struct http_request *req, struct kr_error *err)
{
    json_t *ctx = json_object();
    json_object_set_new(ctx, "kind_private", json_true());
    return form_page(req, 200, "accounts/register", ctx, err);
}

static int register_check(struct http_request *req, json_t *ctx, struct account_registration *r,
                          char email[255])
{
    struct kr_error ignored;
    const char *kind = field(req, "kind");
    bool business = kind && strcmp(kind, "business") == 0;
    json_object_set_new(ctx, business ? "kind_business" : "kind_private", json_true());
    r->email = field(req, "email");
    r->display_name = field(req, "display_name");
    r->password = field(req, "password");
    r->company = business ? field(req, "company") : NULL;
    /* In the order of the form, so that the summary reads like it. */
    if (business && (!r->company || !*r->company || strlen(r->company) > 200))
        add_error(req, ctx, "company", "accounts.error.company");
    if (!r->display_name || !*r->display_name || strlen(r->display_name) > 200)
        add_error(req, ctx, "display_name", "accounts.error.name");
    if (accounts_normalise_email(r->email, email, &ignored)) {
        email[0] = '\0';
        add_error(req, ctx, "email", "accounts.error.email");
    } else {
        r->email = email;
    }
    (void)check_new_password(req, ctx, email);
    return json_object_get(ctx, "errors") ? KR_ERR_INVALID : KR_OK;
}

static int register_submit(struct http_request *req, struct kr_error *err)
{
    json_t *ctx = json_object();
    keep_values(req, ctx, register_fields);
    struct account_registration r;
    char email[255];
    if (register_check(req, ctx, &r, email))
        return form_page(req, 422, "accounts/register", ctx, err);
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    struct accounts_login_policy policy = login_policy(req);
    if (rc == KR_OK)
        rc = accounts_throttle(conn, "register", r.email, http_client_ip(req), &policy, err);
    if (rc == KR_ERR_RATE_LIMITED)
        return too_many(req, "accounts/register", ctx, err);
    if (rc == KR_OK)
        rc = db_begin(conn, err);
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    int64_t id, existing;
    char token[ACCOUNT_TOKEN_LEN];
    rc = accounts_register(conn, &r, &id, &existing, token, err);
    if (rc == KR_OK && existing)
        rc = queue_mail(req, conn, r.email, "exists", "/passwort-vergessen", NULL, err);
    else if (rc == KR_OK)
        rc = queue_mail(req, conn, r.email, "confirm", "/registrieren/bestaetigen?token=", token,
                        err);
    rc = done(conn, rc, err);
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    json_object_clear(ctx);
    return http_render(req, 200, "accounts/check_mail", ctx);
}

/* The link in the mail shows a button: mail scanners that fetch links must
 * not confirm (or use up) anything. */
static int token_form(struct http_request *req, const char *template_name, struct kr_error *err)
{
    const char *token = http_query(req, "token");
    json_t *ctx = json_object();
    if (token && strlen(token) < 128)
        json_object_set_new(ctx, "token", json_string(token));
    return form_page(req, 200, template_name, ctx, err);
}

static int confirm_form(struct http_request *req, struct kr_error *err)
{
    return token_form(req, "accounts/confirm", err);
}

static int link_invalid(struct http_request *req, struct kr_error *err)
{
    json_t *ctx = json_object();
    add_error(req, ctx, "form", "accounts.error.link");
    return form_page(req, 410, "accounts/link_invalid", ctx, err);
}

static int confirm_submit(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    int64_t id = 0;
    if (rc == KR_OK)
        rc = accounts_confirm(conn, field(req, "token"), &id, err);
    if (rc == KR_ERR_NOT_FOUND)
        return link_invalid(req, err);
    if (rc)
        return rc;
    return http_render(req, 200, "accounts/confirmed", NULL);
}

/* ---- Password reset -------------------------------------------------------------------- */

static int forgot_form(struct http_request *req, struct kr_error *err)
{
    return form_page(req, 200, "accounts/forgot", json_object(), err);
}

static int forgot_submit(struct http_request *req, struct kr_error *err)
{
    json_t *ctx = json_object();
    static const char *const names[] = {"email", NULL};
    keep_values(req, ctx, names);
    const char *email = field(req, "email");
    char norm[255];
    struct kr_error ignored;
    if (accounts_normalise_email(email, norm, &ignored)) {
        add_error(req, ctx, "email", "accounts.error.email");
        return form_page(req, 422, "accounts/forgot", ctx, err);
    }
    struct db_conn *conn;
    struct accounts_login_policy policy = login_policy(req);
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = accounts_throttle(conn, "reset", norm, http_client_ip(req), &policy, err);
    if (rc == KR_ERR_RATE_LIMITED)
        return too_many(req, "accounts/forgot", ctx, err);
    if (rc == KR_OK)
        rc = db_begin(conn, err);
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    int64_t id;
    char token[ACCOUNT_TOKEN_LEN];
    rc = accounts_reset_request(conn, norm, &id, token, err);
    if (rc == KR_OK && id)
        rc = queue_mail(req, conn, norm, "reset", "/passwort-neu?token=", token, err);
    rc = done(conn, rc, err);
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    json_object_clear(ctx);
    return http_render(req, 200, "accounts/check_mail", ctx);
}

static int reset_form(struct http_request *req, struct kr_error *err)
{
    return token_form(req, "accounts/reset", err);
}

static int reset_submit(struct http_request *req, struct kr_error *err)
{
    json_t *ctx = json_object();
    static const char *const names[] = {"token", NULL};
    keep_values(req, ctx, names);
    const char *password = field(req, "password");
    if (!check_new_password(req, ctx, NULL))
        return form_page(req, 422, "accounts/reset", ctx, err);
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    int64_t id = 0;
    if (rc == KR_OK)
        rc = accounts_reset_password(conn, field(req, "token"), password, &id, err);
    json_decref(ctx);
    if (rc == KR_ERR_NOT_FOUND)
        return link_invalid(req, err);
    if (rc)
        return rc;
    return http_render(req, 200, "accounts/reset_done", NULL);
}

/* ---- Second login step ------------------------------------------------------------------ */

static int second_factor_form(struct http_request *req, struct kr_error *err)
{
    if (!http_session_pending(req))
        return http_redirect(req, 303, "/anmelden");
    json_t *ctx = json_object();
    static const char *const names[] = {"next", NULL};
    keep_values(req, ctx, names);
    const char *next = http_query(req, "next");
    if (next && http_local_path(next) && strlen(next) < 512)
        json_object_set_new(ctx, "next", json_string(next));
    return form_page(req, 200, "accounts/second_factor", ctx, err);
}

static int second_factor_submit(struct http_request *req, struct kr_error *err)
{
    int64_t id = http_session_pending(req);
    if (!id)
        return http_redirect(req, 303, "/anmelden");
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    struct accounts_login_policy policy = login_policy(req);
    if (rc == KR_OK)
        rc = accounts_totp_verify(conn, id, field(req, "code"), http_client_ip(req), &policy, err);
    json_t *ctx = json_object();
    static const char *const names[] = {"next", NULL};
    keep_values(req, ctx, names);
    if (rc == KR_ERR_RATE_LIMITED)
        return too_many(req, "accounts/second_factor", ctx, err);
    if (rc == KR_ERR_UNAUTHENTICATED) {
        add_error(req, ctx, "code", "accounts.error.code");
        return form_page(req, 422, "accounts/second_factor", ctx, err);
    }
    json_decref(ctx);
    static const struct account_auth totp = {"password+totp", "low"};
    if (rc == KR_OK)
        rc = http_session_login_auth(req, id, &totp, err);
    if (rc)
        return rc;
    return http_redirect(req, 303, accounts_http_after_login(req, field(req, "next")));
}

/* ---- Mein Konto ------------------------------------------------------------------------- */

static bool is_staff(const struct account_user *u)
{
    return strcmp(u->kind, "staff") == 0;
}

/* The logged-in user and the database, or an error. */
static int account_request(struct http_request *req, bool citizens_only,
                           const struct account_user **user, struct db_conn **conn,
                           struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    *user = http_user(req);
    if (citizens_only && is_staff(*user))
        return kr_error_set(err, KR_ERR_FORBIDDEN,
                            "staff accounts are managed by the administration");
    return http_db(req, conn, err);
}

static json_t *account_context(struct http_request *req, struct db_conn *conn,
                               const struct account_user *u, struct kr_error *err)
{
    struct account_settings s;
    struct account_business b;
    if (accounts_settings(conn, u->id, &s, err) ||
        accounts_business_of(conn, http_arena(req), u->id, &b, err))
        return NULL;
    json_t *ctx = json_object();
    json_object_set_new(ctx, "email", json_string(u->email ? u->email : ""));
    json_object_set_new(ctx, "display_name", json_string(u->display_name));
    json_object_set_new(ctx, "is_staff", json_boolean(is_staff(u)));
    json_object_set_new(ctx, "totp_enabled", json_boolean(s.totp_enabled));
    json_object_set_new(ctx, "has_password", json_boolean(s.has_password));
    json_object_set_new(ctx, "recovery_codes_left", json_integer(s.recovery_codes_left));
    if (b.name)
        json_object_set_new(ctx, "company",
                            json_pack("{s:s, s:b}", "name", b.name, "owner", b.owner));
    const struct account_auth *auth = http_session_auth(req);
    char key[48];
    (void)snprintf(key, sizeof(key), "accounts.assurance.%s", auth->assurance);
    json_object_set_new(ctx, "assurance", json_string(http_message(req, key)));
    return ctx;
}

static int account_home(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, false, &u, &conn, err);
    if (rc)
        return rc;
    json_t *ctx = account_context(req, conn, u, err);
    if (!ctx)
        return err->code ? err->code : KR_ERR_NOMEM;
    const char *saved = http_query(req, "gespeichert");
    if (saved && strcmp(saved, "1") == 0)
        json_object_set_new(ctx, "saved", json_true());
    return http_render(req, 200, "accounts/account", ctx);
}

static int password_form(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, false, &u, &conn, err);
    return rc ? rc : form_page(req, 200, "accounts/password", json_object(), err);
}

static int password_submit(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, false, &u, &conn, err);
    if (rc)
        return rc;
    json_t *ctx = json_object();
    if (check_new_password(req, ctx, u->email)) {
        rc = accounts_password_change(conn, u->id, field(req, "current"), field(req, "password"),
                                      err);
        if (rc == KR_ERR_UNAUTHENTICATED)
            add_error(req, ctx, "current", "accounts.error.current_password");
        else if (rc) {
            json_decref(ctx);
            return rc;
        }
    }
    if (json_object_get(ctx, "errors"))
        return form_page(req, 422, "accounts/password", ctx, err);
    json_decref(ctx);
    /* Every session ended; this one starts afresh. */
    rc = http_session_login_auth(req, u->id, http_session_auth(req), err);
    return rc ? rc : http_redirect(req, 303, "/konto?gespeichert=1");
}

static int email_form(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, true, &u, &conn, err);
    return rc ? rc : form_page(req, 200, "accounts/email", json_object(), err);
}

static int email_submit(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, true, &u, &conn, err);
    if (rc)
        return rc;
    json_t *ctx = json_object();
    static const char *const names[] = {"new_email", NULL};
    keep_values(req, ctx, names);
    char norm[255];
    struct kr_error ignored;
    if (accounts_normalise_email(field(req, "new_email"), norm, &ignored)) {
        add_error(req, ctx, "new_email", "accounts.error.email");
        return form_page(req, 422, "accounts/email", ctx, err);
    }
    char token[ACCOUNT_TOKEN_LEN];
    rc = db_begin(conn, err);
    if (rc == KR_OK) {
        rc = accounts_email_change_request(conn, u->id, field(req, "current"), norm, token, err);
        if (rc == KR_OK)
            rc = queue_mail(req, conn, norm, "email_change",
                            "/konto/e-mail/bestaetigen?token=", token, err);
        rc = done(conn, rc, err);
    }
    if (rc == KR_ERR_UNAUTHENTICATED) {
        add_error(req, ctx, "current", "accounts.error.current_password");
        return form_page(req, 422, "accounts/email", ctx, err);
    }
    json_decref(ctx);
    return rc ? rc : http_render(req, 200, "accounts/check_mail", NULL);
}

static int email_confirm_form(struct http_request *req, struct kr_error *err)
{
    return token_form(req, "accounts/email_confirm", err);
}

static int email_confirm_submit(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = db_begin(conn, err);
    if (rc)
        return rc;
    int64_t id;
    char *old = NULL;
    rc = accounts_email_change_confirm(conn, http_arena(req), field(req, "token"), &id, &old, err);
    if (rc == KR_OK && old)
        rc = queue_mail(req, conn, old, "email_changed", NULL, NULL, err);
    rc = done(conn, rc, err);
    if (rc == KR_ERR_NOT_FOUND || rc == KR_ERR_CONFLICT)
        return link_invalid(req, err);
    return rc ? rc : http_render(req, 200, "accounts/email_changed", NULL);
}

/* ---- Second factor ------------------------------------------------------------------------- */

static int totp_page(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, false, &u, &conn, err);
    if (rc)
        return rc;
    json_t *ctx = account_context(req, conn, u, err);
    return ctx ? form_page(req, 200, "accounts/totp", ctx, err) : err->code;
}

static int totp_begin(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, false, &u, &conn, err);
    if (rc)
        return rc;
    char secret[ACCOUNT_TOTP_SECRET_LEN];
    char *uri;
    rc =
        accounts_totp_begin(conn, http_arena(req), u->id, http_county_name(req), secret, &uri, err);
    if (rc)
        return rc;
    json_t *ctx = json_object();
    /* Groups of four are easier to type into an app. */
    char grouped[ACCOUNT_TOTP_SECRET_LEN + 8];
    size_t g = 0;
    for (size_t i = 0; secret[i]; i++) {
        if (i && i % 4 == 0)
            grouped[g++] = ' ';
        grouped[g++] = secret[i];
    }
    grouped[g] = '\0';
    json_object_set_new(ctx, "secret", json_string(grouped));
    json_object_set_new(ctx, "uri", json_string(uri));
    return form_page(req, 200, "accounts/totp_setup", ctx, err);
}

static int totp_enable(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, false, &u, &conn, err);
    if (rc)
        return rc;
    char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_CODE_LEN];
    rc = accounts_totp_enable(conn, u->id, field(req, "code"), codes, err);
    if (rc == KR_ERR_INVALID || rc == KR_ERR_NOT_FOUND) {
        json_t *ctx = json_object();
        add_error(req, ctx, "form", "accounts.error.code_setup");
        return form_page(req, 422, "accounts/totp_setup_failed", ctx, err);
    }
    if (rc)
        return rc;
    json_t *list = json_array();
    for (int i = 0; i < ACCOUNT_RECOVERY_CODES; i++)
        json_array_append_new(list, json_string(codes[i]));
    return http_render(req, 200, "accounts/totp_enabled", json_pack("{s:o}", "codes", list));
}

static int totp_disable(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, false, &u, &conn, err);
    if (rc)
        return rc;
    rc = accounts_totp_disable(conn, u->id, field(req, "current"), err);
    if (rc == KR_ERR_UNAUTHENTICATED) {
        json_t *ctx = account_context(req, conn, u, err);
        if (!ctx)
            return err->code;
        add_error(req, ctx, "current", "accounts.error.current_password");
        return form_page(req, 422, "accounts/totp", ctx, err);
    }
    return rc ? rc : http_redirect(req, 303, "/konto?gespeichert=1");
}

/* ---- Sessions -------------------------------------------------------------------------------- */

static int sessions_page(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, false, &u, &conn, err);
    if (rc)
        return rc;
    struct account_session_info *list;
    size_t n;
    rc = accounts_sessions_list(conn, http_arena(req), u->id, http_session_token(req), &list, &n,
                                err);
    if (rc)
        return rc;
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        char created[32], seen[32], created_text[32], seen_text[32];
        kr_time_format_rfc3339(list[i].created_at, created, sizeof(created));
        kr_time_format_rfc3339(list[i].last_seen_at, seen, sizeof(seen));
        kr_time_format_local(list[i].created_at, created_text, sizeof(created_text));
        kr_time_format_local(list[i].last_seen_at, seen_text, sizeof(seen_text));
        json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "handle",
                                list[i].handle, "created", created, "seen", seen, "created_text",
                                created_text, "seen_text", seen_text, "ip", list[i].ip, "method",
                                list[i].auth_method, "current", list[i].current);
        json_t *ua = json_string(list[i].user_agent); /* NULL if not UTF-8 */
        json_object_set_new(row, "user_agent", ua ? ua : json_string("?"));
        json_array_append_new(rows, row);
    }
    return form_page(req, 200, "accounts/sessions",
                     json_pack("{s:o, s:b}", "sessions", rows, "others", n > 1), err);
}

static int sessions_end(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, false, &u, &conn, err);
    if (rc)
        return rc;
    const char *handle = field(req, "session");
    rc = accounts_sessions_revoke(conn, u->id, handle && *handle ? handle : NULL,
                                  http_session_token(req), err);
    return rc ? rc : http_redirect(req, 303, "/konto/sitzungen");
}

/* ---- Data export and deletion ------------------------------------------------------------------
 */

static int export_download(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, true, &u, &conn, err);
    if (rc)
        return rc;
    void *zip;
    size_t len;
    rc = accounts_export_zip(conn, http_arena(req), u->id, &zip, &len, err);
    if (rc)
        return rc;
    http_set_header(req, "Content-Disposition", "attachment; filename=\"meine-daten.zip\"");
    http_set_header(req, "Cache-Control", "no-store");
    return http_send(req, 200, "application/zip", zip, len);
}

static int delete_form(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, true, &u, &conn, err);
    if (rc)
        return rc;
    json_t *ctx = account_context(req, conn, u, err);
    return ctx ? form_page(req, 200, "accounts/delete", ctx, err) : err->code;
}

static int delete_submit(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, true, &u, &conn, err);
    if (rc)
        return rc;
    const char *confirm = field(req, "confirm");
    if (!confirm || strcmp(confirm, "yes") != 0)
        rc = KR_ERR_INVALID;
    else
        rc = accounts_delete(conn, u->id, field(req, "current"), err);
    if (rc == KR_ERR_UNAUTHENTICATED || rc == KR_ERR_INVALID) {
        json_t *ctx = account_context(req, conn, u, err);
        if (!ctx)
            return err->code;
        add_error(req, ctx, rc == KR_ERR_INVALID ? "confirm" : "current",
                  rc == KR_ERR_INVALID ? "accounts.error.confirm_delete"
                                       : "accounts.error.current_password");
        return form_page(req, 422, "accounts/delete", ctx, err);
    }
    if (rc)
        return rc;
    rc = http_session_logout(req, err);
    return rc ? rc : http_render(req, 200, "accounts/deleted", NULL);
}

/* ---- Company members --------------------------------------------------------------------------
 */

static int company_page(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, true, &u, &conn, err);
    struct account_business b;
    if (rc == KR_OK)
        rc = accounts_business_of(conn, http_arena(req), u->id, &b, err);
    if (rc)
        return rc;
    if (!b.name)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the account acts for no company");
    struct account_member *members;
    size_t n;
    rc = accounts_business_members(conn, http_arena(req), b.id, &members, &n, err);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list, json_pack("{s:I, s:s, s:s, s:b, s:b}", "id", (json_int_t)members[i].id, "name",
                            members[i].display_name, "email", members[i].email, "is_owner",
                            members[i].owner, "removable", b.owner && !members[i].owner));
    const char *sent = http_query(req, "eingeladen");
    return form_page(req, 200, "accounts/company",
                     json_pack("{s:s, s:b, s:o, s:b}", "company", b.name, "owner", b.owner,
                               "members", list, "invited", sent && strcmp(sent, "1") == 0),
                     err);
}

static int company_invite(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, true, &u, &conn, err);
    if (rc)
        return rc;
    char email[255];
    char token[ACCOUNT_TOKEN_LEN];
    struct kr_error ignored;
    if (accounts_normalise_email(field(req, "email"), email, &ignored))
        return kr_error_set(err, KR_ERR_INVALID, "the e-mail address is not valid");
    rc = db_begin(conn, err);
    if (rc == KR_OK) {
        rc = accounts_business_invite(conn, u->id, email, token, err);
        if (rc == KR_OK)
            rc = queue_mail(req, conn, email, "invite",
                            "/konto/unternehmen/beitreten?token=", token, err);
        rc = done(conn, rc, err);
    }
    return rc ? rc : http_redirect(req, 303, "/konto/unternehmen?eingeladen=1");
}

static int company_remove(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, true, &u, &conn, err);
    if (rc)
        return rc;
    int64_t member = 0;
    const char *m = field(req, "member");
    if (!m || kr_parse_int64(m, 1, INT64_MAX, &member) != KR_OK)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such member");
    rc = accounts_business_remove(conn, u->id, member, err);
    return rc ? rc : http_redirect(req, 303, "/konto/unternehmen");
}

static int join_form(struct http_request *req, struct kr_error *err)
{
    if (!http_user(req)) {
        /* Log in first, then come back to this very link. */
        const char *token = http_query(req, "token");
        char *enc = text_percent_encode(http_arena(req), token && strlen(token) < 128 ? token : "");
        char *next =
            enc ? arena_printf(http_arena(req), "/konto/unternehmen/beitreten?token=%s", enc)
                : NULL;
        char *enc_next = next ? text_percent_encode(http_arena(req), next) : NULL;
        char *to = enc_next ? arena_printf(http_arena(req), "/anmelden?next=%s", enc_next) : NULL;
        return http_redirect(req, 303, to ? to : "/anmelden");
    }
    return token_form(req, "accounts/join", err);
}

static int join_submit(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = account_request(req, true, &u, &conn, err);
    if (rc == KR_OK)
        rc = accounts_business_join(conn, u->id, field(req, "token"), err);
    if (rc == KR_ERR_NOT_FOUND || rc == KR_ERR_CONFLICT)
        return link_invalid(req, err);
    return rc ? rc : http_redirect(req, 303, "/konto/unternehmen");
}

/* ---- Routes ------------------------------------------------------------------------------------
 */

int accounts_citizen_routes(struct http_server *s, struct kr_error *err)
{
    static const struct {
        unsigned method;
        const char *pattern;
        http_handler handler;
    } routes[] = {
        {HTTP_GET, "/registrieren", register_form},
        {HTTP_POST, "/registrieren", register_submit},
        {HTTP_GET, "/registrieren/bestaetigen", confirm_form},
        {HTTP_POST, "/registrieren/bestaetigen", confirm_submit},
        {HTTP_GET, "/passwort-vergessen", forgot_form},
        {HTTP_POST, "/passwort-vergessen", forgot_submit},
        {HTTP_GET, "/passwort-neu", reset_form},
        {HTTP_POST, "/passwort-neu", reset_submit},
        {HTTP_GET, "/anmelden/zweiter-faktor", second_factor_form},
        {HTTP_POST, "/anmelden/zweiter-faktor", second_factor_submit},
        {HTTP_GET, "/konto", account_home},
        {HTTP_GET, "/konto/passwort", password_form},
        {HTTP_POST, "/konto/passwort", password_submit},
        {HTTP_GET, "/konto/e-mail", email_form},
        {HTTP_POST, "/konto/e-mail", email_submit},
        {HTTP_GET, "/konto/e-mail/bestaetigen", email_confirm_form},
        {HTTP_POST, "/konto/e-mail/bestaetigen", email_confirm_submit},
        {HTTP_GET, "/konto/zwei-faktor", totp_page},
        {HTTP_POST, "/konto/zwei-faktor/einrichten", totp_begin},
        {HTTP_POST, "/konto/zwei-faktor/aktivieren", totp_enable},
        {HTTP_POST, "/konto/zwei-faktor/abschalten", totp_disable},
        {HTTP_GET, "/konto/sitzungen", sessions_page},
        {HTTP_POST, "/konto/sitzungen/beenden", sessions_end},
        {HTTP_GET, "/konto/daten", export_download},
        {HTTP_GET, "/konto/unternehmen", company_page},
        {HTTP_POST, "/konto/unternehmen/einladen", company_invite},
        {HTTP_POST, "/konto/unternehmen/entfernen", company_remove},
        {HTTP_GET, "/konto/unternehmen/beitreten", join_form},
        {HTTP_POST, "/konto/unternehmen/beitreten", join_submit},
        {HTTP_GET, "/konto/loeschen", delete_form},
        {HTTP_POST, "/konto/loeschen", delete_submit},
    };
    int rc = KR_OK;
    for (size_t i = 0; rc == KR_OK && i < sizeof(routes) / sizeof(routes[0]); i++)
        rc = http_route(s, routes[i].method, routes[i].pattern, routes[i].handler, 0, err);
    return rc;
}
