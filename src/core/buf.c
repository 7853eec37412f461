#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->status = KR_OK;
}

void buf_release(struct buf *b)
{
    free(b->data);
    buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
    b->status = KR_OK;
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *p = b->status == KR_OK ? b->data : NULL;
    if (len)
        *len = p ? b->len : 0;
    if (!p)
        free(b->data);
    buf_init(b, b->max);
    return p;
}

/* Make room for extra more bytes plus the NUL. */
static int grow(struct buf *b, size_t extra)
{
    if (b->status != KR_OK)
        return b->status;
    if (extra > b->max || b->len > b->max - extra)
        return b->status = KR_ERR_TOO_LARGE;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return KR_OK;
    if (kr_fault_hit(KR_FAULT_ALLOC))
        return b->status = KR_ERR_NOMEM;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return b->status = KR_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return KR_OK;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    int rc = grow(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return KR_OK;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return b->status = b->status ? b->status : KR_ERR_INVALID;
    int rc = grow(b, (size_t)n);
    if (rc)
        return rc;
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return KR_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *buf_cstr(const struct buf *b)
{
    return b->data ? b->data : "";
}

int buf_put_csv(struct buf *b, const char *s)
{
    if (!s)
        s = "";
    if (!strpbrk(s, ",\"\r\n"))
        return buf_puts(b, s);
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            buf_putc(b, '"');
        buf_putc(b, *s);
    }
    return buf_putc(b, '"');
}
