/*
 * util.h - time, randomness, hashing and encodings.
 *
 * Thin wrappers over libc and libsodium so that the rest of the program has
 * one name for each of these; kr_util_init() must run once at start (it
 * initialises libsodium) before kr_random_* or kr_sha256 are used.
 */
#ifndef KR_CORE_UTIL_H
#define KR_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"

#define KR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Initialise libsodium.  KR_OK or KR_ERR_INTERNAL. */
int kr_util_init(void) KR_MUST_CHECK;

/* Wall-clock time: Unix seconds / milliseconds. */
int64_t kr_now(void);
int64_t kr_now_ms(void);

/* Monotonic clock in nanoseconds, for durations. */
int64_t kr_monotonic_ns(void);

/* Format Unix milliseconds as "2026-11-23T08:15:00.123Z".  out must hold
 * at least 25 bytes. */
void kr_time_format_rfc3339_ms(int64_t ms, char *out, size_t size);

/* Format Unix seconds as "2026-11-23T08:15:00Z" (21 bytes). */
void kr_time_format_rfc3339(int64_t secs, char *out, size_t size);

/* Format Unix seconds as an HTTP date "Mon, 23 Nov 2026 08:15:00 GMT"
 * (30 bytes). */
/* "23.11.2026, 14:05" in the process's time zone (TZ; Europe/Berlin
 * unless the operator sets another), for dates that people read. */
void kr_time_format_local(int64_t secs, char *out, size_t size);

void kr_time_format_http(int64_t secs, char *out, size_t size);

/* JSON values of a time for pages and exports (new references; NULL only
 * on OOM): kr_json_time gives "2026-11-23T08:15:00Z", kr_json_time_local
 * "23.11.2026, 09:15" (kr_time_format_local); both give null for 0. */
json_t *kr_json_time(int64_t secs);
json_t *kr_json_time_local(int64_t secs);

/* Fill buf with cryptographically secure random bytes. */
void kr_random_bytes(void *buf, size_t len);

/* Random token: n random bytes as lower-case hex (out holds 2n+1). */
void kr_random_hex(char *out, size_t n);

/* Lower-case hex of len bytes; out must hold 2*len+1 bytes. */
void kr_hex_encode(const void *data, size_t len, char *out);

/* SHA-256 of data; out gets 32 bytes. */
#define KR_SHA256_LEN 32
void kr_sha256(const void *data, size_t len, unsigned char out[KR_SHA256_LEN]);

/* SHA-256 as 64 hex characters plus NUL. */
void kr_sha256_hex(const void *data, size_t len, char out[2 * KR_SHA256_LEN + 1]);

/* Read the whole file path, at most max bytes, into heap memory the
 * caller frees (*out, NUL-terminated, *len bytes without the NUL; an empty
 * file gives "").  KR_ERR_IO (message names the path), KR_ERR_TOO_LARGE,
 * KR_ERR_NOMEM. */
int kr_read_file(const char *path, size_t max, char **out, size_t *len,
                 struct kr_error *err) KR_MUST_CHECK;

/* mkdir -p: create path and every missing directory above it with mode
 * (existing ones are left as they are).  KR_ERR_IO naming the directory
 * that failed. */
int kr_make_dirs(const char *path, unsigned mode, struct kr_error *err) KR_MUST_CHECK;

/* The entries of dir whose names end in suffix (e.g. ".json"), without
 * hidden ones, sorted by name, as "dir/name" in arena a: *names gets
 * *count of them.  More than max is KR_ERR_TOO_LARGE (naming dir).  A
 * missing dir gives none when missing_ok, else KR_ERR_IO. */
struct arena;
int kr_list_dir(struct arena *a, const char *dir, const char *suffix, size_t max, bool missing_ok,
                char ***names, size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* Constant-time comparison of two equal-length byte strings. */
bool kr_secure_equal(const void *a, const void *b, size_t len);

/* Parse a decimal integer in [min, max] from the whole of s (no sign other
 * than '-', no spaces, no trailing text).  KR_OK or KR_ERR_INVALID. */
int kr_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out) KR_MUST_CHECK;

#endif
