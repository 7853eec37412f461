/*
 * scheduler.c - deadlines and escalation, the built-in actions, and the
 * scheduler thread of the server.
 *
 * Deadlines are data (workflow_case.due_at): the thread only polls, so a
 * restart loses nothing, and the conditional UPDATE makes sure that a case
 * is escalated once even when several processes poll the same database.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/accounts.h"
#include "core/log.h"
#include "mail/mail.h"
#include "mailbox/mailbox.h"
#include "webhook/webhook.h"
#include "workflow/workflow_internal.h"

/* ---- Telling people ------------------------------------------------------------- */

int workflow_notify_heads(struct db_conn *conn, const struct kr_config *cfg, int64_t unit_id,
                          const char *number, const char *what, struct kr_error *err)
{
    cfg = workflow_config(cfg);
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT u.email FROM account_user u JOIN account_role r ON r.user_id = u.id "
                      "WHERE u.org_unit_id = $1 AND r.role = 'head_of_unit' AND u.disabled = 0 "
                      "AND u.email IS NOT NULL ORDER BY u.id LIMIT 20",
                      DB_PARAMS(DB_INT(unit_id)), &st, err);
    if (rc)
        return rc;
    char emails[20][256];
    size_t n = 0;
    while ((rc = db_step(st, err)) == DB_ROW)
        snprintf(emails[n++], sizeof(emails[0]), "%s", db_column_text(st, 0));
    db_finish(st);
    if (rc < 0)
        return rc;
    char text[1024];
    snprintf(text, sizeof(text),
             "Guten Tag,\n\nder Vorgang %s %s.\n%s/verwaltung/vorgaenge/%s\n\n"
             "-- English --\n\nCase %s: %s.\n",
             number, what, cfg->public_url, number, number, what);
    char subject[128];
    snprintf(subject, sizeof(subject), "Vorgang %s: Frist überschritten / overdue", number);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        struct mail_message m = {.to = emails[i], .subject = subject, .text = text};
        rc = mail_enqueue_cfg(conn, cfg, &m, NULL, err);
    }
    return rc < 0 ? rc : KR_OK;
}

/* A staff account of the unit to sign a mailbox message (the mailbox
 * needs a sender); 0 when the unit has nobody. */
static int64_t unit_sender(struct db_conn *conn, int64_t unit_id)
{
    int64_t id = 0;
    struct kr_error err;
    if (db_query_int64(conn,
                       "SELECT id FROM account_user WHERE org_unit_id = $1 AND kind = 'staff' "
                       "AND disabled = 0 ORDER BY id LIMIT 1",
                       DB_PARAMS(DB_INT(unit_id)), &id, &err) != KR_OK)
        return 0;
    return id;
}

int workflow_tell_applicant(struct db_conn *conn, const struct kr_config *cfg,
                            const struct workflow_case *c, int64_t sender_id, const char *subject,
                            const char *body, const struct mail_attachment *file,
                            struct kr_error *err)
{
    cfg = workflow_config(cfg);
    if (!body)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (c->applicant_id > 0) {
        if (sender_id <= 0)
            sender_id = unit_sender(conn, c->unit_id);
        if (sender_id <= 0) {
            kr_log(KR_LOG_WARN, "workflow_no_sender", "case %s: unit has no staff to sign",
                   c->number);
            return KR_OK;
        }
        struct mailbox_new m = {.account_id = c->applicant_id,
                                .sender_id = sender_id,
                                .unit_id = c->unit_id,
                                .subject = subject,
                                .body = body,
                                .case_ref = c->number};
        struct mailbox_file mf;
        if (file) {
            mf = (struct mailbox_file){file->filename, file->content_type, file->data, file->len};
            m.files = &mf;
            m.file_count = 1;
        }
        return mailbox_send(conn, cfg, &m, NULL, err);
    }
    if (!c->applicant_email)
        return KR_OK;
    struct mail_message m = {.to = c->applicant_email,
                             .subject = subject,
                             .text = body,
                             .attachments = file,
                             .attachment_count = file ? 1 : 0};
    return mail_enqueue_cfg(conn, cfg, &m, NULL, err);
}

/* ---- Built-in actions ------------------------------------------------------------- */

static int action_mailbox(const struct workflow_action_ctx *ctx, struct kr_error *err)
{
    const struct workflow_state *st = workflow_state_find(ctx->def, ctx->state);
    const char *url = workflow_config(ctx->cfg)->public_url;
    const char *link = ctx->c->applicant_id ? "/antraege" : "/antragsstatus";
    char *body = arena_printf(ctx->a,
                              "Guten Tag,\n\nIhr Antrag %s (%s) hat einen neuen Stand: %s.\n"
                              "Den Verlauf sehen Sie hier: %s%s\n\n-- English --\n\n"
                              "Your application %s has a new status: %s.\n%s%s\n",
                              ctx->c->number, ctx->def->title_de, st->public_de, url, link,
                              ctx->c->number, st->public_en, url, link);
    char *subject = arena_printf(ctx->a, "Antrag %s: %s", ctx->c->number, st->public_de);
    return workflow_tell_applicant(ctx->conn, ctx->cfg, ctx->c, ctx->actor_id, subject, body, NULL,
                                   err);
}

static int action_notify_unit(const struct workflow_action_ctx *ctx, struct kr_error *err)
{
    char *what = arena_printf(ctx->a, "ist im Stand \"%s\" / is in state \"%s\"",
                              workflow_state_find(ctx->def, ctx->state)->internal, ctx->state);
    return workflow_notify_heads(ctx->conn, ctx->cfg, ctx->c->unit_id, ctx->c->number,
                                 what ? what : "", err);
}

static int escalate(struct db_conn *conn, const struct kr_config *cfg,
                    const struct workflow_case *c, int64_t now, bool *done, struct kr_error *err)
{
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE workflow_case SET escalated_at = $1 WHERE id = $2 AND "
                     "escalated_at IS NULL AND closed_at IS NULL",
                     DB_PARAMS(DB_INT(now), DB_INT(c->id)), &changed, err);
    *done = rc == KR_OK && changed == 1;
    if (!*done)
        return rc;
    struct workflow_hist h = {
        .case_id = c->id, .at = now, .kind = "escalate", .to_state = c->state};
    rc = workflow_history_add(conn, &h, err);
    if (rc == KR_OK)
        rc = workflow_audit(conn, "system", "case.escalate", c->id,
                            json_pack("{s:s, s:s, s:I}", "number", c->number, "state", c->state,
                                      "due", (json_int_t)c->due_at),
                            err);
    if (rc == KR_OK)
        rc = workflow_notify_heads(conn, cfg, c->unit_id, c->number,
                                   "hat die Frist überschritten und ist eskaliert / is overdue "
                                   "and escalated",
                                   err);
    return rc;
}

static int action_escalate(const struct workflow_action_ctx *ctx, struct kr_error *err)
{
    bool done;
    return escalate(ctx->conn, ctx->cfg, ctx->c, workflow_now(), &done, err);
}

/* The case's new state and data to the state's URL, through the outbox:
 * queued in this transaction, POSTed by the webhook sender after commit. */
static int action_webhook(const struct workflow_action_ctx *ctx, struct kr_error *err)
{
    const struct workflow_state *st = workflow_state_find(ctx->def, ctx->state);
    const struct workflow_case *c = ctx->c;
    json_t *data = json_loads(c->data ? c->data : "{}", 0, NULL);
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s?, s:s?, s:I, s:I, s:o}",
        "event", "case.state", "case", c->number, "workflow", ctx->def->id, "form", ctx->def->form,
        "submission", c->submission_ref, "state", st->name, "public", st->public_de, "internal",
        st->internal, "from", ctx->from, "transition", ctx->transition, "actor",
        ctx->actor ? ctx->actor : "system", "reason", ctx->reason, "unit", c->unit_name, "version",
        (json_int_t)c->version, "at", (json_int_t)workflow_now(), "data",
        data ? data : json_object());
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct webhook_delivery d = {"workflow", c->number, "case.state", st->webhook, text};
    int rc = webhook_enqueue(ctx->conn, &d, NULL, err);
    free(text);
    return rc;
}

void workflow_builtin_actions(void)
{
    if (workflow_action_known("mailbox"))
        return;
    int rc = workflow_action_register("mailbox", action_mailbox);
    if (rc == KR_OK)
        rc = workflow_action_register("notify_unit", action_notify_unit);
    if (rc == KR_OK)
        rc = workflow_action_register("escalate", action_escalate);
    if (rc == KR_OK)
        rc = workflow_action_register("webhook", action_webhook);
    if (rc)
        kr_log(KR_LOG_ERROR, "workflow_actions", "cannot register the built-in actions");
}

/* ---- Deadlines -------------------------------------------------------------------- */

struct due_tx {
    const struct kr_config *cfg;
    int64_t id, now;
    bool done;
};

static int due_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct due_tx *x = arg;
    struct arena *a = arena_new(0);
    struct workflow_case c;
    int rc = a ? workflow_case_get(conn, a, x->id, &c, err) : KR_ERR_NOMEM;
    if (rc == KR_OK && c.due_at && c.due_at <= x->now)
        rc = escalate(conn, x->cfg, &c, x->now, &x->done, err);
    arena_free(a);
    return rc;
}

int workflow_check_deadlines(struct db_conn *conn, const struct kr_config *cfg, int64_t now,
                             unsigned *escalated, struct kr_error *err)
{
    int64_t ids[200];
    size_t n = 0;
    struct db_stmt *st;
    if (escalated)
        *escalated = 0;
    int rc = db_query(conn,
                      "SELECT id FROM workflow_case WHERE due_at IS NOT NULL AND due_at <= $1 "
                      "AND escalated_at IS NULL AND closed_at IS NULL ORDER BY due_at LIMIT 200",
                      DB_PARAMS(DB_INT(now)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW)
        ids[n++] = db_column_int64(st, 0);
    db_finish(st);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        struct due_tx x = {cfg, ids[i], now, false};
        rc = db_transact(conn, due_tx, &x, err);
        if (rc == KR_OK && x.done && escalated)
            (*escalated)++;
    }
    return rc < 0 ? rc : KR_OK;
}

/* ---- The thread --------------------------------------------------------------------- */

struct workflow_scheduler {
    const struct kr_config *cfg;
    struct db *pool;
    unsigned interval;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

static void run_once(struct workflow_scheduler *s)
{
    struct kr_error err;
    kr_error_clear(&err);
    struct db_conn *conn;
    unsigned n = 0;
    int rc = db_acquire(s->pool, &conn, &err);
    if (rc == KR_OK) {
        rc = workflow_check_deadlines(conn, s->cfg, workflow_now(), &n, &err);
        db_release(conn);
    }
    if (rc)
        kr_log_error("workflow_deadlines_failed", &err);
    else if (n)
        kr_log(KR_LOG_INFO, "workflow_escalated", "%u overdue cases escalated", n);
}

static void *scheduler_main(void *arg)
{
    struct workflow_scheduler *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        run_once(s);
        pthread_mutex_lock(&s->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->interval;
        while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int workflow_scheduler_start(const struct kr_config *cfg, struct db *pool, unsigned interval,
                             struct workflow_scheduler **out, struct kr_error *err)
{
    struct workflow_scheduler *s = calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    s->pool = pool;
    s->interval = interval ? interval : 60;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return kr_error_set(err, KR_ERR_INTERNAL, "cannot start the workflow scheduler");
    }
    *out = s;
    return KR_OK;
}

void workflow_scheduler_stop(struct workflow_scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
