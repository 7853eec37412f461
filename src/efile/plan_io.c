/*
 * plan_io.c - import and export of the file plan as CSV and JSON, and the
 * demo county's plan for seed-demo.
 *
 * An import is all or nothing: every row is checked first (parents must
 * exist or come earlier, retention in range, known unit), and only a file
 * without problems is stored, in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "core/buf.h"
#include "core/text.h"
#include "core/util.h"
#include "efile/efile_internal.h"

#define IMPORT_MAX_BYTES (4 * 1024 * 1024)
#define IMPORT_MAX_ITEMS 20000
#define IMPORT_MAX_PROBLEMS 100
#define CSV_COLUMNS 8
#define CSV_FIELD_MAX 4096

static const char *const csv_header[CSV_COLUMNS] = {
    "number", "parent", "title", "description", "retention", "event", "evaluation", "unit"};

struct import {
    struct db_conn *conn;
    struct arena *a;
    const char *actor;
    struct efile_plan_input *rows;
    unsigned *lines;
    size_t count;
    struct efile_import_result *res;
};

static void problem(struct import *im, unsigned line, const char *reason)
{
    struct efile_import_result *r = im->res;
    if (r->problem_count >= IMPORT_MAX_PROBLEMS)
        return;
    r->problems[r->problem_count].line = line;
    r->problems[r->problem_count].reason = arena_strdup(im->a, reason);
    r->problem_count++;
}

/* "10", "permanent"/"dauernd", "" (inherit). */
static int parse_retention(const char *s, int *out)
{
    if (!s || !*s) {
        *out = EFILE_INHERIT;
        return KR_OK;
    }
    if (strcmp(s, "permanent") == 0 || strcmp(s, "dauernd") == 0) {
        *out = EFILE_PERMANENT;
        return KR_OK;
    }
    int64_t v;
    if (kr_parse_int64(s, -1000000, 1000000, &v) != KR_OK)
        return KR_ERR_INVALID;
    *out = (int)v;
    return KR_OK;
}

static const char *nonempty(struct arena *a, const char *s)
{
    return s && *s ? arena_strdup(a, s) : NULL;
}

/* ---- CSV (RFC 4180 quoting, ';' or ',') -------------------------------------------- */

struct csv {
    const char *p, *end;
    char sep;
    unsigned line;
};

/* Read one record into fields (at most CSV_COLUMNS + 1 counted); returns
 * the number of fields, 0 at the end, -1 on a quoting error. */
static int csv_record(struct csv *c, struct arena *a, char **fields, size_t max)
{
    if (c->p >= c->end)
        return 0;
    c->line++;
    size_t n = 0;
    struct buf f;
    buf_init(&f, CSV_FIELD_MAX);
    for (;;) {
        buf_reset(&f);
        if (c->p < c->end && *c->p == '"') {
            c->p++;
            for (;;) {
                if (c->p >= c->end)
                    goto bad;
                if (*c->p == '"' && c->p + 1 < c->end && c->p[1] == '"') {
                    buf_putc(&f, '"');
                    c->p += 2;
                } else if (*c->p == '"') {
                    c->p++;
                    break;
                } else {
                    if (*c->p == '\n')
                        c->line++;
                    buf_putc(&f, *c->p++);
                }
            }
        } else {
            while (c->p < c->end && *c->p != c->sep && *c->p != '\n' && *c->p != '\r')
                buf_putc(&f, *c->p++);
        }
        if (buf_status(&f) != KR_OK)
            goto bad;
        if (n < max)
            fields[n] = arena_strdup(a, buf_cstr(&f));
        n++;
        if (c->p < c->end && *c->p == c->sep) {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '\r')
            c->p++;
        if (c->p < c->end && *c->p == '\n')
            c->p++;
        else if (c->p < c->end)
            goto bad;
        break;
    }
    buf_release(&f);
    return (int)n;
bad:
    buf_release(&f);
    return -1;
}

static int csv_header_check(struct csv *c, struct arena *a, struct kr_error *err)
{
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const char *semi = memchr(c->p, ';', (size_t)((nl ? nl : c->end) - c->p));
    c->sep = semi ? ';' : ',';
    char *fields[CSV_COLUMNS + 1];
    int n = csv_record(c, a, fields, CSV_COLUMNS + 1);
    if (n != CSV_COLUMNS)
        return kr_error_set(err, KR_ERR_INVALID,
                            "line 1: the header must be %s;%s;%s;%s;%s;%s;%s;%s", csv_header[0],
                            csv_header[1], csv_header[2], csv_header[3], csv_header[4],
                            csv_header[5], csv_header[6], csv_header[7]);
    for (int i = 0; i < CSV_COLUMNS; i++)
        if (strcmp(fields[i], csv_header[i]) != 0)
            return kr_error_set(err, KR_ERR_INVALID, "line 1: column %d must be '%s'", i + 1,
                                csv_header[i]);
    return KR_OK;
}

static void add_row(struct import *im, unsigned line, char **f)
{
    struct efile_plan_input *r = &im->rows[im->count];
    r->number = f[0];
    r->parent = nonempty(im->a, f[1]);
    r->title = f[2];
    r->description = f[3];
    if (parse_retention(f[4], &r->retention_years) != KR_OK) {
        char msg[128];
        (void)snprintf(msg, sizeof(msg), "retention: '%.40s' is not a number of years", f[4]);
        problem(im, line, msg);
        r->retention_years = EFILE_INHERIT;
    }
    r->retention_event = nonempty(im->a, f[5]);
    r->evaluation = nonempty(im->a, f[6]);
    r->unit_code = nonempty(im->a, f[7]);
    im->lines[im->count++] = line;
}

static int parse_csv(struct import *im, const char *data, size_t len, struct kr_error *err)
{
    struct csv c = {data, data + len, ';', 0};
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3; /* the BOM spreadsheet programs write */
    int rc = csv_header_check(&c, im->a, err);
    if (rc)
        return rc;
    char *f[CSV_COLUMNS + 1];
    for (;;) {
        unsigned line = c.line + 1;
        int n = csv_record(&c, im->a, f, CSV_COLUMNS + 1);
        if (n == 0)
            break;
        if (n < 0)
            return kr_error_set(err, KR_ERR_INVALID, "line %u: broken quoting", line);
        if (n == 1 && !*f[0])
            continue; /* empty line */
        if (im->count >= IMPORT_MAX_ITEMS)
            return kr_error_set(err, KR_ERR_TOO_LARGE, "more than %d items", IMPORT_MAX_ITEMS);
        if (n != CSV_COLUMNS) {
            problem(im, line, "wrong number of columns (8 expected)");
            continue;
        }
        add_row(im, line, f);
    }
    return KR_OK;
}

/* ---- JSON ------------------------------------------------------------------------ */

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void json_row(struct import *im, unsigned line, json_t *o)
{
    struct efile_plan_input *r = &im->rows[im->count];
    r->number = arena_strdup(im->a, jstr(o, "number"));
    r->parent = nonempty(im->a, jstr(o, "parent"));
    r->title = arena_strdup(im->a, jstr(o, "title"));
    r->description = arena_strdup(im->a, jstr(o, "description"));
    json_t *ret = json_object_get(o, "retention");
    r->retention_years = EFILE_INHERIT;
    if (json_is_integer(ret) && json_integer_value(ret) >= -1000000 &&
        json_integer_value(ret) <= 1000000)
        r->retention_years = (int)json_integer_value(ret);
    else if (json_is_string(ret) && parse_retention(json_string_value(ret), &r->retention_years))
        problem(im, line, "retention: not a number of years or \"permanent\"");
    else if (ret && !json_is_null(ret) && !json_is_string(ret))
        problem(im, line, "retention: not a number of years or \"permanent\"");
    r->retention_event = nonempty(im->a, jstr(o, "event"));
    r->evaluation = nonempty(im->a, jstr(o, "evaluation"));
    r->unit_code = nonempty(im->a, jstr(o, "unit"));
    im->lines[im->count++] = line;
}

static int parse_json(struct import *im, const char *data, size_t len, struct kr_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return kr_error_set(err, KR_ERR_INVALID, "line %d: %s", jerr.line, jerr.text);
    int rc = KR_OK;
    json_t *items = json_object_get(root, "items");
    const char *fmt = jstr(root, "format");
    if (!fmt || strcmp(fmt, "kreisel-fileplan/1") != 0 || !json_is_array(items))
        rc = kr_error_set(err, KR_ERR_INVALID,
                          "expected {\"format\": \"kreisel-fileplan/1\", \"items\": [...]}");
    else if (json_array_size(items) > IMPORT_MAX_ITEMS)
        rc = kr_error_set(err, KR_ERR_TOO_LARGE, "more than %d items", IMPORT_MAX_ITEMS);
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        if (rc)
            break;
        if (!json_is_object(o))
            problem(im, (unsigned)i + 1, "not an object");
        else
            json_row(im, (unsigned)i + 1, o);
    }
    json_decref(root);
    return rc;
}

/* ---- Checking and storing ------------------------------------------------------------ */

static bool seen_before(const struct import *im, size_t upto, const char *number)
{
    for (size_t j = 0; j < upto; j++)
        if (im->rows[j].number && strcmp(im->rows[j].number, number) == 0)
            return true;
    return false;
}

static void check_row(struct import *im, size_t i)
{
    const struct efile_plan_input *r = &im->rows[i];
    struct kr_error e;
    kr_error_clear(&e);
    unsigned line = im->lines[i];
    if (!r->number || !r->title) {
        problem(im, line, "number and title are required");
        return;
    }
    if (seen_before(im, i, r->number)) {
        problem(im, line, "number: appears twice in the file");
        return;
    }
    if (r->parent && strcmp(r->parent, r->number) == 0) {
        problem(im, line, "parent: an item cannot be its own parent");
        return;
    }
    if (efile_plan_check(r, &e) != KR_OK) {
        problem(im, line, e.message);
        return;
    }
    if (r->parent && !seen_before(im, i, r->parent)) {
        int64_t id = 0;
        if (db_query_int64(im->conn, "SELECT id FROM efile_plan_item WHERE number = $1",
                           DB_PARAMS(DB_TEXT(r->parent)), &id, &e) != KR_OK) {
            char msg[96];
            (void)snprintf(msg, sizeof(msg), "parent: unknown plan item %s", r->parent);
            problem(im, line, msg);
        }
    }
    if (r->unit_code) {
        struct account_org_unit u;
        if (accounts_org_unit_find(im->conn, im->a, r->unit_code, &u, &e) != KR_OK) {
            char msg[96];
            (void)snprintf(msg, sizeof(msg), "unit: unknown unit %.40s", r->unit_code);
            problem(im, line, msg);
        }
    }
}

static int store_rows(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct import *im = arg;
    for (size_t i = 0; i < im->count; i++) {
        int rc = efile_plan_save(conn, im->actor, &im->rows[i], NULL, err);
        if (rc) {
            kr_error_prefix(err, "line %u", im->lines[i]);
            return rc;
        }
    }
    return KR_OK;
}

int efile_plan_import(struct db_conn *conn, struct arena *a, const char *actor,
                      enum efile_format format, const char *data, size_t len,
                      struct efile_import_result *res, struct kr_error *err)
{
    memset(res, 0, sizeof(*res));
    if (len > IMPORT_MAX_BYTES)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "a plan file may have at most 4 MiB");
    if (!text_utf8_valid(data, len))
        return kr_error_set(err, KR_ERR_INVALID, "the file is not UTF-8 text");
    struct import im = {conn, a, actor, NULL, NULL, 0, res};
    size_t max = len / 8 + 2 < IMPORT_MAX_ITEMS ? len / 8 + 2 : IMPORT_MAX_ITEMS;
    im.rows = arena_calloc(a, max, sizeof(*im.rows));
    im.lines = arena_calloc(a, max, sizeof(*im.lines));
    res->problems = arena_calloc(a, IMPORT_MAX_PROBLEMS, sizeof(*res->problems));
    if (!im.rows || !im.lines || !res->problems)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int rc = format == EFILE_CSV ? parse_csv(&im, data, len, err) : parse_json(&im, data, len, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < im.count; i++)
        check_row(&im, i);
    if (res->problem_count)
        return kr_error_set(err, KR_ERR_INVALID, "line %u: %s", res->problems[0].line,
                            res->problems[0].reason);
    rc = db_transact(conn, store_rows, &im, err);
    if (rc == KR_OK)
        res->saved = im.count;
    return rc;
}

/* ---- Export --------------------------------------------------------------------------- */

static void csv_field(struct buf *b, const char *s, bool last)
{
    s = s ? s : "";
    if (strpbrk(s, ";\",\n\r")) {
        buf_putc(b, '"');
        for (; *s; s++) {
            if (*s == '"')
                buf_putc(b, '"');
            buf_putc(b, *s);
        }
        buf_putc(b, '"');
    } else {
        buf_puts(b, s);
    }
    buf_putc(b, last ? '\n' : ';');
}

static const char *retention_text(char tmp[16], int years)
{
    if (years == EFILE_INHERIT)
        return "";
    if (years == EFILE_PERMANENT)
        return "permanent";
    (void)snprintf(tmp, 16, "%d", years);
    return tmp;
}

static const char *number_of(const struct efile_plan_item *items, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (items[i].id == id)
            return items[i].number;
    return NULL;
}

static json_t *item_json(const struct efile_plan_item *it, const char *parent, const char *unit)
{
    json_t *ret = it->retention_years == EFILE_INHERIT     ? json_null()
                  : it->retention_years == EFILE_PERMANENT ? json_string("permanent")
                                                           : json_integer(it->retention_years);
    return json_pack("{s:s, s:s?, s:s, s:s, s:o, s:s?, s:s?, s:s?}", "number", it->number, "parent",
                     parent, "title", it->title, "description", it->description, "retention", ret,
                     "event", it->retention_event, "evaluation", it->evaluation, "unit", unit);
}

int efile_plan_export(struct db_conn *conn, struct arena *a, enum efile_format format, char **out,
                      size_t *len, struct kr_error *err)
{
    struct efile_plan_item *items;
    size_t n;
    int rc = efile_plan_list(conn, a, &items, &n, err);
    if (rc)
        return rc;
    struct account_org_unit *units;
    size_t nu;
    rc = accounts_org_units_list(conn, a, &units, &nu, err);
    if (rc)
        return rc;
    struct buf b;
    buf_init(&b, 64 * 1024 * 1024);
    json_t *arr = format == EFILE_JSON ? json_array() : NULL;
    if (format == EFILE_CSV)
        buf_puts(&b, "number;parent;title;description;retention;event;evaluation;unit\n");
    for (size_t i = 0; i < n; i++) {
        const struct efile_plan_item *it = &items[i];
        const char *parent = number_of(items, n, it->parent_id), *unit = NULL;
        for (size_t u = 0; u < nu; u++)
            if (units[u].id == it->unit_id)
                unit = units[u].code;
        if (arr) {
            json_array_append_new(arr, item_json(it, parent, unit));
            continue;
        }
        char tmp[16];
        csv_field(&b, it->number, false);
        csv_field(&b, parent, false);
        csv_field(&b, it->title, false);
        csv_field(&b, it->description, false);
        csv_field(&b, retention_text(tmp, it->retention_years), false);
        csv_field(&b, it->retention_event, false);
        csv_field(&b, it->evaluation, false);
        csv_field(&b, unit, true);
    }
    if (arr) {
        json_t *root = json_pack("{s:s, s:o}", "format", "kreisel-fileplan/1", "items", arr);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
        if (text)
            buf_puts(&b, text);
        free(text);
        buf_putc(&b, '\n');
    }
    rc = buf_status(&b);
    *len = b.len;
    *out = rc ? NULL : arena_strndup(a, buf_cstr(&b), b.len);
    buf_release(&b);
    if (rc || !*out)
        return kr_error_set(err, rc ? rc : KR_ERR_NOMEM, "cannot build the export");
    return KR_OK;
}

/* ---- Demo ------------------------------------------------------------------------------ */

int efile_seed_demo(struct db_conn *conn, const char *share_dir, struct kr_error *err)
{
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/data/efile/plan.csv", share_dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return kr_error_set(err, KR_ERR_IO, "cannot open %s", path);
    struct buf b;
    buf_init(&b, IMPORT_MAX_BYTES);
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, got);
    fclose(f);
    struct arena *a = arena_new(0);
    int rc = buf_status(&b);
    if (rc)
        kr_error_set(err, rc, "cannot read %s", path);
    else if (!a)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct efile_import_result res;
    if (rc == KR_OK)
        rc = efile_plan_import(conn, a, "cli:seed-demo", EFILE_CSV, buf_cstr(&b), b.len, &res, err);
    if (rc)
        kr_error_prefix(err, "%s", path);
    arena_free(a);
    buf_release(&b);
    return rc;
}
