/*
 * server.h - the HTTP server's life cycle, for main.
 *
 *   http_server_new      set up: load static files, register built-in routes
 *   http_route (http.h)  modules add their routes
 *   http_server_start    bind and start the worker threads
 *   http_server_stop     graceful: stop accepting, let requests in flight
 *                        finish (up to shutdown_timeout), then stop
 *   http_server_free
 *
 * The server borrows cfg, db and tpl: they must outlive it.  Workers are
 * libmicrohttpd's thread pool with epoll; each request runs start to finish
 * on one worker with its own arena.
 */
#ifndef KR_HTTP_SERVER_H
#define KR_HTTP_SERVER_H

#include "blob/blob.h"
#include "core/config.h"
#include "core/error.h"
#include "db/db.h"
#include "template/template.h"

struct http_server;

int http_server_new(struct http_server **out, const struct kr_config *cfg, struct db *db,
                    const struct tpl_set *tpl, struct kr_error *err) KR_MUST_CHECK;

/* Bind and start.  KR_ERR_IO when the address cannot be bound. */
int http_server_start(struct http_server *server, struct kr_error *err) KR_MUST_CHECK;

/* The port actually bound (useful with listen = 127.0.0.1:0). */
unsigned http_server_port(const struct http_server *server);

/* Graceful stop; safe to call once after a successful start. */
void http_server_stop(struct http_server *server);

/* The blob store uploads are written to (blob.h); set once before start.
 * Owned by the caller, who closes it after http_server_free. */
void http_server_set_blobs(struct http_server *server, struct blob_store *blobs);

void http_server_free(struct http_server *server);

#endif
