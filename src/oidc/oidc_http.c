/*
 * oidc_http.c - GET /anmelden/servicekonto (send the browser to the
 * provider) and GET /anmelden/servicekonto/antwort (the provider sends it
 * back with a code).  Every failure of the callback ends on an error page
 * that says what the citizen can do; the log gets the reason.
 */
#include "oidc/oidc.h"

#include <string.h>

#include <curl/curl.h>

#include "accounts/accounts.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"

#define CODE_MAX 2048

/* Why a login failed, as the citizen sees it. */
enum failure { FAIL_CANCELLED, FAIL_PROVIDER, FAIL_INVALID, FAIL_EXPIRED, FAIL_DISABLED };

static const struct {
    const char *text_key;
    unsigned status;
} failures[] = {
    [FAIL_CANCELLED] = {"oidc.error.cancelled", 403},
    [FAIL_PROVIDER] = {"oidc.error.provider", 502},
    [FAIL_INVALID] = {"oidc.error.invalid", 400},
    [FAIL_EXPIRED] = {"oidc.error.expired", 400},
    [FAIL_DISABLED] = {"oidc.error.disabled", 403},
};

static int render_failure(struct http_request *req, enum failure f, const struct kr_error *why)
{
    if (why && why->code) {
        json_t *fields =
            json_pack("{s:s, s:s, s:s, s:s}", "reason", why->message, "detail", why->detail, "code",
                      kr_status_name(why->code), "request_id", http_request_id(req));
        kr_log_json(KR_LOG_WARN, "oidc_login_failed", fields);
    }
    json_t *ctx = json_object();
    json_object_set_new(ctx, "text", json_string(http_message(req, failures[f].text_key)));
    json_object_set_new(ctx, "cancelled", json_boolean(f == FAIL_CANCELLED));
    http_set_header(req, "Cache-Control", "no-store");
    return http_render(req, failures[f].status, "oidc/error", ctx);
}

/* Map an error of the login steps to what the citizen is told. */
static enum failure failure_for(int code)
{
    switch (code) {
    case KR_ERR_IO: return FAIL_PROVIDER;
    case KR_ERR_FORBIDDEN: return FAIL_DISABLED;
    case KR_ERR_NOT_FOUND: return FAIL_EXPIRED;
    default: return FAIL_INVALID;
    }
}

/* ---- Start ----------------------------------------------------------------------- */

static char *query_append(struct arena *a, char *url, const char *name, const char *value)
{
    char *esc = url ? curl_easy_escape(NULL, value, 0) : NULL;
    char *out = esc ? arena_printf(a, "%s&%s=%s", url, name, esc) : NULL;
    curl_free(esc);
    return out;
}

static char *authorization_url(struct http_request *req, const struct oidc_provider *p,
                               const char *state, const char *nonce, const char *challenge)
{
    const struct kr_config *cfg = http_config(req);
    struct arena *a = http_arena(req);
    const char *ep = p->authorization_endpoint;
    char *url = arena_printf(a, "%s%sresponse_type=code", ep, strchr(ep, '?') ? "&" : "?");
    url = query_append(a, url, "client_id", cfg->oidc_client_id);
    url = query_append(a, url, "redirect_uri", oidc_redirect_uri(cfg, a));
    url = query_append(a, url, "scope", cfg->oidc_scopes);
    url = query_append(a, url, "state", state);
    url = query_append(a, url, "nonce", nonce);
    url = query_append(a, url, "code_challenge", challenge);
    url = query_append(a, url, "code_challenge_method", "S256");
    const char *acr_values = oidc_acr_values(cfg->oidc_acr_map, a);
    if (acr_values)
        url = query_append(a, url, "acr_values", acr_values);
    return query_append(a, url, "ui_locales", http_lang(req));
}

static int start(struct http_request *req, struct kr_error *err)
{
    const struct kr_config *cfg = http_config(req);
    if (!oidc_enabled(cfg))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the service account login is not set up");
    const char *back = http_query(req, "zurueck");
    if (!back || strlen(back) > 512 || !http_local_path(back))
        back = "/konto"; /* the account overview */
    char session_hash[65];
    int rc = http_session_id_hash(req, session_hash, err);
    if (rc)
        return rc;
    struct oidc_provider p;
    rc = oidc_provider_get(cfg, http_arena(req), &p, err);
    if (rc == KR_ERR_IO)
        return render_failure(req, FAIL_PROVIDER, err);
    if (rc)
        return rc;
    char state[OIDC_RANDOM_LEN + 1], nonce[OIDC_RANDOM_LEN + 1];
    char verifier[OIDC_RANDOM_LEN + 1], challenge[OIDC_RANDOM_LEN + 1];
    oidc_random(state);
    oidc_random(nonce);
    oidc_random(verifier);
    oidc_pkce_challenge(verifier, challenge);
    struct db_conn *conn;
    rc = http_db(req, &conn, err);
    struct oidc_pending pending = {nonce, verifier, back};
    if (rc == KR_OK)
        rc = oidc_pending_create(conn, state, session_hash, &pending, err);
    if (rc)
        return rc;
    char *url = authorization_url(req, &p, state, nonce, challenge);
    if (!url)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    /* http_redirect only goes to local paths; this one leaves on purpose. */
    if (http_set_header(req, "Location", url))
        return kr_error_set(err, KR_ERR_INVALID, "the authorization URL is not usable");
    http_set_header(req, "Cache-Control", "no-store");
    return http_send(req, 302, "text/plain; charset=utf-8", "", 0);
}

/* ---- Callback ----------------------------------------------------------------------- */

/* Code -> tokens -> verified claims (with userinfo when the ID token lacks
 * name or e-mail). */
static int redeem(struct http_request *req, const struct oidc_pending *pending, const char *code,
                  struct oidc_claims *claims, struct kr_error *err)
{
    const struct kr_config *cfg = http_config(req);
    struct arena *a = http_arena(req);
    struct oidc_provider p;
    struct oidc_tokens tokens;
    int rc = oidc_provider_get(cfg, a, &p, err);
    if (rc == KR_OK)
        rc = oidc_token_request(cfg, &p, a, code, pending->code_verifier, &tokens, err);
    if (rc)
        return rc;
    struct oidc_expect expect = {p.issuer, cfg->oidc_client_id, pending->nonce, kr_now(),
                                 OIDC_CLOCK_SKEW};
    json_t *jwks;
    rc = oidc_jwks_get(&p, a, false, &jwks, err);
    if (rc == KR_OK)
        rc = oidc_id_token_verify(a, tokens.id_token, jwks, &expect, claims, err);
    if (rc == KR_ERR_NOT_FOUND) { /* an unknown kid: the keys may have rotated */
        rc = oidc_jwks_get(&p, a, true, &jwks, err);
        if (rc == KR_OK)
            rc = oidc_id_token_verify(a, tokens.id_token, jwks, &expect, claims, err);
        if (rc == KR_ERR_NOT_FOUND)
            rc = KR_ERR_UNAUTHENTICATED; /* not "expired" to the citizen */
    }
    if (rc == KR_OK && (!claims->name || !claims->email))
        rc = oidc_userinfo_merge(&p, a, tokens.access_token, claims, err);
    return rc;
}

static int provider_error(struct http_request *req, const char *error, const char *state,
                          const char *session_hash)
{
    struct kr_error err;
    kr_error_clear(&err);
    struct db_conn *conn;
    struct oidc_pending pending;
    /* Use up the pending login: it cannot succeed any more. */
    if (state && http_db(req, &conn, &err) == KR_OK &&
        oidc_pending_take(conn, http_arena(req), state, session_hash, &pending, &err) == KR_OK)
        kr_log(KR_LOG_INFO, "oidc_login_cancelled", "pending login used up by error=%.60s", error);
    kr_error_set(&err, KR_ERR_UNAUTHENTICATED, "the provider answered error=%.60s", error);
    return render_failure(req, strcmp(error, "access_denied") == 0 ? FAIL_CANCELLED : FAIL_PROVIDER,
                          &err);
}

static int finish(struct http_request *req, const struct oidc_claims *claims, const char *back,
                  struct kr_error *err)
{
    const char *assurance = oidc_acr_assurance(http_config(req)->oidc_acr_map, claims->acr);
    struct db_conn *conn;
    struct oidc_login_result res;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = oidc_identity_login(conn, http_arena(req), claims, assurance, &res, err);
    if (rc == KR_ERR_FORBIDDEN)
        return render_failure(req, FAIL_DISABLED, err);
    if (rc)
        return rc;
    rc = http_session_login_auth(req, res.user_id, &(struct account_auth){"oidc", assurance}, err);
    if (rc)
        return rc;
    http_set_header(req, "Cache-Control", "no-store");
    return http_redirect(req, 303, http_local_path(back) ? back : "/");
}

static int callback(struct http_request *req, struct kr_error *err)
{
    if (!oidc_enabled(http_config(req)))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the service account login is not set up");
    const char *state = http_query(req, "state");
    const char *code = http_query(req, "code");
    const char *error = http_query(req, "error");
    char session_hash[65];
    int rc = http_session_id_hash(req, session_hash, err);
    if (rc)
        return rc;
    if (error)
        return provider_error(req, error, state, session_hash);
    if (!state || !code || !*code || strlen(code) > CODE_MAX) {
        kr_error_set(err, KR_ERR_INVALID, "the callback lacks state or code");
        return render_failure(req, FAIL_INVALID, err);
    }
    /* RFC 9207: a provider that names itself must be ours (mix-up attack). */
    const char *iss = http_query(req, "iss");
    if (iss && strcmp(iss, http_config(req)->oidc_issuer) != 0) {
        kr_error_set(err, KR_ERR_INVALID, "the callback names another issuer");
        return render_failure(req, FAIL_INVALID, err);
    }
    struct db_conn *conn;
    struct oidc_pending pending;
    rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = oidc_pending_take(conn, http_arena(req), state, session_hash, &pending, err);
    if (rc == KR_ERR_NOT_FOUND)
        return render_failure(req, FAIL_EXPIRED, err);
    if (rc)
        return rc;
    struct oidc_claims claims;
    rc = redeem(req, &pending, code, &claims, err);
    if (rc)
        return render_failure(req, failure_for(rc), err);
    return finish(req, &claims, pending.return_path, err);
}

int oidc_http_routes(struct http_server *s, const struct kr_config *cfg, struct kr_error *err)
{
    int rc = oidc_client_init(cfg, err);
    if (rc == KR_OK)
        rc = http_route(s, HTTP_GET, OIDC_START_PATH, start, 0, err);
    if (rc == KR_OK)
        rc = http_route(s, HTTP_GET, OIDC_CALLBACK_PATH, callback, 0, err);
    return rc;
}
