/*
 * fuzz_einvoice.c - libFuzzer target for src/einvoice: the hardened XML
 * parse, the mapping of UBL and CII into the EN 16931 model and every rule
 * (the XSD layer is libxml2's and stays off, so that the fuzzer spends its
 * time on our code).
 *
 * Besides not crashing, the report's promises are checked: an unreadable
 * input has a reason; every finding has a rule id, a message and a location
 * that is empty or an absolute path; a report without errors accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "einvoice/einvoice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct einvoice_validator *validator;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kr_error err;
    if (!validator && einvoice_validator_new(NULL, &validator, &err))
        abort();
    struct arena *a = arena_new(64 * 1024 * 1024);
    struct einvoice_report *r;
    if (einvoice_validate(validator, a, (const char *)data, size, &r, &err) != KR_OK) {
        arena_free(a); /* the arena's limit: out of memory is a clean answer */
        return 0;
    }
    if (r->verdict == EINVOICE_UNREADABLE && (!r->reason || !r->reason[0]))
        abort();
    bool fatal = false;
    for (size_t i = 0; i < r->count; i++) {
        const struct einvoice_finding *f = &r->findings[i];
        if (!f->rule || !f->rule[0] || !f->message || !f->location)
            abort();
        if (f->location[0] && f->location[0] != '/')
            abort();
        fatal = fatal || f->severity == EINVOICE_FATAL;
    }
    if (r->verdict == EINVOICE_ACCEPT && fatal)
        abort();
    if (r->verdict == EINVOICE_REJECT && !fatal)
        abort();
    json_t *j = einvoice_report_json(r);
    json_decref(j);
    arena_free(a);
    return 0;
}
