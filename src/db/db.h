/*
 * db.h - the one storage contract: SQLite (default) and PostgreSQL.
 *
 * All SQL in Kreisel goes through this interface and is written once for both
 * backends:
 *
 *   - Parameters are numbered $1, $2, ... (PostgreSQL style) on both
 *     backends and are always bound, never spliced into the text.  A number
 *     may appear several times and in any order.
 *   - Column indexes of results count from 0; parameter numbers from 1.
 *   - Times are BIGINT Unix seconds (column names end in _at), flags are
 *     INTEGER 0/1, money is BIGINT cents, text is TEXT (UTF-8).
 *   - INSERT ... RETURNING and INSERT ... ON CONFLICT work on both.
 *
 * Ownership: a struct db (the pool) belongs to whoever opened it: the server
 * or a command-line command; it must outlive every connection taken from it.
 * A struct db_conn is borrowed from the pool by one thread with db_acquire()
 * and given back with db_release().  A struct db_stmt belongs to its
 * connection; db_finish() gives it back.  Text and blobs read from a row are
 * valid until the next db_step() or db_finish() on that statement: copy them
 * (arena_strdup) to keep them.
 *
 * Errors: functions return KR_OK or a negative enum kr_status and fill err:
 *   KR_ERR_CONFLICT  unique or foreign-key violation
 *   KR_ERR_INVALID   NOT NULL or CHECK violation, bad parameter number
 *   KR_ERR_BUSY      pool exhausted, database locked, serialization failure
 *                    (the caller may retry the whole transaction)
 *   KR_ERR_DB        anything else (connection lost, syntax error, ...)
 *   KR_ERR_NOMEM     out of memory
 * The message is safe to show an operator ("database error"); the detail
 * carries SQLSTATE or SQLite's code, the library's text and the start of the
 * SQL, for the log only.
 *
 * Thread safety: struct db is safe to share between threads; a connection
 * and its statements are used by one thread at a time.
 */
#ifndef KR_DB_DB_H
#define KR_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/util.h"

enum db_dialect { DB_SQLITE, DB_POSTGRES };

struct db;
struct db_conn;
struct db_stmt;

struct db_options {
    /*
     * Which database:
     *   "sqlite:PATH" or a plain PATH    SQLite file (parent directories are
     *                                    created, mode 0700); WAL journal,
     *                                    foreign keys on, busy timeout
     *   "sqlite::memory:"                private in-memory database (tests);
     *                                    forces a pool of one connection
     *   "postgresql://..." "postgres://..."  libpq connection URI
     */
    const char *url;
    unsigned pool_size;          /* connections at most; 0 means 8 */
    unsigned acquire_timeout_ms; /* wait for a free connection; 0 means 5000 */
    unsigned busy_timeout_ms;    /* SQLite lock wait; 0 means 5000 */
};

/* Pool figures for /metrics. */
struct db_pool_stats {
    unsigned size;           /* configured maximum */
    unsigned open;           /* connections currently open */
    unsigned in_use;         /* connections lent out */
    unsigned waiting;        /* threads waiting in db_acquire */
    uint64_t acquired_total; /* successful db_acquire calls */
    uint64_t timeouts_total; /* db_acquire calls that gave up */
};

/*
 * Open the pool and make one connection to check that the database is
 * reachable.  *out is owned by the caller (db_free).  Errors: KR_ERR_INVALID
 * for a URL it does not understand, KR_ERR_DB when the connection fails.
 */
int db_open(struct db **out, const struct db_options *opts, struct kr_error *err) KR_MUST_CHECK;

/* Close every connection and free the pool.  All connections must have been
 * released.  NULL is ok. */
void db_free(struct db *db);

enum db_dialect db_dialect(const struct db *db);

/* "sqlite" or "postgresql". */
const char *db_backend_name(const struct db *db);

void db_pool_stats(struct db *db, struct db_pool_stats *out);

/*
 * Borrow a connection, waiting up to acquire_timeout_ms for one to become
 * free (KR_ERR_BUSY after that).  A PostgreSQL connection that was lost is
 * re-established here.  Give it back with db_release().
 */
int db_acquire(struct db *db, struct db_conn **out, struct kr_error *err) KR_MUST_CHECK;

/* Give a connection back.  A transaction still open is rolled back (and a
 * warning logged): a handler's error path can never leak one.  Every
 * statement of the connection must have been finished.  NULL is ok. */
void db_release(struct db_conn *conn);

/* The pool a connection belongs to. */
struct db *db_conn_db(const struct db_conn *conn);

/* Acquire, run "SELECT 1", release: is the database reachable? */
int db_ping(struct db *db, struct kr_error *err) KR_MUST_CHECK;

/*
 * Transactions.  db_begin starts a write transaction (SQLite: BEGIN
 * IMMEDIATE, so that two writers wait for each other instead of failing
 * late; PostgreSQL: BEGIN, READ COMMITTED).  Transactions do not nest:
 * db_begin inside one is KR_ERR_INTERNAL.  db_rollback may be called when no
 * transaction is open (it then does nothing) and is meant for error paths,
 * so its result may be ignored.
 *
 * A statement that fails inside a transaction dooms it on both backends
 * (PostgreSQL aborts it anyway): db_commit then rolls back and returns
 * KR_ERR_DB.  A db_commit that fails has written nothing, so the caller may
 * retry the whole transaction.
 */
int db_begin(struct db_conn *conn, struct kr_error *err) KR_MUST_CHECK;
int db_commit(struct db_conn *conn, struct kr_error *err) KR_MUST_CHECK;
int db_rollback(struct db_conn *conn);
bool db_in_transaction(const struct db_conn *conn);

/*
 * Work deferred to the end of the open transaction: db_commit runs
 * fn(conn, arg, err) inside the transaction right before COMMIT, in the
 * order registered; an error rolls back and db_commit returns it.
 * release(arg) (may be NULL) runs after fn, or when the transaction rolls
 * back instead, so arg is the hook's until then.  The audit log appends its
 * entries this way: its chain lock is then held only from the append to
 * the COMMIT, not during the rest of the transaction.  KR_ERR_INTERNAL
 * outside a transaction, KR_ERR_TOO_LARGE beyond DB_PRECOMMIT_MAX hooks
 * (release is not called on error).
 */
#define DB_PRECOMMIT_MAX 8
typedef int (*db_precommit_fn)(struct db_conn *conn, void *arg, struct kr_error *err);
int db_precommit(struct db_conn *conn, db_precommit_fn fn, void *arg, void (*release)(void *),
                 struct kr_error *err) KR_MUST_CHECK;
/* The arg registered with fn in the open transaction, or NULL. */
void *db_precommit_arg(const struct db_conn *conn, db_precommit_fn fn);

/* Run fn(conn, arg, err) in a transaction: commit when it returns KR_OK,
 * roll back otherwise.  When conn is already in a transaction, fn joins it
 * and the caller commits (so that a domain function's change and, say,
 * the mail it queues are one unit). */
int db_transact(struct db_conn *conn, int (*fn)(struct db_conn *, void *, struct kr_error *),
                void *arg, struct kr_error *err) KR_MUST_CHECK;

/*
 * Prepare sql on conn.  Prepared statements are cached per connection by
 * their text, so preparing the same SQL again is cheap; a statement that is
 * still in use is not shared (a second, uncached one is prepared).
 * *out must be given back with db_finish().
 */
int db_prepare(struct db_conn *conn, const char *sql, struct db_stmt **out,
               struct kr_error *err) KR_MUST_CHECK;

/*
 * Bind parameter $idx (1-based).  The value is copied: the caller's memory
 * need not outlive the call.  text NULL binds SQL NULL; len (size_t)-1 means
 * strlen(text).  A bad index or OOM is remembered and reported by the next
 * db_step(), so that binding needs no error checks of its own.  Text that
 * is not valid UTF-8 or holds a NUL byte counts as a bad value
 * (KR_ERR_INVALID) on both backends, since PostgreSQL cannot store it.
 * A blob with data NULL binds SQL NULL too; an empty blob needs a non-NULL
 * pointer.  Parameters left unbound are NULL.
 */
void db_bind_int64(struct db_stmt *stmt, int idx, int64_t value);
void db_bind_text(struct db_stmt *stmt, int idx, const char *text, size_t len);
void db_bind_blob(struct db_stmt *stmt, int idx, const void *data, size_t len);
void db_bind_null(struct db_stmt *stmt, int idx);

/* Results of db_step. */
#define DB_ROW 1
#define DB_DONE 0

/*
 * Execute (on the first call) and move to the next row.  Returns DB_ROW
 * when a row is available, DB_DONE when there are no more rows, or a
 * negative error.  After DB_DONE the statement may be re-bound and stepped
 * again (it is reset).
 */
int db_step(struct db_stmt *stmt, struct kr_error *err) KR_MUST_CHECK;

/* Reset the statement and give it back to its connection.  NULL is ok. */
void db_finish(struct db_stmt *stmt);

/* Rows changed by the INSERT/UPDATE/DELETE just executed (after db_step
 * returned DB_DONE). */
int64_t db_changes(const struct db_stmt *stmt);

/* Columns of the current row (valid after db_step returned DB_ROW).
 * NULL values read as 0 / NULL / length 0. */
int db_column_count(const struct db_stmt *stmt);
const char *db_column_name(const struct db_stmt *stmt, int col);
bool db_column_is_null(const struct db_stmt *stmt, int col);
int64_t db_column_int64(const struct db_stmt *stmt, int col);
const char *db_column_text(const struct db_stmt *stmt, int col);
const void *db_column_blob(const struct db_stmt *stmt, int col);
size_t db_column_len(const struct db_stmt *stmt, int col);

/* Column text copied into an arena (NULL stays NULL; OOM gives NULL). */
char *db_column_strdup(const struct db_stmt *stmt, int col, struct arena *a);

/* ------------------------------------------------------------------------
 * One-shot helpers with a typed parameter list:
 *
 *   int64_t id;
 *   rc = db_query_int64(conn, "SELECT id FROM account_user WHERE login = $1",
 *                       DB_PARAMS(DB_TEXT(login)), &id, err);
 */
enum db_param_type { DB_PARAM_NULL, DB_PARAM_INT64, DB_PARAM_TEXT, DB_PARAM_BLOB };

struct db_param {
    enum db_param_type type;
    int64_t i;
    const void *p;
    size_t len;
};

#define DB_NULL ((struct db_param){.type = DB_PARAM_NULL})
#define DB_INT(v) ((struct db_param){.type = DB_PARAM_INT64, .i = (int64_t)(v)})
#define DB_TEXT(s) ((struct db_param){.type = DB_PARAM_TEXT, .p = (s), .len = (size_t)-1})
#define DB_TEXTN(s, n) ((struct db_param){.type = DB_PARAM_TEXT, .p = (s), .len = (n)})
#define DB_BLOB(d, n) ((struct db_param){.type = DB_PARAM_BLOB, .p = (d), .len = (n)})

/* Expands to "array, count" for the functions below; use NULL, 0 for none. */
#define DB_PARAMS(...)                                                                             \
    ((const struct db_param[]){__VA_ARGS__}),                                                      \
        (sizeof((const struct db_param[]){__VA_ARGS__}) / sizeof(struct db_param))

/* Bind params[0..n) to $1..$n of stmt. */
void db_bind_params(struct db_stmt *stmt, const struct db_param *params, size_t n);

/* Prepare sql and bind params; then db_step/db_finish as usual. */
int db_query(struct db_conn *conn, const char *sql, const struct db_param *params, size_t n,
             struct db_stmt **out, struct kr_error *err) KR_MUST_CHECK;

/* Run a statement that returns no rows (or ignore them).  *changes gets the
 * rows changed; changes may be NULL. */
int db_exec(struct db_conn *conn, const char *sql, const struct db_param *params, size_t n,
            int64_t *changes, struct kr_error *err) KR_MUST_CHECK;

/* First column of the first row as an integer; KR_ERR_NOT_FOUND when there
 * is no row. */
int db_query_int64(struct db_conn *conn, const char *sql, const struct db_param *params, size_t n,
                   int64_t *out, struct kr_error *err) KR_MUST_CHECK;

/* First column of the first row as arena text (NULL for SQL NULL);
 * KR_ERR_NOT_FOUND when there is no row. */
int db_query_text(struct db_conn *conn, const char *sql, const struct db_param *params, size_t n,
                  struct arena *a, char **out, struct kr_error *err) KR_MUST_CHECK;

/* Run SQL text of one or more statements without parameters (migrations,
 * test set-up).  Never use it with text that contains outside input. */
int db_exec_script(struct db_conn *conn, const char *sql, struct kr_error *err) KR_MUST_CHECK;

/* ------------------------------------------------------------------------
 * Migrations: numbered SQL files under migrations/, embedded into the binary
 * by scripts/embed-migrations.  The same file runs on both backends; before
 * it runs, two words are rewritten for the dialect (outside string literals
 * and comments):
 *
 *   KR_ID    SQLite: INTEGER PRIMARY KEY AUTOINCREMENT
 *            PostgreSQL: BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY
 *   KR_BLOB  SQLite: BLOB    PostgreSQL: BYTEA
 *
 * Where the two dialects cannot share a statement (triggers), a line that
 * is exactly "-- kreisel:sqlite" or "-- kreisel:postgresql" starts a section
 * that only that backend runs, and "-- kreisel:both" ends it.  Keep such
 * sections rare and small.
 *
 * Applied migrations are recorded in schema_migration (version, name,
 * SHA-256 of the file's text, applied_at).
 */
struct db_migration {
    int version;
    const char *name;
    const char *sql;
};

/* The migrations built into this binary, in ascending version order. */
extern const struct db_migration db_migrations[];
extern const size_t db_migrations_count;

/*
 * Apply every embedded migration that the database does not have yet, each
 * in its own transaction, in version order.  Safe to run from several
 * processes at once (PostgreSQL: advisory lock; SQLite: write lock).
 * *applied gets the number applied now (may be NULL).  Errors:
 *   KR_ERR_INTEGRITY  an applied migration's text differs from the embedded
 *                     one (a released migration was edited), or the
 *                     database has a version this binary does not know
 *                     (it is newer than the binary)
 *   KR_ERR_DB         a migration failed; the message names it, nothing of
 *                     it stays applied
 */
int db_migrate(struct db *db, int *applied, struct kr_error *err) KR_MUST_CHECK;

/* Highest applied migration version, 0 for an empty database. */
int db_schema_version(struct db *db, int *version, struct kr_error *err) KR_MUST_CHECK;

/* The migration text for dialect: sections of the other dialect removed,
 * KR_ID and KR_BLOB rewritten.  Heap memory the caller frees, NULL on OOM.
 * Exposed for tests. */
char *db_migration_rewrite(const char *sql, enum db_dialect dialect);

#endif
