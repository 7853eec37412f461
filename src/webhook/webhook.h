/*
 * webhook.h - outgoing webhooks: a transactional outbox and a signed sender.
 *
 * A module that tells another system (a specialist procedure, the office's
 * own software) about an event calls webhook_enqueue() inside its own
 * transaction, so that the delivery goes out if and only if the change
 * commits.  The background sender (webhook_sender_start, run by
 * `kreisel serve`) POSTs the stored JSON body with the headers
 *
 *   Content-Type: application/json
 *   X-Kreisel-Event: <event>             e.g. form.submitted, case.state
 *   X-Kreisel-Delivery: <id>             the same on every attempt
 *   X-Kreisel-Signature: sha256=<hex>    HMAC-SHA256(webhook_secret, body)
 *
 * Any 2xx answer is success.  Everything else (other status, refused,
 * timeout after WEBHOOK_TIMEOUT seconds) is retried with exponential
 * backoff (30 s, 1 min, 2 min, ..., capped at WEBHOOK_RETRY_CAP) until
 * WEBHOOK_MAX_ATTEMPTS attempts failed; then the delivery is "failed" and
 * logged (webhook_failed).  Delivery is at least once: a receiver that
 * must not act twice deduplicates on X-Kreisel-Delivery.  Redirects are
 * not followed; only http and https are spoken.
 *
 * Each delivery is claimed with a lease (next_at moved WEBHOOK_TIMEOUT + 5 s
 * ahead, conditional on its old value) before the POST, so that several
 * processes sharing one database do not send it at the same time.
 *
 * Storage: table webhook_outbox (migrations/0016_webhook.sql), one row per
 * delivery: source module, reference (submission or case number), event,
 * URL, body, state (queued, sent, failed), attempts, times, last error.
 * Bodies hold personal data (the answers of a form); the sender empties
 * the bodies of deliveries finished more than webhook_purge_after ago
 * (config, default 30 days); the row stays as the record.
 *
 * Configuration: webhook_secret (the HMAC key; forms_webhook_secret is its
 * older name and still read), webhook_purge_after.  Modules that route to
 * a webhook refuse to start without a key (webhook_secret_of).
 *
 * Thread safety: every function may be called from any thread with a
 * connection that thread holds.
 */
#ifndef KR_WEBHOOK_WEBHOOK_H
#define KR_WEBHOOK_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "db/db.h"

#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_BODY_MAX (1024 * 1024) /* bytes of JSON */
#define WEBHOOK_MAX_ATTEMPTS 10
#define WEBHOOK_RETRY_FIRST 30 /* seconds */
#define WEBHOOK_RETRY_CAP 3600 /* seconds */
#define WEBHOOK_TIMEOUT 10     /* seconds per attempt */

/* KR_OK if url is an absolute http:// or https:// URL with a host, at most
 * WEBHOOK_URL_MAX bytes, without spaces, control characters or user
 * info; else KR_ERR_INVALID saying why (for start errors). */
int webhook_url_check(const char *url, struct kr_error *err) KR_MUST_CHECK;

/* The signing key of cfg: webhook_secret, else forms_webhook_secret; ""
 * when neither is set. */
const char *webhook_secret_of(const struct kr_config *cfg);

/* HMAC-SHA256 of body with secret as 64 lower-case hex digits and a NUL
 * (what receivers compute to check X-Kreisel-Signature). */
void webhook_signature(const char *secret, const void *body, size_t len, char out[65]);

/* One delivery to queue. */
struct webhook_delivery {
    const char *source; /* the module: "forms", "workflow" (1-32 bytes) */
    const char *ref;    /* what it is about: submission or case number (1-64) */
    const char *event;  /* "form.submitted", "case.state" (1-64, a-z 0-9 . _ -) */
    const char *url;    /* see webhook_url_check */
    const char *body;   /* JSON text, at most WEBHOOK_BODY_MAX bytes */
};

/*
 * Queue d, due now.  Joins the caller's transaction when conn is in one.
 * KR_ERR_INVALID for a bad URL, event, source or ref, or a body that is
 * not a JSON object; KR_ERR_TOO_LARGE for a body over WEBHOOK_BODY_MAX;
 * KR_ERR_DB... from the database.  Nothing is stored on error.  *id (may
 * be NULL) gets the delivery id (X-Kreisel-Delivery).
 */
int webhook_enqueue(struct db_conn *conn, const struct webhook_delivery *d, int64_t *id,
                    struct kr_error *err) KR_MUST_CHECK;

/*
 * Send up to max (at most 32) due deliveries now (the sender thread and
 * tests), signed with secret; *sent (may be NULL) counts successes.  conn
 * must not be in a transaction (the POST runs outside of one).  An error
 * only when the database failed; delivery problems are recorded on the
 * rows.  With secret "" nothing is sent (KR_OK, *sent 0).
 */
int webhook_send_due(struct db_conn *conn, const char *secret, unsigned max, unsigned *sent,
                     struct kr_error *err) KR_MUST_CHECK;

/* Empty the bodies of deliveries sent or failed before `before`;
 * *purged (may be NULL) gets how many. */
int webhook_purge(struct db_conn *conn, int64_t before, int64_t *purged,
                  struct kr_error *err) KR_MUST_CHECK;

/* The queue for /metrics and support. */
struct webhook_stats {
    int64_t queued, sent, failed;
    int64_t oldest_queued_at; /* created_at of the oldest queued; 0 when none */
};
int webhook_stats(struct db_conn *conn, struct webhook_stats *out,
                  struct kr_error *err) KR_MUST_CHECK;

/* The queue as Prometheus gauges (kreisel_webhook_deliveries{state=...},
 * kreisel_webhook_oldest_queued_seconds) appended to out; fits
 * http_metrics_source (a is unused). */
int webhook_metrics_prometheus(struct db_conn *conn, struct arena *a, struct buf *out,
                               struct kr_error *err) KR_MUST_CHECK;

/*
 * The background sender of `serve`: every interval seconds (default 2)
 * sends due deliveries with a connection of pool, and purges old bodies
 * hourly.  With no key configured it still runs (and purges) but sends
 * nothing.  cfg and pool must outlive it; *out is owned by the caller:
 * webhook_sender_stop() finishes the delivery in progress, joins the
 * thread and frees it (NULL is fine).
 */
struct webhook_sender;
int webhook_sender_start(const struct kr_config *cfg, struct db *pool, unsigned interval,
                         struct webhook_sender **out, struct kr_error *err) KR_MUST_CHECK;
void webhook_sender_stop(struct webhook_sender *s);

#endif
