/*
 * metrics.h - request counters and latency histograms per route, rendered
 * in the Prometheus text format (version 0.0.4) for /metrics.
 *
 * Observing is lock-free (relaxed atomics), so it costs nothing noticeable
 * on the request path.  The set of routes is fixed when the server starts;
 * index router_count() collects requests that matched no route.
 */
#ifndef KR_HTTP_METRICS_H
#define KR_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "db/db.h"
#include "http/router.h"

struct metrics;

/* Slots for route_count routes plus one for "no route".  NULL on OOM. */
struct metrics *metrics_new(size_t route_count);
void metrics_free(struct metrics *m);

/* Record one finished request. */
void metrics_observe(struct metrics *m, size_t route_index, unsigned status, int64_t duration_ns);

/* Requests in flight, gauge. */
void metrics_in_flight(struct metrics *m, int delta);

/* Append the exposition text: per-route counters by status class and
 * latency histograms, requests in flight, the database pool, the mail
 * counters (mail_metrics_render), build info. */
int metrics_render(struct metrics *m, const struct router *r, struct db *db, struct buf *out);

#endif
