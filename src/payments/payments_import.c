/*
 * payments_import.c - bank statement import and reconciliation: each new
 * credit is matched to a receivable (Kassenzeichen in the remittance text,
 * else outstanding amount + debtor name) and booked; the rest waits in the
 * unmatched queue for the cash office.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/text.h"
#include "core/util.h"
#include "payments/payments.h"
#include "payments/payments_internal.h"

struct import {
    struct db_conn *conn;
    const char *actor;
    struct payments_import_result *res;
    int64_t statement_id;
    int64_t index; /* entry number within the statement */
    char account[PAYMENTS_TEXT_MAX + 1];
    char stmt_id[PAYMENTS_TEXT_MAX + 1];
    int64_t entries, matched, unmatched;
};

/* Valid UTF-8 stays; anything else is read as Latin-1 (what German banks
 * send in MT940) and converted.  out holds 2 * PAYMENTS_TEXT_MAX + 1. */
static const char *clean_text(const char *s, char *out)
{
    size_t len = strlen(s);
    if (text_utf8_valid(s, len))
        return s;
    size_t n = 0;
    for (size_t i = 0; i < len && i < PAYMENTS_TEXT_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[n++] = (char)c;
        } else {
            out[n++] = (char)(0xC0 | (c >> 6));
            out[n++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[n] = '\0';
    return out;
}

static int flush_counts(struct import *im, struct kr_error *err)
{
    if (!im->statement_id)
        return KR_OK;
    return db_exec(im->conn,
                   "UPDATE payments_statement SET entries = $2, matched = $3, unmatched = $4 "
                   "WHERE id = $1",
                   DB_PARAMS(DB_INT(im->statement_id), DB_INT(im->entries), DB_INT(im->matched),
                             DB_INT(im->unmatched)),
                   NULL, err);
}

static int on_statement(void *ctx, const struct payments_stmt_info *info, struct kr_error *err)
{
    struct import *im = ctx;
    int rc = flush_counts(im, err);
    if (rc)
        return rc;
    char buf1[2 * PAYMENTS_TEXT_MAX + 1], buf2[2 * PAYMENTS_TEXT_MAX + 1];
    snprintf(im->account, sizeof(im->account), "%s", clean_text(info->account, buf1));
    snprintf(im->stmt_id, sizeof(im->stmt_id), "%s", clean_text(info->id, buf2));
    im->entries = im->matched = im->unmatched = im->index = 0;
    rc = db_query_int64(im->conn,
                        "INSERT INTO payments_statement (format, account, stmt_id, actor, "
                        "imported_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        DB_PARAMS(DB_TEXT(info->format), DB_TEXT(im->account), DB_TEXT(im->stmt_id),
                                  DB_TEXT(im->actor), DB_INT(kr_now())),
                        &im->statement_id, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "statement %.60s of account %.40s was imported before; nothing booked",
                            im->stmt_id, im->account);
    im->res->statement_id = im->statement_id;
    return rc;
}

/* The key that makes an entry unique across imports: the bank's reference
 * when there is one, else its position in this statement. */
static void entry_key(const struct import *im, const struct payments_stmt_item *it, const char *ref,
                      char out[65])
{
    char text[3 * PAYMENTS_TEXT_MAX + 96];
    if (ref[0])
        snprintf(text, sizeof(text), "ref\n%s\n%s\n%lld\n%lld\n%d", im->account, ref,
                 (long long)it->booked_at, (long long)it->amount_cents, it->credit);
    else
        snprintf(text, sizeof(text), "pos\n%s\n%s\n%lld", im->account, im->stmt_id,
                 (long long)im->index);
    kr_sha256_hex(text, strlen(text), out);
}

/* The receivable for a credit, or 0; *how says why. */
static int find_match(struct import *im, const char *remittance, const char *name, int64_t amount,
                      int64_t *id, const char **how, struct kr_error *err)
{
    char found[4][PAYMENTS_KZ_SIZE];
    size_t n = payments_kz_scan(remittance, strlen(remittance), found, 4);
    *id = 0;
    for (size_t i = 0; i < n && !*id; i++) {
        int rc = db_query_int64(im->conn,
                                "SELECT id FROM payments_receivable WHERE kz = $1 AND status "
                                "NOT IN ('cancelled', 'written_off')",
                                DB_PARAMS(DB_TEXT(found[i])), id, err);
        if (rc && rc != KR_ERR_NOT_FOUND)
            return rc;
        if (rc == KR_OK)
            *how = "kassenzeichen";
    }
    if (*id || !name[0])
        return KR_OK;
    char key[PAYMENTS_TEXT_MAX + 1];
    payments_debtor_key(name, key, sizeof(key));
    if (!key[0])
        return KR_OK;
    struct db_stmt *st;
    int rc = db_query(im->conn,
                      "SELECT id FROM payments_receivable WHERE debtor_key = $1 AND status IN "
                      "('open', 'partly_paid') AND amount_cents + fee_cents - paid_cents = $2 "
                      "LIMIT 2",
                      DB_PARAMS(DB_TEXT(key), DB_INT(amount)), &st, err);
    if (rc)
        return rc;
    int64_t first = 0, rows = 0;
    while ((rc = db_step(st, err)) == DB_ROW)
        if (rows++ == 0)
            first = db_column_int64(st, 0);
    db_finish(st);
    if (rc < 0)
        return rc;
    if (rows == 1) {
        *id = first;
        *how = "name_amount";
    }
    return KR_OK;
}

static int on_item(void *ctx, const struct payments_stmt_item *it, struct kr_error *err)
{
    struct import *im = ctx;
    im->index++;
    im->res->entries++;
    char b1[2 * PAYMENTS_TEXT_MAX + 1], b2[2 * PAYMENTS_TEXT_MAX + 1],
        b3[2 * PAYMENTS_TEXT_MAX + 1];
    const char *ref = clean_text(it->ref, b1);
    const char *name = clean_text(it->debtor_name, b2);
    const char *rem = clean_text(it->remittance, b3);
    char key[65];
    entry_key(im, it, ref, key);
    int64_t id = 0, receivable = 0;
    const char *how = "";
    int rc =
        it->credit ? find_match(im, rem, name, it->amount_cents, &receivable, &how, err) : KR_OK;
    if (rc)
        return rc;
    const char *status = !it->credit ? "ignored" : receivable ? "matched" : "unmatched";
    rc =
        db_query_int64(im->conn,
                       "INSERT INTO payments_entry (statement_id, entry_key, amount_cents, credit, "
                       "booked_at, ref, debtor_name, remittance, status, match, receivable_id) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
                       "ON CONFLICT (entry_key) DO NOTHING RETURNING id",
                       DB_PARAMS(DB_INT(im->statement_id), DB_TEXT(key), DB_INT(it->amount_cents),
                                 DB_INT(it->credit), DB_INT(it->booked_at), DB_TEXT(ref),
                                 DB_TEXT(name), DB_TEXT(rem), DB_TEXT(status), DB_TEXT(how),
                                 receivable ? DB_INT(receivable) : DB_NULL),
                       &id, err);
    if (rc == KR_ERR_NOT_FOUND) {
        im->res->duplicates++;
        return KR_OK;
    }
    if (rc)
        return rc;
    im->entries++;
    if (!it->credit) {
        im->res->ignored++;
        return KR_OK;
    }
    if (!receivable) {
        im->unmatched++;
        im->res->unmatched++;
        return KR_OK;
    }
    im->matched++;
    im->res->matched++;
    return payments_book(im->conn, im->actor, receivable, it->amount_cents, "statement", id, NULL,
                         err);
}

struct import_args {
    struct import *im;
    const char *data;
    size_t len;
};

/* Bytes of an optional UTF-8 BOM and white space at the start. */
static size_t skip_blank(const char *data, size_t len)
{
    size_t i = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    return i;
}

const char *payments_statement_format(const char *data, size_t len)
{
    if (!data)
        return NULL;
    size_t i = skip_blank(data, len);
    if (i < len && data[i] == '<')
        return "camt.053";
    size_t head = len - i < 4096 ? len - i : 4096;
    const char *s = data + i;
    if (memchr(s, '\0', head))
        return NULL;
    if (head >= 4 && memcmp(s, ":20:", 4) == 0)
        return "mt940";
    for (const char *p = s; (p = memchr(p, '\n', head - (size_t)(p - s))) != NULL;) {
        p++;
        if ((size_t)(p - s) + 4 <= head && memcmp(p, ":20:", 4) == 0)
            return "mt940";
    }
    return NULL;
}

static int import_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct import_args *a = arg;
    (void)conn;
    struct payments_stmt_sink sink = {on_statement, on_item, a->im};
    const char *format = payments_statement_format(a->data, a->len);
    if (!format)
        return kr_error_set(err, KR_ERR_INVALID,
                            "the file is neither a camt.053 (XML) nor an MT940 statement");
    int rc = strcmp(format, "mt940") != 0 ? payments_camt_parse(a->data, a->len, &sink, err)
                                          : payments_mt940_parse(a->data, a->len, &sink, err);
    if (rc == KR_OK)
        rc = flush_counts(a->im, err);
    return rc;
}

/*
 * SQLite keeps 2 MiB of pages per connection by default.  An import of a
 * large statement dirties far more in one transaction (the random keys of
 * the entry_key, debtor and audit indexes), and each page pushed out of the
 * cache is written to the WAL, hot ones again and again: in a profile of
 * 100,000 entries most of the time went to pwrite.  So the import gets a
 * larger, still bounded cache while it runs (per connection, given back
 * afterwards).  PostgreSQL has its shared buffers: nothing to do.
 */
#define IMPORT_CACHE_KIB 65536

/* A PRAGMA takes no bound parameters: the value is a number we format. */
static int import_cache_set(struct db_conn *conn, int64_t pages_or_kib)
{
    struct kr_error ignored;
    char sql[48];
    snprintf(sql, sizeof(sql), "PRAGMA cache_size = %lld", (long long)pages_or_kib);
    return db_exec(conn, sql, NULL, 0, NULL, &ignored);
}

static int64_t import_cache_grow(struct db_conn *conn)
{
    struct kr_error ignored;
    int64_t before = 0;
    if (db_dialect(db_conn_db(conn)) != DB_SQLITE ||
        db_query_int64(conn, "PRAGMA cache_size", NULL, 0, &before, &ignored) != KR_OK ||
        (before < 0 && -before >= IMPORT_CACHE_KIB) || before == 0)
        return 0;
    return import_cache_set(conn, -IMPORT_CACHE_KIB) == KR_OK ? before : 0;
}

int payments_statement_import(struct db_conn *conn, const char *actor, const char *data, size_t len,
                              struct payments_import_result *res, struct kr_error *err)
{
    if (!data || len == 0)
        return kr_error_set(err, KR_ERR_INVALID, "the statement is empty");
    struct import *im = calloc(1, sizeof(*im));
    if (!im)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct payments_import_result local;
    memset(&local, 0, sizeof(local));
    *im = (struct import){.conn = conn, .actor = actor, .res = &local};
    struct import_args a = {im, data, len};
    int64_t cache = import_cache_grow(conn);
    int rc = db_transact(conn, import_tx, &a, err);
    if (cache)
        (void)import_cache_set(conn, cache);
    free(im);
    if (rc == KR_OK && res)
        *res = local;
    return rc;
}

/* ---- The cash office's lists -------------------------------------------------------- */

static void read_entry(struct db_stmt *st, struct arena *a, void *row)
{
    struct payments_entry *e = row;
    e->id = db_column_int64(st, 0);
    e->statement_id = db_column_int64(st, 1);
    e->amount_cents = db_column_int64(st, 2);
    e->booked_at = db_column_int64(st, 3);
    e->receivable_id = db_column_int64(st, 4);
    e->credit = db_column_int64(st, 5) != 0;
    e->status = db_column_strdup(st, 6, a);
    e->match = db_column_strdup(st, 7, a);
    e->ref = db_column_strdup(st, 8, a);
    e->debtor_name = db_column_strdup(st, 9, a);
    e->remittance = db_column_strdup(st, 10, a);
    snprintf(e->kz, sizeof(e->kz), "%s", db_column_text(st, 11) ? db_column_text(st, 11) : "");
}

int payments_entries_list(struct db_conn *conn, struct arena *a, int64_t statement_id,
                          unsigned offset, struct payments_entry **out, size_t *count,
                          struct kr_error *err)
{
    void *rows;
    int rc =
        payments_query_rows(conn, a,
                            "SELECT e.id, e.statement_id, e.amount_cents, e.booked_at, "
                            "COALESCE(e.receivable_id, 0), e.credit, e.status, e.match, e.ref, "
                            "e.debtor_name, e.remittance, COALESCE(r.kz, '') FROM payments_entry e "
                            "LEFT JOIN payments_receivable r ON r.id = e.receivable_id "
                            "WHERE (CAST($1 AS BIGINT) = 0 AND e.status = 'unmatched') "
                            "OR e.statement_id = CAST($1 AS BIGINT) "
                            "ORDER BY e.id LIMIT 500 OFFSET CAST($2 AS BIGINT)",
                            DB_PARAMS(DB_INT(statement_id), DB_INT(offset)), sizeof(**out),
                            read_entry, &rows, count, err);
    if (rc == KR_OK)
        *out = rows;
    return rc;
}

struct assign_args {
    const char *actor;
    int64_t entry, receivable;
};

static int assign_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct assign_args *s = arg;
    int64_t amount;
    int rc = db_query_int64(conn,
                            "UPDATE payments_entry SET status = 'assigned', match = 'manual', "
                            "receivable_id = $2 WHERE id = $1 AND status = 'unmatched' "
                            "RETURNING amount_cents",
                            DB_PARAMS(DB_INT(s->entry), DB_INT(s->receivable)), &amount, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_CONFLICT, "the entry is not in the unmatched queue");
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such receivable");
    if (rc)
        return rc;
    return payments_book(conn, s->actor, s->receivable, amount, "manual", s->entry,
                         "assigned by hand", err);
}

int payments_entry_assign(struct db_conn *conn, const char *actor, int64_t entry_id,
                          int64_t receivable_id, struct kr_error *err)
{
    struct assign_args s = {actor, entry_id, receivable_id};
    return db_transact(conn, assign_tx, &s, err);
}

static void read_statement(struct db_stmt *st, struct arena *a, void *row)
{
    struct payments_statement *s = row;
    s->id = db_column_int64(st, 0);
    s->imported_at = db_column_int64(st, 1);
    s->entries = db_column_int64(st, 2);
    s->matched = db_column_int64(st, 3);
    s->unmatched = db_column_int64(st, 4);
    s->format = db_column_strdup(st, 5, a);
    s->account = db_column_strdup(st, 6, a);
    s->stmt_id = db_column_strdup(st, 7, a);
    s->actor = db_column_strdup(st, 8, a);
}

int payments_statements_list(struct db_conn *conn, struct arena *a, struct payments_statement **out,
                             size_t *count, struct kr_error *err)
{
    void *rows;
    int rc = payments_query_rows(conn, a,
                                 "SELECT id, imported_at, entries, matched, unmatched, format, "
                                 "account, stmt_id, actor FROM payments_statement "
                                 "ORDER BY id DESC LIMIT 100",
                                 NULL, 0, sizeof(**out), read_statement, &rows, count, err);
    if (rc == KR_OK)
        *out = rows;
    return rc;
}
