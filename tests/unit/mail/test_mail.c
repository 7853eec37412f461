/* Tests of src/mail/: checks, encodings, backoff, the queue on SQLite and
 * PostgreSQL, and delivery attempts that fail without a relay.  Deliveries
 * to a real SMTP server are in tests/integration/test_mail.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/text.h"
#include "core/util.h"
#include "mail/mail.h"
#include "mail/mail_internal.h"
#include "testdb.h"

/* ---- Address check ------------------------------------------------------------- */

static void test_address_check(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        int rc;
    } cases[] = {
        {"erika@example.org", KR_OK},
        {"erika.mustermann+kreisel@sub.example.org", KR_OK},
        {"o'brien@example.ie", KR_OK},
        {"x@xn--mnchen-3ya.de", KR_OK},
        {"a-b_c!#$%&*/=?^`{|}~@ex-ample.de", KR_OK},
        {"", KR_ERR_INVALID},
        {"erika", KR_ERR_INVALID},
        {"@example.org", KR_ERR_INVALID},
        {"erika@", KR_ERR_INVALID},
        {"erika@localhost", KR_ERR_INVALID},
        {"erika@127.0.0.1", KR_ERR_INVALID},
        {"erika@[127.0.0.1]", KR_ERR_INVALID},
        {".erika@example.org", KR_ERR_INVALID},
        {"erika.@example.org", KR_ERR_INVALID},
        {"eri..ka@example.org", KR_ERR_INVALID},
        {"erika@example..org", KR_ERR_INVALID},
        {"erika@-example.org", KR_ERR_INVALID},
        {"erika@example-.org", KR_ERR_INVALID},
        {"erika@exa_mple.org", KR_ERR_INVALID},
        {"er ika@example.org", KR_ERR_INVALID},
        {"\"erika\"@example.org", KR_ERR_INVALID},
        {"erika@example.org\r\nBcc: x@example.org", KR_ERR_INVALID},
        {"erika@example.org>", KR_ERR_INVALID},
        {"Erika <erika@example.org>", KR_ERR_INVALID},
        {"a@b@example.org", KR_ERR_INVALID},
        {"jürgen@example.org", KR_ERR_INVALID},
        {"erika@münchen.de", KR_ERR_INVALID},
        {"1234567890123456789012345678901234567890123456789012345678901234@example.org", KR_OK},
        {"12345678901234567890123456789012345678901234567890123456789012345@example.org",
         KR_ERR_INVALID},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        struct kr_error err;
        kr_error_clear(&err);
        int rc = mail_address_check(cases[i].addr, &err);
        if (rc != cases[i].rc)
            fail_msg("'%s': expected %d, got %d (%s)", cases[i].addr, cases[i].rc, rc, err.message);
        if (rc)
            assert_true(err.message[0] != '\0');
    }
    assert_int_equal(mail_address_check(NULL, NULL), KR_ERR_INVALID);
    /* Longer than 254 in all, though each part is fine. */
    char longaddr[300];
    (void)snprintf(longaddr, sizeof(longaddr), "a@%s.%s.%s.%s.example.org",
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                   "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                   "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
                   "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
    assert_int_equal(mail_address_check(longaddr, NULL), KR_ERR_INVALID);
}

/* ---- Backoff ---------------------------------------------------------------------- */

static void test_backoff_schedule(void **state)
{
    (void)state;
    static const struct {
        unsigned attempts, first, delay;
    } cases[] = {
        {0, 60, 0},      {1, 60, 60},   {2, 60, 120},           {3, 60, 240},  {4, 60, 480},
        {5, 60, 960},    {6, 60, 1920}, {7, 60, 3600},          {8, 60, 3600}, {1000, 60, 3600},
        {1, 1, 1},       {2, 1, 2},     {13, 1, 3600},          {1, 0, 1},     {1, 3600, 3600},
        {2, 3600, 3600}, {40, 7, 3600}, {UINT32_MAX, 60, 3600},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        unsigned d = mail_backoff_delay(cases[i].attempts, cases[i].first);
        if (d != cases[i].delay)
            fail_msg("attempts %u, first %u: expected %u, got %u", cases[i].attempts,
                     cases[i].first, cases[i].delay, d);
    }
}

/* ---- Header encoding --------------------------------------------------------------- */

/* Decode a header value of encoded words (and plain text) back to UTF-8,
 * checking the form of every word on the way. */
static void decode_words(const char *value, char *out, size_t size)
{
    size_t n = 0;
    const char *p = value;
    while (*p) {
        if (strncmp(p, "\r\n ", 3) == 0) {
            p += 3;
            continue;
        }
        if (strncmp(p, "=?UTF-8?B?", 10) != 0) {
            assert_true(n + 1 < size);
            out[n++] = *p++;
            continue;
        }
        const char *end = strstr(p + 10, "?=");
        assert_non_null(end);
        assert_true(end + 2 - p <= 75); /* RFC 2047: at most 75 characters */
        unsigned char bin[128];
        size_t bin_len;
        assert_int_equal(sodium_base642bin(bin, sizeof(bin), p + 10, (size_t)(end - p - 10), NULL,
                                           &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL),
                         0);
        /* Each word holds whole characters. */
        assert_true(text_utf8_valid((const char *)bin, bin_len));
        assert_true(n + bin_len < size);
        memcpy(out + n, bin, bin_len);
        n += bin_len;
        p = end + 2;
    }
    out[n] = '\0';
}

static void test_header_encoding(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool encoded;
    } cases[] = {
        {"Ihr Antrag", false},
        {"Ihr Antrag (Nr. 4711): Termin am 1.12.", false},
        {"Bescheid über Ihre Gebühr", true},
        {"=?UTF-8?B?SGk=?= looks encoded", true},
        {"€", true},
        {"ÄÖÜäöüß€ ÄÖÜäöüß€ ÄÖÜäöüß€ ÄÖÜäöüß€ "
         "ÄÖÜäöüß€ ÄÖÜäöüß€ ÄÖÜäöüß€ ÄÖÜäöüß€",
         true},
        {"a😀b😀c😀d😀e😀f😀g😀h😀i😀j😀"
         "k😀l😀m😀n😀o😀p😀q😀r😀s😀",
         true},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        struct buf out;
        buf_init(&out, 8192);
        mail_encode_header_text(&out, cases[i].text);
        assert_int_equal(buf_status(&out), KR_OK);
        const char *v = buf_cstr(&out);
        if (!cases[i].encoded) {
            assert_string_equal(v, cases[i].text);
        } else {
            assert_true(strncmp(v, "=?UTF-8?B?", 10) == 0);
            for (const char *c = v; *c; c++) /* pure ASCII on the wire */
                assert_true((unsigned char)*c < 0x80);
            char back[1024];
            decode_words(v, back, sizeof(back));
            assert_string_equal(back, cases[i].text);
        }
        buf_release(&out);
    }
}

static void test_disposition(void **state)
{
    (void)state;
    static const struct {
        const char *filename, *expected;
    } cases[] = {
        {"bescheid.pdf", "attachment; filename=\"bescheid.pdf\""},
        {"a \"quoted\" \\name.txt", "attachment; filename=\"a \\\"quoted\\\" \\\\name.txt\""},
        {"Bescheid Müller.pdf", "attachment;\r\n filename*=UTF-8''Bescheid%20M%C3%BCller.pdf"},
        {"ß;=%.ics", "attachment;\r\n filename*=UTF-8''%C3%9F%3B%3D%25.ics"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        struct buf out;
        buf_init(&out, 4096);
        mail_encode_disposition(&out, cases[i].filename);
        assert_string_equal(buf_cstr(&out), cases[i].expected);
        buf_release(&out);
    }
}

static void test_crlf(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"a", "a"},
        {"a\nb", "a\r\nb"},
        {"a\r\nb", "a\r\nb"},
        {"a\rb", "a\r\nb"},
        {"a\n\nb\r\r\n", "a\r\n\r\nb\r\n\r\n"},
        {"\n.\n", "\r\n.\r\n"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        struct buf out;
        buf_init(&out, 1024);
        mail_crlf(&out, cases[i].in);
        assert_string_equal(buf_cstr(&out), cases[i].out);
        buf_release(&out);
    }
}

static void test_sender_identity(void **state)
{
    (void)state;
    static const struct {
        const char *mail_from, *public_url, *county, *header, *envelope;
        int rc;
    } cases[] = {
        {"", "http://127.0.0.1:8080", NULL, "Kreisel <noreply@localhost.localdomain>",
         "noreply@localhost.localdomain", KR_OK},
        {"", "https://service.musterland.example", "Landkreis Musterland",
         "Landkreis Musterland <noreply@service.musterland.example>",
         "noreply@service.musterland.example", KR_OK},
        {"", "https://service.example:8443", "Landkreis Lörrach",
         "=?UTF-8?B?TGFuZGtyZWlzIEzDtnJyYWNo?= <noreply@service.example>",
         "noreply@service.example", KR_OK},
        {"post@musterland.example", "http://127.0.0.1:8080", "Landkreis X",
         "post@musterland.example", "post@musterland.example", KR_OK},
        {"Landkreis Musterland <post@musterland.example>", "http://127.0.0.1", NULL,
         "Landkreis Musterland <post@musterland.example>", "post@musterland.example", KR_OK},
        {"Kreis (Amt 36), Zulassung <z@musterland.example>", "http://127.0.0.1", NULL,
         "\"Kreis (Amt 36), Zulassung\" <z@musterland.example>", "z@musterland.example", KR_OK},
        {"Name <not-an-address>", "http://127.0.0.1", NULL, NULL, NULL, KR_ERR_CONFIG},
        {"Name <a@example.org> trailing", "http://127.0.0.1", NULL, NULL, NULL, KR_ERR_CONFIG},
        {"Name <a@example.org", "http://127.0.0.1", NULL, NULL, NULL, KR_ERR_CONFIG},
        {"plainword", "http://127.0.0.1", NULL, NULL, NULL, KR_ERR_CONFIG},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        struct kr_config cfg;
        struct kr_error err;
        kr_config_defaults(&cfg);
        assert_int_equal(kr_config_set(&cfg, "t", "mail_from", cases[i].mail_from, &err), KR_OK);
        assert_int_equal(kr_config_set(&cfg, "t", "public_url", cases[i].public_url, &err), KR_OK);
        struct buf header, envelope;
        buf_init(&header, 1024);
        buf_init(&envelope, 1024);
        int rc = mail_sender_identity(&cfg, cases[i].county, &header, &envelope, &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu: expected %d, got %d (%s)", i, cases[i].rc, rc, err.message);
        if (rc == KR_OK) {
            assert_string_equal(buf_cstr(&header), cases[i].header);
            assert_string_equal(buf_cstr(&envelope), cases[i].envelope);
        } else {
            assert_non_null(strstr(err.message, "mail_from"));
        }
        assert_int_equal(mail_check_config(&cfg, &err), cases[i].rc);
        buf_release(&header);
        buf_release(&envelope);
    }
}

static void test_config_keys(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value;
        int rc;
    } cases[] = {
        {"smtp_url", "", KR_OK},
        {"smtp_url", "smtp://relay.example:587", KR_OK},
        {"smtp_url", "smtps://relay.example", KR_OK},
        {"smtp_url", "http://relay.example", KR_ERR_CONFIG},
        {"smtp_url", "smtp://relay example", KR_ERR_CONFIG},
        {"smtp_tls", "try", KR_OK},
        {"smtp_tls", "require", KR_OK},
        {"smtp_tls", "off", KR_OK},
        {"smtp_tls", "yes", KR_ERR_CONFIG},
        {"mail_max_bytes", "25m", KR_OK},
        {"mail_max_bytes", "1k", KR_ERR_CONFIG},
        {"mail_retry_max_age", "3d", KR_OK},
        {"mail_retry_max_age", "0", KR_ERR_CONFIG},
        {"mail_retry_first", "2h", KR_ERR_CONFIG},
        {"mail_purge_after", "0", KR_OK},
        {"mail_poll_interval", "0", KR_ERR_CONFIG},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        struct kr_config cfg;
        struct kr_error err;
        kr_config_defaults(&cfg);
        int rc = kr_config_set(&cfg, "t", cases[i].key, cases[i].value, &err);
        if (rc != cases[i].rc)
            fail_msg("%s = %s: expected %d, got %d", cases[i].key, cases[i].value, cases[i].rc, rc);
    }
    struct kr_config cfg;
    kr_config_defaults(&cfg);
    assert_string_equal(cfg.smtp_url, "");
    assert_string_equal(cfg.smtp_tls, "try");
    assert_int_equal(cfg.mail_retry_first, 60);
    assert_int_equal(cfg.mail_retry_max_age, 3 * 86400);
    assert_int_equal(cfg.mail_max_bytes, 10 * 1024 * 1024);
}

/* ---- The queue in the database -------------------------------------------------------- */

struct fixture {
    struct db *db;
    struct db_conn *conn;
    struct kr_config cfg;
};

static void open_fixture(void **state, struct fixture *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
    kr_config_defaults(&f->cfg);
    /* Nothing listens on port 1: every attempt is "connection refused". */
    assert_int_equal(kr_config_set(&f->cfg, "t", "smtp_url", "smtp://127.0.0.1:1", &err), KR_OK);
    assert_int_equal(kr_config_set(&f->cfg, "t", "mail_max_bytes", "64k", &err), KR_OK);
}

static void close_fixture(struct fixture *f)
{
    db_release(f->conn);
    testdb_close(f->db);
}

static int64_t count(struct fixture *f, const char *sql)
{
    int64_t n = -1;
    struct kr_error err;
    int rc = db_query_int64(f->conn, sql, NULL, 0, &n, &err);
    if (rc)
        fail_msg("%s: %s", sql, err.message);
    return n;
}

static int64_t value(struct fixture *f, const char *sql, int64_t id)
{
    int64_t n = -1;
    struct kr_error err;
    int rc = db_query_int64(f->conn, sql, DB_PARAMS(DB_INT(id)), &n, &err);
    if (rc)
        fail_msg("%s: %s", sql, err.message);
    return n;
}

static const unsigned char pdf[] = "%PDF-1.7\n\0\1\2\3\377 binary";

static void test_enqueue_checks(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    static char big[70 * 1024];
    memset(big, 'x', sizeof(big) - 1);
    struct mail_attachment good = {"Bescheid.pdf", "application/pdf", pdf, sizeof(pdf)};
    struct mail_attachment bad_name = {"../etc/passwd", "text/plain", "x", 1};
    struct mail_attachment bad_name2 = {"a\r\nb.pdf", "application/pdf", "x", 1};
    struct mail_attachment bad_type = {"a.txt", "text/plain\r\nX-Evil: 1", "x", 1};
    struct mail_attachment multipart = {"a.eml", "multipart/mixed", "x", 1};
    struct mail_attachment no_slash = {"a.bin", "application", "x", 1};
    struct mail_attachment no_data = {"a.bin", "application/octet-stream", NULL, 10};
    struct mail_attachment huge = {"a.bin", "application/octet-stream", big, 50 * 1024};
    struct mail_attachment many[MAIL_ATTACHMENTS_MAX + 1];
    for (size_t i = 0; i < KR_ARRAY_LEN(many); i++)
        many[i] = good;
    static const char bad_utf8[] = {'a', (char)0xC3, 0};
    const struct {
        struct mail_message m;
        int rc;
    } cases[] = {
        {{"a@example.org", "Betreff", "Text", NULL, 0}, KR_OK},
        {{"a@example.org", "Betreff", "", NULL, 0}, KR_OK},
        {{"a@example.org", "Betreff", "Text", &good, 1}, KR_OK},
        {{"a@example", "Betreff", "Text", NULL, 0}, KR_ERR_INVALID},
        {{NULL, "Betreff", "Text", NULL, 0}, KR_ERR_INVALID},
        {{"a@example.org", "", "Text", NULL, 0}, KR_ERR_INVALID},
        {{"a@example.org", NULL, "Text", NULL, 0}, KR_ERR_INVALID},
        {{"a@example.org", "Hi\r\nBcc: b@example.org", "Text", NULL, 0}, KR_ERR_INVALID},
        {{"a@example.org", "Hi\nBcc: b@example.org", "Text", NULL, 0}, KR_ERR_INVALID},
        {{"a@example.org", "Tab\there", "Text", NULL, 0}, KR_ERR_INVALID},
        {{"a@example.org", bad_utf8, "Text", NULL, 0}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", bad_utf8, NULL, 0}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", NULL, NULL, 0}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", "Text", NULL, 1}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", "Text", &bad_name, 1}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", "Text", &bad_name2, 1}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", "Text", &bad_type, 1}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", "Text", &multipart, 1}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", "Text", &no_slash, 1}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", "Text", &no_data, 1}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", "Text", many, MAIL_ATTACHMENTS_MAX + 1}, KR_ERR_INVALID},
        {{"a@example.org", "Betreff", big, NULL, 0}, KR_ERR_TOO_LARGE},
        {{"a@example.org", "Betreff", "Text", &huge, 1}, KR_ERR_TOO_LARGE},
    };
    int64_t ok = 0;
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        struct kr_error err;
        kr_error_clear(&err);
        int64_t id = 0;
        int rc = mail_enqueue_cfg(f.conn, &f.cfg, &cases[i].m, &id, &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu: expected %d, got %d (%s)", i, cases[i].rc, rc, err.message);
        if (rc == KR_OK) {
            ok++;
            assert_true(id > 0);
        } else {
            assert_true(err.message[0] != '\0');
        }
    }
    /* Refused messages left nothing behind. */
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message"), ok);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_attachment"), 1);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message WHERE status = 'queued'"), ok);
    close_fixture(&f);
}

static void test_enqueue_joins_transaction(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct mail_attachment att = {"Bescheid Müller.pdf", "application/pdf", pdf, sizeof(pdf)};
    struct mail_message m = {"a@example.org", "Ihr Bescheid", "Guten Tag", &att, 1};
    int64_t id;
    /* Rolled back with the caller's change: no mail. */
    assert_int_equal(db_begin(f.conn, &err), KR_OK);
    assert_int_equal(mail_enqueue_cfg(f.conn, &f.cfg, &m, &id, &err), KR_OK);
    assert_true(db_in_transaction(f.conn));
    db_rollback(f.conn);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message"), 0);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_attachment"), 0);
    /* Committed with it: the mail is there, attachment bytes intact. */
    assert_int_equal(db_begin(f.conn, &err), KR_OK);
    assert_int_equal(mail_enqueue_cfg(f.conn, &f.cfg, &m, &id, &err), KR_OK);
    assert_int_equal(db_commit(f.conn, &err), KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message"), 1);
    struct db_stmt *st;
    assert_int_equal(db_query(f.conn,
                              "SELECT filename, content_type, data FROM mail_attachment "
                              "WHERE mail_id = $1",
                              DB_PARAMS(DB_INT(id)), &st, &err),
                     KR_OK);
    assert_int_equal(db_step(st, &err), DB_ROW);
    assert_string_equal(db_column_text(st, 0), "Bescheid Müller.pdf");
    assert_string_equal(db_column_text(st, 1), "application/pdf");
    assert_int_equal(db_column_len(st, 2), sizeof(pdf));
    assert_memory_equal(db_column_blob(st, 2), pdf, sizeof(pdf));
    db_finish(st);
    /* Without a transaction of the caller, its own. */
    assert_int_equal(mail_enqueue(f.conn, &m, NULL, &err), KR_OK);
    assert_false(db_in_transaction(f.conn));
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message"), 2);
    assert_int_equal(count(&f, "SELECT COUNT(DISTINCT rfc_message_id) FROM mail_message"), 2);
    close_fixture(&f);
}

static void test_temporary_failures_back_off_then_give_up(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct mail_message m = {"a@example.org", "Betreff", "Text", NULL, 0};
    int64_t id;
    assert_int_equal(mail_enqueue_cfg(f.conn, &f.cfg, &m, &id, &err), KR_OK);
    unsigned sent = 99;
    assert_int_equal(mail_send_due(f.conn, &f.cfg, 10, &sent, &err), KR_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message WHERE status = 'queued' "
                               "AND attempts = 1 AND last_error IS NOT NULL"),
                     1);
    int64_t delay = value(&f,
                          "SELECT next_attempt_at - last_attempt_at FROM mail_message "
                          "WHERE id = $1",
                          id);
    assert_true(delay == 60 || delay == 61);
    /* Not due yet: a second run leaves it alone. */
    assert_int_equal(mail_send_due(f.conn, &f.cfg, 10, &sent, &err), KR_OK);
    assert_int_equal(value(&f, "SELECT attempts FROM mail_message WHERE id = $1", id), 1);
    /* Due again: the second attempt waits twice as long. */
    assert_int_equal(
        db_exec(f.conn, "UPDATE mail_message SET next_attempt_at = 0", NULL, 0, NULL, &err), KR_OK);
    assert_int_equal(mail_send_due(f.conn, &f.cfg, 10, &sent, &err), KR_OK);
    delay =
        value(&f, "SELECT next_attempt_at - last_attempt_at FROM mail_message WHERE id = $1", id);
    assert_true(delay == 120 || delay == 121);
    /* Older than mail_retry_max_age: given up, with the reason. */
    assert_int_equal(db_exec(f.conn,
                             "UPDATE mail_message SET next_attempt_at = 0, "
                             "created_at = created_at - 3 * 86400",
                             NULL, 0, NULL, &err),
                     KR_OK);
    assert_int_equal(mail_send_due(f.conn, &f.cfg, 10, &sent, &err), KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message WHERE status = 'failed' "
                               "AND attempts = 3 AND finished_at IS NOT NULL "
                               "AND last_error LIKE 'gave up: %'"),
                     1);
    /* A failed message is not sent again. */
    assert_int_equal(mail_send_due(f.conn, &f.cfg, 10, &sent, &err), KR_OK);
    assert_int_equal(value(&f, "SELECT attempts FROM mail_message WHERE id = $1", id), 3);
    struct mail_queue_stats st;
    assert_int_equal(mail_queue_stats(f.conn, &st, &err), KR_OK);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.failed, 1);
    close_fixture(&f);
}

static void test_nothing_sent_without_relay(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct mail_message m = {"a@example.org", "Betreff", "Text", NULL, 0};
    assert_int_equal(mail_enqueue_cfg(f.conn, &f.cfg, &m, NULL, &err), KR_OK);
    f.cfg.smtp_url[0] = '\0';
    unsigned sent = 7;
    assert_int_equal(mail_send_due(f.conn, &f.cfg, 10, &sent, &err), KR_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(count(&f, "SELECT attempts FROM mail_message"), 0);
    const char *status;
    assert_int_equal(mail_send_one(f.conn, &f.cfg, 1, &status, NULL, 0, &err), KR_ERR_CONFIG);
    close_fixture(&f);
}

static void test_queue_stats_and_purge(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct mail_attachment att = {"a.pdf", "application/pdf", pdf, sizeof(pdf)};
    struct mail_message m = {"a@example.org", "Betreff", "Text", &att, 1};
    int64_t ids[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(mail_enqueue_cfg(f.conn, &f.cfg, &m, &ids[i], &err), KR_OK);
    int64_t now = kr_now();
    /* 1: sent 8 days ago, 2: failed 1 day ago, 3: still queued. */
    assert_int_equal(db_exec(f.conn,
                             "UPDATE mail_message SET status = 'sent', finished_at = $2 "
                             "WHERE id = $1",
                             DB_PARAMS(DB_INT(ids[0]), DB_INT(now - 8 * 86400)), NULL, &err),
                     KR_OK);
    assert_int_equal(db_exec(f.conn,
                             "UPDATE mail_message SET status = 'failed', finished_at = $2, "
                             "last_error = '550 no' WHERE id = $1",
                             DB_PARAMS(DB_INT(ids[1]), DB_INT(now - 86400)), NULL, &err),
                     KR_OK);
    struct mail_queue_stats st;
    assert_int_equal(mail_queue_stats(f.conn, &st, &err), KR_OK);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.oldest_queued_id, ids[2]);
    assert_true(st.oldest_queued_at > 0);
    int64_t purged = -1;
    assert_int_equal(mail_purge(f.conn, &f.cfg, now, &purged, &err), KR_OK);
    assert_int_equal(purged, 1);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message WHERE recipient IS NULL "
                               "AND body IS NULL AND subject IS NULL AND purged_at IS NOT NULL"),
                     1);
    assert_int_equal(value(&f, "SELECT COUNT(*) FROM mail_attachment WHERE mail_id = $1", ids[0]),
                     0);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_attachment"), 2);
    /* A week later the failed one goes too; the queued one never. */
    assert_int_equal(mail_purge(f.conn, &f.cfg, now + 7 * 86400, &purged, &err), KR_OK);
    assert_int_equal(purged, 1);
    assert_int_equal(mail_purge(f.conn, &f.cfg, now + 365 * 86400, &purged, &err), KR_OK);
    assert_int_equal(purged, 0);
    assert_int_equal(value(&f, "SELECT COUNT(*) FROM mail_attachment WHERE mail_id = $1", ids[2]),
                     1);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message"), 3);
    close_fixture(&f);
}

static void test_sender_starts_and_stops(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    f.cfg.mail_poll_interval = 1;
    struct mail_message m = {"a@example.org", "Betreff", "Text", NULL, 0};
    int64_t id;
    struct mail_sender *s = NULL;
    assert_int_equal(mail_sender_start(&f.cfg, f.db, &s, &err), KR_OK);
    /* The sender takes the mail at once (connection refused: a retry). */
    assert_int_equal(mail_enqueue(f.conn, &m, &id, &err), KR_OK);
    mail_sender_wake(s);
    int64_t attempts = 0;
    for (int i = 0; i < 100 && attempts == 0; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        attempts = value(&f, "SELECT attempts FROM mail_message WHERE id = $1", id);
    }
    assert_int_equal(attempts, 1);
    mail_sender_wake(NULL);
    mail_sender_stop(s);
    mail_sender_stop(NULL);
    mail_sender_wake(NULL); /* no sender any more: nothing happens */
    struct kr_config bad = f.cfg;
    (void)snprintf(bad.mail_from, sizeof(bad.mail_from), "nobody");
    assert_int_equal(mail_sender_start(&bad, f.db, &s, &err), KR_ERR_CONFIG);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_check),
        cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_header_encoding),
        cmocka_unit_test(test_disposition),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_sender_identity),
        cmocka_unit_test(test_config_keys),
        TESTDB_BOTH(test_enqueue_checks),
        TESTDB_BOTH(test_enqueue_joins_transaction),
        TESTDB_BOTH(test_temporary_failures_back_off_then_give_up),
        TESTDB_BOTH(test_nothing_sent_without_relay),
        TESTDB_BOTH(test_queue_stats_and_purge),
        TESTDB_BOTH(test_sender_starts_and_stops),
    };
    return cmocka_run_group_tests_name("mail", tests, NULL, NULL);
}
