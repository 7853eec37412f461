/*
 * search.h - German full-text search for the service catalogue: an
 * in-memory inverted index of Snowball-stemmed, folded terms.
 *
 * Why in memory: a county has a few hundred services (the benchmark has
 * 10,000), so the whole index is a few megabytes; searching it costs tens
 * of microseconds, needs no SQL text built from a query, and gives the same
 * results on SQLite and PostgreSQL by construction (docs/catalogue.md has
 * the figures).  The database stays the truth; catalogue.c rebuilds the
 * index when the catalogue's generation changes.
 *
 * Analysis, the same for documents and queries (search_analyze):
 *   1. UTF-8 is decoded; letters are lower-cased (ASCII, Latin-1, and the
 *      capital sharp s); accented Latin-1 letters other than ä ö ü ß lose
 *      their accent; anything that is not a letter or digit separates words
 *      (so "Kfz-Zulassung" is two words).
 *   2. Umlaut spellings are unified: "ae", "oe", "ue" become ä, ö, ü unless
 *      a vowel precedes them ("Steuer", "neue", "Bauer" stay) or, for "ue",
 *      a q ("Quelle").  Fuehrerschein and Führerschein are then one word.
 *   3. The word is stemmed with libstemmer's German Snowball stemmer, which
 *      also maps ß to ss and strips the umlauts' dots, so "fuhrerschein"
 *      meets the other two.  The stem is the index term.
 *   4. The "key" of a word is its folded form with umlauts stripped (step 1
 *      and 2, then ä->a, ß->ss): prefix and typo matching compare keys.
 *
 * Queries never reach a query language: a query is only ever split into
 * words by the rules above, so quotes, '*', NEAR, OR and '-' are plain
 * separators or words.
 *
 * Matching and ranking (search_query): every query word (stop words such
 * as "der", "ich", "beantragen" aside) is matched as
 *   - its exact stem                             factor 1.0
 *   - stems of its synonyms (global groups)      factor 0.9
 *   - words starting with it (prefix)            factor 0.7 (last word, 2+
 *                                                letters) / 0.5 (others, 4+)
 *   - words one edit away (5+ letters, only when
 *     the word has no exact or prefix match)     factor 0.6
 * A document scores per query word the best of field weight x factor x
 * idf over those terms (title 10, per-service synonyms 8, summary 4, other
 * text 1), so a title hit ranks above a body hit.  The sum is multiplied by
 * (matched words / query words)^2 so that documents matching every word
 * come first.  Ties are broken by document order.
 *
 * Thread safety: a built index is read-only and may be searched by any
 * number of threads at once (the stemmer for queries is behind a mutex).
 */
#ifndef KR_CATALOGUE_SEARCH_H
#define KR_CATALOGUE_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"

/* Longest query considered, in bytes; longer queries are cut at a UTF-8
 * character boundary.  At most SEARCH_MAX_WORDS words are used. */
#define SEARCH_QUERY_MAX 200
#define SEARCH_MAX_WORDS 12
/* Longest word indexed or searched, in bytes (longer words are cut). */
#define SEARCH_WORD_MAX 64

enum search_field {
    SEARCH_FIELD_TITLE,    /* weight 10 */
    SEARCH_FIELD_SYNONYMS, /* weight 8: per-service synonyms, LeiKa key */
    SEARCH_FIELD_SUMMARY,  /* weight 4 */
    SEARCH_FIELD_BODY,     /* weight 1: description, documents, ... */
    SEARCH_FIELD_COUNT
};

/* A document to index: text per field (NULL or "" for none; several
 * pieces of text are simply joined by the caller with spaces). */
struct search_doc {
    const char *field[SEARCH_FIELD_COUNT];
};

/* Global synonym groups: words[i] belongs to group group[i]; a word of a
 * group stands for every other word of it.  A "word" may be a phrase of
 * several words: as an expansion it matches documents having all of them. */
struct search_synonyms {
    const char *const *words;
    const size_t *group;
    size_t count;
};

struct search_index;

/*
 * Build an index of docs[0..n) (document numbers are the array indexes).
 * *out belongs to the caller (search_index_free).  KR_ERR_NOMEM, or
 * KR_ERR_INTERNAL when the German stemmer is missing.  synonyms may be NULL.
 */
int search_index_build(struct search_index **out, const struct search_doc *docs, size_t n,
                       const struct search_synonyms *synonyms, struct kr_error *err) KR_MUST_CHECK;

void search_index_free(struct search_index *ix);

/* Number of distinct terms and postings (for logs and tests). */
size_t search_index_terms(const struct search_index *ix);
size_t search_index_postings(const struct search_index *ix);

/* A result: document number and score (higher is better). */
struct search_hit {
    uint32_t doc;
    float score;
};

/*
 * Search for query (any UTF-8 text; NULL or empty finds nothing).  Only
 * documents for which filter(doc, filter_arg) is true are returned (filter
 * may be NULL).  *hits is an arena array of *count hits, best first; with
 * top > 0 only the first top hits are in order (the rest follow in any
 * order: a results page needs the count of all but the order of a few).
 * typing: the user is still typing the last word (suggestions): it then
 * matches as a prefix from 2 letters on; otherwise from 3.  Errors:
 * KR_ERR_NOMEM only.  Text that is not UTF-8 is not an error: invalid
 * bytes separate words.
 */
int search_query(const struct search_index *ix, const char *query, bool typing,
                 bool (*filter)(uint32_t doc, const void *arg), const void *filter_arg, size_t top,
                 struct arena *a, struct search_hit **hits, size_t *count,
                 struct kr_error *err) KR_MUST_CHECK;

/* One analysed word. */
struct search_word {
    char key[SEARCH_WORD_MAX + 1];  /* folded, umlauts stripped */
    char stem[SEARCH_WORD_MAX + 1]; /* the index term */
};

/*
 * Split text into words and analyse them (see the top of this file);
 * at most max words go to out.  Returns the number of words written.
 * Uses a stemmer of the caller (search_stemmer_new) so that it can be used
 * without an index; NULL stem leaves stem equal to the umlaut form.
 */
struct search_stemmer;
struct search_stemmer *search_stemmer_new(void);
void search_stemmer_free(struct search_stemmer *st);
size_t search_analyze(struct search_stemmer *st, const char *text, size_t len,
                      struct search_word *out, size_t max);

/* True if key is a stop word (query side only). */
bool search_is_stop_word(const char *key);

/* True if a and b (keys) are one insertion, deletion, substitution or
 * transposition of neighbours apart (the optimal string alignment
 * distance is exactly 1). */
bool search_one_edit(const char *a, size_t alen, const char *b, size_t blen);

#endif
