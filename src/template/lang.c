/*
 * lang.c - choosing the render language from an Accept-Language header.
 *
 * The header comes from outside, so the parser is strict about what it
 * accepts (RFC 9110 section 12.5.4, RFC 4647 language ranges) and drops a
 * malformed entry rather than guessing; it never fails as a whole, because
 * a page in the default language is always a correct answer.
 */
#include "template/internal.h"

#include <string.h>

/* Entries of the header looked at; the rest are ignored. */
#define LANG_ENTRIES_MAX 32

/* One language range: its primary subtag lower-cased, whether subtags
 * followed ("de-AT"), or "*"; q in thousandths. */
struct lang_range {
    char primary[9];
    bool star;
    bool subtags;
    unsigned q;
    unsigned pos;
};

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
static bool parse_qvalue(const char *s, size_t len, unsigned *q)
{
    if (len == 0 || (s[0] != '0' && s[0] != '1') || len > 5)
        return false;
    if (len > 1 && s[1] != '.')
        return false;
    unsigned v = s[0] == '1' ? 1000 : 0;
    unsigned scale = 100;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (!is_digit(s[i]) || (s[0] == '1' && s[i] != '0'))
            return false;
        v += (unsigned)(s[i] - '0') * scale;
    }
    *q = v;
    return true;
}

/* "*" or 1*8ALPHA *("-" 1*8alphanum) */
static bool parse_tag(const char *s, size_t len, struct lang_range *r)
{
    if (len == 1 && s[0] == '*') {
        r->star = true;
        return true;
    }
    size_t n = 0;
    while (n < len && n < 8 && is_alpha(s[n])) {
        r->primary[n] = (char)(s[n] | 0x20);
        n++;
    }
    r->primary[n] = '\0';
    if (n == 0 || (n < len && s[n] != '-'))
        return false;
    r->subtags = n < len;
    size_t sub = 0;
    for (size_t i = n + 1; i < len; i++) {
        if (s[i] == '-' && sub > 0) {
            sub = 0;
        } else if ((is_alpha(s[i]) || is_digit(s[i])) && sub < 8) {
            sub++;
        } else {
            return false;
        }
    }
    return !r->subtags || sub > 0;
}

static const char *skip_ows(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

static const char *trim_ows_end(const char *s, const char *end)
{
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end;
}

/* The parameters after a range: only "q=VALUE", spaces allowed around. */
static bool parse_params(const char *s, const char *end, unsigned *q)
{
    *q = 1000;
    if (s == end)
        return true;
    s = skip_ows(s + 1, end); /* past ';' */
    if (s == end || (*s != 'q' && *s != 'Q'))
        return false;
    s = skip_ows(s + 1, end);
    if (s == end || *s != '=')
        return false;
    s = skip_ows(s + 1, end);
    end = trim_ows_end(s, end);
    return parse_qvalue(s, (size_t)(end - s), q);
}

/* Parse one comma-separated entry s[0..end). */
static bool parse_entry(const char *s, const char *end, struct lang_range *r)
{
    memset(r, 0, sizeof(*r));
    s = skip_ows(s, end);
    const char *semi = s;
    while (semi < end && *semi != ';')
        semi++;
    if (semi == end)
        semi = NULL;
    const char *tag_end = trim_ows_end(s, semi ? semi : end);
    if (!parse_tag(s, (size_t)(tag_end - s), r))
        return false;
    return parse_params(semi ? semi : end, end, &r->q);
}

static size_t parse_header(const char *h, struct lang_range *out)
{
    size_t n = 0;
    unsigned pos = 0;
    const char *s = h;
    while (*s && pos < LANG_ENTRIES_MAX) {
        const char *end = strchrnul(s, ',');
        if (parse_entry(s, end, &out[n])) {
            out[n].pos = pos;
            n++;
        }
        pos++;
        s = *end ? end + 1 : end;
    }
    return n;
}

/*
 * q and position of lang in the header: an exact range ("de") decides,
 * else the best range with subtags ("de-AT"), else "*".  False when
 * nothing matches.
 */
static bool match(const struct lang_range *r, size_t n, const char *lang, unsigned *q,
                  unsigned *pos)
{
    const struct lang_range *sub = NULL;
    const struct lang_range *star = NULL;
    for (size_t i = 0; i < n; i++) {
        if (r[i].star) {
            if (!star)
                star = &r[i];
        } else if (strcmp(r[i].primary, lang) == 0) {
            if (!r[i].subtags) {
                *q = r[i].q;
                *pos = r[i].pos;
                return true;
            }
            if (!sub || r[i].q > sub->q)
                sub = &r[i];
        }
    }
    const struct lang_range *m = sub ? sub : star;
    if (!m)
        return false;
    *q = m->q;
    *pos = m->pos;
    return true;
}

const char *tpl_negotiate_lang(const struct tpl_set *set, const char *accept_language)
{
    const char *def = tpl_default_lang(set);
    if (!def || !accept_language)
        return def;
    struct lang_range ranges[LANG_ENTRIES_MAX];
    size_t n = parse_header(accept_language, ranges);
    const char *best = NULL;
    unsigned best_q = 0;
    unsigned best_pos = 0;
    /* The default goes first so that it wins ties at equal position ("*"). */
    for (size_t k = 0; k <= set->catalogue_count; k++) {
        const char *lang = k == 0 ? def : set->catalogues[k - 1]->lang;
        unsigned q, pos;
        if (!match(ranges, n, lang, &q, &pos) || q == 0)
            continue;
        if (!best || q > best_q || (q == best_q && pos < best_pos)) {
            best = lang;
            best_q = q;
            best_pos = pos;
        }
    }
    return best ? best : def;
}
