/*
 * fuzz_jwt.c - libFuzzer target for what src/oidc takes from an identity
 * provider: the ID token (JWS compact form, its base64url and JSON parts,
 * key selection and signature check) and the acr map.
 *
 * The first byte chooses: even bytes verify the rest as an ID token against
 * a key set with an RSA and an EC key made at start; odd bytes treat the
 * rest as an acr map.  Besides not crashing, a token must never verify (no
 * input can carry a valid signature of keys made at run time), and the acr
 * lookup must always give one of the three levels.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "core/arena.h"
#include "core/util.h"
#include "oidc/oidc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *jwks;

static json_t *coordinate(struct arena *a, EVP_PKEY *k, const char *name, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[512];
    if (EVP_PKEY_get_bn_param(k, name, &bn) != 1)
        abort();
    int len = pad ? pad : BN_num_bytes(bn);
    if (BN_bn2binpad(bn, buf, len) != len)
        abort();
    BN_free(bn);
    return json_string(oidc_base64url_encode(a, buf, (size_t)len));
}

static void make_keys(void)
{
    if (kr_util_init())
        abort();
    struct arena *a = arena_new(0);
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    if (!a || !rsa || !ec)
        abort();
    jwks = json_pack("{s:[{s:s, s:s, s:o, s:o}, {s:s, s:s, s:s, s:o, s:o}]}", "keys", "kty", "RSA",
                     "kid", "rsa", "n", coordinate(a, rsa, OSSL_PKEY_PARAM_RSA_N, 0), "e",
                     coordinate(a, rsa, OSSL_PKEY_PARAM_RSA_E, 0), "kty", "EC", "kid", "ec", "crv",
                     "P-256", "x", coordinate(a, ec, OSSL_PKEY_PARAM_EC_PUB_X, 32), "y",
                     coordinate(a, ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    arena_free(a);
    if (!jwks)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!jwks)
        make_keys();
    if (size < 1 || size > 20000)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    struct arena *a = arena_new(1 << 20);
    if (data[0] % 2 == 0) {
        struct oidc_expect ex = {"https://id.example", "kreisel", "nonce", 1795000000, 120};
        struct oidc_claims claims;
        struct kr_error err;
        if (a && oidc_id_token_verify(a, text, jwks, &ex, &claims, &err) == KR_OK)
            abort();
    } else {
        struct kr_error err;
        (void)oidc_acr_map_check(text, &err);
        const char *level = oidc_acr_assurance(text, "urn:x:eid");
        if (strcmp(level, "low") && strcmp(level, "substantial") && strcmp(level, "high"))
            abort();
        if (a)
            (void)oidc_acr_values(text, a);
    }
    arena_free(a);
    free(text);
    return 0;
}
