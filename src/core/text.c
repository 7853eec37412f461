#include "core/text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool text_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false; /* continuation byte, C0/C1 overlong lead, > F4 */
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool control_allowed(unsigned char c, int flags)
{
    if (c >= 0x20 && c != 0x7F)
        return true;
    return (flags & TEXT_ALLOW_NEWLINES) && (c == '\t' || c == '\r' || c == '\n');
}

int text_percent_decode(struct arena *a, const char *s, size_t len, int flags, char **out,
                        size_t *out_len, struct kr_error *err)
{
    char *d = arena_alloc(a, len + 1);
    if (!d)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return kr_error_set(err, KR_ERR_INVALID, "malformed percent-encoding");
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && (flags & TEXT_PLUS_IS_SPACE)) {
            c = ' ';
        }
        if (!control_allowed(c, flags))
            return kr_error_set(err, KR_ERR_INVALID, "control character not allowed");
        d[o++] = (char)c;
    }
    d[o] = '\0';
    if (!text_utf8_valid(d, o))
        return kr_error_set(err, KR_ERR_INVALID, "text is not valid UTF-8");
    *out = d;
    if (out_len)
        *out_len = o;
    return KR_OK;
}

int text_parse_urlencoded(struct arena *a, const char *s, size_t len, size_t max_pairs,
                          struct text_pairs *out, struct kr_error *err)
{
    /* Count segments first so that the pair array is one allocation. */
    size_t segments = 1;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '&')
            segments++;
    out->items = arena_calloc(a, segments, sizeof(*out->items));
    out->count = 0;
    if (!out->items)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");

    size_t pos = 0;
    while (pos <= len) {
        const char *seg = s + pos;
        const char *amp = memchr(seg, '&', len - pos);
        size_t seglen = amp ? (size_t)(amp - seg) : len - pos;
        pos += seglen + 1;
        if (seglen == 0) {
            if (!amp)
                break;
            continue;
        }
        if (out->count == max_pairs)
            return kr_error_set(err, KR_ERR_TOO_LARGE, "too many fields (at most %zu)", max_pairs);
        const char *eq = memchr(seg, '=', seglen);
        size_t nlen = eq ? (size_t)(eq - seg) : seglen;
        struct text_pair *p = &out->items[out->count];
        char *name, *value;
        int rc = text_percent_decode(a, seg, nlen, TEXT_PLUS_IS_SPACE, &name, NULL, err);
        if (rc) {
            if (rc == KR_ERR_INVALID)
                kr_error_prefix(err, "name of field #%zu", out->count + 1);
            return rc;
        }
        if (eq) {
            rc = text_percent_decode(a, eq + 1, seglen - nlen - 1,
                                     TEXT_PLUS_IS_SPACE | TEXT_ALLOW_NEWLINES, &value,
                                     &p->value_len, err);
            if (rc) {
                if (rc == KR_ERR_INVALID)
                    kr_error_prefix(err, "field '%.64s'", name);
                return rc;
            }
        } else {
            value = arena_strdup(a, "");
            p->value_len = 0;
            if (!value)
                return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        }
        p->name = name;
        p->value = value;
        out->count++;
        if (!amp)
            break;
    }
    return KR_OK;
}

const char *text_pairs_get(const struct text_pairs *pairs, const char *name)
{
    for (size_t i = 0; i < pairs->count; i++)
        if (strcmp(pairs->items[i].name, name) == 0)
            return pairs->items[i].value;
    return NULL;
}

const char *text_trim(const char *s, size_t *len)
{
    size_t n = *len;
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *len = n;
    return s;
}

char *text_cookie_get(struct arena *a, const char *header, const char *name)
{
    if (!header)
        return NULL;
    size_t nlen = strlen(name);
    const char *p = header;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t seglen = semi ? (size_t)(semi - p) : strlen(p);
        size_t tlen = seglen;
        const char *t = text_trim(p, &tlen);
        const char *eq = memchr(t, '=', tlen);
        if (eq && (size_t)(eq - t) == nlen && memcmp(t, name, nlen) == 0) {
            const char *v = eq + 1;
            size_t vlen = tlen - nlen - 1;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            return arena_strndup(a, v, vlen);
        }
        if (!semi)
            break;
        p = semi + 1;
    }
    return NULL;
}

bool text_equal_nocase(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

char *text_percent_encode(struct arena *a, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = arena_alloc(a, 3 * len + 1);
    if (!out)
        return NULL;
    char *p = out;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p = '\0';
    return out;
}

const char *text_money(int64_t cents, const char *lang, char out[TEXT_MONEY_LEN])
{
    bool en = lang && strcmp(lang, "en") == 0;
    char group = en ? ',' : '.', decimal = en ? '.' : ',';
    /* Work on the magnitude as unsigned: INT64_MIN has no positive twin. */
    uint64_t v = cents < 0 ? 0 - (uint64_t)cents : (uint64_t)cents;
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)(v / 100));
    char *p = out;
    if (cents < 0)
        *p++ = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            *p++ = group;
        *p++ = digits[i];
    }
    (void)snprintf(p, (size_t)(out + TEXT_MONEY_LEN - p), "%c%02u", decimal, (unsigned)(v % 100));
    return out;
}
