/* accounts_http.h - routes of the accounts module: login and logout for
 * staff and citizens (/anmelden, /abmelden, the second step), the staff
 * start page (/verwaltung), and the service account's pages
 * (/registrieren, /passwort-vergessen, /konto/...). */
#ifndef KR_ACCOUNTS_HTTP_H
#define KR_ACCOUNTS_HTTP_H

#include "core/error.h"

struct http_server;
struct http_request;

/* Every route of the module (calls accounts_citizen_routes too). */
int accounts_http_routes(struct http_server *server, struct kr_error *err) KR_MUST_CHECK;

/* The pages of citizen_http.c. */
int accounts_citizen_routes(struct http_server *server, struct kr_error *err) KR_MUST_CHECK;

/* Where a login ends: next when it is a local path, else the start page
 * of the logged-in user (/verwaltung for staff, /konto for citizens). */
const char *accounts_http_after_login(struct http_request *req, const char *next);

#endif
