/*
 * webhook.c - the webhook outbox: queueing, signing, delivering with
 * libcurl, purging, and the sender thread (see webhook.h).
 */
#include "webhook/webhook.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "core/log.h"
#include "core/util.h"

/* ---- Checks ------------------------------------------------------------------------- */

int webhook_url_check(const char *url, struct kr_error *err)
{
    size_t len = url ? strlen(url) : 0;
    const char *host = NULL;
    if (len > 7 && strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (len > 8 && strncmp(url, "https://", 8) == 0)
        host = url + 8;
    if (!host || len > WEBHOOK_URL_MAX)
        return kr_error_set(err, KR_ERR_INVALID,
                            "webhook URL must be http:// or https:// and at most %d bytes",
                            WEBHOOK_URL_MAX);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return kr_error_set(err, KR_ERR_INVALID,
                                "webhook URL must not hold spaces or control characters");
    size_t authority = strcspn(host, "/?#");
    if (authority == 0 || host[0] == ':')
        return kr_error_set(err, KR_ERR_INVALID, "webhook URL has no host");
    if (memchr(host, '@', authority))
        return kr_error_set(err, KR_ERR_INVALID,
                            "webhook URL must not carry a user name or password");
    return KR_OK;
}

const char *webhook_secret_of(const struct kr_config *cfg)
{
    if (!cfg)
        return "";
    return cfg->webhook_secret[0] ? cfg->webhook_secret : cfg->forms_webhook_secret;
}

void webhook_signature(const char *secret, const void *body, size_t len, char out[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    kr_hex_encode(mac, sizeof(mac), out);
}

static bool text_ok(const char *s, size_t max, const char *allowed)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > max)
        return false;
    if (allowed)
        return strspn(s, allowed) == len;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* ---- Queueing ----------------------------------------------------------------------- */

int webhook_enqueue(struct db_conn *conn, const struct webhook_delivery *d, int64_t *id,
                    struct kr_error *err)
{
    static const char name[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
    if (!text_ok(d->source, 32, name))
        return kr_error_set(err, KR_ERR_INVALID, "webhook: bad source");
    if (!text_ok(d->ref, 64, NULL))
        return kr_error_set(err, KR_ERR_INVALID, "webhook: bad reference");
    if (!text_ok(d->event, 64, name))
        return kr_error_set(err, KR_ERR_INVALID, "webhook: bad event name");
    int rc = webhook_url_check(d->url, err);
    if (rc)
        return rc;
    size_t len = d->body ? strlen(d->body) : 0;
    if (len > WEBHOOK_BODY_MAX)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "webhook body over %d bytes", WEBHOOK_BODY_MAX);
    json_t *j = len ? json_loadb(d->body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    bool object = json_is_object(j);
    json_decref(j);
    if (!object)
        return kr_error_set(err, KR_ERR_INVALID, "webhook body must be a JSON object");
    int64_t now = kr_now();
    struct db_stmt *st;
    rc = db_query(conn,
                  "INSERT INTO webhook_outbox (source, ref, event, url, body, next_at, created_at) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                  DB_PARAMS(DB_TEXT(d->source), DB_TEXT(d->ref), DB_TEXT(d->event), DB_TEXT(d->url),
                            DB_TEXT(d->body), DB_INT(now)),
                  &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW && id)
        *id = db_column_int64(st, 0);
    db_finish(st);
    return rc == DB_ROW ? KR_OK : rc < 0 ? rc : kr_error_set(err, KR_ERR_DB, "no id returned");
}

/* ---- Delivering --------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* POST body to url; KR_OK for a 2xx answer, else why says what failed. */
static int post(int64_t id, const char *event, const char *url, const char *body,
                const char *secret, char *why, size_t size)
{
    pthread_once(&curl_once, curl_init);
    char sig[65], h_sig[100], h_event[100], h_id[60];
    webhook_signature(secret, body, strlen(body), sig);
    snprintf(h_sig, sizeof(h_sig), "X-Kreisel-Signature: sha256=%s", sig);
    snprintf(h_event, sizeof(h_event), "X-Kreisel-Event: %s", event);
    snprintf(h_id, sizeof(h_id), "X-Kreisel-Delivery: %" PRId64, id);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(why, size, "curl init failed");
        return KR_ERR_NOMEM;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, h_sig);
    h = curl_slist_append(h, h_event);
    h = curl_slist_append(h, h_id);
    h = curl_slist_append(h, "User-Agent: Kreisel-Webhook/1");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        snprintf(why, size, "%s", curl_easy_strerror(cc));
        return KR_ERR_IO;
    }
    if (status < 200 || status > 299) {
        snprintf(why, size, "HTTP status %ld", status);
        return KR_ERR_IO;
    }
    return KR_OK;
}

static int64_t backoff(int64_t attempts)
{
    int64_t delay = WEBHOOK_RETRY_FIRST;
    for (int64_t i = 1; i < attempts && delay < WEBHOOK_RETRY_CAP; i++)
        delay *= 2;
    return delay < WEBHOOK_RETRY_CAP ? delay : WEBHOOK_RETRY_CAP;
}

struct due {
    int64_t id, attempts, next_at;
    char *event, *url, *body;
};

/* Claim d: move next_at ahead if nobody else did; false when another
 * process has it. */
static int claim(struct db_conn *conn, const struct due *d, int64_t now, bool *mine,
                 struct kr_error *err)
{
    int64_t changed = 0;
    int rc =
        db_exec(conn,
                "UPDATE webhook_outbox SET next_at = $3 WHERE id = $1 AND state = 'queued' "
                "AND next_at = $2",
                DB_PARAMS(DB_INT(d->id), DB_INT(d->next_at), DB_INT(now + WEBHOOK_TIMEOUT + 5)),
                &changed, err);
    *mine = rc == KR_OK && changed == 1;
    return rc;
}

static int record(struct db_conn *conn, const struct due *d, bool ok, const char *why,
                  struct kr_error *err)
{
    int64_t now = kr_now(), attempts = d->attempts + 1;
    const char *state = ok ? "sent" : attempts >= WEBHOOK_MAX_ATTEMPTS ? "failed" : "queued";
    bool finished = strcmp(state, "queued") != 0;
    if (!ok)
        kr_log(finished ? KR_LOG_ERROR : KR_LOG_WARN, finished ? "webhook_failed" : "webhook_retry",
               "delivery %" PRId64 " (%s): %s", d->id, d->url, why);
    return db_exec(conn,
                   "UPDATE webhook_outbox SET state = $2, attempts = $3, next_at = $4, "
                   "last_error = $5, sent_at = $6 WHERE id = $1",
                   DB_PARAMS(DB_INT(d->id), DB_TEXT(state), DB_INT(attempts),
                             DB_INT(now + backoff(attempts)), ok ? DB_NULL : DB_TEXT(why),
                             finished ? DB_INT(now) : DB_NULL),
                   NULL, err);
}

int webhook_send_due(struct db_conn *conn, const char *secret, unsigned max, unsigned *sent,
                     struct kr_error *err)
{
    struct due due[32];
    size_t n = 0;
    if (sent)
        *sent = 0;
    if (!secret || !secret[0])
        return KR_OK;
    if (max > 32)
        max = 32;
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT id, attempts, next_at, event, url, body FROM webhook_outbox "
                      "WHERE state = 'queued' AND next_at <= $1 ORDER BY next_at, id LIMIT $2",
                      DB_PARAMS(DB_INT(kr_now()), DB_INT(max)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW) {
        struct due *d = &due[n++];
        d->id = db_column_int64(st, 0);
        d->attempts = db_column_int64(st, 1);
        d->next_at = db_column_int64(st, 2);
        d->event = strdup(db_column_text(st, 3));
        d->url = strdup(db_column_text(st, 4));
        d->body = strdup(db_column_text(st, 5));
    }
    db_finish(st);
    for (size_t i = 0; i < n && rc == KR_OK; i++) {
        struct due *d = &due[i];
        bool mine = false;
        if (!d->event || !d->url || !d->body) {
            rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
            break;
        }
        rc = claim(conn, d, kr_now(), &mine, err);
        if (rc || !mine)
            continue;
        char why[256] = "";
        bool ok = post(d->id, d->event, d->url, d->body, secret, why, sizeof(why)) == KR_OK;
        rc = record(conn, d, ok, why, err);
        if (rc == KR_OK && ok && sent)
            (*sent)++;
    }
    for (size_t i = 0; i < n; i++) {
        free(due[i].event);
        free(due[i].url);
        free(due[i].body);
    }
    return rc;
}

/* ---- Upkeep ------------------------------------------------------------------------- */

int webhook_purge(struct db_conn *conn, int64_t before, int64_t *purged, struct kr_error *err)
{
    return db_exec(conn,
                   "UPDATE webhook_outbox SET body = '' WHERE state <> 'queued' AND sent_at < $1 "
                   "AND body <> ''",
                   DB_PARAMS(DB_INT(before)), purged, err);
}

int webhook_stats(struct db_conn *conn, struct webhook_stats *out, struct kr_error *err)
{
    memset(out, 0, sizeof(*out));
    struct db_stmt *st;
    int rc =
        db_query(conn, "SELECT state, COUNT(*), MIN(created_at) FROM webhook_outbox GROUP BY state",
                 NULL, 0, &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW) {
        const char *state = db_column_text(st, 0);
        int64_t count = db_column_int64(st, 1);
        if (strcmp(state, "queued") == 0) {
            out->queued = count;
            out->oldest_queued_at = db_column_int64(st, 2);
        } else if (strcmp(state, "sent") == 0) {
            out->sent = count;
        } else {
            out->failed = count;
        }
    }
    db_finish(st);
    return rc;
}

int webhook_metrics_prometheus(struct db_conn *conn, struct arena *a, struct buf *out,
                               struct kr_error *err)
{
    (void)a;
    struct webhook_stats w;
    int rc = webhook_stats(conn, &w, err);
    if (rc)
        return rc;
    int64_t age = w.oldest_queued_at ? kr_now() - w.oldest_queued_at : 0;
    if (buf_printf(out,
                   "# HELP kreisel_webhook_deliveries Webhook deliveries in the outbox by state.\n"
                   "# TYPE kreisel_webhook_deliveries gauge\n"
                   "kreisel_webhook_deliveries{state=\"queued\"} %" PRId64 "\n"
                   "kreisel_webhook_deliveries{state=\"sent\"} %" PRId64 "\n"
                   "kreisel_webhook_deliveries{state=\"failed\"} %" PRId64 "\n"
                   "# HELP kreisel_webhook_oldest_queued_seconds Age of the oldest queued "
                   "delivery (0: none).\n"
                   "# TYPE kreisel_webhook_oldest_queued_seconds gauge\n"
                   "kreisel_webhook_oldest_queued_seconds %" PRId64 "\n",
                   w.queued, w.sent, w.failed, age > 0 ? age : 0) != 0)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return KR_OK;
}

/* ---- The thread --------------------------------------------------------------------- */

#define PURGE_INTERVAL 3600

struct webhook_sender {
    const struct kr_config *cfg;
    struct db *pool;
    unsigned interval;
    int64_t last_purge;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

/* One round; true when the batch was full (more may be due). */
static bool run_once(struct webhook_sender *s)
{
    struct kr_error err;
    kr_error_clear(&err);
    struct db_conn *conn;
    if (db_acquire(s->pool, &conn, &err) != KR_OK) {
        kr_log_error("webhook_sender_failed", &err);
        return false;
    }
    unsigned sent = 0;
    if (webhook_send_due(conn, webhook_secret_of(s->cfg), 32, &sent, &err) != KR_OK)
        kr_log_error("webhook_sender_failed", &err);
    int64_t now = kr_now(), purged = 0;
    if (now - s->last_purge >= PURGE_INTERVAL) {
        if (webhook_purge(conn, now - (int64_t)s->cfg->webhook_purge_after, &purged, &err))
            kr_log_error("webhook_purge_failed", &err);
        else if (purged)
            kr_log(KR_LOG_INFO, "webhook_purged", "%" PRId64 " old bodies emptied", purged);
        s->last_purge = now;
    }
    db_release(conn);
    return sent == 32;
}

static void *sender_main(void *arg)
{
    struct webhook_sender *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        bool more = run_once(s);
        pthread_mutex_lock(&s->lock);
        if (more)
            continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->interval;
        while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int webhook_sender_start(const struct kr_config *cfg, struct db *pool, unsigned interval,
                         struct webhook_sender **out, struct kr_error *err)
{
    struct webhook_sender *s = calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    s->pool = pool;
    s->interval = interval ? interval : 2;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return kr_error_set(err, KR_ERR_INTERNAL, "cannot start the webhook sender");
    }
    *out = s;
    return KR_OK;
}

void webhook_sender_stop(struct webhook_sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
