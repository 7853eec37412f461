/* accounts_http.h - routes of the accounts module: staff login and logout
 * (/anmelden, /abmelden) and the staff start page (/verwaltung). */
#ifndef KR_ACCOUNTS_HTTP_H
#define KR_ACCOUNTS_HTTP_H

#include "core/error.h"

struct http_server;

int accounts_http_routes(struct http_server *server, struct kr_error *err) KR_MUST_CHECK;

#endif
