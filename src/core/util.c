#include "core/util.h"

#include "core/arena.h"
#include "core/buf.h"

#include <dirent.h>
#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

int kr_util_init(void)
{
    return sodium_init() < 0 ? KR_ERR_INTERNAL : KR_OK;
}

int64_t kr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t kr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kr_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void utc(int64_t secs, struct tm *tm)
{
    time_t t = (time_t)secs;
    gmtime_r(&t, tm);
}

void kr_time_format_rfc3339_ms(int64_t ms, char *out, size_t size)
{
    struct tm tm;
    int64_t secs = ms / 1000;
    int64_t frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    utc(secs, &tm);
    (void)snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

void kr_time_format_rfc3339(int64_t secs, char *out, size_t size)
{
    struct tm tm;
    utc(secs, &tm);
    (void)snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void kr_time_format_local(int64_t secs, char *out, size_t size)
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(out, size, "%d.%m.%Y, %H:%M", &tm))
        (void)snprintf(out, size, "?");
}

void kr_time_format_http(int64_t secs, char *out, size_t size)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    utc(secs, &tm);
    (void)snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                   months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void kr_random_bytes(void *buf, size_t len)
{
    randombytes_buf(buf, len);
}

void kr_hex_encode(const void *data, size_t len, char *out)
{
    sodium_bin2hex(out, 2 * len + 1, data, len);
}

void kr_random_hex(char *out, size_t n)
{
    unsigned char raw[64];
    while (n > 0) {
        size_t chunk = n < sizeof(raw) ? n : sizeof(raw);
        kr_random_bytes(raw, chunk);
        kr_hex_encode(raw, chunk, out);
        out += 2 * chunk;
        n -= chunk;
    }
    sodium_memzero(raw, sizeof(raw));
}

void kr_sha256(const void *data, size_t len, unsigned char out[KR_SHA256_LEN])
{
    crypto_hash_sha256(out, data, len);
}

void kr_sha256_hex(const void *data, size_t len, char out[2 * KR_SHA256_LEN + 1])
{
    unsigned char h[KR_SHA256_LEN];
    kr_sha256(data, len, h);
    kr_hex_encode(h, sizeof(h), out);
}

bool kr_secure_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

int kr_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return KR_ERR_INVALID;
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return KR_ERR_INVALID;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return KR_ERR_INVALID;
    *out = (int64_t)v;
    return KR_OK;
}

int kr_read_file(const char *path, size_t max, char **out, size_t *len, struct kr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return kr_error_set(err, KR_ERR_IO, "%s: cannot open", path);
    struct buf b;
    buf_init(&b, max);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && !buf_status(&b))
        buf_append(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (failed || buf_status(&b)) {
        int code = failed ? KR_ERR_IO : buf_status(&b);
        buf_release(&b);
        return failed ? kr_error_set(err, code, "%s: cannot read", path)
                      : kr_error_set(err, code, "%s: larger than %zu bytes", path, max);
    }
    *out = buf_detach(&b, len);
    if (!*out) {
        *out = calloc(1, 1);
        *len = 0;
    }
    return *out ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}

json_t *kr_json_time(int64_t secs)
{
    char buf[32];
    if (!secs)
        return json_null();
    kr_time_format_rfc3339(secs, buf, sizeof(buf));
    return json_string(buf);
}

json_t *kr_json_time_local(int64_t secs)
{
    char buf[32];
    if (!secs)
        return json_null();
    kr_time_format_local(secs, buf, sizeof(buf));
    return json_string(buf);
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

int kr_list_dir(struct arena *a, const char *dir, const char *suffix, size_t max, bool missing_ok,
                char ***names, size_t *count, struct kr_error *err)
{
    *count = 0;
    *names = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT && missing_ok
                   ? KR_OK
                   : kr_error_set(err, KR_ERR_IO, "%s: %s", dir, strerror(errno));
    char **out = arena_calloc(a, max + 1, sizeof(char *));
    int rc = out ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    size_t n = 0, sl = strlen(suffix);
    struct dirent *e;
    while (rc == KR_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= sl || e->d_name[0] == '.' || strcmp(e->d_name + len - sl, suffix) != 0)
            continue;
        if (n == max)
            rc = kr_error_set(err, KR_ERR_TOO_LARGE, "%s: more than %zu files", dir, max);
        else if (!(out[n++] = arena_printf(a, "%s/%s", dir, e->d_name)))
            rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    closedir(d);
    if (rc != KR_OK)
        return rc;
    qsort(out, n, sizeof(char *), cmp_names);
    *names = out;
    *count = n;
    return KR_OK;
}

int kr_make_dirs(const char *path, unsigned mode, struct kr_error *err)
{
    char copy[4096];
    int n = snprintf(copy, sizeof(copy), "%s", path);
    if (n <= 0 || (size_t)n >= sizeof(copy))
        return kr_error_set(err, KR_ERR_INVALID, "directory name too long");
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(copy, (mode_t)mode) != 0 && errno != EEXIST) {
            int e = errno;
            kr_error_set(err, KR_ERR_IO, "cannot create the directory %s", copy);
            kr_error_detail(err, "mkdir %s: %s", copy, strerror(e));
            return KR_ERR_IO;
        }
        *p = c;
        if (c == '\0')
            return KR_OK;
    }
}
