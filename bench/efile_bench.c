/*
 * efile_bench.c - e-file figures (never pass/fail): load N synthetic
 * documents with text into the term index, then p50/p95 of full-text
 * searches, and document upload throughput (blob store + efile_doc_add).
 *
 *   efile_bench DATABASE_URL BLOB_DIR DOCUMENTS [QUERIES]
 *
 * DOCUMENTS 0 searches the data an earlier run left (no load);
 * BENCH_EFILE_SLOW_MS=N prints every search slower than N ms.
 *
 * The text is drawn from a vocabulary of 20,000 made-up German-looking
 * words with a Zipf distribution (plus real domain words), 40 words per
 * document, so that some words are common and most are rare, as in real
 * files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "accounts/accounts.h"
#include "core/log.h"
#include "core/util.h"
#include "efile/efile.h"

#define VOCAB 20000
#define WORDS_PER_DOC 40
#define BATCH 5000

static const char *const syllables[] = {
    "an",    "be",  "bau", "da",   "ein",  "fahr",    "ge",    "gen",  "halt",   "keit",
    "kreis", "lan", "mel", "nach", "ord",  "pflicht", "recht", "sach", "schein", "stel",
    "trag",  "ung", "ver", "wal",  "zeug", "zu",      "amt",   "ber",  "dung"};
static char vocab[VOCAB][40];
static double cumulative[VOCAB];

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void make_vocab(void)
{
    size_t ns = sizeof(syllables) / sizeof(syllables[0]);
    double sum = 0;
    for (size_t i = 0; i < VOCAB; i++) {
        size_t n = 2 + i % 3, at = 0, x = i * 7919 + 13;
        for (size_t k = 0; k < n; k++, x /= ns)
            at += (size_t)snprintf(vocab[i] + at, sizeof(vocab[i]) - at, "%s", syllables[x % ns]);
        (void)snprintf(vocab[i] + at, sizeof(vocab[i]) - at, "%zu", i % 10 == 0 ? i : 0u);
        if (i % 10 != 0)
            vocab[i][at] = '\0';
        sum += 1.0 / (double)(i + 1);
        cumulative[i] = sum;
    }
    for (size_t i = 0; i < VOCAB; i++)
        cumulative[i] /= sum;
}

static const char *zipf_word(void)
{
    double u = (double)(next_random() % 1000000) / 1e6;
    size_t lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cumulative[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return vocab[lo];
}

static void die(const char *what, const struct kr_error *err)
{
    fprintf(stderr, "efile_bench: %s: %s (%s)\n", what, err->message, err->detail);
    exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void setup(struct db_conn *conn, struct efile_actor *who, int64_t *txn)
{
    struct kr_error err;
    int64_t county = 0, unit = 0, plan = 0, file = 0;
    if (accounts_org_unit_add(conn, "bench", 0, "county", "LK", "Landkreis", "County", &county,
                              &err) ||
        accounts_org_unit_add(conn, "bench", county, "office", "36", "Amt", "Office", &unit, &err))
        die("units", &err);
    struct account_new_user u = {.kind = "staff",
                                 .login = "bench.clerk",
                                 .display_name = "Bench",
                                 .password = "Bench-Kennwort-2026",
                                 .org_unit_id = unit,
                                 .roles = ACCOUNT_ROLE_CLERK};
    if (accounts_user_add(conn, "bench", &u, &who->user_id, &err))
        die("user", &err);
    who->unit_id = unit;
    who->roles = ACCOUNT_ROLE_CLERK;
    struct efile_plan_input in = {.number = "81", .title = "Straßenverkehr", .retention_years = 10};
    if (efile_plan_save(conn, "bench", &in, &plan, &err))
        die("plan", &err);
    struct arena *a = arena_new(0);
    struct efile_file_new fn = {.plan_item_id = plan, .title = "Sammelakte"};
    if (efile_file_create(conn, a, who, &fn, kr_now(), &file, NULL, &err) ||
        efile_txn_create(conn, who, file, "Eingang", NULL, kr_now(), txn, &err))
        die("file", &err);
    arena_free(a);
}

/* DOCUMENTS 0: search the documents an earlier run left in the database
 * (to look at plans between runs, e.g. with auto_explain). */
static void reuse(struct db_conn *conn, struct efile_actor *who, int64_t *txn)
{
    struct kr_error err;
    if (db_query_int64(conn, "SELECT id FROM account_user WHERE login = 'bench.clerk'", NULL, 0,
                       &who->user_id, &err) ||
        db_query_int64(conn, "SELECT org_unit_id FROM account_user WHERE id = $1",
                       DB_PARAMS(DB_INT(who->user_id)), &who->unit_id, &err) ||
        db_query_int64(conn, "SELECT MIN(id) FROM efile_transaction", NULL, 0, txn, &err))
        die("no earlier bench data (run with DOCUMENTS > 0 first)", &err);
    who->roles = ACCOUNT_ROLE_CLERK;
}

/* Documents with their text straight into the tables, indexed in batches
 * (the bulk path of a migration from an old system). */
static void load(struct db_conn *conn, int64_t txn, long n)
{
    struct kr_error err;
    int64_t file, start = kr_monotonic_ns();
    if (db_query_int64(conn, "SELECT file_id FROM efile_transaction WHERE id = $1",
                       DB_PARAMS(DB_INT(txn)), &file, &err))
        die("file id", &err);
    char text[WORDS_PER_DOC * 40], title[128];
    for (long i = 0; i < n; i++) {
        if (i % BATCH == 0 && db_begin(conn, &err))
            die("begin", &err);
        size_t at = 0;
        for (int w = 0; w < WORDS_PER_DOC; w++)
            at += (size_t)snprintf(text + at, sizeof(text) - at, "%s ", zipf_word());
        (void)snprintf(title, sizeof(title), "Schreiben %ld %s", i, zipf_word());
        int64_t doc;
        if (db_query_int64(conn,
                           "INSERT INTO efile_document (transaction_id, file_id, title, current, "
                           "created_at, updated_at) VALUES ($1, $2, $3, 1, 0, 0) RETURNING id",
                           DB_PARAMS(DB_INT(txn), DB_INT(file), DB_TEXT(title)), &doc, &err) ||
            db_exec(conn,
                    "INSERT INTO efile_version (document_id, no, blob_hash, size, filename, "
                    "media_type, text, created_at) VALUES ($1, 1, $2, 0, 'x.txt', 'text/plain', "
                    "$3, 0)",
                    DB_PARAMS(DB_INT(doc),
                              DB_TEXT("0000000000000000000000000000000000000000000000"
                                      "000000000000000000"),
                              DB_TEXT(text)),
                    NULL, &err) ||
            efile_index_document(conn, doc, &err))
            die("load", &err);
        if ((i + 1) % BATCH == 0 || i + 1 == n) {
            if (db_commit(conn, &err))
                die("commit", &err);
            if ((i + 1) % (BATCH * 20) == 0)
                fprintf(stderr, "  %ld documents\n", i + 1);
        }
    }
    /* Fresh statistics, as autovacuum / a nightly ANALYZE would have. */
    if (db_exec_script(conn, "ANALYZE", &err))
        die("analyze", &err);
    double s = (double)(kr_monotonic_ns() - start) / 1e9;
    printf("loaded %ld documents in %.1f s (%.0f documents/s)\n", n, s, (double)n / s);
}

static void search(struct db_conn *conn, const struct efile_actor *who, int queries)
{
    int64_t *ns = calloc((size_t)queries, sizeof(*ns));
    struct arena *a = arena_new(0);
    long total_hits = 0;
    for (int q = 0; q < queries; q++) {
        char query[128];
        /* Half one word, half two words; words of every frequency. */
        if (q % 2)
            (void)snprintf(query, sizeof(query), "%s", vocab[next_random() % VOCAB]);
        else
            (void)snprintf(query, sizeof(query), "%s %s", zipf_word(), zipf_word());
        struct efile_hit *hits;
        size_t n;
        struct kr_error err;
        int64_t t = kr_monotonic_ns();
        if (efile_search(conn, a, who, query, 0, 20, &hits, &n, &err))
            die("search", &err);
        ns[q] = kr_monotonic_ns() - t;
        if (getenv("BENCH_EFILE_SLOW_MS") && ns[q] > atol(getenv("BENCH_EFILE_SLOW_MS")) * 1000000)
            fprintf(stderr, "  slow: %.1f ms, %zu hits: %s\n", (double)ns[q] / 1e6, n, query);
        total_hits += (long)n;
        arena_reset(a);
    }
    qsort(ns, (size_t)queries, sizeof(*ns), cmp_i64);
    printf("search: %d queries, p50 %.2f ms, p95 %.2f ms, max %.2f ms (%.1f hits on average)\n",
           queries, (double)ns[queries / 2] / 1e6, (double)ns[queries * 95 / 100] / 1e6,
           (double)ns[queries - 1] / 1e6, (double)total_hits / queries);
    free(ns);
    arena_free(a);
}

static void uploads(struct db_conn *conn, struct blob_store *store, const struct efile_actor *who,
                    int64_t txn)
{
    enum { COUNT = 300, SIZE = 256 * 1024 };
    unsigned char *data = malloc(SIZE);
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (unsigned char)next_random();
    int64_t start = kr_monotonic_ns();
    for (int i = 0; i < COUNT; i++) {
        struct kr_error err;
        struct blob_info info;
        memcpy(data, &i, sizeof(i)); /* a different blob each time */
        if (blob_put(store, data, SIZE, &info, &err))
            die("blob", &err);
        struct efile_content c = {info.hash, info.size, "scan.bin", "application/octet-stream"};
        struct efile_doc_meta m = {.title = "Scan"};
        if (efile_doc_add(conn, store, who, txn, &m, &c, kr_now(), NULL, &err))
            die("upload", &err);
    }
    double s = (double)(kr_monotonic_ns() - start) / 1e9;
    printf("uploads: %d documents of 256 KiB in %.2f s: %.0f documents/s, %.1f MB/s\n", COUNT, s,
           COUNT / s, COUNT * (double)SIZE / 1e6 / s);
    free(data);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: efile_bench DATABASE_URL BLOB_DIR DOCUMENTS [QUERIES]\n");
        return 2;
    }
    struct kr_error err;
    if (kr_util_init())
        return 1;
    kr_log_set_level(KR_LOG_WARN);
    struct db *db;
    struct db_options opts = {.url = argv[1], .pool_size = 2};
    if (db_open(&db, &opts, &err) || db_migrate(db, NULL, &err))
        die("database", &err);
    struct blob_store *store;
    if (blob_store_open(argv[2], &store, &err))
        die("blobs", &err);
    struct db_conn *conn;
    if (db_acquire(db, &conn, &err))
        die("acquire", &err);
    make_vocab();
    struct efile_actor who;
    int64_t txn;
    long docs = atol(argv[3]);
    if (docs > 0)
        setup(conn, &who, &txn);
    else
        reuse(conn, &who, &txn);
    printf("backend: %s\n", db_backend_name(db));
    if (docs > 0)
        load(conn, txn, docs);
    search(conn, &who, argc > 4 ? atoi(argv[4]) : 400);
    uploads(conn, store, &who, txn);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS of the benchmark process: %ld MiB\n", ru.ru_maxrss / 1024);
    db_release(conn);
    blob_store_close(store);
    db_free(db);
    return 0;
}
