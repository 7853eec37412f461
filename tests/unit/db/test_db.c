/*
 * test_db.c - the storage contract (src/db/db.h) on SQLite and PostgreSQL.
 *
 * Every test that takes a fixture runs once per backend: "name/sqlite" and
 * "name/postgresql" (skipped without KREISEL_TEST_PG_URL).  The tests look
 * inside struct db_conn (db_internal.h) only where the contract promises
 * something invisible from outside: the statement cache and its bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/arena.h"
#include "core/fault.h"
#include "core/log.h"
#include "db/db.h"
#include "db/db_internal.h"
#include "testdb.h"

struct fx {
    enum db_dialect dialect;
    struct db *db;
    struct db_conn *conn;
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

static const char schema[] = "CREATE TABLE val (id KR_ID, i BIGINT, t TEXT, b KR_BLOB);\n"
                             "CREATE TABLE item (\n"
                             "    id KR_ID,\n"
                             "    name TEXT UNIQUE,\n"
                             "    parent_id BIGINT REFERENCES item (id),\n"
                             "    qty BIGINT NOT NULL DEFAULT 0 CHECK (qty >= 0)\n"
                             ");\n"
                             "CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);\n"
                             "INSERT INTO counter (id, n) VALUES (1, 0);\n";

/* Run portable DDL: KR_ID and KR_BLOB rewritten as for a migration. */
static void exec_portable(struct db_conn *conn, const char *sql)
{
    struct kr_error err;
    char *text = db_migration_rewrite(sql, db_dialect(db_conn_db(conn)));
    assert_non_null(text);
    int rc = db_exec_script(conn, text, &err);
    free(text);
    assert_ok(rc, &err);
}

static struct fx *fx_open_with(void **state, const struct db_options *opts)
{
    struct fx *f = *state;
    kr_error_clear(&f->err);
    assert_int_equal(testdb_open_with(f->dialect, opts, true, &f->db), KR_OK);
    assert_ok(db_acquire(f->db, &f->conn, &f->err), &f->err);
    exec_portable(f->conn, schema);
    return f;
}

static struct fx *fx_open(void **state)
{
    return fx_open_with(state, NULL);
}

/* Runs after every test, also a failed one.  If the test left
 * connections borrowed or statements open, the pool is leaked rather than
 * freed: db_free would (rightly) abort on it and end the whole run. */
static int fx_teardown(void **state)
{
    struct fx *f = *state;
    kr_fault_disarm();
    kr_log_set_stream(NULL);
    if (f->db) {
        struct db_pool_stats st;
        db_pool_stats(f->db, &st);
        bool clean = st.in_use == (f->conn ? 1u : 0u) && (!f->conn || f->conn->stmts_in_use == 0);
        if (clean) {
            db_release(f->conn);
            testdb_close(f->db);
        }
    }
    f->db = NULL;
    f->conn = NULL;
    return 0;
}

/* Each test once per backend, named "test/sqlite" and "test/postgresql". */
/* clang-format off */
#define BOTH(fn) \
    {#fn "/sqlite", fn, NULL, fx_teardown, &fx_sqlite}, \
    {#fn "/postgresql", fn, NULL, fx_teardown, &fx_pg}
/* clang-format on */

static int64_t count_where_name(struct db_conn *conn, const char *name)
{
    struct kr_error err;
    int64_t n = -1;
    assert_ok(db_query_int64(conn, "SELECT count(*) FROM item WHERE name = $1",
                             DB_PARAMS(DB_TEXT(name)), &n, &err),
              &err);
    return n;
}

static int64_t count_items(struct db_conn *conn)
{
    struct kr_error err;
    int64_t n = -1;
    assert_ok(db_query_int64(conn, "SELECT count(*) FROM item", NULL, 0, &n, &err), &err);
    return n;
}

/* ------------------------------------------------------------------------
 * Values */

struct value_case {
    const char *label;
    enum db_param_type type;
    int64_t i;
    const char *bytes; /* TEXT or BLOB */
    size_t len;
    const char *as_text; /* how an integer reads as text */
};

static const char blob_nul[] = {'a', 0, 'b', 0, 0, (char)0xff, (char)0x80};

static const struct value_case value_cases[] = {
    {"null", DB_PARAM_NULL, 0, NULL, 0, NULL},
    {"zero", DB_PARAM_INT64, 0, NULL, 0, "0"},
    {"minus one", DB_PARAM_INT64, -1, NULL, 0, "-1"},
    {"int64 min", DB_PARAM_INT64, INT64_MIN, NULL, 0, "-9223372036854775808"},
    {"int64 max", DB_PARAM_INT64, INT64_MAX, NULL, 0, "9223372036854775807"},
    {"empty text", DB_PARAM_TEXT, 0, "", 0, NULL},
    {"umlauts", DB_PARAM_TEXT, 0, "Grüße aus Köln, Straße Ä Ö Ü ß", (size_t)-1, NULL},
    {"emoji", DB_PARAM_TEXT, 0, "Antrag \xF0\x9F\x93\x84 erledigt \xF0\x9F\x98\x80", (size_t)-1,
     NULL},
    {"sql-ish text", DB_PARAM_TEXT, 0, "O'Brien \"x\" \\ $1 -- /* KR_ID */", (size_t)-1, NULL},
    {"blob with NULs", DB_PARAM_BLOB, 0, blob_nul, sizeof(blob_nul), NULL},
    {"empty blob", DB_PARAM_BLOB, 0, "", 0, NULL},
};

static struct db_param param_of(const struct value_case *c, enum db_param_type column)
{
    if (c->type != column)
        return DB_NULL;
    if (c->type == DB_PARAM_INT64)
        return DB_INT(c->i);
    size_t len = c->len == (size_t)-1 ? strlen(c->bytes) : c->len;
    return c->type == DB_PARAM_TEXT ? DB_TEXTN(c->bytes, len) : DB_BLOB(c->bytes, len);
}

static void check_value(struct db_stmt *st, const struct value_case *c)
{
    enum db_param_type cols[] = {DB_PARAM_INT64, DB_PARAM_TEXT, DB_PARAM_BLOB};
    for (int col = 0; col < 3; col++) {
        if (c->type != cols[col]) {
            assert_true(db_column_is_null(st, col));
            assert_null(db_column_text(st, col));
            assert_null(db_column_blob(st, col));
            assert_int_equal(db_column_len(st, col), 0);
            assert_true(db_column_int64(st, col) == 0);
            continue;
        }
        assert_false(db_column_is_null(st, col));
        if (c->type == DB_PARAM_INT64) {
            assert_true(db_column_int64(st, col) == c->i);
            assert_string_equal(db_column_text(st, col), c->as_text);
            continue;
        }
        size_t len = c->len == (size_t)-1 ? strlen(c->bytes) : c->len;
        const void *p = col == 1 ? (const void *)db_column_text(st, col) : db_column_blob(st, col);
        assert_non_null(p);
        assert_int_equal(db_column_len(st, col), len);
        assert_memory_equal(p, c->bytes, len);
    }
}

static void test_value_roundtrip(void **state)
{
    struct fx *f = fx_open(state);
    for (size_t k = 0; k < KR_ARRAY_LEN(value_cases); k++) {
        const struct value_case *c = &value_cases[k];
        struct db_stmt *st;
        int64_t id = 0;
        print_message("case: %s\n", c->label);
        assert_ok(db_query(f->conn, "INSERT INTO val (i, t, b) VALUES ($1, $2, $3) RETURNING id",
                           DB_PARAMS(param_of(c, DB_PARAM_INT64), param_of(c, DB_PARAM_TEXT),
                                     param_of(c, DB_PARAM_BLOB)),
                           &st, &f->err),
                  &f->err);
        assert_int_equal(db_step(st, &f->err), DB_ROW);
        id = db_column_int64(st, 0);
        assert_int_equal(db_step(st, &f->err), DB_DONE);
        db_finish(st);

        assert_ok(db_query(f->conn, "SELECT i, t, b FROM val WHERE id = $1", DB_PARAMS(DB_INT(id)),
                           &st, &f->err),
                  &f->err);
        assert_int_equal(db_step(st, &f->err), DB_ROW);
        assert_int_equal(db_column_count(st), 3);
        assert_string_equal(db_column_name(st, 1), "t");
        check_value(st, c);
        assert_int_equal(db_step(st, &f->err), DB_DONE);
        db_finish(st);
    }
}

static void test_blob_1mib(void **state)
{
    struct fx *f = fx_open(state);
    size_t len = 1024 * 1024;
    unsigned char *data = malloc(len);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)((i * 7) % 256); /* every byte value, NULs too */
    assert_ok(db_exec(f->conn, "INSERT INTO val (id, b) VALUES (1, $1)",
                      DB_PARAMS(DB_BLOB(data, len)), NULL, &f->err),
              &f->err);
    struct db_stmt *st;
    assert_ok(db_prepare(f->conn, "SELECT b FROM val WHERE id = 1", &st, &f->err), &f->err);
    assert_int_equal(db_step(st, &f->err), DB_ROW);
    assert_int_equal(db_column_len(st, 0), len);
    assert_memory_equal(db_column_blob(st, 0), data, len);
    db_finish(st);
    free(data);
}

static void test_column_strdup(void **state)
{
    struct fx *f = fx_open(state);
    struct arena *a = arena_new(0);
    struct db_stmt *st;
    assert_ok(db_prepare(f->conn, "SELECT 'Müller', NULL", &st, &f->err), &f->err);
    assert_int_equal(db_step(st, &f->err), DB_ROW);
    char *s = db_column_strdup(st, 0, a);
    assert_null(db_column_strdup(st, 1, a));
    db_finish(st); /* the copy outlives the statement */
    assert_string_equal(s, "Müller");
    arena_free(a);
}

static void test_param_order_and_repeat(void **state)
{
    struct fx *f = fx_open(state);
    struct db_stmt *st;
    assert_ok(db_query(f->conn, "SELECT $2, $1, $1", DB_PARAMS(DB_TEXT("eins"), DB_TEXT("zwei")),
                       &st, &f->err),
              &f->err);
    assert_int_equal(db_step(st, &f->err), DB_ROW);
    assert_string_equal(db_column_text(st, 0), "zwei");
    assert_string_equal(db_column_text(st, 1), "eins");
    assert_string_equal(db_column_text(st, 2), "eins");
    db_finish(st);

    /* Bound one by one, $2 before $1, into typed columns. */
    assert_ok(db_prepare(f->conn, "INSERT INTO item (qty, name) VALUES ($2, $1)", &st, &f->err),
              &f->err);
    db_bind_int64(st, 2, 42);
    db_bind_text(st, 1, "Kfz-Zulassung", (size_t)-1);
    assert_int_equal(db_step(st, &f->err), DB_DONE);
    db_finish(st);
    int64_t qty = 0;
    assert_ok(db_query_int64(f->conn, "SELECT qty FROM item WHERE name = $1 AND $1 <> ''",
                             DB_PARAMS(DB_TEXT("Kfz-Zulassung")), &qty, &f->err),
              &f->err);
    assert_int_equal(qty, 42);
}

struct bad_param_case {
    const char *label;
    const char *sql;
    int idx;
    struct db_param value;
};

static void test_bad_parameter(void **state)
{
    static const struct bad_param_case cases[] = {
        {"number too high", "SELECT $1", 2, DB_INT(1)},
        {"number zero", "SELECT $1", 0, DB_INT(1)},
        {"number negative", "SELECT $1", -1, DB_INT(1)},
        {"no parameters at all", "SELECT 1", 1, DB_INT(1)},
        {"text with NUL", "SELECT $1", 1, DB_TEXTN("a\0b", 3)},
        {"text not UTF-8", "SELECT $1", 1,
         DB_TEXT("Stra\xc3\x28"
                 "e")},
        {"text overlong UTF-8", "SELECT $1", 1, DB_TEXT("\xc0\xaf")},
    };
    struct fx *f = fx_open(state);
    for (size_t k = 0; k < KR_ARRAY_LEN(cases); k++) {
        const struct bad_param_case *c = &cases[k];
        struct db_stmt *st;
        print_message("case: %s\n", c->label);
        assert_ok(db_prepare(f->conn, c->sql, &st, &f->err), &f->err);
        struct db_param v = c->value;
        if (v.type == DB_PARAM_TEXT)
            db_bind_text(st, c->idx, v.p, v.len);
        else
            db_bind_int64(st, c->idx, v.i);
        assert_int_equal(db_step(st, &f->err), KR_ERR_INVALID);
        assert_int_equal(f->err.code, KR_ERR_INVALID);
        /* The statement is usable again after the error. */
        if (strchr(c->sql, '$'))
            db_bind_text(st, 1, "ok", (size_t)-1);
        assert_int_equal(db_step(st, &f->err), DB_ROW);
        db_finish(st);
    }
}

static void test_bind_while_running(void **state)
{
    struct fx *f = fx_open(state);
    struct db_stmt *st;
    assert_ok(db_prepare(f->conn, "SELECT $1 UNION ALL SELECT 'b'", &st, &f->err), &f->err);
    db_bind_text(st, 1, "a", 1);
    assert_int_equal(db_step(st, &f->err), DB_ROW);
    db_bind_text(st, 1, "c", 1);
    assert_int_equal(db_step(st, &f->err), KR_ERR_INTERNAL);
    db_bind_text(st, 1, "d", 1);
    assert_int_equal(db_step(st, &f->err), DB_ROW);
    assert_string_equal(db_column_text(st, 0), "d");
    db_finish(st);
}

/* ------------------------------------------------------------------------
 * Errors */

#define SECRET "Geheim-Müller-4711"

struct constraint_case {
    const char *label;
    const char *sql;
    struct db_param params[3];
    size_t n;
    int expect;
};

static void test_constraint_errors(void **state)
{
    static const struct constraint_case cases[] = {
        {"unique", "INSERT INTO item (name) VALUES ($1)", {DB_TEXT(SECRET)}, 1, KR_ERR_CONFLICT},
        {"foreign key",
         "INSERT INTO item (name, parent_id) VALUES ($1, $2)",
         {DB_TEXT("x-" SECRET), DB_INT(999999)},
         2,
         KR_ERR_CONFLICT},
        {"not null",
         "INSERT INTO item (name, qty) VALUES ($1, $2)",
         {DB_TEXT(SECRET "1"), DB_NULL},
         2,
         KR_ERR_INVALID},
        {"check",
         "INSERT INTO item (name, qty) VALUES ($1, $2)",
         {DB_TEXT(SECRET "2"), DB_INT(-5)},
         2,
         KR_ERR_INVALID},
        {"delete referenced",
         "DELETE FROM item WHERE name = $1",
         {DB_TEXT(SECRET)},
         1,
         KR_ERR_CONFLICT},
    };
    struct fx *f = fx_open(state);
    int64_t parent;
    assert_ok(db_query_int64(f->conn, "INSERT INTO item (name) VALUES ($1) RETURNING id",
                             DB_PARAMS(DB_TEXT(SECRET)), &parent, &f->err),
              &f->err);
    assert_ok(db_exec(f->conn, "INSERT INTO item (name, parent_id) VALUES ('child', $1)",
                      DB_PARAMS(DB_INT(parent)), NULL, &f->err),
              &f->err);
    for (size_t k = 0; k < KR_ARRAY_LEN(cases); k++) {
        const struct constraint_case *c = &cases[k];
        print_message("case: %s\n", c->label);
        kr_error_clear(&f->err);
        assert_int_equal(db_exec(f->conn, c->sql, c->params, c->n, NULL, &f->err), c->expect);
        assert_int_equal(f->err.code, c->expect);
        assert_true(f->err.message[0] != '\0');
        assert_true(f->err.detail[0] != '\0');
        /* Bound values may be personal data: never in message or detail. */
        assert_null(strstr(f->err.message, "Geheim"));
        assert_null(strstr(f->err.detail, "Geheim"));
        assert_non_null(strstr(f->err.detail, c->sql)); /* the start of the SQL */
    }
    assert_int_equal(count_items(f->conn), 2);
}

/* A value of the wrong type: PostgreSQL quotes it in its message. */
static void test_error_hides_values(void **state)
{
    struct fx *f = fx_open(state);
    kr_error_clear(&f->err);
    int rc = db_exec(f->conn, "SELECT CAST($1 AS BIGINT) + 1", DB_PARAMS(DB_TEXT(SECRET)), NULL,
                     &f->err);
    if (f->dialect == DB_POSTGRES)
        assert_int_equal(rc, KR_ERR_DB);
    assert_null(strstr(f->err.message, "Geheim"));
    assert_null(strstr(f->err.detail, "Geheim"));
}

static void test_sql_errors(void **state)
{
    static const struct {
        const char *label;
        const char *sql;
        int expect;
    } cases[] = {
        {"syntax", "SELEKT 1", KR_ERR_DB},
        {"no such table", "SELECT * FROM no_such_table", KR_ERR_DB},
        {"two statements", "SELECT 1; SELECT 2", KR_ERR_DB},
        {"empty", "", KR_ERR_INVALID},
        {"blank", " \n\t ", KR_ERR_INVALID},
    };
    struct fx *f = fx_open(state);
    for (size_t k = 0; k < KR_ARRAY_LEN(cases); k++) {
        struct db_stmt *st = (struct db_stmt *)&f; /* must be reset to NULL */
        print_message("case: %s\n", cases[k].label);
        assert_int_equal(db_prepare(f->conn, cases[k].sql, &st, &f->err), cases[k].expect);
        assert_null(st);
        assert_int_equal(f->err.code, cases[k].expect);
    }
    /* A trailing comment is not a second statement. */
    struct db_stmt *st;
    assert_ok(db_prepare(f->conn, "SELECT 1; -- done", &st, &f->err), &f->err);
    db_finish(st);
    assert_ok(db_ping(f->db, &f->err), &f->err);
}

/* One writer holds the lock: the other gets KR_ERR_BUSY after its wait. */
static void test_busy(void **state)
{
    struct db_options opts = {.busy_timeout_ms = 100};
    struct fx *f = fx_open_with(state, &opts);
    struct db_conn *other;
    assert_ok(db_acquire(f->db, &other, &f->err), &f->err);
    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_ok(db_exec(f->conn, "UPDATE counter SET n = n + 1", NULL, 0, NULL, &f->err), &f->err);
    int rc;
    if (f->dialect == DB_SQLITE) {
        rc = db_begin(other, &f->err);
    } else {
        assert_ok(db_exec_script(other, "SET lock_timeout = '100ms'", &f->err), &f->err);
        rc = db_exec(other, "UPDATE counter SET n = n + 1", NULL, 0, NULL, &f->err);
    }
    assert_int_equal(rc, KR_ERR_BUSY);
    assert_false(db_in_transaction(other));
    assert_ok(db_commit(f->conn, &f->err), &f->err);
    db_release(other);
}

/* ------------------------------------------------------------------------
 * Transactions */

static void test_commit_rollback_visibility(void **state)
{
    struct fx *f = fx_open(state);
    struct db_conn *other;
    assert_ok(db_acquire(f->db, &other, &f->err), &f->err);
    assert_false(db_in_transaction(f->conn));

    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_true(db_in_transaction(f->conn));
    assert_ok(
        db_exec(f->conn, "INSERT INTO item (name) VALUES ('rolled back')", NULL, 0, NULL, &f->err),
        &f->err);
    assert_int_equal(count_where_name(f->conn, "rolled back"), 1);
    assert_int_equal(count_where_name(other, "rolled back"), 0);
    assert_int_equal(db_rollback(f->conn), KR_OK);
    assert_false(db_in_transaction(f->conn));
    assert_int_equal(count_where_name(f->conn, "rolled back"), 0);

    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_ok(
        db_exec(f->conn, "INSERT INTO item (name) VALUES ('committed')", NULL, 0, NULL, &f->err),
        &f->err);
    assert_int_equal(count_where_name(other, "committed"), 0);
    assert_ok(db_commit(f->conn, &f->err), &f->err);
    assert_false(db_in_transaction(f->conn));
    assert_int_equal(count_where_name(other, "committed"), 1);
    db_release(other);
}

/* db_precommit: hooks run inside the transaction right before COMMIT, in
 * order; a failing hook rolls everything back; release runs either way. */
static int released;

static void note_release(void *arg)
{
    (void)arg;
    released++;
}

static int hook_insert(struct db_conn *conn, void *arg, struct kr_error *err)
{
    return db_exec(conn, "INSERT INTO item (name) VALUES ($1)", DB_PARAMS(DB_TEXT(arg)), NULL, err);
}

static int hook_fail(struct db_conn *conn, void *arg, struct kr_error *err)
{
    (void)conn;
    (void)arg;
    return kr_error_set(err, KR_ERR_CONFLICT, "hook says no");
}

static void test_precommit_hooks(void **state)
{
    struct fx *f = fx_open(state);
    struct db_conn *other;
    assert_ok(db_acquire(f->db, &other, &f->err), &f->err);
    released = 0;
    /* Outside a transaction: refused. */
    assert_int_equal(db_precommit(f->conn, hook_insert, "x", note_release, &f->err),
                     KR_ERR_INTERNAL);
    assert_null(db_precommit_arg(f->conn, hook_insert));
    /* Committed: the hooks' rows are there, in order, and visible together. */
    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_ok(db_precommit(f->conn, hook_insert, "first", note_release, &f->err), &f->err);
    assert_ok(db_precommit(f->conn, hook_insert, "second", note_release, &f->err), &f->err);
    assert_string_equal(db_precommit_arg(f->conn, hook_insert), "first");
    assert_int_equal(count_where_name(f->conn, "first"), 0); /* not yet */
    assert_ok(db_commit(f->conn, &f->err), &f->err);
    assert_int_equal(released, 2);
    assert_int_equal(count_where_name(other, "first"), 1);
    assert_int_equal(count_where_name(other, "second"), 1);
    int64_t order = 0;
    assert_ok(db_query_int64(other,
                             "SELECT COUNT(*) FROM item a JOIN item b ON a.id < b.id WHERE "
                             "a.name = 'first' AND b.name = 'second'",
                             NULL, 0, &order, &f->err),
              &f->err);
    assert_int_equal(order, 1);
    assert_null(db_precommit_arg(f->conn, hook_insert));
    /* A failing hook: the commit fails, nothing of the transaction stays. */
    released = 0;
    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_ok(db_exec(f->conn, "INSERT INTO item (name) VALUES ('body')", NULL, 0, NULL, &f->err),
              &f->err);
    assert_ok(db_precommit(f->conn, hook_insert, "third", note_release, &f->err), &f->err);
    assert_ok(db_precommit(f->conn, hook_fail, NULL, NULL, &f->err), &f->err);
    assert_int_equal(db_commit(f->conn, &f->err), KR_ERR_CONFLICT);
    assert_string_equal(f->err.message, "hook says no");
    assert_false(db_in_transaction(f->conn));
    assert_int_equal(released, 1);
    assert_int_equal(count_where_name(other, "body"), 0);
    assert_int_equal(count_where_name(other, "third"), 0);
    /* Rolled back: released, never run. */
    released = 0;
    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_ok(db_precommit(f->conn, hook_insert, "never", note_release, &f->err), &f->err);
    assert_int_equal(db_rollback(f->conn), KR_OK);
    assert_int_equal(released, 1);
    assert_int_equal(count_where_name(other, "never"), 0);
    /* At most DB_PRECOMMIT_MAX. */
    assert_ok(db_begin(f->conn, &f->err), &f->err);
    for (int i = 0; i < DB_PRECOMMIT_MAX; i++)
        assert_ok(db_precommit(f->conn, hook_fail, NULL, NULL, &f->err), &f->err);
    assert_int_equal(db_precommit(f->conn, hook_fail, NULL, NULL, &f->err), KR_ERR_TOO_LARGE);
    assert_int_equal(db_rollback(f->conn), KR_OK);
    db_release(other);
}

static void test_transaction_misuse(void **state)
{
    struct fx *f = fx_open(state);
    assert_int_equal(db_rollback(f->conn), KR_OK); /* none open: nothing to do */
    assert_int_equal(db_commit(f->conn, &f->err), KR_ERR_INTERNAL);
    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_int_equal(db_begin(f->conn, &f->err), KR_ERR_INTERNAL);
    assert_int_equal(f->err.code, KR_ERR_INTERNAL);
    assert_true(db_in_transaction(f->conn)); /* the first is still open */
    assert_int_equal(db_rollback(f->conn), KR_OK);
    assert_false(db_in_transaction(f->conn));
    if (f->dialect == DB_POSTGRES) {
        /* A transaction begun behind db_begin's back that failed: the
         * server answers COMMIT with ROLLBACK, which is no success. */
        assert_ok(db_exec_script(f->conn, "BEGIN", &f->err), &f->err);
        assert_int_equal(db_exec_script(f->conn, "SELECT 1 / 0", &f->err), KR_ERR_DB);
        assert_int_equal(db_commit(f->conn, &f->err), KR_ERR_DB);
        assert_false(db_in_transaction(f->conn));
    }
}

/* After a failed statement PostgreSQL refuses everything until ROLLBACK;
 * after the rollback the connection works on both. */
static void test_error_inside_transaction(void **state)
{
    static const char sql[] = "INSERT INTO item (name) VALUES ($1)";
    struct fx *f = fx_open(state);
    struct db_stmt *a, *b;
    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_ok(db_prepare(f->conn, sql, &a, &f->err), &f->err);
    assert_ok(db_prepare(f->conn, sql, &b, &f->err), &f->err); /* an uncached twin */
    assert_ptr_not_equal(a, b);
    db_bind_text(a, 1, "dup", 3);
    assert_int_equal(db_step(a, &f->err), DB_DONE);
    db_bind_text(b, 1, "dup", 3);
    assert_int_equal(db_step(b, &f->err), KR_ERR_CONFLICT);
    assert_true(a->cached);
    assert_false(b->cached);
    db_finish(b); /* PostgreSQL: its DEALLOCATE waits for the rollback */
    db_finish(a);
    assert_true(db_in_transaction(f->conn));
    assert_int_equal(db_rollback(f->conn), KR_OK);
    assert_false(db_in_transaction(f->conn));
    db_release(f->conn);
    assert_ok(db_acquire(f->db, &f->conn, &f->err), &f->err);
    assert_int_equal(count_where_name(f->conn, "dup"), 0);
    assert_ok(db_exec(f->conn, sql, DB_PARAMS(DB_TEXT("dup")), NULL, &f->err), &f->err);
    if (f->dialect == DB_POSTGRES) {
        int64_t n = -1;
        assert_ok(db_query_int64(f->conn,
                                 "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
                                 DB_PARAMS(DB_TEXT(sql)), &n, &f->err),
                  &f->err);
        assert_int_equal(n, 1); /* the cached one; the twin was deallocated */
    }
}

/* With the cache full of statements in use, a new one is not cached and
 * freed by db_finish; inside a failed PostgreSQL transaction its
 * DEALLOCATE has to wait until after the rollback. */
static void test_uncached_statement(void **state)
{
    static const char sql[] = "INSERT INTO item (name) VALUES ($1)";
    struct fx *f = fx_open(state);
    struct db_stmt *held[DB_STMT_CACHE_MAX], *extra;
    for (int i = 0; i < DB_STMT_CACHE_MAX; i++) {
        char text[32];
        (void)snprintf(text, sizeof(text), "SELECT %d", i);
        assert_ok(db_prepare(f->conn, text, &held[i], &f->err), &f->err);
    }
    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_ok(db_prepare(f->conn, sql, &extra, &f->err), &f->err);
    assert_false(extra->cached);
    db_bind_text(extra, 1, "dup", 3);
    assert_int_equal(db_step(extra, &f->err), DB_DONE);
    db_bind_text(extra, 1, "dup", 3);
    assert_int_equal(db_step(extra, &f->err), KR_ERR_CONFLICT);
    db_finish(extra);
    for (int i = 0; i < DB_STMT_CACHE_MAX; i++)
        db_finish(held[i]);
    assert_int_equal(db_rollback(f->conn), KR_OK);
    db_release(f->conn);
    assert_ok(db_acquire(f->db, &f->conn, &f->err), &f->err);
    assert_int_equal(count_where_name(f->conn, "dup"), 0);
    if (f->dialect == DB_POSTGRES) {
        int64_t n = -1;
        assert_ok(db_query_int64(f->conn,
                                 "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
                                 DB_PARAMS(DB_TEXT(sql)), &n, &f->err),
                  &f->err);
        assert_int_equal(n, 0);
    }
}

/* On both backends a failed statement dooms its transaction: COMMIT
 * rolls back and says so (PostgreSQL would answer it with a silent
 * ROLLBACK). */
static void test_failed_statement_dooms_transaction(void **state)
{
    static const struct {
        const char *sql;
        struct db_param params[2];
        size_t n;
    } failing[] = {
        {"INSERT INTO item (name) VALUES ($1)", {DB_TEXT("dup")}, 1},            /* conflict */
        {"INSERT INTO item (name) VALUES ($1)", {DB_TEXT("new"), DB_INT(2)}, 2}, /* no $2 */
        {"SELECT * FROM no_such_table", {DB_NULL}, 0},                           /* at prepare */
    };
    struct fx *f = fx_open(state);
    assert_ok(db_exec(f->conn, "INSERT INTO item (name) VALUES ('dup')", NULL, 0, NULL, &f->err),
              &f->err);
    for (size_t k = 0; k < KR_ARRAY_LEN(failing); k++) {
        print_message("case %zu: %s\n", k, failing[k].sql);
        assert_ok(db_begin(f->conn, &f->err), &f->err);
        assert_ok(
            db_exec(f->conn, "INSERT INTO item (name) VALUES ('kept?')", NULL, 0, NULL, &f->err),
            &f->err);
        int rc = db_exec(f->conn, failing[k].sql, failing[k].params, failing[k].n, NULL, &f->err);
        assert_int_equal(rc, k == 0 ? KR_ERR_CONFLICT : k == 1 ? KR_ERR_INVALID : KR_ERR_DB);
        assert_int_equal(db_commit(f->conn, &f->err), KR_ERR_DB);
        assert_false(db_in_transaction(f->conn));
        assert_int_equal(count_where_name(f->conn, "kept?"), 0);
        assert_int_equal(count_where_name(f->conn, "new"), 0);
    }
    /* The next transaction is not affected. */
    assert_ok(db_begin(f->conn, &f->err), &f->err);
    assert_ok(db_exec(f->conn, "INSERT INTO item (name) VALUES ('kept')", NULL, 0, NULL, &f->err),
              &f->err);
    assert_ok(db_commit(f->conn, &f->err), &f->err);
    assert_int_equal(count_where_name(f->conn, "kept"), 1);
}

static char *read_stream(FILE *fp)
{
    static char text[8192];
    fflush(fp);
    rewind(fp);
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = '\0';
    return text;
}

static void test_release_rolls_back(void **state)
{
    struct fx *f = fx_open(state);
    FILE *log = tmpfile();
    assert_non_null(log);
    kr_log_set_stream(log);
    struct db_conn *other;
    assert_ok(db_acquire(f->db, &other, &f->err), &f->err);
    assert_ok(db_begin(other, &f->err), &f->err);
    assert_ok(db_exec(other, "INSERT INTO item (name) VALUES ('leaked')", NULL, 0, NULL, &f->err),
              &f->err);
    db_release(other);
    kr_log_set_stream(NULL);
    assert_non_null(strstr(read_stream(log), "\"event\":\"db_transaction_leaked\""));
    fclose(log);
    assert_int_equal(count_where_name(f->conn, "leaked"), 0);
    assert_ok(db_acquire(f->db, &other, &f->err), &f->err);
    assert_false(db_in_transaction(other));
    assert_int_equal(count_where_name(other, "leaked"), 0);
    db_release(other);
}

/* ------------------------------------------------------------------------
 * Pool */

static void test_pool_exhaustion(void **state)
{
    struct db_options opts = {.pool_size = 2, .acquire_timeout_ms = 300};
    struct fx *f = fx_open_with(state, &opts);
    struct db_conn *second, *third = (struct db_conn *)&f;
    struct db_pool_stats st;
    db_pool_stats(f->db, &st);
    uint64_t acquired = st.acquired_total; /* migrations and fixture too */
    assert_ok(db_acquire(f->db, &second, &f->err), &f->err);
    int64_t start = kr_monotonic_ns();
    assert_int_equal(db_acquire(f->db, &third, &f->err), KR_ERR_BUSY);
    int64_t waited_ms = (kr_monotonic_ns() - start) / 1000000;
    assert_null(third);
    assert_int_equal(f->err.code, KR_ERR_BUSY);
    assert_true(waited_ms >= 250 && waited_ms < 3000);

    db_pool_stats(f->db, &st);
    assert_int_equal(st.size, 2);
    assert_int_equal(st.open, 2);
    assert_int_equal(st.in_use, 2);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.acquired_total, acquired + 1);
    assert_int_equal(st.timeouts_total, 1);

    db_release(second);
    assert_ok(db_acquire(f->db, &third, &f->err), &f->err);
    assert_ptr_equal(third, second); /* reused, not a new connection */
    db_release(third);
    db_pool_stats(f->db, &st);
    assert_int_equal(st.open, 2);
    assert_int_equal(st.in_use, 1);
    assert_int_equal(st.acquired_total, acquired + 2);
}

static void *release_later(void *arg)
{
    usleep(50 * 1000);
    db_release(arg);
    return NULL;
}

static void test_pool_wakes_waiter(void **state)
{
    struct db_options opts = {.pool_size = 2, .acquire_timeout_ms = 5000};
    struct fx *f = fx_open_with(state, &opts);
    struct db_conn *second, *third;
    assert_ok(db_acquire(f->db, &second, &f->err), &f->err);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, release_later, second), 0);
    int64_t start = kr_monotonic_ns();
    assert_ok(db_acquire(f->db, &third, &f->err), &f->err);
    assert_true((kr_monotonic_ns() - start) / 1000000 < 4000);
    pthread_join(t, NULL);
    assert_ptr_equal(third, second);
    db_release(third);
}

#define COUNTER_THREADS 6
#define COUNTER_ROUNDS 40

struct counter_worker {
    struct db *db;
    int failures;
    int retries;
    int64_t last_seen;
};

/* One increment in its own transaction; KR_ERR_BUSY means "try again". */
static int increment(struct db *db, int64_t *seen, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = db_acquire(db, &conn, err);
    if (rc)
        return rc;
    rc = db_begin(conn, err);
    if (rc == KR_OK)
        rc = db_query_int64(conn, "UPDATE counter SET n = n + 1 WHERE id = 1 RETURNING n", NULL, 0,
                            seen, err);
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    if (rc)
        (void)db_rollback(conn);
    db_release(conn);
    return rc;
}

static void *counter_thread(void *arg)
{
    struct counter_worker *w = arg;
    struct kr_error err;
    for (int i = 0; i < COUNTER_ROUNDS; i++) {
        int rc;
        while ((rc = increment(w->db, &w->last_seen, &err)) == KR_ERR_BUSY)
            w->retries++;
        if (rc)
            w->failures++;
    }
    return NULL;
}

static void test_concurrent_increments(void **state)
{
    struct db_options opts = {
        .pool_size = COUNTER_THREADS, .acquire_timeout_ms = 20000, .busy_timeout_ms = 20000};
    struct fx *f = fx_open_with(state, &opts);
    db_release(f->conn); /* all connections for the workers */
    f->conn = NULL;
    struct counter_worker w[COUNTER_THREADS];
    pthread_t t[COUNTER_THREADS];
    for (int i = 0; i < COUNTER_THREADS; i++) {
        w[i] = (struct counter_worker){.db = f->db};
        assert_int_equal(pthread_create(&t[i], NULL, counter_thread, &w[i]), 0);
    }
    int retries = 0;
    for (int i = 0; i < COUNTER_THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
        retries += w[i].retries;
    }
    print_message("retries on KR_ERR_BUSY: %d\n", retries);
    assert_ok(db_acquire(f->db, &f->conn, &f->err), &f->err);
    int64_t n = 0;
    assert_ok(db_query_int64(f->conn, "SELECT n FROM counter WHERE id = 1", NULL, 0, &n, &f->err),
              &f->err);
    assert_int_equal(n, COUNTER_THREADS * COUNTER_ROUNDS);
    struct db_pool_stats st;
    db_pool_stats(f->db, &st);
    assert_true(st.open <= COUNTER_THREADS);
}

/* ------------------------------------------------------------------------
 * Statements */

static void test_statement_cache(void **state)
{
    static const char sql[] = "SELECT id FROM item ORDER BY id";
    struct fx *f = fx_open(state);
    for (int i = 0; i < 3; i++) {
        assert_ok(db_exec(f->conn, "INSERT INTO item (qty) VALUES ($1)", DB_PARAMS(DB_INT(i)), NULL,
                          &f->err),
                  &f->err);
    }
    struct db_stmt *outer, *inner, *again;
    assert_ok(db_prepare(f->conn, sql, &outer, &f->err), &f->err);
    db_finish(outer);
    assert_ok(db_prepare(f->conn, sql, &again, &f->err), &f->err);
    assert_ptr_equal(again, outer); /* cached */

    /* The same SQL while it is in use: a second statement, nested loops. */
    int pairs = 0;
    while (db_step(outer, &f->err) == DB_ROW) {
        assert_ok(db_prepare(f->conn, sql, &inner, &f->err), &f->err);
        assert_ptr_not_equal(inner, outer);
        int64_t outer_id = db_column_int64(outer, 0);
        while (db_step(inner, &f->err) == DB_ROW) {
            assert_true(db_column_int64(inner, 0) > 0);
            pairs++;
        }
        assert_true(db_column_int64(outer, 0) == outer_id); /* undisturbed */
        db_finish(inner);
    }
    assert_int_equal(pairs, 9);
    db_finish(outer);
    assert_ok(db_prepare(f->conn, sql, &again, &f->err), &f->err);
    assert_ptr_equal(again, outer);
    db_finish(again);
}

/* More distinct statements than the cache holds: old ones are evicted
 * (and deallocated on the server), every one still gives its answer. */
static void test_statement_cache_bound(void **state)
{
    struct fx *f = fx_open(state);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2 * DB_STMT_CACHE_MAX + 10; i++) {
            char sql[64];
            int64_t v = -1;
            (void)snprintf(sql, sizeof(sql), "SELECT %d + 1", i);
            assert_ok(db_query_int64(f->conn, sql, NULL, 0, &v, &f->err), &f->err);
            assert_int_equal(v, i + 1);
            assert_true(f->conn->cache_count <= DB_STMT_CACHE_MAX);
        }
    }
    assert_int_equal(f->conn->cache_count, DB_STMT_CACHE_MAX);
    if (f->dialect == DB_POSTGRES) {
        int64_t n = -1;
        assert_ok(db_query_int64(f->conn, "SELECT count(*) FROM pg_prepared_statements", NULL, 0,
                                 &n, &f->err),
                  &f->err);
        assert_true(n <= DB_STMT_CACHE_MAX);
    }
}

static void test_changes(void **state)
{
    struct fx *f = fx_open(state);
    int64_t changes = -1;
    for (int i = 0; i < 3; i++) {
        assert_ok(db_exec(f->conn, "INSERT INTO item (qty) VALUES (1)", NULL, 0, &changes, &f->err),
                  &f->err);
        assert_int_equal(changes, 1);
    }
    static const struct {
        const char *sql;
        int64_t expect;
    } cases[] = {
        {"UPDATE item SET qty = qty + 1", 3},
        {"UPDATE item SET qty = 0 WHERE qty > 100", 0},
        {"SELECT * FROM item", 0},
        {"CREATE TABLE scratch (x INTEGER)", 0},
        {"DELETE FROM item WHERE id = (SELECT MIN(id) FROM item)", 1},
        {"INSERT INTO item (qty) SELECT qty FROM item", 2},
    };
    for (size_t k = 0; k < KR_ARRAY_LEN(cases); k++) {
        struct db_stmt *st;
        print_message("case: %s\n", cases[k].sql);
        assert_ok(db_exec(f->conn, cases[k].sql, NULL, 0, &changes, &f->err), &f->err);
        assert_int_equal(changes, cases[k].expect);
        /* The same through a prepared statement. */
        if (k == 0) {
            assert_ok(db_prepare(f->conn, cases[k].sql, &st, &f->err), &f->err);
            assert_int_equal(db_step(st, &f->err), DB_DONE);
            assert_int_equal(db_changes(st), 3);
            db_finish(st);
        }
    }
}

static void test_returning_and_upsert(void **state)
{
    struct fx *f = fx_open(state);
    struct db_stmt *st;
    int64_t first = 0;
    assert_ok(db_query(f->conn,
                       "INSERT INTO item (name, qty) VALUES ($1, $2) RETURNING id, name, qty",
                       DB_PARAMS(DB_TEXT("Bauantrag"), DB_INT(3)), &st, &f->err),
              &f->err);
    assert_int_equal(db_step(st, &f->err), DB_ROW);
    first = db_column_int64(st, 0);
    assert_true(first > 0);
    assert_string_equal(db_column_name(st, 2), "qty");
    assert_string_equal(db_column_text(st, 1), "Bauantrag");
    assert_int_equal(db_column_int64(st, 2), 3);
    assert_int_equal(db_step(st, &f->err), DB_DONE);
    assert_int_equal(db_changes(st), 1);
    /* Stepping again after DB_DONE runs it again with the same values. */
    assert_int_equal(db_step(st, &f->err), KR_ERR_CONFLICT);
    db_bind_text(st, 1, "Gewerbeanmeldung", (size_t)-1);
    assert_int_equal(db_step(st, &f->err), DB_ROW);
    assert_true(db_column_int64(st, 0) > first);
    assert_int_equal(db_step(st, &f->err), DB_DONE);
    db_finish(st);

    int64_t qty = 0, changes = -1;
    assert_ok(db_query_int64(f->conn,
                             "INSERT INTO item (name, qty) VALUES ($1, $2) ON CONFLICT (name)"
                             " DO UPDATE SET qty = excluded.qty RETURNING qty",
                             DB_PARAMS(DB_TEXT("Bauantrag"), DB_INT(9)), &qty, &f->err),
              &f->err);
    assert_int_equal(qty, 9);
    assert_ok(db_exec(f->conn, "INSERT INTO item (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                      DB_PARAMS(DB_TEXT("Bauantrag")), &changes, &f->err),
              &f->err);
    assert_int_equal(changes, 0);
    assert_int_equal(count_items(f->conn), 2);
}

static void test_one_shots(void **state)
{
    struct fx *f = fx_open(state);
    struct arena *a = arena_new(0);
    int64_t n = 7;
    char *text = (char *)"unchanged";
    assert_int_equal(db_query_int64(f->conn, "SELECT id FROM item WHERE name = $1",
                                    DB_PARAMS(DB_TEXT("nobody")), &n, &f->err),
                     KR_ERR_NOT_FOUND);
    assert_int_equal(f->err.code, KR_ERR_NOT_FOUND);
    assert_int_equal(db_query_text(f->conn, "SELECT name FROM item", NULL, 0, a, &text, &f->err),
                     KR_ERR_NOT_FOUND);
    assert_null(text);
    assert_ok(db_exec_script(f->conn,
                             "INSERT INTO item (name, qty) VALUES ('Hundesteuer', 2);"
                             " INSERT INTO item (qty) VALUES (5);",
                             &f->err),
              &f->err);
    assert_ok(db_query_text(f->conn, "SELECT name FROM item WHERE qty = $1", DB_PARAMS(DB_INT(2)),
                            a, &text, &f->err),
              &f->err);
    assert_string_equal(text, "Hundesteuer");
    assert_ok(
        db_query_text(f->conn, "SELECT name FROM item WHERE qty = 5", NULL, 0, a, &text, &f->err),
        &f->err);
    assert_null(text);
    assert_ok(db_query_int64(f->conn, "SELECT count(*) FROM item WHERE qty > $1",
                             DB_PARAMS(DB_INT(0)), &n, &f->err),
              &f->err);
    assert_int_equal(n, 2);
    assert_ok(db_ping(f->db, &f->err), &f->err);
    assert_string_equal(db_backend_name(f->db), f->dialect == DB_SQLITE ? "sqlite" : "postgresql");
    assert_int_equal(db_dialect(f->db), f->dialect);
    assert_ptr_equal(db_conn_db(f->conn), f->db);
    arena_free(a);
}

static void test_column_bounds(void **state)
{
    struct fx *f = fx_open(state);
    struct db_stmt *st;
    assert_ok(db_prepare(f->conn, "SELECT 1 AS one, 'zwei' AS two", &st, &f->err), &f->err);
    assert_int_equal(db_step(st, &f->err), DB_ROW);
    assert_int_equal(db_column_count(st), 2);
    assert_string_equal(db_column_name(st, 0), "one");
    assert_null(db_column_name(st, 2));
    assert_null(db_column_name(st, -1));
    assert_true(db_column_is_null(st, 2));
    assert_null(db_column_text(st, 5));
    assert_null(db_column_blob(st, -3));
    assert_int_equal(db_column_len(st, 9), 0);
    assert_true(db_column_int64(st, 2) == 0);
    assert_int_equal(db_column_int64(st, 0), 1);
    assert_int_equal(db_column_len(st, 1), 4);
    db_finish(st);
}

/* A migration alters a table while statements on it are cached (on
 * PostgreSQL the plan's result type changes).  Cached statements go on
 * working; inside a transaction the caller may have to retry once. */
static void test_schema_change_under_cache(void **state)
{
    static const char sql[] = "SELECT * FROM val";
    struct fx *f = fx_open(state);
    struct db_stmt *st;
    struct db_conn *other;
    assert_ok(db_acquire(f->db, &other, &f->err), &f->err);
    assert_ok(db_exec(f->conn, "INSERT INTO val (i) VALUES (1)", NULL, 0, NULL, &f->err), &f->err);
    for (int round = 0; round < 3; round++) {
        char alter[64];
        (void)snprintf(alter, sizeof(alter), "ALTER TABLE val ADD COLUMN extra%d TEXT", round);
        /* Cache it on both connections, then change the table. */
        struct db_conn *conns[] = {f->conn, other};
        for (int c = 0; c < 2; c++) {
            assert_ok(db_prepare(conns[c], sql, &st, &f->err), &f->err);
            assert_int_equal(db_step(st, &f->err), DB_ROW);
            db_finish(st);
        }
        assert_ok(db_exec_script(f->conn, alter, &f->err), &f->err);
        /* Outside a transaction: just works. */
        assert_ok(db_prepare(f->conn, sql, &st, &f->err), &f->err);
        assert_int_equal(db_step(st, &f->err), DB_ROW);
        assert_int_equal(db_column_count(st), 5 + round);
        db_finish(st);
        /* Inside one: at worst KR_ERR_BUSY once, then it works. */
        int rc;
        for (int attempt = 0; attempt < 2; attempt++) {
            assert_ok(db_begin(other, &f->err), &f->err);
            assert_ok(db_prepare(other, sql, &st, &f->err), &f->err);
            rc = db_step(st, &f->err);
            if (rc == DB_ROW)
                assert_int_equal(db_column_count(st), 5 + round);
            db_finish(st);
            (void)db_rollback(other);
            if (rc != KR_ERR_BUSY)
                break;
        }
        assert_int_equal(rc, DB_ROW);
    }
    db_release(other);
}

/* ------------------------------------------------------------------------
 * Fault injection: the Nth step fails; after the caller's rollback nothing
 * of the transaction remains. */

static int write_batch(struct db_conn *conn, struct kr_error *err)
{
    int rc = db_begin(conn, err);
    for (int i = 0; i < 3 && rc == KR_OK; i++)
        rc = db_exec(conn, "INSERT INTO item (qty) VALUES ($1)", DB_PARAMS(DB_INT(i)), NULL, err);
    struct db_stmt *st = NULL;
    if (rc == KR_OK)
        rc = db_prepare(conn, "INSERT INTO item (name) VALUES ($1)", &st, err);
    for (int i = 0; i < 2 && rc == KR_OK; i++) {
        db_bind_text(st, 1, i ? "zwei" : "eins", (size_t)-1);
        rc = db_step(st, err);
    }
    db_finish(st);
    int64_t n;
    if (rc == KR_OK)
        rc = db_query_int64(conn, "SELECT count(*) FROM item", NULL, 0, &n, err);
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    return rc;
}

static void test_fault_injection(void **state)
{
    struct fx *f = fx_open(state);
    for (long nth = 1;; nth++) {
        assert_true(nth < 50);
        kr_fault_arm(KR_FAULT_DB_STEP, nth);
        int rc = write_batch(f->conn, &f->err);
        long fired = kr_fault_fired(KR_FAULT_DB_STEP);
        kr_fault_disarm();
        if (rc == KR_OK) {
            assert_int_equal(fired, 0);
            assert_int_equal(nth, 7); /* 3 exec + 2 steps + 1 query, then none */
            break;
        }
        assert_int_equal(fired, 1);
        assert_int_equal(rc, KR_ERR_DB);
        assert_string_equal(f->err.message, "database error");
        assert_non_null(strstr(f->err.detail, "injected fault"));
        assert_int_equal(db_rollback(f->conn), KR_OK);
        assert_false(db_in_transaction(f->conn));
        assert_int_equal(count_items(f->conn), 0);
    }
    assert_int_equal(count_items(f->conn), 5);
}

/* ------------------------------------------------------------------------
 * Opening */

static void test_open_errors(void **state)
{
    (void)state;
    static const char *const urls[] = {NULL, "", "sqlite:", "mysql://localhost/kreisel",
                                       "http://example.org/db"};
    for (size_t k = 0; k < KR_ARRAY_LEN(urls); k++) {
        int sentinel;
        struct db *db = (struct db *)&sentinel; /* must be reset to NULL */
        struct kr_error err;
        struct db_options opts = {.url = urls[k]};
        assert_int_equal(db_open(&db, &opts, &err), KR_ERR_INVALID);
        assert_null(db);
    }
    struct kr_error err;
    struct db *db;
    struct db_options pg = {.url = "postgresql:///kreisel?host=/nonexistent/kreisel-test"};
    assert_int_equal(db_open(&db, &pg, &err), KR_ERR_DB);
    assert_null(strstr(err.message, "nonexistent"));
    struct db_options dir = {.url = "sqlite:/"};
    assert_int_equal(db_open(&db, &dir, &err), KR_ERR_DB);
}

static void test_open_sqlite_file(void **state)
{
    (void)state;
    char base[] = "/tmp/kreisel-open-XXXXXX";
    assert_non_null(mkdtemp(base));
    char url[256], path[256];
    (void)snprintf(url, sizeof(url), "sqlite:%s/a/b/kreisel.db", base);
    struct db *db;
    struct kr_error err;
    struct db_options opts = {.url = url};
    assert_ok(db_open(&db, &opts, &err), &err);
    struct db_pool_stats st;
    db_pool_stats(db, &st);
    assert_int_equal(st.size, 8);
    assert_int_equal(st.open, 1);
    assert_int_equal(st.in_use, 0);
    assert_ok(db_ping(db, &err), &err);
    struct db_conn *conn;
    assert_ok(db_acquire(db, &conn, &err), &err);
    struct arena *a = arena_new(0);
    char *mode = NULL;
    assert_ok(db_query_text(conn, "PRAGMA journal_mode", NULL, 0, a, &mode, &err), &err);
    assert_string_equal(mode, "wal");
    int64_t fk = 0;
    assert_ok(db_query_int64(conn, "PRAGMA foreign_keys", NULL, 0, &fk, &err), &err);
    assert_int_equal(fk, 1);
    /* Personal data: owner only, whatever the umask. */
    assert_ok(db_exec_script(conn, "CREATE TABLE t (x INTEGER)", &err), &err);
    struct stat sb;
    const char *const private_files[] = {"a/b/kreisel.db", "a/b/kreisel.db-wal"};
    for (size_t i = 0; i < KR_ARRAY_LEN(private_files); i++) {
        (void)snprintf(path, sizeof(path), "%s/%s", base, private_files[i]);
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
    }
    arena_free(a);
    db_release(conn);
    db_free(db);

    (void)snprintf(path, sizeof(path), "%s/a", base);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    const char *const files[] = {
        "a/b/kreisel.db", "a/b/kreisel.db-wal", "a/b/kreisel.db-shm", "a/b", "a", ""};
    for (size_t i = 0; i < KR_ARRAY_LEN(files); i++) {
        (void)snprintf(path, sizeof(path), "%s/%s", base, files[i]);
        (void)remove(path);
    }
}

static void test_open_memory(void **state)
{
    (void)state;
    struct db *db;
    struct kr_error err;
    struct db_options opts = {.url = "sqlite::memory:", .pool_size = 4};
    assert_ok(db_open(&db, &opts, &err), &err);
    struct db_pool_stats st;
    db_pool_stats(db, &st);
    assert_int_equal(st.size, 1); /* each connection would be a database of its own */
    assert_int_equal(db_dialect(db), DB_SQLITE);
    assert_ok(db_ping(db, &err), &err);
    db_free(db);
    db_free(NULL);
    db_release(NULL);
    db_finish(NULL);
}

/* ------------------------------------------------------------------------
 * PostgreSQL: a connection the server dropped is re-established. */

static int64_t backend_pid(struct db_conn *conn, struct kr_error *err)
{
    int64_t pid = 0;
    assert_ok(db_query_int64(conn, "SELECT pg_backend_pid()", NULL, 0, &pid, err), err);
    return pid;
}

static void terminate(struct db *db, int64_t pid)
{
    struct kr_error err;
    struct db_conn *killer;
    assert_ok(db_acquire(db, &killer, &err), &err);
    assert_ok(
        db_exec(killer, "SELECT pg_terminate_backend($1)", DB_PARAMS(DB_INT(pid)), NULL, &err),
        &err);
    int64_t left = 1;
    for (int i = 0; i < 500 && left > 0; i++) {
        assert_ok(db_query_int64(killer, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                                 DB_PARAMS(DB_INT(pid)), &left, &err),
                  &err);
        if (left)
            usleep(10 * 1000);
    }
    assert_int_equal(left, 0);
    db_release(killer);
}

static void test_pg_reconnect(void **state)
{
    struct fx *f = fx_open(state);
    struct db_conn *victim = f->conn;
    int64_t pid = backend_pid(victim, &f->err);
    struct db_conn *spare;
    /* Keep a second connection apart, so that the victim comes back next. */
    assert_ok(db_acquire(f->db, &spare, &f->err), &f->err);
    terminate(f->db, pid);
    db_release(spare);
    db_release(victim);
    f->conn = NULL;

    /* Found dead at acquire: re-established, statement cache dropped. */
    FILE *log = tmpfile();
    kr_log_set_stream(log);
    assert_ok(db_acquire(f->db, &f->conn, &f->err), &f->err);
    kr_log_set_stream(NULL);
    assert_ptr_equal(f->conn, victim);
    assert_non_null(strstr(read_stream(log), "db_reconnect"));
    fclose(log);
    int64_t pid2 = backend_pid(f->conn, &f->err);
    assert_true(pid2 != pid);
    assert_int_equal(count_items(f->conn), 0);

    /* Found dead while in use: that call fails, the next acquire heals. */
    db_release(f->conn);
    assert_ok(db_acquire(f->db, &spare, &f->err), &f->err);
    assert_ok(db_acquire(f->db, &victim, &f->err), &f->err);
    f->conn = NULL;
    terminate(f->db, backend_pid(victim, &f->err));
    int64_t n;
    kr_log_set_stream(log = tmpfile());
    assert_int_equal(db_query_int64(victim, "SELECT 1", NULL, 0, &n, &f->err), KR_ERR_DB);
    db_release(spare);
    db_release(victim);
    assert_ok(db_acquire(f->db, &f->conn, &f->err), &f->err);
    assert_ptr_equal(f->conn, victim);
    kr_log_set_stream(NULL);
    fclose(log);
    assert_ok(db_query_int64(f->conn, "SELECT 1", NULL, 0, &n, &f->err), &f->err);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_value_roundtrip),
        BOTH(test_blob_1mib),
        BOTH(test_column_strdup),
        BOTH(test_param_order_and_repeat),
        BOTH(test_bad_parameter),
        BOTH(test_bind_while_running),
        BOTH(test_constraint_errors),
        BOTH(test_error_hides_values),
        BOTH(test_sql_errors),
        BOTH(test_busy),
        BOTH(test_commit_rollback_visibility),
        BOTH(test_transaction_misuse),
        BOTH(test_error_inside_transaction),
        BOTH(test_uncached_statement),
        BOTH(test_failed_statement_dooms_transaction),
        BOTH(test_release_rolls_back),
        BOTH(test_pool_exhaustion),
        BOTH(test_pool_wakes_waiter),
        BOTH(test_concurrent_increments),
        BOTH(test_statement_cache),
        BOTH(test_statement_cache_bound),
        BOTH(test_changes),
        BOTH(test_schema_change_under_cache),
        BOTH(test_returning_and_upsert),
        BOTH(test_one_shots),
        BOTH(test_column_bounds),
        BOTH(test_fault_injection),
        BOTH(test_precommit_hooks),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_open_sqlite_file),
        cmocka_unit_test(test_open_memory),
        {"test_pg_reconnect/postgresql", test_pg_reconnect, NULL, fx_teardown, &fx_pg},
    };
    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
