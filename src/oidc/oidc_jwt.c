/*
 * oidc_jwt.c - base64url, PKCE, the acr map, and verification of ID tokens
 * (JWS compact serialisation, RFC 7515) with keys from a JWKS (RFC 7517).
 * Pure code: no network, no database.
 *
 * Public keys are built from their JWK parameters with OSSL_PARAM_BLD and
 * EVP_PKEY_fromdata (RSA: n, e; EC: the point x, y on P-256 or P-384);
 * signatures are checked with EVP_DigestVerify.  JWS carries ECDSA
 * signatures as r || s, which OpenSSL wants as DER: converted first.
 */
#include "oidc/oidc.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "core/text.h"
#include "core/util.h"

/* ---- Encodings ------------------------------------------------------------- */

int oidc_base64url_decode(struct arena *a, const char *s, size_t len, unsigned char **out,
                          size_t *out_len, struct kr_error *err)
{
    if (len % 4 == 1)
        return kr_error_set(err, KR_ERR_INVALID, "invalid base64url length");
    size_t cap = len / 4 * 3 + 3;
    unsigned char *bin = arena_alloc(a, cap + 1);
    if (!bin)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    size_t n = 0;
    const char *end = NULL;
    if (len > 0 && sodium_base642bin(bin, cap, s, len, NULL, &n, &end,
                                     sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return kr_error_set(err, KR_ERR_INVALID, "invalid base64url");
    if (len > 0 && end != s + len)
        return kr_error_set(err, KR_ERR_INVALID, "invalid base64url");
    bin[n] = '\0';
    *out = bin;
    *out_len = n;
    return KR_OK;
}

char *oidc_base64url_encode(struct arena *a, const void *data, size_t len)
{
    size_t size = sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = arena_alloc(a, size);
    if (out)
        sodium_bin2base64(out, size, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

void oidc_random(char out[OIDC_RANDOM_LEN + 1])
{
    unsigned char bytes[32];
    kr_random_bytes(bytes, sizeof(bytes));
    sodium_bin2base64(out, OIDC_RANDOM_LEN + 1, bytes, sizeof(bytes),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void oidc_pkce_challenge(const char *verifier, char out[OIDC_RANDOM_LEN + 1])
{
    unsigned char digest[KR_SHA256_LEN];
    kr_sha256(verifier, strlen(verifier), digest);
    sodium_bin2base64(out, OIDC_RANDOM_LEN + 1, digest, sizeof(digest),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ---- acr map ---------------------------------------------------------------- */

static const char *const levels[] = {"low", "substantial", "high"};

/* Walk the entries of map; fn gets each trimmed "acr" and "level" slice and
 * stops the walk by returning nonzero. */
typedef int (*acr_entry_fn)(const char *acr, size_t acr_len, const char *level, size_t level_len,
                            void *arg);

static int acr_walk(const char *map, acr_entry_fn fn, void *arg)
{
    const char *p = map;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *item = text_trim(p, &len);
        if (len > 0) {
            const char *eq = memchr(item, '=', len);
            size_t alen = eq ? (size_t)(eq - item) : len;
            size_t llen = eq ? len - alen - 1 : 0;
            const char *acr = text_trim(item, &alen);
            const char *level = eq ? text_trim(eq + 1, &llen) : "";
            int rc = fn(acr, alen, level, llen, arg);
            if (rc)
                return rc;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static const char *level_of(const char *s, size_t len)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(levels); i++)
        if (strlen(levels[i]) == len && memcmp(levels[i], s, len) == 0)
            return levels[i];
    return NULL;
}

static int check_entry(const char *acr, size_t alen, const char *level, size_t llen, void *arg)
{
    struct kr_error *err = arg;
    if (alen == 0 || !level_of(level, llen)) {
        kr_error_set(err, KR_ERR_CONFIG,
                     "oidc_acr_map: entry '%.*s=%.*s' must be ACR=LEVEL with LEVEL low, "
                     "substantial or high",
                     (int)alen, acr, (int)llen, level);
        return KR_ERR_CONFIG;
    }
    return 0;
}

int oidc_acr_map_check(const char *map, struct kr_error *err)
{
    return acr_walk(map, check_entry, err);
}

struct acr_find {
    const char *acr;
    const char *level;
};

static int find_entry(const char *acr, size_t alen, const char *level, size_t llen, void *arg)
{
    struct acr_find *f = arg;
    if (strlen(f->acr) != alen || memcmp(f->acr, acr, alen) != 0)
        return 0;
    f->level = level_of(level, llen);
    return f->level != NULL;
}

const char *oidc_acr_assurance(const char *map, const char *acr)
{
    if (!acr || !*acr || !map)
        return "low";
    struct acr_find f = {acr, NULL};
    acr_walk(map, find_entry, &f);
    return f.level ? f.level : "low";
}

struct acr_collect {
    struct arena *a;
    const char *level;
    char *out;
};

static int collect_entry(const char *acr, size_t alen, const char *level, size_t llen, void *arg)
{
    struct acr_collect *c = arg;
    if (level_of(level, llen) == c->level && alen > 0 && c->out)
        c->out = arena_printf(c->a, "%s%s%.*s", c->out, *c->out ? " " : "", (int)alen, acr);
    return 0;
}

char *oidc_acr_values(const char *map, struct arena *a)
{
    struct acr_collect c = {a, NULL, arena_strdup(a, "")};
    for (size_t i = KR_ARRAY_LEN(levels); i-- > 0;) {
        c.level = levels[i];
        acr_walk(map, collect_entry, &c);
    }
    return c.out && *c.out ? c.out : NULL;
}

/* ---- Algorithms and keys ------------------------------------------------------- */

struct jws_alg {
    const char *name;
    const char *kty; /* "RSA" or "EC" */
    const char *digest;
    const char *curve; /* EC: the JWK crv */
    const char *group; /* EC: OpenSSL's group name */
    size_t coord;      /* EC: bytes of one coordinate */
    bool pss;
};

static const struct jws_alg algs[] = {
    {"RS256", "RSA", "SHA256", NULL, NULL, 0, false},
    {"RS384", "RSA", "SHA384", NULL, NULL, 0, false},
    {"RS512", "RSA", "SHA512", NULL, NULL, 0, false},
    {"PS256", "RSA", "SHA256", NULL, NULL, 0, true},
    {"ES256", "EC", "SHA256", "P-256", "prime256v1", 32, false},
    {"ES384", "EC", "SHA384", "P-384", "secp384r1", 48, false},
};

static const struct jws_alg *alg_find(const char *name)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(algs); i++)
        if (strcmp(algs[i].name, name) == 0)
            return &algs[i];
    return NULL;
}

/* A base64url member of a JWK, decoded; NULL when absent or malformed. */
static unsigned char *jwk_bytes(struct arena *a, const json_t *jwk, const char *name, size_t *len)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    unsigned char *out;
    if (!s || strlen(s) > 2048 || oidc_base64url_decode(a, s, strlen(s), &out, len, NULL))
        return NULL;
    return out;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_key(struct arena *a, const json_t *jwk)
{
    size_t nlen, elen;
    unsigned char *n = jwk_bytes(a, jwk, "n", &nlen);
    unsigned char *e = jwk_bytes(a, jwk, "e", &elen);
    /* 2048 bits at least (BSI TR-02102), 8192 at most. */
    if (!n || !e || nlen < 256 || nlen > 1024 || elen == 0 || elen > 8)
        return NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)nlen, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        pkey = pkey_fromdata("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static EVP_PKEY *ec_key(struct arena *a, const json_t *jwk, const struct jws_alg *alg)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    size_t xlen, ylen;
    unsigned char *x = jwk_bytes(a, jwk, "x", &xlen);
    unsigned char *y = jwk_bytes(a, jwk, "y", &ylen);
    if (!crv || strcmp(crv, alg->curve) != 0 || !x || !y || xlen != alg->coord ||
        ylen != alg->coord)
        return NULL;
    /* The uncompressed point: 0x04 || x || y (SEC 1, 2.3.3). */
    unsigned char point[1 + 2 * 48];
    point[0] = 0x04;
    memcpy(point + 1, x, xlen);
    memcpy(point + 1 + xlen, y, ylen);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, alg->group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * xlen))
        pkey = pkey_fromdata("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* Does jwk fit a token signed with alg (type, use, alg member)? */
static bool jwk_fits(const json_t *jwk, const struct jws_alg *alg)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *jalg = json_string_value(json_object_get(jwk, "alg"));
    return kty && strcmp(kty, alg->kty) == 0 && (!use || strcmp(use, "sig") == 0) &&
           (!jalg || strcmp(jalg, alg->name) == 0);
}

/*
 * The JWK for kid (or, without kid, the only fitting key).  KR_ERR_NOT_FOUND
 * when there is none; KR_ERR_INVALID when the key named by kid does not fit
 * alg (a key must never be used with another algorithm).
 */
static int jwk_select(const json_t *jwks, const char *kid, const struct jws_alg *alg,
                      const json_t **out, struct kr_error *err)
{
    const json_t *keys = json_object_get(jwks, "keys");
    const json_t *found = NULL;
    size_t fitting = 0, i;
    const json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *kkid = json_string_value(json_object_get(k, "kid"));
        if (kid) {
            if (kkid && strcmp(kkid, kid) == 0 && (!found || jwk_fits(k, alg)))
                found = k;
        } else if (jwk_fits(k, alg)) {
            found = k;
            fitting++;
        }
    }
    if (!found || (!kid && fitting != 1))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no key in the provider's key set for kid '%s'",
                            kid ? kid : "(none)");
    if (!jwk_fits(found, alg))
        return kr_error_set(err, KR_ERR_INVALID, "the key '%s' is not for %s", kid ? kid : "",
                            alg->name);
    *out = found;
    return KR_OK;
}

/* JWS r || s into a DER ECDSA-Sig-Value; arena buffer or NULL. */
static unsigned char *ecdsa_der(struct arena *a, const unsigned char *sig, size_t len, size_t coord,
                                size_t *der_len)
{
    if (len != 2 * coord)
        return NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)coord, NULL);
    BIGNUM *s = BN_bin2bn(sig + coord, (int)coord, NULL);
    unsigned char *out = NULL;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        int n = i2d_ECDSA_SIG(es, NULL);
        out = n > 0 ? arena_alloc(a, (size_t)n) : NULL;
        unsigned char *p = out;
        if (out && i2d_ECDSA_SIG(es, &p) == n)
            *der_len = (size_t)n;
        else
            out = NULL;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return out;
}

static bool signature_ok(struct arena *a, EVP_PKEY *pkey, const struct jws_alg *alg,
                         const char *input, size_t input_len, const unsigned char *sig,
                         size_t sig_len)
{
    if (alg->coord) {
        sig = ecdsa_der(a, sig, sig_len, alg->coord, &sig_len);
        if (!sig)
            return false;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = md && EVP_DigestVerifyInit_ex(md, &pctx, alg->digest, NULL, NULL, pkey, NULL) == 1;
    if (ok && alg->pss)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* ---- The token ------------------------------------------------------------------ */

struct jws_parts {
    json_t *header, *payload;
    const char *signing_input; /* header.payload */
    size_t signing_len;
    unsigned char *sig;
    size_t sig_len;
};

static void json_release(void *p)
{
    json_decref(p);
}

/* A base64url part holding a JSON object, owned by the arena. */
static json_t *json_part(struct arena *a, const char *s, size_t len)
{
    unsigned char *raw;
    size_t n;
    if (oidc_base64url_decode(a, s, len, &raw, &n, NULL))
        return NULL;
    json_t *v = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    if (!v)
        return NULL;
    if (arena_defer(a, json_release, v))
        return NULL;
    return json_is_object(v) ? v : NULL;
}

static int jws_split(struct arena *a, const char *token, struct jws_parts *p, struct kr_error *err)
{
    size_t len = token ? strlen(token) : 0;
    if (len == 0 || len > OIDC_TOKEN_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "the ID token is missing or too long");
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || strchr(dot2 + 1, '.'))
        return kr_error_set(err, KR_ERR_INVALID, "the ID token is not a signed JWT (JWS)");
    p->header = json_part(a, token, (size_t)(dot1 - token));
    p->payload = json_part(a, dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!p->header || !p->payload)
        return kr_error_set(err, KR_ERR_INVALID, "the ID token's header or claims are not JSON");
    p->signing_input = token;
    p->signing_len = (size_t)(dot2 - token);
    const char *sig = dot2 + 1;
    if (oidc_base64url_decode(a, sig, strlen(sig), &p->sig, &p->sig_len, err))
        return kr_error_set(err, KR_ERR_INVALID, "the ID token's signature is not base64url");
    return KR_OK;
}

static int jws_verify(struct arena *a, const struct jws_parts *p, const json_t *jwks,
                      struct kr_error *err)
{
    const char *alg_name = json_string_value(json_object_get(p->header, "alg"));
    const json_t *kidv = json_object_get(p->header, "kid");
    if (!alg_name)
        return kr_error_set(err, KR_ERR_INVALID, "the ID token has no alg");
    if (json_object_get(p->header, "crit"))
        return kr_error_set(err, KR_ERR_INVALID, "the ID token has critical extensions");
    const struct jws_alg *alg = alg_find(alg_name);
    if (!alg)
        return kr_error_set(err, KR_ERR_INVALID, "the ID token's alg '%.20s' is refused", alg_name);
    if (kidv && !json_is_string(kidv))
        return kr_error_set(err, KR_ERR_INVALID, "the ID token's kid is not a string");
    const json_t *jwk = NULL;
    int rc = jwk_select(jwks, json_string_value(kidv), alg, &jwk, err);
    if (rc)
        return rc;
    EVP_PKEY *pkey = alg->coord ? ec_key(a, jwk, alg) : rsa_key(a, jwk);
    if (!pkey)
        return kr_error_set(err, KR_ERR_INVALID, "the provider's key for %s is not usable",
                            alg->name);
    bool ok = signature_ok(a, pkey, alg, p->signing_input, p->signing_len, p->sig, p->sig_len);
    EVP_PKEY_free(pkey);
    if (!ok)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "the ID token's signature is wrong");
    return KR_OK;
}

/* A NumericDate claim; false when absent or not an integer. */
static bool claim_time(const json_t *payload, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(payload, name);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) { /* NumericDate may have fractions */
        *out = (int64_t)json_real_value(v);
        return true;
    }
    return false;
}

static bool audience_ok(const json_t *payload, const char *client_id)
{
    const json_t *aud = json_object_get(payload, "aud");
    const char *azp = json_string_value(json_object_get(payload, "azp"));
    if (json_object_get(payload, "azp") && (!azp || strcmp(azp, client_id) != 0))
        return false;
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), client_id) == 0;
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return false;
    bool found = false;
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v) found =
        found || (json_is_string(v) && strcmp(json_string_value(v), client_id) == 0);
    /* Several audiences: azp must name us (Core 3.1.3.7 items 4 and 5). */
    return found && (json_array_size(aud) == 1 || azp);
}

static bool equal_text(const char *a, const char *b)
{
    size_t n = a ? strlen(a) : 0;
    return a && b && n == strlen(b) && kr_secure_equal(a, b, n);
}

static int check_claims(const json_t *pl, const struct oidc_expect *ex, struct kr_error *err)
{
    const char *iss = json_string_value(json_object_get(pl, "iss"));
    const char *sub = json_string_value(json_object_get(pl, "sub"));
    const char *nonce = json_string_value(json_object_get(pl, "nonce"));
    int64_t exp, iat, nbf;
    if (!iss || strcmp(iss, ex->issuer) != 0)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "iss is not the configured issuer");
    if (!audience_ok(pl, ex->client_id))
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "aud/azp do not name this client");
    if (!claim_time(pl, "exp", &exp) || exp + ex->skew <= ex->now)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "the ID token has expired");
    if (!claim_time(pl, "iat", &iat) || iat > ex->now + ex->skew ||
        iat < ex->now - OIDC_PENDING_TTL - ex->skew)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "iat is missing or out of range");
    if (claim_time(pl, "nbf", &nbf) && nbf > ex->now + ex->skew)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "the ID token is not valid yet");
    if (!equal_text(nonce, ex->nonce))
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "the nonce does not match");
    if (!sub || !*sub || strlen(sub) > 255 || !text_utf8_valid(sub, strlen(sub)))
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "sub is missing or too long");
    return KR_OK;
}

/* A string claim copied into the arena; NULL when absent or empty.  A copy
 * that fails sets *oom, so that a claim is never silently lost. */
static const char *claim_text(struct arena *a, const json_t *pl, const char *name, bool *oom)
{
    const char *s = json_string_value(json_object_get(pl, name));
    if (!s || !*s)
        return NULL;
    char *copy = arena_strdup(a, s);
    *oom = *oom || !copy;
    return copy;
}

static int extract_claims(struct arena *a, const json_t *pl, struct oidc_claims *out,
                          struct kr_error *err)
{
    bool oom = false;
    memset(out, 0, sizeof(*out));
    out->issuer = claim_text(a, pl, "iss", &oom);
    out->subject = claim_text(a, pl, "sub", &oom);
    out->name = claim_text(a, pl, "name", &oom);
    const char *given = claim_text(a, pl, "given_name", &oom);
    const char *family = claim_text(a, pl, "family_name", &oom);
    if (!out->name && given && family) {
        out->name = arena_printf(a, "%s %s", given, family);
        oom = oom || !out->name;
    } else if (!out->name) {
        out->name = family ? family : given;
    }
    out->email = claim_text(a, pl, "email", &oom);
    const json_t *ev = json_object_get(pl, "email_verified");
    /* Some providers send the boolean as a string. */
    out->email_verified =
        json_is_true(ev) || (json_is_string(ev) && strcmp(json_string_value(ev), "true") == 0);
    out->acr = claim_text(a, pl, "acr", &oom);
    (void)claim_time(pl, "iat", &out->issued_at);
    (void)claim_time(pl, "exp", &out->expires_at);
    if (oom) {
        memset(out, 0, sizeof(*out));
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    return KR_OK;
}

int oidc_id_token_verify(struct arena *a, const char *token, const json_t *jwks,
                         const struct oidc_expect *expect, struct oidc_claims *out,
                         struct kr_error *err)
{
    struct jws_parts p;
    int rc = jws_split(a, token, &p, err);
    if (rc == KR_OK)
        rc = jws_verify(a, &p, jwks, err);
    if (rc == KR_OK)
        rc = check_claims(p.payload, expect, err);
    if (rc == KR_OK)
        rc = extract_claims(a, p.payload, out, err);
    return rc;
}
