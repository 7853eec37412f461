/*
 * upload.c - content sniffing with libmagic and clamd's INSTREAM protocol
 * (see upload.h).
 */
#include "forms/upload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <magic.h>

static pthread_mutex_t magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t magic_handle;

int forms_magic_init(struct kr_error *err)
{
    pthread_mutex_lock(&magic_lock);
    if (!magic_handle) {
        magic_handle = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS);
        if (magic_handle && magic_load(magic_handle, NULL) != 0) {
            magic_close(magic_handle);
            magic_handle = NULL;
        }
    }
    bool ok = magic_handle != NULL;
    pthread_mutex_unlock(&magic_lock);
    return ok ? KR_OK : kr_error_set(err, KR_ERR_INTERNAL, "libmagic cannot be loaded");
}

void forms_magic_release(void)
{
    pthread_mutex_lock(&magic_lock);
    if (magic_handle)
        magic_close(magic_handle);
    magic_handle = NULL;
    pthread_mutex_unlock(&magic_lock);
}

int forms_sniff(const char *path, char *out, size_t size, struct kr_error *err)
{
    pthread_mutex_lock(&magic_lock);
    const char *t = magic_handle ? magic_file(magic_handle, path) : NULL;
    if (t)
        snprintf(out, size, "%s", t);
    pthread_mutex_unlock(&magic_lock);
    return t ? KR_OK : kr_error_set(err, KR_ERR_IO, "the file type cannot be determined");
}

static int send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int connect_clamd(const char *socket_path, struct kr_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(sa.sun_path))
        return kr_error_set(err, KR_ERR_CONFIG, "forms_clamd_socket: path too long");
    memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 30};
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        kr_error_set(err, KR_ERR_IO, "the virus scanner is not reachable");
        kr_error_detail(err, "clamd %s: %s", socket_path, strerror(errno));
        return -1;
    }
    return fd;
}

/* Stream the file in INSTREAM chunks, then the zero-length end mark. */
static int stream_file(int fd, const char *path)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    char buf[65536];
    ssize_t n;
    int rc = send_all(fd, "zINSTREAM", 10);
    while (rc == 0 && (n = read(in, buf, sizeof(buf))) > 0) {
        uint32_t len = htonl((uint32_t)n);
        rc = send_all(fd, &len, 4) || send_all(fd, buf, (size_t)n) ? -1 : 0;
    }
    close(in);
    uint32_t end = 0;
    return rc == 0 && send_all(fd, &end, 4) == 0 ? 0 : -1;
}

int forms_clamd_scan(const char *socket_path, const char *path, bool *infected, char *sig,
                     size_t sig_size, struct kr_error *err)
{
    *infected = false;
    int fd = connect_clamd(socket_path, err);
    if (fd < 0)
        return err->code;
    char reply[512];
    size_t got = 0;
    if (stream_file(fd, path) == 0) {
        ssize_t n;
        while (got < sizeof(reply) - 1 &&
               (n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0)) > 0) {
            got += (size_t)n;
            if (memchr(reply, '\0', got))
                break;
        }
    }
    close(fd);
    reply[got] = '\0';
    /* "stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded. ERROR" */
    if (strcmp(reply, "stream: OK") == 0 || strcmp(reply, "stream: OK\n") == 0)
        return KR_OK;
    const char *found = strstr(reply, " FOUND");
    if (strncmp(reply, "stream: ", 8) == 0 && found) {
        *infected = true;
        snprintf(sig, sig_size, "%.*s", (int)(found - reply - 8), reply + 8);
        return KR_OK;
    }
    kr_error_set(err, KR_ERR_IO, "the virus scanner did not answer as expected");
    kr_error_detail(err, "clamd reply: %.200s", reply);
    return KR_ERR_IO;
}
