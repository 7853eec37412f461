/*
 * db_internal.h - what db.c (pool, statement cache, dispatch) shares with
 * the backends sqlite.c and postgres.c.  Nothing outside src/db includes it.
 *
 * A backend embeds struct db_conn / struct db_stmt as the first member of
 * its own connection / statement type and casts back (db_conn is always at
 * offset 0).  db.c owns the pool, the statement cache, transaction
 * bookkeeping, fault injection and the error wording; a backend only talks
 * to its library and reports failures through db_error_from_backend().
 */
#ifndef KR_DB_DB_INTERNAL_H
#define KR_DB_DB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/* Prepared statements kept per connection.  A county server uses a few
 * dozen distinct statements; the bound keeps a buggy caller that builds SQL
 * dynamically from growing the cache (and the server's memory) for ever. */
#define DB_STMT_CACHE_MAX 128

/* How much of the SQL text goes into an error detail. */
#define DB_DETAIL_SQL_MAX 120

/* What went wrong, as far as callers care; each backend maps its
 * library's codes onto these, db.c maps these onto enum kr_status and the
 * message in one table. */
enum db_failure {
    DB_FAIL_NONE,        /* success */
    DB_FAIL_OTHER,       /* KR_ERR_DB */
    DB_FAIL_UNIQUE,      /* KR_ERR_CONFLICT */
    DB_FAIL_FOREIGN_KEY, /* KR_ERR_CONFLICT */
    DB_FAIL_NOT_NULL,    /* KR_ERR_INVALID */
    DB_FAIL_CHECK,       /* KR_ERR_INVALID */
    DB_FAIL_PARAMETER,   /* KR_ERR_INVALID: bad parameter number or value */
    DB_FAIL_EMPTY,       /* KR_ERR_INVALID: no statement in the text */
    DB_FAIL_TOO_LARGE,   /* KR_ERR_TOO_LARGE */
    DB_FAIL_BUSY,        /* KR_ERR_BUSY */
    DB_FAIL_NOMEM,       /* KR_ERR_NOMEM */
    DB_FAIL_MISUSE,      /* KR_ERR_INTERNAL: the caller broke the contract */
};

struct db_conn {
    struct db *db;
    struct db_stmt *cache[DB_STMT_CACHE_MAX]; /* prepared, keyed by sql */
    unsigned cache_count;
    uint64_t tick;         /* LRU clock: bumped by every db_prepare */
    unsigned stmts_in_use; /* handed out and not yet finished */
    bool tx_begun;         /* db_begin succeeded, no commit/rollback since */
    bool tx_failed;        /* a statement failed since db_begin */
    struct {
        db_precommit_fn fn;
        void *arg;
        void (*release)(void *);
    } precommit[DB_PRECOMMIT_MAX]; /* db_precommit, run by db_commit */
    unsigned precommit_count;
};

struct db_stmt {
    struct db_conn *conn;
    char *sql;                    /* own copy; the cache key */
    uint64_t hash;                /* of sql */
    uint64_t last_used;           /* conn->tick when last handed out */
    bool cached;                  /* in conn->cache (else freed by db_finish) */
    bool in_use;                  /* handed out by db_prepare, not finished */
    enum db_failure bind_failure; /* the first binding error, if any */
    int bind_idx;                 /* the parameter it concerns */
    int64_t changes;              /* rows changed, valid after DB_DONE */
};

/*
 * A backend.  Unless noted, functions set err (via db_error_from_backend or
 * kr_error_set) and return KR_OK or a negative enum kr_status.
 */
struct db_backend {
    const char *name;
    enum db_dialect dialect;
    const char *begin_sql; /* "BEGIN IMMEDIATE" / "BEGIN" */

    /* Open one connection; *out is freed by disconnect. */
    int (*connect)(struct db *db, struct db_conn **out, struct kr_error *err);
    /* Close the connection and free it.  db.c has freed its statements
     * (db_stmt_cache_clear) before. */
    void (*disconnect)(struct db_conn *conn);
    /* Called by db_acquire: make sure the connection is usable again
     * (PostgreSQL re-establishes a lost one). */
    int (*check)(struct db_conn *conn, struct kr_error *err);
    bool (*in_transaction)(const struct db_conn *conn);
    /* Run parameterless SQL text of one or more statements. */
    int (*exec_script)(struct db_conn *conn, const char *sql, struct kr_error *err);

    /* Prepare sql; the backend fills its part, db.c the base fields. */
    int (*prepare)(struct db_conn *conn, const char *sql, struct db_stmt **out,
                   struct kr_error *err);
    /* Forget the execution state and every binding (db_finish). */
    void (*reset)(struct db_stmt *stmt);
    /* Free the statement.  deallocate: also free the server's copy
     * (PostgreSQL DEALLOCATE); false when the session is going away or was
     * replaced by a reconnect. */
    void (*stmt_free)(struct db_stmt *stmt, bool deallocate);
    /* Bind one value: DB_FAIL_NONE, or the failure that db.c remembers
     * and reports at the next step (DB_FAIL_PARAMETER: the statement has
     * no such parameter; DB_FAIL_MISUSE: it still has rows to step). */
    enum db_failure (*bind)(struct db_stmt *stmt, int idx, const struct db_param *value);
    /* DB_ROW, DB_DONE (statement reset, stmt->changes set) or an error
     * (statement reset). */
    int (*step)(struct db_stmt *stmt, struct kr_error *err);

    int (*column_count)(const struct db_stmt *stmt);
    const char *(*column_name)(const struct db_stmt *stmt, int col);
    bool (*column_is_null)(const struct db_stmt *stmt, int col);
    int64_t (*column_int64)(const struct db_stmt *stmt, int col);
    const char *(*column_text)(const struct db_stmt *stmt, int col);
    const void *(*column_blob)(const struct db_stmt *stmt, int col);
    size_t (*column_len)(const struct db_stmt *stmt, int col);
};

extern const struct db_backend db_sqlite_backend;
extern const struct db_backend db_postgres_backend;

/* The pool's view that backends need. */
const char *db_target(const struct db *db); /* path or URI */
unsigned db_busy_timeout_ms(const struct db *db);

/*
 * Drop every cached statement of conn through the backend's stmt_free
 * (PostgreSQL after a reconnect: the server forgot them).  No statement
 * may be in use.
 */
void db_stmt_cache_clear(struct db_conn *conn);

/*
 * Fill err for a failure and return its enum kr_status:
 *   backend   the backend's code as text ("SQLSTATE 23505", "sqlite 2067")
 *   library   the library's message (never containing bound values)
 *   sql       the statement's text, of which the start goes into the detail
 */
int db_error_from_backend(struct kr_error *err, enum db_failure failure, const char *backend,
                          const char *library, const char *sql);

/* True if text[0..len) may be bound as TEXT on every backend: valid UTF-8
 * and no NUL byte (PostgreSQL refuses NUL in text). */
bool db_text_acceptable(const char *text, size_t len);

#endif
