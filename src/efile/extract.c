/*
 * extract.c - the text-extraction queue: a version's text is extracted
 * after the upload (PDF through poppler's pdftotext in a child process
 * with a time limit and an output cap; plain text as is, Latin-1 turned
 * into UTF-8), stored with the version and indexed.  A background thread
 * of `kreisel serve` works through the queue, so that uploads stay fast.
 *
 * Why a child process: a malformed PDF can make a parser loop or crash;
 * in a child it only costs that child, which is killed after the limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/text.h"
#include "core/util.h"
#include "efile/efile_internal.h"

#define TEXT_MAX (1024 * 1024) /* text kept per version */
#define PDF_TIMEOUT_MS 30000   /* per PDF */
#define ATTEMPTS_MAX 3
#define PDFTOTEXT "/usr/bin/pdftotext"

extern char **environ;

/* Run pdftotext on fd (the PDF) and collect at most TEXT_MAX bytes. */
static int run_pdftotext(int fd, struct buf *out, struct kr_error *err)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return kr_error_set(err, KR_ERR_IO, "cannot create a pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"pdftotext", "-q", "-enc", "UTF-8", "-", "-", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, PDFTOTEXT, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return kr_error_set(err, KR_ERR_IO, "cannot run pdftotext (install poppler-utils)");
    }
    int64_t deadline = kr_monotonic_ns() + (int64_t)PDF_TIMEOUT_MS * 1000000;
    char chunk[16384];
    bool timeout = false;
    for (;;) {
        int64_t left = (deadline - kr_monotonic_ns()) / 1000000;
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            timeout = true;
            break;
        }
        ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out->len + (size_t)n <= TEXT_MAX)
            buf_append(out, chunk, (size_t)n);
    }
    close(pipefd[0]);
    if (timeout)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timeout)
        return kr_error_set(err, KR_ERR_BUSY, "pdftotext took longer than %d s",
                            PDF_TIMEOUT_MS / 1000);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return kr_error_set(err, KR_ERR_INVALID, "pdftotext could not read the PDF");
    return buf_status(out);
}

/* Plain text: UTF-8 as is, anything else read as Latin-1. */
static int read_plain(int fd, struct buf *out, struct kr_error *err)
{
    char *raw = malloc(TEXT_MAX);
    if (!raw)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    size_t len = 0;
    ssize_t n;
    while (len < TEXT_MAX && (n = read(fd, raw + len, TEXT_MAX - len)) > 0)
        len += (size_t)n;
    /* A cut at TEXT_MAX may end inside a UTF-8 sequence (at most 3 bytes). */
    bool utf8 = text_utf8_valid(raw, len);
    for (size_t cut = 1; !utf8 && len == TEXT_MAX && cut <= 3; cut++)
        if (text_utf8_valid(raw, len - cut)) {
            len -= cut;
            utf8 = true;
        }
    if (utf8) {
        buf_append(out, raw, len);
    } else {
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)raw[i];
            if (c < 0x80) {
                buf_putc(out, (char)c);
            } else {
                buf_putc(out, (char)(0xC0 | (c >> 6)));
                buf_putc(out, (char)(0x80 | (c & 0x3F)));
            }
        }
    }
    free(raw);
    return buf_status(out) == KR_ERR_TOO_LARGE ? KR_OK : buf_status(out);
}

/* Replace NUL and other control bytes (PostgreSQL refuses NUL). */
static void clean(struct buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F)
            b->data[i] = ' ';
    }
}

static int extract_text(struct blob_store *store, const char *hash, const char *media_type,
                        struct buf *text, struct kr_error *err)
{
    int fd;
    int64_t size;
    int rc = blob_open(store, hash, &fd, &size, err);
    if (rc)
        return rc;
    char magic[5] = {0};
    ssize_t got = pread(fd, magic, sizeof(magic), 0);
    if (got == 5 && memcmp(magic, "%PDF-", 5) == 0)
        rc = run_pdftotext(fd, text, err);
    else if (strncmp(media_type, "text/", 5) == 0)
        rc = read_plain(fd, text, err);
    close(fd);
    if (rc == KR_OK && text->len)
        clean(text);
    return rc;
}

struct store_ctx {
    int64_t version, doc;
    const char *text;
    const char *error;
    bool current;
};

static int store_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct store_ctx *s = arg;
    int rc;
    if (s->error) {
        rc = db_exec(conn,
                     "UPDATE efile_text_job SET attempts = attempts + 1, error = $2, state = "
                     "CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END "
                     "WHERE version_id = $1",
                     DB_PARAMS(DB_INT(s->version), DB_TEXT(s->error), DB_INT(ATTEMPTS_MAX)), NULL,
                     err);
        return rc;
    }
    rc = db_exec(conn, "UPDATE efile_version SET text = $2 WHERE id = $1",
                 DB_PARAMS(DB_INT(s->version), DB_TEXT(s->text)), NULL, err);
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "UPDATE efile_text_job SET state = 'done', done_at = $2, error = NULL "
                     "WHERE version_id = $1",
                     DB_PARAMS(DB_INT(s->version), DB_INT(kr_now())), NULL, err);
    if (rc == KR_OK && s->current)
        rc = efile_index_replace(conn, s->doc, err);
    return rc;
}

int efile_extract_version(struct db_conn *conn, struct blob_store *store, int64_t version_id,
                          struct kr_error *err)
{
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT v.blob_hash, v.media_type, v.document_id, "
                      "CASE WHEN d.current = v.no THEN 1 ELSE 0 END FROM efile_version v "
                      "JOIN efile_document d ON d.id = v.document_id WHERE v.id = $1",
                      DB_PARAMS(DB_INT(version_id)), &st, err);
    struct store_ctx s = {.version = version_id};
    char *hash = NULL, *type = NULL;
    if (rc == KR_OK) {
        rc = db_step(st, err);
        if (rc == DB_ROW) {
            hash = db_column_strdup(st, 0, a);
            type = db_column_strdup(st, 1, a);
            s.doc = db_column_int64(st, 2);
            s.current = db_column_int64(st, 3) != 0;
        }
        db_finish(st);
        if (rc == DB_DONE)
            rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such version");
        else if (rc == DB_ROW)
            rc = KR_OK;
    }
    struct buf text;
    buf_init(&text, TEXT_MAX);
    if (rc == KR_OK) {
        struct kr_error xerr;
        kr_error_clear(&xerr);
        if (extract_text(store, hash, type, &text, &xerr) != KR_OK)
            s.error = arena_strdup(a, xerr.message);
        s.text = buf_cstr(&text);
        rc = db_transact(conn, store_in_tx, &s, err);
    }
    buf_release(&text);
    arena_free(a);
    return rc;
}

int efile_extract_pending(struct db *db, struct blob_store *store, unsigned max, unsigned *done,
                          struct kr_error *err)
{
    *done = 0;
    struct db_conn *conn;
    int rc = db_acquire(db, &conn, err);
    if (rc)
        return rc;
    int64_t ids[64];
    size_t n = 0;
    struct db_stmt *st;
    rc = db_query(conn,
                  "SELECT version_id FROM efile_text_job WHERE state = 'pending' "
                  "ORDER BY queued_at, version_id LIMIT $1",
                  DB_PARAMS(DB_INT(max < 64 ? max : 64)), &st, err);
    if (rc == KR_OK) {
        while ((rc = db_step(st, err)) == DB_ROW && n < 64)
            ids[n++] = db_column_int64(st, 0);
        db_finish(st);
    }
    rc = rc < 0 ? rc : KR_OK;
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        rc = efile_extract_version(conn, store, ids[i], err);
        if (rc == KR_OK)
            (*done)++;
    }
    db_release(conn);
    return rc;
}

/* ---- The worker thread ------------------------------------------------------------------ */

struct efile_extractor {
    struct db *db;
    struct blob_store *store;
    unsigned interval;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, wake;
};

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct efile_extractor *current;

void efile_extractor_wake(void)
{
    pthread_mutex_lock(&current_lock);
    if (current) {
        pthread_mutex_lock(&current->lock);
        current->wake = true;
        pthread_cond_signal(&current->cond);
        pthread_mutex_unlock(&current->lock);
    }
    pthread_mutex_unlock(&current_lock);
}

static void *worker(void *arg)
{
    struct efile_extractor *ex = arg;
    for (;;) {
        unsigned done = 0;
        struct kr_error err;
        kr_error_clear(&err);
        if (efile_extract_pending(ex->db, ex->store, 16, &done, &err) != KR_OK)
            kr_log_error("efile_extract_failed", &err);
        pthread_mutex_lock(&ex->lock);
        if (!ex->stop && !ex->wake && done < 16) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += ex->interval;
            pthread_cond_timedwait(&ex->cond, &ex->lock, &ts);
        }
        bool stop = ex->stop;
        ex->wake = false;
        pthread_mutex_unlock(&ex->lock);
        if (stop)
            break;
    }
    return NULL;
}

int efile_extractor_start(struct db *db, struct blob_store *store, unsigned interval,
                          struct efile_extractor **out, struct kr_error *err)
{
    struct efile_extractor *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    ex->db = db;
    ex->store = store;
    ex->interval = interval ? interval : 10;
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->cond, NULL);
    if (pthread_create(&ex->thread, NULL, worker, ex) != 0) {
        pthread_cond_destroy(&ex->cond);
        pthread_mutex_destroy(&ex->lock);
        free(ex);
        return kr_error_set(err, KR_ERR_INTERNAL, "cannot start the text extraction thread");
    }
    pthread_mutex_lock(&current_lock);
    current = ex;
    pthread_mutex_unlock(&current_lock);
    *out = ex;
    return KR_OK;
}

void efile_extractor_stop(struct efile_extractor *ex)
{
    if (!ex)
        return;
    pthread_mutex_lock(&current_lock);
    if (current == ex)
        current = NULL;
    pthread_mutex_unlock(&current_lock);
    pthread_mutex_lock(&ex->lock);
    ex->stop = true;
    pthread_cond_signal(&ex->cond);
    pthread_mutex_unlock(&ex->lock);
    pthread_join(ex->thread, NULL);
    pthread_cond_destroy(&ex->cond);
    pthread_mutex_destroy(&ex->lock);
    free(ex);
}
