#include "http/static.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/util.h"

#define STATIC_MAX_FILES 4096
#define STATIC_MAX_TOTAL (64u * 1024 * 1024)

struct static_files {
    struct static_file *files; /* sorted by path */
    size_t count;
    size_t total;
    char version[13];
};

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".pdf", "application/pdf"},
    {".xsd", "application/xml"},
};

static const char *type_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot)
        for (size_t i = 0; i < KR_ARRAY_LEN(content_types); i++)
            if (strcmp(dot, content_types[i].ext) == 0)
                return content_types[i].type;
    return "application/octet-stream";
}

static int add_file(struct static_files *s, const char *full, const char *rel, struct kr_error *err)
{
    if (s->count == STATIC_MAX_FILES)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "static: more than %d files", STATIC_MAX_FILES);
    struct static_file f = {0};
    int rc = kr_read_file(full, STATIC_MAX_TOTAL, &f.data, &f.len, err);
    if (rc)
        return rc;
    if (f.len > STATIC_MAX_TOTAL - s->total) {
        free(f.data);
        return kr_error_set(err, KR_ERR_TOO_LARGE, "static: more than 64 MiB in total");
    }
    f.path = strdup(rel);
    struct static_file *grown = realloc(s->files, (s->count + 1) * sizeof(*grown));
    if (!f.path || !grown) {
        free(f.path);
        free(f.data);
        if (grown)
            s->files = grown;
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    s->files = grown;
    char hex[65];
    kr_sha256_hex(f.data, f.len, hex);
    (void)snprintf(f.etag, sizeof(f.etag), "\"%.20s\"", hex);
    f.content_type = type_for(rel);
    s->files[s->count++] = f;
    s->total += f.len;
    return KR_OK;
}

static int walk(struct static_files *s, const char *dir, const char *rel, int depth,
                struct kr_error *err)
{
    if (depth > 16)
        return kr_error_set(err, KR_ERR_INVALID, "static: %s nested too deep", dir);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT && depth == 0
                   ? KR_OK
                   : kr_error_set(err, KR_ERR_IO, "%s: %s", dir, strerror(errno));
    int rc = KR_OK;
    struct dirent *e;
    while (rc == KR_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ., .., and hidden files such as .DS_Store */
        char full[1024], sub[1024];
        int n1 = snprintf(full, sizeof(full), "%s/%s", dir, e->d_name);
        int n2 = snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(full) || (size_t)n2 >= sizeof(sub)) {
            rc = kr_error_set(err, KR_ERR_INVALID, "static: path too long under %s", dir);
            break;
        }
        struct stat st;
        if (stat(full, &st) != 0)
            rc = kr_error_set(err, KR_ERR_IO, "%s: %s", full, strerror(errno));
        else if (S_ISDIR(st.st_mode))
            rc = walk(s, full, sub, depth + 1, err);
        else if (S_ISREG(st.st_mode))
            rc = add_file(s, full, sub, err);
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct static_file *)a)->path, ((const struct static_file *)b)->path);
}

int static_files_load(struct static_files **out, const char *dir, struct kr_error *err)
{
    struct static_files *s = calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int rc = walk(s, dir, "", 0, err);
    if (rc) {
        static_files_free(s);
        return rc;
    }
    if (s->count)
        qsort(s->files, s->count, sizeof(*s->files), by_path);
    /* The version hashes paths and ETags in sorted order. */
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < s->count; i++) {
        crypto_hash_sha256_update(&st, (const unsigned char *)s->files[i].path,
                                  strlen(s->files[i].path) + 1);
        crypto_hash_sha256_update(&st, (const unsigned char *)s->files[i].etag,
                                  strlen(s->files[i].etag));
    }
    unsigned char h[32];
    crypto_hash_sha256_final(&st, h);
    kr_hex_encode(h, 6, s->version);
    *out = s;
    return KR_OK;
}

void static_files_free(struct static_files *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++) {
        free(s->files[i].path);
        free(s->files[i].data);
    }
    free(s->files);
    free(s);
}

const struct static_file *static_files_get(const struct static_files *s, const char *path)
{
    if (!s->count)
        return NULL;
    struct static_file key = {.path = (char *)(uintptr_t)path};
    return bsearch(&key, s->files, s->count, sizeof(*s->files), by_path);
}

const char *static_files_version(const struct static_files *s)
{
    return s->version;
}
