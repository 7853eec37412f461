/* Tests of src/audit/audit.c, on SQLite and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "core/util.h"
#include "testdb.h"

/* The byte layout of docs/audit.md, checked against hashes computed
 * independently (Python's hashlib over the documented encoding). */
static void test_known_hashes(void **state)
{
    (void)state;
    struct audit_entry e1 = {
        .seq = 1,
        .created_at = 1700000000,
        .actor = "cli",
        .action = "account.create",
        .object_type = "account",
        .object_id = "1",
        .details = "{\"login\":\"admin\"}",
        .prev_hash = "0000000000000000000000000000000000000000000000000000000000000000"};
    char h1[65], h2[65];
    audit_entry_hash(&e1, h1);
    assert_string_equal(h1, "ffd199698b41e75dbfb56539a7e94e607369a0e94515a94b0f3a665f11eb0eb1");
    struct audit_entry e2 = {.seq = 2,
                             .created_at = 1700000001,
                             .actor = "user:1",
                             .action = "account.login",
                             .object_type = "account",
                             .object_id = "1",
                             .details = "{\"ip\":\"203.0.113.7\",\"note\":\"Gr\\u00fc\\u00dfe\"}",
                             .prev_hash = h1};
    audit_entry_hash(&e2, h2);
    assert_string_equal(h2, "68e2f1191fb76cf2c816b18d56577a6898edf18849d083a9a68d6741e004d623");
}

static int append(struct db_conn *conn, const char *action, json_t *details, int64_t *seq)
{
    struct kr_error err;
    struct audit_event ev = {"user:1", action, "case", "K-2026-0001", details};
    int rc = db_begin(conn, &err);
    if (rc == KR_OK)
        rc = audit_append(conn, &ev, seq, &err);
    if (rc == KR_OK)
        rc = db_commit(conn, &err);
    else
        db_rollback(conn);
    json_decref(details);
    return rc;
}

static void test_append_list_verify(void **state)
{
    struct db *db;
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &db), KR_OK);
    struct db_conn *conn;
    struct kr_error err;
    assert_int_equal(db_acquire(db, &conn, &err), KR_OK);
    int64_t seq = 0;
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(
            append(conn, "case.note",
                   json_pack("{s:i, s:s, s:b, s:n, s:{s:[i,i]}}", "n", i, "text",
                             "Grüße aus Musterstadt", "ok", 1, "none", "nested", "list", 1, 2),
                   &seq),
            KR_OK);
        assert_int_equal(seq, i);
    }
    struct arena *a = arena_new(0);
    struct audit_entry *entries;
    size_t n;
    assert_int_equal(audit_list(conn, a, 0, 3, &entries, &n, &err), KR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(entries[0].seq, 5); /* newest first */
    assert_string_equal(entries[0].action, "case.note");
    /* Keys sorted, ASCII only: the stored text is the hashed text. */
    assert_string_equal(entries[0].details, "{\"n\":5,\"nested\":{\"list\":[1,2]},\"none\":null,"
                                            "\"ok\":true,\"text\":\"Gr\\u00FC\\u00DFe aus "
                                            "Musterstadt\"}");
    assert_string_equal(entries[1].hash, entries[0].prev_hash);
    assert_int_equal(audit_list(conn, a, 3, 10, &entries, &n, &err), KR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(audit_list(conn, a, 0, 0, &entries, &n, &err), KR_ERR_INVALID);
    arena_free(a);
    db_release(conn);

    struct audit_verify_result res;
    assert_int_equal(audit_verify(db, &res, &err), KR_OK);
    assert_int_equal(res.checked, 5);
    assert_int_equal(res.first_bad, 0);
    testdb_close(db);
}

static void test_rollback_leaves_no_entry_and_no_gap(void **state)
{
    struct db *db;
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &db), KR_OK);
    struct db_conn *conn;
    struct kr_error err;
    assert_int_equal(db_acquire(db, &conn, &err), KR_OK);
    int64_t seq;
    assert_int_equal(append(conn, "case.open", NULL, &seq), KR_OK);
    struct audit_event ev = {"user:1", "case.close", "case", "K-1", NULL};
    assert_int_equal(db_begin(conn, &err), KR_OK);
    assert_int_equal(audit_append(conn, &ev, &seq, &err), KR_OK);
    assert_int_equal(seq, 2);
    assert_int_equal(db_rollback(conn), KR_OK); /* the change failed: no entry */
    assert_int_equal(append(conn, "case.close", NULL, &seq), KR_OK);
    assert_int_equal(seq, 2); /* seq stays gapless */
    db_release(conn);
    struct audit_verify_result res;
    assert_int_equal(audit_verify(db, &res, &err), KR_OK);
    assert_int_equal(res.checked, 2);
    testdb_close(db);
}

/* Entries are written at commit: a transaction that appended first but
 * commits last gets the later seq; the chain stays gapless and valid; the
 * order of one transaction's entries is kept; a rollback leaves none. */
static void test_entries_written_at_commit(void **state)
{
    struct db *db;
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &db), KR_OK);
    struct db_conn *a, *b;
    struct kr_error err;
    assert_int_equal(db_acquire(db, &a, &err), KR_OK);
    assert_int_equal(db_acquire(db, &b, &err), KR_OK);
    struct audit_event first = {"user:1", "case.open", "case", "K-1", NULL};
    struct audit_event second = {"user:1", "case.decide", "case", "K-1", NULL};
    struct audit_event other = {"user:2", "payment.book", "payment", "P-9", NULL};
    assert_int_equal(db_begin(a, &err), KR_OK);
    assert_int_equal(audit_append(a, &first, NULL, &err), KR_OK);
    assert_int_equal(audit_append(a, &second, NULL, &err), KR_OK);
    int64_t n = -1;
    assert_int_equal(db_query_int64(a, "SELECT COUNT(*) FROM audit_entry", NULL, 0, &n, &err),
                     KR_OK);
    assert_int_equal(n, 0); /* not written yet: no lock on the chain held */
    /* On PostgreSQL another transaction audits and commits meanwhile
     * without waiting (SQLite has one writer at a time anyway). */
    bool pg = db_dialect(db) == DB_POSTGRES;
    if (!pg)
        assert_int_equal(db_commit(a, &err), KR_OK);
    assert_int_equal(db_begin(b, &err), KR_OK);
    assert_int_equal(audit_append(b, &other, NULL, &err), KR_OK);
    assert_int_equal(db_commit(b, &err), KR_OK);
    if (pg)
        assert_int_equal(db_commit(a, &err), KR_OK);
    struct arena *ar = arena_new(0);
    struct audit_entry *e;
    size_t count;
    assert_int_equal(audit_list(b, ar, 0, 10, &e, &count, &err), KR_OK);
    assert_int_equal(count, 3); /* newest first */
    const struct audit_entry *open = &e[pg ? 1 : 2], *decide = &e[pg ? 0 : 1],
                             *book = &e[pg ? 2 : 0];
    assert_string_equal(book->action, "payment.book");
    assert_int_equal(book->seq, pg ? 1 : 3);
    assert_string_equal(open->action, "case.open");
    assert_string_equal(decide->action, "case.decide");
    assert_int_equal(decide->seq, open->seq + 1);
    /* Rolled back: nothing, and no gap. */
    assert_int_equal(db_begin(a, &err), KR_OK);
    assert_int_equal(audit_append(a, &first, NULL, &err), KR_OK);
    assert_int_equal(db_rollback(a), KR_OK);
    /* Deferred entries keep their place before one written at once. */
    int64_t seq = 0;
    assert_int_equal(db_begin(a, &err), KR_OK);
    assert_int_equal(audit_append(a, &first, NULL, &err), KR_OK);
    assert_int_equal(audit_append(a, &second, &seq, &err), KR_OK);
    assert_int_equal(seq, 5);
    assert_int_equal(db_commit(a, &err), KR_OK);
    assert_int_equal(audit_list(b, ar, 0, 10, &e, &count, &err), KR_OK);
    assert_int_equal(count, 5);
    assert_int_equal(e[1].seq, 4);
    assert_string_equal(e[1].action, "case.open");
    arena_free(ar);
    db_release(a);
    db_release(b);
    struct audit_verify_result res;
    assert_int_equal(audit_verify(db, &res, &err), KR_OK);
    assert_int_equal(res.checked, 5);
    assert_int_equal(res.first_bad, 0);
    testdb_close(db);
}

static void test_bad_events(void **state)
{
    struct db *db;
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &db), KR_OK);
    struct db_conn *conn;
    struct kr_error err;
    assert_int_equal(db_acquire(db, &conn, &err), KR_OK);
    /* Outside a transaction: refused, the entry must commit with its change. */
    struct audit_event ev = {"cli", "x.y", "case", "1", NULL};
    assert_int_equal(audit_append(conn, &ev, NULL, &err), KR_ERR_INTERNAL);

    char long_field[AUDIT_FIELD_MAX + 2];
    memset(long_field, 'a', sizeof(long_field) - 1);
    long_field[sizeof(long_field) - 1] = '\0';
    json_t *real = json_pack("{s:f}", "amount", 12.5);
    json_t *nested_real = json_pack("{s:[i,f]}", "x", 1, 2.0);
    json_t *array = json_pack("[i]", 1);
    const struct {
        struct audit_event ev;
        int rc;
    } rows[] = {
        {{"", "x.y", "case", "1", NULL}, KR_ERR_INVALID},
        {{NULL, "x.y", "case", "1", NULL}, KR_ERR_INVALID},
        {{"cli", long_field, "case", "1", NULL}, KR_ERR_INVALID},
        {{"cli", "x.y", "case\n", "1", NULL}, KR_ERR_INVALID},
        {{"cli", "x.y", "case", "\xff", NULL}, KR_ERR_INVALID},
        {{"cli", "x.y", "case", "1", real}, KR_ERR_INVALID},
        {{"cli", "x.y", "case", "1", nested_real}, KR_ERR_INVALID},
        {{"cli", "x.y", "case", "1", array}, KR_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(db_begin(conn, &err), KR_OK);
        int rc = audit_append(conn, &rows[i].ev, NULL, &err);
        db_rollback(conn);
        if (rc != rows[i].rc)
            fail_msg("row %zu: %d, want %d", i, rc, rows[i].rc);
    }
    json_decref(real);
    json_decref(nested_real);
    json_decref(array);
    int64_t count;
    assert_int_equal(
        db_query_int64(conn, "SELECT COUNT(*) FROM audit_entry", NULL, 0, &count, &err), KR_OK);
    assert_int_equal(count, 0);
    db_release(conn);
    testdb_close(db);
}

struct writer {
    struct db *db;
    int appended;
};

static void *write_many(void *arg)
{
    struct writer *w = arg;
    struct db_conn *conn;
    struct kr_error err;
    if (db_acquire(w->db, &conn, &err))
        return NULL;
    for (int i = 0; i < 25; i++) {
        int64_t seq;
        for (int attempt = 0; attempt < 50; attempt++) {
            int rc = append(conn, "case.note", NULL, &seq);
            if (rc == KR_OK) {
                w->appended++;
                break;
            }
            if (rc != KR_ERR_BUSY)
                break;
        }
    }
    db_release(conn);
    return NULL;
}

/* Appends from several connections take turns on audit_head: the chain
 * stays gapless and valid. */
static void test_concurrent_appends(void **state)
{
    struct db *db;
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &db), KR_OK);
    pthread_t t[4];
    struct writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct writer){db, 0};
        assert_int_equal(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += w[i].appended;
    }
    assert_int_equal(total, 100);
    struct audit_verify_result res;
    struct kr_error err;
    assert_int_equal(audit_verify(db, &res, &err), KR_OK);
    assert_int_equal(res.checked, 100);
    testdb_close(db);
}

static void tamper(struct db *db, const char *sql)
{
    struct db_conn *conn;
    struct kr_error err;
    assert_int_equal(db_acquire(db, &conn, &err), KR_OK);
    const char *drop =
        db_dialect(db) == DB_SQLITE
            ? "DROP TRIGGER audit_entry_no_update; DROP TRIGGER audit_entry_no_delete"
            : "DROP TRIGGER IF EXISTS audit_entry_no_change ON audit_entry";
    assert_int_equal(db_exec_script(conn, drop, &err), KR_OK);
    if (db_exec_script(conn, sql, &err))
        fail_msg("%s: %s (%s)", sql, err.message, err.detail);
    db_release(conn);
}

static void test_verify_finds_tampering(void **state)
{
    static const struct {
        const char *sql;
        int64_t first_bad;
        const char *reason;
    } rows[] = {
        {"UPDATE audit_entry SET object_id = 'K-9' WHERE seq = 4", 4, "altered"},
        {"UPDATE audit_entry SET details = '{\"x\":1}' WHERE seq = 1", 1, "altered"},
        {"UPDATE audit_entry SET created_at = created_at + 1 WHERE seq = 8", 8, "altered"},
        {"DELETE FROM audit_entry WHERE seq = 3", 3, "deleted"},
        {"DELETE FROM audit_entry WHERE seq = 1", 1, "deleted"},
        {"DELETE FROM audit_entry WHERE seq >= 7", 7, "deleted"},
        {"UPDATE audit_entry SET prev_hash = hash WHERE seq = 5", 5, "inserted"},
        {"UPDATE audit_head SET hash = 'x' WHERE id = 1", 8, "head"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct db *db;
        assert_int_equal(testdb_open(*(enum db_dialect *)*state, &db), KR_OK);
        struct db_conn *conn;
        struct kr_error err;
        assert_int_equal(db_acquire(db, &conn, &err), KR_OK);
        for (int k = 0; k < 8; k++)
            assert_int_equal(append(conn, "case.note", NULL, NULL), KR_OK);
        db_release(conn);
        tamper(db, rows[i].sql);
        struct audit_verify_result res;
        int rc = audit_verify(db, &res, &err);
        if (rc != KR_ERR_INTEGRITY || res.first_bad != rows[i].first_bad ||
            !strstr(res.reason, rows[i].reason))
            fail_msg("%s: rc %d, first bad %lld (%s)", rows[i].sql, rc, (long long)res.first_bad,
                     res.reason);
        testdb_close(db);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_hashes),
        TESTDB_BOTH(test_append_list_verify),
        TESTDB_BOTH(test_rollback_leaves_no_entry_and_no_gap),
        TESTDB_BOTH(test_bad_events),
        TESTDB_BOTH(test_entries_written_at_commit),
        TESTDB_BOTH(test_concurrent_appends),
        TESTDB_BOTH(test_verify_finds_tampering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
