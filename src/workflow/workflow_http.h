/*
 * workflow_http.h - routes of the workflow pages (see workflow_http.c).
 */
#ifndef KR_WORKFLOW_WORKFLOW_HTTP_H
#define KR_WORKFLOW_WORKFLOW_HTTP_H

#include "core/error.h"

struct http_server;

/* Register the clerk, applicant and API routes. */
int workflow_http_routes(struct http_server *server, struct kr_error *err) KR_MUST_CHECK;

#endif
