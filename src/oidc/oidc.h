/*
 * oidc.h - login with an external identity provider over OpenID Connect:
 * the German states' service accounts (Servicekonto, BundID), whose eID
 * login gives the identity level ("level of assurance") that services may
 * require.  docs/oidc.md describes configuration, flow and checks.
 *
 * The flow is the authorization code flow with PKCE (S256), state and nonce
 * (OpenID Connect Core 1.0 section 3.1, RFC 7636):
 *
 *   start     oidc_pending_create stores state (hashed), nonce, PKCE
 *             verifier and return path, bound to the browser's session;
 *             the browser goes to the provider's authorization endpoint
 *   callback  oidc_pending_take finds and deletes that row (single use,
 *             10 minutes), the code is exchanged for tokens
 *             (oidc_client.c), the ID token is verified
 *             (oidc_id_token_verify), and oidc_identity_login finds or
 *             creates the citizen account of (issuer, subject)
 *
 * The parts are separate so that each can be tested alone: the JWT and
 * JWK code (oidc_jwt.c) is pure, the database part (oidc.c) never talks to
 * the network, and the network part (oidc_client.c) never writes to the
 * database.  Strings returned live in the caller's arena unless a comment
 * says otherwise.
 */
#ifndef KR_OIDC_OIDC_H
#define KR_OIDC_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/error.h"
#include "db/db.h"

/* Pending logins expire after this many seconds. */
#define OIDC_PENDING_TTL 600
/* Pending logins kept per browser session (the oldest go first). */
#define OIDC_PENDING_PER_SESSION 5
/* Clock skew tolerated for exp, iat and nbf. */
#define OIDC_CLOCK_SKEW 120
/* The largest ID token accepted (bytes of the compact serialisation). */
#define OIDC_TOKEN_MAX (16 * 1024)
/* Random values (state, nonce, PKCE verifier): 32 bytes as base64url. */
#define OIDC_RANDOM_LEN 43

/* ---- Encodings ------------------------------------------------------------ */

/*
 * Decode base64url without padding (RFC 4648 section 5; JWS uses it) of
 * s[0..len) into a new arena buffer (*out, *out_len; a NUL follows the
 * bytes, not counted).  KR_ERR_INVALID for characters outside the
 * alphabet, padding or a length that cannot occur; KR_ERR_NOMEM.
 */
int oidc_base64url_decode(struct arena *a, const char *s, size_t len, unsigned char **out,
                          size_t *out_len, struct kr_error *err) KR_MUST_CHECK;

/* Encode data as base64url without padding into a new arena string; NULL
 * on OOM. */
char *oidc_base64url_encode(struct arena *a, const void *data, size_t len);

/* A fresh random value: 32 random bytes as 43 base64url characters (for
 * state, nonce and the PKCE verifier).  out holds OIDC_RANDOM_LEN + 1. */
void oidc_random(char out[OIDC_RANDOM_LEN + 1]);

/* The PKCE S256 code_challenge of verifier: base64url(SHA-256(verifier))
 * (RFC 7636 section 4.2), 43 characters.  out holds OIDC_RANDOM_LEN + 1. */
void oidc_pkce_challenge(const char *verifier, char out[OIDC_RANDOM_LEN + 1]);

/* ---- Level of assurance ---------------------------------------------------- */

/*
 * Check an acr map: comma-separated "acr=level" entries, level one of
 * "low", "substantial", "high"; blanks around entries are ignored; empty
 * is fine.  KR_ERR_CONFIG with a message naming the bad entry.
 */
int oidc_acr_map_check(const char *map, struct kr_error *err) KR_MUST_CHECK;

/* The eIDAS level that acr stands for under map: "low", "substantial" or
 * "high" (static strings).  "low" when acr is NULL, empty or not in map. */
const char *oidc_acr_assurance(const char *map, const char *acr);

/* The acr values of map, highest level first, space-separated (the
 * acr_values request parameter: providers such as oidc-provider put acr
 * into the ID token only when asked); NULL when map is empty or on OOM. */
char *oidc_acr_values(const char *map, struct arena *a);

/* ---- ID token verification --------------------------------------------- */

/* What the ID token must say.  Strings are borrowed for the call. */
struct oidc_expect {
    const char *issuer;    /* iss, compared exactly */
    const char *client_id; /* must be in aud; azp, when present, equals it */
    const char *nonce;     /* nonce, compared exactly */
    int64_t now;           /* Unix seconds */
    unsigned skew;         /* seconds of clock skew tolerated */
};

/* The claims Kreisel uses (arena strings; optional ones may be NULL). */
struct oidc_claims {
    const char *issuer;
    const char *subject;
    const char *name;  /* name, or given_name + family_name */
    const char *email; /* as the provider said it, unchecked */
    bool email_verified;
    const char *acr;
    int64_t issued_at, expires_at;
};

/*
 * Verify the compact JWS id_token against the key set jwks (a JWKS object,
 * RFC 7517) and the expectations, and extract its claims.  Accepted
 * algorithms: RS256, RS384, RS512, PS256, ES256, ES384; "none", HS* and
 * everything else are refused, as is a key whose type or "alg" does not
 * fit the token's alg.  The key is the JWK with the token's kid (or the
 * only key of fitting type when the token has no kid).
 *
 * Errors:
 *   KR_ERR_INVALID         malformed token, unsupported or refused alg
 *   KR_ERR_NOT_FOUND       no key in jwks for the token's kid (the caller
 *                          may fetch the key set again once: key rotation)
 *   KR_ERR_UNAUTHENTICATED bad signature, or a claim check failed (iss,
 *                          aud, azp, exp, iat, nbf, nonce, sub); the message
 *                          names the check
 * The messages are for the log and the operator; users see a general one.
 */
int oidc_id_token_verify(struct arena *a, const char *token, const json_t *jwks,
                         const struct oidc_expect *expect, struct oidc_claims *out,
                         struct kr_error *err) KR_MUST_CHECK;

/* ---- Pending logins (database) ------------------------------------------------ */

struct oidc_pending {
    const char *nonce;
    const char *code_verifier;
    const char *return_path;
};

/*
 * Store a pending login: the SHA-256 of state is the key, session_hash the
 * SHA-256 (hex) of the browser's session id.  return_path must be a local
 * path (http_local_path; checked again by the caller on use).  Deletes
 * expired pending logins on the way, and this session's oldest beyond
 * OIDC_PENDING_PER_SESSION.  KR_ERR_INVALID for values of the wrong shape.
 */
int oidc_pending_create(struct db_conn *conn, const char *state, const char *session_hash,
                        const struct oidc_pending *p, struct kr_error *err) KR_MUST_CHECK;

/*
 * Take (read and delete) the pending login of state for session_hash:
 * single use.  KR_ERR_NOT_FOUND when there is none for this state and
 * session, or it expired (an expired one is deleted too).
 */
int oidc_pending_take(struct db_conn *conn, struct arena *a, const char *state,
                      const char *session_hash, struct oidc_pending *out,
                      struct kr_error *err) KR_MUST_CHECK;

/* ---- Identities (database) ------------------------------------------------------ */

struct oidc_login_result {
    int64_t user_id;
    bool created; /* a citizen account was created now */
};

/*
 * Find the account linked to (claims->issuer, claims->subject), or create
 * a citizen account and the link (first login): login "oidc-" + 32 hex
 * digits of SHA-256(issuer, subject), name and e-mail from the claims (an
 * e-mail the provider did not mark verified is kept as unverified in the
 * link).  Updates the link's last login, acr and e-mail.  Audited in the
 * same transaction: "account.create" (actor "oidc") when created, and
 * "oidc.login" (actor "user:ID") with issuer, acr and assurance.
 * KR_ERR_FORBIDDEN when the linked account is disabled.
 */
int oidc_identity_login(struct db_conn *conn, struct arena *a, const struct oidc_claims *claims,
                        const char *assurance, struct oidc_login_result *out,
                        struct kr_error *err) KR_MUST_CHECK;

/* ---- The provider (network) ---------------------------------------------------- */

/* The provider's endpoints from its discovery document (arena copies). */
struct oidc_provider {
    const char *issuer;
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *jwks_uri;
    const char *userinfo_endpoint; /* may be NULL */
};

/*
 * Check the oidc_* keys of cfg once at start: issuer an https URL (http
 * only on a loopback host, for tests), client id set, scopes with
 * "openid", auth method known, acr map well-formed.  KR_OK also when OIDC
 * is off (empty issuer).  KR_ERR_CONFIG naming the key.  Initialises
 * libcurl: call before threads start.
 */
int oidc_client_init(const struct kr_config *cfg, struct kr_error *err) KR_MUST_CHECK;

/* True if cfg turns OIDC on. */
bool oidc_enabled(const struct kr_config *cfg);

/*
 * The provider's discovery document, fetched on first use and cached for an
 * hour (process-wide, thread-safe).  Its issuer must equal oidc_issuer.
 * KR_ERR_IO when the provider cannot be reached or answers nonsense.
 */
int oidc_provider_get(const struct kr_config *cfg, struct arena *a, struct oidc_provider *out,
                      struct kr_error *err) KR_MUST_CHECK;

/*
 * The provider's key set (cached for an hour; refresh true fetches it again
 * unless that happened less than 10 seconds ago).  *out is a new reference
 * owned by the arena.  KR_ERR_IO.
 */
int oidc_jwks_get(const struct oidc_provider *p, struct arena *a, bool refresh, json_t **out,
                  struct kr_error *err) KR_MUST_CHECK;

/* Tokens from the token endpoint (arena strings; access_token may be NULL). */
struct oidc_tokens {
    const char *id_token;
    const char *access_token;
};

/*
 * Exchange code (with the PKCE verifier) for tokens, authenticating with
 * client_secret_basic or client_secret_post as configured.  KR_ERR_IO when
 * the endpoint cannot be reached; KR_ERR_UNAUTHENTICATED when it refuses
 * (the message carries its "error").
 */
int oidc_token_request(const struct kr_config *cfg, const struct oidc_provider *p, struct arena *a,
                       const char *code, const char *code_verifier, struct oidc_tokens *out,
                       struct kr_error *err) KR_MUST_CHECK;

/*
 * Complete claims from the userinfo endpoint (name, e-mail, when the ID
 * token lacks them).  The userinfo sub must equal claims->subject
 * (KR_ERR_UNAUTHENTICATED otherwise).  KR_ERR_IO.
 */
int oidc_userinfo_merge(const struct oidc_provider *p, struct arena *a, const char *access_token,
                        struct oidc_claims *claims, struct kr_error *err) KR_MUST_CHECK;

/* The redirect URI: oidc_redirect_url, or public_url + OIDC_CALLBACK_PATH. */
#define OIDC_START_PATH "/anmelden/servicekonto"
#define OIDC_CALLBACK_PATH "/anmelden/servicekonto/antwort"
const char *oidc_redirect_uri(const struct kr_config *cfg, struct arena *a);

/* ---- Routes ------------------------------------------------------------------- */

struct http_server;

/* GET /anmelden/servicekonto and GET /anmelden/servicekonto/antwort.
 * Calls oidc_client_init (KR_ERR_CONFIG for bad oidc_* keys). */
/* The data export section (accounts/export.h): the account's links to
 * identity providers (issuer, pseudonymous subject, e-mail, last level). */
struct export_sink;
int oidc_export(struct db_conn *conn, struct arena *a, int64_t user_id, struct export_sink *sink,
                struct kr_error *err);

int oidc_http_routes(struct http_server *server, const struct kr_config *cfg,
                     struct kr_error *err) KR_MUST_CHECK;

#endif
