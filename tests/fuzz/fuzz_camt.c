/* fuzz_camt.c - libFuzzer target for the camt.053 parser of src/payments/
 * (the checks in fuzz_statement.h). */
#include "fuzz_statement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_statement(payments_camt_parse, data, size);
}
