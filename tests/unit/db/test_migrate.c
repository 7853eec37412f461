/*
 * test_migrate.c - migrations (src/db/migrate.c) on SQLite and PostgreSQL,
 * and the dialect rewriting of their text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/fault.h"
#include "core/log.h"
#include "db/db.h"
#include "testdb.h"

struct fx {
    enum db_dialect dialect;
    struct db *db;
    struct kr_error err;
};

static struct fx fx_sqlite = {.dialect = DB_SQLITE};
static struct fx fx_pg = {.dialect = DB_POSTGRES};

#define assert_ok(expr, errp)                                                                      \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != KR_OK)                                                                          \
            fail_msg("%s -> %s: %s (%s)", #expr, kr_status_name(rc_), (errp)->message,             \
                     (errp)->detail);                                                              \
    } while (0)

/* An empty database: the tests migrate it themselves. */
static struct fx *fx_open(void **state)
{
    struct fx *f = *state;
    kr_error_clear(&f->err);
    assert_int_equal(testdb_open_with(f->dialect, NULL, false, &f->db), KR_OK);
    return f;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    kr_fault_disarm();
    kr_log_set_stream(NULL);
    struct db_pool_stats st;
    if (f->db) {
        db_pool_stats(f->db, &st);
        if (st.in_use == 0)
            testdb_close(f->db);
    }
    f->db = NULL;
    return 0;
}

/* Each test once per backend, named "test/sqlite" and "test/postgresql". */
/* clang-format off */
#define BOTH(fn) \
    {#fn "/sqlite", fn, NULL, fx_teardown, &fx_sqlite}, \
    {#fn "/postgresql", fn, NULL, fx_teardown, &fx_pg}
/* clang-format on */

static int latest_version(void)
{
    return db_migrations[db_migrations_count - 1].version;
}

static int schema_version(struct fx *f)
{
    int v = -1;
    assert_ok(db_schema_version(f->db, &v, &f->err), &f->err);
    return v;
}

static void exec(struct fx *f, const char *sql, const struct db_param *params, size_t n)
{
    struct db_conn *conn;
    assert_ok(db_acquire(f->db, &conn, &f->err), &f->err);
    int rc = db_exec(conn, sql, params, n, NULL, &f->err);
    db_release(conn);
    assert_ok(rc, &f->err);
}

/* ------------------------------------------------------------------------ */

static void test_embedded_list(void **state)
{
    (void)state;
    assert_true(db_migrations_count >= 1);
    assert_int_equal(db_migrations[0].version, 1);
    assert_string_equal(db_migrations[0].name, "core");
    for (size_t i = 1; i < db_migrations_count; i++)
        assert_true(db_migrations[i].version > db_migrations[i - 1].version);
}

static void test_fresh_then_nothing(void **state)
{
    struct fx *f = fx_open(state);
    assert_int_equal(schema_version(f), 0);
    FILE *log = tmpfile();
    kr_log_set_stream(log);
    int applied = -1;
    assert_ok(db_migrate(f->db, &applied, &f->err), &f->err);
    kr_log_set_stream(NULL);
    assert_int_equal(applied, (int)db_migrations_count);
    assert_int_equal(schema_version(f), latest_version());

    char text[4096];
    rewind(log);
    size_t n = fread(text, 1, sizeof(text) - 1, log);
    text[n] = '\0';
    fclose(log);
    assert_non_null(strstr(text, "\"event\":\"migration_applied\""));
    assert_non_null(strstr(text, "0001_core"));

    assert_ok(db_migrate(f->db, &applied, &f->err), &f->err);
    assert_int_equal(applied, 0);
    assert_ok(db_migrate(f->db, NULL, &f->err), &f->err);
    assert_int_equal(schema_version(f), latest_version());

    /* The recorded checksum is the SHA-256 of the embedded text. */
    char want[2 * KR_SHA256_LEN + 1];
    kr_sha256_hex(db_migrations[0].sql, strlen(db_migrations[0].sql), want);
    struct db_conn *conn;
    struct arena *a = arena_new(0);
    char *got = NULL;
    assert_ok(db_acquire(f->db, &conn, &f->err), &f->err);
    assert_ok(db_query_text(conn, "SELECT checksum FROM schema_migration WHERE version = 1", NULL,
                            0, a, &got, &f->err),
              &f->err);
    db_release(conn);
    assert_string_equal(got, want);
    arena_free(a);
}

static void test_changed_checksum(void **state)
{
    struct fx *f = fx_open(state);
    assert_ok(db_migrate(f->db, NULL, &f->err), &f->err);
    exec(f, "UPDATE schema_migration SET checksum = $1 WHERE version = 1",
         DB_PARAMS(DB_TEXT("0000000000000000000000000000000000000000000000000000000000000000")));
    int applied = -1;
    assert_int_equal(db_migrate(f->db, &applied, &f->err), KR_ERR_INTEGRITY);
    assert_int_equal(f->err.code, KR_ERR_INTEGRITY);
    assert_non_null(strstr(f->err.message, "0001_core"));
    assert_int_equal(applied, 0);
}

static void test_unknown_version(void **state)
{
    struct fx *f = fx_open(state);
    assert_ok(db_migrate(f->db, NULL, &f->err), &f->err);
    exec(f,
         "INSERT INTO schema_migration (version, name, checksum, applied_at)"
         " VALUES ($1, 'from_the_future', 'x', 0)",
         DB_PARAMS(DB_INT(9999)));
    assert_int_equal(db_migrate(f->db, NULL, &f->err), KR_ERR_INTEGRITY);
    assert_non_null(strstr(f->err.message, "9999"));
    assert_int_equal(schema_version(f), 9999);
}

/* The audit log of 0001 is append-only on both backends. */
static void test_audit_entry_append_only(void **state)
{
    struct fx *f = fx_open(state);
    assert_ok(db_migrate(f->db, NULL, &f->err), &f->err);
    exec(f,
         "INSERT INTO audit_entry (seq, created_at, actor, action, object_type, object_id,"
         " details, prev_hash, hash) VALUES (1, 0, 'system', 'test', 'case', '1', '{}', $1, 'h')",
         DB_PARAMS(DB_TEXT("0")));
    static const char *const refused[] = {
        "UPDATE audit_entry SET actor = 'mallory'",
        "UPDATE audit_entry SET hash = 'x' WHERE seq = 1",
        "DELETE FROM audit_entry",
        "DELETE FROM audit_entry WHERE seq = 1",
    };
    struct db_conn *conn;
    assert_ok(db_acquire(f->db, &conn, &f->err), &f->err);
    for (size_t k = 0; k < KR_ARRAY_LEN(refused); k++) {
        print_message("case: %s\n", refused[k]);
        assert_int_equal(db_exec(conn, refused[k], NULL, 0, NULL, &f->err), KR_ERR_DB);
    }
    int64_t n = 0;
    struct arena *a = arena_new(0);
    char *actor = NULL;
    assert_ok(db_query_int64(conn, "SELECT count(*) FROM audit_entry", NULL, 0, &n, &f->err),
              &f->err);
    assert_ok(db_query_text(conn, "SELECT actor FROM audit_entry", NULL, 0, a, &actor, &f->err),
              &f->err);
    db_release(conn);
    assert_int_equal(n, 1);
    assert_string_equal(actor, "system");
    arena_free(a);
}

/* A step fails somewhere inside the run: nothing of the failed migration
 * stays, and the next run completes. */
static void test_fault_during_migration(void **state)
{
    struct fx *f = fx_open(state);
    for (long nth = 1;; nth++) {
        assert_true(nth < 50);
        kr_fault_arm(KR_FAULT_DB_STEP, nth);
        int rc = db_migrate(f->db, NULL, &f->err);
        long fired = kr_fault_fired(KR_FAULT_DB_STEP);
        kr_fault_disarm();
        if (rc == KR_OK) {
            assert_int_equal(fired, 0);
            break;
        }
        assert_int_equal(fired, 1);
        /* Each migration is all or nothing: the database is at 0 or at one
         * of the embedded versions (those before the one that failed). */
        int v = schema_version(f);
        bool known = v == 0;
        for (size_t i = 0; i < db_migrations_count; i++)
            known = known || v == db_migrations[i].version;
        assert_true(known);
        if (v == 0) {
            /* 0001's tables did not stay behind either. */
            struct db_conn *conn;
            int64_t n = -1;
            assert_ok(db_acquire(f->db, &conn, &f->err), &f->err);
            rc = db_query_int64(conn, "SELECT count(*) FROM audit_head", NULL, 0, &n, &f->err);
            db_release(conn);
            assert_int_equal(rc, KR_ERR_DB);
        }
    }
    assert_int_equal(schema_version(f), latest_version());
}

struct migrator {
    const char *url;
    int applied;
    int rc;
};

/* A second process, as far as the database can tell: its own pool. */
static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;
    struct db *db;
    struct kr_error err;
    struct db_options opts = {.url = m->url, .busy_timeout_ms = 20000};
    m->rc = db_open(&db, &opts, &err);
    if (m->rc == KR_OK)
        m->rc = db_migrate(db, &m->applied, &err);
    db_free(db);
    return NULL;
}

static void test_concurrent_migrate(void **state)
{
    struct fx *f = fx_open(state);
    struct migrator m[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        m[i] = (struct migrator){.url = testdb_url(f->db), .applied = -1};
        assert_int_equal(pthread_create(&t[i], NULL, migrate_thread, &m[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(m[i].rc, KR_OK);
        total += m[i].applied;
    }
    assert_int_equal(total, (int)db_migrations_count);
    assert_int_equal(schema_version(f), latest_version());
}

/* ------------------------------------------------------------------------
 * db_migration_rewrite */

#define SQ_ID "INTEGER PRIMARY KEY AUTOINCREMENT"
#define PG_ID "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

struct rewrite_case {
    const char *label;
    const char *in;
    const char *sqlite;
    const char *postgres;
};

static const struct rewrite_case rewrite_cases[] = {
    {"empty", "", "", ""},
    {"no words", "SELECT 1;", "SELECT 1;", "SELECT 1;"},
    {"KR_ID", "id KR_ID,", "id " SQ_ID ",", "id " PG_ID ","},
    {"KR_BLOB", "b KR_BLOB NOT NULL", "b BLOB NOT NULL", "b BYTEA NOT NULL"},
    {"at start and end", "KR_BLOB", "BLOB", "BYTEA"},
    {"next to punctuation", "(KR_ID)", "(" SQ_ID ")", "(" PG_ID ")"},
    {"in string literal", "'KR_ID' KR_BLOB", "'KR_ID' BLOB", "'KR_ID' BYTEA"},
    {"doubled quote in literal", "'it''s KR_ID' KR_ID", "'it''s KR_ID' " SQ_ID,
     "'it''s KR_ID' " PG_ID},
    {"quoted identifier", "\"KR_ID\" KR_BLOB", "\"KR_ID\" BLOB", "\"KR_ID\" BYTEA"},
    {"line comment", "-- KR_ID here\nKR_BLOB", "-- KR_ID here\nBLOB", "-- KR_ID here\nBYTEA"},
    {"block comment", "/* KR_ID\n KR_BLOB */ KR_BLOB", "/* KR_ID\n KR_BLOB */ BLOB",
     "/* KR_ID\n KR_BLOB */ BYTEA"},
    {"dollar body", "AS $$ KR_ID 'x $$ KR_BLOB", "AS $$ KR_ID 'x $$ BLOB",
     "AS $$ KR_ID 'x $$ BYTEA"},
    {"tagged dollar body", "$fn$ KR_ID $$ KR_ID $fn$ KR_ID", "$fn$ KR_ID $$ KR_ID $fn$ " SQ_ID,
     "$fn$ KR_ID $$ KR_ID $fn$ " PG_ID},
    {"parameter is no dollar quote", "$1 KR_BLOB $2", "$1 BLOB $2", "$1 BYTEA $2"},
    {"longer identifiers", "KR_IDX MY_KR_ID KR_ID2 KR_BLOBS kr_id KR_ID$x",
     "KR_IDX MY_KR_ID KR_ID2 KR_BLOBS kr_id KR_ID$x",
     "KR_IDX MY_KR_ID KR_ID2 KR_BLOBS kr_id KR_ID$x"},
    {"non-ASCII identifier", "KR_IDä", "KR_IDä", "KR_IDä"},
    {"unterminated literal", "KR_BLOB 'KR_ID", "BLOB 'KR_ID", "BYTEA 'KR_ID"},
    {"unterminated comment", "KR_BLOB /* KR_ID", "BLOB /* KR_ID", "BYTEA /* KR_ID"},
    {"sections",
     "a;\n-- kreisel:sqlite\nb KR_BLOB;\n-- kreisel:postgresql\nc KR_BLOB;\n"
     "-- kreisel:both\nd;\n",
     "a;\nb BLOB;\nd;\n", "a;\nc BYTEA;\nd;\n"},
    {"section to the end", "a;\n-- kreisel:postgresql\nb;\n", "a;\n", "a;\nb;\n"},
    {"marker with CR and blanks", "-- kreisel:sqlite \r\ns;\n-- kreisel:both\r\nx;", "s;\nx;",
     "x;"},
    {"indented marker is a comment", "  -- kreisel:sqlite\nx;", "  -- kreisel:sqlite\nx;",
     "  -- kreisel:sqlite\nx;"},
    {"marker with more text", "-- kreisel:sqlite only\nx;", "-- kreisel:sqlite only\nx;",
     "-- kreisel:sqlite only\nx;"},
    {"marker inside a body", "$$\n-- kreisel:sqlite\n$$;\ny;", "$$\n-- kreisel:sqlite\n$$;\ny;",
     "$$\n-- kreisel:sqlite\n$$;\ny;"},
    {"marker inside a comment", "/*\n-- kreisel:postgresql\n*/\nz;",
     "/*\n-- kreisel:postgresql\n*/\nz;", "/*\n-- kreisel:postgresql\n*/\nz;"},
};

static void test_rewrite(void **state)
{
    (void)state;
    for (size_t k = 0; k < KR_ARRAY_LEN(rewrite_cases); k++) {
        const struct rewrite_case *c = &rewrite_cases[k];
        print_message("case: %s\n", c->label);
        char *sq = db_migration_rewrite(c->in, DB_SQLITE);
        char *pg = db_migration_rewrite(c->in, DB_POSTGRES);
        assert_non_null(sq);
        assert_non_null(pg);
        assert_string_equal(sq, c->sqlite);
        assert_string_equal(pg, c->postgres);
        free(sq);
        free(pg);
    }
}

/* The real migrations: each dialect keeps only its own triggers. */
static void test_rewrite_core(void **state)
{
    (void)state;
    char *sq = db_migration_rewrite(db_migrations[0].sql, DB_SQLITE);
    char *pg = db_migration_rewrite(db_migrations[0].sql, DB_POSTGRES);
    assert_non_null(strstr(sq, "audit_entry_no_update"));
    assert_null(strstr(sq, "plpgsql"));
    assert_null(strstr(sq, "KR_ID"));
    assert_non_null(strstr(pg, "plpgsql"));
    assert_null(strstr(pg, "audit_entry_no_update"));
    assert_null(strstr(pg, "KR_ID"));
    assert_null(strstr(pg, "kreisel:"));
    free(sq);
    free(pg);
}

/* Upgrading a database that holds queued form webhooks (0009's
 * forms_webhook) moves them into 0016's webhook_outbox with their state. */
static void test_webhook_outbox_upgrade(void **state)
{
    struct fx *f = fx_open(state);
    struct db_conn *conn;
    assert_ok(db_acquire(f->db, &conn, &f->err), &f->err);
    size_t i = 0;
    for (; i < db_migrations_count && db_migrations[i].version < 16; i++) {
        char *sql = db_migration_rewrite(db_migrations[i].sql, f->dialect);
        assert_non_null(sql);
        assert_ok(db_exec_script(conn, sql, &f->err), &f->err);
        free(sql);
    }
    assert_true(i < db_migrations_count);
    assert_int_equal(db_migrations[i].version, 16);
    assert_ok(db_exec_script(conn,
                             "INSERT INTO forms_submission (number, token, draft_token, form_id, "
                             "version, answers, created_at) VALUES ('F-2026-000001-1', 't1', "
                             "'d1', 'kita', 'v', '{}', 100), ('F-2026-000002-2', 't2', 'd2', "
                             "'kita', 'v', '{}', 200);"
                             "INSERT INTO forms_webhook (submission_id, url, body, state, "
                             "attempts, next_at, last_error, created_at, sent_at) VALUES "
                             "(1, 'https://a.example/in', '{\"n\":1}', 'queued', 2, 500, "
                             "'HTTP status 503', 100, NULL), (2, 'https://a.example/in', "
                             "'{\"n\":2}', 'failed', 10, 900, 'timeout', 200, NULL);",
                             &f->err),
              &f->err);
    char *sql = db_migration_rewrite(db_migrations[i].sql, f->dialect);
    assert_ok(db_exec_script(conn, sql, &f->err), &f->err);
    free(sql);
    struct arena *a = arena_new(0);
    char *got = NULL;
    assert_ok(db_query_text(conn,
                            "SELECT source || ' ' || ref || ' ' || event || ' ' || state || ' ' "
                            "|| CAST(attempts AS TEXT) || ' ' || CAST(next_at AS TEXT) || ' ' || "
                            "body || ' ' || last_error FROM webhook_outbox WHERE ref = "
                            "'F-2026-000001-1'",
                            NULL, 0, a, &got, &f->err),
              &f->err);
    assert_string_equal(got, "forms F-2026-000001-1 form.submitted queued 2 500 {\"n\":1} HTTP "
                             "status 503");
    int64_t sent_at = 0;
    assert_ok(db_query_int64(conn,
                             "SELECT sent_at FROM webhook_outbox WHERE ref = 'F-2026-000002-2' "
                             "AND state = 'failed'",
                             NULL, 0, &sent_at, &f->err),
              &f->err);
    assert_int_equal(sent_at, 900);
    /* The old table is gone. */
    assert_int_not_equal(db_exec_script(conn, "SELECT 1 FROM forms_webhook", &f->err), KR_OK);
    arena_free(a);
    db_release(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_list), cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_rewrite_core),  BOTH(test_fresh_then_nothing),
        BOTH(test_changed_checksum),          BOTH(test_unknown_version),
        BOTH(test_audit_entry_append_only),   BOTH(test_fault_during_migration),
        BOTH(test_concurrent_migrate),        BOTH(test_webhook_outbox_upgrade),
    };
    return cmocka_run_group_tests_name("db_migrate", tests, NULL, NULL);
}
