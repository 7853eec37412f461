#include "core/error.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

void kr_error_clear(struct kr_error *err)
{
    if (!err)
        return;
    err->code = KR_OK;
    err->message[0] = '\0';
    err->detail[0] = '\0';
}

int kr_error_setv(struct kr_error *err, enum kr_status code, const char *fmt, va_list ap)
{
    assert(code < 0);
    if (!err)
        return code;
    err->code = code;
    /* Truncation is acceptable for messages: vsnprintf always terminates. */
    (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
    err->detail[0] = '\0';
    return code;
}

int kr_error_set(struct kr_error *err, enum kr_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = kr_error_setv(err, code, fmt, ap);
    va_end(ap);
    return rc;
}

void kr_error_detail(struct kr_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
}

void kr_error_prefix(struct kr_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[KR_ERROR_MESSAGE_MAX];
    char old[KR_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    /* "prefix: old", cut at the buffer's end (messages may be truncated). */
    size_t cap = sizeof(err->message) - 1;
    size_t n = strnlen(prefix, cap);
    memcpy(err->message, prefix, n);
    const char *parts[2] = {": ", old};
    for (int i = 0; i < 2; i++) {
        size_t len = strnlen(parts[i], cap - n);
        memcpy(err->message + n, parts[i], len);
        n += len;
    }
    err->message[n] = '\0';
}

const char *kr_status_name(int code)
{
    switch (code) {
    case KR_OK: return "ok";
    case KR_ERR_NOMEM: return "out_of_memory";
    case KR_ERR_INVALID: return "invalid";
    case KR_ERR_NOT_FOUND: return "not_found";
    case KR_ERR_CONFLICT: return "conflict";
    case KR_ERR_TOO_LARGE: return "too_large";
    case KR_ERR_FORBIDDEN: return "forbidden";
    case KR_ERR_UNAUTHENTICATED: return "unauthenticated";
    case KR_ERR_RATE_LIMITED: return "rate_limited";
    case KR_ERR_DB: return "database";
    case KR_ERR_IO: return "io";
    case KR_ERR_CONFIG: return "config";
    case KR_ERR_INTEGRITY: return "integrity";
    case KR_ERR_BUSY: return "busy";
    case KR_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}
