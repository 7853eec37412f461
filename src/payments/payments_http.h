/* payments_http.h - routes of the payments module: the cash office's pages
 * (/verwaltung/kasse, role cash_office), the JSON API (/api/payments/) and
 * the public payment page (/zahlung/<Kassenzeichen>). */
#ifndef KR_PAYMENTS_HTTP_H
#define KR_PAYMENTS_HTTP_H

#include "core/error.h"

struct http_server;
struct kr_config;

/* Register the routes.  Checks the payments_* configuration first
 * (KR_ERR_CONFIG naming the key: an invalid IBAN, BIC or fee). */
int payments_http_routes(struct http_server *server, const struct kr_config *cfg,
                         struct kr_error *err) KR_MUST_CHECK;

#endif
