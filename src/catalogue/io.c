/*
 * io.c - import and export of the catalogue (JSON "kreisel-catalogue/1",
 * synonyms "kreisel-synonyms/1", CSV of the essentials), and reading one
 * record.
 */
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "catalogue/catalogue.h"
#include "core/text.h"
#include "core/util.h"

#define SYNONYM_GROUPS_MAX 2000
#define SYNONYM_WORDS_MAX 50

static void decref(void *p)
{
    json_decref(p);
}

/* Bump the generation so that every server rebuilds its snapshot. */
static int bump_generation(struct db_conn *conn, struct kr_error *err)
{
    return db_exec(conn, "UPDATE catalogue_state SET generation = generation + 1 WHERE id = 1",
                   NULL, 0, NULL, err);
}

static unsigned situation_bits(const json_t *list)
{
    unsigned bits = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        int s = catalogue_situation_parse(json_string_value(v));
        if (s >= 0)
            bits |= 1u << s;
    }
    return bits;
}

static char *situation_text(struct arena *a, unsigned bits)
{
    struct buf b;
    buf_init(&b, 256);
    for (unsigned i = 0; i < CATALOGUE_SITUATION_COUNT; i++)
        if (bits & (1u << i)) {
            if (b.len)
                buf_putc(&b, ' ');
            buf_puts(&b, catalogue_situation_name(i));
        }
    char *s = arena_strdup(a, buf_cstr(&b));
    buf_release(&b);
    return s;
}

static const char *str(const json_t *r, const char *key)
{
    return json_string_value(json_object_get(r, key));
}

/* Insert or update one checked record.  *change: 0 unchanged, 1 created,
 * 2 updated. */
static int store_record(struct db_conn *conn, struct arena *a, const char *actor, const json_t *r,
                        int *change, struct kr_error *err)
{
    char *canon = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon || arena_defer(a, free, canon))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char hash[2 * KR_SHA256_LEN + 1];
    kr_sha256_hex(canon, strlen(canon), hash);
    const char *id = str(r, "id");
    char *old = NULL;
    int rc = db_query_text(conn, "SELECT record_hash FROM catalogue_service WHERE id = $1",
                           DB_PARAMS(DB_TEXT(id)), a, &old, err);
    if (rc && rc != KR_ERR_NOT_FOUND)
        return rc;
    if (rc == KR_OK && strcmp(old, hash) == 0) {
        *change = 0;
        return KR_OK;
    }
    *change = rc == KR_ERR_NOT_FOUND ? 1 : 2;
    const json_t *online = json_object_get(r, "online");
    const char *form = str(online, "form");
    bool appt = json_is_true(json_object_get(online, "appointment"));
    char *sit = situation_text(a, situation_bits(json_object_get(r, "life_situations")));
    int64_t now = kr_now();
    const char *sql =
        *change == 1
            ? "INSERT INTO catalogue_service (id, leika, title, title_en, summary, summary_en, "
              "org_unit, life_situations, online_form, appointment, last_reviewed, "
              "plain_language, record, record_hash, created_at, updated_at) VALUES ($1, $2, $3, "
              "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)"
            : "UPDATE catalogue_service SET leika = $2, title = $3, title_en = $4, summary = $5, "
              "summary_en = $6, org_unit = $7, life_situations = $8, online_form = $9, "
              "appointment = $10, last_reviewed = $11, plain_language = $12, record = $13, "
              "record_hash = $14, updated_at = $15 WHERE id = $1";
    rc = db_exec(conn, sql,
                 DB_PARAMS(DB_TEXT(id), DB_TEXT(str(r, "leika")), DB_TEXT(str(r, "title")),
                           DB_TEXT(str(r, "title_en")), DB_TEXT(str(r, "summary")),
                           DB_TEXT(str(r, "summary_en")), DB_TEXT(str(r, "org_unit")), DB_TEXT(sit),
                           DB_TEXT(form), DB_INT(appt), DB_TEXT(str(r, "last_reviewed")),
                           DB_INT(json_is_true(json_object_get(r, "plain_language"))),
                           DB_TEXT(canon), DB_TEXT(hash), DB_INT(now)),
                 NULL, err);
    if (rc)
        return rc;
    json_t *details = json_pack("{s:s}", "record_hash", hash);
    struct audit_event ev = {actor,
                             *change == 1 ? "catalogue.service.create" : "catalogue.service.update",
                             "service", id, details};
    rc = audit_append(conn, &ev, NULL, err);
    json_decref(details);
    return rc;
}

static void reject(struct arena *a, struct catalogue_import_result *res, size_t index,
                   const json_t *r, const char *reason)
{
    struct catalogue_rejection *x = &res->rejected[res->rejected_count++];
    x->index = index;
    const char *id = str(r, "id");
    x->id = id && strlen(id) <= 64 ? arena_strdup(a, id) : NULL;
    x->reason = arena_strdup(a, reason);
}

/* Why a checked record cannot be stored (unknown unit, repeated id), or
 * NULL. */
static int record_refused(struct db_conn *conn, struct arena *a, const json_t *r, json_t *seen,
                          struct kr_error *why, struct kr_error *err)
{
    int rc = catalogue_record_check(r, why);
    if (rc)
        return rc;
    const char *id = str(r, "id");
    if (json_object_get(seen, id))
        return kr_error_set(why, KR_ERR_INVALID, "id: repeated in this file");
    json_object_set_new(seen, id, json_true());
    struct account_org_unit unit;
    rc = accounts_org_unit_find(conn, a, str(r, "org_unit"), &unit, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(why, KR_ERR_INVALID, "org_unit: no unit with the code '%s'",
                            str(r, "org_unit"));
    return rc;
}

static int import_services(struct db_conn *conn, struct arena *a, const char *actor,
                           const json_t *list, struct catalogue_import_result *res,
                           struct kr_error *err)
{
    size_t n = json_array_size(list);
    res->rejected = arena_calloc(a, n ? n : 1, sizeof(*res->rejected));
    json_t *seen = json_object();
    if (!res->rejected || !seen || arena_defer(a, decref, seen))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(list, i);
        struct kr_error why;
        kr_error_clear(&why);
        int rc = record_refused(conn, a, r, seen, &why, err);
        if (rc == KR_ERR_INVALID && why.code) {
            reject(a, res, i, r, why.message);
            continue;
        }
        int change = 0;
        if (rc == KR_OK)
            rc = store_record(conn, a, actor, r, &change, err);
        if (rc)
            return rc;
        res->created += change == 1;
        res->updated += change == 2;
        res->unchanged += change == 0;
    }
    return KR_OK;
}

static int check_synonyms(const json_t *groups, struct kr_error *err)
{
    if (!json_is_array(groups) || json_array_size(groups) > SYNONYM_GROUPS_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "groups: must be a list of at most %d lists",
                            SYNONYM_GROUPS_MAX);
    size_t i, j;
    const json_t *g, *w;
    json_array_foreach(groups, i, g)
    {
        if (!json_is_array(g) || json_array_size(g) < 2 || json_array_size(g) > SYNONYM_WORDS_MAX)
            return kr_error_set(err, KR_ERR_INVALID, "groups[%zu]: must be a list of 2-%d words", i,
                                SYNONYM_WORDS_MAX);
        json_array_foreach(g, j, w)
        {
            if (!json_is_string(w) || json_string_length(w) == 0 || json_string_length(w) > 100)
                return kr_error_set(err, KR_ERR_INVALID,
                                    "groups[%zu][%zu]: must be a word of 1-100 bytes", i, j);
        }
    }
    return KR_OK;
}

static int store_synonyms(struct db_conn *conn, const json_t *groups, const char *hash,
                          struct kr_error *err)
{
    int rc = db_exec(conn, "DELETE FROM catalogue_synonym", NULL, 0, NULL, err);
    size_t i, j;
    const json_t *g, *w;
    json_array_foreach(groups, i, g)
    {
        json_array_foreach(g, j, w)
        {
            if (rc == KR_OK)
                rc = db_exec(conn,
                             "INSERT INTO catalogue_synonym (group_no, position, word) "
                             "VALUES ($1, $2, $3)",
                             DB_PARAMS(DB_INT(i), DB_INT(j), DB_TEXT(json_string_value(w))), NULL,
                             err);
        }
    }
    if (rc == KR_OK)
        rc = db_exec(conn, "UPDATE catalogue_state SET synonyms_hash = $1 WHERE id = 1",
                     DB_PARAMS(DB_TEXT(hash)), NULL, err);
    return rc;
}

/* Replace the synonym groups, unless they are the same as stored. */
static int import_synonyms(struct db_conn *conn, struct arena *a, const char *actor,
                           const json_t *doc, struct catalogue_import_result *res,
                           struct kr_error *err)
{
    const json_t *groups = json_object_get(doc, "groups");
    int rc = check_synonyms(groups, err);
    if (rc)
        return rc;
    res->synonym_groups = json_array_size(groups);
    char *canon = json_dumps(groups, JSON_COMPACT);
    if (!canon)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char hash[2 * KR_SHA256_LEN + 1];
    kr_sha256_hex(canon, strlen(canon), hash);
    free(canon);
    char *old = NULL;
    rc = db_query_text(conn, "SELECT synonyms_hash FROM catalogue_state WHERE id = 1", NULL, 0, a,
                       &old, err);
    if (rc || strcmp(old, hash) == 0) {
        res->unchanged = rc == KR_OK;
        return rc;
    }
    rc = store_synonyms(conn, groups, hash, err);
    json_t *details =
        json_pack("{s:I, s:s}", "groups", (json_int_t)res->synonym_groups, "hash", hash);
    struct audit_event ev = {actor, "catalogue.synonyms.replace", "catalogue", "synonyms", details};
    if (rc == KR_OK)
        rc = audit_append(conn, &ev, NULL, err);
    json_decref(details);
    if (rc == KR_OK)
        rc = bump_generation(conn, err);
    return rc;
}

static int audit_import(struct db_conn *conn, const char *actor,
                        const struct catalogue_import_result *res, struct kr_error *err)
{
    json_t *details =
        json_pack("{s:I, s:I, s:I, s:I}", "created", (json_int_t)res->created, "updated",
                  (json_int_t)res->updated, "unchanged", (json_int_t)res->unchanged, "rejected",
                  (json_int_t)res->rejected_count);
    struct audit_event ev = {actor, "catalogue.import", "catalogue", "services", details};
    int rc = audit_append(conn, &ev, NULL, err);
    json_decref(details);
    if (rc == KR_OK && res->created + res->updated > 0)
        rc = bump_generation(conn, err);
    return rc;
}

static int parse_document(const char *text, size_t len, json_t **doc, const char **schema,
                          struct kr_error *err)
{
    if (len > CATALOGUE_IMPORT_MAX)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "the file is larger than %d MiB",
                            CATALOGUE_IMPORT_MAX / (1024 * 1024));
    json_error_t jerr;
    *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*doc)
        return kr_error_set(err, KR_ERR_INVALID, "line %d, column %d: %s", jerr.line, jerr.column,
                            jerr.text);
    *schema = json_string_value(json_object_get(*doc, "schema"));
    if (!*schema || (strcmp(*schema, CATALOGUE_SCHEMA) != 0 &&
                     strcmp(*schema, CATALOGUE_SYNONYMS_SCHEMA) != 0)) {
        json_decref(*doc);
        return kr_error_set(err, KR_ERR_INVALID, "schema: expected \"%s\" or \"%s\"",
                            CATALOGUE_SCHEMA, CATALOGUE_SYNONYMS_SCHEMA);
    }
    return KR_OK;
}

int catalogue_import(struct db_conn *conn, struct arena *a, const char *actor, const char *text,
                     size_t len, struct catalogue_import_result *res, struct kr_error *err)
{
    memset(res, 0, sizeof(*res));
    json_t *doc;
    const char *schema;
    int rc = parse_document(text, len, &doc, &schema, err);
    if (rc)
        return rc;
    bool synonyms = strcmp(schema, CATALOGUE_SYNONYMS_SCHEMA) == 0;
    const json_t *list = json_object_get(doc, "services");
    if (!synonyms && !json_is_array(list)) {
        json_decref(doc);
        return kr_error_set(err, KR_ERR_INVALID, "services: missing or not a list");
    }
    bool own = !db_in_transaction(conn);
    rc = own ? db_begin(conn, err) : KR_OK;
    if (rc == KR_OK && synonyms)
        rc = import_synonyms(conn, a, actor, doc, res, err);
    else if (rc == KR_OK) {
        rc = import_services(conn, a, actor, list, res, err);
        if (rc == KR_OK)
            rc = audit_import(conn, actor, res, err);
    }
    if (rc == KR_OK && own)
        rc = db_commit(conn, err);
    if (rc && own)
        db_rollback(conn);
    json_decref(doc);
    return rc;
}

/* ---- Export ------------------------------------------------------------------ */

struct row {
    char *id;
    char *cols[13];
};

static int cmp_row(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->id, ((const struct row *)b)->id);
}

/* Every service's columns (ncols of the select), ordered by id in C so
 * that both backends give the same order whatever their collation. */
static int load_rows(struct db_conn *conn, struct arena *a, const char *sql, int ncols,
                     struct row **rows, size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, sql, NULL, 0, &st, err);
    size_t n = 0, cap = 0;
    struct row *r = NULL;
    while (rc == KR_OK && (rc = db_step(st, err)) == DB_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct row *nr = arena_alloc(a, ncap * sizeof(*nr));
            if (!nr) {
                rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
                break;
            }
            if (n)
                memcpy(nr, r, n * sizeof(*nr));
            r = nr;
            cap = ncap;
        }
        r[n].id = db_column_strdup(st, 0, a);
        for (int c = 0; c < ncols; c++)
            r[n].cols[c] = db_column_strdup(st, c, a);
        n++;
        rc = KR_OK;
    }
    db_finish(st);
    if (rc < 0)
        return rc;
    if (n)
        qsort(r, n, sizeof(*r), cmp_row);
    *rows = r;
    *count = n;
    return KR_OK;
}

int catalogue_export_json(struct db_conn *conn, struct buf *out, struct kr_error *err)
{
    struct arena *a = arena_new(0);
    json_t *list = json_array();
    json_t *doc = json_pack("{s:s, s:o}", "schema", CATALOGUE_SCHEMA, "services", list);
    if (!a || !doc || arena_defer(a, decref, doc))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct row *rows;
    size_t n;
    int rc = load_rows(conn, a, "SELECT id, record FROM catalogue_service", 2, &rows, &n, err);
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        json_t *r = json_loads(rows[i].cols[1], 0, NULL);
        if (!r)
            rc = kr_error_set(err, KR_ERR_INTEGRITY, "service %s: stored record is not JSON",
                              rows[i].id);
        else
            json_array_append_new(list, r);
    }
    char *text = rc == KR_OK ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    if (rc == KR_OK && !text)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (text) {
        buf_puts(out, text);
        buf_putc(out, '\n');
        free(text);
    }
    arena_free(a);
    if (rc == KR_OK && buf_status(out))
        rc = kr_error_set(err, buf_status(out), "the export does not fit");
    return rc;
}

int catalogue_export_csv(struct db_conn *conn, struct buf *out, struct kr_error *err)
{
    static const char *const header[] = {"id",          "leika",           "title",
                                         "title_en",    "summary",         "summary_en",
                                         "org_unit",    "life_situations", "online_form",
                                         "appointment", "last_reviewed",   "plain_language"};
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct row *rows;
    size_t n;
    int rc = load_rows(conn, a,
                       "SELECT id, leika, title, title_en, summary, summary_en, org_unit, "
                       "life_situations, online_form, appointment, last_reviewed, "
                       "plain_language FROM catalogue_service",
                       12, &rows, &n, err);
    for (size_t c = 0; c < KR_ARRAY_LEN(header); c++) {
        buf_puts(out, c ? "," : "");
        buf_puts(out, header[c]);
    }
    buf_puts(out, "\r\n");
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        for (size_t c = 0; c < KR_ARRAY_LEN(header); c++) {
            if (c)
                buf_putc(out, ',');
            buf_put_csv(out, rows[i].cols[c]);
        }
        buf_puts(out, "\r\n");
    }
    arena_free(a);
    if (rc == KR_OK && buf_status(out))
        rc = kr_error_set(err, buf_status(out), "the export does not fit");
    return rc;
}

/* ---- One record ----------------------------------------------------------------- */

int catalogue_service_get(struct db_conn *conn, struct arena *a, const char *id, json_t **record,
                          char **etag, struct kr_error *err)
{
    if (!catalogue_id_valid(id))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such service");
    struct db_stmt *st;
    int rc = db_query(conn, "SELECT record, record_hash FROM catalogue_service WHERE id = $1",
                      DB_PARAMS(DB_TEXT(id)), &st, err);
    if (rc == KR_OK)
        rc = db_step(st, err);
    if (rc == DB_DONE)
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such service");
    if (rc == DB_ROW) {
        json_error_t jerr;
        *record = json_loads(db_column_text(st, 0), 0, &jerr);
        if (etag)
            *etag = arena_printf(a, "\"%.20s\"", db_column_text(st, 1));
        rc = !*record ? kr_error_set(err, KR_ERR_INTEGRITY, "stored record is not JSON")
             : arena_defer(a, decref, *record) || (etag && !*etag)
                 ? kr_error_set(err, KR_ERR_NOMEM, "out of memory")
                 : KR_OK;
    }
    db_finish(st);
    return rc;
}

/* ---- CSV import ------------------------------------------------------------------ */

#define CSV_COLUMNS_MAX 16
#define CSV_FIELD_MAX 20000

static const char *const csv_columns[] = {
    "id",       "leika",           "title",       "title_en",    "summary",       "summary_en",
    "org_unit", "life_situations", "online_form", "appointment", "last_reviewed", "plain_language"};

struct csv {
    const char *p, *end;
    size_t line; /* line of the record being read, from 1 */
};

/* Read one field into b; *last is true when the record ends after it.
 * KR_ERR_INVALID for a quote that does not end or junk after a quote. */
static int csv_field_read(struct csv *c, struct buf *b, bool *last, size_t *newlines)
{
    buf_reset(b);
    bool quoted = c->p < c->end && *c->p == '"';
    if (quoted) {
        for (c->p++;; c->p++) {
            if (c->p >= c->end)
                return KR_ERR_INVALID;
            if (*c->p == '"' && c->p + 1 < c->end && c->p[1] == '"') {
                buf_putc(b, '"');
                c->p++;
            } else if (*c->p == '"') {
                c->p++;
                break;
            } else {
                *newlines += *c->p == '\n';
                buf_putc(b, *c->p);
            }
        }
    } else {
        while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
            buf_putc(b, *c->p++);
    }
    if (c->p < c->end && *c->p == '\r')
        c->p++;
    if (c->p >= c->end || *c->p == '\n') {
        *last = true;
        c->p += c->p < c->end;
        return KR_OK;
    }
    *last = false;
    return *c->p++ == ',' ? KR_OK : KR_ERR_INVALID;
}

/* The next record as arena strings; *n 0 at the end of the text. */
static int csv_record(struct csv *c, struct arena *a, char **fields, size_t *n,
                      struct kr_error *err)
{
    *n = 0;
    if (c->p >= c->end)
        return KR_OK;
    struct buf b;
    buf_init(&b, CSV_FIELD_MAX);
    size_t newlines = 0;
    bool last = false;
    int rc = KR_OK;
    while (!last && rc == KR_OK) {
        rc = csv_field_read(c, &b, &last, &newlines);
        if (rc == KR_OK && buf_status(&b))
            rc = KR_ERR_TOO_LARGE;
        if (rc == KR_OK && *n == CSV_COLUMNS_MAX)
            rc = KR_ERR_INVALID;
        if (rc == KR_OK && !(fields[(*n)++] = arena_strdup(a, buf_cstr(&b))))
            rc = KR_ERR_NOMEM;
    }
    buf_release(&b);
    if (rc)
        return kr_error_set(err, KR_ERR_INVALID, "line %zu: malformed CSV (%s)", c->line,
                            rc == KR_ERR_TOO_LARGE ? "field too long"
                            : rc == KR_ERR_NOMEM   ? "out of memory"
                                                   : "quotes or too many fields");
    c->line += 1 + newlines;
    return KR_OK;
}

/* Which export column each field of the header is. */
static int csv_header(struct csv *c, struct arena *a, int *map, size_t *ncols, struct kr_error *err)
{
    char *fields[CSV_COLUMNS_MAX];
    int rc = csv_record(c, a, fields, ncols, err);
    if (rc)
        return rc;
    bool seen[KR_ARRAY_LEN(csv_columns)] = {false};
    for (size_t i = 0; i < *ncols; i++) {
        map[i] = -1;
        for (size_t k = 0; k < KR_ARRAY_LEN(csv_columns); k++)
            if (strcmp(fields[i], csv_columns[k]) == 0)
                map[i] = (int)k;
        if (map[i] < 0 || seen[map[i]])
            return kr_error_set(err, KR_ERR_INVALID, "line 1: %s column '%.40s'",
                                map[i] < 0 ? "unknown" : "repeated", fields[i]);
        seen[map[i]] = true;
    }
    if (!seen[0])
        return kr_error_set(err, KR_ERR_INVALID, "line 1: the column 'id' is missing");
    return KR_OK;
}

static json_t *situations_list(const char *text)
{
    json_t *list = json_array();
    char *copy = strdup(text);
    char *save = NULL;
    for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w; w = strtok_r(NULL, " ", &save))
        json_array_append_new(list, json_string(w));
    free(copy);
    return list;
}

/* Put one CSV field into the record. */
static void csv_apply(json_t *r, int column, const char *v)
{
    const char *name = csv_columns[column];
    json_t *online = json_object_get(r, "online");
    switch (column) {
    case 1: /* leika: empty removes it */
        if (*v)
            json_object_set_new(r, name, json_string(v));
        else
            json_object_del(r, name);
        break;
    case 7: {
        /* The same set in another order is no change. */
        json_t *list = situations_list(v);
        const json_t *old = json_object_get(r, name);
        if (json_array_size(list) == json_array_size(old) &&
            situation_bits(list) == situation_bits(old) &&
            __builtin_popcount(situation_bits(list)) == (int)json_array_size(list))
            json_decref(list);
        else
            json_object_set_new(r, name, list);
        break;
    }
    case 8:
    case 9:
        if (!online) {
            online = json_object();
            json_object_set_new(r, "online", online);
        }
        if (column == 9) {
            /* Absent means false: only a change of meaning touches it, so
             * that an exported file imports as unchanged. */
            bool want = strcmp(v, "1") == 0;
            if (want != json_is_true(json_object_get(online, "appointment")))
                json_object_set_new(online, "appointment", json_boolean(want));
        } else if (*v)
            json_object_set_new(online, "form", json_string(v));
        else
            json_object_del(online, "form");
        if (json_object_size(online) == 0)
            json_object_del(r, "online");
        break;
    case 11: json_object_set_new(r, name, json_boolean(strcmp(v, "1") == 0)); break;
    default: json_object_set_new(r, name, json_string(v)); break;
    }
}

/* The stored record of row's id with the row applied, or a reason. */
static json_t *csv_row_record(struct db_conn *conn, struct arena *a, const char *id, char **fields,
                              const int *map, size_t n, const char **why, struct kr_error *err)
{
    json_t *stored;
    int rc = catalogue_service_get(conn, a, id, &stored, NULL, err);
    if (rc) {
        *why = rc == KR_ERR_NOT_FOUND ? "id: no such service (a CSV row can only change a "
                                        "service; add new ones as JSON)"
                                      : NULL;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = fields[i];
        if ((map[i] == 9 || map[i] == 11) && strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
            *why = map[i] == 9 ? "appointment: must be 0 or 1" : "plain_language: must be 0 or 1";
            return NULL;
        }
    }
    json_t *r = json_deep_copy(stored);
    for (size_t i = 0; r && i < n; i++)
        csv_apply(r, map[i], fields[i]);
    return r;
}

static int csv_row(struct db_conn *conn, struct arena *a, const char *actor, char **fields,
                   const int *map, size_t n, size_t line, json_t *seen,
                   struct catalogue_import_result *res, struct kr_error *err)
{
    const char *why = NULL;
    struct kr_error e;
    kr_error_clear(&e);
    const char *id = fields[0];
    for (size_t i = 0; i < n; i++)
        if (map[i] == 0)
            id = fields[i];
    json_t *r = csv_row_record(conn, a, id, fields, map, n, &why, &e);
    int rc = r ? record_refused(conn, a, r, seen, &e, err) : why ? KR_ERR_INVALID : e.code;
    if (!r && !why) {
        *err = e;
        return rc ? rc : KR_ERR_NOMEM;
    }
    int change = 0;
    if (rc == KR_OK)
        rc = store_record(conn, a, actor, r, &change, err);
    if (rc == KR_ERR_INVALID && (why || e.code)) {
        json_t *named = r ? json_incref(r) : json_pack("{s:s}", "id", id);
        reject(a, res, line, named, why ? why : e.message);
        json_decref(named);
        rc = KR_OK;
    } else if (rc == KR_OK) {
        res->updated += change != 0;
        res->unchanged += change == 0;
    }
    json_decref(r);
    return rc;
}

static int import_csv_rows(struct db_conn *conn, struct arena *a, const char *actor, struct csv *c,
                           struct catalogue_import_result *res, struct kr_error *err)
{
    int map[CSV_COLUMNS_MAX];
    size_t ncols, n;
    char *fields[CSV_COLUMNS_MAX];
    json_t *seen = json_object();
    int rc =
        seen && !arena_defer(a, decref, seen) ? csv_header(c, a, map, &ncols, err) : KR_ERR_NOMEM;
    size_t cap = 64;
    res->rejected = arena_calloc(a, cap, sizeof(*res->rejected));
    while (rc == KR_OK) {
        size_t line = c->line;
        rc = csv_record(c, a, fields, &n, err);
        if (rc || n == 0 || (n == 1 && fields[0][0] == '\0' && c->p >= c->end))
            break;
        if (n != ncols)
            return kr_error_set(err, KR_ERR_INVALID, "line %zu: %zu fields, the header has %zu",
                                line, n, ncols);
        if (res->rejected_count == cap) {
            struct catalogue_rejection *more = arena_calloc(a, cap * 2, sizeof(*more));
            if (!more)
                return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
            memcpy(more, res->rejected, cap * sizeof(*more));
            res->rejected = more;
            cap *= 2;
        }
        rc = csv_row(conn, a, actor, fields, map, n, line, seen, res, err);
    }
    return rc;
}

int catalogue_import_csv(struct db_conn *conn, struct arena *a, const char *actor, const char *text,
                         size_t len, struct catalogue_import_result *res, struct kr_error *err)
{
    memset(res, 0, sizeof(*res));
    res->lines = true;
    if (len > CATALOGUE_IMPORT_MAX)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "the file is larger than %d MiB",
                            CATALOGUE_IMPORT_MAX / (1024 * 1024));
    if (!text_utf8_valid(text, len))
        return kr_error_set(err, KR_ERR_INVALID, "the file is not UTF-8");
    struct csv c = {text, text + len, 1};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3; /* a byte order mark from spreadsheet programs */
    bool own = !db_in_transaction(conn);
    int rc = own ? db_begin(conn, err) : KR_OK;
    if (rc == KR_OK)
        rc = import_csv_rows(conn, a, actor, &c, res, err);
    if (rc == KR_OK)
        rc = audit_import(conn, actor, res, err);
    if (rc == KR_OK && own)
        rc = db_commit(conn, err);
    if (rc && own)
        db_rollback(conn);
    return rc;
}
