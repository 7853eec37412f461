/*
 * totp.c - second factor: time-based one-time passwords (RFC 6238 on RFC
 * 4226: HMAC-SHA-1, 6 digits, 30-second steps), the form every
 * authenticator app understands, and single-use recovery codes.
 *
 * A code is accepted for the current step and one step either side (clock
 * drift), and only once: the last accepted step is stored and older or
 * equal steps are refused (RFC 6238 section 5.2).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "accounts/accounts.h"
#include "accounts/accounts_internal.h"
#include "core/util.h"

#define STEP 30
#define SECRET_BYTES 20
#define CODE_DIGITS 6

static const char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* RFC 4648 base32 without padding; out holds 8 * ceil(len / 5) + 1. */
static void base32_encode(const unsigned char *in, size_t len, char *out)
{
    unsigned buffer = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        buffer = (buffer << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = base32_alphabet[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = base32_alphabet[(buffer << (5 - bits)) & 31];
    out[o] = '\0';
}

/* Decode base32 (upper or lower case, no padding); -1 on a bad character
 * or when out (max bytes) is too small. */
static int base32_decode(const char *in, unsigned char *out, size_t max)
{
    unsigned buffer = 0;
    int bits = 0;
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        char c = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        const char *at = c ? strchr(base32_alphabet, c) : NULL;
        if (!at)
            return -1;
        buffer = (buffer << 5) | (unsigned)(at - base32_alphabet);
        bits += 5;
        if (bits >= 8) {
            if (o == max)
                return -1;
            out[o++] = (unsigned char)(buffer >> (bits - 8));
            bits -= 8;
        }
    }
    return (int)o;
}

static long hotp(const unsigned char *key, size_t key_len, uint64_t counter)
{
    unsigned char msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(counter & 0xFF);
        counter >>= 8;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (!HMAC(EVP_sha1(), key, (int)key_len, msg, sizeof(msg), mac, &mac_len) || mac_len < 20)
        return -1;
    unsigned off = mac[mac_len - 1] & 0x0F;
    unsigned long bin = ((unsigned long)(mac[off] & 0x7F) << 24) |
                        ((unsigned long)mac[off + 1] << 16) | ((unsigned long)mac[off + 2] << 8) |
                        mac[off + 3];
    return (long)(bin % 1000000);
}

long accounts_totp_code(const char *secret_base32, int64_t t)
{
    unsigned char key[64];
    int n = secret_base32 ? base32_decode(secret_base32, key, sizeof(key)) : -1;
    if (n <= 0 || t < 0)
        return -1;
    long code = hotp(key, (size_t)n, (uint64_t)(t / STEP));
    sodium_memzero(key, sizeof(key));
    return code;
}

/* "123 456" and "123456" alike; -1 unless exactly six digits. */
static long parse_code(const char *s)
{
    long v = 0;
    int digits = 0;
    for (; s && *s; s++) {
        if (*s == ' ')
            continue;
        if (*s < '0' || *s > '9' || ++digits > CODE_DIGITS)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return digits == CODE_DIGITS ? v : -1;
}

/* The step within +-1 of now whose code is code, newer than last; else -1. */
static int64_t matching_step(const char *secret, long code, int64_t last)
{
    int64_t now = kr_now() / STEP;
    for (int64_t step = now - 1; step <= now + 1; step++)
        if (step > last && accounts_totp_code(secret, step * STEP) == code)
            return step;
    return -1;
}

int accounts_totp_begin(struct db_conn *conn, struct arena *a, int64_t id, const char *issuer,
                        char secret[ACCOUNT_TOTP_SECRET_LEN], char **uri, struct kr_error *err)
{
    unsigned char key[SECRET_BYTES];
    kr_random_bytes(key, sizeof(key));
    base32_encode(key, sizeof(key), secret);
    sodium_memzero(key, sizeof(key));
    struct account_user u;
    int rc = accounts_user_get(conn, a, id, &u, err);
    if (rc)
        return rc;
    rc = db_exec(conn, "UPDATE account_user SET totp_pending = $1 WHERE id = $2",
                 DB_PARAMS(DB_TEXT(secret), DB_INT(id)), NULL, err);
    if (rc)
        return rc;
    /* otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER; the label
     * parts are percent-encoded by hand: only unreserved characters pass. */
    const char *label = u.email ? u.email : u.login;
    size_t cap = 3 * (strlen(issuer) * 2 + strlen(label)) + 128;
    char *out = arena_alloc(a, cap);
    if (!out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char *p = out;
    const char *parts[] = {"otpauth://totp/", issuer, ":",        label,
                           "?secret=",        secret, "&issuer=", issuer};
    for (size_t i = 0; i < KR_ARRAY_LEN(parts); i++) {
        bool encode = i == 1 || i == 3 || i == 7;
        for (const char *s = parts[i]; *s; s++) {
            unsigned char c = (unsigned char)*s;
            bool plain = !encode || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
            p += plain ? snprintf(p, 2, "%c", c) : snprintf(p, 4, "%%%02X", c);
        }
    }
    *uri = out;
    return KR_OK;
}

/* Ten codes "xxxxx-xxxxx" from an alphabet without look-alikes (50 bits
 * each); the database keeps their SHA-256. */
static int make_recovery_codes(struct db_conn *conn, int64_t id,
                               char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_CODE_LEN],
                               struct kr_error *err)
{
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
    int rc = db_exec(conn, "DELETE FROM account_recovery_code WHERE user_id = $1",
                     DB_PARAMS(DB_INT(id)), NULL, err);
    for (int i = 0; rc == KR_OK && i < ACCOUNT_RECOVERY_CODES; i++) {
        for (int j = 0; j < ACCOUNT_RECOVERY_CODE_LEN - 1; j++)
            codes[i][j] = j == 5 ? '-' : alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
        codes[i][ACCOUNT_RECOVERY_CODE_LEN - 1] = '\0';
        char hash[65];
        kr_sha256_hex(codes[i], strlen(codes[i]), hash);
        rc = db_exec(conn, "INSERT INTO account_recovery_code (user_id, code_hash) VALUES ($1, $2)",
                     DB_PARAMS(DB_INT(id), DB_TEXT(hash)), NULL, err);
    }
    return rc;
}

/* The secret in column ("totp_secret" or "totp_pending", literals only) of
 * account id and its last accepted step; secret[0] is NUL when none. */
static int read_secret(struct db_conn *conn, int64_t id, const char *column,
                       char secret[ACCOUNT_TOTP_SECRET_LEN], int64_t *last, struct kr_error *err)
{
    char sql[96];
    (void)snprintf(sql, sizeof(sql), "SELECT %s, totp_last_step FROM account_user WHERE id = $1",
                   column);
    struct db_stmt *st;
    int rc = db_query(conn, sql, DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    secret[0] = '\0';
    rc = db_step(st, err);
    if (rc == DB_ROW && !db_column_is_null(st, 0) &&
        db_column_len(st, 0) < ACCOUNT_TOTP_SECRET_LEN) {
        memcpy(secret, db_column_text(st, 0), db_column_len(st, 0) + 1);
        *last = db_column_int64(st, 1);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

struct totp_enable {
    int64_t id, step;
    char (*codes)[ACCOUNT_RECOVERY_CODE_LEN];
};

static int totp_enable_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct totp_enable *e = arg;
    int rc = db_exec(conn,
                     "UPDATE account_user SET totp_secret = totp_pending, totp_pending = NULL, "
                     "totp_last_step = $1, updated_at = $2 WHERE id = $3",
                     DB_PARAMS(DB_INT(e->step), DB_INT(kr_now()), DB_INT(e->id)), NULL, err);
    if (rc == KR_OK)
        rc = make_recovery_codes(conn, e->id, e->codes, err);
    if (rc)
        return rc;
    char actor[32];
    accounts_actor(e->id, actor);
    return accounts_audit(conn, actor, "account.totp_enable", "account", e->id, json_object(), err);
}

int accounts_totp_enable(struct db_conn *conn, int64_t id, const char *code,
                         char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_CODE_LEN],
                         struct kr_error *err)
{
    char secret[ACCOUNT_TOTP_SECRET_LEN];
    int64_t last = 0;
    int rc = read_secret(conn, id, "totp_pending", secret, &last, err);
    if (rc)
        return rc;
    if (!secret[0])
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no second factor is being set up");
    long c = parse_code(code);
    struct totp_enable e = {id, c < 0 ? -1 : matching_step(secret, c, 0), codes};
    sodium_memzero(secret, sizeof(secret));
    if (e.step < 0)
        return kr_error_set(err, KR_ERR_INVALID, "the code is wrong");
    return db_transact(conn, totp_enable_tx, &e, err);
}

/* Use up recovery code text of id; KR_ERR_NOT_FOUND when it is not one. */
static int use_recovery_code(struct db_conn *conn, int64_t id, const char *text,
                             struct kr_error *err)
{
    char norm[ACCOUNT_RECOVERY_CODE_LEN];
    size_t n = 0;
    for (const char *p = text; *p && n < sizeof(norm) - 1; p++)
        if (*p != ' ')
            norm[n++] = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
    norm[n] = '\0';
    char hash[65];
    kr_sha256_hex(norm, n, hash);
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE account_recovery_code SET used_at = $1 WHERE user_id = $2 "
                     "AND code_hash = $3 AND used_at IS NULL",
                     DB_PARAMS(DB_INT(kr_now()), DB_INT(id), DB_TEXT(hash)), &changed, err);
    if (rc)
        return rc;
    return changed == 1 ? KR_OK : kr_error_set(err, KR_ERR_NOT_FOUND, "not a recovery code");
}

static int check_second_factor(struct db_conn *conn, int64_t id, const char *code, bool *ok,
                               const char **how, struct kr_error *err)
{
    char secret[ACCOUNT_TOTP_SECRET_LEN];
    int64_t last = 0;
    int rc = read_secret(conn, id, "totp_secret", secret, &last, err);
    if (rc)
        return rc;
    *ok = false;
    long c = parse_code(code);
    if (secret[0] && c >= 0) {
        int64_t step = matching_step(secret, c, last);
        sodium_memzero(secret, sizeof(secret));
        if (step < 0)
            return KR_OK;
        int64_t changed = 0;
        /* The condition makes a parallel second use of the code lose. */
        rc = db_exec(conn,
                     "UPDATE account_user SET totp_last_step = $1 WHERE id = $2 "
                     "AND totp_last_step < $1",
                     DB_PARAMS(DB_INT(step), DB_INT(id)), &changed, err);
        *ok = rc == KR_OK && changed == 1;
        *how = "code";
        return rc;
    }
    if (!secret[0] || strlen(code) > 32)
        return KR_OK;
    rc = use_recovery_code(conn, id, code, err);
    *ok = rc == KR_OK;
    *how = "recovery_code";
    return rc == KR_ERR_NOT_FOUND ? KR_OK : rc;
}

int accounts_totp_verify(struct db_conn *conn, int64_t id, const char *code, const char *ip,
                         const struct accounts_login_policy *policy, struct kr_error *err)
{
    char key[24];
    (void)snprintf(key, sizeof(key), "%lld", (long long)id);
    int rc = accounts_rate_check(conn, "totp", key, ip, policy, err);
    if (rc)
        return rc;
    bool ok = false;
    const char *how = "code";
    rc = check_second_factor(conn, id, code ? code : "", &ok, &how, err);
    if (rc == KR_OK)
        rc = accounts_rate_record(conn, "totp", key, ip, ok, err);
    if (rc)
        return rc;
    if (!ok)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "the code is wrong");
    if (strcmp(how, "recovery_code") == 0)
        rc = accounts_audit_self(conn, id, "account.recovery_code_used", err);
    return rc;
}

static int totp_disable_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    int64_t id = *(int64_t *)arg;
    int rc = db_exec(conn,
                     "UPDATE account_user SET totp_secret = NULL, totp_pending = NULL, "
                     "updated_at = $1 WHERE id = $2",
                     DB_PARAMS(DB_INT(kr_now()), DB_INT(id)), NULL, err);
    if (rc == KR_OK)
        rc = db_exec(conn, "DELETE FROM account_recovery_code WHERE user_id = $1",
                     DB_PARAMS(DB_INT(id)), NULL, err);
    if (rc)
        return rc;
    char actor[32];
    accounts_actor(id, actor);
    return accounts_audit(conn, actor, "account.totp_disable", "account", id, json_object(), err);
}

int accounts_totp_disable(struct db_conn *conn, int64_t id, const char *password,
                          struct kr_error *err)
{
    int rc = accounts_verify_password(conn, id, password, err);
    return rc ? rc : db_transact(conn, totp_disable_tx, &id, err);
}
