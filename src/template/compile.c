/*
 * compile.c - template source to op array (see internal.h for the form).
 *
 * One pass over the source: find "{{", parse the tag, decide whether it
 * stands alone on its line (then the line disappears from the output, as
 * Mustache specifies, so that .txt e-mails do not fill with blank lines),
 * hand the text before it to the pending text run and the tag to its
 * handler.  Text runs collect in a buffer and become one op when the next
 * real tag comes, so a comment does not split a run.
 */
#include "template/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/text.h"

/* A parsed tag.  sigil is the character after "{{" ('#', '^', '/', '!',
 * '>', '<', '$', '&'), '{' for "{{{", 't' for "{{t:", 0 for a variable. */
struct tag {
    char sigil;
    const char *name;
    size_t name_len;
    size_t begin; /* offset of "{{" */
    size_t end;   /* offset just past the closing delimiter */
    uint32_t line;
};

/* A section, inverted section, block or parent waiting for its close. */
struct open_tag {
    uint32_t op;
    uint32_t line;
    char sigil;
    const char *name;
    size_t name_len;
};

struct compiler {
    struct arena *arena;
    struct tpl *tpl;
    const char *src;
    size_t len;
    const char *key; /* message key, or NULL for a template */
    struct kr_error *err;
    uint32_t line; /* line number at offset line_pos */
    size_t line_pos;
    struct tpl_op *ops; /* malloc'd while compiling, copied to the arena */
    size_t count, cap;
    struct buf text; /* pending text run */
    struct open_tag open[TPL_NESTING_MAX];
    unsigned depth;
};

static int fail(struct compiler *c, uint32_t line, const char *fmt, ...) KR_PRINTF(3, 4);

static int fail(struct compiler *c, uint32_t line, const char *fmt, ...)
{
    char what[192];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (c->key)
        return kr_error_set(c->err, KR_ERR_INVALID, "%s: message '%s', line %u: %s", c->tpl->label,
                            c->key, line, what);
    return kr_error_set(c->err, KR_ERR_INVALID, "%s:%u: %s", c->tpl->label, line, what);
}

static int fail_nomem(struct compiler *c)
{
    return kr_error_set(c->err, KR_ERR_NOMEM, "%s: out of memory", c->tpl->label);
}

/* Line number of offset pos, counted from the start: for error paths that
 * look back at text before the current tag. */
static uint32_t line_of(const struct compiler *c, size_t pos)
{
    uint32_t line = 1;
    for (size_t i = 0; i < pos; i++)
        line += c->src[i] == '\n';
    return line;
}

/* Line number of offset pos; offsets must be asked for in increasing order. */
static uint32_t line_at(struct compiler *c, size_t pos)
{
    const char *p = c->src + c->line_pos;
    const char *end = c->src + pos;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        c->line++;
        p++;
    }
    c->line_pos = pos;
    return c->line;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool is_word(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

/* Index of the first character of s[0..len) that is neither a word
 * character nor in extra, or len. */
static size_t bad_char(const char *s, size_t len, const char *extra)
{
    for (size_t i = 0; i < len; i++)
        if (!is_word(s[i]) && (s[i] == '\0' || !strchr(extra, s[i])))
            return i;
    return len;
}

/* True if s[0..len) is sep-separated non-empty segments; with no_dots,
 * "." and ".." segments are refused too (template names are paths). */
static bool segments_valid(const char *s, size_t len, char sep, bool no_dots)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != sep)
            continue;
        size_t n = i - start;
        if (n == 0)
            return false;
        if (no_dots && s[start] == '.' && (n == 1 || (n == 2 && s[start + 1] == '.')))
            return false;
        start = i + 1;
    }
    return true;
}

bool tpl_name_valid(const char *s, size_t len)
{
    return len > 0 && bad_char(s, len, "./") == len && segments_valid(s, len, '/', true);
}

/* Check the name of t for its kind; on error say which character is wrong. */
static int check_name(struct compiler *c, const struct tag *t)
{
    /* A closing tag may close a parent, so it may hold '/'; whether it is
     * well-formed follows from matching the opening tag. */
    bool template_ref = t->sigil == '>' || t->sigil == '<';
    bool word = t->sigil == '$' || t->sigil == 't' || t->sigil == '/';
    const char *s = t->name;
    size_t n = t->name_len;
    size_t bad = bad_char(s, n, template_ref || t->sigil == '/' ? "./" : ".");
    if (bad < n) {
        unsigned char ch = (unsigned char)s[bad];
        if (ch > 0x20 && ch < 0x7f)
            return fail(c, t->line, "invalid character '%c' in name '%.*s'", ch,
                        (int)(n > 64 ? 64 : n), s);
        return fail(c, t->line, "invalid character 0x%02x in name", ch);
    }
    bool ok;
    if (template_ref)
        ok = tpl_name_valid(s, n);
    else if (word || (n == 1 && s[0] == '.'))
        ok = true;
    else
        ok = segments_valid(s, n, '.', false);
    if (!ok)
        return fail(c, t->line, "invalid name '%.*s'", (int)(n > 64 ? 64 : n), s);
    return KR_OK;
}

/* Append an op; returns its index or -1 on OOM. */
static long push_op(struct compiler *c, enum tpl_op_kind kind, uint32_t line)
{
    if (c->count == c->cap) {
        void *p = tpl_grow(c->ops, &c->cap, c->count + 1, sizeof(*c->ops));
        if (!p)
            return -1;
        c->ops = p;
    }
    struct tpl_op *op = &c->ops[c->count];
    memset(op, 0, sizeof(*op));
    op->kind = (uint8_t)kind;
    op->line = line;
    op->end = (uint32_t)c->count + 1;
    return (long)c->count++;
}

/* Turn the pending text into a TPL_OP_TEXT op. */
static int flush_text(struct compiler *c, uint32_t line)
{
    if (buf_status(&c->text))
        return fail_nomem(c);
    if (c->text.len == 0)
        return KR_OK;
    char *s = arena_alloc(c->arena, c->text.len);
    long i = push_op(c, TPL_OP_TEXT, line);
    if (!s || i < 0)
        return fail_nomem(c);
    memcpy(s, c->text.data, c->text.len);
    c->ops[i].u.text.s = s;
    c->ops[i].u.text.len = c->text.len;
    buf_reset(&c->text);
    return KR_OK;
}

/* The name of the innermost open tag, NUL-terminated (open_tag.name points
 * into the source and is not). */
static const char *innermost_name(const struct compiler *c)
{
    return c->ops[c->open[c->depth - 1].op].name;
}

static bool in_parent(const struct compiler *c)
{
    return c->depth > 0 && c->open[c->depth - 1].sigil == '<';
}

/* Add src[from..to) to the pending text.  Directly inside a parent
 * reference only whitespace may stand, and it is dropped: the parent's own
 * text is what renders. */
static int add_text(struct compiler *c, size_t from, size_t to)
{
    if (to <= from)
        return KR_OK;
    const char *s = c->src + from;
    size_t n = to - from;
    if (in_parent(c)) {
        for (size_t i = 0; i < n; i++)
            if (!is_space(s[i]))
                return fail(c, line_of(c, from + i), "text inside parent '%s' must be in a block",
                            innermost_name(c));
        return KR_OK;
    }
    /* Message text is escaped once here, not at every render. */
    if (c->key && c->tpl->html)
        (void)tpl_escape_html(&c->text, s, n);
    else
        (void)buf_append(&c->text, s, n);
    return buf_status(&c->text) ? fail_nomem(c) : KR_OK;
}

static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && is_space(s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && is_space(s[*len - 1]))
        (*len)--;
    return s;
}

/* Split "{{t:key}}" off variables: the t: prefix makes a message tag. */
static int classify_plain(struct compiler *c, struct tag *t, const char *content, size_t clen)
{
    unsigned char first = clen ? (unsigned char)content[0] : ' ';
    if (!is_space((char)first) && !is_word((char)first) && first != '.') {
        if (first > 0x20 && first < 0x7f)
            return fail(c, t->line, "unknown tag sigil '%c'", first);
        return fail(c, t->line, "unknown tag sigil 0x%02x", first);
    }
    if (t->name_len >= 2 && t->name[0] == 't' && t->name[1] == ':') {
        t->sigil = 't';
        t->name += 2;
        t->name_len -= 2;
    }
    return KR_OK;
}

/* Parse the tag whose "{{" is at offset at. */
static int parse_tag(struct compiler *c, size_t at, struct tag *t)
{
    size_t p = at + 2;
    bool triple = p < c->len && c->src[p] == '{';
    size_t dlen = triple ? 3 : 2;
    t->begin = at;
    t->line = line_at(c, at);
    t->sigil = triple ? '{' : 0;
    p += triple;
    const char *close = memmem(c->src + p, c->len - p, "}}}", dlen);
    if (!close)
        return fail(c, t->line, "unclosed tag '%s'", triple ? "{{{" : "{{");
    size_t cend = (size_t)(close - c->src);
    t->end = cend + dlen;
    if (!triple && p < cend && memchr("#^/!><$&", c->src[p], 8))
        t->sigil = c->src[p++];
    if (t->sigil == '!')
        return KR_OK;
    t->name_len = cend - p;
    t->name = trim(c->src + p, &t->name_len);
    int rc = t->sigil ? KR_OK : classify_plain(c, t, c->src + p, cend - p);
    if (rc)
        return rc;
    if (t->name_len == 0)
        return fail(c, t->line, "empty tag name");
    return check_name(c, t);
}

/*
 * A tag other than a variable or message that is alone on its line (only
 * spaces and tabs around it) takes the whole line with it.  On true,
 * *text_end is where the text before the tag stops and *next where the text
 * after it starts.
 */
static bool standalone(const struct compiler *c, const struct tag *t, size_t *text_end,
                       size_t *next)
{
    if (!memchr("#^/!><$", t->sigil, 7) || t->sigil == 0)
        return false;
    size_t b = t->begin;
    while (b > 0 && (c->src[b - 1] == ' ' || c->src[b - 1] == '\t'))
        b--;
    if (b > 0 && c->src[b - 1] != '\n')
        return false;
    size_t e = t->end;
    while (e < c->len && (c->src[e] == ' ' || c->src[e] == '\t'))
        e++;
    if (e + 1 < c->len && c->src[e] == '\r' && c->src[e + 1] == '\n')
        e += 2;
    else if (e < c->len && c->src[e] == '\n')
        e++;
    else if (e < c->len)
        return false;
    *text_end = b;
    *next = e;
    return true;
}

/* Copy the name of t into the arena. */
static const char *copy_name(struct compiler *c, const struct tag *t)
{
    return arena_strndup(c->arena, t->name, t->name_len);
}

/* Split a dotted name into its parts. */
static int make_path(struct compiler *c, const struct tag *t, struct tpl_path *path)
{
    path->parts = NULL;
    path->count = 0;
    if (t->name_len == 1 && t->name[0] == '.')
        return KR_OK;
    uint32_t n = 1;
    for (size_t i = 0; i < t->name_len; i++)
        n += t->name[i] == '.';
    struct tpl_key *parts = arena_calloc(c->arena, n, sizeof(*parts));
    if (!parts)
        return fail_nomem(c);
    const char *s = t->name;
    const char *end = t->name + t->name_len;
    for (uint32_t i = 0; i < n; i++) {
        const char *dot = memchr(s, '.', (size_t)(end - s));
        const char *stop = dot ? dot : end;
        parts[i].len = (size_t)(stop - s);
        parts[i].s = arena_strndup(c->arena, s, parts[i].len);
        if (!parts[i].s)
            return fail_nomem(c);
        s = stop + 1;
    }
    path->parts = parts;
    path->count = n;
    return KR_OK;
}

/* A variable, partial or message: an op without children. */
static int leaf_tag(struct compiler *c, const struct tag *t)
{
    enum tpl_op_kind kind = TPL_OP_RAW;
    if (t->sigil == '>')
        kind = TPL_OP_PARTIAL;
    else if (t->sigil == 't')
        kind = TPL_OP_MESSAGE;
    else if (t->sigil == 0 && c->tpl->html)
        kind = TPL_OP_ESCAPED;
    const char *name = copy_name(c, t);
    long i = push_op(c, kind, t->line);
    if (!name || i < 0)
        return fail_nomem(c);
    struct tpl_op *op = &c->ops[i];
    op->name = name;
    op->html = c->tpl->html;
    if (kind == TPL_OP_RAW || kind == TPL_OP_ESCAPED)
        return make_path(c, t, &op->u.path);
    return KR_OK;
}

static int open_tag(struct compiler *c, const struct tag *t)
{
    static const enum tpl_op_kind kinds[] = {
        ['#'] = TPL_OP_SECTION,
        ['^'] = TPL_OP_INVERTED,
        ['$'] = TPL_OP_BLOCK,
        ['<'] = TPL_OP_PARENT,
    };
    if (c->depth == TPL_NESTING_MAX)
        return fail(c, t->line, "sections nested deeper than %d", TPL_NESTING_MAX);
    const char *name = copy_name(c, t);
    long i = push_op(c, kinds[(unsigned char)t->sigil], t->line);
    if (!name || i < 0)
        return fail_nomem(c);
    struct tpl_op *op = &c->ops[i];
    op->name = name;
    if (t->sigil == '#' || t->sigil == '^') {
        int rc = make_path(c, t, &op->u.path);
        if (rc)
            return rc;
    }
    c->open[c->depth++] = (struct open_tag){
        .op = (uint32_t)i,
        .line = t->line,
        .sigil = t->sigil,
        .name = t->name,
        .name_len = t->name_len,
    };
    return KR_OK;
}

static int cmp_op_names(const void *a, const void *b)
{
    const struct tpl_op *const *x = a;
    const struct tpl_op *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* A parent reference may override each block once: a second override of
 * the same name would be dead text, most likely a copy-and-paste slip.
 * Sorting the names keeps this linear-logarithmic for any input. */
static int check_overrides(struct compiler *c, uint32_t parent)
{
    size_t n = 0, cap = 0;
    const struct tpl_op **blocks = NULL;
    int rc = KR_OK;
    for (uint32_t i = parent + 1; i < c->count; i = c->ops[i].end) {
        void *p = tpl_grow(blocks, &cap, n + 1, sizeof(*blocks));
        if (!p) {
            rc = fail_nomem(c);
            goto out;
        }
        blocks = p;
        blocks[n++] = &c->ops[i];
    }
    if (n > 1)
        qsort(blocks, n, sizeof(*blocks), cmp_op_names);
    for (size_t i = 1; i < n && rc == KR_OK; i++) {
        if (strcmp(blocks[i - 1]->name, blocks[i]->name) == 0) {
            uint32_t line =
                blocks[i - 1]->line > blocks[i]->line ? blocks[i - 1]->line : blocks[i]->line;
            rc = fail(c, line, "block '%s' overridden twice", blocks[i]->name);
        }
    }
out:
    free(blocks);
    return rc;
}

static int close_tag(struct compiler *c, const struct tag *t)
{
    int len = (int)(t->name_len > 64 ? 64 : t->name_len);
    if (c->depth == 0)
        return fail(c, t->line, "closing tag '%.*s' without an open section", len, t->name);
    const struct open_tag *o = &c->open[c->depth - 1];
    if (o->name_len != t->name_len || memcmp(o->name, t->name, t->name_len) != 0)
        return fail(c, t->line, "closing tag '%.*s' does not match '%.*s' opened on line %u", len,
                    t->name, (int)(o->name_len > 64 ? 64 : o->name_len), o->name, o->line);
    c->ops[o->op].end = (uint32_t)c->count;
    c->depth--;
    return o->sigil == '<' ? check_overrides(c, o->op) : KR_OK;
}

/* Tags that may not stand where t stands. */
static int check_placement(struct compiler *c, const struct tag *t)
{
    static const char *const what[] = {
        ['>'] = "partials",
        ['<'] = "parents",
        ['$'] = "blocks",
        ['t'] = "messages",
    };
    if (c->key && memchr("><$t", t->sigil, 4))
        return fail(c, t->line, "%s are not allowed in messages", what[(unsigned char)t->sigil]);
    if (in_parent(c) && !memchr("$!/", t->sigil, 3))
        return fail(c, t->line, "only blocks may stand inside parent '%s'", innermost_name(c));
    return KR_OK;
}

static int handle_tag(struct compiler *c, const struct tag *t)
{
    int rc = check_placement(c, t);
    if (rc || t->sigil == '!')
        return rc;
    rc = flush_text(c, t->line);
    if (rc)
        return rc;
    switch (t->sigil) {
    case '#':
    case '^':
    case '$':
    case '<': return open_tag(c, t);
    case '/': return close_tag(c, t);
    default: return leaf_tag(c, t);
    }
}

static int compile_tags(struct compiler *c)
{
    size_t pos = 0;
    size_t text_start = 0;
    for (;;) {
        const char *open = memmem(c->src + pos, c->len - pos, "{{", 2);
        if (!open)
            break;
        struct tag t = {0};
        int rc = parse_tag(c, (size_t)(open - c->src), &t);
        if (rc)
            return rc;
        size_t text_end = t.begin;
        size_t next = t.end;
        (void)standalone(c, &t, &text_end, &next);
        rc = add_text(c, text_start, text_end);
        if (!rc)
            rc = handle_tag(c, &t);
        if (rc)
            return rc;
        pos = text_start = next;
    }
    int rc = add_text(c, text_start, c->len);
    if (!rc)
        rc = flush_text(c, line_at(c, c->len));
    if (rc || c->depth == 0)
        return rc;
    static const char *const what[] = {
        ['#'] = "section",
        ['^'] = "section",
        ['$'] = "block",
        ['<'] = "parent",
    };
    const struct open_tag *o = &c->open[c->depth - 1];
    return fail(c, o->line, "unclosed %s '%.*s'", what[(unsigned char)o->sigil],
                (int)(o->name_len > 64 ? 64 : o->name_len), o->name);
}

/* Templates are UTF-8 text without NUL bytes; check line by line so that
 * the error can say where (UTF-8 sequences never contain '\n'). */
static int check_encoding(struct compiler *c)
{
    uint32_t line = 1;
    const char *s = c->src;
    const char *end = c->src + c->len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = (size_t)((nl ? nl : end) - s);
        if (memchr(s, '\0', n))
            return fail(c, line, "NUL byte in template");
        if (!text_utf8_valid(s, n))
            return fail(c, line, "template is not valid UTF-8");
        if (!nl)
            break;
        s = nl + 1;
        line++;
    }
    return KR_OK;
}

int tpl_compile(struct arena *arena, struct tpl *t, const char *src, size_t len,
                const char *message_key, struct kr_error *err)
{
    if (len > TPL_SOURCE_MAX)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "%s: template larger than %zu bytes", t->label,
                            TPL_SOURCE_MAX);
    struct compiler c = {
        .arena = arena,
        .tpl = t,
        .src = len ? src : "",
        .len = len,
        .key = message_key,
        .err = err,
        .line = 1,
    };
    /* Escaped message text can grow to 5 times the source ("&" -> "&amp;"). */
    buf_init(&c.text, 6 * TPL_SOURCE_MAX);
    int rc = check_encoding(&c);
    if (!rc)
        rc = compile_tags(&c);
    if (!rc) {
        t->ops = arena_alloc(arena, c.count * sizeof(*c.ops));
        if (!t->ops)
            rc = fail_nomem(&c);
        else if (c.count)
            memcpy(t->ops, c.ops, c.count * sizeof(*c.ops));
        t->count = (uint32_t)c.count;
    }
    free(c.ops);
    buf_release(&c.text);
    return rc;
}
