/*
 * einvoice_http.c - the validation endpoint (see einvoice_http.h).
 */
#include "einvoice/einvoice_http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "accounts/accounts.h"
#include "core/util.h"
#include "einvoice/einvoice.h"
#include "einvoice/einvoice_store.h"
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

/* POST /api/v1/invoices/:id/:step (factual, arithmetic, release, export,
 * reject) by staff with the step's role. */
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
    if (rc == KR_OK)
        rc = einvoice_decide(conn, id, http_user(req)->id, step_names[k].action, reason, err);
    const char *status = NULL;
    if (rc == KR_OK)
        rc = einvoice_status(conn, id, &status, err);
    if (rc)
        return rc;
    return http_json(req, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", status));
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
    return rc;
}

void einvoice_http_release(void)
{
    einvoice_validator_free(validator);
    validator = NULL;
}
