/* accounts_internal.h - helpers shared by the files of src/accounts. */
#ifndef KR_ACCOUNTS_INTERNAL_H
#define KR_ACCOUNTS_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "accounts/accounts.h"

#include "db/db.h"

/* Append an audit entry for object type/id; takes the reference to details. */
int accounts_audit(struct db_conn *conn, const char *actor, const char *action, const char *type,
                   int64_t id, json_t *details, struct kr_error *err) KR_MUST_CHECK;

/* Lower-case login into out (65 bytes); KR_ERR_INVALID when it breaks the
 * rules (3-64 of a-z 0-9 . _ - @). */
int accounts_normalise_login(const char *login, char out[65], struct kr_error *err) KR_MUST_CHECK;

/* 1 to max bytes of valid UTF-8 without control characters. */
bool accounts_printable_text(const char *s, size_t max);

/* Argon2id hash of password into hash (crypto_pwhash_STRBYTES). */
int accounts_hash_password(const char *password, char *hash, struct kr_error *err) KR_MUST_CHECK;

/* KR_OK when password is account id's; KR_ERR_UNAUTHENTICATED when wrong
 * or the account has no password. */
int accounts_verify_password(struct db_conn *conn, int64_t id, const char *password,
                             struct kr_error *err) KR_MUST_CHECK;

/* Audit action on account id by the account itself, with no details, in
 * a transaction of its own (or the caller's). */
int accounts_audit_self(struct db_conn *conn, int64_t id, const char *action,
                        struct kr_error *err) KR_MUST_CHECK;

/* "user:ID" into actor (32 bytes). */
void accounts_actor(int64_t id, char actor[32]);

/* Rate limits shared by login (purpose NULL), second factor ("totp"),
 * registration ("register") and reset ("reset"): KR_ERR_RATE_LIMITED when
 * key had max_failures failed attempts of that purpose within the window,
 * or the address 4 times as many.  Purposes count apart from each other. */
int accounts_rate_check(struct db_conn *conn, const char *purpose, const char *key, const char *ip,
                        const struct accounts_login_policy *policy,
                        struct kr_error *err) KR_MUST_CHECK;
int accounts_rate_record(struct db_conn *conn, const char *purpose, const char *key, const char *ip,
                         bool success, struct kr_error *err) KR_MUST_CHECK;

#endif
