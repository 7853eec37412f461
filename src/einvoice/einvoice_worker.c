/*
 * einvoice_worker.c - the directory intake, the deadlines and their
 * escalation, and the thread of `serve` that runs both (see
 * einvoice_worker.h).
 *
 * Deadlines are data (einvoice_deadline): the thread only polls, so a
 * restart loses nothing, and the conditional UPDATE of escalated_at makes
 * each escalation happen once even when several processes poll.
 */
#include "einvoice/einvoice_worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "core/log.h"
#include "core/util.h"
#include "einvoice/einvoice_store.h"
#include "mail/mail.h"

/* The statuses of invoices that wait for release, as SQL. */
#define WAITING "('formally_valid', 'factually_correct', 'arithmetically_correct')"

/* ---- Directory intake ------------------------------------------------------------- */

struct intake {
    struct db_conn *conn;
    struct einvoice_validator *v;
};

static enum kr_dropdir_outcome take_file(void *ctx, const char *name, const char *data, size_t len,
                                         struct buf *note)
{
    struct intake *x = ctx;
    struct arena *a = arena_new(0);
    struct einvoice_received got = {0};
    struct kr_error err;
    kr_error_clear(&err);
    int rc = a ? einvoice_receive(x->conn, x->v, a, "system", "directory", data, len, &got, &err)
               : kr_error_set(&err, KR_ERR_NOMEM, "out of memory");
    enum kr_dropdir_outcome out = KR_DROPDIR_FAILED;
    if (rc == KR_OK && strcmp(got.status, "rejected") == 0) {
        buf_printf(
            note,
            "Gespeichert als Rechnung #%lld, nach den Regeln abgelehnt (der Rechnungssteller "
            "wurde benachrichtigt, falls eine Adresse angegeben ist).\n"
            "Stored as invoice #%lld, rejected by the rules: %s",
            (long long)got.id, (long long)got.id,
            got.report && got.report->reason ? got.report->reason : "-");
        out = KR_DROPDIR_DONE;
    } else if (rc == KR_OK) {
        buf_printf(note,
                   "Gespeichert als Rechnung #%lld (formal gültig).\n"
                   "Stored as invoice #%lld (formally valid).",
                   (long long)got.id, (long long)got.id);
        out = KR_DROPDIR_DONE;
    } else if (rc == KR_ERR_CONFLICT) {
        buf_printf(note, "Duplikat von Rechnung #%lld, nicht gespeichert.\n%s", (long long)got.id,
                   err.message);
    } else if (rc == KR_ERR_INVALID) {
        buf_printf(note, "Keine lesbare Rechnung, nicht gespeichert.\n%s", err.message);
    } else {
        out = KR_DROPDIR_KEEP; /* the database: try again at the next scan */
    }
    if (out == KR_DROPDIR_KEEP)
        kr_log(KR_LOG_ERROR, "einvoice_intake_retry", "%s: %s (kept for the next scan)", name,
               err.message);
    else
        kr_log(KR_LOG_INFO, "einvoice_intake", "%s: %s%s%lld", name,
               out == KR_DROPDIR_DONE ? "stored" : "failed",
               rc == KR_ERR_CONFLICT ? ", duplicate of #" : " #", (long long)got.id);
    arena_free(a);
    return out;
}

int einvoice_intake_scan(struct db_conn *conn, struct einvoice_validator *v, struct kr_dropdir *d,
                         struct kr_dropdir_counts *counts, struct kr_error *err)
{
    struct intake x = {conn, v};
    return kr_dropdir_scan(d, take_file, &x, counts, err);
}

/* ---- Days ------------------------------------------------------------------------- */

/* "YYYY-MM-DD" of the calendar day y-m-d plus days. */
static bool day_format(int y, int m, int d, int plus, char out[11])
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d + plus, .tm_hour = 12};
    time_t t = timegm(&tm);
    return gmtime_r(&t, &tm) && strftime(out, 11, "%Y-%m-%d", &tm) == 10;
}

/* A day as the invoice writes it ("2026-11-05", "20261105") plus days. */
static bool invoice_day(const char *written, int plus, char out[11])
{
    char shown[16];
    int y, m, d;
    if (!written || !einvoice_day_text(written, shown) ||
        sscanf(shown, "%2d.%2d.%4d", &d, &m, &y) != 3)
        return false;
    return day_format(y, m, d, plus, out);
}

/* The local day (TZ) of Unix time now, plus days. */
static bool local_day(int64_t now, int plus, char out[11])
{
    time_t t = (time_t)now;
    struct tm tm;
    return localtime_r(&t, &tm) &&
           day_format(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, plus, out);
}

/* "2026-11-19" as "19.11.2026". */
static void day_text(const char *day, char out[16])
{
    if (!einvoice_day_text(day, out))
        (void)snprintf(out, 16, "%s", day);
}

/* ---- Computing the deadlines ----------------------------------------------------- */

static int deadline_add(struct db_conn *conn, int64_t id, const char *kind, const char *day,
                        const char *detail, struct kr_error *err)
{
    return db_exec(conn,
                   "INSERT INTO einvoice_deadline (invoice_id, kind, due_day, detail) "
                   "VALUES ($1, $2, $3, $4) ON CONFLICT (invoice_id, kind, due_day) DO NOTHING",
                   DB_PARAMS(DB_INT(id), DB_TEXT(kind), DB_TEXT(day), DB_TEXT(detail)), NULL, err);
}

/* The Skonto deadlines of the invoice page (einvoice_view's "skonto"). */
static int skonto_add(struct db_conn *conn, struct arena *a, const struct einvoice_record *r,
                      struct kr_error *err)
{
    json_t *view = NULL;
    struct kr_error verr;
    if (einvoice_view(a, r->document, r->document_len, &view, &verr) != KR_OK)
        return KR_OK; /* stored, so it was readable; nothing to add if not */
    json_t *list = json_object_get(view, "skonto"), *e;
    size_t i;
    int rc = KR_OK;
    json_array_foreach(list, i, e)
    {
        const char *until = json_string_value(json_object_get(e, "until"));
        const char *pct = json_string_value(json_object_get(e, "percent"));
        const char *amount = json_string_value(json_object_get(e, "discount"));
        char *detail = arena_printf(a, "%s %% = %s", pct ? pct : "?", amount ? amount : "?");
        if (rc == KR_OK && until)
            rc = deadline_add(conn, r->id, "skonto", until, detail, err);
    }
    json_decref(view);
    return rc;
}

struct compute_tx {
    const struct kr_config *cfg;
    int64_t id, now;
};

static int compute_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct compute_tx *x = arg;
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE einvoice_invoice SET deadlines_at = $1 WHERE id = $2 AND "
                     "deadlines_at IS NULL",
                     DB_PARAMS(DB_INT(x->now), DB_INT(x->id)), &changed, err);
    if (rc || changed != 1)
        return rc; /* another process was faster */
    struct arena *a = arena_new(0);
    struct einvoice_record r;
    rc = a ? einvoice_get(conn, a, x->id, true, &r, err)
           : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char due[11];
    bool has_due =
        rc == KR_OK && (invoice_day(r.due_date, 0, due) ||
                        invoice_day(r.issue_date, (int)x->cfg->einvoice_payment_days, due));
    if (rc == KR_OK && has_due)
        rc = deadline_add(conn, x->id, "due", due, NULL, err);
    if (rc == KR_OK)
        rc = skonto_add(conn, a, &r, err);
    arena_free(a);
    return rc;
}

/* The deadlines of invoices waiting for release that have none yet, at
 * most 100 a call (the next call takes the rest). */
static int compute_new(struct db_conn *conn, const struct kr_config *cfg, int64_t now,
                       struct kr_error *err)
{
    int64_t ids[100];
    size_t n = 0;
    struct db_stmt *st;
    int rc =
        db_query(conn,
                 "SELECT id FROM einvoice_invoice WHERE deadlines_at IS NULL AND status IN " WAITING
                 " ORDER BY id LIMIT 100",
                 NULL, 0, &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW)
        ids[n++] = db_column_int64(st, 0);
    db_finish(st);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        struct compute_tx x = {cfg, ids[i], now};
        rc = db_transact(conn, compute_tx, &x, err);
    }
    return rc < 0 ? rc : KR_OK;
}

/* ---- Escalation ------------------------------------------------------------------- */

/* Who is told: the ordering unit's clerks and heads of unit, or the
 * administrators when the invoice has no unit (at most 50 addresses). */
static int recipients(struct db_conn *conn, struct arena *a, int64_t unit, const char ***out,
                      size_t *n, struct kr_error *err)
{
    *n = 0;
    const char **list = arena_calloc(a, 50, sizeof(*list));
    if (!list)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT DISTINCT u.email FROM account_user u JOIN account_role r ON "
                      "r.user_id = u.id WHERE u.kind = 'staff' AND u.disabled = 0 AND u.email IS "
                      "NOT NULL AND ((u.org_unit_id = $1 AND r.role IN ('clerk', 'head_of_unit')) "
                      "OR ($2 = 0 AND r.role = 'admin')) ORDER BY u.email LIMIT 50",
                      DB_PARAMS(DB_INT(unit), DB_INT(unit)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW)
        list[(*n)++] = db_column_strdup(st, 0, a);
    db_finish(st);
    *out = list;
    return rc < 0 ? rc : KR_OK;
}

struct deadline {
    int64_t invoice_id;
    char kind[8];
    char day[11];
};

/* The mail about deadline dl of invoice r: subject and text, German then
 * English. */
static void escalation_mail(struct arena *a, const struct kr_config *cfg,
                            const struct einvoice_record *r, const struct deadline *dl,
                            const char *detail, bool passed, const char **subject,
                            const char **text)
{
    char shown[16];
    day_text(dl->day, shown);
    const char *number = r->number ? r->number : "-";
    bool skonto = strcmp(dl->kind, "skonto") == 0;
    *subject = skonto ? arena_printf(a,
                                     "Rechnung %.80s: Skonto nur bis %s / cash discount "
                                     "deadline",
                                     number, shown)
                      : arena_printf(a, "Rechnung %.80s: %s %s / payment %s", number,
                                     passed ? "Zahlungsfrist überschritten seit" : "fällig am",
                                     shown, passed ? "overdue" : "due soon");
    const char *de = skonto   ? arena_printf(a, "Skonto (%s) gibt es nur bei Zahlung bis %s.",
                                           detail ? detail : "-", shown)
                     : passed ? arena_printf(a, "Die Zahlungsfrist ist am %s abgelaufen.", shown)
                              : arena_printf(a, "Die Rechnung ist am %s fällig.", shown);
    const char *en = skonto ? arena_printf(a, "The cash discount (%s) applies only if paid by %s.",
                                           detail ? detail : "-", dl->day)
                     : passed ? arena_printf(a, "It was due on %s.", dl->day)
                              : arena_printf(a, "It is due on %s.", dl->day);
    *text = arena_printf(
        a,
        "Guten Tag,\n\ndie Rechnung %s von %s über %s %s ist noch nicht zur Zahlung angeordnet.\n"
        "%s\n\n%s/verwaltung/rechnungen/%lld\n\n-- English --\n\n"
        "Invoice %s from %s (%s %s) is not released for payment yet. %s\n",
        number, r->seller_name ? r->seller_name : "-", r->amount_due ? r->amount_due : "-",
        r->currency ? r->currency : "", de ? de : "", cfg->public_url, (long long)r->id, number,
        r->seller_name ? r->seller_name : "-", r->amount_due ? r->amount_due : "-",
        r->currency ? r->currency : "", en ? en : "");
}

static int audit_escalation(struct db_conn *conn, const struct deadline *dl, bool passed,
                            size_t sent, struct kr_error *err)
{
    char id[24];
    (void)snprintf(id, sizeof(id), "%lld", (long long)dl->invoice_id);
    json_t *details = json_pack("{s:s, s:s, s:b, s:I}", "deadline", dl->kind, "day", dl->day,
                                "passed", passed, "recipients", (json_int_t)sent);
    struct audit_event ev = {"system", "einvoice.escalate", "einvoice", id, details};
    int rc = details ? audit_append(conn, &ev, NULL, err)
                     : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    json_decref(details);
    return rc;
}

struct escalate_tx {
    const struct kr_config *cfg;
    const struct deadline *dl;
    const char *today;
    int64_t now;
    bool done;
};

static int send_all(struct db_conn *conn, const struct kr_config *cfg, const char **to, size_t n,
                    const char *subject, const char *text, size_t *sent, struct kr_error *err)
{
    *sent = 0;
    for (size_t i = 0; i < n; i++) {
        struct mail_message m = {.to = to[i], .subject = subject, .text = text};
        struct kr_error merr;
        int rc = mail_enqueue_cfg(conn, cfg, &m, NULL, &merr);
        if (rc == KR_ERR_INVALID || rc == KR_ERR_TOO_LARGE) {
            kr_log(KR_LOG_WARN, "einvoice_escalation_mail", "not sent: %s", merr.message);
            continue;
        }
        if (rc) {
            *err = merr;
            return rc;
        }
        (*sent)++;
    }
    return KR_OK;
}

static int escalate_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct escalate_tx *x = arg;
    const struct deadline *dl = x->dl;
    int64_t changed = 0;
    int rc = db_exec(
        conn,
        "UPDATE einvoice_deadline SET escalated_at = $1 WHERE invoice_id = $2 AND "
        "kind = $3 AND due_day = $4 AND escalated_at IS NULL AND EXISTS (SELECT 1 "
        "FROM einvoice_invoice i WHERE i.id = $2 AND i.status IN " WAITING ")",
        DB_PARAMS(DB_INT(x->now), DB_INT(dl->invoice_id), DB_TEXT(dl->kind), DB_TEXT(dl->day)),
        &changed, err);
    x->done = rc == KR_OK && changed == 1;
    if (!x->done)
        return rc;
    struct arena *a = arena_new(0);
    struct einvoice_record r;
    rc = a ? einvoice_get(conn, a, dl->invoice_id, false, &r, err)
           : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char *detail = NULL;
    if (rc == KR_OK)
        rc = db_query_text(conn,
                           "SELECT detail FROM einvoice_deadline WHERE invoice_id = $1 AND "
                           "kind = $2 AND due_day = $3",
                           DB_PARAMS(DB_INT(dl->invoice_id), DB_TEXT(dl->kind), DB_TEXT(dl->day)),
                           a, &detail, err);
    const char **to = NULL;
    size_t n = 0, sent = 0;
    if (rc == KR_OK)
        rc = recipients(conn, a, r.org_unit_id, &to, &n, err);
    bool passed = strcmp(dl->day, x->today) < 0;
    const char *subject = NULL, *text = NULL;
    if (rc == KR_OK)
        escalation_mail(a, x->cfg, &r, dl, detail, passed, &subject, &text);
    if (rc == KR_OK && (!subject || !text))
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc == KR_OK)
        rc = send_all(conn, x->cfg, to, n, subject, text, &sent, err);
    if (rc == KR_OK && sent == 0)
        kr_log(KR_LOG_WARN, "einvoice_escalation_nobody",
               "invoice %lld: nobody to tell about the %s deadline %s", (long long)dl->invoice_id,
               dl->kind, dl->day);
    if (rc == KR_OK)
        rc = audit_escalation(conn, dl, passed, sent, err);
    arena_free(a);
    return rc;
}

/* The deadlines to escalate at now: due within warn_days or past (the
 * due date), within warn_days and not past (Skonto); at most 200. */
static int due_deadlines(struct db_conn *conn, const char *today, const char *until,
                         struct deadline *out, size_t *n, struct kr_error *err)
{
    *n = 0;
    struct db_stmt *st;
    int rc =
        db_query(conn,
                 "SELECT d.invoice_id, d.kind, d.due_day FROM einvoice_deadline d JOIN "
                 "einvoice_invoice i ON i.id = d.invoice_id WHERE d.escalated_at IS NULL AND "
                 "d.due_day <= $1 AND (d.kind = 'due' OR d.due_day >= $2) AND i.status IN " WAITING
                 " ORDER BY d.due_day, d.invoice_id LIMIT 200",
                 DB_PARAMS(DB_TEXT(until), DB_TEXT(today)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW) {
        struct deadline *dl = &out[(*n)++];
        dl->invoice_id = db_column_int64(st, 0);
        (void)snprintf(dl->kind, sizeof(dl->kind), "%s", db_column_text(st, 1));
        (void)snprintf(dl->day, sizeof(dl->day), "%s", db_column_text(st, 2));
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

int einvoice_check_deadlines(struct db_conn *conn, const struct kr_config *cfg, int64_t now,
                             unsigned *escalated, struct kr_error *err)
{
    if (escalated)
        *escalated = 0;
    char today[11], until[11];
    if (!local_day(now, 0, today) || !local_day(now, (int)cfg->einvoice_warn_days, until))
        return kr_error_set(err, KR_ERR_INVALID, "the time %lld is not a day", (long long)now);
    int rc = compute_new(conn, cfg, now, err);
    struct deadline *due = calloc(200, sizeof(*due));
    size_t n = 0;
    if (rc == KR_OK && !due)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc == KR_OK)
        rc = due_deadlines(conn, today, until, due, &n, err);
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        struct escalate_tx x = {cfg, &due[i], today, now, false};
        rc = db_transact(conn, escalate_tx, &x, err);
        if (rc == KR_OK && x.done && escalated)
            (*escalated)++;
    }
    free(due);
    return rc;
}

int einvoice_escalations(struct db_conn *conn, struct arena *a, size_t limit,
                         struct einvoice_escalation **out, size_t *n, struct kr_error *err)
{
    *n = 0;
    if (limit < 1 || limit > 1000)
        return kr_error_set(err, KR_ERR_INVALID, "list limit out of range");
    struct einvoice_escalation *list = arena_calloc(a, limit, sizeof(*list));
    if (!list)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT d.invoice_id, d.kind, d.due_day, d.detail, d.escalated_at FROM "
                      "einvoice_deadline d JOIN einvoice_invoice i ON i.id = d.invoice_id WHERE "
                      "d.escalated_at IS NOT NULL AND i.status IN " WAITING
                      " ORDER BY d.due_day, d.invoice_id LIMIT $1",
                      DB_PARAMS(DB_INT((int64_t)limit)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW) {
        struct einvoice_escalation *e = &list[(*n)++];
        e->invoice_id = db_column_int64(st, 0);
        e->kind = db_column_strdup(st, 1, a);
        e->day = db_column_strdup(st, 2, a);
        e->detail = db_column_strdup(st, 3, a);
        e->escalated_at = db_column_int64(st, 4);
    }
    db_finish(st);
    *out = list;
    return rc < 0 ? rc : KR_OK;
}

/* ---- The thread --------------------------------------------------------------------- */

struct einvoice_worker {
    const struct kr_config *cfg;
    struct db *pool;
    struct einvoice_validator *v;
    struct kr_dropdir *dir; /* NULL: no directory intake */
    int64_t (*now)(void);
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    bool stop;
};

static void run_once(struct einvoice_worker *w)
{
    struct kr_error err;
    kr_error_clear(&err);
    struct db_conn *conn = NULL;
    if (db_acquire(w->pool, &conn, &err) != KR_OK) {
        kr_log_error("einvoice_worker_no_db", &err);
        return;
    }
    struct kr_dropdir_counts c = {0};
    if (w->dir && einvoice_intake_scan(conn, w->v, w->dir, &c, &err) != KR_OK)
        kr_log_error("einvoice_intake_failed", &err);
    else if (c.done || c.failed || c.kept)
        kr_log(KR_LOG_INFO, "einvoice_intake_scan", "%u stored, %u failed, %u kept, %u waiting",
               c.done, c.failed, c.kept, c.waiting);
    unsigned n = 0;
    kr_error_clear(&err);
    if (einvoice_check_deadlines(conn, w->cfg, w->now ? w->now() : kr_now(), &n, &err) != KR_OK)
        kr_log_error("einvoice_deadlines_failed", &err);
    else if (n)
        kr_log(KR_LOG_INFO, "einvoice_escalated", "%u invoice deadlines escalated", n);
    db_release(conn);
}

static void *worker_main(void *arg)
{
    struct einvoice_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        pthread_mutex_unlock(&w->lock);
        run_once(w);
        pthread_mutex_lock(&w->lock);
        int64_t until = kr_monotonic_ns() + (int64_t)w->cfg->einvoice_intake_interval * 1000000000;
        struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
        while (!w->stop && kr_monotonic_ns() < until)
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int einvoice_worker_start(const struct kr_config *cfg, struct db *pool,
                          struct einvoice_validator *v, int64_t (*now)(void),
                          struct einvoice_worker **out, struct kr_error *err)
{
    *out = NULL;
    struct einvoice_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    *w = (struct einvoice_worker){.cfg = cfg, .pool = pool, .v = v, .now = now};
    int rc = KR_OK;
    if (cfg->einvoice_intake_dir[0]) {
        rc = kr_dropdir_open(cfg->einvoice_intake_dir, EINVOICE_MAX_SIZE, &w->dir, err);
        if (rc) {
            kr_error_prefix(err, "%s", "einvoice_intake_dir");
            free(w);
            return rc;
        }
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        kr_dropdir_free(w->dir);
        free(w);
        return kr_error_set(err, KR_ERR_INTERNAL, "cannot start the e-invoice worker");
    }
    *out = w;
    return KR_OK;
}

void einvoice_worker_stop(struct einvoice_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    kr_dropdir_free(w->dir);
    free(w);
}
