/* mailbox_http.h - routes of the mailbox: /postfach (account holders),
 * /verwaltung/postfach (clerks of the sending unit), /api/v1/postfach. */
#ifndef KR_MAILBOX_HTTP_H
#define KR_MAILBOX_HTTP_H

#include "core/error.h"

struct http_server;

int mailbox_http_routes(struct http_server *server, struct kr_error *err) KR_MUST_CHECK;

#endif
