/*
 * error.h - one error type for the whole program.
 *
 * Functions that can fail return an int: KR_OK (0) on success, a negative
 * enum kr_status value on failure, and fill a struct kr_error when the caller
 * passed one.  The three parts of an error are kept apart, as PostgreSQL's
 * ereport does:
 *
 *   code     stable machine code; the HTTP layer maps it to a status, tests
 *            assert on it.
 *   message  short sentence an operator or user may see ("kreisel.conf:3:
 *            port: not a number").  Never contains SQL, paths of the server
 *            or secrets unless the error is a start-up/configuration error
 *            meant for the operator.
 *   detail   what only the log gets: SQL state, file paths, library errors.
 *
 * A struct kr_error lives on the caller's stack; it owns no heap memory.
 */
#ifndef KR_CORE_ERROR_H
#define KR_CORE_ERROR_H

#include <stdarg.h>

/* Attribute for functions whose result must not be dropped. */
#define KR_MUST_CHECK __attribute__((warn_unused_result))
#define KR_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))

enum kr_status {
    KR_OK = 0,
    KR_ERR_NOMEM = -1,           /* allocation failed */
    KR_ERR_INVALID = -2,         /* input does not satisfy the contract */
    KR_ERR_NOT_FOUND = -3,       /* the object does not exist */
    KR_ERR_CONFLICT = -4,        /* unique key or state conflict */
    KR_ERR_TOO_LARGE = -5,       /* a size limit was hit */
    KR_ERR_FORBIDDEN = -6,       /* authenticated but not allowed */
    KR_ERR_UNAUTHENTICATED = -7, /* no (valid) session */
    KR_ERR_RATE_LIMITED = -8,    /* too many attempts */
    KR_ERR_DB = -9,              /* the database failed */
    KR_ERR_IO = -10,             /* file or socket I/O failed */
    KR_ERR_CONFIG = -11,         /* configuration invalid */
    KR_ERR_INTEGRITY = -12,      /* stored data fails a check (audit chain) */
    KR_ERR_BUSY = -13,           /* resource exhausted or timed out */
    KR_ERR_INTERNAL = -14,       /* a bug: an invariant was violated */
};

/* Sizes are generous for operator messages; longer text is truncated. */
#define KR_ERROR_MESSAGE_MAX 256
#define KR_ERROR_DETAIL_MAX 768

struct kr_error {
    enum kr_status code;
    char message[KR_ERROR_MESSAGE_MAX];
    char detail[KR_ERROR_DETAIL_MAX];
};

/* Reset *err to "no error".  err may be NULL. */
void kr_error_clear(struct kr_error *err);

/*
 * Record an error: set code and format the message.  Clears the detail.
 * err may be NULL, then only the code is returned.  Returns code, so that a
 * function can end with `return kr_error_set(err, KR_ERR_INVALID, ...);`.
 * code must be negative.
 */
int kr_error_set(struct kr_error *err, enum kr_status code, const char *fmt, ...) KR_PRINTF(3, 4);
int kr_error_setv(struct kr_error *err, enum kr_status code, const char *fmt, va_list ap)
    KR_PRINTF(3, 0);

/* Set the log-only detail of an error already set.  err may be NULL. */
void kr_error_detail(struct kr_error *err, const char *fmt, ...) KR_PRINTF(2, 3);

/* Prefix the message with "prefix: " (e.g. a file name or key). */
void kr_error_prefix(struct kr_error *err, const char *fmt, ...) KR_PRINTF(2, 3);

/*
 * Stable lower-case name of a status ("ok", "invalid", "not_found", ...),
 * used in logs and in problem+json "type" URIs.  Never NULL.
 */
const char *kr_status_name(int code);

#endif
