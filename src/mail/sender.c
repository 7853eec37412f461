/*
 * sender.c - the background thread of `kreisel serve` that sends queued
 * mail: like the HTTP server's housekeeper, a loop that works, then waits
 * on a condition variable for the poll interval, a wake-up or the stop.
 */
#include "mail/mail_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/log.h"
#include "core/util.h"

#define SEND_BATCH 20
#define PURGE_INTERVAL 3600 /* seconds */
#define SOON_MS 300         /* after a wake-up from inside a transaction */

struct mail_sender {
    const struct kr_config *cfg;
    struct db *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    bool stop, wake;
    atomic_bool stopping; /* stop, readable without the lock */
    int64_t soon_ns;      /* monotonic time to run at, 0 for none */
    int64_t last_purge;
};

/* The sender of this process, for mail_sender_wake(NULL). */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mail_sender *current;

static void signal_sender(struct mail_sender *s, bool soon)
{
    pthread_mutex_lock(&s->lock);
    if (soon) {
        int64_t at = kr_monotonic_ns() + (int64_t)SOON_MS * 1000000;
        if (!s->soon_ns || at < s->soon_ns)
            s->soon_ns = at;
    } else {
        s->wake = true;
    }
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void mail_sender_wake(struct mail_sender *s)
{
    if (s) {
        signal_sender(s, false);
        return;
    }
    pthread_mutex_lock(&current_lock);
    if (current)
        signal_sender(current, false);
    pthread_mutex_unlock(&current_lock);
}

void mail_sender_wake_soon(void)
{
    pthread_mutex_lock(&current_lock);
    if (current)
        signal_sender(current, true);
    pthread_mutex_unlock(&current_lock);
}

/* One round: send what is due, purge old bodies now and then.  Returns
 * true when the batch was full (more may be waiting). */
static bool run_once(struct mail_sender *s)
{
    struct kr_error err;
    kr_error_clear(&err);
    struct db_conn *conn;
    if (db_acquire(s->db, &conn, &err) != KR_OK) {
        kr_log_error("mail_sender_failed", &err);
        return false;
    }
    unsigned sent = 0;
    if (mail_send_due_until(conn, s->cfg, SEND_BATCH, &s->stopping, &sent, &err) != KR_OK)
        kr_log_error("mail_sender_failed", &err);
    int64_t now = kr_now();
    if (!atomic_load(&s->stopping) && now - s->last_purge >= PURGE_INTERVAL) {
        int64_t purged = 0;
        if (mail_purge(conn, s->cfg, now, &purged, &err) != KR_OK)
            kr_log_error("mail_purge_failed", &err);
        else if (purged > 0)
            kr_log(KR_LOG_INFO, "mail_purged", "%lld old messages emptied", (long long)purged);
        s->last_purge = now;
    }
    db_release(conn);
    return sent == SEND_BATCH;
}

static struct timespec monotonic_at(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    return ts;
}

static void *sender_main(void *arg)
{
    struct mail_sender *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        s->wake = false;
        s->soon_ns = 0;
        pthread_mutex_unlock(&s->lock);
        bool more = run_once(s);
        pthread_mutex_lock(&s->lock);
        if (more)
            continue;
        int64_t deadline = kr_monotonic_ns() + (int64_t)s->cfg->mail_poll_interval * 1000000000;
        while (!s->stop && !s->wake) {
            int64_t until = s->soon_ns && s->soon_ns < deadline ? s->soon_ns : deadline;
            if (kr_monotonic_ns() >= until)
                break;
            struct timespec ts = monotonic_at(until);
            pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static bool curl_speaks_smtp(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    bool smtp = false, smtps = false;
    for (const char *const *p = v ? v->protocols : NULL; p && *p; p++) {
        smtp = smtp || strcmp(*p, "smtp") == 0;
        smtps = smtps || strcmp(*p, "smtps") == 0;
    }
    return smtp && smtps;
}

int mail_check_config(const struct kr_config *cfg, struct kr_error *err)
{
    struct buf from, envelope;
    buf_init(&from, 1024);
    buf_init(&envelope, 512);
    int rc = mail_sender_identity(cfg, NULL, &from, &envelope, err);
    buf_release(&from);
    buf_release(&envelope);
    if (rc)
        return rc;
    if (!curl_speaks_smtp())
        return kr_error_set(err, KR_ERR_CONFIG, "this libcurl cannot speak SMTP");
    return KR_OK;
}

int mail_sender_start(const struct kr_config *cfg, struct db *pool, struct mail_sender **out,
                      struct kr_error *err)
{
    int rc = mail_check_config(cfg, err);
    if (rc)
        return rc;
    if (!cfg->smtp_url[0])
        kr_log(KR_LOG_WARN, "mail_not_configured",
               "smtp_url is not set: mail is queued in the database but not sent");
    else if (!cfg->mail_from[0])
        kr_log(KR_LOG_INFO, "mail_from_derived",
               "mail_from is not set: sending as the county's name and noreply@ the host of "
               "public_url");
    struct mail_sender *s = calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    s->db = pool;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    mail_set_config(cfg);
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return kr_error_set(err, KR_ERR_INTERNAL, "cannot start the mail sender thread");
    }
    pthread_mutex_lock(&current_lock);
    current = s;
    pthread_mutex_unlock(&current_lock);
    kr_log(KR_LOG_INFO, "mail_sender_started", "sending %s",
           cfg->smtp_url[0] ? "through the configured relay" : "nothing (no smtp_url)");
    *out = s;
    return KR_OK;
}

void mail_sender_stop(struct mail_sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&current_lock);
    if (current == s)
        current = NULL;
    pthread_mutex_unlock(&current_lock);
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    atomic_store(&s->stopping, true);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    mail_set_config(NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
