/*
 * citizen.c - citizen and business accounts: registration with a confirmed
 * e-mail address, password reset, change of address and password,
 * companies, own sessions and deletion.
 *
 * Tokens that travel by e-mail are 256-bit random values; the database
 * keeps their SHA-256 only, with purpose, expiry and the time they were
 * used, so that each works once and not forever.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "accounts/accounts.h"
#include "accounts/accounts_internal.h"
#include "core/text.h"
#include "core/util.h"
#include "mail/mail.h"

#define CONFIRM_LIFETIME (48 * 3600)
#define RESET_LIFETIME 3600
#define EMAIL_LIFETIME (24 * 3600)
#define COMPANY_MAX 200

/* ---- Helpers ------------------------------------------------------------------ */

int accounts_normalise_email(const char *email, char out[255], struct kr_error *err)
{
    size_t len = email ? strlen(email) : 0;
    const char *s = email ? text_trim(email, &len) : NULL;
    if (!s || len == 0 || len > MAIL_ADDRESS_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "the e-mail address is not valid");
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    out[len] = '\0';
    /* An account's address is one the mail module can send to. */
    return mail_address_check(out, err);
}

void accounts_actor(int64_t id, char actor[32])
{
    (void)snprintf(actor, 32, "user:%lld", (long long)id);
}

struct self_audit {
    int64_t id;
    const char *action;
};

static int audit_self_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct self_audit *s = arg;
    char actor[32];
    accounts_actor(s->id, actor);
    return accounts_audit(conn, actor, s->action, "account", s->id, json_object(), err);
}

int accounts_audit_self(struct db_conn *conn, int64_t id, const char *action, struct kr_error *err)
{
    struct self_audit s = {id, action};
    return db_transact(conn, audit_self_tx, &s, err);
}

int accounts_hash_password(const char *password, char *hash, struct kr_error *err)
{
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return kr_error_set(err, KR_ERR_NOMEM, "not enough memory to hash the password");
    return KR_OK;
}

int accounts_verify_password(struct db_conn *conn, int64_t id, const char *password,
                             struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, "SELECT password_hash FROM account_user WHERE id = $1",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    char hash[crypto_pwhash_STRBYTES] = "";
    rc = db_step(st, err);
    if (rc == DB_ROW && !db_column_is_null(st, 0) && db_column_len(st, 0) < sizeof(hash))
        memcpy(hash, db_column_text(st, 0), db_column_len(st, 0) + 1);
    db_finish(st);
    if (rc < 0)
        return rc;
    size_t plen = password ? strnlen(password, ACCOUNT_PASSWORD_MAX + 1) : 0;
    if (!hash[0] || plen == 0 || plen > ACCOUNT_PASSWORD_MAX ||
        crypto_pwhash_str_verify(hash, password, plen) != 0)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "the password is wrong");
    return KR_OK;
}

/* Store a new token of purpose for id; token gets the secret. */
static int token_create(struct db_conn *conn, int64_t id, const char *purpose,
                        const char *new_email, int64_t lifetime, char token[ACCOUNT_TOKEN_LEN],
                        struct kr_error *err)
{
    char hash[65];
    kr_random_hex(token, 32);
    kr_sha256_hex(token, strlen(token), hash);
    int64_t now = kr_now();
    return db_exec(conn,
                   "INSERT INTO account_token (token_hash, user_id, purpose, new_email, "
                   "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                   DB_PARAMS(DB_TEXT(hash), DB_INT(id), DB_TEXT(purpose), DB_TEXT(new_email),
                             DB_INT(now), DB_INT(now + lifetime)),
                   NULL, err);
}

/* Use up a live token of purpose: *id (and *new_email in a) of it.
 * KR_ERR_NOT_FOUND for anything else, malformed tokens included. */
static int token_use(struct db_conn *conn, struct arena *a, const char *token, const char *purpose,
                     int64_t *id, char **new_email, struct kr_error *err)
{
    size_t len = token ? strlen(token) : 0;
    bool hex = len == ACCOUNT_TOKEN_LEN - 1;
    for (size_t i = 0; hex && i < len; i++)
        hex = (token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f');
    if (!hex)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the link is invalid or has expired");
    char hash[65];
    kr_sha256_hex(token, len, hash);
    int64_t now = kr_now();
    struct db_stmt *st;
    int rc = db_query(conn,
                      "UPDATE account_token SET used_at = $1 WHERE token_hash = $2 "
                      "AND purpose = $3 AND used_at IS NULL AND expires_at > $1 "
                      "RETURNING user_id, new_email",
                      DB_PARAMS(DB_INT(now), DB_TEXT(hash), DB_TEXT(purpose)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        *id = db_column_int64(st, 0);
        if (new_email)
            *new_email = db_column_is_null(st, 1) ? NULL : db_column_strdup(st, 1, a);
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the link is invalid or has expired");
    return rc < 0 ? rc : KR_OK;
}

/* The non-staff account with this (normalised) address, or 0. */
static int find_by_email(struct db_conn *conn, const char *email, bool verified_only, int64_t *id,
                         struct kr_error *err)
{
    *id = 0;
    int rc = db_query_int64(conn,
                            "SELECT id FROM account_user WHERE email = $1 AND kind <> 'staff' "
                            "AND disabled = 0 AND ($2 = 0 OR email_verified_at IS NOT NULL)",
                            DB_PARAMS(DB_TEXT(email), DB_INT(verified_only)), id, err);
    if (rc == KR_ERR_NOT_FOUND) {
        *id = 0;
        return KR_OK;
    }
    return rc;
}

int accounts_throttle(struct db_conn *conn, const char *purpose, const char *key, const char *ip,
                      const struct accounts_login_policy *policy, struct kr_error *err)
{
    int rc = accounts_rate_check(conn, purpose, key, ip, policy, err);
    if (rc == KR_OK)
        rc = accounts_rate_record(conn, purpose, key, ip, false, err);
    return rc;
}

/* ---- Registration --------------------------------------------------------------- */

struct registration {
    const struct account_registration *r;
    const char *email;
    const char *hash;
    int64_t id, existing;
    char *token;
};

static int create_business(struct db_conn *conn, int64_t user_id, const char *name,
                           struct kr_error *err)
{
    int64_t bid;
    int64_t now = kr_now();
    int rc = db_query_int64(conn,
                            "INSERT INTO account_business (name, created_at) VALUES ($1, $2) "
                            "RETURNING id",
                            DB_PARAMS(DB_TEXT(name), DB_INT(now)), &bid, err);
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "INSERT INTO account_business_member (business_id, user_id, role, added_at) "
                     "VALUES ($1, $2, 'owner', $3)",
                     DB_PARAMS(DB_INT(bid), DB_INT(user_id), DB_INT(now)), NULL, err);
    return rc;
}

static int register_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct registration *g = arg;
    int rc = find_by_email(conn, g->email, false, &g->existing, err);
    if (rc || g->existing)
        return rc;
    bool business = g->r->company && *g->r->company;
    char login[24];
    char rnd[17];
    kr_random_hex(rnd, 8);
    (void)snprintf(login, sizeof(login), "%c-%s", business ? 'b' : 'c', rnd);
    int64_t now = kr_now();
    rc = db_query_int64(conn,
                        "INSERT INTO account_user (kind, login, email, display_name, "
                        "password_hash, disabled, created_at, updated_at) "
                        "VALUES ($1, $2, $3, $4, $5, 0, $6, $6) RETURNING id",
                        DB_PARAMS(DB_TEXT(business ? "business" : "citizen"), DB_TEXT(login),
                                  DB_TEXT(g->email), DB_TEXT(g->r->display_name), DB_TEXT(g->hash),
                                  DB_INT(now)),
                        &g->id, err);
    if (rc == KR_OK && business)
        rc = create_business(conn, g->id, g->r->company, err);
    if (rc == KR_OK)
        rc = token_create(conn, g->id, "confirm", NULL, CONFIRM_LIFETIME, g->token, err);
    if (rc)
        return rc;
    char actor[32];
    accounts_actor(g->id, actor);
    return accounts_audit(
        conn, actor, "account.register", "account", g->id,
        json_pack("{s:s, s:b}", "kind", business ? "business" : "citizen", "business", business),
        err);
}

int accounts_register(struct db_conn *conn, const struct account_registration *r, int64_t *id,
                      int64_t *existing_id, char token[ACCOUNT_TOKEN_LEN], struct kr_error *err)
{
    *id = 0;
    *existing_id = 0;
    char email[255];
    int rc = accounts_normalise_email(r->email, email, err);
    if (rc)
        return rc;
    if (!accounts_printable_text(r->display_name, 200))
        return kr_error_set(err, KR_ERR_INVALID, "the name must have 1 to 200 characters");
    if (r->company && *r->company && !accounts_printable_text(r->company, COMPANY_MAX))
        return kr_error_set(err, KR_ERR_INVALID, "the company name must have 1 to 200 characters");
    rc = accounts_password_check(email, r->password, err);
    if (rc)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    rc = accounts_hash_password(r->password, hash, err);
    if (rc)
        return rc;
    struct registration g = {.r = r, .email = email, .hash = hash, .token = token};
    rc = db_transact(conn, register_tx, &g, err);
    sodium_memzero(hash, sizeof(hash));
    if (rc)
        return rc;
    *id = g.id;
    *existing_id = g.existing;
    return KR_OK;
}

struct token_step {
    const char *token;
    int64_t id;
    struct arena *a;
    const char *password_hash;
    char *old_email;
};

static int confirm_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct token_step *t = arg;
    int rc = token_use(conn, NULL, t->token, "confirm", &t->id, NULL, err);
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "UPDATE account_user SET email_verified_at = $1, updated_at = $1 "
                     "WHERE id = $2",
                     DB_PARAMS(DB_INT(kr_now()), DB_INT(t->id)), NULL, err);
    if (rc)
        return rc;
    char actor[32];
    accounts_actor(t->id, actor);
    return accounts_audit(conn, actor, "account.confirm", "account", t->id, json_object(), err);
}

int accounts_confirm(struct db_conn *conn, const char *token, int64_t *id, struct kr_error *err)
{
    struct token_step t = {.token = token};
    int rc = db_transact(conn, confirm_tx, &t, err);
    *id = rc ? 0 : t.id;
    return rc;
}

/* ---- Password reset ------------------------------------------------------------- */

struct reset_request {
    int64_t id;
    char *token;
};

static int reset_request_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct reset_request *q = arg;
    /* Only the newest link works. */
    int rc = db_exec(conn,
                     "UPDATE account_token SET used_at = $1 WHERE user_id = $2 "
                     "AND purpose = 'reset' AND used_at IS NULL",
                     DB_PARAMS(DB_INT(kr_now()), DB_INT(q->id)), NULL, err);
    if (rc == KR_OK)
        rc = token_create(conn, q->id, "reset", NULL, RESET_LIFETIME, q->token, err);
    if (rc)
        return rc;
    char actor[32];
    accounts_actor(q->id, actor);
    return accounts_audit(conn, actor, "account.reset_request", "account", q->id, json_object(),
                          err);
}

int accounts_reset_request(struct db_conn *conn, const char *email, int64_t *id,
                           char token[ACCOUNT_TOKEN_LEN], struct kr_error *err)
{
    *id = 0;
    char norm[255];
    struct kr_error ignored;
    if (accounts_normalise_email(email, norm, &ignored) != KR_OK)
        return KR_OK; /* the same answer as for an unknown address */
    struct reset_request q = {.token = token};
    int rc = find_by_email(conn, norm, true, &q.id, err);
    if (rc || q.id == 0)
        return rc;
    rc = db_transact(conn, reset_request_tx, &q, err);
    if (rc == KR_OK)
        *id = q.id;
    return rc;
}

static int set_password_tx(struct db_conn *conn, int64_t id, const char *hash, const char *action,
                           struct kr_error *err)
{
    int rc =
        db_exec(conn, "UPDATE account_user SET password_hash = $1, updated_at = $2 WHERE id = $3",
                DB_PARAMS(DB_TEXT(hash), DB_INT(kr_now()), DB_INT(id)), NULL, err);
    if (rc == KR_OK)
        rc = db_exec(conn, "DELETE FROM account_session WHERE user_id = $1 OR pending_user_id = $1",
                     DB_PARAMS(DB_INT(id)), NULL, err);
    if (rc)
        return rc;
    char actor[32];
    accounts_actor(id, actor);
    return accounts_audit(conn, actor, action, "account", id, json_object(), err);
}

static int reset_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct token_step *t = arg;
    int rc = token_use(conn, NULL, t->token, "reset", &t->id, NULL, err);
    return rc ? rc : set_password_tx(conn, t->id, t->password_hash, "account.reset", err);
}

int accounts_reset_password(struct db_conn *conn, const char *token, const char *password,
                            int64_t *id, struct kr_error *err)
{
    *id = 0;
    int rc = accounts_password_check(NULL, password, err);
    if (rc)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    rc = accounts_hash_password(password, hash, err);
    if (rc)
        return rc;
    struct token_step t = {.token = token, .password_hash = hash};
    rc = db_transact(conn, reset_tx, &t, err);
    sodium_memzero(hash, sizeof(hash));
    if (rc == KR_OK)
        *id = t.id;
    return rc;
}

struct password_change {
    int64_t id;
    const char *hash;
};

static int password_change_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct password_change *p = arg;
    return set_password_tx(conn, p->id, p->hash, "account.password_change", err);
}

int accounts_password_change(struct db_conn *conn, int64_t id, const char *current,
                             const char *password, struct kr_error *err)
{
    int rc = accounts_verify_password(conn, id, current, err);
    if (rc == KR_OK)
        rc = accounts_password_check(NULL, password, err);
    char hash[crypto_pwhash_STRBYTES];
    if (rc == KR_OK)
        rc = accounts_hash_password(password, hash, err);
    if (rc)
        return rc;
    /* Every session ends, the caller logs the current one in again. */
    struct password_change p = {id, hash};
    rc = db_transact(conn, password_change_tx, &p, err);
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

/* ---- Change of address ------------------------------------------------------------ */

int accounts_email_change_request(struct db_conn *conn, int64_t id, const char *password,
                                  const char *new_email, char token[ACCOUNT_TOKEN_LEN],
                                  struct kr_error *err)
{
    char email[255];
    int rc = accounts_normalise_email(new_email, email, err);
    if (rc == KR_OK)
        rc = accounts_verify_password(conn, id, password, err);
    if (rc)
        return rc;
    /* Whether the address is taken is checked at confirmation: saying it
     * here would tell a logged-in user who else has an account. */
    return token_create(conn, id, "email", email, EMAIL_LIFETIME, token, err);
}

static int email_confirm_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct token_step *t = arg;
    char *email = NULL;
    int rc = token_use(conn, t->a, t->token, "email", &t->id, &email, err);
    if (rc)
        return rc;
    if (!email)
        return kr_error_set(err, KR_ERR_INTERNAL, "change of address without address");
    int64_t other;
    rc = find_by_email(conn, email, false, &other, err);
    if (rc)
        return rc;
    if (other && other != t->id)
        return kr_error_set(err, KR_ERR_CONFLICT, "this e-mail address cannot be used");
    struct db_stmt *st;
    rc = db_query(conn, "SELECT email FROM account_user WHERE id = $1", DB_PARAMS(DB_INT(t->id)),
                  &st, err);
    if (rc)
        return rc;
    if ((rc = db_step(st, err)) == DB_ROW && !db_column_is_null(st, 0))
        t->old_email = db_column_strdup(st, 0, t->a);
    db_finish(st);
    if (rc < 0)
        return rc;
    rc = db_exec(conn,
                 "UPDATE account_user SET email = $1, email_verified_at = $2, updated_at = $2 "
                 "WHERE id = $3",
                 DB_PARAMS(DB_TEXT(email), DB_INT(kr_now()), DB_INT(t->id)), NULL, err);
    if (rc)
        return rc;
    char actor[32];
    accounts_actor(t->id, actor);
    return accounts_audit(conn, actor, "account.email_change", "account", t->id, json_object(),
                          err);
}

int accounts_email_change_confirm(struct db_conn *conn, struct arena *a, const char *token,
                                  int64_t *id, char **old_email, struct kr_error *err)
{
    struct token_step t = {.token = token, .a = a};
    int rc = db_transact(conn, email_confirm_tx, &t, err);
    *id = rc ? 0 : t.id;
    *old_email = rc ? NULL : t.old_email;
    return rc;
}

/* ---- Company members ------------------------------------------------------------ */

#define INVITE_LIFETIME (7 * 86400)

int accounts_business_members(struct db_conn *conn, struct arena *a, int64_t business_id,
                              struct account_member **out, size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT u.id, u.display_name, u.email, m.role FROM account_business_member m "
                      "JOIN account_user u ON u.id = m.user_id WHERE m.business_id = $1 "
                      "ORDER BY m.role DESC, u.display_name, u.id LIMIT 200",
                      DB_PARAMS(DB_INT(business_id)), &st, err);
    if (rc)
        return rc;
    struct account_member *list = arena_alloc(a, 200 * sizeof(*list));
    size_t n = 0;
    while (list && (rc = db_step(st, err)) == DB_ROW) {
        struct account_member *m = &list[n++];
        m->id = db_column_int64(st, 0);
        m->display_name = db_column_strdup(st, 1, a);
        m->email = db_column_is_null(st, 2) ? "" : db_column_strdup(st, 2, a);
        m->owner = strcmp(db_column_text(st, 3), "owner") == 0;
        if (!m->display_name || !m->email)
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

/* The company owner_id owns, or KR_ERR_FORBIDDEN. */
static int owned_business(struct db_conn *conn, int64_t owner_id, int64_t *business,
                          struct kr_error *err)
{
    int rc = db_query_int64(conn,
                            "SELECT business_id FROM account_business_member "
                            "WHERE user_id = $1 AND role = 'owner'",
                            DB_PARAMS(DB_INT(owner_id)), business, err);
    return rc == KR_ERR_NOT_FOUND
               ? kr_error_set(err, KR_ERR_FORBIDDEN, "only the owner of a company may do this")
               : rc;
}

struct invite {
    int64_t owner, business;
    const char *email;
    char *token;
};

static int invite_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct invite *v = arg;
    char hash[65];
    kr_random_hex(v->token, 32);
    kr_sha256_hex(v->token, strlen(v->token), hash);
    int64_t now = kr_now();
    int rc =
        db_exec(conn,
                "INSERT INTO account_token (token_hash, user_id, purpose, new_email, "
                "business_id, created_at, expires_at) VALUES ($1, $2, 'invite', $3, $4, $5, $6)",
                DB_PARAMS(DB_TEXT(hash), DB_INT(v->owner), DB_TEXT(v->email), DB_INT(v->business),
                          DB_INT(now), DB_INT(now + INVITE_LIFETIME)),
                NULL, err);
    if (rc)
        return rc;
    char actor[32];
    accounts_actor(v->owner, actor);
    return accounts_audit(conn, actor, "business.invite", "business", v->business,
                          json_pack("{s:s}", "email", v->email), err);
}

int accounts_business_invite(struct db_conn *conn, int64_t owner_id, const char *email,
                             char token[ACCOUNT_TOKEN_LEN], struct kr_error *err)
{
    char norm[255];
    int rc = accounts_normalise_email(email, norm, err);
    struct invite v = {.owner = owner_id, .email = norm, .token = token};
    if (rc == KR_OK)
        rc = owned_business(conn, owner_id, &v.business, err);
    return rc ? rc : db_transact(conn, invite_tx, &v, err);
}

struct join {
    int64_t id;
    const char *token;
};

static int join_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct join *j = arg;
    size_t len = j->token ? strlen(j->token) : 0;
    if (len != ACCOUNT_TOKEN_LEN - 1)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the link is invalid or has expired");
    char hash[65];
    kr_sha256_hex(j->token, len, hash);
    int64_t now = kr_now();
    int64_t business = 0;
    /* Used up only by the account the invitation was for. */
    int rc = db_query_int64(conn,
                            "UPDATE account_token SET used_at = $1 WHERE token_hash = $2 "
                            "AND purpose = 'invite' AND used_at IS NULL AND expires_at > $1 "
                            "AND new_email = (SELECT email FROM account_user WHERE id = $3 "
                            "AND kind <> 'staff' AND email_verified_at IS NOT NULL) "
                            "RETURNING business_id",
                            DB_PARAMS(DB_INT(now), DB_TEXT(hash), DB_INT(j->id)), &business, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the link is invalid or has expired");
    if (rc)
        return rc;
    int64_t already = 0;
    rc = db_query_int64(conn, "SELECT COUNT(*) FROM account_business_member WHERE user_id = $1",
                        DB_PARAMS(DB_INT(j->id)), &already, err);
    if (rc == KR_OK && already)
        return kr_error_set(err, KR_ERR_CONFLICT, "the account already acts for a company");
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "INSERT INTO account_business_member (business_id, user_id, role, added_at) "
                     "VALUES ($1, $2, 'member', $3)",
                     DB_PARAMS(DB_INT(business), DB_INT(j->id), DB_INT(now)), NULL, err);
    if (rc)
        return rc == KR_ERR_CONFLICT ? kr_error_set(err, KR_ERR_NOT_FOUND, "no such company") : rc;
    char actor[32];
    accounts_actor(j->id, actor);
    return accounts_audit(conn, actor, "business.join", "business", business, json_object(), err);
}

int accounts_business_join(struct db_conn *conn, int64_t id, const char *token,
                           struct kr_error *err)
{
    struct join j = {id, token};
    return db_transact(conn, join_tx, &j, err);
}

struct removal {
    int64_t owner, member, business;
};

static int remove_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct removal *r = arg;
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "DELETE FROM account_business_member WHERE business_id = $1 AND user_id = $2 "
                     "AND role = 'member'",
                     DB_PARAMS(DB_INT(r->business), DB_INT(r->member)), &changed, err);
    if (rc)
        return rc;
    if (!changed)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such member");
    char actor[32];
    accounts_actor(r->owner, actor);
    return accounts_audit(conn, actor, "business.remove", "business", r->business,
                          json_pack("{s:I}", "member", (json_int_t)r->member), err);
}

int accounts_business_remove(struct db_conn *conn, int64_t owner_id, int64_t member_id,
                             struct kr_error *err)
{
    struct removal r = {owner_id, member_id, 0};
    int rc = owned_business(conn, owner_id, &r.business, err);
    return rc ? rc : db_transact(conn, remove_tx, &r, err);
}

/* ---- Company, settings ------------------------------------------------------------ */

int accounts_business_of(struct db_conn *conn, struct arena *a, int64_t user_id,
                         struct account_business *out, struct kr_error *err)
{
    memset(out, 0, sizeof(*out));
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT b.id, b.name, m.role FROM account_business_member m "
                      "JOIN account_business b ON b.id = m.business_id WHERE m.user_id = $1 "
                      "ORDER BY b.id LIMIT 1",
                      DB_PARAMS(DB_INT(user_id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        out->id = db_column_int64(st, 0);
        out->name = db_column_strdup(st, 1, a);
        out->owner = strcmp(db_column_text(st, 2), "owner") == 0;
    }
    db_finish(st);
    if (rc < 0)
        return rc;
    return rc == DB_ROW && !out->name ? kr_error_set(err, KR_ERR_NOMEM, "out of memory") : KR_OK;
}

int accounts_settings(struct db_conn *conn, int64_t id, struct account_settings *out,
                      struct kr_error *err)
{
    memset(out, 0, sizeof(*out));
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT totp_secret IS NOT NULL, password_hash IS NOT NULL, "
                      "email_verified_at, (SELECT COUNT(*) FROM account_recovery_code r "
                      "WHERE r.user_id = u.id AND r.used_at IS NULL) "
                      "FROM account_user u WHERE id = $1",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        out->totp_enabled = db_column_int64(st, 0) != 0;
        out->has_password = db_column_int64(st, 1) != 0;
        out->email_verified_at = db_column_int64(st, 2);
        out->recovery_codes_left = (unsigned)db_column_int64(st, 3);
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such account");
    return rc < 0 ? rc : KR_OK;
}

/* ---- Deletion ---------------------------------------------------------------------- */

static int delete_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    int64_t id = *(int64_t *)arg;
    char actor[32];
    accounts_actor(id, actor);
    /* Companies whose last member leaves go with them. */
    int rc = db_exec(conn,
                     "DELETE FROM account_business WHERE id IN (SELECT business_id FROM "
                     "account_business_member WHERE user_id = $1) AND NOT EXISTS (SELECT 1 FROM "
                     "account_business_member o WHERE o.business_id = account_business.id AND "
                     "o.user_id <> $1)",
                     DB_PARAMS(DB_INT(id)), NULL, err);
    if (rc == KR_OK)
        rc = accounts_audit(conn, actor, "account.delete", "account", id, json_object(), err);
    if (rc == KR_OK)
        rc = db_exec(conn, "DELETE FROM account_user WHERE id = $1 AND kind <> 'staff'",
                     DB_PARAMS(DB_INT(id)), NULL, err);
    return rc;
}

int accounts_delete(struct db_conn *conn, int64_t id, const char *password, struct kr_error *err)
{
    struct account_settings s;
    int rc = accounts_settings(conn, id, &s, err);
    if (rc == KR_OK && s.has_password)
        rc = accounts_verify_password(conn, id, password, err);
    if (rc)
        return rc;
    int64_t staff = 0;
    rc = db_query_int64(conn, "SELECT COUNT(*) FROM account_user WHERE id = $1 AND kind = 'staff'",
                        DB_PARAMS(DB_INT(id)), &staff, err);
    if (rc)
        return rc;
    if (staff)
        return kr_error_set(err, KR_ERR_FORBIDDEN,
                            "staff accounts are removed by the administration");
    return db_transact(conn, delete_tx, &id, err);
}
