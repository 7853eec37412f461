/*
 * einvoice_http.c - the validation endpoint (see einvoice_http.h).
 */
#include "einvoice/einvoice_http.h"

#include <string.h>
#include <strings.h>

#include "einvoice/einvoice.h"
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
    return rc;
}

void einvoice_http_release(void)
{
    einvoice_validator_free(validator);
    validator = NULL;
}
