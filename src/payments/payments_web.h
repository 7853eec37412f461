/* payments_web.h - helpers shared by payments_http.c and payments_api.c. */
#ifndef KR_PAYMENTS_WEB_H
#define KR_PAYMENTS_WEB_H

#include <jansson.h>

#include "http/http.h"
#include "payments/payments.h"

/* The receivable as JSON (new reference): amounts for machines ("1750.00")
 * for the API, for people ("1.750,00 EUR" in the request's language) for
 * templates. */
json_t *payments_receivable_json(struct http_request *req, const struct payments_receivable *r,
                                 bool for_people);

/* What every cash office handler starts from: the request's connection
 * and the user as audit actor "user:N" (in the request's arena). */
struct payments_cash {
    struct db_conn *conn;
    const char *actor;
};

/* A logged-in user with the cash office role (else 401/403 errors) and the
 * request's connection into *c. */
int payments_cash_office(struct http_request *req, struct payments_cash *c,
                         struct kr_error *err) KR_MUST_CHECK;

/* The GiroCode of a receivable with the configured payee. */
void payments_girocode_of(const struct kr_config *cfg, const struct payments_receivable *r,
                          struct payments_girocode *g);

/* The configured reminder fee in cents (checked at start). */
int64_t payments_reminder_fee(const struct kr_config *cfg);

/* The API routes (payments_api.c). */
int payments_api_routes(struct http_server *server, struct kr_error *err) KR_MUST_CHECK;

#endif
