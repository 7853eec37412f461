/*
 * static.h - the files under static/, loaded into memory at start.
 *
 * Serving from a table built at start means a request path is only ever a
 * key to look up: no file system access per request, so no path traversal,
 * no symlink surprises and no partial reads.  Each file has a strong ETag
 * (from its SHA-256) and a content type from its extension.  The asset
 * version (a hash over all files) lets templates link /static/x.css?v=...
 * and such URLs be cached for a year.
 *
 * Limits: 4096 files, 64 MiB in total; hidden files are skipped.
 */
#ifndef KR_HTTP_STATIC_H
#define KR_HTTP_STATIC_H

#include <stddef.h>

#include "core/error.h"

struct static_file {
    char *path; /* relative, '/'-separated: "css/kreisel.css" */
    char *data;
    size_t len;
    char etag[24]; /* "\"<20 hex>\"" */
    const char *content_type;
};

struct static_files;

/* Load dir recursively.  A missing dir gives an empty table. */
int static_files_load(struct static_files **out, const char *dir,
                      struct kr_error *err) KR_MUST_CHECK;
void static_files_free(struct static_files *s);

/* The file at path, or NULL. */
const struct static_file *static_files_get(const struct static_files *s, const char *path);

/* 12 hex digits that change whenever any file changes. */
const char *static_files_version(const struct static_files *s);

#endif
