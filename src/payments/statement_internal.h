/* statement_internal.h - what the camt.053 and MT940 parsers share. */
#ifndef KR_PAYMENTS_STATEMENT_INTERNAL_H
#define KR_PAYMENTS_STATEMENT_INTERNAL_H

#include <stdint.h>

#include "payments/payments.h"

#define STMT_FIELD (PAYMENTS_TEXT_MAX + 1)

/* The fields of one entry or transaction, in fixed buffers (values longer
 * than PAYMENTS_TEXT_MAX are cut at a character boundary). */
struct stmt_fields {
    char amount[32];
    char indicator[8];
    int64_t booked_at;
    char ref[STMT_FIELD];
    char name[STMT_FIELD];
    char remittance[STMT_FIELD];
};

void stmt_fields_clear(struct stmt_fields *f);

/* Copy / append (with a space) text into a STMT_FIELD buffer. */
void stmt_copy(char dst[STMT_FIELD], const char *src);
void stmt_copyn(char dst[STMT_FIELD], const char *src, size_t len);
void stmt_append(char dst[STMT_FIELD], const char *src);

/* "YYYY-MM-DD" (a time may follow) into Unix seconds at midnight UTC. */
int stmt_date(const char *text, int64_t *out, struct kr_error *err) KR_MUST_CHECK;

/* Unix seconds of a calendar day; -1 for an impossible date. */
int64_t stmt_days(int year, int month, int day);

#endif
