/*
 * http_internal.h - structures shared by the files of src/http.  Nothing
 * outside src/http includes this; handlers use http.h.
 */
#ifndef KR_HTTP_INTERNAL_H
#define KR_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <microhttpd.h>

#include "accounts/accounts.h"
#include "core/buf.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "http/static.h"
#include "template/template.h"

/* Largest rendered page; a handler that produces more has a bug. */
#define HTTP_RENDER_MAX (8 * 1024 * 1024)
/* Query parameters and form fields at most. */
#define HTTP_MAX_FIELDS 200
/* Path segments at most. */
#define HTTP_MAX_SEGMENTS 64

struct http_server {
    const struct kr_config *cfg;
    struct db *db;
    const struct tpl_set *tpl;
    struct router *router;
    struct static_files *statics;
    struct metrics *metrics;
    struct MHD_Daemon *daemon;
    struct blob_store *blobs; /* for uploads; owned by the caller */
    atomic_int in_flight;
    atomic_bool stopping;
    char county_name[2][128]; /* [0] German, [1] English */
    unsigned port;

    pthread_t housekeeper;
    pthread_mutex_t hk_lock;
    pthread_cond_t hk_cond;
    bool hk_started;
    bool hk_stop;
};

/* A file body (http_send_fd): fd -1 once handed to libmicrohttpd, which
 * then closes it; otherwise an arena cleanup does. */
struct http_out_file {
    int fd;
    int64_t size;
};

struct http_header {
    struct http_header *next;
    const char *name;
    const char *value;
};

enum request_state { REQ_NEW, REQ_BODY, REQ_DONE };

struct http_request {
    struct http_server *server;
    struct MHD_Connection *conn;
    struct arena *arena;
    int64_t start_ns;
    enum request_state state;
    char request_id[17];
    const char *raw_uri; /* as received, in the arena */

    const char *method_name;
    enum http_method method; /* 0 when unknown */
    const char *path;
    char **segments;
    size_t segment_count;
    struct text_pairs query;
    struct buf body;
    size_t body_discarded;
    bool body_too_large;
    struct text_pairs form;
    struct upload_state *upload; /* multipart body in progress, or NULL */

    struct router_match match;
    unsigned route_index; /* router_count() when no route matched */
    const char *route_pattern;

    char client_ip[64];
    bool https;
    const char *lang;

    bool session_loaded;
    bool session_expired;
    bool session_failed; /* the database could not be asked */
    struct account_session session;
    bool has_session;
    struct account_user user_storage;
    const struct account_user *user;
    struct db_conn *db_conn;

    /* The response being built. */
    bool responded;
    unsigned status;
    const char *content_type;
    char *out_body;
    size_t out_len;
    bool out_static;                /* out_body is not ours to free */
    struct http_out_file *out_file; /* NULL unless http_send_fd was used */
    struct http_header *headers;
    struct http_header *cookies;
    size_t bytes_sent;
};

/* request.c */
void http_request_load_session(struct http_request *req);
const char *http_session_cookie_name(const struct http_request *req);
int http_check_csrf(struct http_request *req, struct kr_error *err);

/* response.c */
void http_respond_error(struct http_request *req, int code, const struct kr_error *err,
                        unsigned allow);
enum MHD_Result http_queue(struct http_request *req);
void http_reset_response(struct http_request *req);

/* upload.c: streamed multipart/form-data (see http_route_upload).
 * begin: after the route is known (KR_OK also when the body is not
 * multipart); feed: each body chunk (the first error's code); finish:
 * before the handler, fills req->form; release: when the request ends. */
struct upload_state;
int http_upload_begin(struct http_request *req, struct kr_error *err);
int64_t http_upload_max_total(const struct http_request *req);
int http_upload_feed(struct http_request *req, const char *data, size_t len);
int http_upload_finish(struct http_request *req, struct kr_error *err);
void http_upload_release(struct http_request *req);

/* ops.c: /healthz, /readyz, /metrics, /static, /api/v1 */
int http_ops_routes(struct http_server *server, struct kr_error *err);

#endif
