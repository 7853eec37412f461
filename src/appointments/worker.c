/*
 * worker.c - the thread of `serve` that releases unconfirmed bookings and
 * sends the reminders (appointments_tick), after the mail sender's
 * pattern: a loop that waits on a condition variable for the interval or
 * the stop.  Several processes on one database may run it at once: every
 * change is a conditional UPDATE, so each booking is released or reminded
 * once.
 */
#include "appointments/appointments_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"

struct appointments_worker {
    const struct kr_config *cfg;
    struct db *db;
    unsigned interval;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    bool stop;
};

static void run_once(struct appointments_worker *w)
{
    struct appointments_policy p;
    appointments_policy_from_config(w->cfg, &p);
    struct kr_error err;
    kr_error_clear(&err);
    struct db_conn *conn = NULL;
    struct arena *a = arena_new(0);
    int64_t released = 0, reminded = 0;
    int rc = a ? db_acquire(w->db, &conn, &err) : kr_error_set(&err, KR_ERR_NOMEM, "no memory");
    if (rc == KR_OK)
        rc = appointments_tick(conn, a, kr_now(), &p, &released, &reminded, &err);
    db_release(conn);
    arena_free(a);
    if (rc)
        kr_log_error("appointments_tick_failed", &err);
    else if (released || reminded)
        kr_log(KR_LOG_INFO, "appointments_tick", "%lld released, %lld reminders queued",
               (long long)released, (long long)reminded);
}

static void *worker_main(void *arg)
{
    struct appointments_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        pthread_mutex_unlock(&w->lock);
        run_once(w);
        pthread_mutex_lock(&w->lock);
        int64_t until = kr_monotonic_ns() + (int64_t)w->interval * 1000000000;
        struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
        while (!w->stop && kr_monotonic_ns() < until)
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int appointments_worker_start(const struct kr_config *cfg, struct db *pool, unsigned interval,
                              struct appointments_worker **out, struct kr_error *err)
{
    struct appointments_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    w->cfg = cfg;
    w->db = pool;
    w->interval = interval ? interval : 60;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return kr_error_set(err, KR_ERR_INTERNAL, "cannot start the appointments thread");
    }
    *out = w;
    return KR_OK;
}

void appointments_worker_stop(struct appointments_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
