/*
 * server.c - libmicrohttpd integration: the request life cycle.
 *
 *   URI log callback   the request starts: arena, request id, raw URI
 *   access handler #1  headers are in: parse path and query, find the
 *                      route, check Content-Length; errors answer at once
 *   access handler #n  body chunks, appended up to max_body_size
 *   access handler end run the handler, queue the response
 *   completed callback access log line, metrics, free everything
 */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

/* A request body larger than the limit is drained up to this many times the
 * limit (to answer 413 politely), beyond that the connection is closed. */
#define DRAIN_FACTOR 4

static const struct {
    const char *name;
    enum http_method method;
} method_names[] = {
    {"GET", HTTP_GET},     {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},       {"PUT", HTTP_PUT},
    {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
};

static enum http_method parse_method(const char *name)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(method_names); i++)
        if (strcmp(method_names[i].name, name) == 0)
            return method_names[i].method;
    return 0;
}

/* ---- Start of a request ---------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    struct arena *a = arena_new(64u * 1024 * 1024);
    struct http_request *req = a ? arena_zalloc(a, sizeof(*req)) : NULL;
    if (!req) {
        arena_free(a);
        return NULL; /* the access handler answers 503 without a context */
    }
    req->server = s;
    req->conn = conn;
    req->arena = a;
    req->start_ns = kr_monotonic_ns();
    req->raw_uri = arena_strdup(a, uri);
    req->route_index = (unsigned)router_count(s->router);
    req->route_pattern = "(none)";
    buf_init(&req->body, s->cfg->max_body_size);
    kr_random_hex(req->request_id, 8);
    atomic_fetch_add(&s->in_flight, 1);
    metrics_in_flight(s->metrics, 1);
    return req;
}

/* MHD would percent-decode the URL in place; we keep it raw and decode
 * strictly ourselves (malformed escapes are a 400, not silently kept). */
static size_t keep_raw(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static void set_client_address(struct http_request *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(req->client_ip, sizeof(req->client_ip), "unknown");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  req->client_ip, sizeof(req->client_ip));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  req->client_ip, sizeof(req->client_ip));

    const struct kr_config *cfg = req->server->cfg;
    req->https = cfg->public_https;
    if (!kr_net_contains(cfg->trusted_proxies, cfg->trusted_proxy_count, req->client_ip))
        return;
    /* Behind trusted proxies: the client is the rightmost address of
     * X-Forwarded-For that is not itself a trusted proxy. */
    const char *xff = http_header(req, "X-Forwarded-For");
    if (xff) {
        size_t len = strlen(xff);
        while (len > 0) {
            const char *start = xff + len;
            while (start > xff && start[-1] != ',')
                start--;
            size_t n = (size_t)(xff + len - start);
            const char *t = text_trim(start, &n);
            char ip[64];
            if (n > 0 && n < sizeof(ip)) {
                memcpy(ip, t, n);
                ip[n] = '\0';
                unsigned char tmp[16];
                bool valid = inet_pton(AF_INET, ip, tmp) == 1 || inet_pton(AF_INET6, ip, tmp) == 1;
                if (!valid)
                    break;
                memcpy(req->client_ip, ip, n + 1);
                if (!kr_net_contains(cfg->trusted_proxies, cfg->trusted_proxy_count, ip))
                    break;
            }
            len = start > xff ? (size_t)(start - xff - 1) : 0;
        }
    }
    const char *proto = http_header(req, "X-Forwarded-Proto");
    if (proto)
        req->https = text_equal_nocase(proto, "https");
}

/* Split and strictly decode the path; fill req->path and segments. */
static int parse_target(struct http_request *req, struct kr_error *err)
{
    const char *uri = req->raw_uri ? req->raw_uri : "";
    if (uri[0] != '/')
        return kr_error_set(err, KR_ERR_INVALID, "the request target must be a path");
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    if (memchr(uri, '#', plen))
        return kr_error_set(err, KR_ERR_INVALID, "the request target must not hold a fragment");
    req->segments = arena_calloc(req->arena, HTTP_MAX_SEGMENTS, sizeof(char *));
    if (!req->segments)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct buf path;
    buf_init(&path, plen * 3 + 2);
    size_t pos = 1;
    int rc = KR_OK;
    while (pos <= plen && plen > 1) {
        const char *seg = uri + pos;
        const char *slash = memchr(seg, '/', plen - pos);
        size_t slen = slash ? (size_t)(slash - seg) : plen - pos;
        char *dec;
        size_t dlen;
        if (req->segment_count == HTTP_MAX_SEGMENTS) {
            rc = kr_error_set(err, KR_ERR_INVALID, "the path has too many segments");
            break;
        }
        rc = text_percent_decode(req->arena, seg, slen, 0, &dec, &dlen, err);
        if (rc) {
            kr_error_prefix(err, "path");
            break;
        }
        if (strcmp(dec, ".") == 0 || strcmp(dec, "..") == 0 || strchr(dec, '/') ||
            strchr(dec, '\\')) {
            rc = kr_error_set(err, KR_ERR_INVALID,
                              "the path must not contain '.', '..', "
                              "'/' or '\\' in a segment");
            break;
        }
        req->segments[req->segment_count++] = dec;
        buf_putc(&path, '/');
        buf_append(&path, dec, dlen);
        if (!slash)
            break;
        pos += slen + 1;
    }
    if (rc == KR_OK)
        req->path = arena_strdup(req->arena, path.len ? buf_cstr(&path) : "/");
    buf_release(&path);
    if (rc)
        return rc;
    if (!req->path)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (q) {
        rc = text_parse_urlencoded(req->arena, q + 1, strlen(q + 1), HTTP_MAX_FIELDS, &req->query,
                                   err);
        if (rc)
            kr_error_prefix(err, "query");
    }
    return rc;
}

/* The first call: decide everything that does not need the body.  Returns
 * KR_OK to go on reading, or an error already answered. */
static int begin(struct http_request *req, const char *method)
{
    struct kr_error err;
    kr_error_clear(&err);
    struct http_server *s = req->server;
    req->method_name = arena_strdup(req->arena, method);
    req->method = parse_method(method);
    set_client_address(req);

    int rc = parse_target(req, &err);
    if (rc) {
        http_respond_error(req, rc, &err, 0);
        return rc;
    }
    /* "/impressum/" -> "/impressum" for GET and HEAD. */
    if (req->segment_count > 0 && req->segments[req->segment_count - 1][0] == '\0' &&
        (req->method & (HTTP_GET | HTTP_HEAD))) {
        size_t len = strlen(req->path);
        char *target = arena_strndup(req->arena, req->path, len - 1);
        if (target && http_local_path(target) && http_redirect(req, 308, target) == KR_OK)
            return KR_ERR_NOT_FOUND;
    }

    unsigned allowed = 0;
    enum router_result r =
        router_match(s->router, req->method ? req->method : HTTP_OPTIONS << 1, req->segments,
                     req->segment_count, req->arena, &req->match, &allowed);
    if (r == ROUTER_FOUND) {
        req->route_index = req->match.route->index;
        req->route_pattern = req->match.route->pattern;
    } else if (r == ROUTER_METHOD_NOT_ALLOWED && req->method == HTTP_OPTIONS) {
        char allow[80];
        router_allow_header(allowed | HTTP_OPTIONS, allow, sizeof(allow));
        http_set_header(req, "Allow", allow);
        if (http_send(req, 204, NULL, "", 0) != KR_OK)
            req->responded = false; /* http_queue answers 500 */
        return KR_ERR_NOT_FOUND;
    } else {
        rc = r == ROUTER_NOT_FOUND
                 ? kr_error_set(&err, KR_ERR_NOT_FOUND, "no page at this address")
                 : kr_error_set(&err, KR_ERR_INVALID, "method %s not allowed", req->method_name);
        http_respond_error(req, rc, &err, r == ROUTER_METHOD_NOT_ALLOWED ? allowed : 0);
        return rc;
    }

    const char *cl = http_header(req, "Content-Length");
    int64_t length, max = http_upload_max_total(req);
    if (cl && kr_parse_int64(cl, 0, INT64_MAX, &length) == KR_OK && length > max) {
        rc = kr_error_set(&err, KR_ERR_TOO_LARGE, "the request body is larger than %lld bytes",
                          (long long)max);
        http_respond_error(req, rc, &err, 0);
        return rc;
    }
    rc = http_upload_begin(req, &err);
    if (rc)
        http_respond_error(req, rc, &err, 0);
    return rc;
}

/* ---- Dispatch ------------------------------------------------------------- */

static bool is_form(const char *content_type)
{
    if (!content_type)
        return false;
    static const char form[] = "application/x-www-form-urlencoded";
    return strncasecmp(content_type, form, sizeof(form) - 1) == 0 &&
           (content_type[sizeof(form) - 1] == '\0' || content_type[sizeof(form) - 1] == ';');
}

static bool is_api(const struct http_request *req)
{
    return strncmp(req->path, "/api/", 5) == 0;
}

/* Parse the body and check CSRF for state-changing browser requests. */
static int prepare_body(struct http_request *req, struct kr_error *err)
{
    const char *ctype = http_header(req, "Content-Type");
    if (req->upload) {
        int rc = http_upload_finish(req, err); /* the text fields become req->form */
        if (rc)
            return rc;
    } else if (req->body.len > 0 || is_form(ctype)) {
        if (is_form(ctype)) {
            int rc = text_parse_urlencoded(req->arena, buf_cstr(&req->body), req->body.len,
                                           HTTP_MAX_FIELDS, &req->form, err);
            if (rc)
                return rc;
        } else if (!is_api(req)) {
            return kr_error_set(err, KR_ERR_INVALID,
                                "unsupported content type; forms are sent as "
                                "application/x-www-form-urlencoded");
        }
    }
    bool unsafe = req->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE);
    if (unsafe && !(req->match.route->flags & HTTP_ROUTE_NO_CSRF))
        return http_check_csrf(req, err);
    return KR_OK;
}

static void dispatch(struct http_request *req)
{
    struct kr_error err;
    kr_error_clear(&err);
    int rc;
    if (req->body_too_large && req->upload)
        rc = http_upload_finish(req, &err); /* reports the upload's first error */
    else if (req->body_too_large)
        rc = kr_error_set(&err, KR_ERR_TOO_LARGE, "the request body is larger than %zu bytes",
                          req->server->cfg->max_body_size);
    else
        rc = prepare_body(req, &err);
    if (rc == KR_OK) {
        rc = req->match.route->handler(req, &err);
        if (rc == KR_OK && !req->responded)
            rc = kr_error_set(&err, KR_ERR_INTERNAL, "handler of %s set no response",
                              req->route_pattern);
    }
    /* The connection goes back to the pool before the response is sent, so
     * that slow clients never hold one. */
    db_release(req->db_conn);
    req->db_conn = NULL;
    if (rc != KR_OK) {
        if (err.code == KR_OK)
            kr_error_set(&err, rc, "request failed");
        http_reset_response(req);
        http_respond_error(req, rc, &err, 0);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    struct http_request *req = *req_cls;
    if (!req) { /* on_uri ran out of memory */
        static char msg[] = "Service temporarily overloaded.\n";
        struct MHD_Response *r =
            MHD_create_response_from_buffer(sizeof(msg) - 1, msg, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ok = MHD_queue_response(conn, 503, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (req->state == REQ_NEW) {
        req->state = REQ_BODY;
        if (begin(req, method) != KR_OK) {
            req->state = REQ_DONE;
            return http_queue(req);
        }
        return MHD_YES;
    }
    if (req->state == REQ_DONE) {
        /* Answered early; swallow what the client still sends. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0 && req->upload && !req->body_too_large) {
        /* Streamed: after the first error the rest is drained like an
         * over-long body, then dispatch answers with the error. */
        if (http_upload_feed(req, upload_data, *upload_data_size) != KR_OK)
            req->body_too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!req->body_too_large && buf_append(&req->body, upload_data, *upload_data_size))
            req->body_too_large = true;
        if (req->body_too_large) {
            req->body_discarded += *upload_data_size;
            if (req->body_discarded > DRAIN_FACTOR * req->server->cfg->max_body_size)
                return MHD_NO; /* stop reading an endless body: close */
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    req->state = REQ_DONE;
    dispatch(req);
    return http_queue(req);
}

/* ---- End of a request ----------------------------------------------------------- */

static void log_access(struct http_request *req, int64_t duration_ns)
{
    json_t *f = json_object();
    json_object_set_new(f, "request_id", json_string(req->request_id));
    json_object_set_new(f, "method", json_string(req->method_name ? req->method_name : "-"));
    json_object_set_new(f, "route", json_string(req->route_pattern));
    /* The path, not the query: queries may hold personal data. */
    json_t *path = req->path ? json_string(req->path) : NULL;
    json_object_set_new(f, "path", path ? path : json_string("-"));
    json_object_set_new(f, "status", json_integer(req->status));
    json_object_set_new(f, "duration_ms", json_real((double)duration_ns / 1e6));
    json_object_set_new(f, "bytes", json_integer((json_int_t)req->out_len));
    json_object_set_new(f, "ip", json_string(req->client_ip));
    kr_log_json(KR_LOG_INFO, "request", f);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct http_server *s = cls;
    struct http_request *req = *req_cls;
    if (!req)
        return;
    *req_cls = NULL;
    int64_t duration = kr_monotonic_ns() - req->start_ns;
    if (!req->status) /* closed before we answered (timeout, client gone) */
        req->status = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 499;
    metrics_observe(s->metrics, req->route_index, req->status, duration);
    log_access(req, duration);
    db_release(req->db_conn);
    http_upload_release(req); /* uploads not kept are deleted */
    buf_release(&req->body);
    if (req->out_body && !req->out_static)
        free(req->out_body); /* built but never handed to MHD (see http_queue) */
    arena_free(req->arena);
    metrics_in_flight(s->metrics, -1);
    atomic_fetch_sub(&s->in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    kr_log(KR_LOG_WARN, "http_library", "%s", msg);
}

/* ---- Housekeeping: expired sessions and old login attempts ---------------- */

#define HOUSEKEEPING_INTERVAL 300 /* seconds */

static void housekeeping_once(struct http_server *s)
{
    struct kr_error err;
    struct db_conn *conn;
    if (db_acquire(s->db, &conn, &err) != KR_OK) {
        kr_log_error("housekeeping_failed", &err);
        return;
    }
    struct accounts_session_policy policy = {s->cfg->session_idle_timeout,
                                             s->cfg->session_lifetime};
    int64_t removed = 0;
    if (accounts_purge(conn, &policy, 86400, &removed, &err) != KR_OK)
        kr_log_error("housekeeping_failed", &err);
    else if (removed > 0)
        kr_log(KR_LOG_INFO, "sessions_purged", "%lld expired sessions removed", (long long)removed);
    db_release(conn);
}

static void *housekeeper(void *arg)
{
    struct http_server *s = arg;
    pthread_mutex_lock(&s->hk_lock);
    while (!s->hk_stop) {
        pthread_mutex_unlock(&s->hk_lock);
        housekeeping_once(s);
        pthread_mutex_lock(&s->hk_lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += HOUSEKEEPING_INTERVAL;
        while (!s->hk_stop && pthread_cond_timedwait(&s->hk_cond, &s->hk_lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&s->hk_lock);
    return NULL;
}

/* ---- Life cycle ------------------------------------------------------------ */

static int load_county_name(struct http_server *s, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = db_acquire(s->db, &conn, err);
    if (rc)
        return rc;
    static const char *langs[2] = {"de", "en"};
    for (int i = 0; i < 2 && rc == KR_OK; i++) {
        struct arena *a = arena_new(0);
        char *name = NULL;
        rc = a ? accounts_county_name(conn, a, langs[i], &name, err) : KR_ERR_NOMEM;
        if (rc == KR_ERR_NOT_FOUND) { /* not set up yet: a neutral name */
            name = "Kreisel";
            rc = KR_OK;
        }
        if (rc == KR_OK)
            (void)snprintf(s->county_name[i], sizeof(s->county_name[i]), "%s", name);
        arena_free(a);
    }
    db_release(conn);
    return rc;
}

int http_server_new(struct http_server **out, const struct kr_config *cfg, struct db *db,
                    const struct tpl_set *tpl, struct kr_error *err)
{
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    s->db = db;
    s->tpl = tpl;
    pthread_mutex_init(&s->hk_lock, NULL);
    pthread_cond_init(&s->hk_cond, NULL);
    s->router = router_new();
    char dir[KR_CONFIG_PATH_MAX + 16];
    (void)snprintf(dir, sizeof(dir), "%s/static", cfg->share_dir);
    int rc = s->router ? static_files_load(&s->statics, dir, err)
                       : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc == KR_OK)
        rc = http_ops_routes(s, err);
    if (rc == KR_OK)
        rc = load_county_name(s, err);
    if (rc) {
        http_server_free(s);
        return rc;
    }
    *out = s;
    return KR_OK;
}

int http_route(struct http_server *server, unsigned methods, const char *pattern,
               http_handler handler, unsigned flags, struct kr_error *err)
{
    if (server->daemon)
        return kr_error_set(err, KR_ERR_INTERNAL, "routes must be added before the start");
    return router_add(server->router, methods, pattern, handler, flags, err);
}

static int bind_address(const struct kr_config *cfg, struct sockaddr_storage *ss,
                        struct kr_error *err)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, cfg->listen_host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
        return KR_OK;
    }
    if (inet_pton(AF_INET6, cfg->listen_host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->port);
        return KR_OK;
    }
    return kr_error_set(err, KR_ERR_CONFIG, "listen: '%s' is not an IP address", cfg->listen_host);
}

int http_server_start(struct http_server *s, struct kr_error *err)
{
    const struct kr_config *cfg = s->cfg;
    s->metrics = metrics_new(router_count(s->router));
    if (!s->metrics)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct sockaddr_storage ss;
    int rc = bind_address(cfg, &ss, err);
    if (rc)
        return rc;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger must be the first option, or MHD logs the others itself. */
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->request_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)cfg->max_header_size, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, keep_raw, NULL,
        MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
    if (!s->daemon)
        return kr_error_set(err, KR_ERR_IO, "cannot listen on %s:%u (in use, or not allowed)",
                            cfg->listen_host, cfg->port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    if (pthread_create(&s->housekeeper, NULL, housekeeper, s) == 0)
        s->hk_started = true;
    else
        kr_log(KR_LOG_WARN, "housekeeping_not_started", "no housekeeping thread");
    return KR_OK;
}

unsigned http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_stop(struct http_server *s)
{
    if (!s->daemon)
        return;
    atomic_store(&s->stopping, true);
    /* Stop accepting; connections already open go on. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    int64_t deadline = kr_monotonic_ns() + (int64_t)s->cfg->shutdown_timeout * 1000000000;
    int waited = 0;
    while (atomic_load(&s->in_flight) > 0 && kr_monotonic_ns() < deadline) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        waited = 1;
    }
    int left = atomic_load(&s->in_flight);
    if (left > 0)
        kr_log(KR_LOG_WARN, "shutdown_timeout", "%d requests still running; stopping anyway", left);
    else if (waited)
        kr_log(KR_LOG_INFO, "shutdown_drained", "requests in flight finished");
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (s->hk_started) {
        pthread_mutex_lock(&s->hk_lock);
        s->hk_stop = true;
        pthread_cond_signal(&s->hk_cond);
        pthread_mutex_unlock(&s->hk_lock);
        pthread_join(s->housekeeper, NULL);
        s->hk_started = false;
    }
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        http_server_stop(s);
    router_free(s->router);
    static_files_free(s->statics);
    metrics_free(s->metrics);
    pthread_mutex_destroy(&s->hk_lock);
    pthread_cond_destroy(&s->hk_cond);
    free(s);
}
