/* accounts_internal.h - helpers shared by the files of src/accounts. */
#ifndef KR_ACCOUNTS_INTERNAL_H
#define KR_ACCOUNTS_INTERNAL_H

#include <jansson.h>

#include "db/db.h"

/* Run fn(conn, arg, err) in a transaction: commit when it returns KR_OK,
 * roll back otherwise.  When conn is already in a transaction, fn simply
 * runs in it and the caller commits. */
int accounts_in_transaction(struct db_conn *conn,
                            int (*fn)(struct db_conn *, void *, struct kr_error *), void *arg,
                            struct kr_error *err) KR_MUST_CHECK;

/* Append an audit entry for object type/id; takes the reference to details. */
int accounts_audit(struct db_conn *conn, const char *actor, const char *action, const char *type,
                   int64_t id, json_t *details, struct kr_error *err) KR_MUST_CHECK;

/* Lower-case login into out (65 bytes); KR_ERR_INVALID when it breaks the
 * rules (3-64 of a-z 0-9 . _ - @). */
int accounts_normalise_login(const char *login, char out[65], struct kr_error *err) KR_MUST_CHECK;

#endif
