/* efile_http.h - routes of the e-file: /verwaltung/akten, /verwaltung/aktenplan,
 * /verwaltung/aussonderung, /verwaltung/dokumente and /api/v1/akten...,
 * /api/v1/aktenplan, /api/v1/akten-suche. */
#ifndef KR_EFILE_HTTP_H
#define KR_EFILE_HTTP_H

#include "core/config.h"
#include "core/error.h"

struct http_server;

/* Register the routes and apply efile_reference_pattern. */
int efile_http_routes(struct http_server *server, const struct kr_config *cfg,
                      struct kr_error *err) KR_MUST_CHECK;

#endif
