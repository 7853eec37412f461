/*
 * cases.c - reading cases: one case, its history, the inbox, the
 * applicant's list and the anonymous status lookup; the back-channel
 * (document requests and uploads).
 *
 * Names of assignees and units are read with a join on the accounts
 * tables (read-only); accounts.h has no batch lookup for lists yet.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "core/util.h"
#include "workflow/workflow_internal.h"

void workflow_secret_hash(const char *secret, char out[65]);

#define CASE_COLUMNS                                                                               \
    "c.id, c.number, c.workflow, c.state, c.version, c.unit_id, u.name, c.applicant_id, "          \
    "c.applicant_email, c.submission_ref, c.data, c.assignee_id, a.display_name, c.created_at, "   \
    "c.state_entered_at, c.due_at, c.escalated_at, c.closed_at "                                   \
    "FROM workflow_case c JOIN account_org_unit u ON u.id = c.unit_id "                            \
    "LEFT JOIN account_user a ON a.id = c.assignee_id "

static void read_case(struct db_stmt *st, struct arena *a, struct workflow_case *c)
{
    c->id = db_column_int64(st, 0);
    c->number = db_column_strdup(st, 1, a);
    c->workflow = db_column_strdup(st, 2, a);
    c->state = db_column_strdup(st, 3, a);
    c->version = db_column_int64(st, 4);
    c->unit_id = db_column_int64(st, 5);
    c->unit_name = db_column_strdup(st, 6, a);
    c->applicant_id = db_column_int64(st, 7);
    c->applicant_email = db_column_strdup(st, 8, a);
    c->submission_ref = db_column_strdup(st, 9, a);
    c->data = db_column_strdup(st, 10, a);
    c->assignee_id = db_column_int64(st, 11);
    c->assignee_name = db_column_strdup(st, 12, a);
    c->created_at = db_column_int64(st, 13);
    c->state_entered_at = db_column_int64(st, 14);
    c->due_at = db_column_int64(st, 15);
    c->escalated_at = db_column_int64(st, 16);
    c->closed_at = db_column_int64(st, 17);
}

static int one_case(struct db_conn *conn, struct arena *a, const char *sql,
                    const struct db_param *p, size_t n, struct workflow_case *out,
                    struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, sql, p, n, &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW)
        read_case(st, a, out);
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
    if (rc == DB_ROW && !out->data)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return rc < 0 ? rc : KR_OK;
}

int workflow_case_get(struct db_conn *conn, struct arena *a, int64_t id, struct workflow_case *out,
                      struct kr_error *err)
{
    return one_case(conn, a, "SELECT " CASE_COLUMNS "WHERE c.id = $1", DB_PARAMS(DB_INT(id)), out,
                    err);
}

int workflow_case_by_number(struct db_conn *conn, struct arena *a, const char *number,
                            struct workflow_case *out, struct kr_error *err)
{
    if (!number || strlen(number) >= WORKFLOW_NUMBER_LEN)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
    return one_case(conn, a, "SELECT " CASE_COLUMNS "WHERE c.number = $1",
                    DB_PARAMS(DB_TEXT(number)), out, err);
}

static int list_cases(struct db_conn *conn, struct arena *a, const char *sql,
                      const struct db_param *p, size_t n, struct workflow_case **out, size_t *count,
                      struct kr_error *err)
{
    struct db_stmt *st;
    size_t cap = 16;
    *count = 0;
    *out = arena_calloc(a, cap, sizeof(**out));
    int rc = *out ? db_query(conn, sql, p, n, &st, err) : KR_ERR_NOMEM;
    if (rc)
        return rc == KR_ERR_NOMEM ? kr_error_set(err, rc, "out of memory") : rc;
    while ((rc = db_step(st, err)) == DB_ROW) {
        if (*count == cap) {
            struct workflow_case *bigger = arena_calloc(a, cap * 2, sizeof(**out));
            if (!bigger) {
                rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
                break;
            }
            memcpy(bigger, *out, cap * sizeof(**out));
            *out = bigger;
            cap *= 2;
        }
        read_case(st, a, &(*out)[(*count)++]);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

int workflow_inbox(struct db_conn *conn, struct arena *a, const struct workflow_filter *f,
                   struct workflow_case **out, size_t *count, struct kr_error *err)
{
    unsigned limit = f->limit ? f->limit : 100;
    if (limit > 500)
        limit = 500;
    return list_cases(
        conn, a,
        "SELECT " CASE_COLUMNS "WHERE ($1 = 0 OR c.unit_id = $1) AND ($2 = '' OR c.state = $2) "
        "AND ($3 = '' OR c.workflow = $3) AND ($4 = 0 OR ($4 = -1 AND c.assignee_id IS NULL) OR "
        "c.assignee_id = $4) AND ($5 = 0 OR c.escalated_at IS NOT NULL OR "
        "(c.due_at IS NOT NULL AND c.due_at <= $8 AND c.closed_at IS NULL)) "
        "AND ($6 = 0 OR c.closed_at IS NULL) "
        "ORDER BY CASE WHEN c.due_at IS NULL THEN 1 ELSE 0 END, c.due_at, c.id "
        "LIMIT $7 OFFSET $9",
        DB_PARAMS(DB_INT(f->unit_id), DB_TEXT(f->state ? f->state : ""),
                  DB_TEXT(f->workflow ? f->workflow : ""), DB_INT(f->assignee_id),
                  DB_INT(f->overdue_only), DB_INT(f->open_only), DB_INT(limit),
                  DB_INT(workflow_now()), DB_INT(f->offset)),
        out, count, err);
}

int workflow_applicant_cases(struct db_conn *conn, struct arena *a, int64_t applicant_id,
                             struct workflow_case **out, size_t *count, struct kr_error *err)
{
    return list_cases(conn, a,
                      "SELECT " CASE_COLUMNS "WHERE c.applicant_id = $1 ORDER BY c.id DESC "
                      "LIMIT 200",
                      DB_PARAMS(DB_INT(applicant_id)), out, count, err);
}

int workflow_status_lookup(struct db_conn *conn, struct arena *a, const char *number,
                           const char *secret, struct workflow_case *out, struct kr_error *err)
{
    char want[65];
    if (!secret || strlen(secret) > 64)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no case with this number and secret");
    workflow_secret_hash(secret, want);
    char *stored = NULL;
    int rc = KR_ERR_NOT_FOUND;
    if (number && strlen(number) < WORKFLOW_NUMBER_LEN)
        rc = db_query_text(conn, "SELECT secret_hash FROM workflow_case WHERE number = $1",
                           DB_PARAMS(DB_TEXT(number)), a, &stored, err);
    bool ok = rc == KR_OK && stored && strlen(stored) == 64 && kr_secure_equal(stored, want, 64);
    if (rc != KR_OK && rc != KR_ERR_NOT_FOUND)
        return rc;
    if (!ok)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no case with this number and secret");
    return workflow_case_by_number(conn, a, number, out, err);
}

/* ---- History ---------------------------------------------------------------------- */

static void label_event(struct workflow_event *e, const struct workflow_def *def, const char *lang)
{
    const struct workflow_state *st = workflow_state_find(def, e->to_state);
    if (!st)
        return;
    e->public_label = strcmp(lang, "en") == 0 ? st->public_en : st->public_de;
    e->internal_label = st->internal;
}

int workflow_history(struct db_conn *conn, struct arena *a, const struct workflow_case *c,
                     bool public_only, const char *lang, struct workflow_event **out, size_t *count,
                     struct kr_error *err)
{
    const struct workflow_def *def = workflow_find(c->workflow);
    struct db_stmt *st;
    int64_t n = 0;
    int rc = db_query_int64(conn, "SELECT COUNT(*) FROM workflow_history WHERE case_id = $1",
                            DB_PARAMS(DB_INT(c->id)), &n, err);
    *count = 0;
    *out = rc ? NULL : arena_calloc(a, (size_t)n + 1, sizeof(**out));
    if (rc == KR_OK && !*out)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc == KR_OK)
        rc = db_query(conn,
                      "SELECT h.at, h.kind, a.display_name, h.from_state, h.to_state, "
                      "h.transition, h.text, h.public FROM workflow_history h "
                      "LEFT JOIN account_user a ON a.id = h.actor_id "
                      "WHERE h.case_id = $1 AND ($2 = 0 OR h.public = 1) ORDER BY h.id",
                      DB_PARAMS(DB_INT(c->id), DB_INT(public_only)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW && *count <= (size_t)n) {
        struct workflow_event *e = &(*out)[(*count)++];
        e->at = db_column_int64(st, 0);
        e->kind = db_column_strdup(st, 1, a);
        e->public = db_column_int64(st, 7) != 0;
        e->from_state = db_column_strdup(st, 3, a);
        e->to_state = db_column_strdup(st, 4, a);
        bool request = e->kind && strcmp(e->kind, "request") == 0;
        if (!public_only || request)
            e->text = db_column_strdup(st, 6, a);
        if (!public_only) {
            e->actor_name = db_column_strdup(st, 2, a);
            e->transition = db_column_strdup(st, 5, a);
        }
        label_event(e, def, lang);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

/* ---- Back-channel ------------------------------------------------------------------ */

struct request_tx {
    const struct kr_config *cfg;
    int64_t case_id;
    const struct workflow_actor *who;
    const char *text;
    const struct workflow_upload *up;
};

static int request_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct request_tx *x = arg;
    struct arena *a = arena_new(0);
    struct workflow_case c;
    int rc = a ? workflow_case_get(conn, a, x->case_id, &c, err) : KR_ERR_NOMEM;
    if (rc == KR_OK && !workflow_may_view(x->who, &c))
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
    if (rc == KR_OK && c.closed_at)
        rc = kr_error_set(err, KR_ERR_CONFLICT, "case %s is closed", c.number);
    int64_t now = workflow_now();
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "INSERT INTO workflow_request (case_id, text, created_at) "
                     "VALUES ($1, $2, $3)",
                     DB_PARAMS(DB_INT(c.id), DB_TEXT(x->text), DB_INT(now)), NULL, err);
    struct workflow_hist h = {.case_id = c.id,
                              .at = now,
                              .actor_id = x->who->id,
                              .kind = "request",
                              .text = x->text,
                              .public = true};
    if (rc == KR_OK)
        rc = workflow_history_add(conn, &h, err);
    char *body = a ? arena_printf(a,
                                  "Guten Tag,\n\nfür Ihren Antrag %s benötigen wir noch folgende "
                                  "Unterlagen:\n\n%s\n\nBitte laden Sie diese hier hoch:\n"
                                  "%s/antraege/%s/nachreichen\n",
                                  c.number, x->text, workflow_config(x->cfg)->public_url, c.number)
                   : NULL;
    if (rc == KR_OK)
        rc = workflow_tell_applicant(conn, x->cfg, &c, x->who->id,
                                     "Unterlagen nachreichen / Documents missing", body, NULL, err);
    char actor[32];
    workflow_actor_name(x->who->id, actor);
    if (rc == KR_OK)
        rc = workflow_audit(conn, actor, "case.request_document", c.id,
                            json_pack("{s:s}", "number", c.number), err);
    arena_free(a);
    return rc;
}

int workflow_request_document(struct db_conn *conn, const struct kr_config *cfg, int64_t case_id,
                              const struct workflow_actor *who, const char *text,
                              struct kr_error *err)
{
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > WORKFLOW_TEXT_MAX || !text_utf8_valid(text, len))
        return kr_error_set(err, KR_ERR_INVALID, "text: 1 to %d bytes of text", WORKFLOW_TEXT_MAX);
    struct request_tx x = {cfg, case_id, who, text, NULL};
    return db_transact(conn, request_tx, &x, err);
}

static int upload_move_on(struct db_conn *conn, const struct kr_config *cfg,
                          const struct workflow_case *c, struct kr_error *err)
{
    const struct workflow_state *st = workflow_state_find(workflow_find(c->workflow), c->state);
    if (!st || !st->on_upload)
        return KR_OK;
    struct workflow_actor system = {0, 0, 0, false};
    return workflow_transition(conn, cfg, c->id, st->on_upload, c->version, &system,
                               "Unterlagen eingegangen", NULL, 0, NULL, err);
}

static workflow_document_fn document_hook;

static int upload_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct request_tx *x = arg;
    struct arena *a = arena_new(0);
    struct workflow_case c;
    int rc = a ? workflow_case_get(conn, a, x->case_id, &c, err) : KR_ERR_NOMEM;
    if (rc == KR_OK && c.closed_at)
        rc = kr_error_set(err, KR_ERR_CONFLICT, "case %s is closed", c.number);
    int64_t now = workflow_now();
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "INSERT INTO workflow_document (case_id, blob_hash, filename, content_type, "
                     "size, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6)",
                     DB_PARAMS(DB_INT(c.id), DB_TEXT(x->up->blob_hash), DB_TEXT(x->up->filename),
                               DB_TEXT(x->up->content_type), DB_INT(x->up->size), DB_INT(now)),
                     NULL, err);
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "UPDATE workflow_request SET fulfilled_at = $1 "
                     "WHERE case_id = $2 AND fulfilled_at IS NULL",
                     DB_PARAMS(DB_INT(now), DB_INT(c.id)), NULL, err);
    struct workflow_hist h = {
        .case_id = c.id, .at = now, .kind = "upload", .text = x->up->filename, .public = true};
    if (rc == KR_OK)
        rc = workflow_history_add(conn, &h, err);
    if (rc == KR_OK)
        rc = workflow_audit(conn, "applicant", "case.upload", c.id,
                            json_pack("{s:s, s:s, s:I}", "number", c.number, "blob",
                                      x->up->blob_hash, "size", (json_int_t)x->up->size),
                            err);
    if (rc == KR_OK && document_hook)
        rc = document_hook(conn, &c, x->up, err);
    if (rc == KR_OK)
        rc = upload_move_on(conn, x->cfg, &c, err);
    arena_free(a);
    return rc;
}

void workflow_on_document(workflow_document_fn fn)
{
    document_hook = fn;
}

int workflow_document_add(struct db_conn *conn, const struct kr_config *cfg, int64_t case_id,
                          const struct workflow_upload *up, struct kr_error *err)
{
    if (!up || !up->blob_hash || strlen(up->blob_hash) != 64 || !up->filename || !*up->filename ||
        strlen(up->filename) > 200 || !up->content_type)
        return kr_error_set(err, KR_ERR_INVALID, "file: missing or bad name");
    struct request_tx x = {cfg, case_id, NULL, NULL, up};
    return db_transact(conn, upload_tx, &x, err);
}

int workflow_open_requests(struct db_conn *conn, struct arena *a, int64_t case_id,
                           const char ***texts, size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    *count = 0;
    *texts = arena_calloc(a, 21, sizeof(char *));
    int rc = *texts ? db_query(conn,
                               "SELECT text FROM workflow_request WHERE case_id = $1 AND "
                               "fulfilled_at IS NULL ORDER BY id LIMIT 20",
                               DB_PARAMS(DB_INT(case_id)), &st, err)
                    : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW)
        (*texts)[(*count)++] = db_column_strdup(st, 0, a);
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

bool workflow_blob_referenced(struct db_conn *conn, const char *hash)
{
    int64_t n = 0;
    struct kr_error err;
    int rc = db_query_int64(conn, "SELECT COUNT(*) FROM workflow_document WHERE blob_hash = $1",
                            DB_PARAMS(DB_TEXT(hash)), &n, &err);
    return rc != KR_OK || n > 0; /* when in doubt, keep the blob */
}

/* ---- Demo ------------------------------------------------------------------------------ */

int workflow_seed_demo(struct db_conn *conn, const struct kr_config *cfg, int64_t applicant_id,
                       struct kr_error *err)
{
    static const struct {
        const char *workflow, *data;
    } demo[] = {
        {"kita-anmeldung", "{\"child\": \"Mia Mustermann\", \"birth_date\": \"2023-04-12\", "
                           "\"care\": \"full\", \"start\": \"2026-08-01\"}"},
        {"schuelerbefoerderung", "{\"pupil\": \"Paul Mustermann\", \"school\": \"Gymnasium "
                                 "Musterstadt\", \"distance_km\": 6}"},
        {"wunschkennzeichen", "{\"plate\": \"ML-EM 2026\"}"},
        {"fischereischein", "{\"exam_passed\": true, \"valid_years\": 5}"},
        {"bauantrag-vereinfacht", "{\"project\": \"Carport\", \"parcel\": \"Flur 3, Flurstück "
                                  "112/4\"}"},
    };
    (void)cfg;
    size_t opened = 0;
    for (size_t i = 0; i < sizeof(demo) / sizeof(demo[0]); i++) {
        if (!workflow_find(demo[i].workflow))
            continue;
        for (int anon = 0; anon < 2; anon++) {
            struct workflow_case_new in = {.workflow = demo[i].workflow,
                                           .applicant_id =
                                               anon || applicant_id == 0 ? 0 : applicant_id,
                                           .applicant_email = "erika.mustermann@musterland.example",
                                           .submission_ref = "DEMO",
                                           .data = demo[i].data,
                                           .actor = "cli:seed-demo"};
            int64_t id;
            char number[WORKFLOW_NUMBER_LEN], secret[WORKFLOW_SECRET_LEN];
            int rc = workflow_case_open(conn, &in, &id, number, secret, err);
            if (rc)
                return rc;
            opened++;
        }
    }
    return opened ? KR_OK : kr_error_set(err, KR_ERR_NOT_FOUND, "no demo workflows are loaded");
}

int workflow_case_log(struct db_conn *conn, int64_t case_id, const char *kind, const char *text,
                      bool public, struct kr_error *err)
{
    size_t n = kind ? strlen(kind) : 0;
    bool ok = n >= 1 && n <= 16;
    for (size_t i = 0; ok && i < n; i++)
        ok = (kind[i] >= 'a' && kind[i] <= 'z') || kind[i] == '_';
    if (!ok)
        return kr_error_set(err, KR_ERR_INVALID, "history kind: 1-16 of a-z and _");
    if (text && strlen(text) > WORKFLOW_TEXT_MAX)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "history text: at most %d bytes",
                            WORKFLOW_TEXT_MAX);
    struct workflow_hist h = {
        .case_id = case_id, .at = workflow_now(), .kind = kind, .text = text, .public = public};
    return workflow_history_add(conn, &h, err);
}
