/*
 * Tests of src/oidc/oidc_jwt.c: base64url, PKCE, the acr map and ID token
 * verification.  The keys are made fresh by OpenSSL for each run; tokens are
 * signed here the way a provider signs them, then bent in every way a
 * forger or a broken provider might.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "core/fault.h"
#include "core/util.h"
#include "oidc/oidc.h"

#define ISS "https://servicekonto.example"
#define CLIENT "kreisel-test"
#define NONCE "n-0S6_WzA2Mj"
#define NOW 1795000000

static EVP_PKEY *rsa_key, *ec_key, *rsa_key2;
static json_t *jwks;
static struct arena *arena;

/* ---- Making tokens ------------------------------------------------------------ */

static char *b64(const void *data, size_t len)
{
    return oidc_base64url_encode(arena, data, len);
}

static char *bn_b64(EVP_PKEY *k, const char *name, size_t pad)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
    unsigned char buf[1024];
    size_t len = pad ? pad : (size_t)BN_num_bytes(bn);
    assert_true(BN_bn2binpad(bn, buf, (int)len) > 0);
    BN_free(bn);
    return b64(buf, len);
}

static json_t *rsa_jwk(EVP_PKEY *k, const char *kid)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "kid", kid, "use", "sig", "n",
                     bn_b64(k, OSSL_PKEY_PARAM_RSA_N, 0), "e", bn_b64(k, OSSL_PKEY_PARAM_RSA_E, 0));
}

static json_t *ec_jwk(EVP_PKEY *k, const char *kid)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "kid", kid, "crv", "P-256", "x",
                     bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, 32), "y",
                     bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
}

/* Sign input with key for alg; returns the base64url signature. */
static char *sign(EVP_PKEY *key, const char *alg, const char *input)
{
    const char *md = strstr(alg, "384") ? "SHA384" : strstr(alg, "512") ? "SHA512" : "SHA256";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    assert_int_equal(EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, key, NULL), 1);
    if (alg[0] == 'P') {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
    }
    unsigned char sig[1024];
    size_t len = sizeof(sig);
    assert_int_equal(EVP_DigestSign(ctx, sig, &len, (const unsigned char *)input, strlen(input)),
                     1);
    EVP_MD_CTX_free(ctx);
    if (alg[0] != 'E')
        return b64(sig, len);
    /* DER to the JWS form r || s. */
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    assert_non_null(es);
    unsigned char raw[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
    ECDSA_SIG_free(es);
    return b64(raw, 64);
}

static json_t *good_claims(void)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:b, s:s}", "iss", ISS, "sub",
                     "pseudonym-4711", "aud", CLIENT, "iat", NOW - 5, "exp", NOW + 300, "nonce",
                     NONCE, "name", "Erika Mustermann", "email", "erika@example.org",
                     "email_verified", 1, "acr", "urn:test:eid");
}

static char *encode_json(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    char *out = b64(text, strlen(text));
    free(text);
    json_decref(v);
    return out;
}

/* header.payload.signature with the header {alg, kid}; claims stolen. */
static char *make_token(EVP_PKEY *key, const char *alg, const char *kid, json_t *claims)
{
    json_t *h = kid ? json_pack("{s:s, s:s, s:s}", "alg", alg, "kid", kid, "typ", "JWT")
                    : json_pack("{s:s}", "alg", alg);
    char *input = arena_printf(arena, "%s.%s", encode_json(h), encode_json(claims));
    return arena_printf(arena, "%s.%s", input, key ? sign(key, alg, input) : "");
}

static int verify(const char *token, struct oidc_claims *claims)
{
    struct oidc_expect ex = {ISS, CLIENT, NONCE, NOW, OIDC_CLOCK_SKEW};
    struct kr_error err;
    struct oidc_claims scratch;
    return oidc_id_token_verify(arena, token, jwks, &ex, claims ? claims : &scratch, &err);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(kr_util_init(), KR_OK);
    arena = arena_new(0);
    rsa_key = EVP_RSA_gen(2048);
    rsa_key2 = EVP_RSA_gen(2048);
    ec_key = EVP_EC_gen("P-256");
    assert_non_null(rsa_key);
    assert_non_null(ec_key);
    jwks = json_pack("{s:[o, o]}", "keys", rsa_jwk(rsa_key, "rsa-1"), ec_jwk(ec_key, "ec-1"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(jwks);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_key2);
    EVP_PKEY_free(ec_key);
    arena_free(arena);
    return 0;
}

/* ---- Encodings, PKCE, acr --------------------------------------------------------- */

static void test_base64url(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        int rc;
    } cases[] = {
        {"", "", KR_OK},
        {"Zg", "f", KR_OK},
        {"Zm8", "fo", KR_OK},
        {"Zm9v", "foo", KR_OK},
        {"_-8", "\xff\xef", KR_OK},
        {"Zg==", NULL, KR_ERR_INVALID},
        {"Z", NULL, KR_ERR_INVALID},
        {"Zm9v+", NULL, KR_ERR_INVALID},
        {"Zm/v", NULL, KR_ERR_INVALID},
        {"Zm 9", NULL, KR_ERR_INVALID},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        unsigned char *out = NULL;
        size_t len = 0;
        struct kr_error err;
        int rc = oidc_base64url_decode(arena, cases[i].in, strlen(cases[i].in), &out, &len, &err);
        if (rc != cases[i].rc)
            fail_msg("decode '%s': %d, want %d", cases[i].in, rc, cases[i].rc);
        if (rc == KR_OK) {
            assert_int_equal(len, strlen(cases[i].out));
            assert_memory_equal(out, cases[i].out, len);
            assert_string_equal(oidc_base64url_encode(arena, out, len), cases[i].in);
        }
    }
}

static void test_pkce_and_random(void **state)
{
    (void)state;
    /* RFC 7636 appendix B. */
    char challenge[OIDC_RANDOM_LEN + 1];
    oidc_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", challenge);
    assert_string_equal(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    char a[OIDC_RANDOM_LEN + 1], b[OIDC_RANDOM_LEN + 1];
    oidc_random(a);
    oidc_random(b);
    assert_int_equal(strlen(a), OIDC_RANDOM_LEN);
    assert_string_not_equal(a, b);
    assert_null(strpbrk(a, "+/="));
}

static void test_acr_map(void **state)
{
    (void)state;
    const char *map = "urn:x:eid=high, urn:x:elster=substantial ,urn:x:basic = low";
    struct kr_error err;
    assert_int_equal(oidc_acr_map_check(map, &err), KR_OK);
    assert_int_equal(oidc_acr_map_check("", &err), KR_OK);
    assert_int_equal(oidc_acr_map_check("urn:x:eid=hoch", &err), KR_ERR_CONFIG);
    assert_non_null(strstr(err.message, "urn:x:eid=hoch"));
    assert_int_equal(oidc_acr_map_check("urn:x:eid", &err), KR_ERR_CONFIG);
    assert_int_equal(oidc_acr_map_check("=high", &err), KR_ERR_CONFIG);
    static const struct {
        const char *acr, *level;
    } cases[] = {
        {"urn:x:eid", "high"},
        {"urn:x:elster", "substantial"},
        {"urn:x:basic", "low"},
        {"urn:x:other", "low"},
        {"", "low"},
        {NULL, "low"},
        {"urn:x:ei", "low"},
        {"urn:x:eid=high", "low"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++)
        assert_string_equal(oidc_acr_assurance(map, cases[i].acr), cases[i].level);
    assert_string_equal(oidc_acr_assurance("", "urn:x:eid"), "low");
    /* The request parameter: highest level first. */
    assert_string_equal(oidc_acr_values(map, arena), "urn:x:eid urn:x:elster urn:x:basic");
    assert_string_equal(oidc_acr_values("a=low, b=high, c=low", arena), "b a c");
    assert_null(oidc_acr_values("", arena));
    assert_null(oidc_acr_values(" , ", arena));
}

/* ---- ID tokens ----------------------------------------------------------------------- */

static void test_valid_tokens(void **state)
{
    (void)state;
    struct oidc_claims c;
    assert_int_equal(verify(make_token(rsa_key, "RS256", "rsa-1", good_claims()), &c), KR_OK);
    assert_string_equal(c.issuer, ISS);
    assert_string_equal(c.subject, "pseudonym-4711");
    assert_string_equal(c.name, "Erika Mustermann");
    assert_string_equal(c.email, "erika@example.org");
    assert_true(c.email_verified);
    assert_string_equal(c.acr, "urn:test:eid");
    assert_int_equal(verify(make_token(ec_key, "ES256", "ec-1", good_claims()), NULL), KR_OK);
    assert_int_equal(verify(make_token(rsa_key, "PS256", "rsa-1", good_claims()), NULL), KR_OK);
    assert_int_equal(verify(make_token(rsa_key, "RS512", "rsa-1", good_claims()), NULL), KR_OK);
    /* No kid: the only key of the right type. */
    assert_int_equal(verify(make_token(ec_key, "ES256", NULL, good_claims()), NULL), KR_OK);
    /* given_name + family_name when there is no name; unverified e-mail. */
    json_t *cl = good_claims();
    json_object_del(cl, "name");
    json_object_set_new(cl, "given_name", json_string("Max"));
    json_object_set_new(cl, "family_name", json_string("Muster"));
    json_object_set_new(cl, "email_verified", json_false());
    assert_int_equal(verify(make_token(rsa_key, "RS256", "rsa-1", cl), &c), KR_OK);
    assert_string_equal(c.name, "Max Muster");
    assert_false(c.email_verified);
}

static void test_tampered(void **state)
{
    (void)state;
    char *token = make_token(rsa_key, "RS256", "rsa-1", good_claims());
    /* Another payload under the old signature. */
    json_t *cl = good_claims();
    json_object_set_new(cl, "sub", json_string("someone-else"));
    char *other = make_token(rsa_key, "RS256", "rsa-1", cl);
    char *forged = arena_printf(arena, "%.*s%s", (int)(strrchr(other, '.') - other), other,
                                strrchr(token, '.'));
    assert_int_equal(verify(forged, NULL), KR_ERR_UNAUTHENTICATED);
    /* One bit of the signature flipped. */
    char *bent = arena_strdup(arena, token);
    char *sig = strrchr(bent, '.') + 1;
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(bent, NULL), KR_ERR_UNAUTHENTICATED);
    /* Signed by a key that is not the provider's, under its kid. */
    assert_int_equal(verify(make_token(rsa_key2, "RS256", "rsa-1", good_claims()), NULL),
                     KR_ERR_UNAUTHENTICATED);
    /* Malformed. */
    static const char *const junk[] = {"", "a.b", "a.b.c.d", "!!.e30.", "e30.e30.", "bnVsbA.e30."};
    for (size_t i = 0; i < KR_ARRAY_LEN(junk); i++)
        assert_int_equal(verify(junk[i], NULL), KR_ERR_INVALID);
}

static void test_refused_algorithms(void **state)
{
    (void)state;
    /* alg none: no signature at all. */
    assert_int_equal(verify(make_token(NULL, "none", "rsa-1", good_claims()), NULL),
                     KR_ERR_INVALID);
    assert_int_equal(verify(make_token(NULL, "none", NULL, good_claims()), NULL), KR_ERR_INVALID);
    /* HS256 keyed with the public key's n: the classic confusion attack. */
    char *input = arena_printf(arena, "%s.%s",
                               encode_json(json_pack("{s:s, s:s}", "alg", "HS256", "kid", "rsa-1")),
                               encode_json(good_claims()));
    const char *n =
        json_string_value(json_object_get(json_array_get(json_object_get(jwks, "keys"), 0), "n"));
    unsigned char mac[32];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), n, (int)strlen(n), (const unsigned char *)input, strlen(input), mac,
         &maclen);
    assert_int_equal(verify(arena_printf(arena, "%s.%s", input, b64(mac, maclen)), NULL),
                     KR_ERR_INVALID);
    /* An RSA alg pointing at the EC key, and the reverse. */
    assert_int_equal(verify(make_token(rsa_key, "RS256", "ec-1", good_claims()), NULL),
                     KR_ERR_INVALID);
    assert_int_equal(verify(make_token(ec_key, "ES256", "rsa-1", good_claims()), NULL),
                     KR_ERR_INVALID);
    /* A kid the key set does not have: the caller may refetch. */
    assert_int_equal(verify(make_token(rsa_key, "RS256", "rsa-2", good_claims()), NULL),
                     KR_ERR_NOT_FOUND);
}

static char *token_with(const char *name, json_t *value)
{
    json_t *cl = good_claims();
    if (value)
        json_object_set_new(cl, name, value);
    else
        json_object_del(cl, name);
    return make_token(rsa_key, "RS256", "rsa-1", cl);
}

static void test_claims(void **state)
{
    (void)state;
    static const int U = KR_ERR_UNAUTHENTICATED;
    struct {
        const char *name;
        json_t *value; /* NULL: remove the claim */
        int rc;
    } cases[] = {
        {"iss", json_string("https://evil.example"), U},
        {"iss", json_string(ISS "/"), U},
        {"iss", NULL, U},
        {"aud", json_string("another-client"), U},
        {"aud", NULL, U},
        {"aud", json_pack("[s]", CLIENT), KR_OK},
        {"aud", json_pack("[s, s]", "another-client", CLIENT), U}, /* no azp */
        {"azp", json_string("another-client"), U},
        {"azp", json_string(CLIENT), KR_OK},
        {"exp", json_integer(NOW - OIDC_CLOCK_SKEW - 1), U},
        {"exp", json_integer(NOW - 60), KR_OK}, /* within the skew */
        {"exp", NULL, U},
        {"exp", json_string("tomorrow"), U},
        {"iat", json_integer(NOW + OIDC_CLOCK_SKEW + 10), U},
        {"iat", json_integer(NOW - 86400), U},
        {"iat", NULL, U},
        {"nbf", json_integer(NOW + 3600), U},
        {"nonce", json_string("n-other"), U},
        {"nonce", json_string(NONCE "x"), U},
        {"nonce", NULL, U},
        {"sub", json_string(""), U},
        {"sub", NULL, U},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        int rc = verify(token_with(cases[i].name, cases[i].value), NULL);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %d, want %d", i, cases[i].name, rc, cases[i].rc);
    }
    /* Several audiences with azp naming us. */
    json_t *cl = good_claims();
    json_object_set_new(cl, "aud", json_pack("[s, s]", "another-client", CLIENT));
    json_object_set_new(cl, "azp", json_string(CLIENT));
    assert_int_equal(verify(make_token(rsa_key, "RS256", "rsa-1", cl), NULL), KR_OK);
}

/* Out of memory at any allocation: an error, never a crash, a leak or a
 * token accepted on half-parsed data. */
static void test_allocation_failures(void **state)
{
    (void)state;
    char *token = make_token(rsa_key, "RS256", "rsa-1", good_claims());
    long nth;
    for (nth = 1; nth < 500; nth++) {
        struct arena *a = arena_new(0);
        struct oidc_expect ex = {ISS, CLIENT, NONCE, NOW, OIDC_CLOCK_SKEW};
        struct oidc_claims c;
        struct kr_error err;
        kr_fault_arm(KR_FAULT_ALLOC, nth);
        int rc = oidc_id_token_verify(a, token, jwks, &ex, &c, &err);
        long fired = kr_fault_fired(KR_FAULT_ALLOC);
        kr_fault_disarm();
        arena_free(a);
        if (!fired) {
            assert_int_equal(rc, KR_OK);
            break;
        }
        assert_int_not_equal(rc, KR_OK);
    }
    assert_true(nth > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64url), cmocka_unit_test(test_pkce_and_random),
        cmocka_unit_test(test_acr_map),   cmocka_unit_test(test_valid_tokens),
        cmocka_unit_test(test_tampered),  cmocka_unit_test(test_refused_algorithms),
        cmocka_unit_test(test_claims),    cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
