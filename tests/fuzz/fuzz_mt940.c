/*
 * fuzz_mt940.c - libFuzzer target for the mt940 statement parser of
 * src/payments/.  Besides not crashing, the parser's promises are checked:
 * every item has an amount in range and NUL-terminated texts within the
 * limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "payments/payments.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_statement(void *ctx, const struct payments_stmt_info *info, struct kr_error *err)
{
    (void)ctx;
    (void)err;
    if (strlen(info->account) > PAYMENTS_TEXT_MAX || strlen(info->id) > PAYMENTS_TEXT_MAX + 64)
        abort();
    return KR_OK;
}

static int on_item(void *ctx, const struct payments_stmt_item *it, struct kr_error *err)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct payments_stmt_sink sink = {on_statement, on_item, NULL};
    struct kr_error err;
    int rc = payments_mt940_parse((const char *)data, size, &sink, &err);
    (void)rc;
    return 0;
}
