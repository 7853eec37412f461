/*
 * dropdir.c - a drop directory (see dropdir.h).
 *
 * Every file access goes through the directory's descriptor (openat,
 * fstatat, renameat2) with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, so that a
 * name swapped for a symbolic link between two calls is never followed.
 */
#include "core/dropdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

/* A file as a scan saw it. */
struct seen {
    char *name;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct kr_dropdir {
    char *path;
    size_t max_size;
    struct seen *prev; /* the previous scan, sorted by name */
    size_t prev_count;
};

static void seen_free(struct seen *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i].name);
    free(s);
}

int kr_dropdir_open(const char *path, size_t max_size, struct kr_dropdir **out,
                    struct kr_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return kr_error_set(err, KR_ERR_INVALID, "a drop directory needs a path");
    char sub[4096];
    int rc = kr_make_dirs(path, 0750, err);
    for (int i = 0; rc == KR_OK && i < 2; i++) {
        int n = snprintf(sub, sizeof(sub), "%s/%s", path, i ? "failed" : "done");
        rc = n > 0 && (size_t)n < sizeof(sub)
                 ? kr_make_dirs(sub, 0750, err)
                 : kr_error_set(err, KR_ERR_INVALID, "directory name too long");
    }
    if (rc)
        return rc;
    struct kr_dropdir *d = calloc(1, sizeof(*d));
    if (d)
        d->path = strdup(path);
    if (!d || !d->path) {
        free(d);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    d->max_size = max_size;
    *out = d;
    return KR_OK;
}

void kr_dropdir_free(struct kr_dropdir *d)
{
    if (!d)
        return;
    seen_free(d->prev, d->prev_count);
    free(d->path);
    free(d);
}

/* ---- Listing ------------------------------------------------------------------------ */

static int cmp_seen(const void *x, const void *y)
{
    return strcmp(((const struct seen *)x)->name, ((const struct seen *)y)->name);
}

/* Names that a writer uses while the file is incomplete, and hidden ones. */
static bool skipped_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (n >= 4 && strcmp(name + n - 4, ".tmp") == 0);
}

/* The regular files of the directory, sorted by name. */
static int list(DIR *dp, struct seen **out, size_t *count, struct kr_error *err)
{
    size_t n = 0, cap = 0;
    struct seen *s = NULL;
    struct dirent *e;
    int rc = KR_OK;
    errno = 0;
    while (rc == KR_OK && n < KR_DROPDIR_MAX_ENTRIES && (e = readdir(dp))) {
        struct stat st;
        if (skipped_name(e->d_name) ||
            fstatat(dirfd(dp), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            struct seen *grown = realloc(s, cap * sizeof(*s));
            if (!grown) {
                rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
                break;
            }
            s = grown;
        }
        s[n] = (struct seen){strdup(e->d_name), st.st_dev, st.st_ino, st.st_size, st.st_mtim};
        if (!s[n++].name)
            rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    if (rc) {
        seen_free(s, n);
        return rc;
    }
    if (n)
        qsort(s, n, sizeof(*s), cmp_seen);
    *out = s;
    *count = n;
    return KR_OK;
}

/* True when the previous scan saw the same file unchanged. */
static bool settled(const struct kr_dropdir *d, const struct seen *now)
{
    const struct seen *before =
        d->prev_count ? bsearch(now, d->prev, d->prev_count, sizeof(*now), cmp_seen) : NULL;
    return before && before->dev == now->dev && before->ino == now->ino &&
           before->size == now->size && before->mtime.tv_sec == now->mtime.tv_sec &&
           before->mtime.tv_nsec == now->mtime.tv_nsec;
}

/* ---- Moving ------------------------------------------------------------------------- */

/* The k-th target name for name (k = 1: the name itself, else
 * "<stem>-k<ext>"), short enough for its note "<target>.txt".  False when
 * it does not fit. */
static bool target_name(const char *name, unsigned k, char *out, size_t size)
{
    size_t len = strlen(name);
    if (k == 1 && len + 4 < size && len + 4 <= 255) {
        memcpy(out, name, len + 1);
        return true;
    }
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || strlen(dot) > 16)
        dot = name + len;
    size_t stem = (size_t)(dot - name), room = 240 - strlen(dot);
    int n = snprintf(out, size, "%.*s-%u%s", (int)(stem < room ? stem : room), name, k, dot);
    return n > 0 && (size_t)n < size;
}

static bool exists_at(int dfd, const char *name)
{
    struct stat st;
    return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Move name from dfd into tfd under a free target name (set in target);
 * 0 or an errno value. */
static int move_file(int dfd, const char *name, int tfd, char *target, size_t size)
{
    char note[300];
    for (unsigned k = 1; k <= 1000; k++) {
        if (!target_name(name, k, target, size) ||
            snprintf(note, sizeof(note), "%s.txt", target) >= (int)sizeof(note))
            return ENAMETOOLONG;
        if (exists_at(tfd, note))
            continue;
        if (renameat2(dfd, name, tfd, target, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno == EEXIST)
            continue;
        if (errno != EINVAL && errno != ENOSYS)
            return errno;
        /* A file system without RENAME_NOREPLACE: check, then rename (the
         * flock keeps other scanners of this directory away). */
        if (exists_at(tfd, target))
            continue;
        return renameat(dfd, name, tfd, target) == 0 ? 0 : errno;
    }
    return EEXIST;
}

static void write_note(const struct kr_dropdir *d, int tfd, const char *target, const char *name,
                       struct buf *note)
{
    char at[32], file[300];
    kr_time_format_rfc3339(kr_now(), at, sizeof(at));
    buf_printf(note, "\n\nDatei / file: %s\nVerarbeitet / processed: %s\n", name, at);
    (void)snprintf(file, sizeof(file), "%s.txt", target);
    int fd = openat(tfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    const char *text = buf_cstr(note);
    size_t len = strlen(text), done = 0;
    while (fd >= 0 && done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (fd < 0 || done < len)
        kr_log(KR_LOG_WARN, "dropdir_note_failed", "%s: note %s: %s", d->path, file,
               strerror(fd < 0 ? errno : EIO));
    if (fd >= 0)
        close(fd);
}

/* ---- Handling one file ------------------------------------------------------------- */

struct scan {
    struct kr_dropdir *d;
    int dfd, done_fd, failed_fd;
    kr_dropdir_fn fn;
    void *ctx;
    struct kr_dropdir_counts *counts;
};

/* Read the locked file fd (st_size bytes expected) into data; false with
 * the reason in note when it is too large or cannot be read. */
static bool read_locked(const struct kr_dropdir *d, int fd, struct buf *data, struct buf *note)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            buf_printf(note, "Nicht lesbar / cannot be read: %s", strerror(errno));
            return false;
        }
        if (n == 0)
            return true;
        if (buf_append(data, chunk, (size_t)n) != KR_OK) {
            buf_printf(note, "Zu groß (höchstens %zu Bytes) / too large (at most %zu bytes)",
                       d->max_size, d->max_size);
            return false;
        }
    }
}

/* Open and lock name: the descriptor, -1 when another process has it or
 * it is gone or changed, -2 when it cannot be opened (errno says why). */
static int open_locked(const struct scan *s, const struct seen *e)
{
    int fd = openat(s->dfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ELOOP ? -1 : -2;
    struct stat mine, there;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &mine) != 0 ||
        fstatat(s->dfd, e->name, &there, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(mine.st_mode) ||
        mine.st_dev != there.st_dev || mine.st_ino != there.st_ino) {
        close(fd);
        return -1;
    }
    return fd;
}

static void handle(const struct scan *s, const struct seen *e)
{
    int fd = open_locked(s, e);
    if (fd == -1)
        return; /* taken by another process, or gone */
    struct buf data, note;
    buf_init(&data, s->d->max_size);
    buf_init(&note, KR_DROPDIR_NOTE_MAX);
    enum kr_dropdir_outcome out = KR_DROPDIR_FAILED;
    if (fd < 0)
        buf_printf(&note, "Nicht lesbar / cannot be opened: %s", strerror(errno));
    else if (read_locked(s->d, fd, &data, &note))
        out = s->fn(s->ctx, e->name, data.len ? buf_cstr(&data) : "", data.len, &note);
    buf_release(&data);
    if (out == KR_DROPDIR_KEEP) {
        s->counts->kept++;
    } else {
        int tfd = out == KR_DROPDIR_DONE ? s->done_fd : s->failed_fd;
        char target[300];
        int e_move = move_file(s->dfd, e->name, tfd, target, sizeof(target));
        if (e_move == 0) {
            (void)fsync(tfd);
            write_note(s->d, tfd, target, e->name, &note);
            if (out == KR_DROPDIR_DONE)
                s->counts->done++;
            else
                s->counts->failed++;
        } else {
            s->counts->kept++;
            kr_log(KR_LOG_ERROR, "dropdir_move_failed", "%s/%s: cannot move to %s/: %s", s->d->path,
                   e->name, out == KR_DROPDIR_DONE ? "done" : "failed", strerror(e_move));
        }
    }
    buf_release(&note);
    if (fd >= 0)
        close(fd); /* releases the lock */
}

static int open_sub(int dfd, const char *name)
{
    if (mkdirat(dfd, name, 0750) != 0 && errno != EEXIST)
        return -1;
    return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int kr_dropdir_scan(struct kr_dropdir *d, kr_dropdir_fn fn, void *ctx,
                    struct kr_dropdir_counts *counts, struct kr_error *err)
{
    struct kr_dropdir_counts ignored;
    if (!counts)
        counts = &ignored;
    memset(counts, 0, sizeof(*counts));
    DIR *dp = opendir(d->path);
    if (!dp)
        return kr_error_set(err, KR_ERR_IO, "%s: %s", d->path, strerror(errno));
    struct scan s = {d,   dirfd(dp), open_sub(dirfd(dp), "done"), open_sub(dirfd(dp), "failed"), fn,
                     ctx, counts};
    struct seen *now = NULL;
    size_t n = 0;
    int rc = s.done_fd < 0 || s.failed_fd < 0
                 ? kr_error_set(err, KR_ERR_IO, "%s: cannot open done/ and failed/: %s", d->path,
                                strerror(errno))
                 : list(dp, &now, &n, err);
    unsigned handled = 0;
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        if (!settled(d, &now[i]) || handled == KR_DROPDIR_MAX_BATCH) {
            counts->waiting++;
            continue;
        }
        handled++;
        handle(&s, &now[i]);
    }
    if (rc == KR_OK && (counts->done || counts->failed))
        (void)fsync(s.dfd);
    if (rc == KR_OK) {
        seen_free(d->prev, d->prev_count);
        d->prev = now;
        d->prev_count = n;
    }
    if (s.done_fd >= 0)
        close(s.done_fd);
    if (s.failed_fd >= 0)
        close(s.failed_fd);
    closedir(dp);
    return rc;
}
