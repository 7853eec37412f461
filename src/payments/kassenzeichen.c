/*
 * kassenzeichen.c - payment references with ISO 7064 MOD 97-10 check
 * digits, and exact decimal amounts.  See docs/payments.md.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "payments/payments.h"

int payments_mod97_check(const char *digits, size_t len)
{
    if (len == 0 || len > 30)
        return -1;
    unsigned rem = 0;
    for (size_t i = 0; i < len; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return -1;
        rem = (rem * 10 + (unsigned)(digits[i] - '0')) % 97;
    }
    /* Append "00" and take 98 - remainder: the full number is then 1 mod 97. */
    rem = (rem * 100) % 97;
    return (int)(98 - rem);
}

/* True if the 12 digits end in their own right check digits. */
static bool kz_valid(const char *d)
{
    int cd = payments_mod97_check(d, PAYMENTS_KZ_DIGITS - 2);
    return cd >= 0 && d[10] - '0' == cd / 10 && d[11] - '0' == cd % 10;
}

void payments_kz_make(int year, int64_t seq, char out[PAYMENTS_KZ_SIZE])
{
    unsigned y = (unsigned)(year < 0 ? 0 : year) % 10000;
    unsigned s = (unsigned)((seq < 0 ? 0 : seq) % 1000000);
    snprintf(out, PAYMENTS_KZ_SIZE, "%04u%06u", y, s);
    int cd = payments_mod97_check(out, 10);
    out[10] = (char)('0' + cd / 10);
    out[11] = (char)('0' + cd % 10);
    out[12] = '\0';
}

static bool kz_filler(char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '/';
}

int payments_kz_normalise(const char *text, char out[PAYMENTS_KZ_SIZE])
{
    if (!text)
        return KR_ERR_INVALID;
    const char *p = text;
    while (*p == ' ')
        p++;
    if ((p[0] == 'K' || p[0] == 'k') && (p[1] == 'Z' || p[1] == 'z'))
        p += 2;
    size_t n = 0;
    for (; *p; p++) {
        if (kz_filler(*p) || *p == ':')
            continue;
        if (*p < '0' || *p > '9' || n == PAYMENTS_KZ_DIGITS)
            return KR_ERR_INVALID;
        out[n++] = *p;
    }
    out[n] = '\0';
    if (n != PAYMENTS_KZ_DIGITS || !kz_valid(out))
        return KR_ERR_INVALID;
    return KR_OK;
}

void payments_kz_format(const char *kz, char out[16])
{
    if (strlen(kz) != PAYMENTS_KZ_DIGITS) {
        snprintf(out, 16, "%s", kz);
        return;
    }
    snprintf(out, 16, "%.4s %.4s %.4s", kz, kz + 4, kz + 8);
}

/* Collect up to 12 digits from s[i..len) allowing fillers between digits;
 * returns the number collected, *end the position after the last digit. */
static size_t collect_digits(const char *s, size_t len, size_t i, char *d, size_t *end)
{
    size_t n = 0;
    while (i < len && n < PAYMENTS_KZ_DIGITS) {
        if (s[i] >= '0' && s[i] <= '9') {
            d[n++] = s[i++];
            *end = i;
        } else if (kz_filler(s[i]) && n > 0 && i + 1 < len) {
            i++;
        } else {
            break;
        }
    }
    return n;
}

size_t payments_kz_scan(const char *s, size_t len, char (*found)[PAYMENTS_KZ_SIZE], size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < len && count < max; i++) {
        /* A candidate starts at a digit that does not continue a number. */
        if (s[i] < '0' || s[i] > '9' || (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9'))
            continue;
        char d[PAYMENTS_KZ_SIZE];
        size_t end = i;
        if (collect_digits(s, len, i, d, &end) != PAYMENTS_KZ_DIGITS)
            continue;
        if (end < len && s[end] >= '0' && s[end] <= '9')
            continue; /* part of a longer number */
        d[PAYMENTS_KZ_DIGITS] = '\0';
        if (!kz_valid(d))
            continue;
        memcpy(found[count++], d, PAYMENTS_KZ_SIZE);
        i = end - 1;
    }
    return count;
}

int payments_amount_parse(const char *s, size_t len, bool decimal_comma, bool allow_zero,
                          int64_t *cents, struct kr_error *err)
{
    char sep = decimal_comma ? ',' : '.';
    int64_t whole = 0, frac = 0;
    size_t i = 0, int_digits = 0, frac_digits = 0;
    if (!s || len == 0)
        return kr_error_set(err, KR_ERR_INVALID, "amount: empty");
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, int_digits++) {
        if (int_digits >= 12)
            return kr_error_set(err, KR_ERR_INVALID, "amount: too large");
        whole = whole * 10 + (s[i] - '0');
    }
    if (int_digits == 0)
        return kr_error_set(err, KR_ERR_INVALID, "amount: '%.*s' is not a number",
                            (int)(len > 40 ? 40 : len), s);
    if (i < len && s[i] == sep) {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, frac_digits++) {
            if (frac_digits >= 2)
                return kr_error_set(err, KR_ERR_INVALID, "amount: more than two decimals");
            frac = frac * 10 + (s[i] - '0');
        }
        /* "12," is how MT940 writes a whole amount; "12." is not a number. */
        if (frac_digits == 0 && !decimal_comma)
            return kr_error_set(err, KR_ERR_INVALID, "amount: no digits after the point");
    }
    if (i != len)
        return kr_error_set(err, KR_ERR_INVALID, "amount: '%.*s' is not a number",
                            (int)(len > 40 ? 40 : len), s);
    if (frac_digits == 1)
        frac *= 10;
    int64_t v = whole * 100 + frac;
    if (v > PAYMENTS_AMOUNT_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "amount: more than 999999999.99");
    if (v == 0 && !allow_zero)
        return kr_error_set(err, KR_ERR_INVALID, "amount: must be more than zero");
    *cents = v;
    return KR_OK;
}

void payments_amount_format(int64_t cents, char *out, size_t size)
{
    const char *sign = cents < 0 ? "-" : "";
    uint64_t v = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(out, size, "%s%llu.%02llu", sign, (unsigned long long)(v / 100),
             (unsigned long long)(v % 100));
}
