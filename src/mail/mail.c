/*
 * mail.c - the queue: checking and storing messages, statistics, purging.
 * The SMTP side is in smtp.c, the background thread in sender.c.
 */
#include "mail/mail_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/log.h"
#include "core/text.h"
#include "core/util.h"

atomic_uint_fast64_t mail_count_queued, mail_count_sent, mail_count_failed, mail_count_retries;

/* ---- Configuration ---------------------------------------------------------- */

static _Atomic(const struct kr_config *) configured;

void mail_set_config(const struct kr_config *cfg)
{
    atomic_store(&configured, cfg);
}

static struct kr_config default_config;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void init_default_config(void)
{
    kr_config_defaults(&default_config);
}

const struct kr_config *mail_config(void)
{
    const struct kr_config *cfg = atomic_load(&configured);
    if (cfg)
        return cfg;
    pthread_once(&default_once, init_default_config);
    return &default_config;
}

/* ---- Checks ------------------------------------------------------------------ */

static bool is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

static int check_local_part(const char *s, size_t len, struct kr_error *err)
{
    if (len == 0)
        return kr_error_set(err, KR_ERR_INVALID, "the part before '@' is empty");
    if (len > 64)
        return kr_error_set(err, KR_ERR_INVALID,
                            "the part before '@' is longer than 64 characters");
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (i == 0 || i == len - 1 || s[i - 1] == '.')
                return kr_error_set(err, KR_ERR_INVALID,
                                    "a dot at the start or end of the name or two dots in a row");
        } else if (!is_atext((unsigned char)s[i])) {
            return kr_error_set(err, KR_ERR_INVALID, "character not allowed in an e-mail address");
        }
    }
    return KR_OK;
}

static int check_domain(const char *s, size_t len, struct kr_error *err)
{
    size_t labels = 0, start = 0;
    bool last_all_digits = true;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-';
            if (!ok)
                return kr_error_set(err, KR_ERR_INVALID,
                                    "character not allowed in the domain (after '@')");
            continue;
        }
        size_t n = i - start;
        if (n == 0 || n > 63)
            return kr_error_set(err, KR_ERR_INVALID, "the domain (after '@') is not valid");
        if (s[start] == '-' || s[i - 1] == '-')
            return kr_error_set(err, KR_ERR_INVALID,
                                "a part of the domain starts or ends with '-'");
        last_all_digits = strspn(s + start, "0123456789") >= n;
        labels++;
        start = i + 1;
    }
    if (labels < 2 || last_all_digits)
        return kr_error_set(err, KR_ERR_INVALID,
                            "the domain (after '@') must be a name such as example.org");
    return KR_OK;
}

int mail_address_check(const char *addr, struct kr_error *err)
{
    size_t len = addr ? strlen(addr) : 0;
    if (len == 0)
        return kr_error_set(err, KR_ERR_INVALID, "the e-mail address is empty");
    if (len > MAIL_ADDRESS_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "the e-mail address is longer than %d characters",
                            MAIL_ADDRESS_MAX);
    const char *at = strrchr(addr, '@');
    if (!at)
        return kr_error_set(err, KR_ERR_INVALID, "the e-mail address has no '@'");
    int rc = check_local_part(addr, (size_t)(at - addr), err);
    if (rc == KR_OK)
        rc = check_domain(at + 1, len - (size_t)(at - addr) - 1, err);
    return rc;
}

/* UTF-8, 1..max bytes, no control character (C0 or DEL). */
static bool header_safe(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > max || !text_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return false;
    return true;
}

static bool is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$&^_.+-", c));
}

/* "type/subtype" of token characters, then optional parameters of
 * printable ASCII; not multipart/ or message/ (attachments are leaves). */
static bool content_type_ok(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > MAIL_CONTENT_TYPE_MAX)
        return false;
    size_t i = 0, slash = 0;
    while (i < len && (is_token_char((unsigned char)s[i]) || (s[i] == '/' && !slash && i > 0))) {
        if (s[i] == '/')
            slash = i;
        i++;
    }
    if (!slash || slash == i - 1 || (i < len && s[i] != ';' && s[i] != ' '))
        return false;
    for (; i < len; i++)
        if (s[i] < 0x20 || s[i] > 0x7E)
            return false;
    return strncasecmp(s, "multipart/", 10) != 0 && strncasecmp(s, "message/", 8) != 0;
}

static int check_attachment(const struct mail_attachment *a, size_t n, struct kr_error *err)
{
    if (!header_safe(a->filename, MAIL_FILENAME_MAX) || strpbrk(a->filename, "/\\"))
        return kr_error_set(err, KR_ERR_INVALID,
                            "attachment %zu: filename: 1 to %d bytes of UTF-8 without control "
                            "characters, '/' or '\\'",
                            n, MAIL_FILENAME_MAX);
    if (!content_type_ok(a->content_type))
        return kr_error_set(err, KR_ERR_INVALID,
                            "attachment %zu: content type: expected type/subtype[; params], not "
                            "multipart or message",
                            n);
    if (!a->data && a->len > 0)
        return kr_error_set(err, KR_ERR_INVALID, "attachment %zu: no data", n);
    return KR_OK;
}

static int check_message(const struct kr_config *cfg, const struct mail_message *m,
                         struct kr_error *err)
{
    int rc = mail_address_check(m->to, err);
    if (rc) {
        kr_error_prefix(err, "to");
        return rc;
    }
    if (!header_safe(m->subject, MAIL_SUBJECT_MAX))
        return kr_error_set(err, KR_ERR_INVALID,
                            "subject: 1 to %d bytes of UTF-8 without control characters "
                            "(no line breaks)",
                            MAIL_SUBJECT_MAX);
    if (!m->text || !text_utf8_valid(m->text, strlen(m->text)))
        return kr_error_set(err, KR_ERR_INVALID, "text: missing or not valid UTF-8");
    if (m->attachment_count > MAIL_ATTACHMENTS_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "more than %d attachments", MAIL_ATTACHMENTS_MAX);
    if (m->attachment_count && !m->attachments)
        return kr_error_set(err, KR_ERR_INVALID, "attachments missing");
    for (size_t i = 0; i < m->attachment_count; i++) {
        rc = check_attachment(&m->attachments[i], i + 1, err);
        if (rc)
            return rc;
    }
    size_t size = mail_encoded_size(m);
    if (size > cfg->mail_max_bytes)
        return kr_error_set(err, KR_ERR_TOO_LARGE,
                            "the message would be %zu bytes, more than mail_max_bytes (%zu)", size,
                            cfg->mail_max_bytes);
    return KR_OK;
}

/* ---- Encoding ------------------------------------------------------------------- */

/* Bytes of one encoded word's payload: "=?UTF-8?B?" + 56 + "?=" = 68, so that even
 * "Subject: " and the first word stay within 78 columns. */
#define WORD_BYTES 42

void mail_encode_header_text(struct buf *out, const char *text)
{
    size_t len = strlen(text);
    bool plain = len <= 900 && !strstr(text, "=?");
    for (size_t i = 0; plain && i < len; i++)
        if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7E)
            plain = false;
    if (plain) {
        buf_append(out, text, len);
        return;
    }
    size_t pos = 0;
    while (pos < len) {
        size_t n = len - pos < WORD_BYTES ? len - pos : WORD_BYTES;
        /* Never cut a UTF-8 sequence: back up over continuation bytes. */
        while (pos + n < len && n > 0 && ((unsigned char)text[pos + n] & 0xC0) == 0x80)
            n--;
        char b64[sodium_base64_ENCODED_LEN(WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)text + pos, n,
                          sodium_base64_VARIANT_ORIGINAL);
        if (pos > 0)
            buf_puts(out, "\r\n ");
        buf_printf(out, "=?UTF-8?B?%s?=", b64);
        pos += n;
    }
}

void mail_encode_disposition(struct buf *out, const char *filename)
{
    bool ascii = true;
    for (const char *p = filename; *p; p++)
        if ((unsigned char)*p > 0x7E)
            ascii = false;
    if (ascii) {
        buf_puts(out, "attachment; filename=\"");
        for (const char *p = filename; *p; p++) {
            if (*p == '"' || *p == '\\')
                buf_putc(out, '\\');
            buf_putc(out, *p);
        }
        buf_putc(out, '"');
        return;
    }
    /* RFC 2231 ext-value (as Thunderbird and Python write it): attr-chars
     * stay, every other byte is %XX. */
    buf_puts(out, "attachment;\r\n filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)filename; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p))
            buf_putc(out, (char)*p);
        else
            buf_printf(out, "%%%02X", *p);
    }
}

void mail_crlf(struct buf *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\r') {
            buf_puts(out, "\r\n");
            if (p[1] == '\n')
                p++;
        } else if (*p == '\n') {
            buf_puts(out, "\r\n");
        } else {
            buf_putc(out, *p);
        }
    }
}

/* Headers of the message and of each part, generously. */
#define HEADER_ALLOWANCE 2048
#define PART_ALLOWANCE 1024

size_t mail_encoded_size(const struct mail_message *m)
{
    size_t size = HEADER_ALLOWANCE + 3 * strlen(m->subject ? m->subject : "");
    /* Quoted-printable: at most 3 bytes per input byte plus soft breaks. */
    size_t text = 0;
    for (const unsigned char *p = (const unsigned char *)(m->text ? m->text : ""); *p; p++)
        text += (*p >= 0x20 && *p < 0x7F && *p != '=') || *p == '\n' ? 1 : 3;
    size += text + text / 72 * 3 + PART_ALLOWANCE;
    for (size_t i = 0; i < m->attachment_count; i++) {
        size_t b64 = (m->attachments[i].len + 2) / 3 * 4;
        size += b64 + b64 / 76 * 2 + PART_ALLOWANCE + 3 * MAIL_FILENAME_MAX;
    }
    return size;
}

/* ---- Sender identity --------------------------------------------------------------- */

void mail_sender_domain(const struct kr_config *cfg, char *out, size_t size)
{
    const char *from = cfg->mail_from;
    const char *at = strrchr(from, '@');
    if (at) {
        size_t n = strcspn(at + 1, ">");
        (void)snprintf(out, size, "%.*s", (int)n, at + 1);
        return;
    }
    const char *host = strstr(cfg->public_url, "://");
    host = host ? host + 3 : "";
    size_t n = strcspn(host, ":/");
    char tmp[256];
    (void)snprintf(tmp, sizeof(tmp), "a@%.*s", (int)n, host);
    if (mail_address_check(tmp, NULL) == KR_OK)
        (void)snprintf(out, size, "%s", tmp + 2);
    else
        (void)snprintf(out, size, "localhost.localdomain");
}

static void quote_or_encode_name(struct buf *out, const char *name)
{
    bool ascii = true, atoms = true;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p > 0x7E)
            ascii = false;
        else if (!is_atext(*p) && *p != ' ')
            atoms = false;
    }
    if (!ascii || strstr(name, "=?")) {
        mail_encode_header_text(out, name);
        return;
    }
    if (atoms) {
        buf_puts(out, name);
        return;
    }
    buf_putc(out, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_putc(out, '\\');
        buf_putc(out, *p);
    }
    buf_putc(out, '"');
}

int mail_sender_identity(const struct kr_config *cfg, const char *county, struct buf *from_header,
                         struct buf *envelope, struct kr_error *err)
{
    char name[256] = "", addr[272];
    const char *from = cfg->mail_from;
    const char *lt = strchr(from, '<');
    if (!from[0]) {
        char domain[256];
        mail_sender_domain(cfg, domain, sizeof(domain));
        (void)snprintf(name, sizeof(name), "%s", county && *county ? county : "Kreisel");
        (void)snprintf(addr, sizeof(addr), "noreply@%s", domain);
    } else if (lt) {
        size_t nlen = (size_t)(lt - from), alen = strcspn(lt + 1, ">");
        while (nlen && from[nlen - 1] == ' ')
            nlen--;
        if (lt[1 + alen] != '>' || lt[2 + alen] != '\0' || alen > MAIL_ADDRESS_MAX ||
            nlen >= sizeof(name))
            return kr_error_set(err, KR_ERR_CONFIG, "mail_from: expected \"Name <address>\"");
        (void)snprintf(name, sizeof(name), "%.*s", (int)nlen, from);
        (void)snprintf(addr, sizeof(addr), "%.*s", (int)alen, lt + 1);
    } else {
        (void)snprintf(addr, sizeof(addr), "%s", from);
    }
    if (name[0] && !header_safe(name, sizeof(name) - 1))
        return kr_error_set(err, KR_ERR_CONFIG, "mail_from: the name holds control characters");
    if (mail_address_check(addr, err)) {
        kr_error_prefix(err, "mail_from");
        err->code = KR_ERR_CONFIG;
        return KR_ERR_CONFIG;
    }
    if (name[0]) {
        quote_or_encode_name(from_header, name);
        buf_printf(from_header, " <%s>", addr);
    } else {
        buf_puts(from_header, addr);
    }
    buf_puts(envelope, addr);
    return buf_status(from_header) ? buf_status(from_header) : buf_status(envelope);
}

/* ---- Enqueue ------------------------------------------------------------------------- */

static int insert_message(struct db_conn *conn, const struct kr_config *cfg,
                          const struct mail_message *m, int64_t *id, struct kr_error *err)
{
    char domain[256], token[33], msgid[320];
    mail_sender_domain(cfg, domain, sizeof(domain));
    kr_random_hex(token, 16);
    int64_t now = kr_now();
    (void)snprintf(msgid, sizeof(msgid), "%lld.%s@%s", (long long)now, token, domain);
    int rc = db_query_int64(conn,
                            "INSERT INTO mail_message (status, recipient, subject, body, "
                            "rfc_message_id, size_bytes, created_at, next_attempt_at) "
                            "VALUES ('queued', $1, $2, $3, $4, $5, $6, $6) RETURNING id",
                            DB_PARAMS(DB_TEXT(m->to), DB_TEXT(m->subject), DB_TEXT(m->text),
                                      DB_TEXT(msgid), DB_INT(mail_encoded_size(m)), DB_INT(now)),
                            id, err);
    for (size_t i = 0; rc == KR_OK && i < m->attachment_count; i++) {
        const struct mail_attachment *a = &m->attachments[i];
        static const char empty[1];
        rc = db_exec(conn,
                     "INSERT INTO mail_attachment (mail_id, position, filename, content_type, "
                     "data) VALUES ($1, $2, $3, $4, $5)",
                     DB_PARAMS(DB_INT(*id), DB_INT(i), DB_TEXT(a->filename),
                               DB_TEXT(a->content_type), DB_BLOB(a->len ? a->data : empty, a->len)),
                     NULL, err);
    }
    return rc;
}

int mail_enqueue_cfg(struct db_conn *conn, const struct kr_config *cfg,
                     const struct mail_message *m, int64_t *id, struct kr_error *err)
{
    if (!cfg)
        cfg = mail_config();
    int rc = check_message(cfg, m, err);
    if (rc)
        return rc;
    int64_t local_id = 0;
    bool joined = db_in_transaction(conn);
    if (!joined && (rc = db_begin(conn, err)) != KR_OK)
        return rc;
    rc = insert_message(conn, cfg, m, &local_id, err);
    if (!joined) {
        if (rc == KR_OK)
            rc = db_commit(conn, err);
        if (rc)
            db_rollback(conn);
    }
    if (rc)
        return rc;
    atomic_fetch_add(&mail_count_queued, 1);
    kr_log_json(KR_LOG_INFO, "mail_queued",
                json_pack("{s:I, s:i}", "mail_id", (json_int_t)local_id, "attachments",
                          (int)m->attachment_count));
    if (joined)
        mail_sender_wake_soon();
    else
        mail_sender_wake(NULL);
    if (id)
        *id = local_id;
    return KR_OK;
}

int mail_enqueue(struct db_conn *conn, const struct mail_message *m, int64_t *id,
                 struct kr_error *err)
{
    return mail_enqueue_cfg(conn, NULL, m, id, err);
}

/* ---- Statistics, purge, backoff ------------------------------------------------------- */

int mail_queue_stats(struct db_conn *conn, struct mail_queue_stats *out, struct kr_error *err)
{
    memset(out, 0, sizeof(*out));
    struct db_stmt *st;
    int rc = db_query(conn, "SELECT status, COUNT(*) FROM mail_message GROUP BY status", NULL, 0,
                      &st, err);
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW) {
        const char *status = db_column_text(st, 0);
        int64_t n = db_column_int64(st, 1);
        if (strcmp(status, "queued") == 0)
            out->queued = n;
        else if (strcmp(status, "sent") == 0)
            out->sent = n;
        else
            out->failed = n;
    }
    db_finish(st);
    if (rc < 0)
        return rc;
    rc = db_query(conn,
                  "SELECT id, created_at, last_error, "
                  "(SELECT MIN(next_attempt_at) FROM mail_message WHERE status = 'queued') "
                  "FROM mail_message WHERE status = 'queued' ORDER BY created_at, id LIMIT 1",
                  NULL, 0, &st, err);
    if (rc == KR_OK && (rc = db_step(st, err)) == DB_ROW) {
        out->oldest_queued_id = db_column_int64(st, 0);
        out->oldest_queued_at = db_column_int64(st, 1);
        (void)snprintf(out->oldest_error, sizeof(out->oldest_error), "%s",
                       db_column_is_null(st, 2) ? "" : db_column_text(st, 2));
        out->next_attempt_at = db_column_int64(st, 3);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

int mail_purge(struct db_conn *conn, const struct kr_config *cfg, int64_t now, int64_t *purged,
               struct kr_error *err)
{
    int64_t before = now - (int64_t)cfg->mail_purge_after;
    bool joined = db_in_transaction(conn);
    int rc = joined ? KR_OK : db_begin(conn, err);
    if (rc)
        return rc;
    rc = db_exec(conn,
                 "DELETE FROM mail_attachment WHERE mail_id IN (SELECT id FROM mail_message "
                 "WHERE status <> 'queued' AND purged_at IS NULL AND finished_at <= $1)",
                 DB_PARAMS(DB_INT(before)), NULL, err);
    int64_t n = 0;
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "UPDATE mail_message SET recipient = NULL, subject = NULL, body = NULL, "
                     "last_error = NULL, "
                     "purged_at = $2 WHERE status <> 'queued' AND purged_at IS NULL "
                     "AND finished_at <= $1",
                     DB_PARAMS(DB_INT(before), DB_INT(now)), &n, err);
    if (!joined) {
        if (rc == KR_OK)
            rc = db_commit(conn, err);
        if (rc)
            db_rollback(conn);
    }
    if (rc == KR_OK && purged)
        *purged = n;
    return rc;
}

unsigned mail_backoff_delay(unsigned attempts, unsigned first)
{
    if (first == 0)
        first = 1;
    if (attempts == 0)
        return 0;
    uint64_t d = first;
    for (unsigned i = 1; i < attempts && d < MAIL_RETRY_CAP; i++)
        d *= 2;
    return d > MAIL_RETRY_CAP ? MAIL_RETRY_CAP : (unsigned)d;
}

void mail_metrics_render(struct buf *out)
{
    buf_printf(out,
               "# HELP kreisel_mail_queued_total Mail queued by this process.\n"
               "# TYPE kreisel_mail_queued_total counter\n"
               "kreisel_mail_queued_total %llu\n"
               "# HELP kreisel_mail_sent_total Mail accepted by the relay.\n"
               "# TYPE kreisel_mail_sent_total counter\n"
               "kreisel_mail_sent_total %llu\n"
               "# HELP kreisel_mail_failed_total Mail given up (permanent failure or too old).\n"
               "# TYPE kreisel_mail_failed_total counter\n"
               "kreisel_mail_failed_total %llu\n"
               "# HELP kreisel_mail_retries_total Temporary delivery failures (retried later).\n"
               "# TYPE kreisel_mail_retries_total counter\n"
               "kreisel_mail_retries_total %llu\n",
               (unsigned long long)atomic_load(&mail_count_queued),
               (unsigned long long)atomic_load(&mail_count_sent),
               (unsigned long long)atomic_load(&mail_count_failed),
               (unsigned long long)atomic_load(&mail_count_retries));
}
