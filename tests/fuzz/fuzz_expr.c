/*
 * fuzz_expr.c - libFuzzer target for the form expression language
 * (src/forms/expr.c): parse arbitrary text, and when it parses, evaluate
 * it against fields of every type.  Besides not crashing, the promises are
 * checked: an error always has a message with a column, and evaluation of
 * a condition gives a boolean.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "forms/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct expr_value list_items[] = {
    {.type = EXPR_STRING, .s = "a", .n = 1},
    {.type = EXPR_NUMBER, .i = 7},
};

static void lookup(void *ctx, const char *name, struct expr_value *out)
{
    (void)ctx;
    switch (name[0]) {
    case 'n': *out = (struct expr_value){.type = EXPR_NUMBER, .i = INT64_MAX}; break;
    case 'm': *out = (struct expr_value){.type = EXPR_MONEY, .i = INT64_MIN}; break;
    case 'd': *out = (struct expr_value){.type = EXPR_DATE, .i = 20000}; break;
    case 's': *out = (struct expr_value){.type = EXPR_STRING, .s = "text", .n = 4}; break;
    case 'l': *out = (struct expr_value){.type = EXPR_LIST, .items = list_items, .n = 2}; break;
    case 'b': *out = (struct expr_value){.type = EXPR_BOOL, .i = 1}; break;
    default: *out = (struct expr_value){.type = EXPR_NULL}; break;
    }
}

static bool known(void *ctx, const char *name)
{
    (void)ctx;
    return name[0] != 'z';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > EXPR_MAX_LEN)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct arena *a = arena_new(64 * 1024 * 1024);
    struct kr_error err;
    struct expr *e = NULL;
    int rc = expr_parse(a, text, known, NULL, &e, &err);
    if (rc == KR_OK) {
        struct expr_env env = {.lookup = lookup, .today = 20300};
        struct expr_value v;
        expr_eval(e, &env, a, &v);
        (void)expr_true(e, &env, a);
    } else if (rc != KR_ERR_INVALID || (strncmp(err.message, "column ", 7) != 0 &&
                                        strncmp(err.message, "expression longer", 17) != 0)) {
        abort();
    }
    arena_free(a);
    free(text);
    return 0;
}
