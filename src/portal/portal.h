/* portal.h - the citizen portal's frame pages: start page, imprint,
 * privacy statement and accessibility statement.  Modules add their own
 * pages; this one owns what every county must publish. */
#ifndef KR_PORTAL_PORTAL_H
#define KR_PORTAL_PORTAL_H

#include "core/error.h"

struct http_server;

int portal_http_routes(struct http_server *server, struct kr_error *err) KR_MUST_CHECK;

#endif
