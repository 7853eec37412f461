/*
 * workflow_http.c - the clerk's pages (/verwaltung/vorgaenge: inbox, case
 * page, actions, figures), the applicant's pages (/antraege, the anonymous
 * lookup /antragsstatus, the upload page /antraege/:number/nachreichen)
 * and the figures as JSON (/api/workflow/metrics).
 *
 * Every object access is authorised here and again in the domain
 * (workflow_may_view): staff see the cases of their own unit, admins all;
 * applicants only their own cases, and only public history entries.
 */
#include "workflow/workflow_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "core/util.h"
#include "efile/efile.h"
#include "http/http.h"
#include "workflow/workflow.h"

#define STAFF_ROLES (ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_HEAD_OF_UNIT | ACCOUNT_ROLE_ADMIN)

static const char *pick(struct http_request *req, const char *de, const char *en)
{
    return strcmp(http_lang(req), "en") == 0 && en ? en : de;
}

/* The staff member of the request, with the roles the engine needs. */
static int staff(struct http_request *req, struct workflow_actor *who, struct db_conn **conn,
                 struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    const struct account_user *u = http_user(req);
    if (strcmp(u->kind, "staff") != 0 || !(u->roles & STAFF_ROLES))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only clerks and heads of unit work cases");
    *who = (struct workflow_actor){u->id, u->roles, u->org_unit_id, false};
    return http_db(req, conn, err);
}

/* The case of the path, if who may see it (404 otherwise: no probing). */
static int staff_case(struct http_request *req, struct db_conn *conn,
                      const struct workflow_actor *who, struct workflow_case *c,
                      struct kr_error *err)
{
    int rc = workflow_case_by_number(conn, http_arena(req), http_param(req, "number"), c, err);
    if (rc == KR_OK && !workflow_may_view(who, c))
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
    return rc;
}

static json_t *case_json(struct http_request *req, const struct workflow_case *c, int64_t now)
{
    const struct workflow_def *def = workflow_find(c->workflow);
    const struct workflow_state *st = workflow_state_find(def, c->state);
    bool overdue = c->escalated_at || (c->due_at && c->due_at <= now && !c->closed_at);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s?, s:o, s:o, s:o, s:b, s:b, s:s?, s:I}",
                     "number", c->number, "workflow", c->workflow, "title",
                     def ? pick(req, def->title_de, def->title_en) : c->workflow, "state", c->state,
                     "state_label", st ? st->internal : c->state, "version", (json_int_t)c->version,
                     "assignee", c->assignee_name, "due", kr_json_time_local(c->due_at), "due_iso",
                     kr_json_time(c->due_at), "created", kr_json_time_local(c->created_at),
                     "overdue", overdue, "escalated", c->escalated_at != 0, "unit", c->unit_name,
                     "id", (json_int_t)c->id);
}

/* ---- Inbox ----------------------------------------------------------------------------- */

static int parse_filter(struct http_request *req, const struct workflow_actor *who,
                        struct workflow_filter *f, struct kr_error *err)
{
    *f = (struct workflow_filter){.unit_id = who->unit_id, .open_only = true};
    if (who->roles & ACCOUNT_ROLE_ADMIN)
        f->unit_id = 0;
    const char *state = http_query(req, "status"), *wf = http_query(req, "verfahren");
    const char *who_q = http_query(req, "zustaendig");
    f->state = state && *state ? state : NULL;
    f->workflow = wf && *wf ? wf : NULL;
    f->overdue_only = http_query(req, "ueberfaellig") != NULL;
    if (http_query(req, "alle"))
        f->open_only = false;
    if (!who_q || !*who_q || strcmp(who_q, "alle") == 0)
        return KR_OK;
    if (strcmp(who_q, "ich") == 0)
        f->assignee_id = who->id;
    else if (strcmp(who_q, "niemand") == 0)
        f->assignee_id = -1;
    else
        return kr_error_set(err, KR_ERR_INVALID, "zustaendig: alle, ich or niemand");
    return KR_OK;
}

static json_t *workflow_options(struct http_request *req, const char *selected)
{
    size_t n;
    const struct workflow_def *const *defs = workflow_list(&n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:b}", "id", defs[i]->id, "title",
                                        pick(req, defs[i]->title_de, defs[i]->title_en), "selected",
                                        selected && strcmp(selected, defs[i]->id) == 0));
    return arr;
}

/* ---- Paper intake ------------------------------------------------------------------------ */

struct paper_tx {
    const struct workflow_case_new *in;
    const struct workflow_actor *who;
    int64_t id;
    char number[WORKFLOW_NUMBER_LEN], secret[WORKFLOW_SECRET_LEN];
};

/* Open the case, but only in a procedure the clerk may work. */
static int paper_open(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct paper_tx *x = arg;
    int rc = workflow_case_open(conn, x->in, &x->id, x->number, x->secret, err);
    struct arena *a = arena_new(0);
    struct workflow_case c;
    if (rc == KR_OK)
        rc = a ? workflow_case_get(conn, a, x->id, &c, err)
               : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc == KR_OK && !workflow_may_view(x->who, &c))
        rc = kr_error_set(err, KR_ERR_FORBIDDEN, "this procedure belongs to another unit");
    arena_free(a);
    return rc;
}

/* The procedures of the clerk's own unit (every one for administrators). */
static json_t *paper_workflows(struct http_request *req, struct db_conn *conn,
                               const struct workflow_actor *who)
{
    json_t *all = workflow_options(req, http_form(req, "workflow")), *mine = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        const struct workflow_def *def = workflow_find(json_string_value(json_object_get(o, "id")));
        struct account_org_unit u;
        struct kr_error ignored;
        bool own =
            (who->roles & ACCOUNT_ROLE_ADMIN) ||
            (def && def->unit &&
             accounts_org_unit_find(conn, http_arena(req), def->unit, &u, &ignored) == KR_OK &&
             u.id == who->unit_id);
        if (own)
            json_array_append(mine, o);
    }
    json_decref(all);
    return mine;
}

static int paper_render(struct http_request *req, unsigned status, json_t *errors, json_t *done,
                        struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc == KR_OK)
        rc = http_session_ensure(req, err);
    if (rc) {
        json_decref(errors);
        json_decref(done);
        return rc;
    }
    const char *name = http_form(req, "name"), *email = http_form(req, "email");
    const char *note = http_form(req, "note");
    json_t *ctx =
        json_pack("{s:o, s:s, s:s, s:s, s:o, s:b, s:o?}", "workflows",
                  paper_workflows(req, conn, &who), "name", done || !name ? "" : name, "email",
                  done || !email ? "" : email, "note", done || !note ? "" : note, "errors",
                  errors ? errors : json_array(), "has_errors", errors != NULL, "done", done);
    return http_render(req, status, "workflow/new", ctx);
}

static int paper_form(struct http_request *req, struct kr_error *err)
{
    return paper_render(req, 200, NULL, NULL, err);
}

static json_t *field_error(struct http_request *req, const char *field, const char *key)
{
    return json_pack("[{s:s, s:s, s:b}]", "field", field, "message", http_message(req, key), "link",
                     1);
}

static int paper_submit(struct http_request *req, struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    const char *wf = http_form(req, "workflow"), *name = http_form(req, "name");
    const char *note = http_form(req, "note"), *email = http_form(req, "email");
    if (!wf || !workflow_find(wf))
        return paper_render(req, 422, field_error(req, "workflow", "workflow.new_bad_workflow"),
                            NULL, err);
    if (!name || !*name || strlen(name) > 200)
        return paper_render(req, 422, field_error(req, "name", "workflow.new_bad_name"), NULL, err);
    if (note && strlen(note) > WORKFLOW_TEXT_MAX)
        return paper_render(req, 422, field_error(req, "note", "workflow.new_bad_note"), NULL, err);
    json_t *data = json_pack("{s:s, s:s, s:s}", "applicant_name", name, "note", note ? note : "",
                             "channel", "paper");
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    char actor[32];
    snprintf(actor, sizeof(actor), "user:%" PRId64, who.id);
    struct workflow_case_new in = {
        .workflow = wf, .applicant_email = email ? email : "", .data = text, .actor = actor};
    struct paper_tx x = {&in, &who, 0, "", ""};
    rc = text ? db_transact(conn, paper_open, &x, err)
              : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    free(text);
    if (rc == KR_ERR_INVALID || rc == KR_ERR_FORBIDDEN) {
        json_t *e =
            json_pack("[{s:s, s:s, s:b}]", "field", rc == KR_ERR_INVALID ? "email" : "workflow",
                      "message", err->message, "link", 1);
        return paper_render(req, rc == KR_ERR_INVALID ? 422 : 403, e, NULL, err);
    }
    if (rc)
        return rc;
    return paper_render(req, 200, NULL,
                        json_pack("{s:s, s:s}", "number", x.number, "secret", x.secret), err);
}

static int inbox_render(struct http_request *req, unsigned status, json_t *errors,
                        struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    struct workflow_filter f;
    if (rc == KR_OK)
        rc = parse_filter(req, &who, &f, err);
    struct workflow_case *list = NULL;
    size_t n = 0;
    if (rc == KR_OK)
        rc = workflow_inbox(conn, http_arena(req), &f, &list, &n, err);
    if (rc == KR_OK)
        rc = http_session_ensure(req, err);
    if (rc) {
        json_decref(errors);
        return rc;
    }
    json_t *items = json_array();
    int64_t now = workflow_now();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, case_json(req, &list[i], now));
    json_t *ctx = json_pack(
        "{s:o, s:b, s:o, s:s?, s:b, s:b, s:b, s:b, s:o, s:b}", "cases", items, "has_cases", n > 0,
        "workflows", workflow_options(req, f.workflow), "state", f.state, "mine",
        f.assignee_id == who.id, "nobody", f.assignee_id == -1, "overdue", f.overdue_only, "lead",
        (who.roles & (ACCOUNT_ROLE_HEAD_OF_UNIT | ACCOUNT_ROLE_ADMIN)) != 0, "errors",
        errors ? errors : json_array(), "has_errors", errors && json_array_size(errors) > 0);
    return http_render(req, status, "workflow/inbox", ctx);
}

static int inbox_page(struct http_request *req, struct kr_error *err)
{
    return inbox_render(req, 200, NULL, err);
}

static json_t *error_list(const char *message)
{
    return json_pack("[{s:s, s:b}]", "message", message, "link", 0);
}

/* Claim every case ticked in the inbox ("case" fields hold numbers). */
static int bulk_claim(struct http_request *req, struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    const struct text_pairs *fields = http_form_fields(req);
    json_t *errors = json_array();
    size_t claimed = 0;
    for (size_t i = 0; fields && i < fields->count && claimed < 100; i++) {
        if (strcmp(fields->items[i].name, "case") != 0)
            continue;
        struct workflow_case c;
        struct kr_error e;
        kr_error_clear(&e);
        int r = workflow_case_by_number(conn, http_arena(req), fields->items[i].value, &c, &e);
        if (r == KR_OK)
            r = workflow_assign(conn, c.id, &who, 0, true, &e);
        if (r)
            json_array_append_new(errors, json_pack("{s:s, s:b}", "message", e.message, "link", 0));
        else
            claimed++;
    }
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return http_redirect(req, 303, "/verwaltung/vorgaenge?zustaendig=ich");
    }
    return inbox_render(req, 409, errors, err);
}

/* ---- Case page -------------------------------------------------------------------------- */

static json_t *data_json(const char *text)
{
    json_t *data = json_loads(text, 0, NULL), *rows = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(data, key, v)
    {
        char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        json_array_append_new(
            rows, json_pack("{s:s, s:s}", "key", key, "value", s ? s : json_string_value(v)));
        free(s);
    }
    json_decref(data);
    return rows;
}

static json_t *history_json(struct http_request *req, struct workflow_event *ev, size_t n,
                            bool internal)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *label = internal ? ev[i].internal_label : ev[i].public_label;
        json_t *o = json_pack("{s:o, s:o, s:s, s:s?, s:s?, s:s?, s:s?, s:b}", "at",
                              kr_json_time_local(ev[i].at), "at_iso", kr_json_time(ev[i].at),
                              "kind", ev[i].kind, "label", label, "actor", ev[i].actor_name, "text",
                              ev[i].text, "transition", ev[i].transition, "public", ev[i].public);
        json_object_set_new(o, "is_request", json_boolean(strcmp(ev[i].kind, "request") == 0));
        json_object_set_new(o, "is_upload", json_boolean(strcmp(ev[i].kind, "upload") == 0));
        json_object_set_new(o, "is_notice", json_boolean(strcmp(ev[i].kind, "notice") == 0));
        json_array_append_new(arr, o);
    }
    (void)req;
    return arr;
}

static json_t *transitions_json(struct http_request *req, const struct workflow_transition **t,
                                size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *fields = json_array();
        for (size_t k = 0; k < t[i]->field_count; k++)
            json_array_append_new(
                fields, json_pack("{s:s, s:s, s:b, s:s}", "name", t[i]->fields[k].name, "label",
                                  pick(req, t[i]->fields[k].label_de, t[i]->fields[k].label_en),
                                  "required", t[i]->fields[k].required, "transition", t[i]->name));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:b}", "name", t[i]->name, "label",
                                             pick(req, t[i]->label_de, t[i]->label_en), "fields",
                                             fields, "has_fields", t[i]->field_count > 0));
    }
    return arr;
}

static int case_render(struct http_request *req, unsigned status, const char *error,
                       struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    struct workflow_case c;
    struct arena *a = http_arena(req);
    int rc = staff(req, &who, &conn, err);
    if (rc == KR_OK)
        rc = staff_case(req, conn, &who, &c, err);
    struct workflow_event *ev = NULL;
    size_t nev = 0, nt = 0;
    const struct workflow_transition **t = NULL;
    if (rc == KR_OK)
        rc = workflow_history(conn, a, &c, false, http_lang(req), &ev, &nev, err);
    if (rc == KR_OK)
        rc = workflow_allowed(a, &c, &who, &t, &nt, err);
    if (rc == KR_OK)
        rc = http_session_ensure(req, err);
    if (rc)
        return rc;
    /* The case's e-file (documents, receipt, notices), when it has one. */
    int64_t file_id = 0, txn_id;
    struct kr_error ignored;
    if (efile_case_txn(conn, c.number, &file_id, &txn_id, &ignored) != KR_OK)
        file_id = 0;
    json_t *ctx = json_pack("{s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:b, s:o, s:b, s:I}", "case",
                            case_json(req, &c, workflow_now()), "data", data_json(c.data),
                            "history", history_json(req, ev, nev, true), "transitions",
                            transitions_json(req, t, nt), "has_transitions", nt > 0, "can_claim",
                            c.assignee_id == 0, "is_mine", c.assignee_id == who.id, "lead",
                            (who.roles & (ACCOUNT_ROLE_HEAD_OF_UNIT | ACCOUNT_ROLE_ADMIN)) != 0,
                            "errors", error ? error_list(error) : json_array(), "has_errors",
                            error != NULL, "efile", (json_int_t)file_id);
    return http_render(req, status, "workflow/case", ctx);
}

static int case_page(struct http_request *req, struct kr_error *err)
{
    return case_render(req, 200, NULL, err);
}

/* After a POST on a case: back to the page (303), or the page again with
 * the error for 4xx errors the clerk can act on. */
static int case_after(struct http_request *req, int rc, struct kr_error *err)
{
    if (rc == KR_OK) {
        char *loc = arena_printf(http_arena(req), "/verwaltung/vorgaenge/%s",
                                 text_percent_encode(http_arena(req), http_param(req, "number")));
        return loc ? http_redirect(req, 303, loc) : kr_error_set(err, KR_ERR_NOMEM, "oom");
    }
    unsigned status = http_status_for(rc);
    if (rc == KR_ERR_NOT_FOUND || status >= 500)
        return rc;
    char message[KR_ERROR_MESSAGE_MAX];
    snprintf(message, sizeof(message), "%s", err->message);
    kr_error_clear(err);
    return case_render(req, status, message, err);
}

static int case_transition(struct http_request *req, struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    struct workflow_case c;
    int rc = staff(req, &who, &conn, err);
    if (rc == KR_OK)
        rc = staff_case(req, conn, &who, &c, err);
    if (rc)
        return rc;
    int64_t version;
    if (kr_parse_int64(http_form(req, "version") ? http_form(req, "version") : "", 1, INT64_MAX,
                       &version) != KR_OK)
        return kr_error_set(err, KR_ERR_INVALID, "version: missing");
    const struct text_pairs *p = http_form_fields(req);
    struct workflow_value values[WORKFLOW_MAX_FIELDS];
    size_t nv = 0;
    for (size_t i = 0; p && i < p->count && nv < WORKFLOW_MAX_FIELDS; i++)
        if (strncmp(p->items[i].name, "f_", 2) == 0)
            values[nv++] = (struct workflow_value){p->items[i].name + 2, p->items[i].value};
    rc = workflow_transition(conn, http_config(req), c.id, http_form(req, "transition"), version,
                             &who, NULL, values, nv, NULL, err);
    return case_after(req, rc, err);
}

static int case_assign(struct http_request *req, struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    struct workflow_case c;
    int rc = staff(req, &who, &conn, err);
    if (rc == KR_OK)
        rc = staff_case(req, conn, &who, &c, err);
    if (rc)
        return rc;
    const char *to = http_form(req, "assignee");
    int64_t assignee = 0;
    bool claim = !to;
    if (to && *to && kr_parse_int64(to, 0, INT64_MAX, &assignee) != KR_OK)
        return case_after(req, kr_error_set(err, KR_ERR_INVALID, "assignee: not an account id"),
                          err);
    rc = workflow_assign(conn, c.id, &who, assignee, claim, err);
    return case_after(req, rc, err);
}

static int case_note(struct http_request *req, struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    struct workflow_case c;
    int rc = staff(req, &who, &conn, err);
    if (rc == KR_OK)
        rc = staff_case(req, conn, &who, &c, err);
    if (rc)
        return rc;
    rc = workflow_note_add(conn, c.id, &who, http_form(req, "note"), err);
    return case_after(req, rc, err);
}

static int case_request(struct http_request *req, struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    struct workflow_case c;
    int rc = staff(req, &who, &conn, err);
    if (rc == KR_OK)
        rc = staff_case(req, conn, &who, &c, err);
    if (rc)
        return rc;
    rc = workflow_request_document(conn, http_config(req), c.id, &who, http_form(req, "text"), err);
    return case_after(req, rc, err);
}

/* ---- Figures ---------------------------------------------------------------------------- */

static json_t *rows_json(const struct workflow_metric_row *r, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:I, s:I, s:I, s:I}", "key", r[i].key ? r[i].key : "", "count",
                           (json_int_t)r[i].count, "overdue", (json_int_t)r[i].overdue, "seconds",
                           (json_int_t)r[i].seconds, "avg_hours",
                           (json_int_t)(r[i].count ? r[i].seconds / r[i].count / 3600 : 0)));
    return arr;
}

static int metrics(struct http_request *req, bool api, struct kr_error *err)
{
    struct workflow_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc == KR_OK && !(who.roles & (ACCOUNT_ROLE_HEAD_OF_UNIT | ACCOUNT_ROLE_ADMIN)))
        rc = kr_error_set(err, KR_ERR_FORBIDDEN, "the figures are for heads of unit");
    struct workflow_metrics m;
    if (rc == KR_OK)
        rc = workflow_metrics_get(conn, http_arena(req),
                                  who.roles & ACCOUNT_ROLE_ADMIN ? 0 : who.unit_id, workflow_now(),
                                  &m, err);
    if (rc)
        return rc;
    json_t *body = json_pack("{s:o, s:o, s:o, s:o}", "per_workflow",
                             rows_json(m.per_workflow, m.per_workflow_count), "per_state",
                             rows_json(m.per_state, m.per_state_count), "per_unit",
                             rows_json(m.per_unit, m.per_unit_count), "per_week",
                             rows_json(m.per_week, m.per_week_count));
    return api ? http_json(req, 200, body) : http_render(req, 200, "workflow/metrics", body);
}

static int metrics_page(struct http_request *req, struct kr_error *err)
{
    return metrics(req, false, err);
}

static int metrics_api(struct http_request *req, struct kr_error *err)
{
    return metrics(req, true, err);
}

/* ---- Applicant ---------------------------------------------------------------------------- */

static json_t *public_case(struct http_request *req, struct db_conn *conn,
                           const struct workflow_case *c, struct kr_error *err)
{
    struct workflow_event *ev;
    size_t n;
    const char **requests;
    size_t nreq;
    if (workflow_history(conn, http_arena(req), c, true, http_lang(req), &ev, &n, err) ||
        workflow_open_requests(conn, http_arena(req), c->id, &requests, &nreq, err))
        return NULL;
    const struct workflow_def *def = workflow_find(c->workflow);
    const struct workflow_state *st = workflow_state_find(def, c->state);
    json_t *reqs = json_array();
    for (size_t i = 0; i < nreq; i++)
        json_array_append_new(reqs, json_string(requests[i]));
    /* The decisions that are the applicant's own (e.g. accepting a place). */
    struct workflow_actor me = {c->applicant_id, 0, 0, true};
    const struct workflow_transition **t = NULL;
    size_t nt = 0;
    if (c->applicant_id && workflow_allowed(http_arena(req), c, &me, &t, &nt, err))
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:o, s:b, s:I}", "number", c->number,
                     "title", def ? pick(req, def->title_de, def->title_en) : c->workflow, "state",
                     st ? pick(req, st->public_de, st->public_en) : "", "created",
                     kr_json_time_local(c->created_at), "timeline", history_json(req, ev, n, false),
                     "requests", reqs, "has_requests", nreq > 0, "actions",
                     transitions_json(req, t, nt), "has_actions", nt > 0, "version",
                     (json_int_t)c->version);
}

/* The account holder takes one of their own transitions (no fields). */
static int applicant_decide(struct http_request *req, struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    const struct account_user *u = http_user(req);
    if (strcmp(u->kind, "staff") == 0)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "applications belong to service accounts");
    struct db_conn *conn;
    struct workflow_case c;
    rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = workflow_case_by_number(conn, http_arena(req), http_param(req, "number"), &c, err);
    if (rc == KR_OK && c.applicant_id != u->id)
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
    int64_t version = 0;
    const char *v = http_form(req, "version");
    if (rc == KR_OK && kr_parse_int64(v ? v : "", 1, INT64_MAX, &version) != KR_OK)
        rc = kr_error_set(err, KR_ERR_INVALID, "version: missing");
    struct workflow_actor me = {u->id, 0, 0, true};
    if (rc == KR_OK)
        rc = workflow_transition(conn, http_config(req), c.id, http_form(req, "transition"),
                                 version, &me, NULL, NULL, 0, NULL, err);
    return rc ? rc : http_redirect(req, 303, "/antraege");
}

static int my_cases(struct http_request *req, struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    const struct account_user *u = http_user(req);
    if (strcmp(u->kind, "staff") == 0)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "applications belong to service accounts");
    struct db_conn *conn;
    struct workflow_case *list;
    size_t n;
    rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = workflow_applicant_cases(conn, http_arena(req), u->id, &list, &n, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = public_case(req, conn, &list[i], err);
        if (!o) {
            json_decref(items);
            return err->code ? err->code : KR_ERR_NOMEM;
        }
        json_array_append_new(items, o);
    }
    return http_render(req, 200, "workflow/my_cases",
                       json_pack("{s:o, s:b}", "cases", items, "has_cases", n > 0));
}

static int status_form(struct http_request *req, struct kr_error *err)
{
    int rc = http_session_ensure(req, err);
    if (rc)
        return rc;
    return http_render(req, 200, "workflow/status", json_pack("{s:b}", "form", 1));
}

static int status_lookup(struct http_request *req, struct kr_error *err)
{
    const char *number = http_form(req, "number"), *secret = http_form(req, "secret");
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    const struct kr_config *cfg = http_config(req);
    struct accounts_login_policy policy = {cfg->login_max_failures, cfg->login_window};
    if (rc == KR_OK)
        rc = accounts_throttle(conn, "case_status", number ? number : "", http_client_ip(req),
                               &policy, err);
    struct workflow_case c;
    if (rc == KR_OK)
        rc = workflow_status_lookup(conn, http_arena(req), number, secret, &c, err);
    if (rc == KR_ERR_NOT_FOUND || rc == KR_ERR_RATE_LIMITED) {
        json_t *ctx = json_pack(
            "{s:b, s:o, s:b, s:s?}", "form", 1, "errors",
            error_list(http_message(req, rc == KR_ERR_NOT_FOUND ? "workflow.status_not_found"
                                                                : "workflow.status_limited")),
            "has_errors", 1, "number", number);
        return http_render(req, rc == KR_ERR_NOT_FOUND ? 404 : 429, "workflow/status", ctx);
    }
    if (rc)
        return rc;
    json_t *pc = public_case(req, conn, &c, err);
    if (!pc)
        return err->code ? err->code : KR_ERR_NOMEM;
    return http_render(req, 200, "workflow/status", json_pack("{s:o}", "case", pc));
}

/* ---- Upload (back-channel) ---------------------------------------------------------------- */

/* The applicant's case of the path: the account's own, or with the secret. */
static int applicant_case(struct http_request *req, struct db_conn *conn, struct workflow_case *c,
                          struct kr_error *err)
{
    const struct account_user *u = http_user(req);
    const char *number = http_param(req, "number");
    if (u && strcmp(u->kind, "staff") != 0) {
        int rc = workflow_case_by_number(conn, http_arena(req), number, c, err);
        if (rc == KR_OK && c->applicant_id != u->id)
            rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
        return rc;
    }
    const char *secret = http_form(req, "secret");
    if (!secret)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "log in or enter your status secret");
    const struct kr_config *cfg = http_config(req);
    struct accounts_login_policy policy = {cfg->login_max_failures, cfg->login_window};
    int rc = accounts_throttle(conn, "case_status", number, http_client_ip(req), &policy, err);
    return rc ? rc : workflow_status_lookup(conn, http_arena(req), number, secret, c, err);
}

static int upload_form(struct http_request *req, struct kr_error *err)
{
    int rc = http_session_ensure(req, err);
    if (rc)
        return rc;
    const struct account_user *u = http_user(req);
    return http_render(req, 200, "workflow/upload",
                       json_pack("{s:s, s:b}", "number", http_param(req, "number"), "anonymous",
                                 !u || strcmp(u->kind, "staff") == 0));
}

static int upload_submit(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct workflow_case c;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = applicant_case(req, conn, &c, err);
    size_t n = 0;
    const struct http_upload *up = rc ? NULL : http_uploads(req, &n);
    if (rc == KR_OK && (n != 1 || up[0].too_large))
        rc = kr_error_set(err, n ? KR_ERR_TOO_LARGE : KR_ERR_INVALID,
                          n ? "file: too large" : "file: choose one file");
    if (rc == KR_OK)
        rc = http_upload_keep(req, 0, err);
    if (rc == KR_OK) {
        struct workflow_upload wu = {up[0].blob.hash, *up[0].filename ? up[0].filename : "upload",
                                     "application/octet-stream", up[0].blob.size};
        rc = workflow_document_add(conn, http_config(req), c.id, &wu, err);
    }
    if (rc)
        return rc;
    return http_render(req, 200, "workflow/upload",
                       json_pack("{s:s, s:b}", "number", c.number, "done", 1));
}

int workflow_http_routes(struct http_server *server, struct kr_error *err)
{
    static const struct {
        unsigned methods;
        const char *pattern;
        http_handler fn;
    } routes[] = {
        {HTTP_GET, "/verwaltung/vorgaenge", inbox_page},
        {HTTP_POST, "/verwaltung/vorgaenge/uebernehmen", bulk_claim},
        {HTTP_GET, "/verwaltung/vorgaenge/kennzahlen", metrics_page},
        {HTTP_GET, "/verwaltung/vorgaenge/neu", paper_form},
        {HTTP_POST, "/verwaltung/vorgaenge/neu", paper_submit},
        {HTTP_GET, "/verwaltung/vorgaenge/:number", case_page},
        {HTTP_POST, "/verwaltung/vorgaenge/:number/uebergang", case_transition},
        {HTTP_POST, "/verwaltung/vorgaenge/:number/zuweisen", case_assign},
        {HTTP_POST, "/verwaltung/vorgaenge/:number/notiz", case_note},
        {HTTP_POST, "/verwaltung/vorgaenge/:number/nachfordern", case_request},
        {HTTP_GET, "/api/workflow/metrics", metrics_api},
        {HTTP_GET, "/antraege", my_cases},
        {HTTP_GET, "/antragsstatus", status_form},
        {HTTP_POST, "/antragsstatus", status_lookup},
        {HTTP_GET, "/antraege/:number/nachreichen", upload_form},
        {HTTP_POST, "/antraege/:number/entscheiden", applicant_decide},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(routes); i++) {
        int rc = http_route(server, routes[i].methods, routes[i].pattern, routes[i].fn, 0, err);
        if (rc)
            return rc;
    }
    /* Open/overdue cases and lead times on /metrics, once per process. */
    static bool metrics_registered;
    if (!metrics_registered && http_metrics_source(workflow_metrics_prometheus) != KR_OK)
        return kr_error_set(err, KR_ERR_INTERNAL, "too many /metrics sources");
    metrics_registered = true;
    struct http_upload_limits limits = {20 * 1024 * 1024, 21 * 1024 * 1024, 1};
    return http_route_upload(server, HTTP_POST, "/antraege/:number/nachreichen", upload_submit, 0,
                             &limits, err);
}
