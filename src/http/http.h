/*
 * http.h - what a request handler sees: the request, the response helpers,
 * the session and the route table.
 *
 * A handler parses and checks input, calls one domain function and renders:
 *
 *   static int show_unit(struct http_request *req, struct kr_error *err)
 *   {
 *       int64_t id;
 *       if (kr_parse_int64(http_param(req, "id"), 1, INT64_MAX, &id))
 *           return kr_error_set(err, KR_ERR_NOT_FOUND, "no such unit");
 *       struct db_conn *conn;
 *       int rc = http_db(req, &conn, err);
 *       ...
 *       return http_render(req, 200, "pages/unit", ctx);
 *   }
 *
 * It returns KR_OK after setting a response, or a negative status with err
 * filled; the server then answers in one place (http_status_for): an HTML
 * error page for browsers, RFC 9457 application/problem+json under /api/.
 * 4xx pages show err->message; 5xx pages show only the request id while the
 * message and detail go to the log.
 *
 * Memory: everything about a request lives in its arena (http_arena) and
 * dies after the response is sent.  JSON values passed to the response
 * helpers are stolen (their reference passes to the request).
 *
 * Before a handler runs, the server has: checked method and path (404/405),
 * size limits (413/431), decoded the query string and an
 * application/x-www-form-urlencoded body strictly (400 on malformed
 * percent-encoding or invalid UTF-8), and, for POST/PUT/PATCH/DELETE
 * outside /api/, checked the CSRF token and Origin (403).
 */
#ifndef KR_HTTP_HTTP_H
#define KR_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "blob/blob.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "core/text.h"
#include "db/db.h"

struct http_server;
struct http_request;
struct account_user;
struct account_auth;

typedef int (*http_handler)(struct http_request *req, struct kr_error *err);

/* Methods, as a bit set for route registration.  GET routes answer HEAD. */
enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_PATCH = 1 << 4,
    HTTP_DELETE = 1 << 5,
    HTTP_OPTIONS = 1 << 6,
};

/* Route flags. */
enum {
    /* Do not read the session cookie (static files, probes, metrics): the
     * handler runs without touching the database. */
    HTTP_ROUTE_NO_SESSION = 1 << 0,
    /* State-changing API route authenticated by other means than the
     * session cookie: no CSRF check.  Only for routes under /api/. */
    HTTP_ROUTE_NO_CSRF = 1 << 1,
};

/*
 * File uploads (multipart/form-data).  Only routes registered with
 * http_route_upload accept them; elsewhere multipart is a 415-style 400.
 * The body is streamed: text fields go to http_form() (so the CSRF check
 * works as for other forms), each file part is hashed and written to a
 * temporary blob (blob.h) as it arrives, never held in memory.
 *
 * Limits per route (0 = the configured default upload_max_file_size,
 * upload_max_request_size, upload_max_files):
 *   max_file   a larger file is cut off and reported with too_large set,
 *              so that the form can show the error at its field;
 *   max_total  the whole body; beyond it the request fails with 413;
 *   max_files  more file parts fail the request with 400.
 * Empty file inputs (no file chosen) are not listed.  Uploads the handler
 * does not keep (http_upload_keep) are deleted when the request ends.
 */
struct http_upload_limits {
    int64_t max_file;
    int64_t max_total;
    unsigned max_files;
};

int http_route_upload(struct http_server *server, unsigned methods, const char *pattern,
                      http_handler handler, unsigned flags, const struct http_upload_limits *limits,
                      struct kr_error *err) KR_MUST_CHECK;

/* The blob store of the server (http_server_set_blobs in server.h). */
struct blob_store *http_blobs(const struct http_request *req);

/*
 * Register a route.  pattern is a path of literal segments, ":name"
 * segments (one segment, percent-decoded, available as http_param(req,
 * "name")) and a final "*name" (the rest of the path).  When several
 * patterns match, literal segments win over ":name", which wins over
 * "*name".  Call before http_server_start; KR_ERR_INVALID for a bad
 * pattern, KR_ERR_CONFLICT for a pattern+method registered twice.
 */
int http_route(struct http_server *server, unsigned methods, const char *pattern,
               http_handler handler, unsigned flags, struct kr_error *err) KR_MUST_CHECK;

/* ---- The request ------------------------------------------------------ */

struct arena *http_arena(struct http_request *req);
const struct kr_config *http_config(const struct http_request *req);

/* "GET", "POST", ... */
const char *http_method_name(const struct http_request *req);
enum http_method http_method(const struct http_request *req);

/* The decoded path ("/impressum"); never contains NUL, "." or ".."
 * segments or invalid UTF-8. */
const char *http_path(const struct http_request *req);

/* The pattern of the matched route ("/static/ *path" without the space),
 * for logs and metrics. */
const char *http_route_pattern(const struct http_request *req);

/* Value of route parameter name, or NULL. */
const char *http_param(const struct http_request *req, const char *name);

/* First value of query parameter / form field name, or NULL.  Form fields
 * come from an application/x-www-form-urlencoded body. */
const char *http_query(const struct http_request *req, const char *name);
const char *http_form(const struct http_request *req, const char *name);
const struct text_pairs *http_form_fields(const struct http_request *req);

struct http_upload {
    const char *field;        /* the form field name */
    const char *filename;     /* the client's name reduced to a safe base name:
                               * no directories, no control characters, valid
                               * UTF-8, at most 200 bytes; "" when none given */
    const char *content_type; /* as claimed by the client: never trust it,
                               * sniff the content (libmagic) */
    bool too_large;           /* cut off at max_file: nothing to keep */
    struct blob_info blob;    /* hash and size of the content */
    const char *path;         /* the complete temporary file, for sniffing;
                               * NULL when too_large */
};

/* The uploaded files of the request, in the order sent; *n gets the count. */
const struct http_upload *http_uploads(const struct http_request *req, size_t *n);

/* Commit upload i into the blob store (it stays stored after the request).
 * KR_ERR_INVALID for an index out of range or a too_large upload. */
int http_upload_keep(struct http_request *req, size_t i, struct kr_error *err) KR_MUST_CHECK;

/* Request header (case-insensitive name), or NULL. */
const char *http_header(const struct http_request *req, const char *name);

/* The raw body (capped at max_body_size) and its length. */
const char *http_body(const struct http_request *req, size_t *len);

/* Client address: the peer, or from X-Forwarded-For when the peer is a
 * trusted proxy. */
const char *http_client_ip(const struct http_request *req);

/* 16 hex digits identifying this request in logs and on error pages. */
const char *http_request_id(const struct http_request *req);

/* Language of the response: "de" or "en" (see http_lang_resolve). */
const char *http_lang(struct http_request *req);

/* The message key in the request's language (see tpl_message). */
const char *http_message(struct http_request *req, const char *key);

/* The county's name in the request's language ("Landkreis Musterland"). */
const char *http_county_name(struct http_request *req);

/*
 * Borrow the request's database connection (acquired on first use,
 * released after the response).  The connection belongs to the request:
 * do not release it.
 */
int http_db(struct http_request *req, struct db_conn **out, struct kr_error *err) KR_MUST_CHECK;

/* ---- Session and user --------------------------------------------------- */

/* The logged-in user, or NULL for anonymous requests.  Loads the session
 * on first use. */
const struct account_user *http_user(struct http_request *req);

/* KR_ERR_UNAUTHENTICATED unless a user is logged in (the error page then
 * explains whether the session expired); KR_ERR_FORBIDDEN unless the user
 * has every role in roles (a bit set of enum account_role; 0 = any user). */
int http_require_user(struct http_request *req, unsigned roles, struct kr_error *err) KR_MUST_CHECK;

/* Make sure the request has a session (creating an anonymous one) so that
 * the page can carry a CSRF token.  Pages with forms call this. */
int http_session_ensure(struct http_request *req, struct kr_error *err) KR_MUST_CHECK;

/* Start a fresh session for user_id (login): the old session, if any, is
 * destroyed and a new id and CSRF token are issued (no session fixation). */
int http_session_login(struct http_request *req, int64_t user_id,
                       struct kr_error *err) KR_MUST_CHECK;

/* The same with how the user proved who they are (NULL: a password). */
int http_session_login_auth(struct http_request *req, int64_t user_id,
                            const struct account_auth *auth, struct kr_error *err) KR_MUST_CHECK;

/* How the logged-in user authenticated; method and assurance "none" when
 * nobody is logged in. */
const struct account_auth *http_session_auth(struct http_request *req);

/* Between password and second factor: mark the request's session (made
 * if needed) as waiting for user_id's code; 0 clears it. */
int http_session_set_pending(struct http_request *req, int64_t user_id,
                             struct kr_error *err) KR_MUST_CHECK;

/* The user whose second factor the session waits for, or 0. */
int64_t http_session_pending(struct http_request *req);

/* The cookie token of the request's session (NULL without one), for
 * functions that mark "this session" in lists. */
const char *http_session_token(struct http_request *req);
/* SHA-256 (64 hex digits + NUL) of the browser's session id, creating an
 * anonymous session when there is none, so that server-side state (a
 * pending identity-provider login) can be bound to this browser without
 * storing the id itself. */
int http_session_id_hash(struct http_request *req, char out[65],
                         struct kr_error *err) KR_MUST_CHECK;

/* End the session and clear the cookie. */
int http_session_logout(struct http_request *req, struct kr_error *err) KR_MUST_CHECK;

/* ---- Responses ------------------------------------------------------------ */

/*
 * Render template for the request's language.  ctx (an object, stolen;
 * NULL for none) is extended with "site": lang, the other language, the
 * CSRF token, the user, the county name, the request id, the asset
 * version and the current path, for the layout.
 */
int http_render(struct http_request *req, unsigned status, const char *template_name,
                json_t *ctx) KR_MUST_CHECK;

/* JSON response (body stolen), application/json; charset=utf-8. */
/* Render template (usually a .txt e-mail) like http_render, into *out in
 * the request's arena instead of the response.  ctx is stolen. */
int http_render_string(struct http_request *req, const char *template_name, json_t *ctx, char **out,
                       struct kr_error *err) KR_MUST_CHECK;

int http_json(struct http_request *req, unsigned status, json_t *body) KR_MUST_CHECK;

/* A module's own series on /metrics: fn appends Prometheus text (with
 * its # HELP and # TYPE lines) to out, may query through conn (pooled,
 * no transaction) and allocate in a (the request's arena).  An error
 * answers the scrape with 500.  Register before the server starts; at
 * most 8 sources; KR_ERR_TOO_LARGE beyond. */
typedef int (*http_metrics_fn)(struct db_conn *conn, struct arena *a, struct buf *out,
                               struct kr_error *err);
int http_metrics_source(http_metrics_fn fn) KR_MUST_CHECK;

/* A file to save, never shown as a page of our origin: 200 with
 * Content-Disposition attachment and the name as RFC 6266 filename*
 * (UTF-8, percent-encoded, so no name can break the header), private and
 * not cached.  content_type NULL means application/octet-stream. */
int http_send_attachment(struct http_request *req, const char *filename, const char *content_type,
                         const void *data, size_t len) KR_MUST_CHECK;

/* The same for a large file: send the open descriptor fd of size bytes
 * (from offset 0) with libmicrohttpd's zero-copy file response (sendfile),
 * never reading it into memory.  Same headers as http_send_attachment.
 * The descriptor passes to the response in every case, also on error: the
 * caller never closes it.  Use it for stored blobs (blob_open gives fd and
 * size); the file must not change while it is sent. */
int http_send_fd(struct http_request *req, const char *filename, const char *content_type, int fd,
                 int64_t size) KR_MUST_CHECK;

/* Body copied, with the given content type. */
int http_send(struct http_request *req, unsigned status, const char *content_type, const void *data,
              size_t len) KR_MUST_CHECK;

/* Body not copied: data must live until the server stops (static files). */
int http_send_static(struct http_request *req, unsigned status, const char *content_type,
                     const void *data, size_t len) KR_MUST_CHECK;

/* Redirect (303 after a POST, 302/301/308 otherwise) to a local path.
 * location must start with a single '/' (no open redirects). */
int http_redirect(struct http_request *req, unsigned status, const char *location) KR_MUST_CHECK;

/* Add a response header (name and value copied).  Values with CR or LF are
 * refused (KR_ERR_INVALID). */
int http_set_header(struct http_request *req, const char *name, const char *value);

/* Set a cookie: Path=/, HttpOnly, SameSite=Lax, Secure when public_url is
 * https; max_age in seconds, 0 deletes it. */
int http_set_cookie(struct http_request *req, const char *name, const char *value, int64_t max_age);

/* The HTTP status for an error code (KR_ERR_NOT_FOUND -> 404, ...). */
unsigned http_status_for(int code);

/* True if path is a safe local redirect target ("/x", not "//host" or
 * "/\host" or a scheme). */
bool http_local_path(const char *path);

#endif
