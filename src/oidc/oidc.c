/*
 * oidc.c - the database side of OpenID Connect logins: pending logins
 * (state, nonce, PKCE verifier) and the links from (issuer, subject) to
 * accounts.  No network here.
 */
#include "oidc/oidc.h"

#include <string.h>

#include "accounts/accounts.h"
#include "accounts/export.h"
#include "audit/audit.h"
#include "core/text.h"
#include "core/util.h"

/* ---- Pending logins ------------------------------------------------------------ */

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* One of our random values: 43 base64url characters. */
static bool is_random(const char *s)
{
    if (!s || strlen(s) != OIDC_RANDOM_LEN)
        return false;
    for (size_t i = 0; i < OIDC_RANDOM_LEN; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

int oidc_pending_create(struct db_conn *conn, const char *state, const char *session_hash,
                        const struct oidc_pending *p, struct kr_error *err)
{
    if (!is_random(state) || !is_random(p->nonce) || !is_random(p->code_verifier) ||
        !is_hex64(session_hash))
        return kr_error_set(err, KR_ERR_INVALID, "malformed pending login");
    size_t rlen = p->return_path ? strlen(p->return_path) : 0;
    if (rlen == 0 || rlen > 512 || p->return_path[0] != '/' ||
        !text_utf8_valid(p->return_path, rlen))
        return kr_error_set(err, KR_ERR_INVALID, "the return path must be a local path");
    char state_hash[2 * KR_SHA256_LEN + 1];
    kr_sha256_hex(state, strlen(state), state_hash);
    int64_t now = kr_now();
    int rc = db_exec(conn, "DELETE FROM oidc_pending WHERE expires_at < $1", DB_PARAMS(DB_INT(now)),
                     NULL, err);
    /* A few logins at once per browser (tabs) are fine; a browser that
     * starts hundreds only keeps its newest. */
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "DELETE FROM oidc_pending WHERE session_hash = $1 AND state_hash NOT IN "
                     "(SELECT state_hash FROM oidc_pending WHERE session_hash = $1 "
                     "ORDER BY created_at DESC, state_hash LIMIT $2)",
                     DB_PARAMS(DB_TEXT(session_hash), DB_INT(OIDC_PENDING_PER_SESSION - 1)), NULL,
                     err);
    if (rc)
        return rc;
    return db_exec(conn,
                   "INSERT INTO oidc_pending (state_hash, session_hash, nonce, code_verifier, "
                   "return_path, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                   DB_PARAMS(DB_TEXT(state_hash), DB_TEXT(session_hash), DB_TEXT(p->nonce),
                             DB_TEXT(p->code_verifier), DB_TEXT(p->return_path), DB_INT(now),
                             DB_INT(now + OIDC_PENDING_TTL)),
                   NULL, err);
}

int oidc_pending_take(struct db_conn *conn, struct arena *a, const char *state,
                      const char *session_hash, struct oidc_pending *out, struct kr_error *err)
{
    if (!is_random(state) || !is_hex64(session_hash))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such login");
    char state_hash[2 * KR_SHA256_LEN + 1];
    kr_sha256_hex(state, strlen(state), state_hash);
    /* DELETE ... RETURNING: of two callbacks racing with the same state,
     * exactly one gets the row. */
    struct db_stmt *st;
    int rc = db_query(conn,
                      "DELETE FROM oidc_pending WHERE state_hash = $1 AND session_hash = $2 "
                      "RETURNING nonce, code_verifier, return_path, expires_at",
                      DB_PARAMS(DB_TEXT(state_hash), DB_TEXT(session_hash)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    int64_t expires_at = 0;
    if (rc == DB_ROW) {
        out->nonce = db_column_strdup(st, 0, a);
        out->code_verifier = db_column_strdup(st, 1, a);
        out->return_path = db_column_strdup(st, 2, a);
        expires_at = db_column_int64(st, 3);
        /* Step to the end so that the DELETE completes on both backends. */
        int done = db_step(st, err);
        if (done < 0)
            rc = done;
    }
    db_finish(st);
    if (rc < 0)
        return rc;
    if (rc == DB_DONE || expires_at < kr_now())
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the login is unknown, used or expired");
    if (!out->nonce || !out->code_verifier || !out->return_path)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return KR_OK;
}

/* ---- Identities ------------------------------------------------------------------ */

/* Text from a provider fit for an account field: printable UTF-8, cut to at
 * most max bytes at a character boundary; NULL when nothing usable. */
static const char *clean_text(struct arena *a, const char *s, size_t max)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    if (!text_utf8_valid(s, len))
        return NULL;
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return NULL;
    size_t start = 0;
    while (start < len && s[start] == ' ')
        start++;
    return start < len ? arena_strndup(a, s + start, len - start) : NULL;
}

static const char *clean_email(struct arena *a, const char *s)
{
    const char *e = clean_text(a, s, 254);
    if (!e || strlen(e) != strlen(s) || !strchr(e, '@') || strchr(e, ' '))
        return NULL;
    return e;
}

struct identity_tx {
    struct arena *a;
    const struct oidc_claims *claims;
    const char *assurance;
    const char *email;
    struct oidc_login_result *out;
};

static int create_account(struct db_conn *conn, struct identity_tx *t, struct kr_error *err)
{
    const struct oidc_claims *c = t->claims;
    char *key = arena_printf(t->a, "%s\n%s", c->issuer, c->subject);
    if (!key)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char hash[2 * KR_SHA256_LEN + 1], login[64];
    kr_sha256_hex(key, strlen(key), hash);
    (void)snprintf(login, sizeof(login), "oidc-%.32s", hash);
    const char *name = clean_text(t->a, c->name, 200);
    if (!name)
        name = t->email ? t->email : "Servicekonto";
    /* The account gets the address only when no other service account
     * has it: accounts are never merged on an address the provider sent
     * (that would hand a registered account to whoever controls the claim). */
    char norm[255];
    const char *account_email = NULL;
    struct kr_error ignored;
    int64_t taken = 1;
    if (t->email && accounts_normalise_email(t->email, norm, &ignored) == KR_OK &&
        db_query_int64(conn,
                       "SELECT COUNT(*) FROM account_user WHERE email = $1 AND kind <> 'staff'",
                       DB_PARAMS(DB_TEXT(norm)), &taken, err) == KR_OK &&
        taken == 0)
        account_email = norm;
    struct account_new_user u = {
        .kind = "citizen", .login = login, .email = account_email, .display_name = name};
    int rc = accounts_user_add(conn, "oidc", &u, &t->out->user_id, err);
    if (rc)
        return rc;
    t->out->created = true;
    int64_t now = kr_now();
    /* A verified address counts as confirmed (mailbox notifications). */
    if (account_email && c->email_verified)
        rc = db_exec(conn, "UPDATE account_user SET email_verified_at = $1 WHERE id = $2",
                     DB_PARAMS(DB_INT(now), DB_INT(t->out->user_id)), NULL, err);
    if (rc)
        return rc;
    return db_exec(conn,
                   "INSERT INTO oidc_identity (issuer, subject, user_id, email, email_verified, "
                   "created_at, last_login_at, last_acr) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
                   DB_PARAMS(DB_TEXT(c->issuer), DB_TEXT(c->subject), DB_INT(t->out->user_id),
                             DB_TEXT(t->email), DB_INT(c->email_verified && t->email), DB_INT(now),
                             DB_TEXT(c->acr)),
                   NULL, err);
}

static int identity_tx(struct db_conn *conn, struct identity_tx *t, struct kr_error *err)
{
    const struct oidc_claims *c = t->claims;
    int64_t user_id = 0;
    int rc =
        db_query_int64(conn, "SELECT user_id FROM oidc_identity WHERE issuer = $1 AND subject = $2",
                       DB_PARAMS(DB_TEXT(c->issuer), DB_TEXT(c->subject)), &user_id, err);
    if (rc == KR_ERR_NOT_FOUND) {
        rc = create_account(conn, t, err);
    } else if (rc == KR_OK) {
        t->out->user_id = user_id;
        struct account_user user;
        rc = accounts_user_get(conn, t->a, user_id, &user, err);
        if (rc == KR_ERR_NOT_FOUND)
            return kr_error_set(err, KR_ERR_FORBIDDEN, "the account is disabled");
        if (rc == KR_OK)
            rc = db_exec(conn,
                         "UPDATE oidc_identity SET last_login_at = $1, last_acr = $2, email = $3, "
                         "email_verified = $4 WHERE issuer = $5 AND subject = $6",
                         DB_PARAMS(DB_INT(kr_now()), DB_TEXT(c->acr), DB_TEXT(t->email),
                                   DB_INT(c->email_verified && t->email), DB_TEXT(c->issuer),
                                   DB_TEXT(c->subject)),
                         NULL, err);
    }
    if (rc)
        return rc;
    char actor[32], id[24];
    (void)snprintf(actor, sizeof(actor), "user:%lld", (long long)t->out->user_id);
    (void)snprintf(id, sizeof(id), "%lld", (long long)t->out->user_id);
    /* The subject is a pseudonym of a person: it stays out of the
     * append-only log, which cannot forget it. */
    json_t *details = json_pack("{s:s, s:s?, s:s, s:b}", "issuer", c->issuer, "acr", c->acr,
                                "assurance", t->assurance, "account_created", t->out->created);
    struct audit_event ev = {actor, "oidc.login", "account", id, details};
    rc = details ? audit_append(conn, &ev, NULL, err) : KR_ERR_NOMEM;
    json_decref(details);
    return rc;
}

int oidc_identity_login(struct db_conn *conn, struct arena *a, const struct oidc_claims *claims,
                        const char *assurance, struct oidc_login_result *out, struct kr_error *err)
{
    if (!claims->issuer || !claims->subject)
        return kr_error_set(err, KR_ERR_INVALID, "the identity has no issuer or subject");
    memset(out, 0, sizeof(*out));
    struct identity_tx t = {a, claims, assurance, clean_email(a, claims->email), out};
    int rc = db_begin(conn, err);
    if (rc)
        return rc;
    rc = identity_tx(conn, &t, err);
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    if (rc) {
        db_rollback(conn);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* ---- Data export ------------------------------------------------------------------- */

int oidc_export(struct db_conn *conn, struct arena *a, int64_t user_id, struct export_sink *sink,
                struct kr_error *err)
{
    (void)a;
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT issuer, subject, email, email_verified, created_at, last_login_at, "
                      "last_acr FROM oidc_identity WHERE user_id = $1 ORDER BY id",
                      DB_PARAMS(DB_INT(user_id)), &st, err);
    if (rc)
        return rc;
    json_t *links = json_array();
    while ((rc = db_step(st, err)) == DB_ROW) {
        char created[32], last[32];
        kr_time_format_rfc3339(db_column_int64(st, 4), created, sizeof(created));
        kr_time_format_rfc3339(db_column_int64(st, 5), last, sizeof(last));
        json_array_append_new(
            links,
            json_pack("{s:s, s:s, s:s?, s:b, s:s, s:s, s:s?}", "issuer", db_column_text(st, 0),
                      "subject", db_column_text(st, 1), "email",
                      db_column_is_null(st, 2) ? NULL : db_column_text(st, 2), "email_verified",
                      (int)db_column_int64(st, 3), "created_at", created, "last_login_at", last,
                      "last_acr", db_column_is_null(st, 6) ? NULL : db_column_text(st, 6)));
    }
    db_finish(st);
    if (rc < 0) {
        json_decref(links);
        return rc;
    }
    if (json_array_size(links) == 0) {
        json_decref(links);
        return KR_OK;
    }
    return export_add_json(sink, "servicekonto-anmeldungen.json", links, err);
}
