/*
 * render.c - walking the compiled ops of a linked set with a JSON context.
 *
 * Rendering reads the set and writes only to the caller's buffer and to the
 * struct render on the caller's stack, so any number of threads may render
 * from one set at once.  Nothing here allocates except the output buffer.
 *
 * Block overrides are found through a chain of scopes on the C stack: each
 * parent reference pushes the blocks it overrides.  The chain reaches
 * through partials and parents alike, and the outermost scope that
 * overrides a block wins, which is what makes the most derived template win.
 */
#include "template/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The override blocks of one parent reference: children of the PARENT op
 * ops[begin - 1] of tpl. */
struct scope {
    const struct tpl *tpl;
    uint32_t begin, end;
    const struct scope *outer;
};

/*
 * Output staging: small appends (a value, a few bytes of text between two
 * tags, an entity) collect here and reach the caller's buffer in large
 * pieces, because a buf_append per piece costs more than the copying.
 * Long runs bypass the stage.  Errors of the buffer stay sticky there.
 */
#define SINK_SIZE 2048

struct sink {
    struct buf *buf;
    size_t used;
    char stage[SINK_SIZE];
};

static int sink_flush(struct sink *s)
{
    int rc = buf_append(s->buf, s->stage, s->used);
    s->used = 0;
    return rc;
}

static inline int sink_write(struct sink *s, const char *p, size_t n)
{
    if (n <= SINK_SIZE - s->used) {
        memcpy(s->stage + s->used, p, n);
        s->used += n;
        return KR_OK;
    }
    int rc = sink_flush(s);
    if (rc || n > SINK_SIZE / 2)
        return rc ? rc : buf_append(s->buf, p, n);
    memcpy(s->stage, p, n);
    s->used = n;
    return KR_OK;
}

struct render {
    struct sink out;
    const struct tpl_catalogue *cat; /* NULL when the set has none */
    struct kr_error *err;
    uint64_t steps;
    unsigned frames;    /* nested render_ops calls */
    unsigned recursion; /* nested partials and parents */
    unsigned depth;     /* entries used in stack */
    const json_t *stack[TPL_CONTEXT_MAX];
};

/* ---- values ---- */

/* Bytes of x that are zero get their high bit set (exact for "is there
 * one"; the classic test from Hacker's Delight). */
static inline uint64_t zero_bytes(uint64_t x)
{
    return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

#define EVERY_BYTE(c) (0x0101010101010101ULL * (unsigned char)(c))

/* True if one of the eight bytes of w is & < > " or '. */
static inline bool word_has_special(uint64_t w)
{
    return (zero_bytes(w ^ EVERY_BYTE('&')) | zero_bytes(w ^ EVERY_BYTE('<')) |
            zero_bytes(w ^ EVERY_BYTE('>')) | zero_bytes(w ^ EVERY_BYTE('"')) |
            zero_bytes(w ^ EVERY_BYTE('\''))) != 0;
}

static int sink_escape(struct sink *out, const char *s, size_t len)
{
    /* 1-based index into entity[] for the five characters, 0 elsewhere. */
    static const unsigned char special[256] = {
        ['&'] = 1, ['<'] = 2, ['>'] = 3, ['"'] = 4, ['\''] = 5,
    };
    static const struct {
        const char *s;
        size_t len;
    } entity[] = {
        {"", 0}, {"&amp;", 5}, {"&lt;", 4}, {"&gt;", 4}, {"&quot;", 6}, {"&#39;", 5},
    };
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* Scan without storing, so the compiler keeps this loop tight. */
        size_t run = i;
        for (uint64_t w; i + 8 <= len; i += 8) {
            memcpy(&w, u + i, 8);
            if (word_has_special(w))
                break;
        }
        while (i < len && !special[u[i]])
            i++;
        int rc = sink_write(out, s + run, i - run);
        if (rc == KR_OK && i < len) {
            unsigned char k = special[u[i++]];
            rc = sink_write(out, entity[k].s, entity[k].len);
        }
        if (rc)
            return rc;
    }
    return KR_OK;
}

int tpl_escape_html(struct buf *out, const char *s, size_t len)
{
    struct sink sink;
    sink.buf = out;
    sink.used = 0;
    int rc = sink_escape(&sink, s, len);
    int flushed = sink_flush(&sink);
    return rc ? rc : flushed;
}

static int emit_integer(struct sink *out, json_int_t v)
{
    char digits[24];
    size_t i = sizeof(digits);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[--i] = '-';
    return sink_write(out, digits + i, sizeof(digits) - i);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double,
 * so that 0.1 renders as "0.1" and not as "0.10000000000000001". */
static int emit_real(struct sink *out, double d)
{
    char s[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(s, sizeof(s), "%.*g", prec, d);
        if (n < 0 || (size_t)n >= sizeof(s))
            return KR_OK; /* cannot happen for a finite double */
        if (strtod(s, NULL) == d)
            break;
    }
    return sink_write(out, s, (size_t)n);
}

static int emit_value(struct sink *out, const json_t *v, bool escape)
{
    if (!v)
        return KR_OK;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (escape)
            return sink_escape(out, json_string_value(v), json_string_length(v));
        return sink_write(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return emit_integer(out, json_integer_value(v));
    case JSON_REAL: return emit_real(out, json_real_value(v));
    case JSON_TRUE: return sink_write(out, "true", 4);
    default: return KR_OK; /* false, null, objects and arrays: nothing */
    }
}

static bool falsy(const json_t *v)
{
    if (!v)
        return true;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE: return true;
    case JSON_INTEGER: return json_integer_value(v) == 0;
    case JSON_REAL: return json_real_value(v) == 0.0;
    case JSON_STRING: return json_string_length(v) == 0;
    case JSON_ARRAY: return json_array_size(v) == 0;
    default: return false;
    }
}

static const json_t *get_key(const json_t *object, const struct tpl_key *key)
{
#if JANSSON_VERSION_HEX >= 0x020e00
    return json_object_getn(object, key->s, key->len);
#else
    return json_object_get(object, key->s);
#endif
}

/* The first part of a name is searched from the innermost context out;
 * the rest descends from there and never falls back to outer contexts. */
static const json_t *lookup(const struct render *r, const struct tpl_path *path)
{
    if (path->count == 0)
        return r->depth ? r->stack[r->depth - 1] : NULL;
    const json_t *v = NULL;
    for (unsigned d = r->depth; d-- > 0 && !v;)
        if (json_is_object(r->stack[d]))
            v = get_key(r->stack[d], &path->parts[0]);
    for (uint32_t i = 1; v && i < path->count; i++)
        v = json_is_object(v) ? get_key(v, &path->parts[i]) : NULL;
    return v;
}

/* ---- ops ---- */

static int render_ops(struct render *r, const struct tpl *t, uint32_t begin, uint32_t end,
                      const struct scope *sc);

static int too_deep(struct render *r, const struct tpl *t, const struct tpl_op *op,
                    const char *what, unsigned limit)
{
    return kr_error_set(r->err, KR_ERR_INVALID, "%s:%u: %s nested deeper than %u", t->label,
                        op->line, what, limit);
}

static int push_and_render(struct render *r, const struct tpl *t, uint32_t i, const json_t *v,
                           const struct scope *sc)
{
    if (r->depth == TPL_CONTEXT_MAX)
        return too_deep(r, t, &t->ops[i], "sections", TPL_CONTEXT_MAX);
    r->stack[r->depth++] = v;
    int rc = render_ops(r, t, i + 1, t->ops[i].end, sc);
    r->depth--;
    return rc;
}

static int render_section(struct render *r, const struct tpl *t, uint32_t i, const struct scope *sc)
{
    const json_t *v = lookup(r, &t->ops[i].u.path);
    if (falsy(v))
        return KR_OK;
    if (!json_is_array(v))
        return push_and_render(r, t, i, v, sc);
    size_t n = json_array_size(v);
    for (size_t k = 0; k < n; k++) {
        int rc = push_and_render(r, t, i, json_array_get(v, k), sc);
        if (rc)
            return rc;
    }
    return KR_OK;
}

/* Render another template: a partial (same scopes) or a parent (one more). */
static int render_other(struct render *r, const struct tpl *t, const struct tpl_op *op,
                        const struct scope *sc)
{
    if (r->recursion == TPL_RECURSION_MAX)
        return too_deep(r, t, op, "partials and parents", TPL_RECURSION_MAX);
    const struct tpl *target = op->u.target;
    r->recursion++;
    int rc = render_ops(r, target, 0, target->count, sc);
    r->recursion--;
    return rc;
}

static int render_parent(struct render *r, const struct tpl *t, uint32_t i, const struct scope *sc)
{
    struct scope inner = {.tpl = t, .begin = i + 1, .end = t->ops[i].end, .outer = sc};
    return render_other(r, t, &t->ops[i], &inner);
}

/* Render the outermost override of block ops[i], or its default. */
static int render_block(struct render *r, const struct tpl *t, uint32_t i, const struct scope *sc)
{
    uint32_t id = t->ops[i].u.block_id;
    const struct tpl *found_tpl = t;
    uint32_t found = i;
    for (const struct scope *s = sc; s; s = s->outer) {
        for (uint32_t k = s->begin; k < s->end; k = s->tpl->ops[k].end) {
            r->steps++;
            if (s->tpl->ops[k].u.block_id == id) {
                found_tpl = s->tpl;
                found = k;
                break;
            }
        }
    }
    return render_ops(r, found_tpl, found + 1, found_tpl->ops[found].end, sc);
}

static int render_message(struct render *r, const struct tpl_op *op)
{
    const struct tpl_message *m = &r->cat->messages[op->u.message];
    const struct tpl *mt = op->html ? &m->html : &m->plain;
    return render_ops(r, mt, 0, mt->count, NULL);
}

static int render_op(struct render *r, const struct tpl *t, uint32_t i, const struct scope *sc)
{
    const struct tpl_op *op = &t->ops[i];
    switch ((enum tpl_op_kind)op->kind) {
    case TPL_OP_TEXT: return sink_write(&r->out, op->u.text.s, op->u.text.len);
    case TPL_OP_ESCAPED:
    case TPL_OP_RAW: return emit_value(&r->out, lookup(r, &op->u.path), op->kind == TPL_OP_ESCAPED);
    case TPL_OP_SECTION: return render_section(r, t, i, sc);
    case TPL_OP_INVERTED:
        return falsy(lookup(r, &op->u.path)) ? render_ops(r, t, i + 1, op->end, sc) : KR_OK;
    case TPL_OP_PARTIAL: return render_other(r, t, op, sc);
    case TPL_OP_PARENT: return render_parent(r, t, i, sc);
    case TPL_OP_BLOCK: return render_block(r, t, i, sc);
    case TPL_OP_MESSAGE: return render_message(r, op);
    }
    return kr_error_set(r->err, KR_ERR_INTERNAL, "%s:%u: bad op", t->label, op->line);
}

static int render_ops(struct render *r, const struct tpl *t, uint32_t begin, uint32_t end,
                      const struct scope *sc)
{
    if (r->frames == TPL_FRAMES_MAX)
        return kr_error_set(r->err, KR_ERR_INVALID, "%s: rendering nested deeper than %d", t->label,
                            TPL_FRAMES_MAX);
    r->frames++;
    int rc = KR_OK;
    for (uint32_t i = begin; i < end && rc == KR_OK; i = t->ops[i].end) {
        if (++r->steps > TPL_STEPS_MAX) {
            rc = kr_error_set(r->err, KR_ERR_TOO_LARGE,
                              "%s:%u: rendering takes more than %llu steps", t->label,
                              t->ops[i].line, (unsigned long long)TPL_STEPS_MAX);
            break;
        }
        rc = render_op(r, t, i, sc);
    }
    r->frames--;
    return rc;
}

/* ---- entry ---- */

static int describe_buf_error(const struct buf *out, struct kr_error *err)
{
    if (buf_status(out) == KR_ERR_TOO_LARGE)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "rendered text exceeds %zu bytes", out->max);
    return kr_error_set(err, buf_status(out), "cannot grow the output: %s",
                        kr_status_name(buf_status(out)));
}

int tpl_render(const struct tpl_set *set, const char *name, const char *lang, const json_t *ctx,
               struct buf *out, struct kr_error *err)
{
    if (!set->linked)
        return kr_error_set(err, KR_ERR_INVALID, "template set is not linked");
    const struct tpl *t = tpl_set_find(set, name);
    if (!t)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no template '%s'", name);
    const struct tpl_catalogue *cat = NULL;
    if (lang && !(cat = tpl_set_catalogue(set, lang)))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no language '%s'", lang);
    if (!cat && set->catalogue_count)
        cat = set->catalogues[set->default_lang];
    if (buf_status(out))
        return describe_buf_error(out, err);

    struct render r;
    r.out.buf = out;
    r.out.used = 0;
    r.cat = cat;
    r.err = err;
    r.steps = 0;
    r.frames = 0;
    r.recursion = 0;
    r.depth = 0;
    if (ctx)
        r.stack[r.depth++] = ctx;
    int rc = render_ops(&r, t, 0, t->count, NULL);
    (void)sink_flush(&r.out); /* on error too: out may hold part of the text */
    if (buf_status(out))
        return describe_buf_error(out, err);
    return rc;
}
