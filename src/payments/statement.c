/* statement.c - helpers of the statement parsers (fields, dates). */
#include <stdio.h>
#include <string.h>

#include "payments/statement_internal.h"

void stmt_fields_clear(struct stmt_fields *f)
{
    f->amount[0] = f->indicator[0] = f->ref[0] = f->name[0] = f->remittance[0] = '\0';
    f->booked_at = 0;
}

/* Cut at most len bytes so that no UTF-8 sequence is split. */
static size_t utf8_cut(const char *s, size_t len)
{
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

void stmt_copyn(char dst[STMT_FIELD], const char *src, size_t len)
{
    if (len > PAYMENTS_TEXT_MAX)
        len = utf8_cut(src, PAYMENTS_TEXT_MAX);
    size_t out = 0;
    for (size_t i = 0; i < len; i++)
        /* Control characters (line breaks of wrapped text) become spaces. */
        dst[out++] = (unsigned char)src[i] < 0x20 ? ' ' : src[i];
    dst[out] = '\0';
}

void stmt_copy(char dst[STMT_FIELD], const char *src)
{
    stmt_copyn(dst, src, strlen(src));
}

void stmt_append(char dst[STMT_FIELD], const char *src)
{
    size_t have = strlen(dst);
    if (have >= PAYMENTS_TEXT_MAX - 1)
        return;
    if (have)
        dst[have++] = ' ';
    char tmp[STMT_FIELD];
    stmt_copy(tmp, src);
    size_t add = strlen(tmp);
    if (have + add > PAYMENTS_TEXT_MAX)
        add = utf8_cut(tmp, PAYMENTS_TEXT_MAX - have);
    memcpy(dst + have, tmp, add);
    dst[have + add] = '\0';
}

int64_t stmt_days(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap))
        return -1;
    /* Days from civil (Howard Hinnant's algorithm). */
    y -= m <= 2;
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (era * 146097 + doe - 719468) * 86400;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int stmt_date(const char *t, int64_t *out, struct kr_error *err)
{
    if (strlen(t) < 10 || t[4] != '-' || t[7] != '-')
        return kr_error_set(err, KR_ERR_INVALID, "date '%.20s' is not YYYY-MM-DD", t);
    int64_t v = stmt_days(digits(t, 4), digits(t + 5, 2), digits(t + 8, 2));
    if (v < 0)
        return kr_error_set(err, KR_ERR_INVALID, "date '%.20s' does not exist", t);
    *out = v;
    return KR_OK;
}
