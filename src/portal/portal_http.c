/*
 * portal_http.c - the frame pages of the citizen portal.  Their text is in
 * the templates and the message catalogue, so that a county edits text,
 * not code.
 */
#include "portal/portal.h"

#include <string.h>

#include "http/http.h"

static const struct {
    const char *pattern;
    const char *template_name;
} pages[] = {
    {"/", "pages/home"},
    {"/impressum", "pages/imprint"},
    {"/datenschutz", "pages/privacy"},
    {"/barrierefreiheit", "pages/accessibility"},
};

static int page(struct http_request *req, struct kr_error *err)
{
    const char *pattern = http_route_pattern(req);
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        if (strcmp(pages[i].pattern, pattern) == 0)
            return http_render(req, 200, pages[i].template_name, NULL);
    return kr_error_set(err, KR_ERR_NOT_FOUND, "no such page");
}

int portal_http_routes(struct http_server *s, struct kr_error *err)
{
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        int rc = http_route(s, HTTP_GET, pages[i].pattern, page, 0, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}
