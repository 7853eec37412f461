/*
 * ops.c - routes every Kreisel has, whatever modules are built in:
 * probes, metrics, static files and the API index.
 */
#include "http/http_internal.h"

#include <string.h>

#include "core/version.h"

/* Process up: no database, no session. */
static int healthz(struct http_request *req, struct kr_error *err)
{
    (void)err;
    return http_send(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

/* Ready for traffic: the database answers. */
static int readyz(struct http_request *req, struct kr_error *err)
{
    int rc = db_ping(req->server->db, err);
    if (rc)
        return kr_error_set(err, KR_ERR_BUSY, "database not reachable");
    return http_send(req, 200, "text/plain; charset=utf-8", "ready\n", 6);
}

static http_metrics_fn metric_sources[8];
static size_t metric_source_count;

int http_metrics_source(http_metrics_fn fn)
{
    if (metric_source_count == sizeof(metric_sources) / sizeof(metric_sources[0]))
        return KR_ERR_TOO_LARGE;
    metric_sources[metric_source_count++] = fn;
    return KR_OK;
}

static int metrics(struct http_request *req, struct kr_error *err)
{
    const struct kr_config *cfg = req->server->cfg;
    if (!kr_net_contains(cfg->metrics_allow, cfg->metrics_allow_count, req->client_ip))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "metrics are not available from this address");
    struct buf out;
    buf_init(&out, 4 * 1024 * 1024);
    int rc = metrics_render(req->server->metrics, req->server->router, req->server->db, &out);
    struct db_conn *conn = NULL;
    if (rc == KR_OK && metric_source_count)
        rc = http_db(req, &conn, err);
    for (size_t i = 0; rc == KR_OK && i < metric_source_count; i++)
        rc = metric_sources[i](conn, http_arena(req), &out, err);
    if (rc == KR_OK)
        rc = http_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf_cstr(&out),
                       out.len);
    buf_release(&out);
    return rc;
}

/* Static files from the in-memory table.  URLs with ?v=<asset version> are
 * cached for a year; others are revalidated hourly with the ETag. */
static int static_file(struct http_request *req, struct kr_error *err)
{
    const struct static_file *f = static_files_get(req->server->statics, http_param(req, "path"));
    if (!f)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such file");
    const char *v = http_query(req, "v");
    bool versioned = v && strcmp(v, static_files_version(req->server->statics)) == 0;
    http_set_header(req, "ETag", f->etag);
    http_set_header(req, "Cache-Control",
                    versioned ? "public, max-age=31536000, immutable" : "public, max-age=3600");
    const char *inm = http_header(req, "If-None-Match");
    if (inm && (strstr(inm, f->etag) || strcmp(inm, "*") == 0))
        return http_send_static(req, 304, NULL, "", 0);
    return http_send_static(req, 200, f->content_type, f->data, f->len);
}

static int api_index(struct http_request *req, struct kr_error *err)
{
    (void)err;
    json_t *body = json_pack("{s:s, s:s, s:s}", "name", "Kreisel", "version", kr_version,
                             "documentation", "/api/v1/");
    return http_json(req, 200, body);
}

int http_ops_routes(struct http_server *s, struct kr_error *err)
{
    static const struct {
        const char *pattern;
        http_handler fn;
    } routes[] = {
        {"/healthz", healthz},          {"/readyz", readyz},    {"/metrics", metrics},
        {"/static/*path", static_file}, {"/api/v1", api_index},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc =
            http_route(s, HTTP_GET, routes[i].pattern, routes[i].fn, HTTP_ROUTE_NO_SESSION, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}
