/*
 * session.c - password logins and server-side sessions.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "accounts/accounts.h"
#include "accounts/accounts_internal.h"
#include "core/log.h"
#include "core/util.h"

/* last_seen_at is written at most this often, so that reading pages does
 * not turn into a write per request. */
#define TOUCH_INTERVAL 60

/* ---- Login ------------------------------------------------------------------ */

/* A hash to verify against when the login is unknown, so that a wrong
 * login name costs as long as a wrong password (no user enumeration by
 * timing).  Computed once, on first use. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy_hash(void)
{
    char secret[33];
    kr_random_hex(secret, 16);
    if (crypto_pwhash_str(dummy_hash, secret, strlen(secret), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy_hash[0] = '\0';
}

static int count_failures(struct db_conn *conn, const char *column, const char *value,
                          int64_t since, int64_t *count, struct kr_error *err)
{
    /* column is one of two literals below, never outside input. */
    char sql[160];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT COUNT(*) FROM account_login_attempt "
                   "WHERE %s = $1 AND created_at >= $2 AND success = 0",
                   column);
    return db_query_int64(conn, sql, DB_PARAMS(DB_TEXT(value), DB_INT(since)), count, err);
}

/* Failures of one key after which each attempt waits longer. */
#define PROGRESSIVE_FROM 3

/* "purpose:value", or value itself for logins. */
static void rate_key(char *out, size_t size, const char *purpose, const char *value)
{
    if (purpose)
        (void)snprintf(out, size, "%s:%s", purpose, value);
    else
        (void)snprintf(out, size, "%s", value);
}

int accounts_rate_check(struct db_conn *conn, const char *purpose, const char *key, const char *ip,
                        const struct accounts_login_policy *policy, struct kr_error *err)
{
    char k[300], a[80];
    rate_key(k, sizeof(k), purpose, key);
    rate_key(a, sizeof(a), purpose, ip);
    int64_t since = kr_now() - policy->window;
    int64_t by_key, by_ip;
    int rc = count_failures(conn, "login", k, since, &by_key, err);
    if (rc == KR_OK)
        rc = count_failures(conn, "ip", a, since, &by_ip, err);
    if (rc)
        return rc;
    if (by_key >= policy->max_failures || by_ip >= 4 * (int64_t)policy->max_failures)
        return kr_error_set(err, KR_ERR_RATE_LIMITED,
                            "too many attempts; please wait and try again later");
    /* Below the limit the wait grows: from the third failure on, the next
     * attempt must wait 2, 4, 8, ... seconds after the last one (no thread
     * sleeps; the attempt is refused). */
    if (by_key < PROGRESSIVE_FROM)
        return KR_OK;
    int64_t last = 0;
    rc = db_query_int64(conn,
                        "SELECT MAX(created_at) FROM account_login_attempt "
                        "WHERE login = $1 AND created_at >= $2 AND success = 0",
                        DB_PARAMS(DB_TEXT(k), DB_INT(since)), &last, err);
    if (rc)
        return rc;
    int64_t wait =
        (int64_t)1 << (by_key - PROGRESSIVE_FROM + 1 > 20 ? 20 : by_key - PROGRESSIVE_FROM + 1);
    if (kr_now() - last < wait)
        return kr_error_set(err, KR_ERR_RATE_LIMITED, "too many attempts; please wait %lld seconds",
                            (long long)wait);
    return KR_OK;
}

int accounts_rate_record(struct db_conn *conn, const char *purpose, const char *key, const char *ip,
                         bool success, struct kr_error *err)
{
    char k[300], a[80];
    rate_key(k, sizeof(k), purpose, key);
    rate_key(a, sizeof(a), purpose, ip);
    return db_exec(conn,
                   "INSERT INTO account_login_attempt (login, ip, success, created_at) "
                   "VALUES ($1, $2, $3, $4)",
                   DB_PARAMS(DB_TEXT(k), DB_TEXT(a), DB_INT(success), DB_INT(kr_now())), NULL, err);
}

struct credentials {
    int64_t id;
    char hash[crypto_pwhash_STRBYTES];
};

/* Look up id and hash of an enabled account; id 0 when there is none. */
static int find_credentials(struct db_conn *conn, const char *login, struct credentials *c,
                            struct kr_error *err)
{
    struct db_stmt *st;
    c->id = 0;
    c->hash[0] = '\0';
    int rc = db_query(conn,
                      "SELECT id, password_hash FROM account_user "
                      "WHERE (login = $1 OR (email = $1 AND kind <> 'staff')) AND disabled = 0 "
                      "AND password_hash IS NOT NULL "
                      "AND (kind = 'staff' OR email_verified_at IS NOT NULL) "
                      "ORDER BY CASE WHEN login = $1 THEN 0 ELSE 1 END LIMIT 1",
                      DB_PARAMS(DB_TEXT(login)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW && db_column_len(st, 1) < sizeof(c->hash)) {
        c->id = db_column_int64(st, 0);
        memcpy(c->hash, db_column_text(st, 1), db_column_len(st, 1) + 1);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

/* Upgrade a hash made with weaker limits than today's. */
static void rehash_if_needed(struct db_conn *conn, const struct credentials *c,
                             const char *password)
{
    if (crypto_pwhash_str_needs_rehash(c->hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0)
        return;
    char hash[crypto_pwhash_STRBYTES];
    struct kr_error err;
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 &&
        db_exec(conn, "UPDATE account_user SET password_hash = $1, updated_at = $2 WHERE id = $3",
                DB_PARAMS(DB_TEXT(hash), DB_INT(kr_now()), DB_INT(c->id)), NULL, &err) != KR_OK)
        kr_log_error("password_rehash_failed", &err);
}

struct login_audit {
    int64_t id;
    const char *ip;
};

static int audit_login_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct login_audit *la = arg;
    char actor[32];
    (void)snprintf(actor, sizeof(actor), "user:%lld", (long long)la->id);
    return accounts_audit(conn, actor, "account.login", "account", la->id,
                          json_pack("{s:s}", "ip", la->ip), err);
}

int accounts_login(struct db_conn *conn, struct arena *a, const char *login, const char *password,
                   const char *ip, const struct accounts_login_policy *policy,
                   struct account_user *out, struct kr_error *err)
{
    char norm[255];
    struct kr_error ignored;
    /* Staff log in with their login name, citizens with their e-mail
     * address; a malformed one is counted like an unknown one. */
    if (accounts_normalise_login(login, norm, &ignored) != KR_OK &&
        accounts_normalise_email(login, norm, &ignored) != KR_OK)
        (void)snprintf(norm, sizeof(norm), "%s", "(invalid)");
    int rc = accounts_rate_check(conn, NULL, norm, ip, policy, err);
    if (rc)
        return rc;
    struct credentials c;
    rc = find_credentials(conn, norm, &c, err);
    if (rc)
        return rc;
    pthread_once(&dummy_once, make_dummy_hash);
    size_t plen = password ? strnlen(password, ACCOUNT_PASSWORD_MAX + 1) : 0;
    const char *against = c.id ? c.hash : dummy_hash;
    bool ok = plen > 0 && plen <= ACCOUNT_PASSWORD_MAX && against[0] &&
              crypto_pwhash_str_verify(against, password, plen) == 0 && c.id;
    rc = accounts_rate_record(conn, NULL, norm, ip, ok, err);
    if (rc)
        return rc;
    if (!ok)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "login name or password is wrong");
    rehash_if_needed(conn, &c, password);
    struct login_audit la = {c.id, ip};
    rc = db_transact(conn, audit_login_tx, &la, err);
    if (rc)
        return rc;
    return accounts_user_get(conn, a, c.id, out, err);
}

/* ---- Sessions ------------------------------------------------------------------ */

static bool valid_token(const char *token)
{
    if (!token || strlen(token) != ACCOUNT_SESSION_TOKEN_LEN - 1)
        return false;
    for (const char *p = token; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static bool one_of(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static bool auth_valid(const struct account_auth *auth)
{
    static const char *const methods[] = {"none", "password", "password+totp", "oidc", NULL};
    static const char *const levels[] = {"none", "low", "substantial", "high", NULL};
    return one_of(auth->method, methods) && one_of(auth->assurance, levels);
}

int accounts_session_create(struct db_conn *conn, struct arena *a, int64_t user_id,
                            const struct account_auth *auth, const char *ip, const char *user_agent,
                            const struct accounts_session_policy *policy,
                            struct account_session *out, struct kr_error *err)
{
    char id_hash[65];
    char *csrf = arena_alloc(a, 65);
    if (!csrf)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    kr_random_hex(out->token, 32);
    kr_random_hex(csrf, 32);
    kr_sha256_hex(out->token, strlen(out->token), id_hash);
    static const struct account_auth anonymous = {"none", "none"};
    static const struct account_auth password = {"password", "low"};
    if (!user_id)
        auth = &anonymous;
    else if (!auth)
        auth = &password;
    if (!auth_valid(auth))
        return kr_error_set(err, KR_ERR_INVALID, "invalid authentication method or level");
    int64_t now = kr_now();
    /* The user agent only helps people recognise their sessions: cut it. */
    char ua[256];
    (void)snprintf(ua, sizeof(ua), "%s", user_agent ? user_agent : "");
    int rc = db_exec(conn,
                     "INSERT INTO account_session (id_hash, csrf_token, user_id, created_at, "
                     "last_seen_at, expires_at, ip, user_agent, auth_method, assurance) "
                     "VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)",
                     DB_PARAMS(DB_TEXT(id_hash), DB_TEXT(csrf), user_id ? DB_INT(user_id) : DB_NULL,
                               DB_INT(now), DB_INT(now + policy->lifetime), DB_TEXT(ip),
                               DB_TEXTN(ua, strnlen(ua, 255)), DB_TEXT(auth->method),
                               DB_TEXT(auth->assurance)),
                     NULL, err);
    if (rc)
        return rc;
    out->csrf_token = csrf;
    out->user_id = user_id;
    out->auth = *auth;
    out->created_at = now;
    out->last_seen_at = now;
    out->expires_at = now + policy->lifetime;
    return KR_OK;
}

static int delete_session(struct db_conn *conn, const char *id_hash, struct kr_error *err)
{
    return db_exec(conn, "DELETE FROM account_session WHERE id_hash = $1",
                   DB_PARAMS(DB_TEXT(id_hash)), NULL, err);
}

static int read_session(struct db_conn *conn, struct arena *a, const char *id_hash,
                        struct account_session *out, struct kr_error *err)
{
    struct db_stmt *st;
    int rc =
        db_query(conn,
                 "SELECT csrf_token, user_id, created_at, last_seen_at, expires_at, "
                 "auth_method, assurance, pending_user_id FROM account_session WHERE id_hash = $1",
                 DB_PARAMS(DB_TEXT(id_hash)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        out->csrf_token = db_column_strdup(st, 0, a);
        out->user_id = db_column_int64(st, 1);
        out->created_at = db_column_int64(st, 2);
        out->last_seen_at = db_column_int64(st, 3);
        out->expires_at = db_column_int64(st, 4);
        out->auth.method = db_column_strdup(st, 5, a);
        out->auth.assurance = db_column_strdup(st, 6, a);
        out->pending_user_id = db_column_int64(st, 7);
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such session");
    if (rc < 0)
        return rc;
    return out->csrf_token && out->auth.method && out->auth.assurance
               ? KR_OK
               : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}

int accounts_session_lookup(struct db_conn *conn, struct arena *a, const char *token,
                            const struct accounts_session_policy *policy,
                            struct account_session *out, struct account_user *user,
                            struct kr_error *err)
{
    memset(out, 0, sizeof(*out));
    memset(user, 0, sizeof(*user));
    if (!valid_token(token))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such session");
    char id_hash[65];
    kr_sha256_hex(token, strlen(token), id_hash);
    int rc = read_session(conn, a, id_hash, out, err);
    if (rc)
        return rc;
    int64_t now = kr_now();
    bool expired = now >= out->expires_at || now - out->last_seen_at > policy->idle_timeout;
    if (!expired && out->user_id) {
        rc = accounts_user_get(conn, a, out->user_id, user, err);
        if (rc == KR_ERR_NOT_FOUND) /* disabled or deleted since */
            expired = true;
        else if (rc)
            return rc;
    }
    if (expired) {
        rc = delete_session(conn, id_hash, err);
        return rc ? rc : kr_error_set(err, KR_ERR_UNAUTHENTICATED, "the session has expired");
    }
    if (now - out->last_seen_at >= TOUCH_INTERVAL) {
        rc = db_exec(conn, "UPDATE account_session SET last_seen_at = $1 WHERE id_hash = $2",
                     DB_PARAMS(DB_INT(now), DB_TEXT(id_hash)), NULL, err);
        if (rc)
            return rc;
        out->last_seen_at = now;
    }
    return KR_OK;
}

int accounts_session_destroy(struct db_conn *conn, const char *token, struct kr_error *err)
{
    if (!valid_token(token))
        return KR_OK;
    char id_hash[65];
    kr_sha256_hex(token, strlen(token), id_hash);
    return delete_session(conn, id_hash, err);
}

int accounts_purge(struct db_conn *conn, const struct accounts_session_policy *policy,
                   unsigned keep_attempts, int64_t *removed, struct kr_error *err)
{
    int64_t now = kr_now();
    int rc =
        db_exec(conn, "DELETE FROM account_session WHERE expires_at <= $1 OR last_seen_at < $2",
                DB_PARAMS(DB_INT(now), DB_INT(now - policy->idle_timeout)), removed, err);
    if (rc)
        return rc;
    rc = db_exec(conn, "DELETE FROM account_login_attempt WHERE created_at < $1",
                 DB_PARAMS(DB_INT(now - keep_attempts)), NULL, err);
    /* Tokens a week past their expiry; registrations never confirmed
     * within a week (the address was not theirs, or they gave up). */
    if (rc == KR_OK)
        rc = db_exec(conn, "DELETE FROM account_token WHERE expires_at < $1",
                     DB_PARAMS(DB_INT(now - ACCOUNT_UNCONFIRMED_KEEP)), NULL, err);
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "DELETE FROM account_user WHERE kind <> 'staff' AND email_verified_at IS NULL "
                     "AND password_hash IS NOT NULL AND created_at < $1",
                     DB_PARAMS(DB_INT(now - ACCOUNT_UNCONFIRMED_KEEP)), NULL, err);
    return rc;
}

/* ---- Second step, own sessions ---------------------------------------------------- */

int accounts_session_set_pending(struct db_conn *conn, const char *token, int64_t user_id,
                                 struct kr_error *err)
{
    if (!valid_token(token))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such session");
    char id_hash[65];
    kr_sha256_hex(token, strlen(token), id_hash);
    return db_exec(conn, "UPDATE account_session SET pending_user_id = $1 WHERE id_hash = $2",
                   DB_PARAMS(user_id ? DB_INT(user_id) : DB_NULL, DB_TEXT(id_hash)), NULL, err);
}

/* The handle of a session: the first 16 hex digits of its id hash.  Not
 * the id itself, which only the browser has. */
#define HANDLE_LEN 16

int accounts_sessions_list(struct db_conn *conn, struct arena *a, int64_t id,
                           const char *current_token, struct account_session_info **out,
                           size_t *count, struct kr_error *err)
{
    char current[65] = "";
    if (valid_token(current_token))
        kr_sha256_hex(current_token, strlen(current_token), current);
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT id_hash, created_at, last_seen_at, ip, user_agent, auth_method "
                      "FROM account_session WHERE user_id = $1 AND expires_at > $2 "
                      "ORDER BY last_seen_at DESC, id_hash LIMIT 100",
                      DB_PARAMS(DB_INT(id), DB_INT(kr_now())), &st, err);
    if (rc)
        return rc;
    struct account_session_info *list = arena_alloc(a, 100 * sizeof(*list));
    size_t n = 0;
    while (list && (rc = db_step(st, err)) == DB_ROW) {
        struct account_session_info *i = &list[n++];
        const char *hash = db_column_text(st, 0);
        i->handle = arena_strndup(a, hash, HANDLE_LEN);
        i->current = strcmp(hash, current) == 0;
        i->created_at = db_column_int64(st, 1);
        i->last_seen_at = db_column_int64(st, 2);
        i->ip = db_column_strdup(st, 3, a);
        i->user_agent = db_column_strdup(st, 4, a);
        i->auth_method = db_column_strdup(st, 5, a);
        if (!i->handle || !i->ip || !i->user_agent || !i->auth_method)
            list = NULL;
    }
    db_finish(st);
    if (!list)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc < 0)
        return rc;
    *out = list;
    *count = n;
    return KR_OK;
}

int accounts_sessions_revoke(struct db_conn *conn, int64_t id, const char *handle,
                             const char *current_token, struct kr_error *err)
{
    char current[65] = "";
    if (valid_token(current_token))
        kr_sha256_hex(current_token, strlen(current_token), current);
    int64_t changed = 0;
    int rc;
    if (handle) {
        size_t len = strlen(handle);
        bool hex = len == HANDLE_LEN;
        for (size_t i = 0; hex && i < len; i++)
            hex = (handle[i] >= '0' && handle[i] <= '9') || (handle[i] >= 'a' && handle[i] <= 'f');
        if (!hex)
            return kr_error_set(err, KR_ERR_NOT_FOUND, "no such session");
        rc = db_exec(
            conn, "DELETE FROM account_session WHERE user_id = $1 AND substr(id_hash, 1, 16) = $2",
            DB_PARAMS(DB_INT(id), DB_TEXT(handle)), &changed, err);
        if (rc == KR_OK && changed == 0)
            return kr_error_set(err, KR_ERR_NOT_FOUND, "no such session");
    } else {
        rc = db_exec(conn, "DELETE FROM account_session WHERE user_id = $1 AND id_hash <> $2",
                     DB_PARAMS(DB_INT(id), DB_TEXT(current)), &changed, err);
    }
    if (rc)
        return rc;
    return accounts_audit_self(conn, id, "account.sessions_revoke", err);
}
