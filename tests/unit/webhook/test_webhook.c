/*
 * test_webhook.c - the webhook outbox: checks, signature, queueing in the
 * caller's transaction, delivery with headers and signature to a receiver
 * on a local socket, retries with backoff, giving up, leases, purge and
 * statistics, on SQLite and PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/util.h"
#include "testdb.h"
#include "webhook/webhook.h"

/* ---- A receiver: answers each connection with a given status --------------------- */

struct receiver {
    int fd;
    int port;
    int status;      /* what to answer */
    int requests;    /* how many it answered */
    char last[8192]; /* the last request, head and body */
    pthread_t thread;
};

static void *receive_main(void *arg)
{
    struct receiver *r = arg;
    for (;;) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        size_t got = 0;
        ssize_t n;
        /* Read until the body (Content-Length) is complete. */
        while (got < sizeof(r->last) - 1 &&
               (n = read(c, r->last + got, sizeof(r->last) - 1 - got)) > 0) {
            got += (size_t)n;
            r->last[got] = '\0';
            const char *end = strstr(r->last, "\r\n\r\n");
            const char *cl = strstr(r->last, "Content-Length: ");
            if (end && cl && got >= (size_t)(end + 4 - r->last) + strtoul(cl + 16, NULL, 10))
                break;
        }
        char answer[100];
        int len =
            snprintf(answer, sizeof(answer),
                     "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r->status);
        if (write(c, answer, (size_t)len) != len)
            fprintf(stderr, "receiver: short write\n");
        close(c);
        __atomic_add_fetch(&r->requests, 1, __ATOMIC_SEQ_CST);
    }
}

static void receiver_start(struct receiver *r, int status)
{
    memset(r, 0, sizeof(*r));
    r->status = status;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(r->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(r->fd, 8), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sa, &sl), 0);
    r->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&r->thread, NULL, receive_main, r), 0);
}

static void receiver_stop(struct receiver *r)
{
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->thread, NULL);
}

/* A port nobody listens on (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- Fixture ------------------------------------------------------------------------- */

struct fixture {
    struct db *db;
    struct db_conn *conn;
};

static void open_fixture(void **state, struct fixture *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
}

static void close_fixture(struct fixture *f)
{
    db_release(f->conn);
    testdb_close(f->db);
}

static int64_t number(struct fixture *f, const char *sql, int64_t id)
{
    struct kr_error err;
    int64_t v = -1;
    assert_int_equal(db_query_int64(f->conn, sql, DB_PARAMS(DB_INT(id)), &v, &err), KR_OK);
    return v;
}

static char *text(struct fixture *f, struct arena *a, const char *sql, int64_t id)
{
    struct kr_error err;
    char *v = NULL;
    assert_int_equal(db_query_text(f->conn, sql, DB_PARAMS(DB_INT(id)), a, &v, &err), KR_OK);
    return v;
}

/* ---- Tests --------------------------------------------------------------------------- */

static void test_url_check(void **state)
{
    (void)state;
    struct kr_error err;
    assert_int_equal(webhook_url_check("https://fachverfahren.example.org/kreisel", &err), KR_OK);
    assert_int_equal(webhook_url_check("http://127.0.0.1:8081/in?x=1", &err), KR_OK);
    assert_int_equal(webhook_url_check("ftp://example.org/", &err), KR_ERR_INVALID);
    assert_int_equal(webhook_url_check("https://", &err), KR_ERR_INVALID);
    assert_int_equal(webhook_url_check("https:///path", &err), KR_ERR_INVALID);
    assert_int_equal(webhook_url_check("https://user:pw@example.org/", &err), KR_ERR_INVALID);
    assert_int_equal(webhook_url_check("https://example.org/a b", &err), KR_ERR_INVALID);
    assert_int_equal(webhook_url_check("https://example.org/\r\nX: y", &err), KR_ERR_INVALID);
    assert_int_equal(webhook_url_check(NULL, &err), KR_ERR_INVALID);
    char *long_url = malloc(WEBHOOK_URL_MAX + 20);
    memset(long_url, 'a', WEBHOOK_URL_MAX + 19);
    memcpy(long_url, "https://", 8);
    long_url[WEBHOOK_URL_MAX + 19] = '\0';
    assert_int_equal(webhook_url_check(long_url, &err), KR_ERR_INVALID);
    free(long_url);
}

static void test_signature_and_secret(void **state)
{
    (void)state;
    char sig[65];
    assert_int_equal(kr_util_init(), KR_OK);
    /* RFC 4231 test case 2. */
    webhook_signature("Jefe", "what do ya want for nothing?", 28, sig);
    assert_string_equal(sig, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    struct kr_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    assert_string_equal(webhook_secret_of(&cfg), "");
    snprintf(cfg.forms_webhook_secret, sizeof(cfg.forms_webhook_secret), "%s", "alt");
    assert_string_equal(webhook_secret_of(&cfg), "alt");
    snprintf(cfg.webhook_secret, sizeof(cfg.webhook_secret), "%s", "neu");
    assert_string_equal(webhook_secret_of(&cfg), "neu");
    assert_string_equal(webhook_secret_of(NULL), "");
}

static void test_enqueue_checks_and_transaction(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct webhook_delivery ok = {"workflow", "K-2026-000001", "case.state",
                                  "https://example.org/in", "{\"case\": \"K-2026-000001\"}"};
    struct webhook_delivery bad = ok;
    bad.url = "file:///etc/passwd";
    assert_int_equal(webhook_enqueue(f.conn, &bad, NULL, &err), KR_ERR_INVALID);
    bad = ok;
    bad.body = "[1, 2]";
    assert_int_equal(webhook_enqueue(f.conn, &bad, NULL, &err), KR_ERR_INVALID);
    bad.body = "{\"a\": 1, \"a\": 2}";
    assert_int_equal(webhook_enqueue(f.conn, &bad, NULL, &err), KR_ERR_INVALID);
    bad.body = "nicht json";
    assert_int_equal(webhook_enqueue(f.conn, &bad, NULL, &err), KR_ERR_INVALID);
    bad = ok;
    bad.event = "Case State";
    assert_int_equal(webhook_enqueue(f.conn, &bad, NULL, &err), KR_ERR_INVALID);
    bad = ok;
    bad.ref = "";
    assert_int_equal(webhook_enqueue(f.conn, &bad, NULL, &err), KR_ERR_INVALID);
    char *big = malloc(WEBHOOK_BODY_MAX + 16);
    memset(big, ' ', WEBHOOK_BODY_MAX + 15);
    big[0] = '{';
    big[WEBHOOK_BODY_MAX + 14] = '}';
    big[WEBHOOK_BODY_MAX + 15] = '\0';
    bad = ok;
    bad.body = big;
    assert_int_equal(webhook_enqueue(f.conn, &bad, NULL, &err), KR_ERR_TOO_LARGE);
    free(big);
    assert_int_equal(number(&f, "SELECT COUNT(*) FROM webhook_outbox WHERE id > $1", 0), 0);

    /* Rolled back with the caller's change: nothing queued. */
    int64_t id = 0;
    assert_int_equal(db_begin(f.conn, &err), KR_OK);
    assert_int_equal(webhook_enqueue(f.conn, &ok, &id, &err), KR_OK);
    db_rollback(f.conn);
    assert_int_equal(number(&f, "SELECT COUNT(*) FROM webhook_outbox WHERE id > $1", 0), 0);
    /* Committed with it: queued and due now. */
    assert_int_equal(db_begin(f.conn, &err), KR_OK);
    assert_int_equal(webhook_enqueue(f.conn, &ok, &id, &err), KR_OK);
    assert_int_equal(db_commit(f.conn, &err), KR_OK);
    assert_true(id > 0);
    struct arena *a = arena_new(0);
    assert_string_equal(text(&f, a, "SELECT state FROM webhook_outbox WHERE id = $1", id),
                        "queued");
    assert_string_equal(text(&f, a, "SELECT event FROM webhook_outbox WHERE id = $1", id),
                        "case.state");
    arena_free(a);
    close_fixture(&f);
}

static void test_delivered_signed(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct receiver r;
    receiver_start(&r, 204);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/in", r.port);
    const char *body = "{\"case\":\"K-2026-000007\",\"state\":\"decided\"}";
    struct webhook_delivery d = {"workflow", "K-2026-000007", "case.state", url, body};
    int64_t id;
    assert_int_equal(webhook_enqueue(f.conn, &d, &id, &err), KR_OK);
    unsigned sent = 99;
    /* Without a key nothing goes out. */
    assert_int_equal(webhook_send_due(f.conn, "", 32, &sent, &err), KR_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(webhook_send_due(f.conn, "geheim", 32, &sent, &err), KR_OK);
    assert_int_equal(sent, 1);
    assert_int_equal(__atomic_load_n(&r.requests, __ATOMIC_SEQ_CST), 1);
    char sig[65], want[120];
    webhook_signature("geheim", body, strlen(body), sig);
    snprintf(want, sizeof(want), "X-Kreisel-Signature: sha256=%s\r\n", sig);
    assert_non_null(strstr(r.last, "POST /in HTTP/1.1\r\n"));
    assert_non_null(strstr(r.last, want));
    assert_non_null(strstr(r.last, "X-Kreisel-Event: case.state\r\n"));
    snprintf(want, sizeof(want), "X-Kreisel-Delivery: %lld\r\n", (long long)id);
    assert_non_null(strstr(r.last, want));
    assert_non_null(strstr(r.last, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(r.last, body));
    struct arena *a = arena_new(0);
    assert_string_equal(text(&f, a, "SELECT state FROM webhook_outbox WHERE id = $1", id), "sent");
    assert_int_equal(number(&f, "SELECT attempts FROM webhook_outbox WHERE id = $1", id), 1);
    /* Sent once: the next round has nothing. */
    assert_int_equal(webhook_send_due(f.conn, "geheim", 32, &sent, &err), KR_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(__atomic_load_n(&r.requests, __ATOMIC_SEQ_CST), 1);
    struct webhook_stats ws;
    assert_int_equal(webhook_stats(f.conn, &ws, &err), KR_OK);
    assert_int_equal(ws.sent, 1);
    assert_int_equal(ws.queued, 0);
    /* Purge empties the body of finished deliveries, keeps the row. */
    int64_t purged = 0;
    assert_int_equal(webhook_purge(f.conn, kr_now() - 60, &purged, &err), KR_OK);
    assert_int_equal(purged, 0);
    assert_int_equal(webhook_purge(f.conn, kr_now() + 1, &purged, &err), KR_OK);
    assert_int_equal(purged, 1);
    assert_string_equal(text(&f, a, "SELECT body FROM webhook_outbox WHERE id = $1", id), "");
    struct buf m;
    buf_init(&m, 8192);
    assert_int_equal(webhook_metrics_prometheus(f.conn, a, &m, &err), KR_OK);
    assert_non_null(strstr(buf_cstr(&m), "kreisel_webhook_deliveries{state=\"sent\"} 1\n"));
    buf_release(&m);
    arena_free(a);
    receiver_stop(&r);
    close_fixture(&f);
}

static void test_retry_backoff_then_give_up(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct receiver r;
    receiver_start(&r, 503);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/in", r.port);
    struct webhook_delivery d = {"forms", "F-2026-000001-1", "form.submitted", url, "{}"};
    int64_t id;
    assert_int_equal(webhook_enqueue(f.conn, &d, &id, &err), KR_OK);
    unsigned sent = 9;
    int64_t before = kr_now();
    assert_int_equal(webhook_send_due(f.conn, "k", 32, &sent, &err), KR_OK);
    assert_int_equal(sent, 0);
    struct arena *a = arena_new(0);
    assert_string_equal(text(&f, a, "SELECT state FROM webhook_outbox WHERE id = $1", id),
                        "queued");
    assert_string_equal(text(&f, a, "SELECT last_error FROM webhook_outbox WHERE id = $1", id),
                        "HTTP status 503");
    /* Backed off: 30 s after the first failure, not due now. */
    int64_t next = number(&f, "SELECT next_at FROM webhook_outbox WHERE id = $1", id);
    assert_true(next >= before + WEBHOOK_RETRY_FIRST && next <= kr_now() + WEBHOOK_RETRY_FIRST);
    assert_int_equal(webhook_send_due(f.conn, "k", 32, &sent, &err), KR_OK);
    assert_int_equal(__atomic_load_n(&r.requests, __ATOMIC_SEQ_CST), 1);
    /* The second failure waits twice as long. */
    assert_int_equal(db_exec(f.conn, "UPDATE webhook_outbox SET next_at = 0 WHERE id = $1",
                             DB_PARAMS(DB_INT(id)), NULL, &err),
                     KR_OK);
    before = kr_now();
    assert_int_equal(webhook_send_due(f.conn, "k", 32, &sent, &err), KR_OK);
    next = number(&f, "SELECT next_at FROM webhook_outbox WHERE id = $1", id);
    assert_true(next >= before + 2 * WEBHOOK_RETRY_FIRST);
    /* An unreachable receiver counts as a failure too; the last allowed
     * attempt gives up. */
    char dead[64];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d/in", closed_port());
    assert_int_equal(db_exec(f.conn,
                             "UPDATE webhook_outbox SET next_at = 0, url = $2, attempts = $3 "
                             "WHERE id = $1",
                             DB_PARAMS(DB_INT(id), DB_TEXT(dead), DB_INT(WEBHOOK_MAX_ATTEMPTS - 1)),
                             NULL, &err),
                     KR_OK);
    assert_int_equal(webhook_send_due(f.conn, "k", 32, &sent, &err), KR_OK);
    assert_string_equal(text(&f, a, "SELECT state FROM webhook_outbox WHERE id = $1", id),
                        "failed");
    assert_true(number(&f, "SELECT sent_at FROM webhook_outbox WHERE id = $1", id) > 0);
    assert_non_null(
        strstr(text(&f, a, "SELECT last_error FROM webhook_outbox WHERE id = $1", id), "onnect"));
    struct webhook_stats ws;
    assert_int_equal(webhook_stats(f.conn, &ws, &err), KR_OK);
    assert_int_equal(ws.failed, 1);
    arena_free(a);
    receiver_stop(&r);
    close_fixture(&f);
}

static void test_lease_keeps_others_away(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct receiver r;
    receiver_start(&r, 200);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/in", r.port);
    struct webhook_delivery d = {"forms", "F-1", "form.submitted", url, "{}"};
    int64_t id;
    assert_int_equal(webhook_enqueue(f.conn, &d, &id, &err), KR_OK);
    /* Another process claimed it a moment ago (its lease is in next_at). */
    assert_int_equal(db_exec(f.conn, "UPDATE webhook_outbox SET next_at = $2 WHERE id = $1",
                             DB_PARAMS(DB_INT(id), DB_INT(kr_now() + WEBHOOK_TIMEOUT)), NULL, &err),
                     KR_OK);
    unsigned sent = 9;
    assert_int_equal(webhook_send_due(f.conn, "k", 32, &sent, &err), KR_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(__atomic_load_n(&r.requests, __ATOMIC_SEQ_CST), 0);
    receiver_stop(&r);
    close_fixture(&f);
}

static void test_sender_delivers(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct receiver r;
    receiver_start(&r, 200);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/in", r.port);
    struct webhook_delivery d = {"forms", "F-2", "form.submitted", url, "{\"n\": 2}"};
    int64_t id;
    assert_int_equal(webhook_enqueue(f.conn, &d, &id, &err), KR_OK);
    struct kr_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.webhook_secret, sizeof(cfg.webhook_secret), "%s", "k");
    cfg.webhook_purge_after = 86400;
    struct webhook_sender *s = NULL;
    assert_int_equal(webhook_sender_start(&cfg, f.db, 1, &s, &err), KR_OK);
    for (int i = 0; i < 100 && __atomic_load_n(&r.requests, __ATOMIC_SEQ_CST) == 0; i++)
        usleep(50000);
    webhook_sender_stop(s);
    assert_int_equal(__atomic_load_n(&r.requests, __ATOMIC_SEQ_CST), 1);
    struct arena *a = arena_new(0);
    assert_string_equal(text(&f, a, "SELECT state FROM webhook_outbox WHERE id = $1", id), "sent");
    arena_free(a);
    receiver_stop(&r);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_check),
        cmocka_unit_test(test_signature_and_secret),
        TESTDB_BOTH(test_enqueue_checks_and_transaction),
        TESTDB_BOTH(test_delivered_signed),
        TESTDB_BOTH(test_retry_backoff_then_give_up),
        TESTDB_BOTH(test_lease_keeps_others_away),
        TESTDB_BOTH(test_sender_delivers),
    };
    return cmocka_run_group_tests_name("webhook", tests, NULL, NULL);
}
