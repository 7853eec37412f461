/* payments_internal.h - helpers shared by the files of src/payments/ only. */
#ifndef KR_PAYMENTS_INTERNAL_H
#define KR_PAYMENTS_INTERNAL_H

#include <jansson.h>

#include "payments/payments.h"

/* Name folded for matching: ASCII letters and digits lower-cased, other
 * ASCII dropped, non-ASCII bytes kept. */
void payments_debtor_key(const char *name, char *out, size_t size);

/* Audit entry on a receivable; takes the reference to details. */
int payments_audit(struct db_conn *conn, const char *actor, const char *action, int64_t id,
                   json_t *details, struct kr_error *err) KR_MUST_CHECK;

/* Read one row of st into row (an element of the array being filled). */
typedef void (*payments_row_fn)(struct db_stmt *st, struct arena *a, void *row);

/*
 * Run sql and read every row with read into an array of elements of size
 * bytes in arena a (zeroed; *out, *count).  The SQL bounds the rows with
 * LIMIT; the array grows as they come.
 */
int payments_query_rows(struct db_conn *conn, struct arena *a, const char *sql,
                        const struct db_param *params, size_t nparams, size_t size,
                        payments_row_fn read, void **out, size_t *count,
                        struct kr_error *err) KR_MUST_CHECK;

#endif
