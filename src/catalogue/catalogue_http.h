/* catalogue_http.h - the citizen portal's service catalogue over HTTP:
 * search (/suche), service pages (/leistungen/ID), responsible units
 * (/stellen, /stellen/CODE), /sitemap.xml, /robots.txt, the JSON API
 * (/api/v1/services, /api/v1/services/ID) and its OpenAPI document
 * (/api/openapi.json). */
#ifndef KR_CATALOGUE_HTTP_H
#define KR_CATALOGUE_HTTP_H

#include <stdbool.h>

#include "core/config.h"
#include "core/error.h"
#include "db/db.h"

struct http_server;

/*
 * Register the routes and build the first catalogue snapshot from db (so
 * that the first search does not pay for it).  cfg and db must outlive the
 * server.  The snapshot and the OpenAPI document (read from
 * share_dir/static/api/openapi.json) belong to this module until
 * catalogue_http_shutdown(), which main calls after the server stopped.
 */
int catalogue_http_routes(struct http_server *server, const struct kr_config *cfg, struct db *db,
                          struct kr_error *err) KR_MUST_CHECK;

void catalogue_http_shutdown(void);

/* Whether a service's online form link leads somewhere (main: a form of
 * the form server, or any link outside Kreisel).  When fn says no, the
 * service page shows "not online yet" instead of a dead button.  NULL:
 * every link is shown.  Set before the server starts. */
void catalogue_http_set_form_check(bool (*fn)(const char *url));

#endif
