/*
 * search.c - German analysis (folding, umlauts, Snowball stemming) and the
 * in-memory inverted index of the catalogue.  The design and the ranking
 * are described in search.h.
 */
#include "catalogue/search.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>

#include "core/util.h"

/* ---- Stemmer ---------------------------------------------------------------- */

struct search_stemmer {
    struct sb_stemmer *sb;
};

struct search_stemmer *search_stemmer_new(void)
{
    struct search_stemmer *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->sb = sb_stemmer_new("german", "UTF_8");
    if (!st->sb) {
        free(st);
        return NULL;
    }
    return st;
}

void search_stemmer_free(struct search_stemmer *st)
{
    if (!st)
        return;
    sb_stemmer_delete(st->sb);
    free(st);
}

/* ---- Folding ------------------------------------------------------------------ */

/* Decode one UTF-8 character of s[0..len); *n gets its length.  Returns
 * the code point, or -1 for an invalid byte (consumed alone). */
static long utf8_next(const unsigned char *s, size_t len, size_t *n)
{
    unsigned char c = s[0];
    size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    *n = 1;
    if (need == 0 || need > len)
        return -1;
    if (need == 1)
        return c;
    long cp = c & (0x7F >> need);
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const long min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *n = need;
    return cp;
}

/* Latin-1 letters from U+00E0 after lower-casing, folded to what the
 * analysis keeps: ä ö ü ß stay (as "\1" markers), others lose accents. */
static const char *const latin1_fold[32] = {
    "a", "a", "a", "a", "\1", "a", "ae", "c", "e", "e", "e", "e", "i",  "i", "i",  "i",
    "d", "n", "o", "o", "o",  "o", "\1", "",  "o", "u", "u", "u", "\1", "y", "th", "y",
};

/* The folded UTF-8 of code point cp, or NULL when it separates words. */
static const char *fold_char(long cp, char tmp[5])
{
    if (cp >= 'A' && cp <= 'Z')
        cp += 'a' - 'A';
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
        tmp[0] = (char)cp;
        tmp[1] = '\0';
        return tmp;
    }
    if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x206F) ||
        (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE00 && cp <= 0xFE6F) ||
        (cp >= 0xFF00 && cp <= 0xFF20))
        return NULL;
    if (cp == 0x1E9E)
        cp = 0xDF;
    if (cp >= 0xC0 && cp <= 0xDE)
        cp += 0x20;
    if (cp == 0xDF || (cp >= 0xE0 && cp <= 0xFF)) {
        if (cp == 0xDF || strcmp(latin1_fold[cp - 0xE0], "\1") == 0) {
            tmp[0] = (char)(0xC0 | (cp >> 6));
            tmp[1] = (char)(0x80 | (cp & 0x3F));
            tmp[2] = '\0';
            return tmp;
        }
        return latin1_fold[cp - 0xE0];
    }
    /* Other scripts: kept as they are (no case folding). */
    size_t n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t i = n - 1; i > 0; i--) {
        tmp[i] = (char)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    tmp[0] = (char)((n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0) | cp);
    tmp[n] = '\0';
    return tmp;
}

static bool is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

/* "ae", "oe", "ue" to ä, ö, ü in place, unless a vowel (or for "ue" a q)
 * comes before them.  Both are two bytes, so the length stays. */
static void unify_umlauts(char *w, size_t len)
{
    char prev = '\0';
    for (size_t i = 0; i + 1 < len; i++) {
        char c = w[i];
        if ((c == 'a' || c == 'o' || c == 'u') && w[i + 1] == 'e' && !is_vowel(prev) &&
            !(c == 'u' && prev == 'q')) {
            w[i] = (char)0xC3;
            w[i + 1] = (char)(c == 'a' ? 0xA4 : c == 'o' ? 0xB6 : 0xBC);
            prev = 'e';
            i++;
            continue;
        }
        prev = c;
    }
}

/* The key: umlauts without dots, ß as ss. */
static void make_key(const char *w, size_t len, char *key)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k < SEARCH_WORD_MAX; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c == 0xC3 && i + 1 < len) {
            unsigned char d = (unsigned char)w[i + 1];
            const char *r = d == 0xA4   ? "a"
                            : d == 0xB6 ? "o"
                            : d == 0xBC ? "u"
                            : d == 0x9F ? "ss"
                                        : NULL;
            if (r) {
                for (; *r && k < SEARCH_WORD_MAX; r++)
                    key[k++] = *r;
                i++;
                continue;
            }
        }
        key[k++] = (char)c;
    }
    key[k] = '\0';
}

static void finish_word(struct search_stemmer *st, char *w, size_t len, struct search_word *out)
{
    unify_umlauts(w, len);
    make_key(w, len, out->key);
    const char *stem = w;
    size_t slen = len;
    if (st) {
        const sb_symbol *s = sb_stemmer_stem(st->sb, (const sb_symbol *)w, (int)len);
        if (s) {
            stem = (const char *)s;
            slen = (size_t)sb_stemmer_length(st->sb);
        }
    }
    if (slen > SEARCH_WORD_MAX)
        slen = SEARCH_WORD_MAX;
    memcpy(out->stem, stem, slen);
    out->stem[slen] = '\0';
}

size_t search_analyze(struct search_stemmer *st, const char *text, size_t len,
                      struct search_word *out, size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    char w[SEARCH_WORD_MAX + 1];
    size_t wl = 0, count = 0;
    for (size_t i = 0; i <= len && count < max;) {
        size_t n = 1;
        const char *f = NULL;
        char tmp[5];
        if (i < len) {
            long cp = utf8_next(s + i, len - i, &n);
            f = cp < 0 ? NULL : fold_char(cp, tmp);
        }
        if (f && *f) {
            size_t fl = strlen(f);
            if (wl + fl <= SEARCH_WORD_MAX) {
                memcpy(w + wl, f, fl);
                wl += fl;
            }
        } else if (!f && wl > 0) {
            w[wl] = '\0';
            finish_word(st, w, wl, &out[count++]);
            wl = 0;
        }
        i += n;
    }
    return count;
}

/* ---- Stop words ------------------------------------------------------------------ */

/* Keys (umlauts stripped), sorted for bsearch. */
static const char *const stop_words[] = {
    "a",    "aber", "alle",    "als",       "am",         "an",    "and",    "are",
    "auch", "auf",  "aus",     "beantrage", "beantragen", "bei",   "beim",   "bekommen",
    "bin",  "bis",  "brauche", "brauchen",  "can",        "da",    "das",    "dass",
    "dem",  "den",  "der",     "des",       "die",        "do",    "du",     "durch",
    "ein",  "eine", "einem",   "einen",     "einer",      "eines", "er",     "es",
    "for",  "from", "fur",     "get",       "gibt",       "habe",  "haben",  "hat",
    "how",  "i",    "ich",     "ihr",       "im",         "in",    "is",     "ist",
    "it",   "ja",   "kann",    "me",        "mein",       "meine", "meinen", "meiner",
    "mich", "mir",  "mit",     "mochte",    "muss",       "my",    "nach",   "need",
    "noch", "oder", "of",      "on",        "or",         "sich",  "sie",    "sind",
    "so",   "the",  "to",      "uber",      "um",         "und",   "uns",    "vom",
    "von",  "was",  "what",    "where",     "wie",        "will",  "wir",    "with",
    "wo",   "zu",   "zum",     "zur",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool search_is_stop_word(const char *key)
{
    return bsearch(&key, stop_words, KR_ARRAY_LEN(stop_words), sizeof(stop_words[0]), cmp_str) !=
           NULL;
}

/* ---- Edit distance ----------------------------------------------------------------- */

bool search_one_edit(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen > blen) {
        const char *t = a;
        a = b;
        b = t;
        size_t tl = alen;
        alen = blen;
        blen = tl;
    }
    if (blen - alen > 1)
        return false;
    size_t i = 0;
    while (i < alen && a[i] == b[i])
        i++;
    if (alen == blen) {
        if (i == alen)
            return false; /* equal */
        if (strncmp(a + i + 1, b + i + 1, alen - i - 1) == 0)
            return true; /* substitution */
        return i + 1 < alen && a[i] == b[i + 1] && a[i + 1] == b[i] &&
               strncmp(a + i + 2, b + i + 2, alen - i - 2) == 0; /* transposition */
    }
    return strncmp(a + i, b + i + 1, alen - i) == 0; /* insertion */
}

/* ---- The index ------------------------------------------------------------------- */

static const uint8_t field_weight[SEARCH_FIELD_COUNT] = {10, 8, 4, 1};

struct term {
    char *stem;
    uint32_t *docs; /* ascending */
    uint8_t *weights;
    size_t n, cap;
    float idf;
};

/* A distinct word as it appeared (its key) and the term it stems to. */
struct word {
    char *key;
    size_t len;
    uint32_t term;
};

/* A synonym group member: the terms of its words (all must match). */
#define SYN_TERMS_MAX 4
struct syn_entry {
    size_t group;
    char *trigger; /* the stem, when the member is one word; else NULL */
    uint32_t terms[SYN_TERMS_MAX];
    uint8_t nterms; /* 0 when a word is not in the index */
};

/* Open addressing string -> uint32 map. */
struct strmap {
    const char **keys;
    uint32_t *values;
    size_t cap, used;
};

struct search_index {
    struct arena *strings;
    struct search_stemmer *stemmer;
    pthread_mutex_t stem_lock;
    size_t ndocs;
    struct term *terms;
    size_t nterms, terms_cap;
    struct strmap term_map; /* stem -> term */
    struct strmap word_map; /* umlaut form -> word (build only) */
    struct word *words;     /* sorted by key after the build */
    size_t nwords, words_cap;
    struct syn_entry *syn;
    size_t nsyn;
    size_t postings;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static bool strmap_get(const struct strmap *m, const char *key, uint32_t *value)
{
    if (m->cap == 0)
        return false;
    for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return false;
        if (strcmp(m->keys[i], key) == 0) {
            *value = m->values[i];
            return true;
        }
    }
}

static int strmap_grow(struct strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    const char **keys = calloc(cap, sizeof(*keys));
    uint32_t *values = calloc(cap, sizeof(*values));
    if (!keys || !values) {
        free(keys);
        free(values);
        return KR_ERR_NOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = hash_str(m->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        values[j] = m->values[i];
    }
    free(m->keys);
    free(m->values);
    m->keys = keys;
    m->values = values;
    m->cap = cap;
    return KR_OK;
}

/* Insert key (which must outlive the map) -> value; key must be new. */
static int strmap_put(struct strmap *m, const char *key, uint32_t value)
{
    if ((m->used + 1) * 2 > m->cap && strmap_grow(m))
        return KR_ERR_NOMEM;
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    m->values[i] = value;
    m->used++;
    return KR_OK;
}

static void strmap_release(struct strmap *m)
{
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof(*m));
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return KR_OK;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return KR_ERR_NOMEM;
    *p = q;
    *cap = c;
    return KR_OK;
}

/* The term of stem, created when new. */
static int term_of(struct search_index *ix, const char *stem, uint32_t *out)
{
    if (strmap_get(&ix->term_map, stem, out))
        return KR_OK;
    if (grow((void **)&ix->terms, &ix->terms_cap, ix->nterms + 1, sizeof(struct term)))
        return KR_ERR_NOMEM;
    struct term *t = &ix->terms[ix->nterms];
    memset(t, 0, sizeof(*t));
    t->stem = arena_strdup(ix->strings, stem);
    if (!t->stem || strmap_put(&ix->term_map, t->stem, (uint32_t)ix->nterms))
        return KR_ERR_NOMEM;
    *out = (uint32_t)ix->nterms++;
    return KR_OK;
}

/* The term of an analysed but not yet stemmed word (sw->stem holds its
 * umlaut form): each distinct word is stemmed once per build. */
static int word_term(struct search_index *ix, const struct search_word *sw, uint32_t *out)
{
    uint32_t wi;
    if (strmap_get(&ix->word_map, sw->stem, &wi)) {
        *out = ix->words[wi].term;
        return KR_OK;
    }
    char stem[SEARCH_WORD_MAX + 1];
    size_t len = strlen(sw->stem);
    const sb_symbol *s = sb_stemmer_stem(ix->stemmer->sb, (const sb_symbol *)sw->stem, (int)len);
    if (s) {
        len = (size_t)sb_stemmer_length(ix->stemmer->sb);
        memcpy(stem, s, len > SEARCH_WORD_MAX ? SEARCH_WORD_MAX : len);
        stem[len > SEARCH_WORD_MAX ? SEARCH_WORD_MAX : len] = '\0';
    } else {
        memcpy(stem, sw->stem, len + 1);
    }
    uint32_t term;
    if (term_of(ix, stem, &term) ||
        grow((void **)&ix->words, &ix->words_cap, ix->nwords + 1, sizeof(struct word)))
        return KR_ERR_NOMEM;
    struct word *w = &ix->words[ix->nwords];
    w->key = arena_strdup(ix->strings, sw->key);
    w->len = strlen(sw->key);
    w->term = term;
    char *form = arena_strdup(ix->strings, sw->stem);
    if (!w->key || !form || strmap_put(&ix->word_map, form, (uint32_t)ix->nwords))
        return KR_ERR_NOMEM;
    ix->nwords++;
    *out = term;
    return KR_OK;
}

static int add_posting(struct search_index *ix, uint32_t term, uint32_t doc, uint8_t weight)
{
    struct term *t = &ix->terms[term];
    if (t->n > 0 && t->docs[t->n - 1] == doc) {
        if (t->weights[t->n - 1] < weight)
            t->weights[t->n - 1] = weight;
        return KR_OK;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        uint32_t *d = realloc(t->docs, cap * sizeof(*d));
        if (!d)
            return KR_ERR_NOMEM;
        t->docs = d;
        uint8_t *w = realloc(t->weights, cap);
        if (!w)
            return KR_ERR_NOMEM;
        t->weights = w;
        t->cap = cap;
    }
    t->docs[t->n] = doc;
    t->weights[t->n] = weight;
    t->n++;
    ix->postings++;
    return KR_OK;
}

enum { ANALYZE_CHUNK = 256 };

static int index_text(struct search_index *ix, uint32_t doc, const char *text, uint8_t weight)
{
    struct search_word words[ANALYZE_CHUNK];
    const char *p = text;
    size_t left = strlen(text);
    while (left > 0) {
        /* Analyse in chunks that end at a blank, so no word is cut. */
        size_t take = left;
        if (take > 4096) {
            take = 4096;
            while (take > 0 && p[take - 1] != ' ' && p[take - 1] != '\n')
                take--;
            if (take == 0)
                take = 4096;
        }
        /* Not stemmed here: word_term stems each distinct word once. */
        size_t n = search_analyze(NULL, p, take, words, ANALYZE_CHUNK);
        for (size_t i = 0; i < n; i++) {
            uint32_t term;
            if (word_term(ix, &words[i], &term) || add_posting(ix, term, doc, weight))
                return KR_ERR_NOMEM;
        }
        p += take;
        left -= take;
    }
    return KR_OK;
}

static int add_synonyms(struct search_index *ix, const struct search_synonyms *syn)
{
    ix->syn = calloc(syn->count ? syn->count : 1, sizeof(*ix->syn));
    if (!ix->syn)
        return KR_ERR_NOMEM;
    for (size_t i = 0; i < syn->count; i++) {
        struct search_word w[SYN_TERMS_MAX + 1];
        size_t n =
            search_analyze(ix->stemmer, syn->words[i], strlen(syn->words[i]), w, SYN_TERMS_MAX + 1);
        if (n == 0 || n > SYN_TERMS_MAX)
            continue;
        struct syn_entry *e = &ix->syn[ix->nsyn++];
        e->group = syn->group[i];
        if (n == 1 && !(e->trigger = arena_strdup(ix->strings, w[0].stem)))
            return KR_ERR_NOMEM;
        e->nterms = (uint8_t)n;
        for (size_t k = 0; k < n; k++)
            if (!strmap_get(&ix->term_map, w[k].stem, &e->terms[k]))
                e->nterms = 0; /* no document has this word */
    }
    return KR_OK;
}

static int cmp_word(const void *a, const void *b)
{
    return strcmp(((const struct word *)a)->key, ((const struct word *)b)->key);
}

static int build_docs(struct search_index *ix, const struct search_doc *docs, size_t n)
{
    for (size_t d = 0; d < n; d++)
        for (int f = 0; f < SEARCH_FIELD_COUNT; f++)
            if (docs[d].field[f] && index_text(ix, (uint32_t)d, docs[d].field[f], field_weight[f]))
                return KR_ERR_NOMEM;
    for (size_t t = 0; t < ix->nterms; t++)
        ix->terms[t].idf = (float)log(1.0 + (double)n / (double)(ix->terms[t].n + 1));
    if (ix->nwords > 0)
        qsort(ix->words, ix->nwords, sizeof(*ix->words), cmp_word);
    strmap_release(&ix->word_map);
    return KR_OK;
}

int search_index_build(struct search_index **out, const struct search_doc *docs, size_t n,
                       const struct search_synonyms *synonyms, struct kr_error *err)
{
    struct search_index *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&ix->stem_lock, NULL);
    ix->ndocs = n;
    ix->strings = arena_new(0);
    ix->stemmer = search_stemmer_new();
    if (!ix->strings || !ix->stemmer) {
        search_index_free(ix);
        return kr_error_set(err, ix->strings ? KR_ERR_INTERNAL : KR_ERR_NOMEM,
                            "cannot set up the German stemmer");
    }
    int rc = build_docs(ix, docs, n);
    if (rc == KR_OK && synonyms)
        rc = add_synonyms(ix, synonyms);
    if (rc) {
        search_index_free(ix);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory building the search index");
    }
    *out = ix;
    return KR_OK;
}

void search_index_free(struct search_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->nterms; i++) {
        free(ix->terms[i].docs);
        free(ix->terms[i].weights);
    }
    free(ix->terms);
    free(ix->words);
    free(ix->syn);
    strmap_release(&ix->term_map);
    strmap_release(&ix->word_map);
    search_stemmer_free(ix->stemmer);
    arena_free(ix->strings);
    pthread_mutex_destroy(&ix->stem_lock);
    free(ix);
}

size_t search_index_terms(const struct search_index *ix)
{
    return ix->nterms;
}

size_t search_index_postings(const struct search_index *ix)
{
    return ix->postings;
}

/* ---- Queries ------------------------------------------------------------------------ */

/* One way a query word matches: all terms present, scaled by factor. */
struct alt {
    uint32_t terms[SYN_TERMS_MAX];
    uint8_t n;
    float factor;
};

#define ALTS_MAX 256

struct query_state {
    const struct search_index *ix;
    float *score, *best;
    uint8_t *matched;
    uint32_t *touched;
    size_t ntouched;
    struct alt alts[ALTS_MAX];
    size_t nalts;
};

static void add_alt(struct query_state *q, const uint32_t *terms, size_t n, float factor)
{
    if (q->nalts == ALTS_MAX || n == 0)
        return;
    for (size_t i = 0; i < q->nalts; i++)
        if (q->alts[i].n == n && memcmp(q->alts[i].terms, terms, n * sizeof(*terms)) == 0) {
            if (q->alts[i].factor < factor)
                q->alts[i].factor = factor;
            return;
        }
    struct alt *a = &q->alts[q->nalts++];
    memcpy(a->terms, terms, n * sizeof(*terms));
    a->n = (uint8_t)n;
    a->factor = factor;
}

static void add_synonym_alts(struct query_state *q, const char *stem)
{
    const struct search_index *ix = q->ix;
    for (size_t i = 0; i < ix->nsyn; i++) {
        if (!ix->syn[i].trigger || strcmp(ix->syn[i].trigger, stem) != 0)
            continue;
        for (size_t j = 0; j < ix->nsyn; j++)
            if (j != i && ix->syn[j].group == ix->syn[i].group)
                add_alt(q, ix->syn[j].terms, ix->syn[j].nterms, 0.9f);
    }
}

/* Words whose key starts with key; returns how many were added. */
static size_t add_prefix_alts(struct query_state *q, const char *key, float factor)
{
    const struct search_index *ix = q->ix;
    size_t len = strlen(key), lo = 0, hi = ix->nwords, added = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ix->words[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < ix->nwords && strncmp(ix->words[i].key, key, len) == 0; i++) {
        if (ix->words[i].len == len)
            continue; /* the word itself: the exact match covers it */
        add_alt(q, &ix->words[i].term, 1, factor);
        added++;
    }
    return added;
}

static void add_typo_alts(struct query_state *q, const char *key)
{
    const struct search_index *ix = q->ix;
    size_t len = strlen(key);
    for (size_t i = 0; i < ix->nwords; i++) {
        const struct word *w = &ix->words[i];
        if (w->len + 1 >= len && w->len <= len + 1 && search_one_edit(key, len, w->key, w->len))
            add_alt(q, &w->term, 1, 0.6f);
    }
}

static bool has_doc(const struct term *t, uint32_t doc, uint8_t *weight)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->docs[mid] < doc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->n && t->docs[lo] == doc) {
        *weight = t->weights[lo];
        return true;
    }
    return false;
}

static void score_alt(struct query_state *q, const struct alt *a)
{
    const struct term *first = &q->ix->terms[a->terms[0]];
    float idf = 0;
    for (size_t k = 0; k < a->n; k++)
        idf += q->ix->terms[a->terms[k]].idf;
    for (size_t i = 0; i < first->n; i++) {
        uint32_t doc = first->docs[i];
        uint8_t w = first->weights[i];
        for (size_t k = 1; k < a->n && w; k++) {
            uint8_t wk;
            w = has_doc(&q->ix->terms[a->terms[k]], doc, &wk) ? (wk < w ? wk : w) : 0;
        }
        float s = (float)w * a->factor * idf;
        if (s <= 0)
            continue;
        if (q->best[doc] == 0)
            q->touched[q->ntouched++] = doc;
        if (s > q->best[doc])
            q->best[doc] = s;
    }
}

static void match_word(struct query_state *q, const struct search_word *w, bool last, bool typing)
{
    const struct search_index *ix = q->ix;
    q->nalts = 0;
    uint32_t term;
    bool exact = strmap_get(&ix->term_map, w->stem, &term);
    if (exact)
        add_alt(q, &term, 1, 1.0f);
    add_synonym_alts(q, w->stem);
    size_t len = strlen(w->key), prefixed = 0;
    if (last && len >= (typing ? 2u : 3u))
        prefixed = add_prefix_alts(q, w->key, 0.7f);
    else if (len >= 4)
        prefixed = add_prefix_alts(q, w->key, 0.5f);
    if (!exact && prefixed == 0 && len >= 5)
        add_typo_alts(q, w->key);
    for (size_t i = 0; i < q->nalts; i++)
        score_alt(q, &q->alts[i]);
    for (size_t i = 0; i < q->ntouched; i++) {
        uint32_t doc = q->touched[i];
        q->score[doc] += q->best[doc];
        q->matched[doc]++;
        q->best[doc] = 0;
    }
    q->ntouched = 0;
}

static int cmp_hit(const void *a, const void *b)
{
    const struct search_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static void swap_hit(struct search_hit *a, struct search_hit *b)
{
    struct search_hit t = *a;
    *a = *b;
    *b = t;
}

/* Reorder h[0..n) so that the best k come first (in any order):
 * quickselect with a middle pivot, O(n) on average. */
static void select_best(struct search_hit *h, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        swap_hit(&h[lo + (hi - lo) / 2], &h[hi - 1]);
        size_t store = lo;
        for (size_t i = lo; i + 1 < hi; i++)
            if (cmp_hit(&h[i], &h[hi - 1]) < 0)
                swap_hit(&h[i], &h[store++]);
        swap_hit(&h[store], &h[hi - 1]);
        if (store == k || store + 1 == k)
            return;
        if (store > k)
            hi = store;
        else
            lo = store + 1;
    }
}

/* The words of the query without stop words (all of them when every word
 * is one).  Returns their number. */
static size_t query_words(const struct search_index *ix, const char *query, size_t len,
                          struct search_word *words)
{
    pthread_mutex_t *lock = (pthread_mutex_t *)(uintptr_t)&ix->stem_lock;
    pthread_mutex_lock(lock);
    size_t n = search_analyze(ix->stemmer, query, len, words, SEARCH_MAX_WORDS);
    pthread_mutex_unlock(lock);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!search_is_stop_word(words[i].key) && words[i].key[1])
            words[kept++] = words[i];
    return kept ? kept : n;
}

static size_t cut_utf8(const char *s, size_t len)
{
    if (len <= SEARCH_QUERY_MAX)
        return len;
    len = SEARCH_QUERY_MAX;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

int search_query(const struct search_index *ix, const char *query, bool typing,
                 bool (*filter)(uint32_t doc, const void *arg), const void *filter_arg, size_t top,
                 struct arena *a, struct search_hit **hits, size_t *count, struct kr_error *err)
{
    *hits = NULL;
    *count = 0;
    if (!query || !*query || ix->ndocs == 0)
        return KR_OK;
    size_t qlen = strlen(query);
    bool ends_in_word = qlen <= SEARCH_QUERY_MAX && strchr(" \t\n,.;", query[qlen - 1]) == NULL;
    struct search_word words[SEARCH_MAX_WORDS];
    size_t nw = query_words(ix, query, cut_utf8(query, qlen), words);
    if (nw == 0)
        return KR_OK;
    struct query_state *q = arena_zalloc(a, sizeof(*q));
    size_t n = ix->ndocs;
    if (q) {
        q->ix = ix;
        q->score = arena_calloc(a, n, sizeof(float));
        q->best = arena_calloc(a, n, sizeof(float));
        q->matched = arena_calloc(a, n, 1);
        q->touched = arena_calloc(a, n, sizeof(uint32_t));
    }
    if (!q || !q->score || !q->best || !q->matched || !q->touched)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nw; i++)
        match_word(q, &words[i], i + 1 == nw && (ends_in_word || !typing), typing);
    size_t found = 0;
    for (size_t d = 0; d < n; d++)
        if (q->matched[d] && (!filter || filter((uint32_t)d, filter_arg)))
            found++;
    struct search_hit *h = arena_alloc(a, (found ? found : 1) * sizeof(*h));
    if (!h)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t d = 0; d < n; d++) {
        if (!q->matched[d] || (filter && !filter((uint32_t)d, filter_arg)))
            continue;
        float coord = (float)q->matched[d] / (float)nw;
        h[k].doc = (uint32_t)d;
        h[k].score = q->score[d] * coord * coord;
        k++;
    }
    if (top > 0 && top < k) {
        select_best(h, k, top);
        qsort(h, top, sizeof(*h), cmp_hit);
    } else {
        qsort(h, k, sizeof(*h), cmp_hit);
    }
    *hits = h;
    *count = k;
    return KR_OK;
}
