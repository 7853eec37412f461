/*
 * payments.c - receivables, bookings, status machine, dunning and the
 * "settled" hooks.  No HTTP here.
 */
#include "payments/payments.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/text.h"
#include "core/util.h"
#include "payments/payments_internal.h"

static const char *const status_names[] = {"open",     "partly_paid", "paid",
                                           "overpaid", "cancelled",   "written_off"};

const char *payments_status_name(enum payments_status s)
{
    return (unsigned)s < KR_ARRAY_LEN(status_names) ? status_names[s] : "open";
}

int payments_status_parse(const char *name, enum payments_status *out)
{
    for (size_t i = 0; name && i < KR_ARRAY_LEN(status_names); i++)
        if (strcmp(name, status_names[i]) == 0) {
            *out = (enum payments_status)i;
            return KR_OK;
        }
    return KR_ERR_INVALID;
}

int64_t payments_outstanding(const struct payments_receivable *r)
{
    if (r->status == PAYMENTS_CANCELLED || r->status == PAYMENTS_WRITTEN_OFF)
        return 0;
    int64_t left = r->amount_cents + r->fee_cents - r->paid_cents;
    return left > 0 ? left : 0;
}

/* The status that the sums imply (for receivables not closed). */
static enum payments_status status_for(int64_t due, int64_t paid)
{
    if (paid <= 0)
        return PAYMENTS_OPEN;
    if (paid < due)
        return PAYMENTS_PARTLY_PAID;
    return paid == due ? PAYMENTS_PAID : PAYMENTS_OVERPAID;
}

static bool settled(enum payments_status s)
{
    return s == PAYMENTS_PAID || s == PAYMENTS_OVERPAID;
}

void payments_debtor_key(const char *name, char *out, size_t size)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; p && *p && n + 1 < size; p++) {
        if (*p >= 0x80)
            out[n++] = (char)*p;
        else if (isalnum(*p))
            out[n++] = (char)tolower(*p);
    }
    out[n] = '\0';
}

/* ---- Hooks ---------------------------------------------------------------------- */

#define MAX_HOOKS 8
static payments_settled_fn hooks[MAX_HOOKS];
static size_t hook_count;

int payments_on_settled(payments_settled_fn fn)
{
    if (!fn)
        return KR_ERR_INVALID;
    if (hook_count == MAX_HOOKS)
        return KR_ERR_TOO_LARGE;
    hooks[hook_count++] = fn;
    return KR_OK;
}

void payments_on_settled_reset(void)
{
    hook_count = 0;
}

static int run_hooks(struct db_conn *conn, const struct payments_receivable *r,
                     struct kr_error *err)
{
    for (size_t i = 0; i < hook_count; i++) {
        int rc = hooks[i](conn, r, err);
        if (rc)
            return rc < 0 ? rc : kr_error_set(err, KR_ERR_INTERNAL, "a settled hook failed");
    }
    return KR_OK;
}

/* ---- Audit ------------------------------------------------------------------------ */

int payments_audit(struct db_conn *conn, const char *actor, const char *action, int64_t id,
                   json_t *details, struct kr_error *err)
{
    char oid[24];
    snprintf(oid, sizeof(oid), "%lld", (long long)id);
    struct audit_event ev = {actor, action, "receivable", oid, details};
    int rc = audit_append(conn, &ev, NULL, err);
    json_decref(details);
    return rc;
}

/* ---- Reading ---------------------------------------------------------------------- */

#define RCOLS                                                                                      \
    "id, kz, debtor_name, debtor_account_id, purpose, amount_cents, fee_cents, paid_cents, "       \
    "currency, due_at, case_ref, status, reason, reminders, reminded_at, created_at, "             \
    "updated_at "

static void read_receivable(struct db_stmt *st, struct arena *a, struct payments_receivable *r)
{
    memset(r, 0, sizeof(*r));
    r->id = db_column_int64(st, 0);
    snprintf(r->kz, sizeof(r->kz), "%s", db_column_text(st, 1) ? db_column_text(st, 1) : "");
    r->debtor_name = db_column_strdup(st, 2, a);
    r->debtor_account_id = db_column_int64(st, 3);
    r->purpose = db_column_strdup(st, 4, a);
    r->amount_cents = db_column_int64(st, 5);
    r->fee_cents = db_column_int64(st, 6);
    r->paid_cents = db_column_int64(st, 7);
    r->currency = db_column_strdup(st, 8, a);
    r->due_at = db_column_int64(st, 9);
    r->case_ref = db_column_strdup(st, 10, a);
    if (payments_status_parse(db_column_text(st, 11), &r->status) != KR_OK)
        r->status = PAYMENTS_OPEN;
    r->reason = db_column_strdup(st, 12, a);
    r->reminders = db_column_int64(st, 13);
    r->reminded_at = db_column_int64(st, 14);
    r->created_at = db_column_int64(st, 15);
    r->updated_at = db_column_int64(st, 16);
}

int payments_query_rows(struct db_conn *conn, struct arena *a, const char *sql,
                        const struct db_param *params, size_t nparams, size_t size,
                        payments_row_fn read, void **out, size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, sql, params, nparams, &st, err);
    if (rc)
        return rc;
    size_t cap = 16, len = 0;
    unsigned char *rows = arena_calloc(a, cap, size);
    while (rows && (rc = db_step(st, err)) == DB_ROW) {
        if (len == cap) {
            unsigned char *bigger = arena_calloc(a, cap * 2, size);
            if (bigger)
                memcpy(bigger, rows, len * size);
            rows = bigger;
            cap *= 2;
            if (!rows)
                break;
        }
        read(st, a, rows + len++ * size);
    }
    db_finish(st);
    if (!rows)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc < 0)
        return rc;
    *out = rows;
    *count = len;
    return KR_OK;
}

static void read_receivable_row(struct db_stmt *st, struct arena *a, void *row)
{
    read_receivable(st, a, row);
}

/* Run a query of receivables (RCOLS) into an arena array. */
static int query_list(struct db_conn *conn, struct arena *a, const char *sql,
                      const struct db_param *params, size_t n, struct payments_receivable **out,
                      size_t *count, struct kr_error *err)
{
    void *rows;
    int rc = payments_query_rows(conn, a, sql, params, n, sizeof(**out), read_receivable_row, &rows,
                                 count, err);
    if (rc == KR_OK)
        *out = rows;
    return rc;
}

static int query_one(struct db_conn *conn, struct arena *a, const char *sql,
                     const struct db_param *params, size_t n, struct payments_receivable *out,
                     struct kr_error *err)
{
    struct payments_receivable *list;
    size_t count;
    int rc = query_list(conn, a, sql, params, n, &list, &count, err);
    if (rc)
        return rc;
    if (count == 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such receivable");
    *out = list[0];
    return KR_OK;
}

int payments_receivable_get(struct db_conn *conn, struct arena *a, int64_t id,
                            struct payments_receivable *out, struct kr_error *err)
{
    return query_one(conn, a, "SELECT " RCOLS "FROM payments_receivable WHERE id = $1",
                     DB_PARAMS(DB_INT(id)), out, err);
}

int payments_receivable_find(struct db_conn *conn, struct arena *a, const char *kz,
                             struct payments_receivable *out, struct kr_error *err)
{
    char norm[PAYMENTS_KZ_SIZE];
    if (payments_kz_normalise(kz, norm) != KR_OK)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such Kassenzeichen");
    return query_one(conn, a, "SELECT " RCOLS "FROM payments_receivable WHERE kz = $1",
                     DB_PARAMS(DB_TEXT(norm)), out, err);
}

int payments_receivables_of_case(struct db_conn *conn, struct arena *a, const char *case_ref,
                                 struct payments_receivable **out, size_t *count,
                                 struct kr_error *err)
{
    return query_list(conn, a,
                      "SELECT " RCOLS "FROM payments_receivable WHERE case_ref = $1 "
                      "ORDER BY id DESC LIMIT 500",
                      DB_PARAMS(DB_TEXT(case_ref ? case_ref : "")), out, count, err);
}

int payments_receivables_search(struct db_conn *conn, struct arena *a,
                                const struct payments_query *q, struct payments_receivable **out,
                                size_t *count, struct kr_error *err)
{
    char kz[PAYMENTS_KZ_SIZE] = "";
    char key[PAYMENTS_NAME_MAX + 1] = "";
    const char *text = q->text && *q->text ? q->text : NULL;
    if (text && payments_kz_normalise(text, kz) != KR_OK) {
        kz[0] = '\0';
        payments_debtor_key(text, key, sizeof(key));
        if (!key[0])
            snprintf(key, sizeof(key), "%s", "\x01"); /* matches nothing */
    }
    char *like = key[0] ? arena_printf(a, "%%%s%%", key) : NULL;
    if (key[0] && !like)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    unsigned limit = q->limit == 0 || q->limit > 500 ? 100 : q->limit;
    /* Each criterion is "parameter is NULL or it matches". */
    return query_list(conn, a,
                      "SELECT " RCOLS "FROM payments_receivable WHERE ($1 = '' OR kz = $1) "
                      "AND ($2 = '' OR debtor_key LIKE $2) "
                      "AND (CAST($3 AS BIGINT) = 0 OR amount_cents = CAST($3 AS BIGINT)) "
                      "AND (CAST($4 AS BIGINT) = 0 OR status IN ('open', 'partly_paid')) "
                      "AND (CAST($5 AS BIGINT) = 0 OR due_at < CAST($6 AS BIGINT)) "
                      "ORDER BY due_at, id LIMIT CAST($7 AS BIGINT) OFFSET CAST($8 AS BIGINT)",
                      DB_PARAMS(DB_TEXT(kz), DB_TEXT(like ? like : ""), DB_INT(q->amount_cents),
                                DB_INT(q->open_only), DB_INT(q->overdue_before), DB_INT(q->before),
                                DB_INT(limit), DB_INT(q->offset)),
                      out, count, err);
}

int payments_dunning_list(struct db_conn *conn, struct arena *a, int64_t now, unsigned grace_days,
                          struct payments_receivable **out, size_t *count, struct kr_error *err)
{
    return query_list(conn, a,
                      "SELECT " RCOLS "FROM payments_receivable WHERE status IN ('open', "
                      "'partly_paid') AND due_at < $1 ORDER BY due_at, id LIMIT 500",
                      DB_PARAMS(DB_INT(now - (int64_t)grace_days * 86400)), out, count, err);
}

/* ---- Changes ------------------------------------------------------------------------ */

static int check_text(const char *field, const char *s, size_t max, struct kr_error *err)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0)
        return kr_error_set(err, KR_ERR_INVALID, "%s: required", field);
    if (len > max)
        return kr_error_set(err, KR_ERR_INVALID, "%s: longer than %zu bytes", field, max);
    if (!text_utf8_valid(s, len))
        return kr_error_set(err, KR_ERR_INVALID, "%s: not UTF-8", field);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return kr_error_set(err, KR_ERR_INVALID, "%s: control characters", field);
    return KR_OK;
}

static int validate_new(const struct payments_new_receivable *nr, struct kr_error *err)
{
    int rc = check_text("debtor_name", nr->debtor_name, PAYMENTS_NAME_MAX, err);
    if (rc == KR_OK)
        rc = check_text("purpose", nr->purpose, PAYMENTS_PURPOSE_MAX, err);
    if (rc == KR_OK && (nr->amount_cents < 1 || nr->amount_cents > PAYMENTS_AMOUNT_MAX))
        rc = kr_error_set(err, KR_ERR_INVALID, "amount: 0.01 to 999999999.99 EUR");
    if (rc == KR_OK && nr->currency && strcmp(nr->currency, "EUR") != 0)
        rc = kr_error_set(err, KR_ERR_INVALID, "currency: only EUR");
    if (rc == KR_OK && nr->case_ref && strlen(nr->case_ref) > 64)
        rc = kr_error_set(err, KR_ERR_INVALID, "case_ref: longer than 64 bytes");
    if (rc == KR_OK && nr->due_at < 0)
        rc = kr_error_set(err, KR_ERR_INVALID, "due_at: negative");
    return rc;
}

struct create_args {
    const char *actor;
    const struct payments_new_receivable *nr;
    int64_t id;
    char kz[PAYMENTS_KZ_SIZE];
};

static int next_kz(struct db_conn *conn, int64_t now, char kz[PAYMENTS_KZ_SIZE],
                   struct kr_error *err)
{
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    char name[16];
    snprintf(name, sizeof(name), "kz:%04d", tm.tm_year + 1900);
    int64_t seq;
    int rc = db_query_int64(conn,
                            "INSERT INTO payments_counter (name, value) VALUES ($1, 1) "
                            "ON CONFLICT (name) DO UPDATE SET value = payments_counter.value + 1 "
                            "RETURNING value",
                            DB_PARAMS(DB_TEXT(name)), &seq, err);
    if (rc)
        return rc;
    if (seq > 999999)
        return kr_error_set(err, KR_ERR_BUSY, "Kassenzeichen of this year used up");
    payments_kz_make(tm.tm_year + 1900, seq, kz);
    return KR_OK;
}

static int create_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct create_args *c = arg;
    const struct payments_new_receivable *nr = c->nr;
    int64_t now = kr_now();
    int rc = next_kz(conn, now, c->kz, err);
    if (rc)
        return rc;
    char key[PAYMENTS_NAME_MAX + 1];
    payments_debtor_key(nr->debtor_name, key, sizeof(key));
    int64_t due = nr->due_at ? nr->due_at : now + 14 * 86400;
    rc = db_query_int64(
        conn,
        "INSERT INTO payments_receivable (kz, debtor_name, debtor_account_id, debtor_key, "
        "purpose, amount_cents, currency, due_at, case_ref, status, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'EUR', $7, $8, 'open', $9, $9) RETURNING id",
        DB_PARAMS(DB_TEXT(c->kz), DB_TEXT(nr->debtor_name),
                  nr->debtor_account_id ? DB_INT(nr->debtor_account_id) : DB_NULL, DB_TEXT(key),
                  DB_TEXT(nr->purpose), DB_INT(nr->amount_cents), DB_INT(due),
                  nr->case_ref ? DB_TEXT(nr->case_ref) : DB_NULL, DB_INT(now)),
        &c->id, err);
    if (rc)
        return rc;
    return payments_audit(conn, c->actor, "payments.create", c->id,
                          json_pack("{s:s, s:I, s:I, s:s?}", "kz", c->kz, "amount_cents",
                                    (json_int_t)nr->amount_cents, "due_at", (json_int_t)due,
                                    "case_ref", nr->case_ref),
                          err);
}

int payments_receivable_create(struct db_conn *conn, const char *actor,
                               const struct payments_new_receivable *nr, int64_t *id_out,
                               char kz_out[PAYMENTS_KZ_SIZE], struct kr_error *err)
{
    int rc = validate_new(nr, err);
    if (rc)
        return rc;
    struct create_args c = {.actor = actor, .nr = nr};
    rc = db_transact(conn, create_tx, &c, err);
    if (rc)
        return rc;
    if (id_out)
        *id_out = c.id;
    if (kz_out)
        memcpy(kz_out, c.kz, PAYMENTS_KZ_SIZE);
    return KR_OK;
}

struct book_args {
    const char *actor;
    int64_t id, amount, entry_id;
    const char *source, *note;
};

/* The figures of a receivable that a booking changes (no arena needed, so
 * that 100,000 bookings in one import allocate nothing each). */
static int read_sums(struct db_conn *conn, int64_t id, struct payments_receivable *r,
                     struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT kz, amount_cents, fee_cents, paid_cents, status "
                      "FROM payments_receivable WHERE id = $1",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        memset(r, 0, sizeof(*r));
        r->id = id;
        snprintf(r->kz, sizeof(r->kz), "%s", db_column_text(st, 0) ? db_column_text(st, 0) : "");
        r->amount_cents = db_column_int64(st, 1);
        r->fee_cents = db_column_int64(st, 2);
        r->paid_cents = db_column_int64(st, 3);
        if (payments_status_parse(db_column_text(st, 4), &r->status) != KR_OK)
            r->status = PAYMENTS_OPEN;
        rc = KR_OK;
    } else if (rc == DB_DONE) {
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such receivable");
    }
    db_finish(st);
    return rc;
}

/* The settled hooks get the whole receivable as it is now. */
static int settle(struct db_conn *conn, int64_t id, struct kr_error *err)
{
    if (hook_count == 0)
        return KR_OK;
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct payments_receivable r;
    int rc = payments_receivable_get(conn, a, id, &r, err);
    if (rc == KR_OK)
        rc = run_hooks(conn, &r, err);
    arena_free(a);
    return rc;
}

/* Apply the sum of a change to the receivable and store the new status;
 * runs the hooks when it became settled.  Takes the reference to details. */
static int apply_sum(struct db_conn *conn, const char *actor, int64_t id, int64_t delta,
                     int64_t fee_delta, const char *action, json_t *details, struct kr_error *err)
{
    struct payments_receivable r;
    int rc = read_sums(conn, id, &r, err);
    if (rc == KR_OK && (r.status == PAYMENTS_CANCELLED || r.status == PAYMENTS_WRITTEN_OFF))
        rc = kr_error_set(err, KR_ERR_CONFLICT, "receivable %s is %s", r.kz,
                          payments_status_name(r.status));
    enum payments_status before = r.status;
    if (rc == KR_OK) {
        r.paid_cents += delta;
        r.fee_cents += fee_delta;
        r.status = status_for(r.amount_cents + r.fee_cents, r.paid_cents);
        rc = db_exec(conn,
                     "UPDATE payments_receivable SET paid_cents = $2, fee_cents = $3, "
                     "status = $4, updated_at = $5 WHERE id = $1",
                     DB_PARAMS(DB_INT(id), DB_INT(r.paid_cents), DB_INT(r.fee_cents),
                               DB_TEXT(payments_status_name(r.status)), DB_INT(kr_now())),
                     NULL, err);
    }
    if (rc == KR_OK) {
        json_object_set_new(details, "kz", json_string(r.kz));
        json_object_set_new(details, "status", json_string(payments_status_name(r.status)));
        json_object_set_new(details, "paid_cents", json_integer(r.paid_cents));
        rc = payments_audit(conn, actor, action, id, json_incref(details), err);
    }
    if (rc == KR_OK && settled(r.status) && !settled(before))
        rc = settle(conn, id, err);
    json_decref(details);
    return rc;
}

static int book_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct book_args *b = arg;
    int rc = db_exec(conn,
                     "INSERT INTO payments_booking (receivable_id, amount_cents, source, entry_id, "
                     "note, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                     DB_PARAMS(DB_INT(b->id), DB_INT(b->amount), DB_TEXT(b->source),
                               b->entry_id ? DB_INT(b->entry_id) : DB_NULL,
                               b->note ? DB_TEXT(b->note) : DB_NULL, DB_TEXT(b->actor),
                               DB_INT(kr_now())),
                     NULL, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such receivable");
    if (rc)
        return rc;
    json_t *d = json_pack("{s:I, s:s}", "amount_cents", (json_int_t)b->amount, "source", b->source);
    if (b->entry_id)
        json_object_set_new(d, "entry_id", json_integer(b->entry_id));
    return apply_sum(conn, b->actor, b->id, b->amount, 0, "payments.book", d, err);
}

int payments_book(struct db_conn *conn, const char *actor, int64_t receivable_id,
                  int64_t amount_cents, const char *source, int64_t entry_id, const char *note,
                  struct kr_error *err)
{
    static const char *const sources[] = {"statement", "manual", "provider", "reversal"};
    bool known = false;
    for (size_t i = 0; source && i < KR_ARRAY_LEN(sources); i++)
        known |= strcmp(source, sources[i]) == 0;
    if (!known)
        return kr_error_set(err, KR_ERR_INVALID, "source: unknown");
    if (amount_cents == 0 || amount_cents > PAYMENTS_AMOUNT_MAX ||
        amount_cents < -PAYMENTS_AMOUNT_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "amount: 0.01 to 999999999.99 EUR");
    if (note && check_text("note", note, PAYMENTS_REASON_MAX, err))
        return KR_ERR_INVALID;
    struct book_args b = {actor, receivable_id, amount_cents, entry_id, source, note};
    return db_transact(conn, book_tx, &b, err);
}

static void read_booking(struct db_stmt *st, struct arena *a, void *row)
{
    struct payments_booking *b = row;
    b->id = db_column_int64(st, 0);
    b->receivable_id = db_column_int64(st, 1);
    b->amount_cents = db_column_int64(st, 2);
    b->entry_id = db_column_int64(st, 3);
    b->created_at = db_column_int64(st, 4);
    b->source = db_column_strdup(st, 5, a);
    b->note = db_column_strdup(st, 6, a);
    b->actor = db_column_strdup(st, 7, a);
}

int payments_bookings_list(struct db_conn *conn, struct arena *a, int64_t receivable_id,
                           struct payments_booking **out, size_t *count, struct kr_error *err)
{
    void *rows;
    int rc = payments_query_rows(
        conn, a,
        "SELECT id, receivable_id, amount_cents, entry_id, created_at, source, note, "
        "actor FROM payments_booking WHERE receivable_id = $1 ORDER BY id LIMIT 1000",
        DB_PARAMS(DB_INT(receivable_id)), sizeof(**out), read_booking, &rows, count, err);
    if (rc == KR_OK)
        *out = rows;
    return rc;
}

struct close_args {
    const char *actor;
    int64_t id;
    bool cancel;
    const char *reason;
};

static int close_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct close_args *c = arg;
    const char *to = c->cancel ? "cancelled" : "written_off";
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE payments_receivable SET status = $2, reason = $3, updated_at = $4 "
                     "WHERE id = $1 AND status IN ('open', 'partly_paid')",
                     DB_PARAMS(DB_INT(c->id), DB_TEXT(to), DB_TEXT(c->reason), DB_INT(kr_now())),
                     &changed, err);
    if (rc)
        return rc;
    if (changed == 0) {
        int64_t exists;
        rc = db_query_int64(conn, "SELECT id FROM payments_receivable WHERE id = $1",
                            DB_PARAMS(DB_INT(c->id)), &exists, err);
        if (rc)
            return rc == KR_ERR_NOT_FOUND ? kr_error_set(err, rc, "no such receivable") : rc;
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "only open or partly paid receivables can be closed");
    }
    return payments_audit(conn, c->actor, c->cancel ? "payments.cancel" : "payments.write_off",
                          c->id, json_pack("{s:s}", "reason", c->reason), err);
}

int payments_receivable_close(struct db_conn *conn, const char *actor, int64_t id, bool cancel,
                              const char *reason, struct kr_error *err)
{
    int rc = check_text("reason", reason, PAYMENTS_REASON_MAX, err);
    if (rc)
        return rc;
    struct close_args c = {actor, id, cancel, reason};
    return db_transact(conn, close_tx, &c, err);
}

struct remind_args {
    const char *actor;
    int64_t id, fee;
};

static int remind_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct remind_args *m = arg;
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE payments_receivable SET reminders = reminders + 1, reminded_at = $2 "
                     "WHERE id = $1 AND status IN ('open', 'partly_paid')",
                     DB_PARAMS(DB_INT(m->id), DB_INT(kr_now())), &changed, err);
    if (rc)
        return rc;
    if (changed == 0)
        return kr_error_set(err, KR_ERR_CONFLICT, "only open receivables get reminders");
    return apply_sum(conn, m->actor, m->id, 0, m->fee, "payments.remind",
                     json_pack("{s:I}", "fee_cents", (json_int_t)m->fee), err);
}

int payments_remind(struct db_conn *conn, const char *actor, int64_t id, int64_t fee_cents,
                    struct kr_error *err)
{
    if (fee_cents < 0 || fee_cents > 100000)
        return kr_error_set(err, KR_ERR_INVALID, "reminder fee: 0 to 1000.00 EUR");
    struct remind_args m = {actor, id, fee_cents};
    return db_transact(conn, remind_tx, &m, err);
}
