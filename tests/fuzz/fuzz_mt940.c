/* fuzz_mt940.c - libFuzzer target for the MT940 parser of src/payments/
 * (the checks in fuzz_statement.h). */
#include "fuzz_statement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_statement(payments_mt940_parse, data, size);
}
