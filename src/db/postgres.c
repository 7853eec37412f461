/*
 * postgres.c - the PostgreSQL backend (libpq).
 *
 * Statements are prepared under names k1, k2, ... that are unique per
 * connection and never reused, so that a name freed late (see pending
 * below) can never hit a newer statement.  Parameters go as text with type
 * OID 0 (the server infers the type from the SQL), blobs in binary; results
 * come back in text and bytea is decoded on first access.
 *
 * A result is fetched completely by PQexecPrepared rather than row by row:
 * the connection is then free for the next statement at once, which is what
 * makes nested iteration (a query per row of another) work on one
 * connection, as it does on SQLite.  Queries that may return huge results
 * must page with LIMIT anyway.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/buf.h"
#include "core/log.h"
#include "db/db_internal.h"

#define PG_BOOL_OID 16
#define PG_BYTEA_OID 17

/* DEALLOCATEs that could not run yet, at most this many bytes of SQL. */
#define PG_PENDING_MAX (64 * 1024)

struct pg_conn {
    struct db_conn base;
    PGconn *handle;
    uint64_t next_name; /* last statement number handed out */
    bool ready;         /* session set up (SET TimeZone done) */
    bool doomed;        /* the server announced it is closing the session */
    /*
     * DEALLOCATEs wait here while a transaction is open, until the next
     * db_acquire: in a failed transaction the server refuses them, and in
     * a good one a failing DEALLOCATE would abort the caller's work.
     */
    struct buf pending;
};

/* A bytea value of the current row, decoded and NUL-terminated. */
struct pg_decoded {
    char *data; /* NULL until decoded */
    size_t len;
};

struct pg_stmt {
    struct db_stmt base;
    char name[24];
    int nparams;
    char **values; /* [nparams]; NULL = SQL NULL */
    int *lengths;
    int *formats;  /* 1 (binary) for blobs */
    PGresult *res; /* of the current execution; NULL when not running */
    int row;
    int nrows;
    bool stale;                 /* must be prepared anew before the next run */
    struct pg_decoded *decoded; /* [PQnfields(res)] when res has bytea */
};

static PGconn *conn_handle(const struct db_conn *conn)
{
    return ((const struct pg_conn *)conn)->handle;
}

/* ------------------------------------------------------------------------
 * Errors */

static enum db_failure map_sqlstate(const char *state)
{
    static const struct {
        const char *state;
        enum db_failure failure;
    } map[] = {
        {"23505", DB_FAIL_UNIQUE}, {"23503", DB_FAIL_FOREIGN_KEY}, {"23502", DB_FAIL_NOT_NULL},
        {"23514", DB_FAIL_CHECK},  {"40001", DB_FAIL_BUSY},        {"40P01", DB_FAIL_BUSY},
        {"55P03", DB_FAIL_BUSY},   {"53200", DB_FAIL_NOMEM},       {"54000", DB_FAIL_TOO_LARGE},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(map); i++) {
        if (strcmp(state, map[i].state) == 0)
            return map[i].failure;
    }
    return DB_FAIL_OTHER;
}

/*
 * Only the primary message goes into the detail: PostgreSQL's DETAIL
 * field quotes the row ("Key (login)=(mueller) already exists").  Data
 * exceptions (class 22) quote the bad value after a colon ('invalid input
 * syntax for type bigint: "Müller"'): cut it off.
 */
static int fail_result(struct kr_error *err, PGconn *h, const PGresult *r, const char *sql)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!state || !primary) {
        /* Raised by libpq itself: connection lost, out of memory. */
        char library[256];
        (void)snprintf(library, sizeof(library), "%s", PQerrorMessage(h));
        library[strcspn(library, "\n")] = '\0';
        return db_error_from_backend(err, DB_FAIL_OTHER, "libpq", library, sql);
    }
    char backend[24];
    char library[256];
    (void)snprintf(backend, sizeof(backend), "SQLSTATE %s", state);
    (void)snprintf(library, sizeof(library), "%s", primary);
    if (strncmp(state, "22", 2) == 0)
        library[strcspn(library, ":")] = '\0';
    return db_error_from_backend(err, map_sqlstate(state), backend, library, sql);
}

/* Run sql with the simple protocol; tuples are ignored.  A COMMIT of a
 * failed transaction "succeeds" with the tag ROLLBACK: that is a failure. */
static int exec_simple(PGconn *h, const char *sql, struct kr_error *err)
{
    PGresult *r = PQexec(h, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = KR_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        rc = fail_result(err, h, r, sql);
    else if (strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(r), "ROLLBACK") == 0)
        rc = db_error_from_backend(err, DB_FAIL_OTHER, "libpq",
                                   "the transaction had failed; COMMIT rolled it back", sql);
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------------
 * Connections */

/*
 * Server notices (e.g. "relation already exists, skipping") would go to
 * stderr by default; library code logs instead, primary text only.  An
 * error that arrives while the connection is idle comes this way too: a
 * FATAL one is the server saying why it is about to hang up
 * (pg_terminate_backend, shutdown), so the connection is marked doomed.
 */
static void notice_receiver(void *arg, const PGresult *res)
{
    struct pg_conn *c = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    bool fatal = severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0);
    if (fatal)
        c->doomed = true;
    kr_log(fatal ? KR_LOG_WARN : KR_LOG_DEBUG, "db_notice", "%s %s: %s",
           severity ? severity : "NOTICE", state ? state : "?", primary ? primary : "");
}

static int session_setup(struct pg_conn *c, struct kr_error *err)
{
    /* Times are Unix seconds in BIGINT, but functions such as now()::date
     * must not depend on the server's zone. */
    int rc = exec_simple(c->handle, "SET TimeZone = 'UTC'", err);
    c->ready = rc == KR_OK;
    return rc;
}

static int connect_failed(PGconn *h, struct kr_error *err)
{
    char detail[512];
    (void)snprintf(detail, sizeof(detail), "%s", h ? PQerrorMessage(h) : "out of memory");
    detail[strcspn(detail, "\n")] = '\0';
    kr_error_set(err, KR_ERR_DB, "cannot connect to the database");
    kr_error_detail(err, "libpq: %s", detail);
    return KR_ERR_DB;
}

static int pg_connect(struct db *db, struct db_conn **out, struct kr_error *err)
{
    /* Keywords before dbname are defaults the URI may override. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const values[] = {"10", "kreisel", db_target(db), NULL};
    PGconn *h = PQconnectdbParams(keys, values, 1);
    if (!h || PQstatus(h) != CONNECTION_OK) {
        int rc = connect_failed(h, err);
        PQfinish(h);
        return rc;
    }
    struct pg_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        PQfinish(h);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    c->handle = h;
    PQsetNoticeReceiver(h, notice_receiver, c);
    buf_init(&c->pending, PG_PENDING_MAX);
    int rc = session_setup(c, err);
    if (rc) {
        PQfinish(h);
        free(c);
        return rc;
    }
    *out = &c->base;
    return KR_OK;
}

static void pg_disconnect(struct db_conn *conn)
{
    struct pg_conn *c = (struct pg_conn *)conn;
    PQfinish(c->handle);
    buf_release(&c->pending);
    free(c);
}

/*
 * Has the server gone away while the connection sat in the pool (restart,
 * pg_terminate_backend, idle timeout)?  An idle connection has nothing to
 * read.  If the socket is readable, take in what is there: PQisBusy parses
 * it, which hands a FATAL message to notice_receiver; end-of-file marks the
 * connection bad.  Either way it is then re-established.
 */
static bool pg_alive(struct pg_conn *c)
{
    PGconn *h = c->handle;
    for (int i = 0; i < 4 && PQstatus(h) == CONNECTION_OK && !c->doomed; i++) {
        struct pollfd p = {.fd = PQsocket(h), .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            break;
        if (!PQconsumeInput(h))
            return false;
        (void)PQisBusy(h);
    }
    return PQstatus(h) == CONNECTION_OK && !c->doomed;
}

static int pg_reconnect(struct pg_conn *c, struct kr_error *err)
{
    kr_log(KR_LOG_WARN, "db_reconnect", "PostgreSQL connection lost; reconnecting");
    /* The new session knows none of the old prepared statements. */
    db_stmt_cache_clear(&c->base);
    buf_reset(&c->pending);
    c->ready = false;
    c->doomed = false;
    PQreset(c->handle);
    if (PQstatus(c->handle) != CONNECTION_OK)
        return connect_failed(c->handle, err);
    return session_setup(c, err);
}

static void flush_pending(struct pg_conn *c)
{
    if (c->pending.len == 0 && buf_status(&c->pending) == KR_OK)
        return;
    if (PQtransactionStatus(c->handle) != PQTRANS_IDLE)
        return;
    struct kr_error err;
    if (c->pending.len > 0 && exec_simple(c->handle, buf_cstr(&c->pending), &err) != KR_OK)
        kr_log_error("db_deallocate_failed", &err);
    /* If the list overflowed, the rest stays on the server until the
     * session ends: a little server memory, nothing worse. */
    buf_reset(&c->pending);
}

static int pg_check(struct db_conn *conn, struct kr_error *err)
{
    struct pg_conn *c = (struct pg_conn *)conn;
    if (!c->ready || !pg_alive(c)) {
        int rc = pg_reconnect(c, err);
        if (rc)
            return rc;
    }
    flush_pending(c);
    return KR_OK;
}

static bool pg_in_transaction(const struct db_conn *conn)
{
    PGTransactionStatusType st = PQtransactionStatus(conn_handle(conn));
    return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

static int pg_exec_script(struct db_conn *conn, const char *sql, struct kr_error *err)
{
    return exec_simple(conn_handle(conn), sql, err);
}

/* ------------------------------------------------------------------------
 * Statements */

static void deallocate(struct pg_conn *c, const char *name)
{
    char sql[48];
    (void)snprintf(sql, sizeof(sql), "DEALLOCATE %s", name);
    if (PQstatus(c->handle) != CONNECTION_OK)
        return; /* the session and its statements are gone */
    if (PQtransactionStatus(c->handle) != PQTRANS_IDLE) {
        (void)buf_printf(&c->pending, "%s;", sql);
        return;
    }
    struct kr_error err;
    if (exec_simple(c->handle, sql, &err) != KR_OK)
        kr_log_error("db_deallocate_failed", &err);
}

/* PQprepare, then PQdescribePrepared for the number of parameters. */
static int prepare_named(struct pg_conn *c, const char *name, const char *sql, int *nparams,
                         struct kr_error *err)
{
    PGresult *r = PQprepare(c->handle, name, sql, 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        int rc = fail_result(err, c->handle, r, sql);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    r = PQdescribePrepared(c->handle, name);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        int rc = fail_result(err, c->handle, r, sql);
        PQclear(r);
        deallocate(c, name);
        return rc;
    }
    *nparams = PQnparams(r);
    PQclear(r);
    return KR_OK;
}

static void stmt_free_memory(struct pg_stmt *s)
{
    free(s->values);
    free(s->lengths);
    free(s->formats);
    free(s->base.sql);
    free(s);
}

static int pg_prepare(struct db_conn *conn, const char *sql, struct db_stmt **out,
                      struct kr_error *err)
{
    struct pg_conn *c = (struct pg_conn *)conn;
    struct pg_stmt *s = calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    (void)snprintf(s->name, sizeof(s->name), "k%" PRIu64, ++c->next_name);
    int rc = prepare_named(c, s->name, sql, &s->nparams, err);
    if (rc) {
        free(s);
        return rc;
    }
    size_t n = s->nparams > 0 ? (size_t)s->nparams : 1;
    s->values = calloc(n, sizeof(*s->values));
    s->lengths = calloc(n, sizeof(*s->lengths));
    s->formats = calloc(n, sizeof(*s->formats));
    if (!s->values || !s->lengths || !s->formats) {
        deallocate(c, s->name);
        stmt_free_memory(s);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    *out = &s->base;
    return KR_OK;
}

static void clear_decoded(struct pg_stmt *s)
{
    if (!s->decoded)
        return;
    int n = PQnfields(s->res);
    for (int i = 0; i < n; i++) {
        free(s->decoded[i].data);
        s->decoded[i] = (struct pg_decoded){0};
    }
}

static void clear_result(struct pg_stmt *s)
{
    clear_decoded(s);
    free(s->decoded);
    s->decoded = NULL;
    PQclear(s->res);
    s->res = NULL;
}

static void clear_value(struct pg_stmt *s, int i)
{
    free(s->values[i]);
    s->values[i] = NULL;
    s->lengths[i] = 0;
    s->formats[i] = 0;
}

static void pg_reset(struct db_stmt *stmt)
{
    struct pg_stmt *s = (struct pg_stmt *)stmt;
    clear_result(s);
    for (int i = 0; i < s->nparams; i++)
        clear_value(s, i);
}

static void pg_stmt_free(struct db_stmt *stmt, bool dealloc)
{
    struct pg_stmt *s = (struct pg_stmt *)stmt;
    pg_reset(stmt);
    if (dealloc)
        deallocate((struct pg_conn *)stmt->conn, s->name);
    stmt_free_memory(s);
}

/* A copy of the value as libpq wants it: text NUL-terminated. */
static char *value_copy(const struct db_param *v, int *len)
{
    char digits[24];
    const void *src = v->p;
    size_t n = v->len;
    if (v->type == DB_PARAM_INT64) {
        n = (size_t)snprintf(digits, sizeof(digits), "%" PRId64, v->i);
        src = digits;
    }
    if (n > INT32_MAX - 1)
        return NULL;
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    if (n)
        memcpy(copy, src, n);
    copy[n] = '\0';
    *len = (int)n;
    return copy;
}

static enum db_failure pg_bind(struct db_stmt *stmt, int idx, const struct db_param *value)
{
    struct pg_stmt *s = (struct pg_stmt *)stmt;
    if (s->res)
        return DB_FAIL_MISUSE;
    if (idx < 1 || idx > s->nparams)
        return DB_FAIL_PARAMETER;
    int i = idx - 1;
    clear_value(s, i);
    if (value->type == DB_PARAM_NULL)
        return DB_FAIL_NONE;
    if (value->type != DB_PARAM_INT64 && value->len > INT32_MAX - 1)
        return DB_FAIL_TOO_LARGE; /* libpq counts lengths in int */
    s->values[i] = value_copy(value, &s->lengths[i]);
    if (!s->values[i])
        return DB_FAIL_NOMEM;
    s->formats[i] = value->type == DB_PARAM_BLOB;
    return DB_FAIL_NONE;
}

/* Rows changed: PQcmdTuples also counts the rows of a SELECT, which
 * SQLite does not; count only data-changing commands on both. */
static int64_t command_changes(PGresult *r)
{
    static const char *const verbs[] = {"INSERT ", "UPDATE ", "DELETE ", "MERGE "};
    const char *status = PQcmdStatus(r);
    for (size_t i = 0; i < KR_ARRAY_LEN(verbs); i++) {
        if (strncmp(status, verbs[i], strlen(verbs[i])) == 0)
            return strtoll(PQcmdTuples(r), NULL, 10);
    }
    return 0;
}

static int current_row(struct pg_stmt *s)
{
    clear_decoded(s);
    if (s->row < s->nrows)
        return DB_ROW;
    clear_result(s);
    return DB_DONE;
}

static bool has_bytea(const PGresult *r)
{
    for (int i = 0; i < PQnfields(r); i++) {
        if (PQftype(r, i) == PG_BYTEA_OID)
            return true;
    }
    return false;
}

/* Keep the rows of a successful query; the decode slots are allocated
 * now, so that the const column functions only fill them. */
static int keep_rows(struct pg_stmt *s, PGresult *r, struct kr_error *err)
{
    if (has_bytea(r)) {
        s->decoded = calloc((size_t)PQnfields(r), sizeof(*s->decoded));
        if (!s->decoded) {
            PQclear(r);
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        }
    }
    s->res = r;
    s->row = 0;
    s->nrows = PQntuples(r);
    return current_row(s);
}

static PGresult *exec_prepared(struct pg_stmt *s)
{
    return PQexecPrepared(conn_handle(s->base.conn), s->name, s->nparams,
                          (const char *const *)s->values, s->lengths, s->formats, 0);
}

/* "cached plan must not change result type": the statement was prepared
 * before a migration altered its table.  Matched by SQLSTATE only (the
 * text depends on lc_messages); other 0A000 errors come at prepare. */
static bool stale_plan(const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state && strcmp(state, "0A000") == 0;
}

/* Prepare the statement again under a new name (so that the old one can
 * be deallocated later, outside any transaction). */
static int reprepare(struct pg_stmt *s, struct kr_error *err)
{
    struct pg_conn *c = (struct pg_conn *)s->base.conn;
    char name[sizeof(s->name)];
    int nparams;
    (void)snprintf(name, sizeof(name), "k%" PRIu64, ++c->next_name);
    int rc = prepare_named(c, name, s->base.sql, &nparams, err);
    if (rc == KR_OK && nparams != s->nparams) {
        deallocate(c, name);
        rc = db_error_from_backend(err, DB_FAIL_OTHER, "libpq", "parameters changed", s->base.sql);
    }
    if (rc)
        return rc;
    deallocate(c, s->name);
    memcpy(s->name, name, sizeof(name));
    s->stale = false;
    return KR_OK;
}

/*
 * Run the statement.  A stale plan is prepared anew: at once and run again
 * when no transaction was open (nothing was lost), else on the next run;
 * the caller gets KR_ERR_BUSY then, since retrying the transaction works.
 */
static PGresult *execute_fresh(struct pg_stmt *s, struct kr_error *err, int *rc)
{
    *rc = KR_OK;
    if (s->stale && (*rc = reprepare(s, err)) != KR_OK)
        return NULL;
    PGresult *r = exec_prepared(s);
    if (!stale_plan(r))
        return r;
    s->stale = true;
    if (PQtransactionStatus(conn_handle(s->base.conn)) != PQTRANS_IDLE) {
        *rc = db_error_from_backend(err, DB_FAIL_BUSY, "SQLSTATE 0A000",
                                    "cached plan must not change result type", s->base.sql);
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    if ((*rc = reprepare(s, err)) != KR_OK)
        return NULL;
    return exec_prepared(s);
}

static int execute(struct pg_stmt *s, struct kr_error *err)
{
    PGconn *h = conn_handle(s->base.conn);
    int rc;
    PGresult *r = execute_fresh(s, err, &rc);
    if (rc)
        return rc;
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        s->base.changes = command_changes(r);
    if (st == PGRES_TUPLES_OK)
        return keep_rows(s, r, err);
    rc = DB_DONE;
    if (st == PGRES_EMPTY_QUERY)
        rc = db_error_from_backend(err, DB_FAIL_EMPTY, "libpq", "empty statement", s->base.sql);
    else if (st != PGRES_COMMAND_OK)
        rc = fail_result(err, h, r, s->base.sql);
    PQclear(r);
    return rc;
}

static int pg_step(struct db_stmt *stmt, struct kr_error *err)
{
    struct pg_stmt *s = (struct pg_stmt *)stmt;
    if (!s->res)
        return execute(s, err);
    s->row++;
    return current_row(s);
}

/* ------------------------------------------------------------------------
 * Columns */

static bool col_ok(const struct pg_stmt *s, int col)
{
    return s->res && s->row < s->nrows && col >= 0 && col < PQnfields(s->res);
}

static int pg_column_count(const struct db_stmt *stmt)
{
    const struct pg_stmt *s = (const struct pg_stmt *)stmt;
    return s->res ? PQnfields(s->res) : 0;
}

static const char *pg_column_name(const struct db_stmt *stmt, int col)
{
    const struct pg_stmt *s = (const struct pg_stmt *)stmt;
    if (!s->res || col < 0 || col >= PQnfields(s->res))
        return NULL;
    return PQfname(s->res, col);
}

static bool pg_column_is_null(const struct db_stmt *stmt, int col)
{
    const struct pg_stmt *s = (const struct pg_stmt *)stmt;
    return !col_ok(s, col) || PQgetisnull(s->res, s->row, col);
}

/* The value of a non-NULL column: bytea decoded (once per row), anything
 * else as the server sent it.  NULL only on OOM. */
static const char *value_of(const struct pg_stmt *s, int col, size_t *len)
{
    const char *raw = PQgetvalue(s->res, s->row, col);
    if (PQftype(s->res, col) != PG_BYTEA_OID || !s->decoded) {
        *len = (size_t)PQgetlength(s->res, s->row, col);
        return raw;
    }
    struct pg_decoded *d = &s->decoded[col];
    if (!d->data) {
        size_t n;
        unsigned char *bin = PQunescapeBytea((const unsigned char *)raw, &n);
        d->data = bin ? malloc(n + 1) : NULL;
        if (d->data) {
            memcpy(d->data, bin, n);
            d->data[n] = '\0';
            d->len = n;
        }
        PQfreemem(bin);
    }
    *len = d->data ? d->len : 0;
    return d->data;
}

static int64_t pg_column_int64(const struct db_stmt *stmt, int col)
{
    const struct pg_stmt *s = (const struct pg_stmt *)stmt;
    if (pg_column_is_null(stmt, col))
        return 0;
    const char *v = PQgetvalue(s->res, s->row, col);
    if (PQftype(s->res, col) == PG_BOOL_OID)
        return v[0] == 't';
    /* Like SQLite: leading digits count, the rest ("1.5") is ignored. */
    return strtoll(v, NULL, 10);
}

static const char *pg_column_text(const struct db_stmt *stmt, int col)
{
    size_t len;
    if (pg_column_is_null(stmt, col))
        return NULL;
    return value_of((const struct pg_stmt *)stmt, col, &len);
}

static const void *pg_column_blob(const struct db_stmt *stmt, int col)
{
    return pg_column_text(stmt, col);
}

static size_t pg_column_len(const struct db_stmt *stmt, int col)
{
    size_t len = 0;
    if (!pg_column_is_null(stmt, col))
        (void)value_of((const struct pg_stmt *)stmt, col, &len);
    return len;
}

const struct db_backend db_postgres_backend = {
    .name = "postgresql",
    .dialect = DB_POSTGRES,
    .begin_sql = "BEGIN",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .check = pg_check,
    .in_transaction = pg_in_transaction,
    .exec_script = pg_exec_script,
    .prepare = pg_prepare,
    .reset = pg_reset,
    .stmt_free = pg_stmt_free,
    .bind = pg_bind,
    .step = pg_step,
    .column_count = pg_column_count,
    .column_name = pg_column_name,
    .column_is_null = pg_column_is_null,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_len = pg_column_len,
};
