#include "audit/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/text.h"
#include "core/util.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define VERIFY_BATCH 1000

/* ---- The canonical form (docs/audit.md) -------------------------------- */

static void put_field(struct buf *b, const char *s, size_t len)
{
    buf_printf(b, "\n%zu:", len);
    buf_append(b, s, len);
}

static void put_int(struct buf *b, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", (long long)v);
    put_field(b, num, (size_t)n);
}

void audit_entry_hash(const struct audit_entry *e, char out[65])
{
    struct buf b;
    buf_init(&b, (size_t)AUDIT_DETAILS_MAX + 4096);
    buf_puts(&b, e->prev_hash);
    buf_puts(&b, "kreisel-audit-v1");
    put_int(&b, e->seq);
    put_int(&b, e->created_at);
    const char *fields[] = {e->actor, e->action, e->object_type, e->object_id, e->details};
    for (size_t i = 0; i < KR_ARRAY_LEN(fields); i++)
        put_field(&b, fields[i] ? fields[i] : "", fields[i] ? strlen(fields[i]) : 0);
    /* Stored fields are within the limits, so the buffer cannot overflow;
     * if it ever did, the hash of the truncated text would not verify. */
    kr_sha256_hex(buf_cstr(&b), b.len, out);
    buf_release(&b);
}

/* ---- Append ------------------------------------------------------------- */

static int check_field(const char *name, const char *v, struct kr_error *err)
{
    size_t len = v ? strlen(v) : 0;
    if (len == 0 || len > AUDIT_FIELD_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "audit %s must have 1 to %d bytes", name,
                            AUDIT_FIELD_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7F)
            return kr_error_set(err, KR_ERR_INVALID, "audit %s holds a control character", name);
    if (!text_utf8_valid(v, len))
        return kr_error_set(err, KR_ERR_INVALID, "audit %s is not UTF-8", name);
    return KR_OK;
}

/* Real numbers have no single text form across libraries: refuse them. */
static bool has_real(const json_t *v)
{
    if (json_is_real(v))
        return true;
    if (json_is_object(v)) {
        const char *k;
        json_t *item;
        json_object_foreach((json_t *)(uintptr_t)v, k, item) if (has_real(item)) return true;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) if (has_real(item)) return true;
    }
    return false;
}

static int serialise_details(const json_t *details, char **out, struct kr_error *err)
{
    if (!details) {
        *out = strdup("{}");
        return *out ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    if (!json_is_object(details) || has_real(details))
        return kr_error_set(err, KR_ERR_INVALID,
                            "audit details must be an object without real numbers");
    /* Sorted keys and ASCII only: the stored text is what gets hashed. */
    *out = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (!*out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (strlen(*out) > AUDIT_DETAILS_MAX) {
        free(*out);
        return kr_error_set(err, KR_ERR_TOO_LARGE, "audit details larger than 64 KiB");
    }
    return KR_OK;
}

/* Take the next n seqs: the row lock on audit_head is held until our
 * transaction ends, so concurrent appenders queue here.  *first gets the
 * first of them, prev the hash before it. */
static int claim_seqs(struct db_conn *conn, int64_t n, int64_t *first, char prev[65],
                      struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash",
                      DB_PARAMS(DB_INT(n)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        *first = db_column_int64(st, 0) - n + 1;
        const char *h = db_column_text(st, 1);
        (void)snprintf(prev, 65, "%s", h ? h : "");
        rc = KR_OK;
    } else if (rc == DB_DONE) {
        rc = kr_error_set(err, KR_ERR_INTEGRITY, "audit_head row is missing");
    }
    db_finish(st);
    return rc;
}

/* Chain entries e[0..n) after the head and store them; the head's hash
 * follows.  Time is the time of writing, so that seq and time rise
 * together. */
static int write_entries(struct db_conn *conn, struct audit_entry *e, size_t n,
                         struct kr_error *err)
{
    char prev[65], hash[65];
    int64_t seq = 0;
    int rc = claim_seqs(conn, (int64_t)n, &seq, prev, err);
    int64_t now = kr_now();
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        e[i].seq = seq + (int64_t)i;
        e[i].created_at = now;
        e[i].prev_hash = prev;
        audit_entry_hash(&e[i], hash);
        rc = db_exec(conn,
                     "INSERT INTO audit_entry (seq, created_at, actor, action, object_type, "
                     "object_id, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                     "$8, $9)",
                     DB_PARAMS(DB_INT(e[i].seq), DB_INT(now), DB_TEXT(e[i].actor),
                               DB_TEXT(e[i].action), DB_TEXT(e[i].object_type),
                               DB_TEXT(e[i].object_id), DB_TEXT(e[i].details), DB_TEXT(prev),
                               DB_TEXT(hash)),
                     NULL, err);
        memcpy(prev, hash, sizeof(prev));
    }
    if (rc == KR_OK)
        rc = db_exec(conn, "UPDATE audit_head SET hash = $1 WHERE id = 1", DB_PARAMS(DB_TEXT(prev)),
                     NULL, err);
    return rc;
}

/* The entries of the open transaction, written at its commit (db_precommit),
 * so that the chain's lock is held only from there to the COMMIT.  The
 * strings are in the arena. */
struct pending {
    struct arena *a;
    struct audit_entry *e;
    size_t n, cap;
};

static void pending_free(void *arg)
{
    struct pending *p = arg;
    arena_free(p->a);
    free(p->e);
    free(p);
}

static int pending_write(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct pending *p = arg;
    return write_entries(conn, p->e, p->n, err);
}

/* The transaction's pending list, made on first use. */
static int pending_of(struct db_conn *conn, struct pending **out, struct kr_error *err)
{
    *out = db_precommit_arg(conn, pending_write);
    if (*out)
        return KR_OK;
    struct pending *p = calloc(1, sizeof(*p));
    if (!p || !(p->a = arena_new(0))) {
        free(p);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    int rc = db_precommit(conn, pending_write, p, pending_free, err);
    if (rc)
        pending_free(p);
    else
        *out = p;
    return rc;
}

static int defer(struct db_conn *conn, const struct audit_entry *e, struct kr_error *err)
{
    struct pending *p;
    int rc = pending_of(conn, &p, err);
    if (rc)
        return rc;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 4;
        struct audit_entry *grown = realloc(p->e, cap * sizeof(*grown));
        if (!grown)
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        p->e = grown;
        p->cap = cap;
    }
    struct audit_entry *to = &p->e[p->n];
    memset(to, 0, sizeof(*to));
    to->actor = arena_strdup(p->a, e->actor);
    to->action = arena_strdup(p->a, e->action);
    to->object_type = arena_strdup(p->a, e->object_type);
    to->object_id = arena_strdup(p->a, e->object_id);
    to->details = arena_strdup(p->a, e->details);
    if (!to->actor || !to->action || !to->object_type || !to->object_id || !to->details)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    p->n++;
    return KR_OK;
}

int audit_append(struct db_conn *conn, const struct audit_event *ev, int64_t *seq_out,
                 struct kr_error *err)
{
    if (!db_in_transaction(conn))
        return kr_error_set(err, KR_ERR_INTERNAL, "audit_append needs an open transaction");
    int rc = check_field("actor", ev->actor, err);
    if (!rc)
        rc = check_field("action", ev->action, err);
    if (!rc)
        rc = check_field("object type", ev->object_type, err);
    if (!rc)
        rc = check_field("object id", ev->object_id, err);
    if (rc)
        return rc;
    char *details = NULL;
    rc = serialise_details(ev->details, &details, err);
    if (rc)
        return rc;
    struct audit_entry e = {.actor = ev->actor,
                            .action = ev->action,
                            .object_type = ev->object_type,
                            .object_id = ev->object_id,
                            .details = details};
    /* A caller that wants the seq now gets the entry written now (after
     * those deferred so far, which keep their order). */
    struct pending *p = seq_out ? db_precommit_arg(conn, pending_write) : NULL;
    if (!seq_out) {
        rc = defer(conn, &e, err);
    } else {
        if (p && p->n) {
            rc = write_entries(conn, p->e, p->n, err);
            p->n = 0;
        }
        if (rc == KR_OK)
            rc = write_entries(conn, &e, 1, err);
        if (rc == KR_OK)
            *seq_out = e.seq;
    }
    free(details);
    return rc;
}

/* ---- Reading ---------------------------------------------------------- */

static const char select_columns[] = "SELECT seq, created_at, actor, action, object_type, "
                                     "object_id, details, prev_hash, hash FROM audit_entry ";

static void read_row(struct db_stmt *st, struct arena *a, struct audit_entry *e)
{
    e->seq = db_column_int64(st, 0);
    e->created_at = db_column_int64(st, 1);
    e->actor = db_column_strdup(st, 2, a);
    e->action = db_column_strdup(st, 3, a);
    e->object_type = db_column_strdup(st, 4, a);
    e->object_id = db_column_strdup(st, 5, a);
    e->details = db_column_strdup(st, 6, a);
    e->prev_hash = db_column_strdup(st, 7, a);
    e->hash = db_column_strdup(st, 8, a);
}

/* Read up to limit rows of a query returning select_columns. */
static int read_rows(struct db_conn *conn, struct arena *a, const char *sql, int64_t bound,
                     unsigned limit, struct audit_entry **entries, size_t *count,
                     struct kr_error *err)
{
    *entries = arena_calloc(a, limit, sizeof(**entries));
    *count = 0;
    if (!*entries)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn, sql, DB_PARAMS(DB_INT(bound), DB_INT(limit)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW && *count < limit)
        read_row(st, a, &(*entries)[(*count)++]);
    db_finish(st);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < *count; i++)
        if (!(*entries)[i].hash || !(*entries)[i].details)
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return KR_OK;
}

int audit_list(struct db_conn *conn, struct arena *a, int64_t before_seq, unsigned limit,
               struct audit_entry **entries, size_t *count, struct kr_error *err)
{
    if (limit < 1 || limit > 1000)
        return kr_error_set(err, KR_ERR_INVALID, "limit must be 1 to 1000");
    char sql[256];
    (void)snprintf(sql, sizeof(sql), "%sWHERE seq < $1 ORDER BY seq DESC LIMIT $2", select_columns);
    return read_rows(conn, a, sql, before_seq > 0 ? before_seq : INT64_MAX, limit, entries, count,
                     err);
}

/* ---- Verification ------------------------------------------------------- */

static int broken(struct audit_verify_result *res, int64_t seq, struct kr_error *err,
                  const char *fmt, ...) KR_PRINTF(4, 5);

static int broken(struct audit_verify_result *res, int64_t seq, struct kr_error *err,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    res->first_bad = seq;
    return kr_error_set(err, KR_ERR_INTEGRITY, "audit chain broken at entry %lld: %s",
                        (long long)seq, res->reason);
}

/* Check one entry against its predecessor; *prev is updated. */
static int check_entry(const struct audit_entry *e, int64_t *expected, char prev[65],
                       struct audit_verify_result *res, struct kr_error *err)
{
    if (e->seq > *expected)
        return broken(res, *expected, err, "entries %lld to %lld are missing (deleted)",
                      (long long)*expected, (long long)e->seq - 1);
    if (e->seq < *expected)
        return broken(res, e->seq, err, "entry appears twice or out of order");
    if (strcmp(e->prev_hash, prev) != 0)
        return broken(res, e->seq, err,
                      "its prev_hash does not match entry %lld (that entry was rewritten, "
                      "or this one inserted)",
                      (long long)e->seq - 1);
    char h[65];
    audit_entry_hash(e, h);
    if (strcmp(h, e->hash) != 0)
        return broken(res, e->seq, err, "its content does not match its hash (altered)");
    memcpy(prev, e->hash, 65);
    (*expected)++;
    res->checked++;
    return KR_OK;
}

static int read_head(struct db_conn *conn, struct arena *a, int64_t *seq, char **hash,
                     struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, "SELECT seq, hash FROM audit_head WHERE id = 1", NULL, 0, &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        *seq = db_column_int64(st, 0);
        *hash = db_column_strdup(st, 1, a);
        rc = *hash ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    } else if (rc == DB_DONE) {
        rc = kr_error_set(err, KR_ERR_INTEGRITY, "audit_head row is missing");
    }
    db_finish(st);
    return rc;
}

/* Walk seq > after in batches; stops at the first problem. */
static int walk(struct db_conn *conn, int64_t *expected, char prev[65],
                struct audit_verify_result *res, struct kr_error *err)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql), "%sWHERE seq >= $1 ORDER BY seq LIMIT $2", select_columns);
    for (;;) {
        struct arena *a = arena_new(0);
        if (!a)
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        struct audit_entry *batch;
        size_t n;
        int rc = read_rows(conn, a, sql, *expected, VERIFY_BATCH, &batch, &n, err);
        for (size_t i = 0; rc == KR_OK && i < n; i++)
            rc = check_entry(&batch[i], expected, prev, res, err);
        arena_free(a);
        if (rc || n < VERIFY_BATCH)
            return rc;
    }
}

int audit_verify(struct db *db, struct audit_verify_result *res, struct kr_error *err)
{
    memset(res, 0, sizeof(*res));
    struct db_conn *conn;
    int rc = db_acquire(db, &conn, err);
    if (rc)
        return rc;
    int64_t expected = 1;
    char prev[65] = ZERO_HASH;
    struct arena *a = arena_new(0);
    rc = a ? walk(conn, &expected, prev, res, err) : KR_ERR_NOMEM;
    /* Entries before the first one we saw (seq 1 deleted) show up as a gap
     * at the start, handled by check_entry.  Now the head: it must point at
     * the last entry, or the tail was cut off.  Appends may run meanwhile,
     * so a head ahead of us means: walk on. */
    for (int round = 0; rc == KR_OK && round < 100; round++) {
        int64_t head_seq = 0;
        char *head_hash;
        rc = read_head(conn, a, &head_seq, &head_hash, err);
        if (rc)
            break;
        int64_t last = expected - 1;
        if (head_seq == last && strcmp(head_hash, prev) == 0)
            break;
        if (head_seq == last || head_seq < last) {
            rc = broken(res, last, err, "the head (%lld) does not match the last entry",
                        (long long)head_seq);
            break;
        }
        int64_t before = expected;
        rc = walk(conn, &expected, prev, res, err);
        if (rc == KR_OK && expected == before)
            rc = broken(res, expected, err, "entries %lld to %lld are missing (deleted)",
                        (long long)expected, (long long)head_seq);
    }
    arena_free(a);
    db_release(conn);
    return rc;
}
