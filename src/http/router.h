/*
 * router.h - route table: method + path pattern -> handler (internal to
 * src/http; handlers register through http_route in http.h).
 *
 * Patterns are compiled into segments when added.  Matching walks all routes
 * (a county has tens to a few hundred) and keeps the most specific match:
 * per segment a literal beats ":param" beats "*rest".  When the path matches
 * some route but none allows the method, the result is 405 and *allowed
 * collects the methods that would have matched (for the Allow header).
 *
 * The router owns its routes (malloc) until router_free; after the server
 * starts it is read-only and may be used by many threads.
 */
#ifndef KR_HTTP_ROUTER_H
#define KR_HTTP_ROUTER_H

#include <stddef.h>

#include "core/arena.h"
#include "core/error.h"
#include "http/http.h"

#define ROUTER_MAX_PARAMS 8
#define ROUTER_MAX_SEGMENTS 16 /* per pattern; the score below needs 2 bits each */

struct router;

struct route_info {
    const char *pattern;
    http_handler handler;
    unsigned methods;
    unsigned flags;
    unsigned index; /* 0..router_count()-1, for per-route metrics */
    bool uploads;   /* accepts multipart/form-data (http_route_upload) */
    struct http_upload_limits upload;
};

struct router_match {
    const struct route_info *route;
    size_t param_count;
    const char *param_names[ROUTER_MAX_PARAMS];
    const char *param_values[ROUTER_MAX_PARAMS]; /* arena strings */
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

struct router *router_new(void);
void router_free(struct router *r);

/* Add a route (see http_route). */
int router_add(struct router *r, unsigned methods, const char *pattern, http_handler handler,
               unsigned flags, struct kr_error *err) KR_MUST_CHECK;

/* Let the route added last accept uploads with these limits. */
void router_last_accepts_uploads(struct router *r, const struct http_upload_limits *limits);

/* Number of routes; route_info of each by index. */
size_t router_count(const struct router *r);
const struct route_info *router_route(const struct router *r, size_t index);

/*
 * Match decoded path segments (segments[0..n), without the leading empty
 * one: "/a/b" is {"a", "b"}; "/" is n == 0) for one method.  Parameter
 * values point into segments or are joined into arena a ("*rest").
 * *allowed gets the methods of the routes whose path matched.
 */
enum router_result router_match(const struct router *r, unsigned method, char *const *segments,
                                size_t n, struct arena *a, struct router_match *out,
                                unsigned *allowed);

/* "GET, HEAD, POST" for a method set, into out. */
void router_allow_header(unsigned methods, char *out, size_t size);

#endif
