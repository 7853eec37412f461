/*
 * einvoice_http.c - the validation endpoint (see einvoice_http.h).
 */
#include "einvoice/einvoice_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "accounts/accounts.h"
#include "core/util.h"
#include "einvoice/einvoice.h"
#include "einvoice/einvoice_store.h"
#include "einvoice/einvoice_worker.h"
#include "http/http.h"

static struct einvoice_validator *validator;

/* XML or PDF (ZUGFeRD/Factur-X) media types, with or without parameters;
 * a missing type is accepted too: the content decides. */
static bool xml_type(const char *type)
{
    if (!type || !*type)
        return true;
    static const char *const ok[] = {"application/xml", "text/xml", "application/pdf",
                                     "application/octet-stream"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t n = strlen(ok[i]);
        if (strncasecmp(type, ok[i], n) == 0 && (type[n] == '\0' || type[n] == ';'))
            return true;
    }
    return false;
}

static int validate(struct http_request *req, struct kr_error *err)
{
    if (!xml_type(http_header(req, "Content-Type")))
        return kr_error_set(err, KR_ERR_INVALID,
                            "send the invoice as application/xml (UBL or CII) or application/pdf "
                            "(ZUGFeRD/Factur-X)");
    size_t len;
    const char *body = http_body(req, &len);
    if (!body || len == 0)
        return kr_error_set(err, KR_ERR_INVALID, "the request body is empty: send the invoice XML");
    struct einvoice_report *r;
    int rc = einvoice_validate(validator, http_arena(req), body, len, &r, err);
    if (rc)
        return rc;
    if (r->verdict == EINVOICE_UNREADABLE)
        return kr_error_set(err, KR_ERR_INVALID, "the invoice cannot be read: %s", r->reason);
    json_t *report = einvoice_report_json(r);
    if (!report)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return http_json(req, 200, report);
}

/* POST /api/v1/invoices: validate and store (any logged-in account).  An
 * explicit XML or PDF content type is required: a cross-site form cannot
 * send one, which keeps the session-authenticated call safe from CSRF. */
static int receive(struct http_request *req, struct kr_error *err)
{
    const char *type = http_header(req, "Content-Type");
    if (!type || !*type || !xml_type(type))
        return kr_error_set(err, KR_ERR_INVALID,
                            "send the invoice as application/xml or application/pdf");
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    size_t len;
    const char *body = http_body(req, &len);
    if (!body || len == 0)
        return kr_error_set(err, KR_ERR_INVALID, "the request body is empty: send the invoice");
    struct db_conn *conn;
    rc = http_db(req, &conn, err);
    if (rc)
        return rc;
    char actor[32];
    (void)snprintf(actor, sizeof(actor), "user:%lld", (long long)http_user(req)->id);
    struct einvoice_received got;
    rc = einvoice_receive(conn, validator, http_arena(req), actor, "api", body, len, &got, err);
    if (rc)
        return rc;
    json_t *out = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)got.id, "status", got.status,
                            "report", einvoice_report_json(got.report));
    return out ? http_json(req, 201, out) : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}

static const struct {
    const char *name;
    enum einvoice_action action;
    unsigned role; /* enum account_role */
} step_names[] = {
    {"factual", EINVOICE_STEP_FACTUAL, ACCOUNT_ROLE_CLERK},
    {"arithmetic", EINVOICE_STEP_ARITHMETIC, ACCOUNT_ROLE_CLERK},
    {"release", EINVOICE_STEP_RELEASE, ACCOUNT_ROLE_HEAD_OF_UNIT},
    {"export", EINVOICE_STEP_EXPORT, ACCOUNT_ROLE_CASH_OFFICE},
    {"reject", EINVOICE_STEP_REJECT, ACCOUNT_ROLE_CLERK},
};

/* The optional {"reason": "..."} of a JSON body (application/json only,
 * which a cross-site form cannot send). */
static int step_reason(struct http_request *req, const char **reason, struct kr_error *err)
{
    const char *type = http_header(req, "Content-Type");
    if (!type || strncasecmp(type, "application/json", 16) != 0)
        return kr_error_set(err, KR_ERR_INVALID, "send the step as application/json");
    size_t len;
    const char *body = http_body(req, &len);
    *reason = NULL;
    json_error_t jerr;
    json_t *j = json_loadb(body ? body : "{}", body ? len : 2, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return kr_error_set(err, KR_ERR_INVALID, "the body must be a JSON object");
    }
    const char *r = json_string_value(json_object_get(j, "reason"));
    *reason = r ? arena_strdup(http_arena(req), r) : NULL;
    json_decref(j);
    return KR_OK;
}

static bool may_step(const struct account_user *u, const struct einvoice_record *r,
                     enum einvoice_action action);

/* POST /api/v1/invoices/:id/:step (factual, arithmetic, release, export,
 * reject) by staff with the step's role, of the invoice's ordering unit
 * (see may_step). */
static int decide(struct http_request *req, struct kr_error *err)
{
    int64_t id;
    if (kr_parse_int64(http_param(req, "id"), 1, INT64_MAX, &id))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such invoice");
    size_t k = 0;
    while (k < KR_ARRAY_LEN(step_names) && strcmp(step_names[k].name, http_param(req, "step")))
        k++;
    if (k == KR_ARRAY_LEN(step_names))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such step");
    const char *reason;
    int rc = step_reason(req, &reason, err);
    if (rc == KR_OK)
        rc = http_require_user(req, step_names[k].role, err);
    struct db_conn *conn;
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    struct einvoice_record rec;
    if (rc == KR_OK)
        rc = einvoice_get(conn, http_arena(req), id, false, &rec, err);
    if (rc == KR_OK && !may_step(http_user(req), &rec, step_names[k].action))
        rc = kr_error_set(err, KR_ERR_FORBIDDEN, "this step is for the invoice's ordering unit");
    if (rc == KR_OK)
        rc = einvoice_decide(conn, id, http_user(req)->id, step_names[k].action, reason, err);
    const char *status = NULL;
    if (rc == KR_OK)
        rc = einvoice_status(conn, id, &status, err);
    if (rc)
        return rc;
    return http_json(req, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", status));
}

/* ---- Pages for the county's staff ------------------------------------------------ */

#define STAFF_INVOICE_ROLES                                                                        \
    (ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_HEAD_OF_UNIT | ACCOUNT_ROLE_CASH_OFFICE | ACCOUNT_ROLE_ADMIN)

/* Staff who work with invoices: any of the roles above. */
static int invoice_staff(struct http_request *req, const struct account_user **u,
                         struct db_conn **conn, struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    *u = http_user(req);
    if (strcmp((*u)->kind, "staff") != 0 || !((*u)->roles & STAFF_INVOICE_ROLES))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "invoices are for the county's staff");
    return http_db(req, conn, err);
}

/* May u take the step on r?  The ordering unit's clerks check facts and
 * arithmetic and may reject, its head releases, the cash office exports;
 * administrators act for any unit.  An invoice whose Leitweg-ID is not
 * mapped to a unit is for administrators until someone maps it. */
static bool may_step(const struct account_user *u, const struct einvoice_record *r,
                     enum einvoice_action action)
{
    bool admin = u->roles & ACCOUNT_ROLE_ADMIN;
    bool own_unit = r->org_unit_id > 0 && u->org_unit_id == r->org_unit_id;
    switch (action) {
    case EINVOICE_STEP_FACTUAL:
    case EINVOICE_STEP_ARITHMETIC:
    case EINVOICE_STEP_REJECT: return admin || (own_unit && (u->roles & ACCOUNT_ROLE_CLERK));
    case EINVOICE_STEP_RELEASE:
        return admin || (own_unit && (u->roles & ACCOUNT_ROLE_HEAD_OF_UNIT));
    case EINVOICE_STEP_EXPORT: return u->roles & (ACCOUNT_ROLE_CASH_OFFICE | ACCOUNT_ROLE_ADMIN);
    }
    return false;
}

static const char *step_from(enum einvoice_action a)
{
    static const char *const from[] = {"formally_valid", "factually_correct",
                                       "arithmetically_correct", "released", NULL};
    return from[a];
}

static json_t *record_json(struct http_request *req, const struct einvoice_record *r)
{
    char received[40];
    kr_time_format_local(r->received_at, received, sizeof(received));
    json_t *o = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, "
                          "s:s, s:b, s:s?, s:s}",
                          "id", (json_int_t)r->id, "status", r->status, "verdict", r->verdict,
                          "seller_name", r->seller_name, "seller_email", r->seller_email, "number",
                          r->number, "buyer_reference", r->buyer_reference, "issue_date",
                          r->issue_date, "currency", r->currency, "amount_due", r->amount_due,
                          "due_date", r->due_date, "reject_reason", r->reject_reason, "received",
                          received, "rejected", strcmp(r->status, "rejected") == 0, "channel",
                          r->channel, "container", r->container);
    char due[16];
    if (o && r->due_date && einvoice_day_text(r->due_date, due))
        json_object_set_new(o, "due_date", json_string(due));
    const char *key = arena_printf(http_arena(req), "einvoice.status_%s", r->status);
    const char *label = key ? http_message(req, key) : NULL;
    if (o)
        json_object_set_new(o, "status_label", json_string(label ? label : r->status));
    return o;
}

/* The escalated deadlines of invoice r as badges ("Skonto bis 19.11.2026"),
 * or NULL when it has none. */
static json_t *escalation_json(struct http_request *req, const struct einvoice_record *r,
                               const struct einvoice_escalation *esc, size_t n)
{
    json_t *arr = NULL;
    for (size_t i = 0; i < n; i++) {
        char day[16];
        if (esc[i].invoice_id != r->id || !einvoice_day_text(esc[i].day, day))
            continue;
        const char *label =
            http_message(req, strcmp(esc[i].kind, "skonto") == 0 ? "einvoice.escalated_skonto"
                                                                 : "einvoice.escalated_due");
        if (!arr)
            arr = json_array();
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "label", label ? label : "", "day",
                                             day, "iso", esc[i].day));
    }
    return arr;
}

/* The invoices of the list: the newest of one status or all, or with
 * due=soon those with an escalated deadline (earliest deadline first). */
static int list_records(struct http_request *req, struct db_conn *conn, const char *filter,
                        bool soon, const struct einvoice_escalation *esc, size_t n_esc,
                        struct einvoice_record **recs, size_t *n, struct kr_error *err)
{
    if (!soon)
        return einvoice_list(conn, http_arena(req), filter, 200, recs, n, err);
    *n = 0;
    *recs = arena_calloc(http_arena(req), n_esc + 1, sizeof(**recs));
    if (!*recs)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_esc; i++) {
        bool seen = false;
        for (size_t k = 0; k < *n; k++)
            seen = seen || (*recs)[k].id == esc[i].invoice_id;
        int rc =
            seen ? KR_OK
                 : einvoice_get(conn, http_arena(req), esc[i].invoice_id, false, &(*recs)[*n], err);
        if (rc)
            return rc;
        if (!seen && (!filter || strcmp((*recs)[*n].status, filter) == 0))
            (*n)++;
    }
    return KR_OK;
}

static int list_page(struct http_request *req, unsigned status, json_t *ctx, struct kr_error *err)
{
    const struct account_user *u = NULL;
    struct db_conn *conn = NULL;
    int rc = invoice_staff(req, &u, &conn, err);
    const char *filter = http_query(req, "status");
    if (filter && !*filter)
        filter = NULL;
    const char *due = http_query(req, "due");
    bool soon = due && strcmp(due, "soon") == 0;
    if (rc == KR_OK && due && *due && !soon)
        rc = kr_error_set(err, KR_ERR_INVALID, "the filter due takes the value soon");
    struct einvoice_escalation *esc = NULL;
    size_t n_esc = 0;
    if (rc == KR_OK)
        rc = einvoice_escalations(conn, http_arena(req), 200, &esc, &n_esc, err);
    struct einvoice_record *recs = NULL;
    size_t n = 0;
    if (rc == KR_OK)
        rc = list_records(req, conn, filter, soon, esc, n_esc, &recs, &n, err);
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = record_json(req, &recs[i]);
        json_t *badges = escalation_json(req, &recs[i], esc, n_esc);
        if (o && badges)
            json_object_set_new(o, "escalations", badges);
        json_array_append_new(items, o);
    }
    if (!ctx)
        ctx = json_object();
    json_object_set_new(ctx, "invoices", items);
    json_object_set_new(ctx, "has_invoices", json_boolean(n > 0));
    json_object_set_new(ctx, "due_soon", json_boolean(soon));
    static const char *const filters[] = {
        "formally_valid", "factually_correct", "arithmetically_correct",
        "released",       "exported",          "rejected"};
    json_t *options = json_array();
    for (size_t i = 0; i < KR_ARRAY_LEN(filters); i++) {
        const char *key = arena_printf(http_arena(req), "einvoice.status_%s", filters[i]);
        const char *label = key ? http_message(req, key) : NULL;
        json_array_append_new(options, json_pack("{s:s, s:s, s:b}", "value", filters[i], "label",
                                                 label ? label : filters[i], "selected",
                                                 filter && strcmp(filter, filters[i]) == 0));
    }
    json_object_set_new(ctx, "filters", options);
    json_object_set_new(ctx, "may_export",
                        json_boolean(u->roles & (ACCOUNT_ROLE_CASH_OFFICE | ACCOUNT_ROLE_ADMIN)));
    return http_render(req, status, "einvoice/list", ctx);
}

static int list_get(struct http_request *req, struct kr_error *err)
{
    return list_page(req, 200, NULL, err);
}

/* The list again with one error at the upload field. */
static int upload_error(struct http_request *req, unsigned status, const char *message,
                        struct kr_error *err)
{
    json_t *ctx = json_pack("{s:b, s:s, s:[{s:s, s:s, s:b}]}", "has_errors", 1, "upload_error",
                            message, "errors", "field", "invoice", "message", message, "link", 1);
    return list_page(req, status, ctx, err);
}

/* POST /verwaltung/rechnungen: one uploaded XML or ZUGFeRD PDF. */
static int upload(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = invoice_staff(req, &u, &conn, err);
    if (rc)
        return rc;
    size_t n;
    const struct http_upload *files = http_uploads(req, &n);
    if (n != 1)
        return upload_error(req, 422,
                            n ? "Bitte nur eine Datei hochladen. / One file at a time."
                              : "Bitte eine Rechnungsdatei auswählen. / Choose a file.",
                            err);
    if (files[0].too_large)
        return upload_error(req, 413, "Die Datei ist zu groß. / The file is too large.", err);
    /* The invoice is stored in its table: read the upload's temporary file,
     * the blob itself is not kept. */
    char *data;
    size_t len;
    rc = kr_read_file(files[0].path, EINVOICE_MAX_SIZE, &data, &len, err);
    if (rc)
        return rc;
    char actor[32];
    (void)snprintf(actor, sizeof(actor), "user:%lld", (long long)u->id);
    struct einvoice_received got;
    rc = einvoice_receive(conn, validator, http_arena(req), actor, "upload", data, len, &got, err);
    free(data);
    if (rc == KR_ERR_INVALID || rc == KR_ERR_CONFLICT)
        return upload_error(req, rc == KR_ERR_CONFLICT ? 409 : 422, err->message, err);
    if (rc)
        return rc;
    char *location =
        arena_printf(http_arena(req), "/verwaltung/rechnungen/%lld", (long long)got.id);
    return http_redirect(req, 303, location ? location : "/verwaltung/rechnungen");
}

static int64_t param_id(struct http_request *req)
{
    int64_t id = 0;
    if (kr_parse_int64(http_param(req, "id"), 1, INT64_MAX, &id) != KR_OK)
        return 0;
    return id;
}

/* The staff user, the connection and invoice :id (with its document when
 * document is true). */
static int load_invoice(struct http_request *req, bool document, const struct account_user **u,
                        struct db_conn **conn, struct einvoice_record *r, struct kr_error *err)
{
    int rc = invoice_staff(req, u, conn, err);
    return rc ? rc : einvoice_get(*conn, http_arena(req), param_id(req), document, r, err);
}

static json_t *steps_json(struct http_request *req, const struct account_user *u,
                          const struct einvoice_record *r)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < KR_ARRAY_LEN(step_names); k++) {
        enum einvoice_action a = step_names[k].action;
        const char *from = step_from(a);
        bool open = from ? strcmp(r->status, from) == 0
                         : strcmp(r->status, "exported") && strcmp(r->status, "rejected");
        if (!open || !may_step(u, r, a) || a == EINVOICE_STEP_EXPORT)
            continue;
        char key[40];
        (void)snprintf(key, sizeof(key), "einvoice.step_%s", step_names[k].name);
        const char *label = http_message(req, key);
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:b}", "step", step_names[k].name, "label",
                                        label ? label : key, "reject", a == EINVOICE_STEP_REJECT));
    }
    return arr;
}

static int detail_page(struct http_request *req, unsigned status, const char *error,
                       struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    struct einvoice_record r;
    int rc = load_invoice(req, true, &u, &conn, &r, err);
    if (rc)
        return rc;
    json_t *ctx = json_object();
    json_object_set_new(ctx, "invoice", record_json(req, &r));
    json_t *report = json_loads(r.report ? r.report : "{}", 0, NULL);
    json_object_set_new(ctx, "has_findings",
                        json_boolean(json_array_size(json_object_get(report, "findings")) > 0));
    json_object_set_new(ctx, "report", report ? report : json_object());
    json_t *view = NULL;
    struct kr_error verr;
    if (einvoice_view(http_arena(req), r.document, r.document_len, &view, &verr) == KR_OK) {
        json_object_set_new(view, "has_skonto",
                            json_boolean(json_array_size(json_object_get(view, "skonto")) > 0));
        json_object_set_new(ctx, "view", view);
    }
    json_t *steps = steps_json(req, u, &r);
    json_object_set_new(ctx, "has_steps", json_boolean(json_array_size(steps) > 0));
    json_object_set_new(ctx, "steps", steps);
    json_object_set_new(ctx, "no_unit", json_boolean(r.org_unit_id == 0));
    if (error) {
        json_object_set_new(ctx, "has_errors", json_true());
        json_object_set_new(ctx, "errors", json_pack("[{s:s, s:b}]", "message", error, "link", 0));
    }
    return http_render(req, status, "einvoice/invoice", ctx);
}

static int detail_get(struct http_request *req, struct kr_error *err)
{
    return detail_page(req, 200, NULL, err);
}

/* POST /verwaltung/rechnungen/:id: one step (field "step", "reason"). */
static int step_post(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    struct einvoice_record r;
    int64_t id = param_id(req);
    int rc = load_invoice(req, false, &u, &conn, &r, err);
    if (rc)
        return rc;
    const char *name = http_form(req, "step");
    size_t k = 0;
    while (k < KR_ARRAY_LEN(step_names) && (!name || strcmp(step_names[k].name, name) != 0))
        k++;
    if (k == KR_ARRAY_LEN(step_names))
        return detail_page(req, 422, "Unbekannter Schritt. / Unknown step.", err);
    if (!may_step(u, &r, step_names[k].action))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "this step is not yours to take");
    rc = einvoice_decide(conn, id, u->id, step_names[k].action, http_form(req, "reason"), err);
    if (rc == KR_ERR_INVALID || rc == KR_ERR_CONFLICT || rc == KR_ERR_FORBIDDEN)
        return detail_page(req,
                           rc == KR_ERR_INVALID    ? 422
                           : rc == KR_ERR_CONFLICT ? 409
                                                   : 403,
                           err->message, err);
    if (rc)
        return rc;
    char *location = arena_printf(http_arena(req), "/verwaltung/rechnungen/%lld", (long long)id);
    return http_redirect(req, 303, location ? location : "/verwaltung/rechnungen");
}

static int original(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    struct einvoice_record r;
    int rc = load_invoice(req, true, &u, &conn, &r, err);
    if (rc)
        return rc;
    bool pdf = strcmp(r.container, "pdf") == 0;
    const char *name =
        arena_printf(http_arena(req), "rechnung-%lld.%s", (long long)r.id, pdf ? "pdf" : "xml");
    return http_send_attachment(req, name, pdf ? "application/pdf" : "application/xml", r.document,
                                r.document_len);
}

/* POST /verwaltung/rechnungen/export: released invoices to accounting. */
static int export_post(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = invoice_staff(req, &u, &conn, err);
    if (rc)
        return rc;
    if (!(u->roles & (ACCOUNT_ROLE_CASH_OFFICE | ACCOUNT_ROLE_ADMIN)))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "the export is for the cash office");
    const char *format = http_form(req, "format");
    bool json = format && strcmp(format, "json") == 0;
    struct buf out;
    buf_init(&out, 64u * 1024 * 1024);
    size_t count;
    rc = einvoice_export(conn, http_arena(req), u->id, json ? "json" : "csv", &out, &count, err);
    if (rc == KR_OK) {
        char name[64];
        char day[24];
        kr_time_format_rfc3339(kr_now(), day, sizeof(day));
        (void)snprintf(name, sizeof(name), "rechnungen-export-%.10s.%s", day,
                       json ? "json" : "csv");
        rc = http_send_attachment(req, name, json ? "application/json" : "text/csv; charset=utf-8",
                                  buf_cstr(&out), out.len);
    }
    buf_release(&out);
    return rc;
}

int einvoice_http_routes(struct http_server *server, const char *schema_dir, struct kr_error *err)
{
    int rc = KR_OK;
    if (!validator) {
        rc = einvoice_validator_new(schema_dir, &validator, err);
        if (rc == KR_OK)
            rc = einvoice_validator_preload(validator, err);
    }
    if (rc == KR_OK)
        rc = http_route(server, HTTP_POST, "/api/v1/invoices/validate", validate,
                        HTTP_ROUTE_NO_SESSION | HTTP_ROUTE_NO_CSRF, err);
    if (rc == KR_OK)
        rc = http_route(server, HTTP_POST, "/api/v1/invoices", receive, HTTP_ROUTE_NO_CSRF, err);
    if (rc == KR_OK)
        rc = http_route(server, HTTP_POST, "/api/v1/invoices/:id/:step", decide, HTTP_ROUTE_NO_CSRF,
                        err);
    static const struct http_upload_limits one_invoice = {
        .max_file = EINVOICE_MAX_SIZE, .max_total = EINVOICE_MAX_SIZE + 65536, .max_files = 1};
    if (rc == KR_OK)
        rc = http_route(server, HTTP_GET, "/verwaltung/rechnungen", list_get, 0, err);
    if (rc == KR_OK)
        rc = http_route_upload(server, HTTP_POST, "/verwaltung/rechnungen", upload, 0, &one_invoice,
                               err);
    if (rc == KR_OK)
        rc = http_route(server, HTTP_POST, "/verwaltung/rechnungen/export", export_post, 0, err);
    if (rc == KR_OK)
        rc = http_route(server, HTTP_GET, "/verwaltung/rechnungen/:id", detail_get, 0, err);
    if (rc == KR_OK)
        rc = http_route(server, HTTP_POST, "/verwaltung/rechnungen/:id", step_post, 0, err);
    if (rc == KR_OK)
        rc = http_route(server, HTTP_GET, "/verwaltung/rechnungen/:id/original", original, 0, err);
    return rc;
}

struct einvoice_validator *einvoice_http_validator(void)
{
    return validator;
}

void einvoice_http_release(void)
{
    einvoice_validator_free(validator);
    validator = NULL;
}
