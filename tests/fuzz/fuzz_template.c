/*
 * fuzz_template.c - libFuzzer target for src/template: the compiler, the
 * linker and the renderer, the Accept-Language parser and the escaper.
 *
 * Input layout: byte 0 selects the mode (low two bits), the rest is the
 * payload.
 *   0, 1  payload split at NUL bytes into up to five parts: template "main",
 *         a JSON context (a fixed one when it does not parse), templates
 *         "a" (HTML) and "b" (text), and message "m" of both catalogues.
 *         Mode 0 compiles "main" as HTML, mode 1 as text.
 *   2     payload is an Accept-Language header.
 *   3     payload is escaped and must decode back to itself.
 * Templates are trusted input in production, but a typo must never crash
 * the server at start, and rendering must stay within its limits for any
 * template and any context.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "template/template.h"

#define OUT_MAX ((size_t)256 << 10)

enum { PART_MAIN, PART_CTX, PART_A, PART_B, PART_MSG, PART_COUNT };

struct part {
    const char *s;
    size_t len;
};

static json_t *default_ctx(void)
{
    static json_t *ctx;
    if (!ctx)
        ctx = json_loads("{\"name\": \"<Eve> & 'Bob'\", \"n\": 3, \"r\": 0.5, \"t\": true,"
                         " \"f\": false, \"z\": null, \"s\": \"\", \"e\": [],"
                         " \"list\": [1, \"two\", {\"name\": \"x\", \"list\": []}],"
                         " \"o\": {\"a\": {\"b\": \"deep\"}},"
                         " \"items\": [{\"name\": \"a\", \"items\": []}, {\"name\": \"b\"}]}",
                         0, NULL);
    return ctx;
}

static size_t split(const uint8_t *data, size_t size, struct part parts[PART_COUNT])
{
    size_t n = 0;
    size_t start = 0;
    memset(parts, 0, sizeof(struct part) * PART_COUNT);
    for (size_t i = 0; i <= size && n < PART_COUNT; i++) {
        if (i < size && data[i] != '\0')
            continue;
        parts[n].s = (const char *)data + start;
        parts[n].len = i - start;
        n++;
        start = i + 1;
    }
    return n;
}

static void check_rc(int rc)
{
    if (rc != KR_OK && rc != KR_ERR_INVALID && rc != KR_ERR_TOO_LARGE)
        abort();
}

/* Render name twice in lang: the result must be the same both times. */
static void render_twice(const struct tpl_set *set, const char *name, const char *lang,
                         const json_t *ctx)
{
    struct buf out[2];
    int rc[2];
    if (!tpl_set_has(set, name))
        return;
    for (int k = 0; k < 2; k++) {
        struct kr_error err;
        buf_init(&out[k], OUT_MAX);
        rc[k] = tpl_render(set, name, lang, ctx, &out[k], &err);
        check_rc(rc[k]);
    }
    if (rc[0] != rc[1] ||
        (rc[0] == KR_OK && (out[0].len != out[1].len ||
                            memcmp(buf_cstr(&out[0]), buf_cstr(&out[1]), out[0].len) != 0)))
        abort();
    buf_release(&out[0]);
    buf_release(&out[1]);
}

static int add_catalogue(struct tpl_set *set, const char *lang, const char *hello,
                         const struct part *msg)
{
    struct kr_error err;
    json_t *m = json_object();
    json_object_set_new(m, "hello", json_string(hello));
    json_object_set_new(m, "m", json_stringn_nocheck(msg->s ? msg->s : "", msg->len));
    int rc = tpl_set_add_messages(set, lang, m, &err);
    json_decref(m);
    return rc;
}

static void fuzz_templates(const uint8_t *data, size_t size, bool html)
{
    struct part parts[PART_COUNT];
    size_t n = split(data, size, parts);
    struct tpl_set *set;
    struct kr_error err;
    if (tpl_set_new(&set, &err))
        return;
    json_t *parsed = n > PART_CTX
                         ? json_loadb(parts[PART_CTX].s, parts[PART_CTX].len, JSON_DECODE_ANY, NULL)
                         : NULL;
    const json_t *ctx = parsed ? parsed : default_ctx();
    static const char *const names[PART_COUNT] = {"main", NULL, "a", "b", NULL};
    for (size_t i = 0; i < n; i++) {
        bool escape = i == PART_MAIN ? html : i == PART_A;
        if (names[i])
            (void)tpl_set_add(set, names[i], parts[i].s, parts[i].len, escape, &err);
    }
    if (add_catalogue(set, "de", "Hallo <b>", &parts[PART_MSG]) == KR_OK &&
        add_catalogue(set, "en", "Hi & bye", &parts[PART_MSG]) == KR_OK &&
        tpl_set_link(set, &err) == KR_OK) {
        render_twice(set, "main", "de", ctx);
        render_twice(set, "main", "en", NULL);
        render_twice(set, "a", NULL, ctx);
        (void)tpl_message(set, "en", "m");
    }
    json_decref(parsed);
    tpl_set_free(set);
}

static void fuzz_negotiate(const uint8_t *data, size_t size)
{
    static struct tpl_set *set;
    if (!set) {
        struct kr_error err;
        static const char *const langs[] = {"en", "de", "fr", "dsb"};
        if (tpl_set_new(&set, &err))
            abort();
        for (size_t i = 0; i < 4; i++) {
            json_t *m = json_object();
            if (tpl_set_add_messages(set, langs[i], m, &err))
                abort();
            json_decref(m);
        }
    }
    char *header = malloc(size + 1);
    if (!header)
        return;
    memcpy(header, data, size);
    header[size] = '\0';
    const char *lang = tpl_negotiate_lang(set, header);
    if (!lang || !tpl_set_has_lang(set, lang))
        abort();
    free(header);
}

/* The escaped text holds none of the five characters except '&' starting
 * an entity, and decodes back to the input. */
static void fuzz_escape(const uint8_t *data, size_t size)
{
    static const char *const entity[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    static const char plain[] = "&<>\"'";
    struct buf out;
    buf_init(&out, 6 * size + 1);
    if (tpl_escape_html(&out, (const char *)data, size) != KR_OK)
        abort();
    const char *s = buf_cstr(&out);
    size_t j = 0;
    for (size_t i = 0; i < out.len; j++) {
        char ch = s[i];
        if (ch == '<' || ch == '>' || ch == '"' || ch == '\'')
            abort();
        size_t k = 0;
        if (ch == '&') {
            while (k < 5 && strncmp(s + i, entity[k], strlen(entity[k])) != 0)
                k++;
            if (k == 5)
                abort();
            ch = plain[k];
            i += strlen(entity[k]);
        } else {
            i++;
        }
        if (j >= size || (char)data[j] != ch)
            abort();
    }
    if (j != size)
        abort();
    buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
    case 1: fuzz_templates(data + 1, size - 1, (data[0] & 3) == 0); break;
    case 2: fuzz_negotiate(data + 1, size - 1); break;
    default: fuzz_escape(data + 1, size - 1); break;
    }
    return 0;
}
