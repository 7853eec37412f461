/*
 * oidc_client.c - talking to the identity provider with libcurl: the
 * discovery document and the key set (cached process-wide), the token
 * request and userinfo.  No database here.
 *
 * The cache is the only state: the discovery document and JWKS as jansson
 * values under one mutex, shared by all request threads.  A request takes
 * its own reference (released by its arena), so a refresh never pulls a
 * value from under a reader.  The cache lives until the process ends.
 */
#include "oidc/oidc.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"

#define FETCH_MAX (256 * 1024)
#define FETCH_TIMEOUT_MS 10000L
#define CACHE_TTL 3600
#define JWKS_MIN_REFRESH 10

static struct {
    pthread_mutex_t lock;
    json_t *discovery;
    int64_t discovery_at;
    json_t *jwks;
    int64_t jwks_at;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

bool oidc_enabled(const struct kr_config *cfg)
{
    return cfg->oidc_issuer[0] != '\0';
}

/* https, or http on a loopback host (the provider in tests). */
static bool url_allowed(const char *url)
{
    if (!url || strlen(url) > 1024 || strchr(url, ' ') || strchr(url, '#'))
        return false;
    if (strncmp(url, "https://", 8) == 0)
        return url[8] != '\0' && url[8] != '/';
    static const char *const loopback[] = {"http://127.0.0.1:", "http://127.0.0.1/",
                                           "http://localhost:", "http://localhost/",
                                           "http://[::1]:",     "http://[::1]/"};
    for (size_t i = 0; i < KR_ARRAY_LEN(loopback); i++)
        if (strncmp(url, loopback[i], strlen(loopback[i])) == 0)
            return true;
    return false;
}

static int check_scopes(const char *scopes)
{
    size_t len = strlen(scopes);
    for (const char *p = scopes; (p = strstr(p, "openid")) != NULL; p += 6)
        if ((p == scopes || p[-1] == ' ') && (p[6] == '\0' || p[6] == ' '))
            return len > 0 ? KR_OK : KR_ERR_CONFIG;
    return KR_ERR_CONFIG;
}

int oidc_client_init(const struct kr_config *cfg, struct kr_error *err)
{
    if (!oidc_enabled(cfg))
        return KR_OK;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kr_error_set(err, KR_ERR_INTERNAL, "cannot initialise libcurl");
    if (!url_allowed(cfg->oidc_issuer) || strchr(cfg->oidc_issuer, '?'))
        return kr_error_set(err, KR_ERR_CONFIG,
                            "oidc_issuer: must be an https:// URL (http:// only on loopback)");
    if (!cfg->oidc_client_id[0])
        return kr_error_set(err, KR_ERR_CONFIG, "oidc_client_id: must be set with oidc_issuer");
    if (cfg->oidc_redirect_url[0] && strncmp(cfg->oidc_redirect_url, "https://", 8) != 0 &&
        strncmp(cfg->oidc_redirect_url, "http://", 7) != 0)
        return kr_error_set(err, KR_ERR_CONFIG, "oidc_redirect_url: must be an http(s) URL");
    if (check_scopes(cfg->oidc_scopes))
        return kr_error_set(err, KR_ERR_CONFIG, "oidc_scopes: must contain openid");
    if (strcmp(cfg->oidc_auth_method, "client_secret_basic") != 0 &&
        strcmp(cfg->oidc_auth_method, "client_secret_post") != 0)
        return kr_error_set(err, KR_ERR_CONFIG,
                            "oidc_auth_method: client_secret_basic or client_secret_post");
    return oidc_acr_map_check(cfg->oidc_acr_map, err);
}

const char *oidc_redirect_uri(const struct kr_config *cfg, struct arena *a)
{
    if (cfg->oidc_redirect_url[0])
        return cfg->oidc_redirect_url;
    return arena_printf(a, "%s%s", cfg->public_url, OIDC_CALLBACK_PATH);
}

/* ---- HTTP with libcurl -------------------------------------------------------------- */

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    /* Returning less than given makes curl stop with CURLE_WRITE_ERROR. */
    return buf_append(b, data, size * n) == KR_OK ? size * n : 0;
}

struct http_call {
    const char *url;
    const char *post;          /* form body, NULL for GET */
    const char *user, *secret; /* Basic authentication, NULL for none */
    const char *bearer;        /* Authorization: Bearer, NULL for none */
};

static void json_release(void *p)
{
    json_decref(p);
}

/* Perform call; the body must be a JSON object (any status: error bodies of
 * the token endpoint are JSON too).  *out is owned by the arena. */
static int fetch_json(struct arena *a, const struct http_call *call, long *status, json_t **out,
                      struct kr_error *err)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return kr_error_set(err, KR_ERR_NOMEM, "cannot create a curl handle");
    struct buf body;
    buf_init(&body, FETCH_MAX);
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    char *auth = call->bearer ? arena_printf(a, "Authorization: Bearer %s", call->bearer) : NULL;
    if (auth)
        headers = curl_slist_append(headers, auth);
    curl_easy_setopt(curl, CURLOPT_URL, call->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, FETCH_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "Kreisel-OIDC/1");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    if (call->post)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call->post);
    if (call->user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, call->user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, call->secret);
    }
    CURLcode cc = curl_easy_perform(curl);
    *status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    int rc = KR_OK;
    if (cc != CURLE_OK) {
        rc = kr_error_set(err, KR_ERR_IO, "the identity provider cannot be reached");
        kr_error_detail(err, "%s: %s", call->url, curl_easy_strerror(cc));
    } else {
        json_t *v = json_loadb(body.data ? body.data : "", body.len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(v) || arena_defer(a, json_release, v)) {
            json_decref(json_is_object(v) ? NULL : v);
            rc = kr_error_set(err, KR_ERR_IO, "the identity provider answered no JSON object");
            kr_error_detail(err, "%s: HTTP %ld", call->url, *status);
        } else {
            *out = v;
        }
    }
    buf_release(&body);
    return rc;
}

static int get_json(struct arena *a, const char *url, json_t **out, struct kr_error *err)
{
    long status;
    struct http_call call = {.url = url};
    int rc = fetch_json(a, &call, &status, out, err);
    if (rc == KR_OK && status != 200) {
        rc = kr_error_set(err, KR_ERR_IO, "the identity provider answered with an error");
        kr_error_detail(err, "%s: HTTP %ld", url, status);
    }
    return rc;
}

/* ---- Discovery and keys ---------------------------------------------------------- */

static const char *member(struct arena *a, const json_t *doc, const char *name)
{
    const char *s = json_string_value(json_object_get(doc, name));
    return url_allowed(s) ? arena_strdup(a, s) : NULL;
}

static int provider_from(const struct kr_config *cfg, struct arena *a, const json_t *doc,
                         struct oidc_provider *out, struct kr_error *err)
{
    const char *iss = json_string_value(json_object_get(doc, "issuer"));
    /* Discovery 1.0 section 4.3: the issuer must be exactly the one asked. */
    if (!iss || strcmp(iss, cfg->oidc_issuer) != 0)
        return kr_error_set(err, KR_ERR_IO, "the discovery document names another issuer");
    out->issuer = arena_strdup(a, iss);
    out->authorization_endpoint = member(a, doc, "authorization_endpoint");
    out->token_endpoint = member(a, doc, "token_endpoint");
    out->jwks_uri = member(a, doc, "jwks_uri");
    out->userinfo_endpoint = member(a, doc, "userinfo_endpoint");
    if (!out->issuer || !out->authorization_endpoint || !out->token_endpoint || !out->jwks_uri)
        return kr_error_set(err, KR_ERR_IO,
                            "the discovery document lacks an endpoint, or one is not https");
    const json_t *methods = json_object_get(doc, "code_challenge_methods_supported");
    if (methods) {
        bool s256 = false;
        size_t i;
        const json_t *m;
        json_array_foreach(methods, i, m) s256 =
            s256 || (json_is_string(m) && strcmp(json_string_value(m), "S256") == 0);
        if (!s256)
            return kr_error_set(err, KR_ERR_IO, "the identity provider does not offer PKCE S256");
    }
    return KR_OK;
}

/* A reference to the cached value if it is fresh enough, else NULL. */
static json_t *cached(json_t *v, int64_t at, int64_t max_age)
{
    if (!v || kr_now() - at >= max_age)
        return NULL;
    return json_incref(v);
}

static void cache_store(json_t **slot, int64_t *at, json_t *v)
{
    json_t *old = *slot;
    *slot = json_incref(v);
    *at = kr_now();
    json_decref(old);
}

int oidc_provider_get(const struct kr_config *cfg, struct arena *a, struct oidc_provider *out,
                      struct kr_error *err)
{
    pthread_mutex_lock(&cache.lock);
    json_t *doc = cached(cache.discovery, cache.discovery_at, CACHE_TTL);
    pthread_mutex_unlock(&cache.lock);
    if (doc && arena_defer(a, json_release, doc))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (!doc) {
        char *url = arena_printf(a, "%s/.well-known/openid-configuration", cfg->oidc_issuer);
        if (!url)
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        int rc = get_json(a, url, &doc, err);
        if (rc)
            return rc;
        rc = provider_from(cfg, a, doc, out, err);
        if (rc)
            return rc;
        pthread_mutex_lock(&cache.lock);
        cache_store(&cache.discovery, &cache.discovery_at, doc);
        pthread_mutex_unlock(&cache.lock);
        return KR_OK;
    }
    return provider_from(cfg, a, doc, out, err);
}

int oidc_jwks_get(const struct oidc_provider *p, struct arena *a, bool refresh, json_t **out,
                  struct kr_error *err)
{
    pthread_mutex_lock(&cache.lock);
    json_t *jwks = cached(cache.jwks, cache.jwks_at, refresh ? JWKS_MIN_REFRESH : CACHE_TTL);
    pthread_mutex_unlock(&cache.lock);
    if (jwks) {
        if (arena_defer(a, json_release, jwks))
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        *out = jwks;
        return KR_OK;
    }
    int rc = get_json(a, p->jwks_uri, &jwks, err);
    if (rc)
        return rc;
    if (!json_is_array(json_object_get(jwks, "keys")))
        return kr_error_set(err, KR_ERR_IO, "the provider's key set has no keys");
    pthread_mutex_lock(&cache.lock);
    cache_store(&cache.jwks, &cache.jwks_at, jwks);
    pthread_mutex_unlock(&cache.lock);
    *out = jwks;
    return KR_OK;
}

/* ---- Tokens and userinfo ----------------------------------------------------------- */

/* name=value&... with values form-encoded by curl. */
static char *form_append(struct arena *a, const char *form, const char *name, const char *value)
{
    char *esc = curl_easy_escape(NULL, value, 0);
    char *out =
        esc ? arena_printf(a, "%s%s%s=%s", form ? form : "", form ? "&" : "", name, esc) : NULL;
    curl_free(esc);
    return out;
}

static char *token_form(const struct kr_config *cfg, struct arena *a, const char *code,
                        const char *verifier)
{
    char *f = form_append(a, NULL, "grant_type", "authorization_code");
    f = f ? form_append(a, f, "code", code) : NULL;
    f = f ? form_append(a, f, "redirect_uri", oidc_redirect_uri(cfg, a)) : NULL;
    f = f ? form_append(a, f, "code_verifier", verifier) : NULL;
    if (strcmp(cfg->oidc_auth_method, "client_secret_post") == 0) {
        f = f ? form_append(a, f, "client_id", cfg->oidc_client_id) : NULL;
        f = f ? form_append(a, f, "client_secret", cfg->oidc_client_secret) : NULL;
    }
    return f;
}

int oidc_token_request(const struct kr_config *cfg, const struct oidc_provider *p, struct arena *a,
                       const char *code, const char *code_verifier, struct oidc_tokens *out,
                       struct kr_error *err)
{
    char *form = token_form(cfg, a, code, code_verifier);
    /* client_secret_basic: RFC 6749 2.3.1 form-encodes id and secret before
     * they go into the Basic header. */
    char *user = NULL, *secret = NULL;
    if (form && strcmp(cfg->oidc_auth_method, "client_secret_basic") == 0) {
        user = form_append(a, NULL, "u", cfg->oidc_client_id);
        secret = form_append(a, NULL, "s", cfg->oidc_client_secret);
    }
    if (!form || (strcmp(cfg->oidc_auth_method, "client_secret_basic") == 0 && !(user && secret)))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct http_call call = {.url = p->token_endpoint,
                             .post = form,
                             .user = user ? user + 2 : NULL,
                             .secret = secret ? secret + 2 : NULL};
    long status;
    json_t *res;
    int rc = fetch_json(a, &call, &status, &res, err);
    if (rc)
        return rc;
    const char *error = json_string_value(json_object_get(res, "error"));
    if (status != 200 || error)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED,
                            "the token endpoint refused the code (HTTP %ld, %.60s)", status,
                            error ? error : "no error code");
    const char *type = json_string_value(json_object_get(res, "token_type"));
    out->id_token = arena_strdup(a, json_string_value(json_object_get(res, "id_token")));
    out->access_token = arena_strdup(a, json_string_value(json_object_get(res, "access_token")));
    if (!out->id_token)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "the token response has no id_token");
    if (out->access_token && (!type || strcasecmp(type, "Bearer") != 0))
        out->access_token = NULL; /* a token we do not know how to use */
    return KR_OK;
}

int oidc_userinfo_merge(const struct oidc_provider *p, struct arena *a, const char *access_token,
                        struct oidc_claims *claims, struct kr_error *err)
{
    if (!p->userinfo_endpoint || !access_token || strlen(access_token) > 4096)
        return KR_OK;
    struct http_call call = {.url = p->userinfo_endpoint, .bearer = access_token};
    long status;
    json_t *info;
    int rc = fetch_json(a, &call, &status, &info, err);
    if (rc)
        return rc;
    if (status != 200)
        return kr_error_set(err, KR_ERR_IO, "the userinfo endpoint answered HTTP %ld", status);
    const char *sub = json_string_value(json_object_get(info, "sub"));
    /* Core 5.3.2: the userinfo sub must be the ID token's. */
    if (!sub || strcmp(sub, claims->subject) != 0)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "the userinfo sub differs");
    const char *name = json_string_value(json_object_get(info, "name"));
    const char *email = json_string_value(json_object_get(info, "email"));
    if (!claims->name && name && *name)
        claims->name = arena_strdup(a, name);
    if (!claims->email && email && *email) {
        claims->email = arena_strdup(a, email);
        claims->email_verified = json_is_true(json_object_get(info, "email_verified"));
    }
    return KR_OK;
}
