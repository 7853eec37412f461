/*
 * sqlite.c - the SQLite backend.
 *
 * Each connection is used by one thread at a time (the pool guarantees it),
 * so connections are opened with SQLITE_OPEN_NOMUTEX.  Parameters are
 * written $1, $2, ...: SQLite takes "$1" for a named parameter, so number N
 * is looked up by the name "$N", which makes order and repetition work.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/log.h"
#include "core/util.h"
#include "db/db_internal.h"

struct sqlite_conn {
    struct db_conn base;
    sqlite3 *handle;
};

struct sqlite_stmt {
    struct db_stmt base;
    sqlite3_stmt *handle;
    int64_t total_before; /* total_changes when the execution started */
};

#if SQLITE_VERSION_NUMBER >= 3037000
#define changes_of(h) ((int64_t)sqlite3_changes64(h))
#define total_changes_of(h) ((int64_t)sqlite3_total_changes64(h))
#else
#define changes_of(h) ((int64_t)sqlite3_changes(h))
#define total_changes_of(h) ((int64_t)sqlite3_total_changes(h))
#endif

static sqlite3 *conn_handle(const struct db_conn *conn)
{
    return ((const struct sqlite_conn *)conn)->handle;
}

static sqlite3_stmt *stmt_handle(const struct db_stmt *stmt)
{
    return ((const struct sqlite_stmt *)stmt)->handle;
}

/* ------------------------------------------------------------------------
 * Errors */

static enum db_failure map_code(int ext)
{
    switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID: return DB_FAIL_UNIQUE;
    case SQLITE_CONSTRAINT_FOREIGNKEY: return DB_FAIL_FOREIGN_KEY;
    case SQLITE_CONSTRAINT_NOTNULL: return DB_FAIL_NOT_NULL;
    case SQLITE_CONSTRAINT_CHECK:
#ifdef SQLITE_CONSTRAINT_DATATYPE
    case SQLITE_CONSTRAINT_DATATYPE:
#endif
        return DB_FAIL_CHECK;
    }
    switch (ext & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return DB_FAIL_BUSY;
    case SQLITE_NOMEM: return DB_FAIL_NOMEM;
    case SQLITE_TOOBIG: return DB_FAIL_TOO_LARGE;
    }
    return DB_FAIL_OTHER;
}

/* SQLite's messages name tables, columns and constraints, never values. */
static int fail(struct kr_error *err, int ext, const char *library, const char *sql)
{
    char backend[48];
    (void)snprintf(backend, sizeof(backend), "sqlite %d (%s)", ext, sqlite3_errstr(ext));
    return db_error_from_backend(err, map_code(ext), backend, library, sql);
}

static int fail_handle(struct kr_error *err, sqlite3 *h, const char *sql)
{
    return fail(err, sqlite3_extended_errcode(h), sqlite3_errmsg(h), sql);
}

/* ------------------------------------------------------------------------
 * Connections */

/* mkdir -p of the directories above path, mode 0700: the database holds
 * personal data and nobody else needs to list it. */
static int make_parent_dirs(const char *path, struct kr_error *err)
{
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%s", path);
    char *slash = n > 0 && (size_t)n < sizeof(dir) ? strrchr(dir, '/') : NULL;
    if (!slash || slash == dir)
        return KR_OK;
    *slash = '\0';
    int rc = kr_make_dirs(dir, 0700, err);
    if (rc != KR_OK) {
        char detail[KR_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof(detail), "%s", err->detail);
        kr_error_set(err, KR_ERR_DB, "cannot create the database directory");
        kr_error_detail(err, "%s", detail);
        return KR_ERR_DB;
    }
    return KR_OK;
}

/* Create the database file readable by its owner only, whatever the umask:
 * it holds personal data.  SQLite gives -wal and -shm the same mode. */
static int create_private(const char *path, struct kr_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return KR_OK;
    }
    if (errno == EEXIST)
        return KR_OK;
    kr_error_set(err, KR_ERR_DB, "cannot create the database file");
    kr_error_detail(err, "open %s: %s", path, strerror(errno));
    return KR_ERR_DB;
}

static int exec_sql(sqlite3 *h, const char *sql, struct kr_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        rc = fail(err, sqlite3_extended_errcode(h), msg ? msg : sqlite3_errmsg(h), sql);
        sqlite3_free(msg);
        return rc;
    }
    return KR_OK;
}

/* WAL lets readers go on while one connection writes.  A file system
 * that cannot do it leaves the old mode: worth a warning, not a failure. */
static int set_wal(sqlite3 *h, bool memory, struct kr_error *err)
{
    static const char sql[] = "PRAGMA journal_mode = WAL";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        return fail_handle(err, h, sql);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = fail_handle(err, h, sql);
        sqlite3_finalize(st);
        return rc;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (!memory && (!mode || strcasecmp(mode, "wal") != 0))
        kr_log(KR_LOG_WARN, "db_sqlite_no_wal", "journal mode is %s, not wal",
               mode ? mode : "unknown");
    sqlite3_finalize(st);
    return KR_OK;
}

static int configure(struct sqlite_conn *c, bool memory, unsigned busy_ms, struct kr_error *err)
{
    sqlite3_extended_result_codes(c->handle, 1);
    sqlite3_busy_timeout(c->handle, (int)busy_ms);
    int rc = set_wal(c->handle, memory, err);
    if (rc)
        return rc;
    return exec_sql(c->handle, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", err);
}

static int sqlite_connect(struct db *db, struct db_conn **out, struct kr_error *err)
{
    const char *path = db_target(db);
    bool memory = strcmp(path, ":memory:") == 0;
    int rc = memory ? KR_OK : make_parent_dirs(path, err);
    if (rc == KR_OK && !memory)
        rc = create_private(path, err);
    if (rc)
        return rc;
    struct sqlite_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &c->handle, flags, NULL) != SQLITE_OK) {
        rc = kr_error_set(err, KR_ERR_DB, "cannot open the database");
        kr_error_detail(err, "sqlite %s: %s", path,
                        c->handle ? sqlite3_errmsg(c->handle) : "out of memory");
    } else {
        rc = configure(c, memory, db_busy_timeout_ms(db), err);
    }
    if (rc) {
        sqlite3_close_v2(c->handle);
        free(c);
        return rc;
    }
    *out = &c->base;
    return KR_OK;
}

static void sqlite_disconnect(struct db_conn *conn)
{
    sqlite3_close_v2(conn_handle(conn));
    free(conn);
}

static int sqlite_check(struct db_conn *conn, struct kr_error *err)
{
    (void)conn;
    (void)err;
    return KR_OK;
}

static bool sqlite_in_transaction(const struct db_conn *conn)
{
    return !sqlite3_get_autocommit(conn_handle(conn));
}

static int sqlite_exec_script(struct db_conn *conn, const char *sql, struct kr_error *err)
{
    return exec_sql(conn_handle(conn), sql, err);
}

/* ------------------------------------------------------------------------
 * Statements */

/* PostgreSQL refuses several statements in one prepared statement; refuse
 * them here too, so that such code fails on the developer's SQLite. */
static int check_tail(sqlite3 *h, const char *tail, const char *sql, struct kr_error *err)
{
    sqlite3_stmt *next = NULL;
    if (!tail || !*tail)
        return KR_OK;
    if (sqlite3_prepare_v2(h, tail, -1, &next, NULL) != SQLITE_OK)
        return fail_handle(err, h, sql);
    if (!next)
        return KR_OK; /* only blanks and comments follow */
    sqlite3_finalize(next);
    return db_error_from_backend(err, DB_FAIL_OTHER, "sqlite",
                                 "more than one statement in a prepared statement", sql);
}

static int sqlite_prepare(struct db_conn *conn, const char *sql, struct db_stmt **out,
                          struct kr_error *err)
{
    sqlite3 *h = conn_handle(conn);
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v3(h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail) != SQLITE_OK)
        return fail_handle(err, h, sql);
    if (!st)
        return db_error_from_backend(err, DB_FAIL_EMPTY, "sqlite", "empty statement", sql);
    int rc = check_tail(h, tail, sql, err);
    struct sqlite_stmt *s = rc ? NULL : calloc(1, sizeof(*s));
    if (!s) {
        sqlite3_finalize(st);
        return rc ? rc : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    s->handle = st;
    *out = &s->base;
    return KR_OK;
}

static void sqlite_reset(struct db_stmt *stmt)
{
    sqlite3_reset(stmt_handle(stmt));
    sqlite3_clear_bindings(stmt_handle(stmt));
}

static void sqlite_stmt_free(struct db_stmt *stmt, bool deallocate)
{
    (void)deallocate;
    sqlite3_finalize(stmt_handle(stmt));
    free(stmt->sql);
    free(stmt);
}

static int bind_one(sqlite3_stmt *st, int i, const struct db_param *v)
{
    switch (v->type) {
    case DB_PARAM_INT64: return sqlite3_bind_int64(st, i, v->i);
    case DB_PARAM_TEXT:
        return sqlite3_bind_text64(st, i, v->p, v->len, SQLITE_TRANSIENT, SQLITE_UTF8);
    case DB_PARAM_BLOB: return sqlite3_bind_blob64(st, i, v->p, v->len, SQLITE_TRANSIENT);
    case DB_PARAM_NULL: break;
    }
    return sqlite3_bind_null(st, i);
}

static enum db_failure sqlite_bind(struct db_stmt *stmt, int idx, const struct db_param *value)
{
    sqlite3_stmt *st = stmt_handle(stmt);
    if (sqlite3_stmt_busy(st))
        return DB_FAIL_MISUSE;
    char name[16];
    (void)snprintf(name, sizeof(name), "$%d", idx);
    int i = idx > 0 ? sqlite3_bind_parameter_index(st, name) : 0;
    if (i == 0)
        return DB_FAIL_PARAMETER;
    int rc = bind_one(st, i, value);
    return rc == SQLITE_OK ? DB_FAIL_NONE : map_code(rc);
}

static int sqlite_step(struct db_stmt *stmt, struct kr_error *err)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)stmt;
    sqlite3 *h = conn_handle(stmt->conn);
    if (!sqlite3_stmt_busy(s->handle))
        s->total_before = total_changes_of(h);
    int rc = sqlite3_step(s->handle);
    if (rc == SQLITE_ROW)
        return DB_ROW;
    if (rc == SQLITE_DONE) {
        /* sqlite3_changes() still reports an earlier INSERT after a SELECT
         * or CREATE; only trust it when this statement changed something. */
        stmt->changes = total_changes_of(h) != s->total_before ? changes_of(h) : 0;
        sqlite3_reset(s->handle);
        return DB_DONE;
    }
    rc = fail_handle(err, h, stmt->sql);
    sqlite3_reset(s->handle);
    return rc;
}

/* ------------------------------------------------------------------------
 * Columns.  SQLite leaves an index out of range undefined; check it. */

static bool col_ok(const struct db_stmt *stmt, int col)
{
    return col >= 0 && col < sqlite3_data_count(stmt_handle(stmt));
}

static int sqlite_column_count(const struct db_stmt *stmt)
{
    return sqlite3_column_count(stmt_handle(stmt));
}

static const char *sqlite_column_name(const struct db_stmt *stmt, int col)
{
    if (col < 0 || col >= sqlite3_column_count(stmt_handle(stmt)))
        return NULL;
    return sqlite3_column_name(stmt_handle(stmt), col);
}

static bool sqlite_column_is_null(const struct db_stmt *stmt, int col)
{
    return !col_ok(stmt, col) || sqlite3_column_type(stmt_handle(stmt), col) == SQLITE_NULL;
}

static int64_t sqlite_column_int64(const struct db_stmt *stmt, int col)
{
    return col_ok(stmt, col) ? sqlite3_column_int64(stmt_handle(stmt), col) : 0;
}

static const char *sqlite_column_text(const struct db_stmt *stmt, int col)
{
    if (!col_ok(stmt, col))
        return NULL;
    return (const char *)sqlite3_column_text(stmt_handle(stmt), col);
}

/* An empty blob reads as "" (not NULL), so that only SQL NULL is NULL. */
static const void *sqlite_column_blob(const struct db_stmt *stmt, int col)
{
    if (sqlite_column_is_null(stmt, col))
        return NULL;
    const void *p = sqlite3_column_blob(stmt_handle(stmt), col);
    if (!p && sqlite3_errcode(conn_handle(stmt->conn)) != SQLITE_NOMEM)
        return "";
    return p;
}

static size_t sqlite_column_len(const struct db_stmt *stmt, int col)
{
    if (!col_ok(stmt, col))
        return 0;
    return (size_t)sqlite3_column_bytes(stmt_handle(stmt), col);
}

const struct db_backend db_sqlite_backend = {
    .name = "sqlite",
    .dialect = DB_SQLITE,
    .begin_sql = "BEGIN IMMEDIATE",
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .check = sqlite_check,
    .in_transaction = sqlite_in_transaction,
    .exec_script = sqlite_exec_script,
    .prepare = sqlite_prepare,
    .reset = sqlite_reset,
    .stmt_free = sqlite_stmt_free,
    .bind = sqlite_bind,
    .step = sqlite_step,
    .column_count = sqlite_column_count,
    .column_name = sqlite_column_name,
    .column_is_null = sqlite_column_is_null,
    .column_int64 = sqlite_column_int64,
    .column_text = sqlite_column_text,
    .column_blob = sqlite_column_blob,
    .column_len = sqlite_column_len,
};
