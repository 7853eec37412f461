/*
 * forms_http.h - routes of the form server: the citizen's pages under
 * /formulare and the office's export under /verwaltung/formulare.
 *
 * forms_http_routes loads the definitions from share_dir/forms (a broken
 * definition stops the start with file, line and message), registers the
 * routes and starts the worker thread that deletes
 * expired drafts.  main calls forms_http_shutdown() after the server
 * stopped; it stops the worker and frees the definitions.
 */
#ifndef KR_FORMS_FORMS_HTTP_H
#define KR_FORMS_FORMS_HTTP_H

#include "core/config.h"
#include "core/error.h"
#include "db/db.h"
#include "forms/forms.h"

struct http_server;

int forms_http_routes(struct http_server *server, const struct kr_config *cfg, struct db *db,
                      struct kr_error *err) KR_MUST_CHECK;
void forms_http_shutdown(void);

/* The loaded definitions (NULL before forms_http_routes). */
const struct forms_set *forms_http_set(void);

#endif
