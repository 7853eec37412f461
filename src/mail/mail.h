/*
 * mail.h - outgoing e-mail: a queue in the database and an SMTP sender.
 *
 * A module that wants to send mail calls mail_enqueue() with the message;
 * the row is written in the caller's transaction, so that a mail goes out
 * if and only if the caller's change commits (transactional outbox).  The
 * background sender (mail_sender_start, run by `kreisel serve`) delivers
 * queued messages over SMTP with libcurl; temporary failures are retried
 * with exponential backoff, permanent ones are kept as failed with the
 * server's reply.  A message is never lost: it stays in the queue until a
 * server accepted it (status "sent") or it was given up ("failed").  The
 * delivery is at least once: a process that dies between the server's
 * "250 OK" and the update of the row sends that message again later.
 *
 * Messages are plain text (text/plain; charset=utf-8) with optional
 * attachments (multipart/mixed), built with libcurl's MIME API when sent.
 * Headers: From (config mail_from), To, Subject (RFC 2047 when not ASCII),
 * Date (the time of mail_enqueue), Message-ID (fixed at mail_enqueue, the
 * same on every attempt), MIME-Version, Auto-Submitted: auto-generated.
 *
 * Storage: the parts (recipient, subject, text; attachments as blobs), not
 * the encoded message: tables mail_message and mail_attachment
 * (migrations/0004_mail.sql).  Sent and failed messages hold personal data;
 * their recipient, subject, text and attachments are removed
 * mail_purge_after (config) after they were finished; the row with status,
 * times and Message-ID stays for support questions ("was it sent?").
 *
 * Configuration (kreisel.conf, docs/mail.md): smtp_url (empty: mail is
 * queued but not sent), smtp_user, smtp_password, smtp_tls, smtp_ca_file,
 * smtp_timeout, mail_from, mail_max_bytes, mail_retry_first,
 * mail_retry_max_age, mail_purge_after, mail_poll_interval.
 *
 * Thread safety: every function may be called from any thread with a
 * connection that thread holds.
 */
#ifndef KR_MAIL_MAIL_H
#define KR_MAIL_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "db/db.h"

/* Limits that mail_enqueue checks besides mail_max_bytes. */
#define MAIL_ADDRESS_MAX 254  /* RFC 5321 path limit minus the brackets */
#define MAIL_SUBJECT_MAX 400  /* bytes of UTF-8 */
#define MAIL_FILENAME_MAX 200 /* bytes of UTF-8 */
#define MAIL_CONTENT_TYPE_MAX 200
#define MAIL_ATTACHMENTS_MAX 20

struct mail_attachment {
    const char *filename;     /* shown to the recipient; UTF-8 allowed (RFC 2231) */
    const char *content_type; /* e.g. "application/pdf", "text/calendar; method=REQUEST" */
    const void *data;
    size_t len;
};

struct mail_message {
    const char *to;      /* one address */
    const char *subject; /* UTF-8 (RFC 2047 encoded by the module) */
    const char *text;    /* text/plain; charset=utf-8 body */
    const struct mail_attachment *attachments;
    size_t attachment_count;
};

/*
 * Queue m for sending.  Joins the caller's transaction when conn is in one
 * (so that the mail is sent if and only if the caller's change commits),
 * else runs its own.  Validates the address and sizes:
 *   KR_ERR_INVALID    with a message naming the field ("to: ...",
 *                     "subject: ...", "attachment 2: filename: ..."):
 *                     an address mail_address_check refuses, a subject
 *                     that is empty, not UTF-8, longer than
 *                     MAIL_SUBJECT_MAX or holds a control character (CR/LF:
 *                     no header injection), a text that is not UTF-8 or
 *                     holds NUL, an attachment without data pointer, with
 *                     a bad filename or content type, more than
 *                     MAIL_ATTACHMENTS_MAX attachments
 *   KR_ERR_TOO_LARGE  the encoded message would exceed mail_max_bytes
 *   KR_ERR_DB ...     from the database
 * Nothing is stored on error.  The message's Date and Message-ID are fixed
 * now.  *id (may be NULL) gets the queue id.  cfg is the process's
 * configuration (for mail_max_bytes); NULL means the defaults.
 *
 * After its own transaction commits, the running sender of this process is
 * woken; inside the caller's transaction it is woken shortly after (and the
 * regular poll finds the mail anyway should the commit take longer).
 */
int mail_enqueue_cfg(struct db_conn *conn, const struct kr_config *cfg,
                     const struct mail_message *m, int64_t *id, struct kr_error *err) KR_MUST_CHECK;

/* mail_enqueue_cfg with the configuration given to mail_sender_start (or
 * to mail_set_config), or the defaults when there is none. */
int mail_enqueue(struct db_conn *conn, const struct mail_message *m, int64_t *id,
                 struct kr_error *err) KR_MUST_CHECK;

/*
 * Make cfg the configuration mail_enqueue uses in this process (the CLI
 * does this; mail_sender_start does it too).  cfg must outlive every later
 * call; NULL goes back to the defaults.
 */
void mail_set_config(const struct kr_config *cfg);

/*
 * KR_OK if addr is an address we send to: local@domain in ASCII (no
 * SMTPUTF8; international domains in their xn-- form), dot-atom local part
 * of at most 64 characters, a domain of at least two labels of letters,
 * digits and inner hyphens, at most MAIL_ADDRESS_MAX bytes in all.  No
 * display names, comments, quoted local parts or IP literals.  Otherwise
 * KR_ERR_INVALID with a message that says why (for forms: the lead's
 * registration page shows it).
 */
int mail_address_check(const char *addr, struct kr_error *err) KR_MUST_CHECK;

/*
 * Send up to max due messages now (used by the sender thread and tests);
 * *sent counts successes (sent may be NULL).  Temporary failures (4xx,
 * connection refused, timeouts, TLS or login problems) are retried with
 * exponential backoff (mail_retry_first, doubling, capped at 1 h) until
 * mail_retry_max_age after mail_enqueue; permanent failures (5xx to MAIL,
 * RCPT or DATA) are marked failed with the server's reply.  Never loses a
 * message.  With smtp_url empty nothing is sent (KR_OK, *sent 0).
 *
 * Each message is claimed with a lease before it is sent, so that several
 * processes sharing one database do not send it twice; conn must not be in
 * a transaction (the SMTP conversation runs outside of one).  The return
 * value is an error only when the database failed; delivery problems are
 * recorded on the messages.
 */
int mail_send_due(struct db_conn *conn, const struct kr_config *cfg, unsigned max, unsigned *sent,
                  struct kr_error *err) KR_MUST_CHECK;

/* Send message id now if it is queued and due (for `kreisel mail
 * send-test`, right after mail_enqueue).  *status_out gets "sent", "queued"
 * (temporary failure, will be retried) or "failed"; error_out (may be NULL,
 * size error_size) the last error.  KR_ERR_NOT_FOUND when id is not queued
 * and due (sent, failed, waiting for a retry or being sent by another
 * process); KR_ERR_CONFIG when smtp_url is empty or mail_from invalid. */
int mail_send_one(struct db_conn *conn, const struct kr_config *cfg, int64_t id,
                  const char **status_out, char *error_out, size_t error_size,
                  struct kr_error *err) KR_MUST_CHECK;

/*
 * Remove recipient, subject, text and attachments of messages sent or
 * failed more than mail_purge_after ago (the sender does this hourly).
 * *purged (may be NULL) gets the number of messages purged.
 */
int mail_purge(struct db_conn *conn, const struct kr_config *cfg, int64_t now, int64_t *purged,
               struct kr_error *err) KR_MUST_CHECK;

/* The queue's state, for `kreisel mail queue` and /metrics. */
struct mail_queue_stats {
    int64_t queued, sent, failed;
    int64_t oldest_queued_at; /* created_at of the oldest queued, 0 when none */
    int64_t oldest_queued_id; /* its id, 0 when none */
    int64_t next_attempt_at;  /* earliest next_attempt_at of queued, 0 when none */
    char oldest_error[256];   /* last_error of the oldest queued, "" when none */
};

int mail_queue_stats(struct db_conn *conn, struct mail_queue_stats *out,
                     struct kr_error *err) KR_MUST_CHECK;

/*
 * Seconds to wait before attempt number attempts + 1, after attempts
 * (>= 1) failed: first * 2^(attempts-1), capped at MAIL_RETRY_CAP.  first
 * is the configured mail_retry_first (default 60 s): 1 min, 2, 4, 8, 16,
 * 32, 60, 60, ...
 */
#define MAIL_RETRY_CAP 3600
unsigned mail_backoff_delay(unsigned attempts, unsigned first);

/*
 * Counters of this process since start, in the Prometheus text format
 * (kreisel_mail_queued_total, kreisel_mail_sent_total,
 * kreisel_mail_failed_total, kreisel_mail_retries_total), appended to out.
 */
void mail_metrics_render(struct buf *out);

/*
 * Check the mail settings of cfg that can be checked without a relay:
 * mail_from (or the address derived from public_url) and libcurl's SMTP
 * support.  KR_ERR_CONFIG with a message naming the key.
 */
int mail_check_config(const struct kr_config *cfg, struct kr_error *err) KR_MUST_CHECK;

/* ---- The background sender -------------------------------------------------- */

/*
 * The background sender started by `serve`: polls the queue every
 * mail_poll_interval (and wakes early on mail_sender_wake) with its own
 * connections from the pool, sends due messages in batches, purges old
 * bodies hourly; stops cleanly at shutdown (a message being sent is
 * finished first; smtp_timeout bounds that).  pool is the server's
 * connection pool (struct db, db.h); cfg and pool must outlive the sender.
 * *out is owned by the caller: mail_sender_stop().  With smtp_url empty the
 * sender still starts (it purges) and a warning says that mail is only
 * queued.  Errors: KR_ERR_CONFIG for an smtp_url libcurl cannot use,
 * KR_ERR_INTERNAL when the thread cannot be started.
 */
struct mail_sender;
int mail_sender_start(const struct kr_config *cfg, struct db *pool, struct mail_sender **out,
                      struct kr_error *err) KR_MUST_CHECK;

/* Wake the sender now (after a commit that queued mail).  s NULL wakes the
 * sender running in this process, if there is one: handlers need not hold
 * the pointer. */
void mail_sender_wake(struct mail_sender *s);

/* Stop the thread, wait for it and free s.  NULL ok. */
void mail_sender_stop(struct mail_sender *s);

#endif
