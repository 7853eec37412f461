/*
 * fuzz_statement.h - what the libFuzzer targets of the statement parsers
 * (fuzz_camt.c, fuzz_mt940.c) share.  Besides not crashing, the parser's
 * promises are checked: every item has an amount in range and
 * NUL-terminated texts within the limit.  Included by one target each.
 */
#ifndef KR_FUZZ_STATEMENT_H
#define KR_FUZZ_STATEMENT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "payments/payments.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_on_statement(void *ctx, const struct payments_stmt_info *info, struct kr_error *err)
{
    (void)ctx;
    (void)err;
    if (strlen(info->account) > PAYMENTS_TEXT_MAX || strlen(info->id) > PAYMENTS_TEXT_MAX + 64)
        abort();
    return KR_OK;
}

static int fuzz_on_item(void *ctx, const struct payments_stmt_item *it, struct kr_error *err)
{
    (void)ctx;
    (void)err;
    if (it->amount_cents < 1 || it->amount_cents > PAYMENTS_AMOUNT_MAX)
        abort();
    if (strlen(it->ref) > PAYMENTS_TEXT_MAX || strlen(it->debtor_name) > PAYMENTS_TEXT_MAX ||
        strlen(it->remittance) > PAYMENTS_TEXT_MAX)
        abort();
    char found[4][PAYMENTS_KZ_SIZE];
    payments_kz_scan(it->remittance, strlen(it->remittance), found, 4);
    return KR_OK;
}

typedef int (*fuzz_statement_parser)(const char *data, size_t len,
                                     const struct payments_stmt_sink *sink, struct kr_error *err);

/* Run parse over the input with the checking sink. */
static int fuzz_statement(fuzz_statement_parser parse, const uint8_t *data, size_t size)
{
    struct payments_stmt_sink sink = {fuzz_on_statement, fuzz_on_item, NULL};
    struct kr_error err;
    (void)parse((const char *)data, size, &sink, &err);
    return 0;
}

#endif
