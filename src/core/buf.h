/*
 * buf.h - growable byte buffer with a hard cap (after curl's dynbuf).
 *
 * Every buffer has a maximum size fixed at init: appends that would pass it
 * fail with KR_ERR_TOO_LARGE.  Errors are sticky: after the first failure
 * every later append is a no-op, so that a writer may append many times and
 * check buf_status() once at the end.
 *
 * The data is always NUL-terminated once anything was appended (the NUL is
 * not counted in len), so it may be used as a C string when it holds text.
 *
 * Lifecycle (the verbs every Kreisel type uses):
 *   buf_init     set up a struct the caller owns; no allocation yet
 *   buf_release  free the memory, keep the struct usable (empty again)
 *   buf_detach   hand the memory to the caller (free() it), struct is empty
 */
#ifndef KR_CORE_BUF_H
#define KR_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/error.h"

struct buf {
    char *data; /* NULL until the first append */
    size_t len; /* bytes used, without the trailing NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* cap on len; appends beyond it fail */
    int status; /* KR_OK or the first error (sticky) */
};

/* Initialise an empty buffer that will never hold more than max bytes. */
void buf_init(struct buf *b, size_t max);

/* Free the memory; the buffer is empty and usable again (same max, error
 * state cleared). */
void buf_release(struct buf *b);

/* Forget the contents but keep the memory and clear the error. */
void buf_reset(struct buf *b);

/* Hand the data to the caller, who must free() it; *len gets the length
 * (len may be NULL).  Returns NULL if nothing was ever appended or the
 * buffer is in error.  The buffer is empty afterwards. */
char *buf_detach(struct buf *b, size_t *len);

/* Append bytes / a C string / one byte / formatted text.  Return KR_OK,
 * KR_ERR_TOO_LARGE or KR_ERR_NOMEM (sticky, see above). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) KR_PRINTF(2, 3);
/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break, quotes doubled; NULL is the empty field. */
int buf_put_csv(struct buf *b, const char *s);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) KR_PRINTF(2, 0);

/* The first error of this buffer, or KR_OK. */
static inline int buf_status(const struct buf *b)
{
    return b->status;
}

/* The contents as a C string; "" when empty.  Valid until the next
 * append, reset or release. */
const char *buf_cstr(const struct buf *b);

#endif
