/*
 * fuzz_text.c - libFuzzer target for the parsers of outside text in
 * src/core/text.c and the address parser of src/core/config.c.
 *
 * The first byte chooses the parser, the rest is its input.  Besides not
 * crashing, the parsers' promises are checked: every decoded value is
 * NUL-free valid UTF-8 whose length matches.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *v, size_t len)
{
    if (strlen(v) != len || !text_utf8_valid(v, len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    struct arena *a = arena_new(16 * 1024 * 1024);
    struct kr_error err;
    switch (data[0] % 4) {
    case 0: {
        struct text_pairs pairs;
        if (text_parse_urlencoded(a, in, len, 100, &pairs, &err) == KR_OK)
            for (size_t i = 0; i < pairs.count; i++)
                check_value(pairs.items[i].value, pairs.items[i].value_len);
        break;
    }
    case 1: {
        char *out;
        size_t out_len;
        if (text_percent_decode(a, in, len, TEXT_PLUS_IS_SPACE, &out, &out_len, &err) == KR_OK)
            check_value(out, out_len);
        break;
    }
    case 2: {
        char *header = arena_strndup(a, in, len); /* a header is a C string */
        if (header)
            (void)text_cookie_get(a, header, "kreisel");
        break;
    }
    default: {
        char *text = arena_strndup(a, in, len);
        struct kr_net net;
        if (text && kr_net_parse(text, &net) == KR_OK)
            (void)kr_net_contains(&net, 1, "10.1.2.3");
        break;
    }
    }
    arena_free(a);
    return 0;
}
