/*
 * search.c - full-text search over documents: a term table in the
 * database (efile_term: stem, document, weight), filled with the analysis
 * of the catalogue search (search_analyze: folding, umlaut spellings,
 * German Snowball stems), so that "Führerschein", "Fuehrerschein" and
 * "Führerscheine" find the same documents on SQLite and PostgreSQL alike.
 *
 * Why a table and not FTS5 / tsvector: one SQL text for both backends,
 * the same analysis as the catalogue, and a query that never reaches a
 * query language (docs/efile.md has the measurements).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "catalogue/search.h"
#include "core/buf.h"
#include "core/util.h"
#include "efile/efile_internal.h"

#define TERMS_MAX 20000  /* distinct terms per document */
#define CHUNK 8192       /* text analysed at a time */
#define CHUNK_WORDS 2048 /* at most this many words in a chunk */
#define QUERY_TERMS SEARCH_MAX_WORDS

enum { WEIGHT_TITLE = 10, WEIGHT_META = 4, WEIGHT_TEXT = 1 };

struct term {
    char *stem;
    int weight;
};

struct terms {
    struct arena *a;
    struct search_stemmer *st;
    struct search_word *words;
    struct term *list;
    size_t n;
};

static void add_text(struct terms *t, const char *text, int weight)
{
    size_t len = text ? strlen(text) : 0;
    size_t at = 0;
    while (at < len && t->n < TERMS_MAX) {
        size_t n = len - at < CHUNK ? len - at : CHUNK;
        /* End the chunk at a space so that no word is cut in two. */
        while (at + n < len && n > 0 && text[at + n] != ' ' && text[at + n] != '\n')
            n--;
        if (n == 0)
            n = len - at < CHUNK ? len - at : CHUNK;
        size_t w = search_analyze(t->st, text + at, n, t->words, CHUNK_WORDS);
        for (size_t i = 0; i < w && t->n < TERMS_MAX; i++) {
            if (!t->words[i].stem[0])
                continue;
            t->list[t->n].stem = arena_strdup(t->a, t->words[i].stem);
            t->list[t->n].weight = weight;
            if (t->list[t->n].stem)
                t->n++;
        }
        at += n;
    }
}

static int by_stem_weight(const void *x, const void *y)
{
    const struct term *a = x, *b = y;
    int c = strcmp(a->stem, b->stem);
    return c ? c : b->weight - a->weight;
}

/* Sort and keep each stem once with its best weight. */
static void unique(struct terms *t)
{
    qsort(t->list, t->n, sizeof(*t->list), by_stem_weight);
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++)
        if (m == 0 || strcmp(t->list[m - 1].stem, t->list[i].stem) != 0)
            t->list[m++] = t->list[i];
    t->n = m;
}

static int collect(struct db_conn *conn, int64_t doc, struct terms *t, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT d.title, d.doc_type || ' ' || d.author || ' ' || d.sender || ' ' || "
                      "f.reference || ' ' || f.title, v.text, v.filename FROM efile_document d "
                      "JOIN efile_file f ON f.id = d.file_id LEFT JOIN efile_version v "
                      "ON v.document_id = d.id AND v.no = d.current WHERE d.id = $1",
                      DB_PARAMS(DB_INT(doc)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        add_text(t, db_column_text(st, 0), WEIGHT_TITLE);
        add_text(t, db_column_text(st, 1), WEIGHT_META);
        add_text(t, db_column_text(st, 3), WEIGHT_META);
        add_text(t, db_column_text(st, 2), WEIGHT_TEXT);
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such document");
    return rc < 0 ? rc : KR_OK;
}

/* Rows per INSERT: a few fixed sizes, so that the statement cache holds
 * four texts and a document of 40 terms costs two round trips, not 40. */
static const size_t insert_rows[] = {64, 16, 4, 1};

/* "INSERT ... VALUES ($1, $2, $3), ($4, $5, $6), ..." for rows rows. */
static void insert_sql(size_t rows, struct buf *b)
{
    buf_puts(b, "INSERT INTO efile_term (term, document_id, weight) VALUES ");
    for (size_t r = 0; r < rows; r++)
        buf_printf(b, "%s($%zu, $%zu, $%zu)", r ? ", " : "", 3 * r + 1, 3 * r + 2, 3 * r + 3);
}

static int insert_batch(struct db_conn *conn, int64_t doc, const struct term *list, size_t rows,
                        struct kr_error *err)
{
    struct buf b;
    buf_init(&b, 4096);
    insert_sql(rows, &b);
    if (buf_status(&b)) {
        buf_release(&b);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory for indexing");
    }
    struct db_stmt *st;
    int rc = db_prepare(conn, buf_cstr(&b), &st, err);
    buf_release(&b);
    if (rc)
        return rc;
    for (size_t r = 0; r < rows; r++) {
        db_bind_text(st, (int)(3 * r + 1), list[r].stem, (size_t)-1);
        db_bind_int64(st, (int)(3 * r + 2), doc);
        db_bind_int64(st, (int)(3 * r + 3), list[r].weight);
    }
    int s = db_step(st, err);
    db_finish(st);
    return s < 0 ? s : KR_OK;
}

static int store_terms(struct db_conn *conn, int64_t doc, const struct terms *t,
                       struct kr_error *err)
{
    int rc = db_exec(conn, "DELETE FROM efile_term WHERE document_id = $1", DB_PARAMS(DB_INT(doc)),
                     NULL, err);
    size_t at = 0;
    for (size_t k = 0; rc == KR_OK && k < KR_ARRAY_LEN(insert_rows); k++)
        while (rc == KR_OK && t->n - at >= insert_rows[k]) {
            rc = insert_batch(conn, doc, t->list + at, insert_rows[k], err);
            at += insert_rows[k];
        }
    return rc;
}

int efile_index_replace(struct db_conn *conn, int64_t doc_id, struct kr_error *err)
{
    struct terms t = {0};
    t.a = arena_new(0);
    t.st = search_stemmer_new();
    t.words = malloc(CHUNK_WORDS * sizeof(*t.words));
    t.list = malloc(TERMS_MAX * sizeof(*t.list));
    int rc = KR_OK;
    if (!t.a || !t.st || !t.words || !t.list)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory for indexing");
    if (rc == KR_OK)
        rc = collect(conn, doc_id, &t, err);
    if (rc == KR_OK) {
        unique(&t);
        rc = store_terms(conn, doc_id, &t, err);
    }
    free(t.list);
    free(t.words);
    search_stemmer_free(t.st);
    arena_free(t.a);
    return rc;
}

static int index_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    return efile_index_replace(conn, *(int64_t *)arg, err);
}

int efile_index_document(struct db_conn *conn, int64_t doc_id, struct kr_error *err)
{
    return db_transact(conn, index_in_tx, &doc_id, err);
}

/* ---- Searching ------------------------------------------------------------------------ */

/* The distinct stems of the query's words without stop words. */
static size_t query_terms(const char *query, char terms[QUERY_TERMS][SEARCH_WORD_MAX + 1])
{
    struct search_stemmer *st = search_stemmer_new();
    if (!st)
        return 0;
    struct search_word words[QUERY_TERMS];
    size_t len = strlen(query);
    if (len > SEARCH_QUERY_MAX)
        len = SEARCH_QUERY_MAX;
    size_t n = search_analyze(st, query, len, words, QUERY_TERMS), m = 0;
    search_stemmer_free(st);
    for (size_t i = 0; i < n; i++) {
        if (!words[i].stem[0] || (n > 1 && search_is_stop_word(words[i].key)))
            continue;
        bool dup = false;
        for (size_t j = 0; j < m; j++)
            dup = dup || strcmp(terms[j], words[i].stem) == 0;
        if (!dup)
            memcpy(terms[m++], words[i].stem, sizeof(words[i].stem));
    }
    return m;
}

/*
 * The query is driven by its rarest term: its postings are the
 * candidates, every other term must be present, and the score is the sum
 * of the weights.  Scoring reads every candidate (two probes of its terms
 * each), so it is only done when the rarest term has at most RARE_MAX
 * postings; otherwise the candidates are read in index order (weight,
 * newest first) and the scan stops at the page's end, so that a search
 * costs about the same on 10,000 and on 1,000,000 documents; the order is
 * then by the rarest term's weight only.  A query of one term needs
 * neither probes nor scoring: its index order is the score order, so it
 * always stops at the page's end (SEARCH_ONE).
 *
 * RARE_MAX was 5000: on PostgreSQL a term with 2000-5000 postings took
 * 100-400 ms (about 50 us a candidate, whatever the plan: custom and
 * generic plans of the prepared statement are the same nested loop), which
 * was the p95 of bench/efile (docs/efile.md, Figures).
 */
#define RARE_MAX 1000
#define OTHERS "($5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
#define SEARCH_HEAD                                                                                \
    "SELECT d.id, d.file_id, d.title, f.reference, f.title, t.weight + (SELECT "                   \
    "COALESCE(SUM(o.weight), 0) FROM efile_term o WHERE o.document_id = t.document_id AND "        \
    "o.term IN " OTHERS ") AS score FROM efile_term t JOIN efile_document d ON d.id = "            \
    "t.document_id JOIN efile_file f ON f.id = d.file_id WHERE t.term = $4 AND (SELECT COUNT(*) "  \
    "FROM efile_term o WHERE o.document_id = t.document_id AND o.term IN " OTHERS ") = $16 AND "
#define BY_SCORE " ORDER BY score DESC, d.id DESC LIMIT $17 OFFSET $18"
#define BY_INDEX " ORDER BY t.weight DESC, t.document_id DESC LIMIT $17 OFFSET $18"
#define SEARCH_ONE                                                                                 \
    "SELECT d.id, d.file_id, d.title, f.reference, f.title, t.weight FROM efile_term t JOIN "      \
    "efile_document d ON d.id = t.document_id JOIN efile_file f ON f.id = d.file_id WHERE "        \
    "t.term = $4 AND "
#define ONE_ORDER " ORDER BY t.weight DESC, t.document_id DESC LIMIT $5 OFFSET $6"

/* Postings of term, counted up to RARE_MAX + 1. */
static int postings(struct db_conn *conn, const char *term, int64_t *n, struct kr_error *err)
{
    return db_query_int64(conn,
                          "SELECT COUNT(*) FROM (SELECT 1 FROM efile_term WHERE term = $1 "
                          "LIMIT $2) x",
                          DB_PARAMS(DB_TEXT(term), DB_INT(RARE_MAX + 1)), n, err);
}

/* Put the rarest term first; *rare is false when even it is common. */
static int order_terms(struct db_conn *conn, char terms[][SEARCH_WORD_MAX + 1], size_t n,
                       bool *rare, struct kr_error *err)
{
    int64_t best = INT64_MAX;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t c;
        int rc = postings(conn, terms[i], &c, err);
        if (rc)
            return rc;
        if (c < best) {
            best = c;
            at = i;
        }
    }
    if (at) {
        char tmp[SEARCH_WORD_MAX + 1];
        memcpy(tmp, terms[0], sizeof(tmp));
        memcpy(terms[0], terms[at], sizeof(tmp));
        memcpy(terms[at], tmp, sizeof(tmp));
    }
    *rare = best <= RARE_MAX;
    return KR_OK;
}

static const char *const search_sql[2][3] = {
    {SEARCH_HEAD EFILE_READABLE_SQL BY_INDEX, SEARCH_HEAD EFILE_READABLE_SQL BY_SCORE,
     SEARCH_ONE EFILE_READABLE_SQL ONE_ORDER},
    {SEARCH_HEAD EFILE_READABLE_ALL_SQL BY_INDEX, SEARCH_HEAD EFILE_READABLE_ALL_SQL BY_SCORE,
     SEARCH_ONE EFILE_READABLE_ALL_SQL ONE_ORDER},
};

int efile_search(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                 const char *query, unsigned offset, unsigned limit, struct efile_hit **hits,
                 size_t *count, struct kr_error *err)
{
    *count = 0;
    *hits = NULL;
    char terms[QUERY_TERMS][SEARCH_WORD_MAX + 1];
    size_t n = query ? query_terms(query, terms) : 0;
    if (limit == 0 || limit > 100)
        limit = 20;
    *hits = arena_calloc(a, limit, sizeof(**hits));
    if (!*hits)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (n == 0)
        return KR_OK;
    bool rare = false;
    int rc = n > 1 ? order_terms(conn, terms, n, &rare, err) : KR_OK;
    if (rc)
        return rc;
    struct db_param p[18];
    p[0] = DB_INT(who->user_id);
    p[1] = DB_INT(who->unit_id);
    p[2] = DB_INT(kr_now());
    p[3] = DB_TEXT(terms[0]);
    size_t np = 6;
    if (n == 1) {
        p[4] = DB_INT(limit);
        p[5] = DB_INT(offset);
    } else {
        for (size_t i = 1; i < QUERY_TERMS; i++)
            p[3 + i] = i < n ? DB_TEXT(terms[i]) : DB_NULL;
        p[15] = DB_INT((int64_t)n - 1);
        p[16] = DB_INT(limit);
        p[17] = DB_INT(offset);
        np = KR_ARRAY_LEN(p);
    }
    bool all = (who->roles & ACCOUNT_ROLE_RECORDS_MANAGER) != 0;
    struct db_stmt *st;
    rc = db_query(conn, search_sql[all][n == 1 ? 2 : rare], p, np, &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW && *count < limit) {
        struct efile_hit *h = &(*hits)[(*count)++];
        h->doc_id = db_column_int64(st, 0);
        h->file_id = db_column_int64(st, 1);
        h->doc_title = db_column_strdup(st, 2, a);
        h->file_reference = db_column_strdup(st, 3, a);
        h->file_title = db_column_strdup(st, 4, a);
        h->score = (int)db_column_int64(st, 5);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}
