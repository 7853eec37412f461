/*
 * fuzz_multipart.c - libFuzzer target for multipart/form-data uploads
 * (src/http/upload.c on libmicrohttpd's post processor).
 *
 * The real server runs in this process with one upload route (small
 * limits); every input is sent as the body of a POST with a fixed boundary
 * over a loopback socket.  Besides not crashing (ASan, UBSan), the promises
 * are checked: the answer is 200, 400 or 413 and never a 5xx; on 200 every
 * listed file name is a base name (no slash, backslash or control
 * character, no leading dot).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/log.h"
#include "core/util.h"
#include "db/db.h"
#include "http/http.h"
#include "http/server.h"
#include "template/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned port;

static bool safe_name(const char *s)
{
    if (s[0] == '.' || s[0] == ' ')
        return false;
    for (; *s; s++)
        if (*s == '/' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static int check(struct http_request *req, struct kr_error *err)
{
    (void)err;
    size_t n;
    const struct http_upload *up = http_uploads(req, &n);
    for (size_t i = 0; i < n; i++)
        if (!safe_name(up[i].filename) || (!up[i].too_large && !up[i].path)) {
            fprintf(stderr, "fuzz_multipart: bad upload entry '%s'\n", up[i].filename);
            abort();
        }
    return http_send(req, 200, "text/plain", "ok", 2);
}

static void start(void)
{
    static struct kr_config cfg;
    struct kr_error err;
    struct db *db;
    struct tpl_set *tpl;
    struct http_server *server;
    struct blob_store *blobs;
    char dir[] = "/tmp/kr-fuzz-multipart-XXXXXX";
    char url[128], tdir[600], ldir[600];
    kr_config_defaults(&cfg);
    kr_log_set_level(KR_LOG_ERROR);
    snprintf(cfg.share_dir, sizeof(cfg.share_dir), "%s", KREISEL_SHARE_DIR);
    snprintf(cfg.listen_host, sizeof(cfg.listen_host), "127.0.0.1");
    cfg.port = 0;
    cfg.threads = 1;
    cfg.max_body_size = 8192;
    cfg.upload_max_files = 4;
    if (kr_util_init() || !mkdtemp(dir))
        abort();
    snprintf(url, sizeof(url), "sqlite:%s/kreisel.db", dir);
    snprintf(tdir, sizeof(tdir), "%s/templates", cfg.share_dir);
    snprintf(ldir, sizeof(ldir), "%s/locales", cfg.share_dir);
    struct db_options opts = {.url = url, .pool_size = 2};
    int applied;
    struct http_upload_limits limits = {.max_file = 4096, .max_total = 65536, .max_files = 0};
    if (db_open(&db, &opts, &err) || db_migrate(db, &applied, &err) ||
        blob_store_open(dir, &blobs, &err) || tpl_set_load(&tpl, tdir, ldir, &err) ||
        http_server_new(&server, &cfg, db, tpl, &err) ||
        http_route_upload(server, HTTP_POST, "/api/fuzz", check, HTTP_ROUTE_NO_CSRF, &limits,
                          &err)) {
        fprintf(stderr, "fuzz_multipart setup: %s\n", err.message);
        abort();
    }
    http_server_set_blobs(server, blobs);
    if (http_server_start(server, &err))
        abort();
    port = http_server_port(server); /* lives until the process ends */
}

static void send_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t n = send(fd, c, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may close early (413): fine */
        c += n;
        len -= (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!port)
        start();
    if (size > 100000)
        return 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        abort();
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "POST /api/fuzz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "Content-Type: multipart/form-data; boundary=B0und\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     size);
    send_all(fd, head, (size_t)n);
    send_all(fd, data, size);
    shutdown(fd, SHUT_WR);
    char reply[512];
    ssize_t got = recv(fd, reply, sizeof(reply) - 1, MSG_WAITALL);
    close(fd);
    if (got < 12)
        return 0; /* closed without an answer after a refused body */
    reply[got] = '\0';
    reply[12] = '\0'; /* "HTTP/1.1 200" */
    int64_t status = 0;
    (void)kr_parse_int64(reply + 9, 100, 599, &status);
    if (status != 200 && status != 400 && status != 413) {
        fprintf(stderr, "fuzz_multipart: unexpected status %lld\n", (long long)status);
        abort();
    }
    return 0;
}
