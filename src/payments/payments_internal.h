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

#endif
