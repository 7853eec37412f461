/*
 * notice.c - notice templates: loading with placeholder checks, and
 * rendering to PDF (see notice.h).
 */
#include "notice/notice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/log.h"
#include "core/text.h"
#include "core/util.h"
#include "payments/payments.h"
#include "pdf/pdf.h"

#define MAX_TEMPLATES 64
#define MAX_PARAGRAPHS 50
#define MAX_ROWS 50

struct notice_template {
    const char *name, *path;
    const char *title, *subject, *legal_remedy;
    const char **body;
    size_t body_count;
    const char *(*rows)[2];
    size_t row_count;
};

/* The loaded templates; each load owns one arena. */
static struct {
    struct arena *arenas[MAX_TEMPLATES + 1];
    size_t arena_count;
    struct notice_template *t[MAX_TEMPLATES];
    size_t count;
} registry;

static const char *const builtin_names[] = {
    "case.number", "case.date", "today", "workflow",      "unit",
    "county",      "reason",    "fee",   "kassenzeichen", "due_date",
};

static bool builtin(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(builtin_names) / sizeof(builtin_names[0]); i++)
        if (strlen(builtin_names[i]) == len && memcmp(builtin_names[i], name, len) == 0)
            return true;
    return false;
}

/* A data.<field> name: field of a-z, A-Z, 0-9, _ and . (nested keys). */
static bool data_name(const char *name, size_t len)
{
    if (len <= 5 || memcmp(name, "data.", 5) != 0)
        return false;
    for (size_t i = 5; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* The line of the first occurrence of needle in the source (1 if none). */
static int line_of(const char *src, const char *needle)
{
    const char *at = needle ? strstr(src, needle) : NULL;
    int line = 1;
    for (const char *p = src; at && p < at; p++)
        line += *p == '\n';
    return line;
}

/* Walk text: fn(ctx, lit, lit_len, name, len) for the literal text before
 * each placeholder and the placeholder's name (spaces trimmed), then once
 * for the rest with name NULL; stops at a non-zero return.  Unbalanced
 * braces give KR_ERR_CONFIG. */
typedef int (*each_fn)(void *ctx, const char *lit, size_t lit_len, const char *name, size_t len);

static int each_placeholder(const char *text, each_fn fn, void *ctx)
{
    const char *p = text;
    const char *open;
    while ((open = strstr(p, "{{"))) {
        const char *close = strstr(open + 2, "}}");
        const char *next_open = strstr(open + 2, "{{");
        if (!close || (next_open && next_open < close))
            return KR_ERR_CONFIG;
        const char *name = open + 2;
        size_t len = (size_t)(close - name);
        while (len && *name == ' ')
            name++, len--;
        while (len && name[len - 1] == ' ')
            len--;
        int rc = fn(ctx, p, (size_t)(open - p), name, len);
        if (rc)
            return rc;
        p = close + 2;
    }
    if (strstr(p, "}}"))
        return KR_ERR_CONFIG;
    return fn(ctx, p, strlen(p), NULL, 0);
}

struct check_ctx {
    const char *bad;
    size_t bad_len;
};

static int check_name(void *ctx, const char *lit, size_t lit_len, const char *name, size_t len)
{
    (void)lit, (void)lit_len;
    struct check_ctx *c = ctx;
    if (!name || builtin(name, len) || data_name(name, len))
        return KR_OK;
    c->bad = name;
    c->bad_len = len;
    return KR_ERR_CONFIG;
}

/* A required (or optional) string member, its placeholders checked. */
static int get_text(const char *path, const char *src, json_t *o, const char *key, bool required,
                    struct arena *a, const char **out, struct kr_error *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v && !required)
        return KR_OK;
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 8000)
        return kr_error_set(err, KR_ERR_CONFIG, "%s:%d: \"%s\" must be a text of 1-8000 bytes",
                            path, line_of(src, v ? key : NULL), key);
    struct check_ctx c = {NULL, 0};
    if (each_placeholder(s, check_name, &c) != KR_OK) {
        if (!c.bad)
            return kr_error_set(err, KR_ERR_CONFIG, "%s:%d: \"%s\": unbalanced {{ }}", path,
                                line_of(src, s), key);
        char *name = arena_strndup(a, c.bad, c.bad_len);
        return kr_error_set(err, KR_ERR_CONFIG, "%s:%d: unknown placeholder {{%s}}", path,
                            line_of(src, name ? name : s), name ? name : "?");
    }
    *out = arena_strdup(a, s);
    return *out ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}

static int parse_body(const char *path, const char *src, json_t *root, struct arena *a,
                      struct notice_template *t, struct kr_error *err)
{
    json_t *body = json_object_get(root, "body");
    size_t n = json_array_size(body);
    if (!json_is_array(body) || n == 0 || n > MAX_PARAGRAPHS)
        return kr_error_set(err, KR_ERR_CONFIG, "%s:%d: \"body\" must be a list of 1-%d texts",
                            path, line_of(src, "\"body\""), MAX_PARAGRAPHS);
    t->body = arena_calloc(a, n, sizeof(char *));
    int rc = t->body ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        json_t *holder = json_pack("{s:O}", "body", json_array_get(body, i));
        rc = holder ? get_text(path, src, holder, "body", true, a, &t->body[i], err)
                    : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        json_decref(holder);
    }
    t->body_count = n;
    return rc;
}

static int parse_rows(const char *path, const char *src, json_t *root, struct arena *a,
                      struct notice_template *t, struct kr_error *err)
{
    json_t *rows = json_object_get(root, "rows");
    if (!rows)
        return KR_OK;
    size_t n = json_array_size(rows);
    if (!json_is_array(rows) || n > MAX_ROWS)
        return kr_error_set(err, KR_ERR_CONFIG, "%s:%d: \"rows\" must be a list of at most %d",
                            path, line_of(src, "\"rows\""), MAX_ROWS);
    t->rows = arena_calloc(a, n ? n : 1, sizeof(*t->rows));
    int rc = t->rows ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        json_t *row = json_array_get(rows, i);
        json_t *holder = json_pack("{s:O?,s:O?}", "label", json_array_get(row, 0), "value",
                                   json_array_get(row, 1));
        if (!json_is_array(row) || json_array_size(row) != 2 || !holder)
            rc = kr_error_set(err, KR_ERR_CONFIG, "%s:%d: every row is [\"label\", \"value\"]",
                              path, line_of(src, "\"rows\""));
        if (rc == KR_OK)
            rc = get_text(path, src, holder, "label", true, a, &t->rows[i][0], err);
        if (rc == KR_OK)
            rc = get_text(path, src, holder, "value", true, a, &t->rows[i][1], err);
        json_decref(holder);
    }
    t->row_count = n;
    return rc;
}

static int parse(struct arena *a, const char *name, const char *path, const char *src, size_t len,
                 struct notice_template **out, struct kr_error *err)
{
    if (len > NOTICE_FILE_MAX)
        return kr_error_set(err, KR_ERR_CONFIG, "%s: larger than %d bytes", path, NOTICE_FILE_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(src, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return kr_error_set(err, KR_ERR_CONFIG, "%s:%d: %s", path, jerr.line, jerr.text);
    struct notice_template *t = arena_zalloc(a, sizeof(*t));
    int rc = t ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc == KR_OK && !json_is_object(root))
        rc = kr_error_set(err, KR_ERR_CONFIG, "%s:1: a notice template is a JSON object", path);
    if (rc == KR_OK)
        rc = get_text(path, src, root, "title", true, a, &t->title, err);
    if (rc == KR_OK)
        rc = get_text(path, src, root, "subject", true, a, &t->subject, err);
    if (rc == KR_OK)
        rc = get_text(path, src, root, "legal_remedy", true, a, &t->legal_remedy, err);
    if (rc == KR_OK)
        rc = parse_body(path, src, root, a, t, err);
    if (rc == KR_OK)
        rc = parse_rows(path, src, root, a, t, err);
    json_decref(root);
    if (rc == KR_OK) {
        t->name = arena_strdup(a, name);
        t->path = arena_strdup(a, path);
        rc = t->name && t->path ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    if (rc == KR_OK)
        *out = t;
    return rc;
}

void notice_unload(void)
{
    for (size_t i = 0; i < registry.arena_count; i++)
        arena_free(registry.arenas[i]);
    memset(&registry, 0, sizeof(registry));
}

static int name_from_path(const char *path, char name[NOTICE_NAME_MAX + 1], struct kr_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base) - 5; /* ".json" */
    bool ok = n >= 1 && n <= NOTICE_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (base[i] >= 'a' && base[i] <= 'z') || (base[i] >= '0' && base[i] <= '9') ||
             base[i] == '-' || base[i] == '_';
    if (!ok)
        return kr_error_set(err, KR_ERR_CONFIG, "%s: the name must be 1-64 of a-z, 0-9, - and _",
                            path);
    memcpy(name, base, n);
    name[n] = '\0';
    return KR_OK;
}

int notice_load_dir(const char *dir, struct kr_error *err)
{
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char **paths;
    size_t n;
    struct notice_template *loaded[MAX_TEMPLATES];
    int rc = kr_list_dir(a, dir, ".json", MAX_TEMPLATES, true, &paths, &n, err);
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        char name[NOTICE_NAME_MAX + 1], *text = NULL;
        size_t len = 0;
        rc = name_from_path(paths[i], name, err);
        if (rc == KR_OK)
            rc = kr_read_file(paths[i], NOTICE_FILE_MAX, &text, &len, err);
        if (rc == KR_OK)
            rc = parse(a, name, paths[i], text, len, &loaded[i], err);
        free(text);
    }
    if (rc != KR_OK) {
        arena_free(a);
        return rc == KR_ERR_NOMEM ? rc : KR_ERR_CONFIG;
    }
    notice_unload();
    registry.arenas[registry.arena_count++] = a;
    memcpy(registry.t, loaded, n * sizeof(loaded[0]));
    registry.count = n;
    kr_log(KR_LOG_INFO, "notices_loaded", "%zu notice templates from %s", n, dir);
    return KR_OK;
}

int notice_load_text(const char *name, const char *path, const char *text, size_t len,
                     struct kr_error *err)
{
    if (registry.arena_count == MAX_TEMPLATES + 1)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "too many notice templates");
    struct arena *a = arena_new(0);
    struct notice_template *t = NULL;
    int rc = a ? parse(a, name, path, text, len, &t, err)
               : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc != KR_OK) {
        arena_free(a);
        return rc;
    }
    size_t i = 0;
    while (i < registry.count && strcmp(registry.t[i]->name, name) != 0)
        i++;
    if (i == MAX_TEMPLATES) {
        arena_free(a);
        return kr_error_set(err, KR_ERR_TOO_LARGE, "too many notice templates");
    }
    registry.arenas[registry.arena_count++] = a;
    registry.t[i] = t;
    if (i == registry.count)
        registry.count++;
    return KR_OK;
}

const struct notice_template *notice_find(const char *name)
{
    for (size_t i = 0; name && i < registry.count; i++)
        if (strcmp(registry.t[i]->name, name) == 0)
            return registry.t[i];
    return NULL;
}

const char *notice_title(const struct notice_template *t)
{
    return t->title;
}

/* ---- Placeholders of data fields ----------------------------------------------- */

struct field_walk {
    int (*fn)(void *ctx, const char *field, struct kr_error *err);
    void *ctx;
    struct kr_error *err;
    int rc;
};

static int walk_one(void *ctx, const char *lit, size_t lit_len, const char *name, size_t len)
{
    (void)lit, (void)lit_len;
    struct field_walk *w = ctx;
    if (!name || !data_name(name, len))
        return KR_OK;
    char field[256];
    (void)snprintf(field, sizeof(field), "%.*s", (int)(len - 5), name + 5);
    w->rc = w->fn(w->ctx, field, w->err);
    return w->rc;
}

int notice_each_field(const struct notice_template *t,
                      int (*fn)(void *ctx, const char *field, struct kr_error *err), void *ctx,
                      struct kr_error *err)
{
    struct field_walk w = {fn, ctx, err, KR_OK};
    const char *texts[3 + MAX_PARAGRAPHS + 2 * MAX_ROWS];
    size_t n = 0;
    texts[n++] = t->title;
    texts[n++] = t->subject;
    texts[n++] = t->legal_remedy;
    for (size_t i = 0; i < t->body_count; i++)
        texts[n++] = t->body[i];
    for (size_t i = 0; i < t->row_count; i++) {
        texts[n++] = t->rows[i][0];
        texts[n++] = t->rows[i][1];
    }
    for (size_t i = 0; i < n && w.rc == KR_OK; i++)
        (void)each_placeholder(texts[i], walk_one, &w);
    return w.rc;
}

/* ---- Rendering --------------------------------------------------------------------- */

struct fill {
    const struct notice_input *in;
    struct arena *a;
    struct buf *out;
};

static void date_text(int64_t t, char out[16])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!t || !localtime_r(&tt, &tm) || !strftime(out, 16, "%d.%m.%Y", &tm))
        (void)snprintf(out, 16, "–");
}

static const char *value_of(struct fill *f, const char *name, size_t len)
{
    const struct notice_input *in = f->in;
    const struct notice_payment *pay = in->payment;
    char *key = arena_strndup(f->a, name, len);
    char *tmp = arena_alloc(f->a, 40);
    if (!key || !tmp)
        return NULL;
    if (strcmp(key, "case.number") == 0)
        return in->number;
    if (strcmp(key, "workflow") == 0)
        return in->workflow;
    if (strcmp(key, "unit") == 0)
        return in->unit;
    if (strcmp(key, "county") == 0)
        return in->county;
    if (strcmp(key, "reason") == 0)
        return in->reason;
    if (strcmp(key, "case.date") == 0 || strcmp(key, "today") == 0) {
        date_text(key[0] == 'c' ? in->opened_at : in->now, tmp);
        return tmp;
    }
    if (strcmp(key, "fee") == 0) {
        char m[TEXT_MONEY_LEN];
        return pay ? arena_printf(f->a, "%s EUR", text_money(pay->amount_cents, "de", m)) : NULL;
    }
    if (strcmp(key, "kassenzeichen") == 0) {
        if (!pay)
            return NULL;
        payments_kz_format(pay->kassenzeichen, tmp);
        return tmp;
    }
    if (strcmp(key, "due_date") == 0) {
        if (!pay)
            return NULL;
        date_text(pay->due_at, tmp);
        return tmp;
    }
    return in->field ? in->field(in->ctx, key + 5, f->a) : NULL;
}

static int fill_one(void *ctx, const char *lit, size_t lit_len, const char *name, size_t len)
{
    struct fill *f = ctx;
    (void)buf_append(f->out, lit, lit_len);
    if (!name)
        return KR_OK;
    const char *v = value_of(f, name, len);
    (void)buf_puts(f->out, v && *v ? v : "–");
    return KR_OK;
}

/* text with its placeholders filled in, in the arena. */
static const char *fill(const struct notice_input *in, struct arena *a, const char *text)
{
    struct buf out;
    buf_init(&out, 64 * 1024);
    struct fill f = {in, a, &out};
    (void)each_placeholder(text, fill_one, &f); /* balanced: checked at load */
    char *s = buf_status(&out) == KR_OK ? arena_strndup(a, buf_cstr(&out), out.len) : NULL;
    buf_release(&out);
    return s ? s : "";
}

static int draw_girocode(void *cr, double x, double y, double size, const void *arg,
                         struct kr_error *err)
{
    const struct notice_payment *pay = arg;
    struct payments_girocode g = {pay->bic, pay->creditor, pay->iban, pay->amount_cents,
                                  pay->kassenzeichen};
    return payments_girocode_draw(cr, x, y, size, &g, err);
}

static void payment_section(struct pdf_doc *doc, const struct notice_input *in, struct arena *a)
{
    const struct notice_payment *pay = in->payment;
    char m[TEXT_MONEY_LEN], kz[32], due[16];
    payments_kz_format(pay->kassenzeichen, kz);
    date_text(pay->due_at, due);
    pdf_heading(doc, 2, "Zahlungshinweise");
    pdf_paragraph(doc, "Bitte überweisen Sie die Gebühr bis zum Fälligkeitstag und geben Sie "
                       "das Kassenzeichen an.");
    pdf_row(doc, "Betrag", arena_printf(a, "%s EUR", text_money(pay->amount_cents, "de", m)));
    pdf_row(doc, "Fällig am", due);
    pdf_row(doc, "Empfänger", pay->creditor);
    pdf_row(doc, "IBAN", pay->iban);
    if (pay->bic && *pay->bic)
        pdf_row(doc, "BIC", pay->bic);
    pdf_row(doc, "Kassenzeichen", kz);
    pdf_figure(doc, 110, draw_girocode, pay,
               "GiroCode: Scannen Sie den Code mit Ihrer Banking-App; er enthält Empfänger, "
               "IBAN, Betrag und Kassenzeichen.");
}

int notice_render(const struct notice_template *t, const struct notice_input *in, struct arena *a,
                  struct buf *pdf, const char **subject, struct kr_error *err)
{
    struct pdf_doc *doc;
    char footer[96];
    (void)snprintf(footer, sizeof(footer), "Vorgang %s", in->number);
    const char *title = fill(in, a, t->title);
    int rc = pdf_doc_new(
        pdf, &(struct pdf_page_header){.county = in->county, .title = title, .footer = footer},
        &doc, err);
    if (rc != KR_OK)
        return rc;
    char today[16];
    date_text(in->now, today);
    pdf_row(doc, "Datum", today);
    pdf_row(doc, "Vorgangsnummer", in->number);
    pdf_row(doc, "Stelle", in->unit);
    pdf_space(doc, 8);
    pdf_heading(doc, 1, title);
    for (size_t i = 0; i < t->body_count; i++)
        pdf_paragraph(doc, fill(in, a, t->body[i]));
    for (size_t i = 0; i < t->row_count; i++)
        pdf_row(doc, fill(in, a, t->rows[i][0]), fill(in, a, t->rows[i][1]));
    if (in->payment)
        payment_section(doc, in, a);
    pdf_heading(doc, 2, "Rechtsbehelfsbelehrung");
    pdf_paragraph(doc, fill(in, a, t->legal_remedy));
    pdf_note(doc, "Dieser Bescheid wurde elektronisch erstellt und ist ohne Unterschrift gültig.");
    rc = pdf_doc_finish(doc, err);
    if (rc == KR_OK)
        *subject = fill(in, a, t->subject);
    return rc;
}
