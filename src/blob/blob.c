/*
 * blob.c - the filesystem backend of the blob store.
 *
 * Layout under the store's directory:
 *   tmp/<random>          writes in progress (same filesystem as the blobs,
 *                         so that commit is an atomic rename)
 *   ab/cd/abcd...         a committed blob, read-only (mode 0440)
 *
 * Commit fsyncs the file before the rename and the directory after it, so
 * that a blob the database refers to survives a crash.  Two writers of the
 * same content race harmlessly: rename replaces equal bytes with equal
 * bytes.
 */
#include "blob/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

#define BLOB_PATH_MAX 4096
#define BLOB_READ_CHUNK (64 * 1024)

/* The seam for another backend (S3-compatible object storage): the
 * operations the rest of this file builds on. */
struct blob_backend {
    int (*publish)(struct blob_store *s, const char *tmp_path, const char *hash,
                   struct kr_error *err);
    int (*open)(struct blob_store *s, const char *hash, int *fd, int64_t *size,
                struct kr_error *err);
    int (*remove)(struct blob_store *s, const char *hash, struct kr_error *err);
};

struct blob_store {
    char dir[BLOB_PATH_MAX - 256]; /* room for "/ab/cd/<hash>" and "/tmp/<name>" */
    const struct blob_backend *backend;
};

struct blob_writer {
    struct blob_store *store;
    int fd;
    int64_t limit;
    int64_t size;
    bool finished;
    bool failed;
    crypto_hash_sha256_state sha;
    struct blob_info info;
    char path[BLOB_PATH_MAX];
};

bool blob_hash_valid(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < BLOB_HASH_LEN; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return s[BLOB_HASH_LEN] == '\0';
}

/* <dir>/ab/cd/<hash>; with dirs_only, <dir>/ab/cd. */
static int blob_path(const struct blob_store *s, const char *hash, bool dirs_only, char *out,
                     size_t size)
{
    int n = dirs_only ? snprintf(out, size, "%s/%.2s/%.2s", s->dir, hash, hash + 2)
                      : snprintf(out, size, "%s/%.2s/%.2s/%s", s->dir, hash, hash + 2, hash);
    return n > 0 && (size_t)n < size ? KR_OK : KR_ERR_INVALID;
}

static int io_error(struct kr_error *err, const char *what, const char *path)
{
    int e = errno;
    kr_error_set(err, KR_ERR_IO, "the file store failed (%s)", what);
    kr_error_detail(err, "%s: %s", path, strerror(e));
    return KR_ERR_IO;
}

static int make_dir(const char *path, struct kr_error *err)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return KR_OK;
    return io_error(err, "mkdir", path);
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* ---- Filesystem backend ------------------------------------------------------ */

static int fs_publish(struct blob_store *s, const char *tmp_path, const char *hash,
                      struct kr_error *err)
{
    char dir[BLOB_PATH_MAX], first[BLOB_PATH_MAX], path[BLOB_PATH_MAX];
    if (blob_path(s, hash, true, dir, sizeof(dir)) || blob_path(s, hash, false, path, sizeof(path)))
        return kr_error_set(err, KR_ERR_INVALID, "the file store path is too long");
    int n = snprintf(first, sizeof(first), "%s/%.2s", s->dir, hash);
    if (n < 0 || (size_t)n >= sizeof(first))
        return kr_error_set(err, KR_ERR_INVALID, "the file store path is too long");
    int rc = make_dir(first, err);
    if (rc == KR_OK)
        rc = make_dir(dir, err);
    if (rc)
        return rc;
    if (chmod(tmp_path, 0440) != 0)
        return io_error(err, "chmod", tmp_path);
    if (rename(tmp_path, path) != 0)
        return io_error(err, "rename", path);
    if (fsync_dir(dir) != 0)
        return io_error(err, "fsync", dir);
    return KR_OK;
}

static int fs_open(struct blob_store *s, const char *hash, int *fd, int64_t *size,
                   struct kr_error *err)
{
    char path[BLOB_PATH_MAX];
    if (blob_path(s, hash, false, path, sizeof(path)))
        return kr_error_set(err, KR_ERR_INVALID, "the file store path is too long");
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0) {
        if (errno == ENOENT)
            return kr_error_set(err, KR_ERR_NOT_FOUND, "the stored file does not exist");
        return io_error(err, "open", path);
    }
    struct stat st;
    if (fstat(f, &st) != 0) {
        close(f);
        return io_error(err, "stat", path);
    }
    *fd = f;
    if (size)
        *size = (int64_t)st.st_size;
    return KR_OK;
}

static int fs_remove(struct blob_store *s, const char *hash, struct kr_error *err)
{
    char path[BLOB_PATH_MAX];
    if (blob_path(s, hash, false, path, sizeof(path)))
        return kr_error_set(err, KR_ERR_INVALID, "the file store path is too long");
    if (unlink(path) != 0 && errno != ENOENT)
        return io_error(err, "unlink", path);
    return KR_OK;
}

static const struct blob_backend fs_backend = {fs_publish, fs_open, fs_remove};

/* ---- The store ------------------------------------------------------------------ */

int blob_store_open(const char *dir, struct blob_store **out, struct kr_error *err)
{
    struct blob_store *s = calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char tmp[BLOB_PATH_MAX];
    int n = snprintf(s->dir, sizeof(s->dir), "%s", dir);
    int m = snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    int rc = n > 0 && (size_t)n < sizeof(s->dir) && m > 0 && (size_t)m < sizeof(tmp)
                 ? KR_OK
                 : kr_error_set(err, KR_ERR_CONFIG, "file store directory name too long");
    if (rc == KR_OK) /* the data directory may not exist yet on a fresh machine */
        rc = kr_make_dirs(tmp, 0750, err);
    if (rc == KR_OK && access(tmp, W_OK) != 0)
        rc = io_error(err, "not writable", tmp);
    if (rc) {
        kr_error_prefix(err, "file store %s", dir);
        free(s);
        return rc;
    }
    s->backend = &fs_backend;
    *out = s;
    return KR_OK;
}

void blob_store_close(struct blob_store *store)
{
    free(store);
}

/* ---- Writing ------------------------------------------------------------------ */

int blob_writer_begin(struct blob_store *store, int64_t limit, struct blob_writer **out,
                      struct kr_error *err)
{
    if (limit <= 0)
        return kr_error_set(err, KR_ERR_INVALID, "a blob write needs a positive size limit");
    struct blob_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char name[33];
    kr_random_hex(name, 16);
    int n = snprintf(w->path, sizeof(w->path), "%s/tmp/%s", store->dir, name);
    if (n < 0 || (size_t)n >= sizeof(w->path)) {
        free(w);
        return kr_error_set(err, KR_ERR_INVALID, "the file store path is too long");
    }
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (w->fd < 0) {
        int rc = io_error(err, "create", w->path);
        free(w);
        return rc;
    }
    w->store = store;
    w->limit = limit;
    crypto_hash_sha256_init(&w->sha);
    *out = w;
    return KR_OK;
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct kr_error *err)
{
    if (w->finished || w->failed)
        return kr_error_set(err, KR_ERR_INTERNAL, "write to a closed blob writer");
    if ((uint64_t)len > (uint64_t)(w->limit - w->size)) {
        w->failed = true;
        return kr_error_set(err, KR_ERR_TOO_LARGE, "the file is larger than %lld bytes",
                            (long long)w->limit);
    }
    const unsigned char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(w->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            w->failed = true;
            return io_error(err, "write", w->path);
        }
        p += n;
        left -= (size_t)n;
    }
    crypto_hash_sha256_update(&w->sha, data, len);
    w->size += (int64_t)len;
    return KR_OK;
}

int blob_writer_finish(struct blob_writer *w, struct blob_info *info, struct kr_error *err)
{
    if (w->finished || w->failed)
        return kr_error_set(err, KR_ERR_INTERNAL, "finish of a closed blob writer");
    if (fsync(w->fd) != 0) {
        w->failed = true;
        return io_error(err, "fsync", w->path);
    }
    close(w->fd);
    w->fd = -1;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&w->sha, digest);
    kr_hex_encode(digest, sizeof(digest), w->info.hash);
    w->info.size = w->size;
    w->finished = true;
    if (info)
        *info = w->info;
    return KR_OK;
}

const char *blob_writer_path(const struct blob_writer *w)
{
    return w->path;
}

int blob_writer_commit(struct blob_writer *w, struct kr_error *err)
{
    int rc = w->finished ? w->store->backend->publish(w->store, w->path, w->info.hash, err)
                         : kr_error_set(err, KR_ERR_INTERNAL, "commit of an unfinished blob");
    if (rc == KR_OK)
        w->path[0] = '\0'; /* moved: nothing left to remove */
    blob_writer_abort(w);
    return rc;
}

void blob_writer_abort(struct blob_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->path[0] && unlink(w->path) != 0 && errno != ENOENT)
        kr_log(KR_LOG_WARN, "blob_tmp_unlink", "%s: %s", w->path, strerror(errno));
    free(w);
}

int blob_put(struct blob_store *store, const void *data, size_t len, struct blob_info *info,
             struct kr_error *err)
{
    struct blob_writer *w;
    int rc = blob_writer_begin(store, len > 0 ? (int64_t)len : 1, &w, err);
    if (rc)
        return rc;
    rc = blob_writer_write(w, data, len, err);
    if (rc == KR_OK)
        rc = blob_writer_finish(w, info, err);
    if (rc) {
        blob_writer_abort(w);
        return rc;
    }
    return blob_writer_commit(w, err);
}

/* ---- Reading ------------------------------------------------------------------ */

int blob_open(struct blob_store *store, const char *hash, int *fd, int64_t *size,
              struct kr_error *err)
{
    if (!blob_hash_valid(hash))
        return kr_error_set(err, KR_ERR_INVALID, "not a valid file reference");
    return store->backend->open(store, hash, fd, size, err);
}

bool blob_exists(struct blob_store *store, const char *hash)
{
    int fd;
    if (blob_open(store, hash, &fd, NULL, NULL) != KR_OK)
        return false;
    close(fd);
    return true;
}

/* Read exactly len bytes from fd. */
static int read_full(int fd, unsigned char *p, size_t len, struct kr_error *err)
{
    while (len > 0) {
        ssize_t n = read(fd, p, len > BLOB_READ_CHUNK ? BLOB_READ_CHUNK : len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return kr_error_set(err, KR_ERR_IO, "the stored file could not be read");
        p += n;
        len -= (size_t)n;
    }
    return KR_OK;
}

int blob_read(struct blob_store *store, struct arena *a, const char *hash, int64_t max,
              unsigned char **data, size_t *len, struct kr_error *err)
{
    int fd;
    int64_t size;
    int rc = blob_open(store, hash, &fd, &size, err);
    if (rc)
        return rc;
    if (size > max) {
        close(fd);
        return kr_error_set(err, KR_ERR_TOO_LARGE, "the stored file is larger than %lld bytes",
                            (long long)max);
    }
    unsigned char *buf = arena_alloc(a, (size_t)size + 1);
    rc = buf ? read_full(fd, buf, (size_t)size, err)
             : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    close(fd);
    if (rc)
        return rc;
    buf[size] = '\0';
    *data = buf;
    *len = (size_t)size;
    return KR_OK;
}

int blob_verify(struct blob_store *store, const char *hash, struct kr_error *err)
{
    int fd;
    int rc = blob_open(store, hash, &fd, NULL, err);
    if (rc)
        return rc;
    crypto_hash_sha256_state sha;
    crypto_hash_sha256_init(&sha);
    unsigned char *buf = malloc(BLOB_READ_CHUNK);
    ssize_t n = 0;
    while (buf && ((n = read(fd, buf, BLOB_READ_CHUNK)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            crypto_hash_sha256_update(&sha, buf, (size_t)n);
    close(fd);
    free(buf);
    if (!buf || n < 0)
        return kr_error_set(err, buf ? KR_ERR_IO : KR_ERR_NOMEM,
                            "the stored file could not be read");
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[BLOB_HASH_LEN + 1];
    crypto_hash_sha256_final(&sha, digest);
    kr_hex_encode(digest, sizeof(digest), hex);
    if (strcmp(hex, hash) != 0)
        return kr_error_set(err, KR_ERR_INTEGRITY, "the stored file %.12s... is damaged", hash);
    return KR_OK;
}

/* ---- Removal ------------------------------------------------------------------ */

int blob_delete(struct blob_store *store, const char *hash, struct kr_error *err)
{
    if (!blob_hash_valid(hash))
        return kr_error_set(err, KR_ERR_INVALID, "not a valid file reference");
    return store->backend->remove(store, hash, err);
}

struct sweep {
    struct blob_store *store;
    time_t cutoff;
    blob_referenced_fn referenced;
    void *ctx;
    int64_t removed;
};

static bool old_enough(const char *path, time_t cutoff)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime <= cutoff;
}

/* Visit the regular files of dir; level 0 = the store, 2 = blob files. */
static int sweep_dir(struct sweep *sw, const char *dir, int level, struct kr_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? KR_OK : io_error(err, "opendir", dir);
    int rc = KR_OK;
    struct dirent *e;
    while (rc == KR_OK && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        char path[BLOB_PATH_MAX];
        if (name[0] == '.' || (level == 0 && strcmp(name, "tmp") == 0))
            continue;
        int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        if (level < 2) {
            if (strlen(name) == 2)
                rc = sweep_dir(sw, path, level + 1, err);
            continue;
        }
        if (!blob_hash_valid(name) || !old_enough(path, sw->cutoff) ||
            sw->referenced(sw->ctx, name))
            continue;
        rc = sw->store->backend->remove(sw->store, name, err);
        if (rc == KR_OK)
            sw->removed++;
    }
    closedir(d);
    return rc;
}

/* Temporary files of writes that a crash interrupted. */
static int sweep_tmp(struct sweep *sw, struct kr_error *err)
{
    char dir[BLOB_PATH_MAX];
    (void)snprintf(dir, sizeof(dir), "%s/tmp", sw->store->dir);
    DIR *d = opendir(dir);
    if (!d)
        return io_error(err, "opendir", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[BLOB_PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || n < 0 || (size_t)n >= sizeof(path) ||
            !old_enough(path, sw->cutoff))
            continue;
        if (unlink(path) == 0)
            sw->removed++;
    }
    closedir(d);
    return KR_OK;
}

int blob_sweep(struct blob_store *store, int64_t min_age_secs, blob_referenced_fn referenced,
               void *ctx, int64_t *removed, struct kr_error *err)
{
    struct sweep sw = {.store = store,
                       .cutoff = (time_t)(kr_now() - min_age_secs),
                       .referenced = referenced,
                       .ctx = ctx};
    int rc = sweep_dir(&sw, store->dir, 0, err);
    if (rc == KR_OK)
        rc = sweep_tmp(&sw, err);
    if (removed)
        *removed = sw.removed;
    return rc;
}
