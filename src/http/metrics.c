#include "http/metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/version.h"
#include "mail/mail.h"

/* Upper bounds in seconds; the +Inf bucket is implicit (the count). */
static const double bucket_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define BUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

struct route_stats {
    atomic_uint_fast64_t by_class[5]; /* 1xx .. 5xx */
    atomic_uint_fast64_t buckets[BUCKETS];
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
};

struct metrics {
    size_t count; /* routes + 1 */
    atomic_int in_flight;
    int64_t started_at;
    struct route_stats routes[];
};

struct metrics *metrics_new(size_t route_count)
{
    struct metrics *m = calloc(1, sizeof(*m) + (route_count + 1) * sizeof(struct route_stats));
    if (!m)
        return NULL;
    m->count = route_count + 1;
    m->started_at = kr_now();
    return m;
}

void metrics_free(struct metrics *m)
{
    free(m);
}

void metrics_in_flight(struct metrics *m, int delta)
{
    atomic_fetch_add_explicit(&m->in_flight, delta, memory_order_relaxed);
}

void metrics_observe(struct metrics *m, size_t route_index, unsigned status, int64_t duration_ns)
{
    if (route_index >= m->count)
        route_index = m->count - 1;
    struct route_stats *s = &m->routes[route_index];
    unsigned cls = status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add_explicit(&s->by_class[cls - 1], 1, memory_order_relaxed);
    double secs = (double)duration_ns / 1e9;
    for (size_t b = 0; b < BUCKETS; b++)
        if (secs <= bucket_bounds[b])
            atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    uint64_t us = duration_ns > 0 ? (uint64_t)duration_ns / 1000 : 0;
    atomic_fetch_add_explicit(&s->sum_us, us, memory_order_relaxed);
}

/* Label values are our own route patterns (no quotes or backslashes); the
 * escaping is for safety should that ever change. */
static void put_label(struct buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            buf_putc(out, '\\');
        if (*v == '\n')
            buf_puts(out, "\\n");
        else
            buf_putc(out, *v);
    }
}

static void render_route(struct buf *out, const char *pattern, struct route_stats *s)
{
    for (int c = 0; c < 5; c++) {
        uint64_t v = atomic_load_explicit(&s->by_class[c], memory_order_relaxed);
        if (!v)
            continue;
        buf_puts(out, "kreisel_http_requests_total{route=\"");
        put_label(out, pattern);
        buf_printf(out, "\",status=\"%dxx\"} %llu\n", c + 1, (unsigned long long)v);
    }
    uint64_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
    if (!count)
        return;
    for (size_t b = 0; b < BUCKETS; b++) {
        buf_puts(out, "kreisel_http_request_duration_seconds_bucket{route=\"");
        put_label(out, pattern);
        buf_printf(out, "\",le=\"%g\"} %llu\n", bucket_bounds[b],
                   (unsigned long long)atomic_load_explicit(&s->buckets[b], memory_order_relaxed));
    }
    buf_puts(out, "kreisel_http_request_duration_seconds_bucket{route=\"");
    put_label(out, pattern);
    buf_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)count);
    buf_puts(out, "kreisel_http_request_duration_seconds_sum{route=\"");
    put_label(out, pattern);
    buf_printf(out, "\"} %.6f\n",
               (double)atomic_load_explicit(&s->sum_us, memory_order_relaxed) / 1e6);
    buf_puts(out, "kreisel_http_request_duration_seconds_count{route=\"");
    put_label(out, pattern);
    buf_printf(out, "\"} %llu\n", (unsigned long long)count);
}

int metrics_render(struct metrics *m, const struct router *r, struct db *db, struct buf *out)
{
    buf_puts(out, "# HELP kreisel_http_requests_total HTTP requests by route and status class.\n"
                  "# TYPE kreisel_http_requests_total counter\n"
                  "# HELP kreisel_http_request_duration_seconds Time from request to response.\n"
                  "# TYPE kreisel_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->count; i++) {
        const struct route_info *ri = router_route(r, i);
        render_route(out, ri ? ri->pattern : "(none)", &m->routes[i]);
    }
    buf_printf(out,
               "# HELP kreisel_http_requests_in_flight Requests being handled.\n"
               "# TYPE kreisel_http_requests_in_flight gauge\n"
               "kreisel_http_requests_in_flight %d\n",
               atomic_load_explicit(&m->in_flight, memory_order_relaxed));

    struct db_pool_stats ps;
    db_pool_stats(db, &ps);
    buf_printf(out,
               "# HELP kreisel_db_pool_connections Database connections by state.\n"
               "# TYPE kreisel_db_pool_connections gauge\n"
               "kreisel_db_pool_connections{state=\"max\"} %u\n"
               "kreisel_db_pool_connections{state=\"open\"} %u\n"
               "kreisel_db_pool_connections{state=\"in_use\"} %u\n"
               "# HELP kreisel_db_pool_waiting Threads waiting for a connection.\n"
               "# TYPE kreisel_db_pool_waiting gauge\n"
               "kreisel_db_pool_waiting %u\n"
               "# HELP kreisel_db_pool_acquired_total Connections handed out.\n"
               "# TYPE kreisel_db_pool_acquired_total counter\n"
               "kreisel_db_pool_acquired_total %llu\n"
               "# HELP kreisel_db_pool_timeouts_total Waits for a connection that gave up.\n"
               "# TYPE kreisel_db_pool_timeouts_total counter\n"
               "kreisel_db_pool_timeouts_total %llu\n",
               ps.size, ps.open, ps.in_use, ps.waiting, (unsigned long long)ps.acquired_total,
               (unsigned long long)ps.timeouts_total);
    mail_metrics_render(out);
    buf_printf(out,
               "# HELP kreisel_build_info Version and storage backend of this process.\n"
               "# TYPE kreisel_build_info gauge\n"
               "kreisel_build_info{version=\"%s\",revision=\"%s\",backend=\"%s\"} 1\n"
               "# HELP kreisel_start_time_seconds Start of this process, Unix time.\n"
               "# TYPE kreisel_start_time_seconds gauge\n"
               "kreisel_start_time_seconds %lld\n",
               kr_version, kr_revision, db_backend_name(db), (long long)m->started_at);
    return buf_status(out);
}
