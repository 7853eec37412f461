/*
 * upload.c - multipart/form-data bodies, streamed.
 *
 * libmicrohttpd's post processor splits the body into parts; we decide what
 * each part becomes:
 *   a text field   its value is appended to req->body (NUL-terminated), so
 *                  that text stays within max_body_size; at the end the
 *                  fields become req->form like an urlencoded body's
 *   a file         a blob writer per part (blob.h): hashed and written to a
 *                  temporary file as the bytes arrive, cut off at max_file
 *
 * Errors are remembered in the upload state and answered by dispatch; the
 * post processor is told to stop.  Writers the handler does not keep are
 * aborted when the request ends, so an interrupted or refused upload
 * leaves no file behind.
 */
#include "http/http_internal.h"

#include <string.h>
#include <strings.h>

#include "core/log.h"

#define UPLOAD_PP_BUFFER (64 * 1024)
#define UPLOAD_NAME_MAX 200 /* bytes of a kept client file name */

struct upload_part {
    struct http_upload pub;
    struct blob_writer *writer; /* NULL when too_large, kept or aborted */
    bool is_file;
    size_t value_off; /* text: offset of the value in req->body */
};

struct upload_state {
    struct MHD_PostProcessor *pp;
    struct http_upload_limits limits;
    struct upload_part *parts; /* arena array of cap entries */
    size_t count, cap, files;
    int64_t total;
    struct kr_error err;      /* the first error; code KR_OK while fine */
    struct http_upload *list; /* the files, built by http_upload_finish */
    size_t list_count;
};

static bool is_multipart(const char *ctype)
{
    static const char mp[] = "multipart/form-data";
    return ctype && strncasecmp(ctype, mp, sizeof(mp) - 1) == 0;
}

/* The client's file name as a safe base name: the part after the last
 * slash or backslash, without control characters, leading dots and spaces
 * and trailing spaces, at most UPLOAD_NAME_MAX bytes cut at a character
 * boundary.  Invalid UTF-8 gives "". */
static const char *safe_name(struct arena *a, const char *raw)
{
    const char *base = raw;
    for (const char *p = raw; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t len = strlen(base);
    char *out = text_utf8_valid(base, len) ? arena_alloc(a, len + 1) : NULL;
    if (!out)
        return "";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)base[i];
        if (c >= 0x20 && c != 0x7f && (n > 0 || (c != '.' && c != ' ')))
            out[n++] = (char)c;
    }
    if (n > UPLOAD_NAME_MAX) {
        n = UPLOAD_NAME_MAX;
        while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80)
            n--; /* out[n] continues a character: cut before its lead byte */
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    return out;
}

static enum MHD_Result fail(struct upload_state *u, enum kr_status code, const char *msg)
{
    if (u->err.code == KR_OK)
        kr_error_set(&u->err, code, "%s", msg);
    return MHD_NO;
}

static struct upload_part *new_part(struct http_request *req, const char *key, const char *filename,
                                    const char *ctype)
{
    struct upload_state *u = req->upload;
    if (u->count == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 16;
        struct upload_part *grown = arena_alloc(req->arena, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        if (u->count)
            memcpy(grown, u->parts, u->count * sizeof(*grown));
        u->parts = grown;
        u->cap = cap;
    }
    struct upload_part *p = &u->parts[u->count++];
    memset(p, 0, sizeof(*p));
    p->pub.field = arena_strdup(req->arena, key ? key : "");
    p->pub.filename = filename ? safe_name(req->arena, filename) : NULL;
    p->pub.content_type = arena_strdup(req->arena, ctype ? ctype : "application/octet-stream");
    p->is_file = filename != NULL;
    return p->pub.field && p->pub.content_type ? p : NULL;
}

static enum MHD_Result file_data(struct http_request *req, struct upload_part *p, const char *data,
                                 size_t size)
{
    struct upload_state *u = req->upload;
    if (size > 0 && !p->writer && !p->pub.too_large && p->pub.blob.size == 0) {
        if (++u->files > u->limits.max_files)
            return fail(u, KR_ERR_TOO_LARGE, "too many files in one upload");
        if (blob_writer_begin(req->server->blobs, u->limits.max_file, &p->writer, &u->err))
            return MHD_NO;
    }
    if (!p->writer || size == 0)
        return MHD_YES; /* cut off: drain the rest of this part */
    struct kr_error err;
    int rc = blob_writer_write(p->writer, data, size, &err);
    if (rc == KR_ERR_TOO_LARGE) {
        blob_writer_abort(p->writer);
        p->writer = NULL;
        p->pub.too_large = true;
        p->pub.blob.size = u->limits.max_file;
        return MHD_YES;
    }
    if (rc) {
        u->err = err;
        return MHD_NO;
    }
    p->pub.blob.size += (int64_t)size;
    return MHD_YES;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind;
    (void)transfer_encoding;
    struct http_request *req = cls;
    struct upload_state *u = req->upload;
    u->total += (int64_t)size;
    if (u->total > u->limits.max_total)
        return fail(u, KR_ERR_TOO_LARGE, "the upload is larger than allowed");
    struct upload_part *p = u->count ? &u->parts[u->count - 1] : NULL;
    /* A part whose first call carried no data is continued, not repeated. */
    bool fresh = p && strcmp(p->pub.field, key ? key : "") == 0 &&
                 (p->is_file ? !p->writer && !p->pub.too_large : req->body.len == p->value_off);
    if (!p || (off == 0 && !fresh)) {
        if (u->count >= HTTP_MAX_FIELDS + u->limits.max_files)
            return fail(u, KR_ERR_TOO_LARGE, "too many fields in the form");
        if (p && !p->is_file && buf_append(&req->body, "", 1))
            return fail(u, KR_ERR_TOO_LARGE, "the form's text fields are too long");
        p = new_part(req, key, filename, content_type);
        if (!p)
            return fail(u, KR_ERR_NOMEM, "out of memory");
        p->value_off = req->body.len;
    }
    if (p->is_file)
        return file_data(req, p, data, size);
    if (buf_append(&req->body, data, size))
        return fail(u, KR_ERR_TOO_LARGE, "the form's text fields are too long");
    return MHD_YES;
}

/* ---- Life cycle (called from server.c) ------------------------------------------- */

int http_upload_begin(struct http_request *req, struct kr_error *err)
{
    const struct route_info *route = req->match.route;
    if (!is_multipart(http_header(req, "Content-Type")))
        return KR_OK;
    if (!route->uploads)
        return kr_error_set(err, KR_ERR_INVALID, "this address does not accept file uploads");
    if (!req->server->blobs)
        return kr_error_set(err, KR_ERR_INTERNAL, "no file store configured for uploads");
    const struct kr_config *cfg = req->server->cfg;
    struct upload_state *u = arena_zalloc(req->arena, sizeof(*u));
    if (!u)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    u->limits = route->upload;
    if (!u->limits.max_file)
        u->limits.max_file = (int64_t)cfg->upload_max_file_size;
    if (!u->limits.max_total)
        u->limits.max_total = (int64_t)cfg->upload_max_request_size;
    if (!u->limits.max_files)
        u->limits.max_files = cfg->upload_max_files;
    req->upload = u;
    u->pp = MHD_create_post_processor(req->conn, UPLOAD_PP_BUFFER, on_part, req);
    if (!u->pp)
        return kr_error_set(err, KR_ERR_INVALID, "the multipart body has no valid boundary");
    return KR_OK;
}

int64_t http_upload_max_total(const struct http_request *req)
{
    const struct route_info *route = req->match.route;
    if (!route || !route->uploads || !is_multipart(http_header(req, "Content-Type")))
        return (int64_t)req->server->cfg->max_body_size;
    return route->upload.max_total ? route->upload.max_total
                                   : (int64_t)req->server->cfg->upload_max_request_size;
}

int http_upload_feed(struct http_request *req, const char *data, size_t len)
{
    struct upload_state *u = req->upload;
    if (u->err.code != KR_OK)
        return u->err.code;
    if (MHD_post_process(u->pp, data, len) != MHD_YES && u->err.code == KR_OK)
        kr_error_set(&u->err, KR_ERR_INVALID, "the multipart body is malformed");
    return u->err.code;
}

/* Text parts become req->form; file parts are finished and listed. */
static int collect(struct http_request *req, struct kr_error *err)
{
    struct upload_state *u = req->upload;
    size_t texts = 0;
    u->list = arena_alloc(req->arena, (u->files + 1) * sizeof(*u->list));
    req->form.items = arena_alloc(req->arena, (u->count + 1) * sizeof(*req->form.items));
    if (!u->list || !req->form.items)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < u->count; i++) {
        struct upload_part *p = &u->parts[i];
        if (!p->is_file) {
            const char *value = buf_cstr(&req->body) + p->value_off;
            size_t len = strlen(value);
            if (!text_utf8_valid(p->pub.field, strlen(p->pub.field)) ||
                !text_utf8_valid(value, len))
                return kr_error_set(
                    err, KR_ERR_INVALID, "field '%s' is not valid UTF-8 text",
                    text_utf8_valid(p->pub.field, strlen(p->pub.field)) ? p->pub.field : "?");
            req->form.items[texts++] =
                (struct text_pair){.name = p->pub.field, .value = value, .value_len = len};
            continue;
        }
        if (!p->writer && !p->pub.too_large) {
            if (p->pub.filename[0] == '\0')
                continue; /* a file input left empty */
            int rc = blob_writer_begin(req->server->blobs, 1, &p->writer, err);
            if (rc)
                return rc; /* an empty file with a name: an empty blob */
        }
        if (p->writer && blob_writer_finish(p->writer, &p->pub.blob, err) != KR_OK)
            return KR_ERR_IO;
        p->pub.path = p->writer ? blob_writer_path(p->writer) : NULL;
        u->list[u->list_count++] = p->pub;
    }
    req->form.count = texts;
    return KR_OK;
}

int http_upload_finish(struct http_request *req, struct kr_error *err)
{
    struct upload_state *u = req->upload;
    if (u->count && !u->parts[u->count - 1].is_file && buf_append(&req->body, "", 1))
        kr_error_set(&u->err, KR_ERR_TOO_LARGE, "the form's text fields are too long");
    if (MHD_destroy_post_processor(u->pp) != MHD_YES && u->err.code == KR_OK)
        kr_error_set(&u->err, KR_ERR_INVALID, "the multipart body is incomplete");
    u->pp = NULL;
    if (u->err.code != KR_OK) {
        *err = u->err;
        return u->err.code;
    }
    return collect(req, err);
}

void http_upload_release(struct http_request *req)
{
    struct upload_state *u = req->upload;
    if (!u)
        return;
    if (u->pp)
        (void)MHD_destroy_post_processor(u->pp);
    for (size_t i = 0; i < u->count; i++)
        blob_writer_abort(u->parts[i].writer);
    req->upload = NULL;
}

/* ---- The handler's side (http.h) ---------------------------------------------- */

const struct http_upload *http_uploads(const struct http_request *req, size_t *n)
{
    const struct upload_state *u = req->upload;
    *n = u ? u->list_count : 0;
    return u ? u->list : NULL;
}

int http_upload_keep(struct http_request *req, size_t i, struct kr_error *err)
{
    struct upload_state *u = req->upload;
    if (!u || i >= u->list_count || u->list[i].too_large)
        return kr_error_set(err, KR_ERR_INVALID, "no such upload to keep");
    /* Find the part behind list entry i (same order, files only). */
    for (size_t k = 0; k < u->count; k++) {
        struct upload_part *p = &u->parts[k];
        if (!p->is_file || p->pub.path != u->list[i].path || !p->writer)
            continue;
        struct blob_writer *w = p->writer;
        p->writer = NULL;
        u->list[i].path = NULL;
        return blob_writer_commit(w, err);
    }
    return KR_OK; /* kept before: the blob is in the store */
}

int http_route_upload(struct http_server *server, unsigned methods, const char *pattern,
                      http_handler handler, unsigned flags, const struct http_upload_limits *limits,
                      struct kr_error *err)
{
    static const struct http_upload_limits defaults = {0, 0, 0};
    int rc = http_route(server, methods, pattern, handler, flags, err);
    if (rc == KR_OK)
        router_last_accepts_uploads(server->router, limits ? limits : &defaults);
    return rc;
}

void http_server_set_blobs(struct http_server *server, struct blob_store *blobs)
{
    server->blobs = blobs;
}

struct blob_store *http_blobs(const struct http_request *req)
{
    return req->server->blobs;
}
