/*
 * text.h - parsers for text that comes from outside: UTF-8 validation,
 * percent-decoding, application/x-www-form-urlencoded bodies and query
 * strings, Cookie headers.
 *
 * Parsers take a pointer and a length (the input need not be
 * NUL-terminated and may contain NUL bytes) and put their results into the
 * caller's arena.  They are strict: malformed percent escapes, invalid UTF-8
 * and control characters are errors (KR_ERR_INVALID), never silently
 * repaired, so that nothing half-understood reaches domain code.
 */
#ifndef KR_CORE_TEXT_H
#define KR_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"

/* True if s[0..len) is well-formed UTF-8 (no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF). */
bool text_utf8_valid(const char *s, size_t len);

/* Flags for text_percent_decode. */
enum {
    TEXT_PLUS_IS_SPACE = 1,  /* form encoding: '+' means ' ' */
    TEXT_ALLOW_NEWLINES = 2, /* keep TAB, CR and LF (textarea values) */
};

/*
 * Decode percent-escapes of s[0..len) into a new NUL-terminated arena
 * string (*out, length *out_len; out_len may be NULL).  Fails with
 * KR_ERR_INVALID on a malformed escape, a result that is not UTF-8, or a
 * control character (C0 or DEL; TAB/CR/LF allowed with TEXT_ALLOW_NEWLINES);
 * KR_ERR_NOMEM on OOM.  err may be NULL.
 */
int text_percent_decode(struct arena *a, const char *s, size_t len, int flags, char **out,
                        size_t *out_len, struct kr_error *err) KR_MUST_CHECK;

/* One decoded name=value pair. */
struct text_pair {
    const char *name;
    const char *value;
    size_t value_len;
};

/* Decoded pairs in input order; names may repeat. */
struct text_pairs {
    struct text_pair *items;
    size_t count;
};

/*
 * Parse "a=1&b=2" (form bodies and query strings; '+' is a space, values
 * keep newlines).  Empty segments ("a=1&&b=2") are skipped; a name without
 * '=' has the value "".  More than max_pairs pairs is KR_ERR_TOO_LARGE.
 * The message of err names the offending field.
 */
int text_parse_urlencoded(struct arena *a, const char *s, size_t len, size_t max_pairs,
                          struct text_pairs *out, struct kr_error *err) KR_MUST_CHECK;

/* First value of name, or NULL. */
const char *text_pairs_get(const struct text_pairs *pairs, const char *name);

/*
 * Find cookie name in a Cookie header value ("a=1; b=2").  Returns a new
 * arena string or NULL when absent, malformed or OOM.  Quoted values lose
 * their quotes.
 */
char *text_cookie_get(struct arena *a, const char *header, const char *name);

/* Case-insensitive ASCII comparison of NUL-terminated strings. */
bool text_equal_nocase(const char *a, const char *b);

/* s percent-encoded for a query value or path segment (RFC 3986: every
 * byte but the unreserved A-Z a-z 0-9 - . _ ~ becomes %XX), in a. */
char *text_percent_encode(struct arena *a, const char *s);

/* Trim ASCII spaces and tabs from both ends of s[0..*len); returns the new
 * start and updates *len. */
const char *text_trim(const char *s, size_t *len);

/* An amount of cents for people to read, without the currency: German
 * "1.750,00", "-0,05" for lang "de" (and NULL), English "1,750.00" for
 * "en".  out gets at most TEXT_MONEY_LEN bytes; returns out. */
#define TEXT_MONEY_LEN 32
const char *text_money(int64_t cents, const char *lang, char out[TEXT_MONEY_LEN]);

#endif
