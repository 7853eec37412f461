/*
 * response.c - building responses: pages, JSON, redirects, cookies, error
 * answers, and handing them to libmicrohttpd with the security headers
 * every response carries.
 */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

/*
 * No inline script or style anywhere (not even for error pages), nothing
 * from other origins, no framing.  Changing this needs a look at every
 * template.
 */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                          "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
                          "object-src 'none'";

unsigned http_status_for(int code)
{
    switch (code) {
    case KR_ERR_INVALID: return 400;
    case KR_ERR_UNAUTHENTICATED: return 401;
    case KR_ERR_FORBIDDEN: return 403;
    case KR_ERR_NOT_FOUND: return 404;
    case KR_ERR_CONFLICT: return 409;
    case KR_ERR_TOO_LARGE: return 413;
    case KR_ERR_RATE_LIMITED: return 429;
    case KR_ERR_BUSY: return 503;
    default: return 500;
    }
}

bool http_local_path(const char *path)
{
    return path && path[0] == '/' && path[1] != '/' && path[1] != '\\' &&
           !strpbrk(path, "\r\n\t") && text_utf8_valid(path, strlen(path));
}

static void add_to(struct http_request *req, struct http_header **list, const char *name,
                   const char *value)
{
    struct http_header *h = arena_alloc(req->arena, sizeof(*h));
    if (!h)
        return;
    h->name = arena_strdup(req->arena, name);
    h->value = arena_strdup(req->arena, value);
    if (!h->name || !h->value)
        return;
    h->next = *list;
    *list = h;
}

int http_set_header(struct http_request *req, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return KR_ERR_INVALID;
    add_to(req, &req->headers, name, value);
    return KR_OK;
}

static const char *find_header(const struct http_request *req, const char *name)
{
    for (const struct http_header *h = req->headers; h; h = h->next)
        if (text_equal_nocase(h->name, name))
            return h->value;
    return NULL;
}

int http_set_cookie(struct http_request *req, const char *name, const char *value, int64_t max_age)
{
    if (strpbrk(value, ";,\r\n \"\\"))
        return KR_ERR_INVALID;
    char *c = arena_printf(req->arena, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Lax%s",
                           name, value, (long long)max_age, req->https ? "; Secure" : "");
    if (!c)
        return KR_ERR_NOMEM;
    /* One cookie of a name per response: the last setting wins. */
    for (struct http_header *h = req->cookies; h; h = h->next) {
        if (strcmp(h->name, name) == 0) {
            h->value = c;
            return KR_OK;
        }
    }
    add_to(req, &req->cookies, name, "");
    if (req->cookies && strcmp(req->cookies->name, name) == 0)
        req->cookies->value = c;
    return KR_OK;
}

static int set_body(struct http_request *req, unsigned status, const char *content_type, char *body,
                    size_t len, bool is_static)
{
    if (req->out_body && !req->out_static)
        free(req->out_body);
    if (req->out_file && req->out_file->fd >= 0) { /* an earlier http_send_fd */
        close(req->out_file->fd);
        req->out_file->fd = -1;
    }
    req->status = status;
    req->content_type = content_type;
    req->out_body = body;
    req->out_len = len;
    req->out_static = is_static;
    req->responded = true;
    return KR_OK;
}

int http_send(struct http_request *req, unsigned status, const char *content_type, const void *data,
              size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return KR_ERR_NOMEM;
    if (len)
        memcpy(copy, data, len);
    return set_body(req, status, content_type, copy, len, false);
}

int http_send_static(struct http_request *req, unsigned status, const char *content_type,
                     const void *data, size_t len)
{
    return set_body(req, status, content_type, (char *)(uintptr_t)data, len, true);
}

int http_json(struct http_request *req, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (!text)
        return KR_ERR_NOMEM;
    return set_body(req, status, "application/json; charset=utf-8", text, strlen(text), false);
}

int http_redirect(struct http_request *req, unsigned status, const char *location)
{
    if (!http_local_path(location))
        return KR_ERR_INVALID;
    if (http_set_header(req, "Location", location))
        return KR_ERR_INVALID;
    return http_send(req, status, "text/plain; charset=utf-8", "", 0);
}

void http_reset_response(struct http_request *req)
{
    if (req->out_body && !req->out_static)
        free(req->out_body);
    req->out_body = NULL;
    req->out_len = 0;
    req->out_static = false;
    if (req->out_file && req->out_file->fd >= 0) {
        close(req->out_file->fd);
        req->out_file->fd = -1;
    }
    req->responded = false;
    req->status = 0;
    req->headers = NULL;
    /* Keep only cookie deletions (an expired session's cookie is cleared
     * even when the request fails); whatever else the handler set goes. */
    struct http_header *keep = NULL;
    for (struct http_header *h = req->cookies, *next; h; h = next) {
        next = h->next;
        if (strstr(h->value, "; Max-Age=0;")) {
            h->next = keep;
            keep = h;
        }
    }
    req->cookies = keep;
}

/* ---- Pages ------------------------------------------------------------------ */

static json_t *site_context(struct http_request *req)
{
    struct http_server *s = req->server;
    const char *lang = http_lang(req);
    bool en = strcmp(lang, "en") == 0;
    json_t *site = json_object();
    json_object_set_new(site, "lang", json_string(lang));
    json_object_set_new(site, "lang_de", json_boolean(!en));
    json_object_set_new(site, "lang_en", json_boolean(en));
    json_object_set_new(site, "county_name", json_string(s->county_name[en ? 1 : 0]));
    json_object_set_new(site, "request_id", json_string(req->request_id));
    json_object_set_new(site, "asset_version", json_string(static_files_version(s->statics)));
    json_object_set_new(site, "path", json_string(req->path ? req->path : "/"));
    /* The login page offers the state's service account when configured. */
    json_object_set_new(site, "oidc_login", json_boolean(s->cfg->oidc_issuer[0] != '\0'));
    http_request_load_session(req);
    if (req->has_session && req->session.csrf_token)
        json_object_set_new(site, "csrf_token", json_string(req->session.csrf_token));
    if (req->user) {
        json_t *u = json_object();
        json_object_set_new(u, "display_name", json_string(req->user->display_name));
        json_object_set_new(u, "login", json_string(req->user->login));
        json_object_set_new(u, "is_admin", json_boolean(req->user->roles & ACCOUNT_ROLE_ADMIN));
        json_object_set_new(u, "is_staff", json_boolean(strcmp(req->user->kind, "staff") == 0));
        json_object_set_new(site, "user", u);
    }
    return site;
}

static void release_json(void *p)
{
    json_decref(p);
}

/* Render template_name with ctx (stolen) and the site context into out. */
static int render_into(struct http_request *req, const char *template_name, json_t *ctx,
                       struct buf *out)
{
    if (!ctx)
        ctx = json_object();
    if (!ctx || arena_defer(req->arena, release_json, ctx))
        return KR_ERR_NOMEM;
    json_object_set_new(ctx, "site", site_context(req));
    buf_init(out, HTTP_RENDER_MAX);
    struct kr_error err;
    int rc = tpl_render(req->server->tpl, template_name, http_lang(req), ctx, out, &err);
    if (rc) {
        buf_release(out);
        kr_error_prefix(&err, "template %s", template_name);
        kr_log_error("render_failed", &err);
        return rc == KR_ERR_NOMEM ? rc : KR_ERR_INTERNAL;
    }
    return KR_OK;
}

int http_render(struct http_request *req, unsigned status, const char *template_name, json_t *ctx)
{
    struct buf out;
    int rc = render_into(req, template_name, ctx, &out);
    if (rc)
        return rc;
    size_t len;
    char *html = buf_detach(&out, &len);
    if (!html)
        html = calloc(1, 1);
    if (!html)
        return KR_ERR_NOMEM;
    return set_body(req, status, "text/html; charset=utf-8", html, len, false);
}

int http_render_string(struct http_request *req, const char *template_name, json_t *ctx, char **out,
                       struct kr_error *err)
{
    struct buf b;
    int rc = render_into(req, template_name, ctx, &b);
    if (rc)
        return kr_error_set(err, rc, "the text %s cannot be rendered", template_name);
    *out = arena_strdup(req->arena, buf_cstr(&b));
    buf_release(&b);
    return *out ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}

/* ---- Errors ---------------------------------------------------------------- */

static bool wants_problem(const struct http_request *req)
{
    return req->path && (strncmp(req->path, "/api/", 5) == 0 || strcmp(req->path, "/api") == 0);
}

static void respond_problem(struct http_request *req, unsigned status, const char *detail)
{
    json_t *p = json_object();
    json_object_set_new(p, "type", json_string("about:blank"));
    const char *phrase = MHD_get_reason_phrase_for(status);
    json_object_set_new(p, "title", json_string(phrase && *phrase ? phrase : "Error"));
    json_object_set_new(p, "status", json_integer(status));
    json_t *d = json_string(detail);
    json_object_set_new(p, "detail", d ? d : json_string("invalid request"));
    if (req->path)
        json_object_set_new(p, "instance", json_string(req->path));
    json_object_set_new(p, "request_id", json_string(req->request_id));
    if (http_json(req, status, p) == KR_OK)
        req->content_type = "application/problem+json";
}

static void respond_page(struct http_request *req, unsigned status, const char *detail)
{
    char key[48];
    json_t *ctx = json_object();
    (void)snprintf(key, sizeof(key), "error.title.%u", status);
    const char *title = http_message(req, key);
    if (strcmp(title, key) == 0) /* no message for this status */
        title = http_message(req, status >= 500 ? "error.title.500" : "error.title.400");
    (void)snprintf(key, sizeof(key), "error.text.%u", status);
    const char *text = http_message(req, key);
    if (strcmp(text, key) == 0)
        text = http_message(req, status >= 500 ? "error.text.500" : "error.text.400");
    json_object_set_new(ctx, "status", json_integer(status));
    json_object_set_new(ctx, "title", json_string(title));
    json_object_set_new(ctx, "text", json_string(text));
    if (detail) {
        json_t *d = json_string(detail);
        if (d)
            json_object_set_new(ctx, "detail", d);
    }
    if (status == 401 && req->path) {
        char *next = arena_printf(req->arena, "/anmelden?next=%s", req->path);
        json_object_set_new(ctx, "login_url", json_string(next ? next : "/anmelden"));
    }
    if (http_render(req, status, "pages/error", ctx) == KR_OK)
        return;
    /* The templates failed: a plain answer that cannot fail. */
    char *plain = arena_printf(req->arena, "Error %u. Request %s\n", status, req->request_id);
    if (!plain || http_send(req, status, "text/plain; charset=utf-8", plain, strlen(plain)))
        req->responded = false; /* http_queue answers with an empty body */
}

void http_respond_error(struct http_request *req, int code, const struct kr_error *err,
                        unsigned allow)
{
    unsigned status = http_status_for(code);
    if (allow && code == KR_ERR_INVALID)
        status = 405;
    if (status >= 500)
        kr_log_json(KR_LOG_ERROR, "request_failed",
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "request_id", req->request_id, "route",
                              req->route_pattern, "code", kr_status_name(code), "msg", err->message,
                              "detail", err->detail));
    /* Only 4xx explain themselves; a 5xx shows the request id, not internals. */
    const char *detail = status < 500 && err->message[0] ? err->message : NULL;
    if (allow) {
        char value[80];
        router_allow_header(allow, value, sizeof(value));
        http_set_header(req, "Allow", value);
    }
    if (status == 429) {
        char secs[24];
        (void)snprintf(secs, sizeof(secs), "%u", req->server->cfg->login_window);
        http_set_header(req, "Retry-After", secs);
    }
    if (wants_problem(req))
        respond_problem(req, status,
                        detail ? detail : "The server could not complete the request.");
    else
        respond_page(req, status, detail);
}

/* ---- Handing over to libmicrohttpd ---------------------------------------------- */

static void add_standard_headers(struct http_request *req, struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "same-origin");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, "Permissions-Policy",
                            "camera=(), microphone=(), geolocation=(), payment=()");
    if (req->https)
        MHD_add_response_header(r, "Strict-Transport-Security",
                                "max-age=31536000; includeSubDomains");
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    if (req->content_type)
        MHD_add_response_header(r, "Content-Type", req->content_type);
    if (!find_header(req, "Cache-Control")) {
        /* Personal pages are never stored; public ones are revalidated. */
        bool personal = req->has_session || req->user;
        MHD_add_response_header(r, "Cache-Control", personal ? "private, no-store" : "no-cache");
    }
    if (req->content_type && strncmp(req->content_type, "text/html", 9) == 0)
        MHD_add_response_header(r, "Vary", "Accept-Language, Cookie");
    if (atomic_load(&req->server->stopping))
        MHD_add_response_header(r, "Connection", "close");
}

enum MHD_Result http_queue(struct http_request *req)
{
    if (!req->responded) {
        struct kr_error err;
        kr_error_set(&err, KR_ERR_INTERNAL, "no response was built");
        http_respond_error(req, KR_ERR_INTERNAL, &err, 0);
    }
    static char empty[1];
    struct MHD_Response *r;
    if (!req->responded) { /* even the error page failed: out of memory */
        req->status = 500;
        req->out_body = NULL;
        req->out_len = 0;
    }
    if (req->out_file && req->out_file->fd >= 0) {
        /* Zero copy (sendfile where possible).  The made response owns
         * and closes the descriptor; when it cannot be made, we still do. */
        r = MHD_create_response_from_fd64((uint64_t)req->out_file->size, req->out_file->fd);
        if (!r)
            return MHD_NO; /* the arena cleanup closes the descriptor */
        req->out_file->fd = -1;
    } else if (req->out_static || !req->out_body)
        r = MHD_create_response_from_buffer(req->out_len, req->out_body ? req->out_body : empty,
                                            MHD_RESPMEM_PERSISTENT);
    else
        r = MHD_create_response_from_buffer_with_free_callback(req->out_len, req->out_body, free);
    if (!r)
        return MHD_NO;      /* on_completed frees out_body: it was not handed over */
    req->out_static = true; /* MHD owns the body now */
    add_standard_headers(req, r);
    for (const struct http_header *h = req->headers; h; h = h->next)
        MHD_add_response_header(r, h->name, h->value);
    for (const struct http_header *h = req->cookies; h; h = h->next)
        MHD_add_response_header(r, "Set-Cookie", h->value);
    enum MHD_Result ok = MHD_queue_response(req->conn, req->status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Content-Disposition attachment with the RFC 6266 / 5987 name, private,
 * not cached (nosniff and the other security headers come with every
 * response). */
static int attachment_headers(struct http_request *req, const char *filename)
{
    char *enc = text_percent_encode(req->arena, filename && *filename ? filename : "download");
    char *disposition =
        enc ? arena_printf(req->arena, "attachment; filename*=UTF-8''%s", enc) : NULL;
    if (!disposition)
        return KR_ERR_NOMEM;
    http_set_header(req, "Content-Disposition", disposition);
    http_set_header(req, "Cache-Control", "private, no-store");
    return KR_OK;
}

int http_send_attachment(struct http_request *req, const char *filename, const char *content_type,
                         const void *data, size_t len)
{
    int rc = attachment_headers(req, filename);
    if (rc)
        return rc;
    return http_send(req, 200, content_type ? content_type : "application/octet-stream", data, len);
}

/* Closes a descriptor that never reached libmicrohttpd (arena cleanup). */
static void close_out_file(void *p)
{
    struct http_out_file *f = p;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

int http_send_fd(struct http_request *req, const char *filename, const char *content_type, int fd,
                 int64_t size)
{
    if (fd < 0)
        return KR_ERR_INVALID;
    struct http_out_file *f = req->out_file;
    if (!f) {
        f = arena_alloc(req->arena, sizeof(*f));
        if (!f || arena_defer(req->arena, close_out_file, f)) {
            close(fd);
            return KR_ERR_NOMEM;
        }
        f->fd = -1;
        req->out_file = f;
    }
    int rc = size < 0 ? KR_ERR_INVALID : attachment_headers(req, filename);
    if (rc) {
        close(fd);
        return rc;
    }
    /* set_body closes the descriptor of an earlier call. */
    rc = set_body(req, 200, content_type ? content_type : "application/octet-stream", NULL, 0,
                  false);
    f->fd = fd;
    f->size = size;
    req->out_len = (size_t)size; /* for the access log */
    return rc;
}
