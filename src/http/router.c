#include "http/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

enum seg_kind { SEG_LITERAL = 3, SEG_PARAM = 2, SEG_REST = 1 };

struct segment {
    enum seg_kind kind;
    char *text; /* literal text, or parameter name */
};

struct route {
    struct route_info info;
    char *pattern; /* owned copy; info.pattern points here */
    struct segment segments[ROUTER_MAX_SEGMENTS];
    size_t count;
    size_t params;
};

struct router {
    struct route **routes;
    size_t count;
};

struct router *router_new(void)
{
    return calloc(1, sizeof(struct router));
}

static void route_free(struct route *rt)
{
    for (size_t i = 0; i < rt->count; i++)
        free(rt->segments[i].text);
    free(rt->pattern);
    free(rt);
}

void router_free(struct router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        route_free(r->routes[i]);
    free(r->routes);
    free(r);
}

static bool valid_name(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static bool valid_literal(const char *s, size_t len)
{
    if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == '%' || c == '?' || c == '#' || c >= 0x7F)
            return false;
    }
    return true;
}

/* Split a pattern such as "/a/:id" into segments. */
static int compile(struct route *rt, const char *pattern, struct kr_error *err)
{
    if (pattern[0] != '/')
        return kr_error_set(err, KR_ERR_INVALID, "route '%s' must start with '/'", pattern);
    const char *p = pattern + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (rt->count == ROUTER_MAX_SEGMENTS)
            return kr_error_set(err, KR_ERR_INVALID, "route '%s' has too many segments", pattern);
        struct segment *s = &rt->segments[rt->count];
        if (p[0] == ':' || p[0] == '*') {
            s->kind = p[0] == ':' ? SEG_PARAM : SEG_REST;
            if (!valid_name(p + 1, len - 1) || rt->params == ROUTER_MAX_PARAMS ||
                (s->kind == SEG_REST && slash))
                return kr_error_set(err, KR_ERR_INVALID, "route '%s': bad parameter '%.*s'",
                                    pattern, (int)len, p);
            s->text = strndup(p + 1, len - 1);
            rt->params++;
        } else {
            if (!valid_literal(p, len))
                return kr_error_set(err, KR_ERR_INVALID, "route '%s': bad segment '%.*s'", pattern,
                                    (int)len, p);
            s->kind = SEG_LITERAL;
            s->text = strndup(p, len);
        }
        if (!s->text)
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        rt->count++;
        if (!slash)
            break;
        p = slash + 1;
        if (!*p)
            return kr_error_set(err, KR_ERR_INVALID, "route '%s' must not end with '/'", pattern);
    }
    return KR_OK;
}

int router_add(struct router *r, unsigned methods, const char *pattern, http_handler handler,
               unsigned flags, struct kr_error *err)
{
    if (methods == 0 || !handler)
        return kr_error_set(err, KR_ERR_INVALID, "route '%s': no methods or handler", pattern);
    if (methods & HTTP_GET)
        methods |= HTTP_HEAD;
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->routes[i]->info.pattern, pattern) == 0 &&
            (r->routes[i]->info.methods & methods))
            return kr_error_set(err, KR_ERR_CONFLICT, "route '%s' registered twice", pattern);
    struct route *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    rt->pattern = strdup(pattern);
    rt->info.pattern = rt->pattern;
    int rc =
        rt->pattern ? compile(rt, pattern, err) : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct route **grown = rc ? NULL : realloc(r->routes, (r->count + 1) * sizeof(*grown));
    if (!grown) {
        route_free(rt);
        return rc ? rc : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    rt->info.handler = handler;
    rt->info.methods = methods;
    rt->info.flags = flags;
    rt->info.index = (unsigned)r->count;
    r->routes = grown;
    r->routes[r->count++] = rt;
    return KR_OK;
}

void router_last_accepts_uploads(struct router *r, const struct http_upload_limits *limits)
{
    struct route_info *info = &r->routes[r->count - 1]->info;
    info->uploads = true;
    info->upload = *limits;
}

size_t router_count(const struct router *r)
{
    return r->count;
}

const struct route_info *router_route(const struct router *r, size_t index)
{
    return index < r->count ? &r->routes[index]->info : NULL;
}

/* Does rt match the path?  Fills out's parameters.  *score gets a number
 * that is higher for more specific routes (literal > param > rest,
 * compared segment by segment from the left). */
static bool match_one(const struct route *rt, char *const *segs, size_t n, struct arena *a,
                      struct router_match *out, unsigned long long *score)
{
    size_t np = 0;
    unsigned long long sc = 0;
    size_t i = 0;
    for (; i < rt->count; i++) {
        const struct segment *s = &rt->segments[i];
        sc = sc * 4 + (unsigned)s->kind;
        if (s->kind == SEG_REST) {
            if (i >= n)
                return false; /* "*rest" needs at least one segment */
            struct buf joined;
            buf_init(&joined, 64 * 1024);
            for (size_t k = i; k < n; k++) {
                if (k > i)
                    buf_putc(&joined, '/');
                buf_puts(&joined, segs[k]);
            }
            char *v = buf_status(&joined) ? NULL : arena_strdup(a, buf_cstr(&joined));
            buf_release(&joined);
            if (!v)
                return false;
            out->param_names[np] = s->text;
            out->param_values[np++] = v;
            i = n;
            break;
        }
        if (i >= n)
            return false;
        if (s->kind == SEG_LITERAL && strcmp(s->text, segs[i]) != 0)
            return false;
        if (s->kind == SEG_PARAM) {
            out->param_names[np] = s->text;
            out->param_values[np++] = segs[i];
        }
    }
    if (i != n)
        return false;
    /* Shift so that routes with more segments are compared fairly. */
    for (size_t k = rt->count; k < ROUTER_MAX_SEGMENTS; k++)
        sc *= 4;
    out->param_count = np;
    out->route = &rt->info;
    *score = sc;
    return true;
}

enum router_result router_match(const struct router *r, unsigned method, char *const *segments,
                                size_t n, struct arena *a, struct router_match *out,
                                unsigned *allowed)
{
    unsigned long long best = 0;
    bool found = false;
    *allowed = 0;
    for (size_t i = 0; i < r->count; i++) {
        struct router_match m;
        unsigned long long score;
        if (!match_one(r->routes[i], segments, n, a, &m, &score))
            continue;
        *allowed |= r->routes[i]->info.methods;
        if ((r->routes[i]->info.methods & method) && (!found || score > best)) {
            *out = m;
            best = score;
            found = true;
        }
    }
    if (found)
        return ROUTER_FOUND;
    return *allowed ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

void router_allow_header(unsigned methods, char *out, size_t size)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{HTTP_GET, "GET"},        {HTTP_HEAD, "HEAD"},   {HTTP_POST, "POST"},
                 {HTTP_PUT, "PUT"},        {HTTP_PATCH, "PATCH"}, {HTTP_DELETE, "DELETE"},
                 {HTTP_OPTIONS, "OPTIONS"}};
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(methods & names[i].bit))
            continue;
        int w = snprintf(out + used, size - used, "%s%s", used ? ", " : "", names[i].name);
        if (w < 0 || (size_t)w >= size - used)
            return;
        used += (size_t)w;
    }
}
