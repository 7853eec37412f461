/*
 * smtp.c - delivering queued messages over SMTP with libcurl.
 *
 * One delivery: claim the row (a lease in next_attempt_at, so that another
 * process skips it), load the parts, build the MIME message with curl_mime,
 * talk SMTP outside of any transaction, then record the outcome.  The last
 * reply of the server is captured through curl's debug callback, so that a
 * failed message keeps the server's own words.
 */
#include "mail/mail_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "accounts/accounts.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/util.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A queued message as loaded for one attempt; strings in the arena. */
struct queued_mail {
    int64_t id;
    int64_t created_at;
    int64_t attempts; /* including this one */
    const char *to, *subject, *text, *message_id;
    struct mail_attachment *attachments;
    size_t attachment_count;
};

/* ---- Loading ----------------------------------------------------------------- */

static int load_attachments(struct db_conn *conn, struct arena *a, struct queued_mail *m,
                            struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, "SELECT COUNT(*) FROM mail_attachment WHERE mail_id = $1",
                      DB_PARAMS(DB_INT(m->id)), &st, err);
    size_t n = 0;
    if (rc == KR_OK && (rc = db_step(st, err)) == DB_ROW)
        n = (size_t)db_column_int64(st, 0);
    db_finish(st);
    if (rc < 0)
        return rc;
    m->attachments = arena_calloc(a, n ? n : 1, sizeof(*m->attachments));
    if (!m->attachments)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    rc = db_query(conn,
                  "SELECT filename, content_type, data FROM mail_attachment WHERE mail_id = $1 "
                  "ORDER BY position",
                  DB_PARAMS(DB_INT(m->id)), &st, err);
    while (rc >= 0 && m->attachment_count < n && (rc = db_step(st, err)) == DB_ROW) {
        struct mail_attachment *at = &m->attachments[m->attachment_count++];
        at->filename = db_column_strdup(st, 0, a);
        at->content_type = db_column_strdup(st, 1, a);
        at->len = db_column_len(st, 2);
        void *data = arena_alloc(a, at->len);
        if (!at->filename || !at->content_type || !data) {
            rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
            break;
        }
        if (at->len)
            memcpy(data, db_column_blob(st, 2), at->len);
        at->data = data;
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

static int load_mail(struct db_conn *conn, struct arena *a, int64_t id, struct queued_mail *m,
                     struct kr_error *err)
{
    memset(m, 0, sizeof(*m));
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT recipient, subject, body, rfc_message_id, created_at, attempts "
                      "FROM mail_message WHERE id = $1",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc == KR_OK && (rc = db_step(st, err)) == DB_ROW) {
        m->id = id;
        m->to = db_column_strdup(st, 0, a);
        m->subject = db_column_strdup(st, 1, a);
        m->text = db_column_strdup(st, 2, a);
        m->message_id = db_column_strdup(st, 3, a);
        m->created_at = db_column_int64(st, 4);
        m->attempts = db_column_int64(st, 5);
        if (!m->to || !m->subject || !m->text || !m->message_id)
            rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    } else if (rc == DB_DONE) {
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no mail %lld", (long long)id);
    }
    db_finish(st);
    if (rc < 0)
        return rc;
    return load_attachments(conn, a, m, err);
}

/* ---- Building and sending ------------------------------------------------------ */

/* RFC 5322 date in UTC, independent of the locale. */
static void format_date(int64_t secs, char *out, size_t size)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    (void)snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
                   tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                   tm.tm_sec);
}

/* The server's replies, captured from curl's debug stream: the current
 * one, and the first that reported an error (curl may send QUIT after a
 * failure, and "221 Bye" must not hide the reason). */
struct reply {
    char text[400];
    size_t len;
    bool complete; /* the last line of a reply ("250 ok") was seen */
    int code;
    char failure[400];
    int failure_code;
};

static void reply_line(struct reply *r, const char *line, size_t n)
{
    if (r->complete) {
        r->len = 0;
        r->complete = false;
    }
    if (r->len > 0 && r->len + 1 < sizeof(r->text))
        r->text[r->len++] = ' ';
    size_t room = sizeof(r->text) - 1 - r->len;
    size_t take = n < room ? n : room;
    for (size_t i = 0; i < take; i++) /* keep the log and database clean */
        r->text[r->len++] = (line[i] >= 0x20 && line[i] < 0x7F) ? line[i] : '?';
    r->text[r->len] = '\0';
    if (n >= 4 && line[3] == ' ' && line[0] >= '1' && line[0] <= '5') {
        r->complete = true;
        r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (r->code >= 400 && !r->failure_code) {
            r->failure_code = r->code;
            memcpy(r->failure, r->text, r->len + 1);
        }
    }
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
    (void)h;
    if (type != CURLINFO_HEADER_IN)
        return 0;
    struct reply *r = userp;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            size_t end = i;
            if (end > start && data[end - 1] == '\r')
                end--;
            if (end > start)
                reply_line(r, data + start, end - start);
            start = i + 1;
        }
    }
    return 0;
}

/* Everything curl needs for one message; freed by delivery_release. */
struct delivery {
    curl_mime *mime;
    struct curl_slist *headers, *rcpt;
    struct buf text;
    char error[CURL_ERROR_SIZE];
    struct reply reply;
};

static void delivery_release(struct delivery *d)
{
    curl_mime_free(d->mime);
    curl_slist_free_all(d->headers);
    curl_slist_free_all(d->rcpt);
    buf_release(&d->text);
}

static bool add_header(struct curl_slist **list, const char *name, const char *value)
{
    struct buf line;
    buf_init(&line, 8192);
    buf_printf(&line, "%s: %s", name, value);
    struct curl_slist *n = buf_status(&line) ? NULL : curl_slist_append(*list, buf_cstr(&line));
    buf_release(&line);
    if (n)
        *list = n;
    return n != NULL;
}

static int build_headers(struct delivery *d, const struct queued_mail *m, const char *from_header)
{
    char date[64], msgid[400], to[MAIL_ADDRESS_MAX + 3];
    format_date(m->created_at, date, sizeof(date));
    (void)snprintf(msgid, sizeof(msgid), "<%s>", m->message_id);
    (void)snprintf(to, sizeof(to), "<%s>", m->to);
    struct buf subject;
    buf_init(&subject, 4096);
    mail_encode_header_text(&subject, m->subject);
    bool ok = buf_status(&subject) == KR_OK && add_header(&d->headers, "Date", date) &&
              add_header(&d->headers, "From", from_header) &&
              add_header(&d->headers, "To", m->to) &&
              add_header(&d->headers, "Subject", buf_cstr(&subject)) &&
              add_header(&d->headers, "Message-ID", msgid) &&
              add_header(&d->headers, "Auto-Submitted", "auto-generated");
    buf_release(&subject);
    struct curl_slist *r = ok ? curl_slist_append(NULL, to) : NULL;
    d->rcpt = r;
    return r ? KR_OK : KR_ERR_NOMEM;
}

static int add_attachment(curl_mime *mime, const struct mail_attachment *a)
{
    curl_mimepart *part = curl_mime_addpart(mime);
    struct buf disp;
    buf_init(&disp, 4096);
    mail_encode_disposition(&disp, a->filename);
    struct curl_slist *h = NULL;
    bool ok = part && buf_status(&disp) == KR_OK &&
              add_header(&h, "Content-Disposition", buf_cstr(&disp));
    buf_release(&disp);
    ok = ok && curl_mime_data(part, a->data, a->len) == CURLE_OK &&
         curl_mime_type(part, a->content_type) == CURLE_OK &&
         curl_mime_encoder(part, "base64") == CURLE_OK && curl_mime_headers(part, h, 1) == CURLE_OK;
    if (!ok)
        curl_slist_free_all(h); /* not taken over */
    return ok ? KR_OK : KR_ERR_NOMEM;
}

static int build_mime(CURL *h, struct delivery *d, const struct queued_mail *m)
{
    d->mime = curl_mime_init(h);
    curl_mimepart *part = d->mime ? curl_mime_addpart(d->mime) : NULL;
    buf_init(&d->text, 64u * 1024 * 1024);
    mail_crlf(&d->text, m->text);
    if (!part || buf_status(&d->text) ||
        curl_mime_data(part, d->text.data ? d->text.data : "", d->text.len) != CURLE_OK ||
        curl_mime_type(part, "text/plain; charset=utf-8") != CURLE_OK ||
        curl_mime_encoder(part, "quoted-printable") != CURLE_OK)
        return KR_ERR_NOMEM;
    for (size_t i = 0; i < m->attachment_count; i++)
        if (add_attachment(d->mime, &m->attachments[i]) != KR_OK)
            return KR_ERR_NOMEM;
    return KR_OK;
}

static void set_options(CURL *h, const struct kr_config *cfg, struct delivery *d,
                        const char *envelope)
{
    long tls = CURLUSESSL_TRY;
    if (strcmp(cfg->smtp_tls, "require") == 0)
        tls = CURLUSESSL_ALL;
    else if (strcmp(cfg->smtp_tls, "off") == 0)
        tls = CURLUSESSL_NONE;
    char from[MAIL_ADDRESS_MAX + 3];
    (void)snprintf(from, sizeof(from), "<%s>", envelope);
    curl_easy_setopt(h, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_USE_SSL, tls);
    if (cfg->smtp_ca_file[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->smtp_ca_file);
    if (cfg->smtp_user[0]) {
        curl_easy_setopt(h, CURLOPT_USERNAME, cfg->smtp_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->smtp_password);
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, d->rcpt);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, d->mime);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)cfg->smtp_timeout);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)cfg->smtp_timeout);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, d->error);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &d->reply);
}

/* Is a failed delivery permanent?  5xx replies to the mail transaction
 * are; login, TLS and connection problems are the relay's or our
 * configuration's and may heal. */
static bool is_permanent(CURLcode rc, int code)
{
    if (code < 500 || code > 599)
        return false;
    return rc == CURLE_SEND_ERROR || rc == CURLE_WEIRD_SERVER_REPLY || rc == CURLE_RECV_ERROR;
}

/* Abort a transfer when the sender is asked to stop (shutdown). */
static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    atomic_bool *stop = userp;
    return stop && atomic_load(stop) ? 1 : 0;
}

static void deliver(CURL *h, const struct kr_config *cfg, atomic_bool *stop,
                    const struct queued_mail *m, const char *from_header, const char *envelope,
                    struct mail_attempt_result *res)
{
    struct delivery d = {0};
    memset(res, 0, sizeof(*res));
    curl_easy_reset(h);
    int rc = build_headers(&d, m, from_header);
    if (rc == KR_OK)
        rc = build_mime(h, &d, m);
    if (rc) {
        (void)snprintf(res->error, sizeof(res->error), "out of memory building the message");
        delivery_release(&d);
        return;
    }
    set_options(h, cfg, &d, envelope);
    if (stop) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, stop);
    }
    CURLcode cr = curl_easy_perform(h);
    if (cr == CURLE_OK) {
        res->sent = true;
    } else {
        int code = d.reply.failure_code;
        res->permanent = is_permanent(cr, code);
        res->relay_down = cr == CURLE_COULDNT_CONNECT || cr == CURLE_COULDNT_RESOLVE_HOST ||
                          cr == CURLE_OPERATION_TIMEDOUT || cr == CURLE_ABORTED_BY_CALLBACK;
        const char *what = d.error[0] ? d.error : curl_easy_strerror(cr);
        if (code)
            (void)snprintf(res->error, sizeof(res->error), "%s; server: %s", what, d.reply.failure);
        else
            (void)snprintf(res->error, sizeof(res->error), "%s", what);
    }
    delivery_release(&d);
}

/* ---- Queue bookkeeping ------------------------------------------------------------ */

/* Take message id for one attempt: only if it is queued and due.  The
 * lease (next_attempt_at in the future) keeps other senders away while it
 * is being sent; should this process die, the lease runs out and the
 * message is tried again.  *claimed false: someone else has it. */
static int claim(struct db_conn *conn, const struct kr_config *cfg, int64_t id, int64_t now,
                 bool *claimed, struct kr_error *err)
{
    int64_t lease = now + 2 * (int64_t)cfg->smtp_timeout + 60, changes = 0;
    int rc = db_exec(conn,
                     "UPDATE mail_message SET attempts = attempts + 1, last_attempt_at = $2, "
                     "next_attempt_at = $3 WHERE id = $1 AND status = 'queued' "
                     "AND next_attempt_at <= $2",
                     DB_PARAMS(DB_INT(id), DB_INT(now), DB_INT(lease)), &changes, err);
    *claimed = rc == KR_OK && changes == 1;
    return rc;
}

static int record(struct db_conn *conn, const struct kr_config *cfg, const struct queued_mail *m,
                  const struct mail_attempt_result *res, const char **status, struct kr_error *err)
{
    int64_t now = kr_now();
    bool too_old = now - m->created_at >= (int64_t)cfg->mail_retry_max_age;
    if (res->sent) {
        *status = "sent";
        return db_exec(conn,
                       "UPDATE mail_message SET status = 'sent', finished_at = $2, "
                       "last_error = NULL WHERE id = $1",
                       DB_PARAMS(DB_INT(m->id), DB_INT(now)), NULL, err);
    }
    if (res->permanent || too_old) {
        char why[800];
        (void)snprintf(why, sizeof(why), "%s%s", res->permanent ? "" : "gave up: ", res->error);
        *status = "failed";
        return db_exec(conn,
                       "UPDATE mail_message SET status = 'failed', finished_at = $2, "
                       "last_error = $3 WHERE id = $1",
                       DB_PARAMS(DB_INT(m->id), DB_INT(now), DB_TEXT(why)), NULL, err);
    }
    *status = "queued";
    int64_t next = now + mail_backoff_delay((unsigned)m->attempts, cfg->mail_retry_first);
    return db_exec(conn,
                   "UPDATE mail_message SET next_attempt_at = $2, last_error = $3 WHERE id = $1",
                   DB_PARAMS(DB_INT(m->id), DB_INT(next), DB_TEXT(res->error)), NULL, err);
}

static void log_outcome(const struct queued_mail *m, const char *status,
                        const struct mail_attempt_result *res)
{
    /* No recipient and no reply text in the log: both may be personal. */
    if (strcmp(status, "sent") == 0) {
        atomic_fetch_add(&mail_count_sent, 1);
        kr_log_json(KR_LOG_INFO, "mail_sent",
                    json_pack("{s:I, s:I}", "mail_id", (json_int_t)m->id, "attempts",
                              (json_int_t)m->attempts));
        return;
    }
    bool failed = strcmp(status, "failed") == 0;
    atomic_fetch_add(failed ? &mail_count_failed : &mail_count_retries, 1);
    kr_log_json(failed ? KR_LOG_ERROR : KR_LOG_WARN, failed ? "mail_failed" : "mail_retry",
                json_pack("{s:I, s:I, s:b}", "mail_id", (json_int_t)m->id, "attempts",
                          (json_int_t)m->attempts, "permanent", res->permanent));
}

/* What one batch shares: the curl handle (its connection is reused) and
 * the sender identity. */
struct batch {
    const struct kr_config *cfg;
    atomic_bool *stop; /* may be NULL */
    bool relay_down;   /* an attempt did not reach the relay: stop the batch */
    CURL *curl;
    struct buf from_header, envelope;
    struct arena *arena;
};

static int batch_init(struct batch *b, struct db_conn *conn, const struct kr_config *cfg,
                      struct kr_error *err)
{
    memset(b, 0, sizeof(*b));
    b->cfg = cfg;
    buf_init(&b->from_header, 1024);
    buf_init(&b->envelope, 512);
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return kr_error_set(err, KR_ERR_INTERNAL, "libcurl: %s",
                            curl_easy_strerror(curl_init_result));
    b->arena = arena_new(0);
    b->curl = b->arena ? curl_easy_init() : NULL;
    if (!b->curl)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char *county = NULL;
    struct kr_error ignored;
    if (accounts_county_name(conn, b->arena, "de", &county, &ignored) != KR_OK)
        county = NULL;
    return mail_sender_identity(cfg, county, &b->from_header, &b->envelope, err);
}

static void batch_release(struct batch *b)
{
    if (b->curl)
        curl_easy_cleanup(b->curl);
    arena_free(b->arena);
    buf_release(&b->from_header);
    buf_release(&b->envelope);
}

/* One attempt at message id.  *status: "sent", "queued", "failed", or
 * NULL when it was not due or someone else had it. */
static int attempt(struct db_conn *conn, struct batch *b, int64_t id, const char **status,
                   char *error_out, size_t error_size, struct kr_error *err)
{
    bool claimed;
    *status = NULL;
    int rc = claim(conn, b->cfg, id, kr_now(), &claimed, err);
    if (rc || !claimed)
        return rc;
    arena_reset(b->arena);
    struct queued_mail m;
    rc = load_mail(conn, b->arena, id, &m, err);
    if (rc)
        return rc; /* the lease runs out; tried again later */
    struct mail_attempt_result res;
    deliver(b->curl, b->cfg, b->stop, &m, buf_cstr(&b->from_header), buf_cstr(&b->envelope), &res);
    rc = record(conn, b->cfg, &m, &res, status, err);
    if (rc == KR_OK)
        log_outcome(&m, *status, &res);
    b->relay_down = res.relay_down;
    if (error_out && error_size)
        (void)snprintf(error_out, error_size, "%s", res.error);
    return rc;
}

#define BATCH_MAX 1000

static int due_ids(struct db_conn *conn, unsigned max, int64_t *ids, size_t *n,
                   struct kr_error *err)
{
    struct db_stmt *st;
    *n = 0;
    int rc = db_query(conn,
                      "SELECT id FROM mail_message WHERE status = 'queued' "
                      "AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
                      DB_PARAMS(DB_INT(kr_now()), DB_INT(max)), &st, err);
    while (rc >= 0 && *n < max && (rc = db_step(st, err)) == DB_ROW)
        ids[(*n)++] = db_column_int64(st, 0);
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

int mail_send_due_until(struct db_conn *conn, const struct kr_config *cfg, unsigned max,
                        atomic_bool *stop, unsigned *sent, struct kr_error *err)
{
    if (sent)
        *sent = 0;
    if (!cfg->smtp_url[0] || max == 0)
        return KR_OK;
    if (db_in_transaction(conn))
        return kr_error_set(err, KR_ERR_INTERNAL, "mail_send_due inside a transaction");
    if (max > BATCH_MAX)
        max = BATCH_MAX;
    int64_t ids[BATCH_MAX];
    size_t n;
    int rc = due_ids(conn, max, ids, &n, err);
    if (rc || n == 0)
        return rc;
    struct batch b;
    rc = batch_init(&b, conn, cfg, err);
    b.stop = stop;
    /* When the relay cannot be reached, the others wait for the next round
     * instead of each waiting for its own timeout now. */
    for (size_t i = 0; rc == KR_OK && i < n && !b.relay_down && !(stop && atomic_load(stop)); i++) {
        const char *status;
        rc = attempt(conn, &b, ids[i], &status, NULL, 0, err);
        if (rc == KR_OK && status && strcmp(status, "sent") == 0 && sent)
            (*sent)++;
    }
    batch_release(&b);
    return rc;
}

int mail_send_due(struct db_conn *conn, const struct kr_config *cfg, unsigned max, unsigned *sent,
                  struct kr_error *err)
{
    return mail_send_due_until(conn, cfg, max, NULL, sent, err);
}

int mail_send_one(struct db_conn *conn, const struct kr_config *cfg, int64_t id,
                  const char **status_out, char *error_out, size_t error_size, struct kr_error *err)
{
    if (error_out && error_size)
        error_out[0] = '\0';
    if (!cfg->smtp_url[0])
        return kr_error_set(err, KR_ERR_CONFIG, "smtp_url is not set: mail is only queued");
    struct batch b;
    int rc = batch_init(&b, conn, cfg, err);
    const char *status = NULL;
    if (rc == KR_OK)
        rc = attempt(conn, &b, id, &status, error_out, error_size, err);
    batch_release(&b);
    if (rc == KR_OK && !status)
        rc = kr_error_set(err, KR_ERR_NOT_FOUND,
                          "mail %lld is not queued and due (sent, failed, or being sent)",
                          (long long)id);
    if (rc == KR_OK)
        *status_out = status;
    return rc;
}
