/*
 * db.c - the pool, the per-connection statement cache, transactions, the
 * one-shot helpers and the error wording shared by both backends.
 */
#include "db/db.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fault.h"
#include "core/log.h"
#include "core/text.h"
#include "db/db_internal.h"

#define DB_DEFAULT_POOL_SIZE 8
#define DB_DEFAULT_TIMEOUT_MS 5000

struct db {
    const struct db_backend *backend;
    char *target; /* SQLite path or PostgreSQL URI */
    unsigned pool_size;
    unsigned acquire_timeout_ms;
    unsigned busy_timeout_ms;

    pthread_mutex_t lock;  /* guards everything below */
    pthread_cond_t freed;  /* signalled when a connection or a slot frees up */
    struct db_conn **idle; /* stack of open, unused connections */
    unsigned idle_count;
    unsigned open; /* connections open or being opened */
    unsigned in_use;
    unsigned waiting;
    uint64_t acquired_total;
    uint64_t timeouts_total;
};

/* ------------------------------------------------------------------------
 * Errors */

/* Copy the start of sql into out, whitespace runs folded to one space and
 * cut on a UTF-8 character boundary (the log line must stay valid UTF-8). */
static void sql_snippet(const char *sql, char *out, size_t size)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = sql; *p && n + 1 < size && n < DB_DETAIL_SQL_MAX; p++) {
        bool ws = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
        if (ws && (space || n == 0))
            continue;
        space = ws;
        out[n++] = ws ? ' ' : *p;
    }
    /* Drop a multi-byte character cut in the middle. */
    size_t end = n;
    while (end > 0 && ((unsigned char)out[end - 1] & 0xC0) == 0x80)
        end--;
    if (end > 0 && ((unsigned char)out[end - 1] & 0x80)) {
        unsigned char lead = (unsigned char)out[end - 1];
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (n - (end - 1) < want)
            n = end - 1;
    }
    out[n] = '\0';
}

/* The one place where failures get their code and the message an
 * operator (or user) may see. */
static const struct {
    enum kr_status code;
    const char *message;
} failures[] = {
    [DB_FAIL_NONE] = {KR_ERR_INTERNAL, "database error"},
    [DB_FAIL_OTHER] = {KR_ERR_DB, "database error"},
    [DB_FAIL_UNIQUE] = {KR_ERR_CONFLICT, "a record with the same key exists"},
    [DB_FAIL_FOREIGN_KEY] = {KR_ERR_CONFLICT,
                             "the record refers to a missing record or is still referred to"},
    [DB_FAIL_NOT_NULL] = {KR_ERR_INVALID, "a required value is missing"},
    [DB_FAIL_CHECK] = {KR_ERR_INVALID, "a value is not allowed"},
    [DB_FAIL_PARAMETER] = {KR_ERR_INVALID, "bad statement parameter"},
    [DB_FAIL_EMPTY] = {KR_ERR_INVALID, "empty statement"},
    [DB_FAIL_TOO_LARGE] = {KR_ERR_TOO_LARGE, "a value is too large for the database"},
    [DB_FAIL_BUSY] = {KR_ERR_BUSY, "the database is busy, try again"},
    [DB_FAIL_NOMEM] = {KR_ERR_NOMEM, "out of memory"},
    [DB_FAIL_MISUSE] = {KR_ERR_INTERNAL, "database interface misused"},
};

int db_error_from_backend(struct kr_error *err, enum db_failure failure, const char *backend,
                          const char *library, const char *sql)
{
    char snippet[DB_DETAIL_SQL_MAX + 1];
    if ((size_t)failure >= KR_ARRAY_LEN(failures))
        failure = DB_FAIL_OTHER;
    sql_snippet(sql ? sql : "", snippet, sizeof(snippet));
    int code = kr_error_set(err, failures[failure].code, "%s", failures[failure].message);
    kr_error_detail(err, "%s: %s; sql: %s", backend, library ? library : "", snippet);
    return code;
}

bool db_text_acceptable(const char *text, size_t len)
{
    return memchr(text, '\0', len) == NULL && text_utf8_valid(text, len);
}

/* ------------------------------------------------------------------------
 * Opening and closing the pool */

const char *db_target(const struct db *db)
{
    return db->target;
}

unsigned db_busy_timeout_ms(const struct db *db)
{
    return db->busy_timeout_ms;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Pick the backend and the target (path or URI) for url.  A "scheme://"
 * that is not PostgreSQL is refused rather than taken for a file name. */
static int parse_url(const char *url, const struct db_backend **backend, const char **target,
                     struct kr_error *err)
{
    if (!url || !*url)
        return kr_error_set(err, KR_ERR_INVALID, "database URL is empty");
    if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
        *backend = &db_postgres_backend;
        *target = url;
        return KR_OK;
    }
    if (strstr(url, "://")) {
        /* Not echoing the URL: it may hold a password. */
        return kr_error_set(err, KR_ERR_INVALID,
                            "database URL not understood (sqlite:PATH or postgresql://...)");
    }
    *backend = &db_sqlite_backend;
    *target = has_prefix(url, "sqlite:") ? url + strlen("sqlite:") : url;
    if (!**target)
        return kr_error_set(err, KR_ERR_INVALID, "database URL names no file");
    return KR_OK;
}

static int pool_init_sync(struct db *db)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return KR_ERR_NOMEM;
    /* Timeouts must not jump with the wall clock. */
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&db->freed, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return KR_ERR_NOMEM;
    if (pthread_mutex_init(&db->lock, NULL) != 0) {
        pthread_cond_destroy(&db->freed);
        return KR_ERR_NOMEM;
    }
    return KR_OK;
}

static struct db *pool_new(const struct db_backend *backend, const char *target,
                           const struct db_options *opts)
{
    struct db *db = calloc(1, sizeof(*db));
    if (!db)
        return NULL;
    db->backend = backend;
    db->pool_size = opts->pool_size ? opts->pool_size : DB_DEFAULT_POOL_SIZE;
    /* Every connection to :memory: would be a database of its own. */
    if (backend == &db_sqlite_backend && strcmp(target, ":memory:") == 0)
        db->pool_size = 1;
    db->acquire_timeout_ms =
        opts->acquire_timeout_ms ? opts->acquire_timeout_ms : DB_DEFAULT_TIMEOUT_MS;
    db->busy_timeout_ms = opts->busy_timeout_ms ? opts->busy_timeout_ms : DB_DEFAULT_TIMEOUT_MS;
    db->target = strdup(target);
    db->idle = calloc(db->pool_size, sizeof(*db->idle));
    if (!db->target || !db->idle || pool_init_sync(db) != KR_OK) {
        free(db->target);
        free(db->idle);
        free(db);
        return NULL;
    }
    return db;
}

static void conn_close(struct db_conn *conn)
{
    db_stmt_cache_clear(conn);
    conn->db->backend->disconnect(conn);
}

int db_open(struct db **out, const struct db_options *opts, struct kr_error *err)
{
    const struct db_backend *backend = NULL;
    const char *target = NULL;
    *out = NULL;
    int rc = parse_url(opts->url, &backend, &target, err);
    if (rc)
        return rc;
    struct db *db = pool_new(backend, target, opts);
    if (!db)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    /* One connection now, so that a wrong URL fails at start-up. */
    struct db_conn *conn;
    rc = backend->connect(db, &conn, err);
    if (rc) {
        db_free(db);
        return rc;
    }
    conn->db = db;
    db->idle[db->idle_count++] = conn;
    db->open = 1;
    *out = db;
    return KR_OK;
}

void db_free(struct db *db)
{
    if (!db)
        return;
    assert(db->in_use == 0 && "db_free with connections still borrowed");
    for (unsigned i = 0; i < db->idle_count; i++)
        conn_close(db->idle[i]);
    pthread_mutex_destroy(&db->lock);
    pthread_cond_destroy(&db->freed);
    free(db->idle);
    free(db->target);
    free(db);
}

enum db_dialect db_dialect(const struct db *db)
{
    return db->backend->dialect;
}

const char *db_backend_name(const struct db *db)
{
    return db->backend->name;
}

void db_pool_stats(struct db *db, struct db_pool_stats *out)
{
    pthread_mutex_lock(&db->lock);
    *out = (struct db_pool_stats){
        .size = db->pool_size,
        .open = db->open,
        .in_use = db->in_use,
        .waiting = db->waiting,
        .acquired_total = db->acquired_total,
        .timeouts_total = db->timeouts_total,
    };
    pthread_mutex_unlock(&db->lock);
}

struct db *db_conn_db(const struct db_conn *conn)
{
    return conn->db;
}

/* ------------------------------------------------------------------------
 * Borrowing connections */

static struct timespec deadline_after(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/*
 * Take an idle connection (*conn set) or a slot to open one (*conn NULL,
 * db->open already counts it).  The caller holds db->lock.
 */
static int pool_take(struct db *db, struct db_conn **conn, struct kr_error *err)
{
    struct timespec deadline = deadline_after(db->acquire_timeout_ms);
    for (;;) {
        if (db->idle_count > 0) {
            *conn = db->idle[--db->idle_count];
            break;
        }
        if (db->open < db->pool_size) {
            *conn = NULL;
            db->open++;
            break;
        }
        db->waiting++;
        int rc = pthread_cond_timedwait(&db->freed, &db->lock, &deadline);
        db->waiting--;
        /* Any failure of the wait (not only ETIMEDOUT) ends it: never spin. */
        if (rc != 0 && db->idle_count == 0 && db->open >= db->pool_size) {
            db->timeouts_total++;
            kr_error_set(err, KR_ERR_BUSY, "all database connections are busy");
            kr_error_detail(err, "pool of %u, waited %u ms", db->pool_size, db->acquire_timeout_ms);
            return KR_ERR_BUSY;
        }
    }
    db->in_use++;
    db->acquired_total++;
    return KR_OK;
}

/* Hand a taken connection back to the pool (conn NULL: give up the slot
 * of one that could not be opened). */
static void pool_put(struct db *db, struct db_conn *conn)
{
    pthread_mutex_lock(&db->lock);
    if (conn)
        db->idle[db->idle_count++] = conn;
    else
        db->open--;
    db->in_use--;
    pthread_cond_signal(&db->freed);
    pthread_mutex_unlock(&db->lock);
}

int db_acquire(struct db *db, struct db_conn **out, struct kr_error *err)
{
    struct db_conn *conn;
    *out = NULL;
    pthread_mutex_lock(&db->lock);
    int rc = pool_take(db, &conn, err);
    pthread_mutex_unlock(&db->lock);
    if (rc)
        return rc;
    /* Connecting and checking happen outside the lock: they may block on
     * the network for long. */
    if (conn)
        rc = db->backend->check(conn, err);
    else if ((rc = db->backend->connect(db, &conn, err)) == KR_OK)
        conn->db = db;
    if (rc) {
        /* A connection that failed its check stays in the pool: the next
         * acquire tries to re-establish it again. */
        pool_put(db, conn);
        return rc;
    }
    *out = conn;
    return KR_OK;
}

static void transaction_ended(struct db_conn *conn);

void db_release(struct db_conn *conn)
{
    if (!conn)
        return;
    assert(conn->stmts_in_use == 0 && "db_release with statements not finished");
    if (conn->db->backend->in_transaction(conn)) {
        kr_log(KR_LOG_WARN, "db_transaction_leaked",
               "a connection was released with an open transaction; rolled back");
        (void)db_rollback(conn);
    }
    transaction_ended(conn); /* hooks of a transaction the backend lost */
    pool_put(conn->db, conn);
}

int db_ping(struct db *db, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = db_acquire(db, &conn, err);
    if (rc)
        return rc;
    int64_t one;
    rc = db_query_int64(conn, "SELECT 1", NULL, 0, &one, err);
    db_release(conn);
    return rc;
}

/* ------------------------------------------------------------------------
 * Transactions */

bool db_in_transaction(const struct db_conn *conn)
{
    return conn->db->backend->in_transaction(conn);
}

/*
 * A statement that fails inside a transaction dooms it on both backends.
 * PostgreSQL does so itself (and answers a later COMMIT with a silent
 * ROLLBACK); SQLite would go on and commit the rest.  Doing the same on
 * SQLite makes code that ignores an error inside a transaction fail in the
 * developer's tests rather than in production on PostgreSQL.
 */
static int note_failure(struct db_conn *conn, int rc)
{
    if (rc < 0 && conn->tx_begun)
        conn->tx_failed = true;
    return rc;
}

static void transaction_ended(struct db_conn *conn)
{
    conn->tx_begun = false;
    conn->tx_failed = false;
    for (unsigned i = 0; i < conn->precommit_count; i++)
        if (conn->precommit[i].release)
            conn->precommit[i].release(conn->precommit[i].arg);
    conn->precommit_count = 0;
}

int db_precommit(struct db_conn *conn, db_precommit_fn fn, void *arg, void (*release)(void *),
                 struct kr_error *err)
{
    if (!conn->tx_begun || !fn)
        return kr_error_set(err, KR_ERR_INTERNAL, "db_precommit needs an open transaction");
    if (conn->precommit_count == DB_PRECOMMIT_MAX)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "more than %d pre-commit hooks",
                            DB_PRECOMMIT_MAX);
    unsigned i = conn->precommit_count++;
    conn->precommit[i].fn = fn;
    conn->precommit[i].arg = arg;
    conn->precommit[i].release = release;
    return KR_OK;
}

void *db_precommit_arg(const struct db_conn *conn, db_precommit_fn fn)
{
    for (unsigned i = 0; conn->tx_begun && i < conn->precommit_count; i++)
        if (conn->precommit[i].fn == fn)
            return conn->precommit[i].arg;
    return NULL;
}

/* Run the pre-commit hooks in order (each may register more). */
static int run_precommit(struct db_conn *conn, struct kr_error *err)
{
    int rc = KR_OK;
    for (unsigned i = 0; rc == KR_OK && i < conn->precommit_count; i++)
        rc = conn->precommit[i].fn(conn, conn->precommit[i].arg, err);
    if (rc == KR_OK && conn->tx_failed)
        rc = db_error_from_backend(err, DB_FAIL_OTHER, "commit",
                                   "a statement of the transaction failed; rolled back instead",
                                   "COMMIT");
    return rc;
}

int db_transact(struct db_conn *conn, int (*fn)(struct db_conn *, void *, struct kr_error *),
                void *arg, struct kr_error *err)
{
    if (db_in_transaction(conn))
        return fn(conn, arg, err);
    int rc = db_begin(conn, err);
    if (rc)
        return rc;
    rc = fn(conn, arg, err);
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    if (rc)
        db_rollback(conn);
    return rc;
}

int db_begin(struct db_conn *conn, struct kr_error *err)
{
    if (db_in_transaction(conn))
        return kr_error_set(err, KR_ERR_INTERNAL, "transaction already open (they do not nest)");
    transaction_ended(conn);
    int rc = conn->db->backend->exec_script(conn, conn->db->backend->begin_sql, err);
    conn->tx_begun = rc == KR_OK;
    return rc;
}

int db_commit(struct db_conn *conn, struct kr_error *err)
{
    if (conn->tx_failed) {
        (void)db_rollback(conn);
        return db_error_from_backend(err, DB_FAIL_OTHER, "commit",
                                     "a statement of the transaction failed; rolled back instead",
                                     "COMMIT");
    }
    if (!db_in_transaction(conn))
        return kr_error_set(err, KR_ERR_INTERNAL, "commit without a transaction");
    int rc = run_precommit(conn, err);
    if (rc) {
        (void)db_rollback(conn);
        return rc;
    }
    transaction_ended(conn);
    rc = conn->db->backend->exec_script(conn, "COMMIT", err);
    /* SQLite keeps the transaction open when COMMIT fails (e.g. busy);
     * end it, so that a failed commit always means "nothing written" and
     * the caller can simply retry the whole transaction. */
    if (rc && db_in_transaction(conn))
        (void)db_rollback(conn);
    return rc;
}

int db_rollback(struct db_conn *conn)
{
    transaction_ended(conn);
    if (!db_in_transaction(conn))
        return KR_OK;
    struct kr_error err;
    int rc = conn->db->backend->exec_script(conn, "ROLLBACK", &err);
    if (rc)
        kr_log_error("db_rollback_failed", &err);
    return rc;
}

/* ------------------------------------------------------------------------
 * Statement cache */

/* FNV-1a: cheap and good enough to tell a hundred SQL texts apart; equal
 * hashes are confirmed with strcmp. */
static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

/* A linear scan over at most DB_STMT_CACHE_MAX hashes costs less than
 * keeping a hash table and an LRU list in step. */
/* The cached statement for sql (in use or not), or NULL.  There is at
 * most one: a twin prepared while it is in use stays uncached. */
static struct db_stmt *cache_find(struct db_conn *conn, const char *sql, uint64_t hash)
{
    for (unsigned i = 0; i < conn->cache_count; i++) {
        struct db_stmt *s = conn->cache[i];
        if (s->hash == hash && strcmp(s->sql, sql) == 0)
            return s;
    }
    return NULL;
}

static void cache_remove_at(struct db_conn *conn, unsigned i)
{
    conn->cache[i] = conn->cache[--conn->cache_count];
}

/* Make room by dropping the least recently used statement not in use.
 * False if every cached statement is in use. */
static bool cache_evict(struct db_conn *conn)
{
    unsigned victim = conn->cache_count;
    for (unsigned i = 0; i < conn->cache_count; i++) {
        const struct db_stmt *s = conn->cache[i];
        if (!s->in_use &&
            (victim == conn->cache_count || s->last_used < conn->cache[victim]->last_used))
            victim = i;
    }
    if (victim == conn->cache_count)
        return false;
    struct db_stmt *s = conn->cache[victim];
    cache_remove_at(conn, victim);
    conn->db->backend->stmt_free(s, true);
    return true;
}

static void cache_add(struct db_conn *conn, struct db_stmt *stmt)
{
    if (conn->cache_count == DB_STMT_CACHE_MAX && !cache_evict(conn))
        return; /* stays uncached: freed by db_finish */
    stmt->cached = true;
    conn->cache[conn->cache_count++] = stmt;
}

void db_stmt_cache_clear(struct db_conn *conn)
{
    assert(conn->stmts_in_use == 0);
    for (unsigned i = 0; i < conn->cache_count; i++)
        conn->db->backend->stmt_free(conn->cache[i], false);
    conn->cache_count = 0;
}

static void stmt_hand_out(struct db_conn *conn, struct db_stmt *stmt, struct db_stmt **out)
{
    stmt->in_use = true;
    stmt->last_used = ++conn->tick;
    stmt->bind_failure = DB_FAIL_NONE;
    stmt->changes = 0;
    conn->stmts_in_use++;
    *out = stmt;
}

static bool sql_blank(const char *sql)
{
    for (; *sql; sql++) {
        if (*sql != ' ' && *sql != '\n' && *sql != '\t' && *sql != '\r')
            return false;
    }
    return true;
}

int db_prepare(struct db_conn *conn, const char *sql, struct db_stmt **out, struct kr_error *err)
{
    *out = NULL;
    if (sql_blank(sql)) {
        return note_failure(
            conn, db_error_from_backend(err, DB_FAIL_EMPTY, "prepare", "empty statement", sql));
    }
    uint64_t hash = sql_hash(sql);
    struct db_stmt *stmt = cache_find(conn, sql, hash);
    if (stmt && !stmt->in_use) {
        stmt_hand_out(conn, stmt, out);
        return KR_OK;
    }
    bool twin = stmt != NULL; /* the cached one is busy: an uncached twin */
    char *copy = strdup(sql);
    if (!copy)
        return note_failure(conn, kr_error_set(err, KR_ERR_NOMEM, "out of memory"));
    int rc = conn->db->backend->prepare(conn, sql, &stmt, err);
    if (rc) {
        free(copy);
        return note_failure(conn, rc);
    }
    stmt->conn = conn;
    stmt->sql = copy;
    stmt->hash = hash;
    stmt->cached = false;
    if (!twin)
        cache_add(conn, stmt);
    stmt_hand_out(conn, stmt, out);
    return KR_OK;
}

void db_finish(struct db_stmt *stmt)
{
    if (!stmt)
        return;
    assert(stmt->in_use);
    struct db_conn *conn = stmt->conn;
    /* Clearing the bindings also drops personal data from memory. */
    conn->db->backend->reset(stmt);
    stmt->in_use = false;
    stmt->bind_failure = DB_FAIL_NONE;
    conn->stmts_in_use--;
    if (!stmt->cached)
        conn->db->backend->stmt_free(stmt, true);
}

/* ------------------------------------------------------------------------
 * Binding */

static void bind_value(struct db_stmt *stmt, int idx, const struct db_param *value)
{
    if (stmt->bind_failure != DB_FAIL_NONE)
        return; /* the first error is the one reported */
    enum db_failure failure;
    if (value->type == DB_PARAM_TEXT && !db_text_acceptable(value->p, value->len))
        failure = DB_FAIL_PARAMETER;
    else
        failure = stmt->conn->db->backend->bind(stmt, idx, value);
    if (failure != DB_FAIL_NONE) {
        stmt->bind_failure = failure;
        stmt->bind_idx = idx;
    }
}

void db_bind_int64(struct db_stmt *stmt, int idx, int64_t value)
{
    bind_value(stmt, idx, &DB_INT(value));
}

void db_bind_text(struct db_stmt *stmt, int idx, const char *text, size_t len)
{
    if (!text) {
        db_bind_null(stmt, idx);
        return;
    }
    bind_value(stmt, idx, &DB_TEXTN(text, len == (size_t)-1 ? strlen(text) : len));
}

/* data NULL binds SQL NULL, like text; an empty blob needs a non-NULL
 * pointer. */
void db_bind_blob(struct db_stmt *stmt, int idx, const void *data, size_t len)
{
    if (!data) {
        db_bind_null(stmt, idx);
        return;
    }
    bind_value(stmt, idx, &DB_BLOB(data, len));
}

void db_bind_null(struct db_stmt *stmt, int idx)
{
    bind_value(stmt, idx, &DB_NULL);
}

void db_bind_params(struct db_stmt *stmt, const struct db_param *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct db_param *p = &params[i];
        int idx = (int)i + 1;
        switch (p->type) {
        case DB_PARAM_NULL: db_bind_null(stmt, idx); break;
        case DB_PARAM_INT64: db_bind_int64(stmt, idx, p->i); break;
        case DB_PARAM_TEXT: db_bind_text(stmt, idx, p->p, p->len); break;
        case DB_PARAM_BLOB: db_bind_blob(stmt, idx, p->p, p->len); break;
        }
    }
}

/* ------------------------------------------------------------------------
 * Stepping */

static const char *bind_reason(enum db_failure failure)
{
    switch (failure) {
    case DB_FAIL_PARAMETER: return "no such parameter, or text not UTF-8 or with a NUL byte";
    case DB_FAIL_MISUSE: return "bound while the statement still had rows to step";
    case DB_FAIL_TOO_LARGE: return "value too large";
    default: return "cannot bind";
    }
}

static int report_bind_error(struct db_stmt *stmt, struct kr_error *err)
{
    enum db_failure failure = stmt->bind_failure;
    stmt->bind_failure = DB_FAIL_NONE;
    stmt->conn->db->backend->reset(stmt);
    char reason[96];
    (void)snprintf(reason, sizeof(reason), "parameter $%d: %s", stmt->bind_idx,
                   bind_reason(failure));
    return db_error_from_backend(err, failure, "bind", reason, stmt->sql);
}

/* db_step without the fault site (db_exec counts once per call). */
static int step(struct db_stmt *stmt, struct kr_error *err)
{
    assert(stmt->in_use);
    if (stmt->bind_failure != DB_FAIL_NONE)
        return note_failure(stmt->conn, report_bind_error(stmt, err));
    return note_failure(stmt->conn, stmt->conn->db->backend->step(stmt, err));
}

static int injected_fault(const char *sql, struct kr_error *err)
{
    return db_error_from_backend(err, DB_FAIL_OTHER, "fault", "injected fault", sql);
}

int db_step(struct db_stmt *stmt, struct kr_error *err)
{
    if (kr_fault_hit(KR_FAULT_DB_STEP)) {
        stmt->conn->db->backend->reset(stmt);
        stmt->bind_failure = DB_FAIL_NONE;
        return note_failure(stmt->conn, injected_fault(stmt->sql, err));
    }
    return step(stmt, err);
}

int64_t db_changes(const struct db_stmt *stmt)
{
    return stmt->changes;
}

/* ------------------------------------------------------------------------
 * Columns: the backends check col against the row. */

int db_column_count(const struct db_stmt *stmt)
{
    return stmt->conn->db->backend->column_count(stmt);
}

const char *db_column_name(const struct db_stmt *stmt, int col)
{
    return stmt->conn->db->backend->column_name(stmt, col);
}

bool db_column_is_null(const struct db_stmt *stmt, int col)
{
    return stmt->conn->db->backend->column_is_null(stmt, col);
}

int64_t db_column_int64(const struct db_stmt *stmt, int col)
{
    return stmt->conn->db->backend->column_int64(stmt, col);
}

const char *db_column_text(const struct db_stmt *stmt, int col)
{
    return stmt->conn->db->backend->column_text(stmt, col);
}

const void *db_column_blob(const struct db_stmt *stmt, int col)
{
    return stmt->conn->db->backend->column_blob(stmt, col);
}

size_t db_column_len(const struct db_stmt *stmt, int col)
{
    return stmt->conn->db->backend->column_len(stmt, col);
}

char *db_column_strdup(const struct db_stmt *stmt, int col, struct arena *a)
{
    const char *text = db_column_text(stmt, col);
    if (!text)
        return NULL;
    return arena_strndup(a, text, db_column_len(stmt, col));
}

/* ------------------------------------------------------------------------
 * One-shot helpers */

int db_query(struct db_conn *conn, const char *sql, const struct db_param *params, size_t n,
             struct db_stmt **out, struct kr_error *err)
{
    int rc = db_prepare(conn, sql, out, err);
    if (rc)
        return rc;
    db_bind_params(*out, params, n);
    return KR_OK;
}

int db_exec(struct db_conn *conn, const char *sql, const struct db_param *params, size_t n,
            int64_t *changes, struct kr_error *err)
{
    if (changes)
        *changes = 0;
    if (kr_fault_hit(KR_FAULT_DB_STEP))
        return note_failure(conn, injected_fault(sql, err));
    struct db_stmt *stmt;
    int rc = db_query(conn, sql, params, n, &stmt, err);
    if (rc)
        return rc;
    while ((rc = step(stmt, err)) == DB_ROW)
        ;
    if (rc == DB_DONE && changes)
        *changes = stmt->changes;
    db_finish(stmt);
    return rc < 0 ? rc : KR_OK;
}

/* Prepare, bind and step to the first row: DB_ROW with *out to finish,
 * KR_ERR_NOT_FOUND, or an error. */
static int query_first(struct db_conn *conn, const char *sql, const struct db_param *params,
                       size_t n, struct db_stmt **out, struct kr_error *err)
{
    int rc = db_query(conn, sql, params, n, out, err);
    if (rc)
        return rc;
    rc = db_step(*out, err);
    if (rc == DB_ROW)
        return DB_ROW;
    db_finish(*out);
    *out = NULL;
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such record");
    return rc;
}

int db_query_int64(struct db_conn *conn, const char *sql, const struct db_param *params, size_t n,
                   int64_t *out, struct kr_error *err)
{
    struct db_stmt *stmt;
    int rc = query_first(conn, sql, params, n, &stmt, err);
    if (rc != DB_ROW)
        return rc;
    *out = db_column_int64(stmt, 0);
    db_finish(stmt);
    return KR_OK;
}

int db_query_text(struct db_conn *conn, const char *sql, const struct db_param *params, size_t n,
                  struct arena *a, char **out, struct kr_error *err)
{
    struct db_stmt *stmt;
    *out = NULL;
    int rc = query_first(conn, sql, params, n, &stmt, err);
    if (rc != DB_ROW)
        return rc;
    rc = KR_OK;
    if (!db_column_is_null(stmt, 0)) {
        *out = db_column_strdup(stmt, 0, a);
        if (!*out)
            rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    db_finish(stmt);
    return rc;
}

int db_exec_script(struct db_conn *conn, const char *sql, struct kr_error *err)
{
    return note_failure(conn, conn->db->backend->exec_script(conn, sql, err));
}
