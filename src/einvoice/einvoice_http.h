/*
 * einvoice_http.h - routes of the e-invoice module:
 *
 *   POST /api/v1/invoices/validate   body: the invoice XML (UBL or CII) or
 *                                    a ZUGFeRD/Factur-X PDF
 *     200 application/json: the report (einvoice_report_json) for accepted
 *         and rejected invoices alike; the verdict is in "verdict".
 *     400 problem+json: empty body, wrong content type, or a document that
 *         cannot be read as an invoice (not XML, DOCTYPE, unknown root);
 *     413 problem+json: larger than max_body_size.
 *   No session, no CSRF token: the check stores nothing.
 *
 *   POST /api/v1/invoices   body: XML or PDF, Content-Type required
 *     any logged-in account (401 otherwise); einvoice_receive; 201
 *     {"id", "status", "report"}; 409 problem+json for a duplicate.
 *
 *   POST /api/v1/invoices/:id/:step   body: JSON, {"reason": ...} for reject
 *     steps factual and arithmetic and reject (role clerk), release (role
 *     head_of_unit, four-eyes: 403 for the factual checker), export (role
 *     cash_office); 200 {"id", "status"}, 409 when out of order.
 *   Session-authenticated API calls are safe from CSRF because they demand
 *   a content type (XML, PDF, JSON) that a cross-site form cannot send.
 *
 * The validator (compiled schemas) belongs to this module from
 * einvoice_http_routes until einvoice_http_release, which main calls after
 * the server has stopped.
 */
#ifndef KR_EINVOICE_HTTP_H
#define KR_EINVOICE_HTTP_H

#include "core/error.h"

struct http_server;

/* Register the routes; compile the schemas found in schema_dir now (a
 * missing directory only switches the XSD layer off, with a log line).
 * KR_ERR_CONFIG when a schema does not compile. */
int einvoice_http_routes(struct http_server *server, const char *schema_dir,
                         struct kr_error *err) KR_MUST_CHECK;

/* The validator of the routes, for the server's other users of it (the
 * intake of einvoice_worker.h); NULL before einvoice_http_routes.  It
 * stays this module's: valid until einvoice_http_release. */
struct einvoice_validator *einvoice_http_validator(void);

/* Free the validator.  Call once the server no longer runs requests. */
void einvoice_http_release(void);

#endif
