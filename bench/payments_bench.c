/*
 * payments_bench.c - import of one camt.053 statement with N entries
 * against N open receivables (default 100,000), on a fresh SQLite database
 * (or the PostgreSQL database named by the second argument).  Prints the
 * import time and the process's peak RSS before and after; never fails on
 * speed.
 *
 *   payments_bench [N] [DATABASE_URL]
 *
 * The entries: 90 % name the Kassenzeichen (written in varying ways), 5 %
 * only match by debtor name and amount, 5 % match nothing (the queue).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"
#include "db/db.h"
#include "payments/payments.h"

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double seconds(int64_t ns)
{
    return (double)ns / 1e9;
}

static int setup(struct db_conn *conn, int64_t n, char (*kz)[PAYMENTS_KZ_SIZE],
                 struct kr_error *err)
{
    int rc = db_begin(conn, err);
    for (int64_t i = 0; rc == KR_OK && i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "Person %lld", (long long)i);
        struct payments_new_receivable nr = {name, 0, "Gebühr", 1000 + i % 5000, NULL, 0, NULL};
        rc = payments_receivable_create(conn, "bench", &nr, NULL, kz[i], err);
    }
    return rc ? rc : db_commit(conn, err);
}

static void entry(struct buf *b, int64_t i, const char *kz)
{
    char rem[80], name[64];
    snprintf(name, sizeof(name), "Person %lld", (long long)i);
    if (i % 20 == 18)
        snprintf(rem, sizeof(rem), "Gebuehr ohne Zeichen");
    else if (i % 20 == 19)
        snprintf(name, sizeof(name), "Fremd %lld", (long long)i), snprintf(rem, sizeof(rem), "?");
    else if (i % 2)
        snprintf(rem, sizeof(rem), "KZ %.4s %.4s %.4s Gebuehr", kz, kz + 4, kz + 8);
    else
        snprintf(rem, sizeof(rem), "kz-%s", kz);
    buf_printf(b,
               "<Ntry><Amt Ccy=\"EUR\">%lld.%02lld</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>"
               "2026-11-20</Dt></BookgDt><AcctSvcrRef>B-%lld</AcctSvcrRef><NtryDtls><TxDtls>"
               "<RltdPties><Dbtr><Nm>%s</Nm></Dbtr></RltdPties><RmtInf><Ustrd>%s</Ustrd>"
               "</RmtInf></TxDtls></NtryDtls></Ntry>\n",
               (long long)((1000 + i % 5000) / 100), (long long)((1000 + i % 5000) % 100),
               (long long)i, name, rem);
}

int main(int argc, char **argv)
{
    /* As src/main.c does for the server: no heap trimming after every
     * SQLite statement. */
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    int64_t n = argc > 1 ? atoll(argv[1]) : 100000;
    char dir[] = "/tmp/kr-paybench-XXXXXX", url[600];
    if (argc > 2) {
        snprintf(url, sizeof(url), "%s", argv[2]);
    } else {
        if (!mkdtemp(dir))
            return 1;
        snprintf(url, sizeof(url), "sqlite:%s/bench.db", dir);
    }
    struct kr_error err;
    struct db *db;
    struct db_conn *conn;
    struct db_options opts = {.url = url, .pool_size = 1};
    if (kr_util_init() || db_open(&db, &opts, &err) || db_migrate(db, NULL, &err) ||
        db_acquire(db, &conn, &err)) {
        fprintf(stderr, "payments_bench: %s (%s)\n", err.message, err.detail);
        return 1;
    }
    char(*kz)[PAYMENTS_KZ_SIZE] = calloc((size_t)n, PAYMENTS_KZ_SIZE);
    int64_t t0 = kr_monotonic_ns();
    if (setup(conn, n, kz, &err)) {
        fprintf(stderr, "payments_bench: setup: %s (%s)\n", err.message, err.detail);
        return 1;
    }
    printf("%lld open receivables created in %.1f s\n", (long long)n,
           seconds(kr_monotonic_ns() - t0));
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    buf_puts(&b, "<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:"
                 "camt.053.001.02\"><BkToCstmrStmt><Stmt><Id>BENCH-1</Id><Acct><Id><IBAN>"
                 "DE02120300000000202051</IBAN></Id></Acct>\n");
    for (int64_t i = 0; i < n; i++)
        entry(&b, i, kz[i]);
    buf_puts(&b, "</Stmt></BkToCstmrStmt></Document>\n");
    long rss_before = peak_rss_kib();
    printf("statement: %lld entries, %.1f MB; peak RSS before the import %ld MiB\n", (long long)n,
           (double)b.len / 1e6, rss_before / 1024);
    struct payments_import_result res;
    t0 = kr_monotonic_ns();
    double cpu0 = cpu_seconds();
    int rc = payments_statement_import(conn, "bench", b.data, b.len, &res, &err);
    int64_t took = kr_monotonic_ns() - t0;
    if (rc) {
        fprintf(stderr, "payments_bench: import: %s (%s)\n", err.message, err.detail);
        return 1;
    }
    printf("import (%s): %.2f s wall, %.2f s CPU, %.0f entries/s; matched %lld, "
           "unmatched %lld\n",
           db_backend_name(db), seconds(took), cpu_seconds() - cpu0, (double)n / seconds(took),
           (long long)res.matched, (long long)res.unmatched);
    printf("peak RSS after the import %ld MiB (growth during import %ld MiB)\n",
           peak_rss_kib() / 1024, (peak_rss_kib() - rss_before) / 1024);
    buf_release(&b);
    free(kz);
    db_release(conn);
    db_free(db);
    if (argc <= 2) {
        char path[700];
        const char *ext[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "%s/bench.db%s", dir, ext[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return 0;
}
