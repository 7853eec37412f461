/* Tests of src/catalogue/search.c: analysis (folding, umlauts, stemming),
 * the edit distance, and ranking on a small hand-made index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "catalogue/search.h"
#include "core/util.h"

/* The stem of the only word of text. */
static void stem_of(struct search_stemmer *st, const char *text, char *out)
{
    struct search_word w[4];
    size_t n = search_analyze(st, text, strlen(text), w, 4);
    assert_int_equal(n, 1);
    memcpy(out, w[0].stem, sizeof(w[0].stem));
}

static void test_spellings_meet(void **state)
{
    (void)state;
    static const char *const same[][4] = {
        {"Führerschein", "Fuehrerschein", "fuhrerschein", "FÜHRERSCHEIN"},
        {"Gebühren", "Gebuehren", "gebuhren", "GEBÜHREN"},
        {"Straße", "Strasse", "STRASSE", "straße"},
        {"Ärztin", "Aerztin", "arztin", "ÄRZTIN"},
        {"Zulassung", "zulassungen", "ZULASSUNG", "Zulassung"},
        {"Bescheinigung", "Bescheinigungen", "bescheinigung", "BESCHEINIGUNG"},
    };
    struct search_stemmer *st = search_stemmer_new();
    assert_non_null(st);
    for (size_t i = 0; i < KR_ARRAY_LEN(same); i++) {
        char first[SEARCH_WORD_MAX + 1], other[SEARCH_WORD_MAX + 1];
        stem_of(st, same[i][0], first);
        for (size_t j = 1; j < 4; j++) {
            stem_of(st, same[i][j], other);
            if (strcmp(first, other) != 0)
                fail_msg("%s -> %s but %s -> %s", same[i][0], first, same[i][j], other);
        }
    }
    search_stemmer_free(st);
}

/* "ue" after a vowel or q is not an umlaut: Steuer, neue, Quelle keep it. */
static void test_ue_after_vowel_stays(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"Steuer", "steu"},
        {"neue", "neu"},
        {"Quelle", "quell"},
        {"Bauer", "bau"},
    };
    struct search_stemmer *st = search_stemmer_new();
    for (size_t i = 0; i < KR_ARRAY_LEN(pairs); i++) {
        char stem[SEARCH_WORD_MAX + 1];
        stem_of(st, pairs[i][0], stem);
        assert_string_equal(stem, pairs[i][1]);
    }
    search_stemmer_free(st);
}

static void test_words_split_and_keys(void **state)
{
    (void)state;
    struct search_word w[8];
    const char *text = "Kfz-Zulassung: \"Auto\" *NEAR* OR -x; Größe\xff";
    size_t n = search_analyze(NULL, text, strlen(text), w, 8);
    assert_int_equal(n, 7);
    static const char *const keys[] = {"kfz", "zulassung", "auto", "near", "or", "x", "grosse"};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(w[i].key, keys[i]);
    /* at most max words, never more */
    assert_int_equal(search_analyze(NULL, text, strlen(text), w, 2), 2);
    /* overlong words are cut, not overflowed */
    char long_word[300];
    memset(long_word, 'a', sizeof(long_word) - 1);
    long_word[sizeof(long_word) - 1] = '\0';
    assert_int_equal(search_analyze(NULL, long_word, strlen(long_word), w, 8), 1);
    assert_int_equal(strlen(w[0].key), SEARCH_WORD_MAX);
}

static void test_one_edit(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        bool one;
    } cases[] = {
        {"wohngeld", "wohngled", true},         /* transposition */
        {"fuhrerschein", "furerschein", true},  /* deletion */
        {"fuhrerschein", "fuhrerschien", true}, /* transposition */
        {"zulassung", "zulasung", true},
        {"zulassung", "zulassunk", true}, /* substitution */
        {"zulassung", "zulassungen", false},
        {"zulassung", "zulassung", false},
        {"abc", "cba", false},
        {"", "a", true},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        bool got = search_one_edit(cases[i].a, strlen(cases[i].a), cases[i].b, strlen(cases[i].b));
        if (got != cases[i].one)
            fail_msg("%s / %s: %d", cases[i].a, cases[i].b, got);
        assert_int_equal(
            search_one_edit(cases[i].b, strlen(cases[i].b), cases[i].a, strlen(cases[i].a)),
            cases[i].one);
    }
}

static void test_stop_words(void **state)
{
    (void)state;
    assert_true(search_is_stop_word("der"));
    assert_true(search_is_stop_word("ich"));
    assert_true(search_is_stop_word("fur")); /* "für" as a key */
    assert_false(search_is_stop_word("auto"));
    assert_false(search_is_stop_word("steuer"));
}

/* A tiny catalogue: a title hit must beat a body hit. */
static const struct search_doc docs[] = {
    {{"Hundesteuer", "", "Steuer für Hunde", "Wer einen Hund hält, zahlt Steuer."}},
    {{"Fahrzeug zulassen", "Auto anmelden", "Neues Auto anmelden", "Kennzeichen und Papiere."}},
    {{"Wohngeld", "Mietzuschuss", "Zuschuss zur Miete", "Für Menschen mit wenig Geld."}},
    {{"Führerschein umtauschen", "", "Alten Lappen tauschen", "Der Führerschein wird neu."}},
    {{"Parkausweis", "", "Parken für Anwohner", "Kein Auto ohne Parkplatz; Führerschein egal."}},
};

static const char *const syn_words[] = {"auto", "kfz", "fahrzeug", "lappen", "führerschein"};
static const size_t syn_groups[] = {0, 0, 0, 1, 1};

static struct search_index *tiny(void)
{
    struct search_index *ix;
    struct kr_error err;
    struct search_synonyms syn = {syn_words, syn_groups, 5};
    assert_int_equal(search_index_build(&ix, docs, KR_ARRAY_LEN(docs), &syn, &err), KR_OK);
    return ix;
}

static uint32_t top(struct search_index *ix, struct arena *a, const char *q, size_t *count)
{
    struct search_hit *hits;
    struct kr_error err;
    assert_int_equal(search_query(ix, q, false, NULL, NULL, 0, a, &hits, count, &err), KR_OK);
    return *count ? hits[0].doc : UINT32_MAX;
}

static void test_ranking(void **state)
{
    (void)state;
    struct search_index *ix = tiny();
    struct arena *a = arena_new(0);
    static const struct {
        const char *q;
        uint32_t doc;
    } cases[] = {
        {"Führerschein", 3}, /* title (3) above body (4) */
        {"fuehrerschein", 3},
        {"FUHRERSCHEIN", 3},
        {"Fuhrerschien", 3}, /* typo */
        {"kfz", 1},          /* synonym of auto */
        {"Auto", 1},         /* synonyms field above body of 4 */
        {"wohngled", 2},     /* typo */
        {"Hund", 0},         /* prefix of Hundesteuer */
        {"ich möchte Wohngeld beantragen", 2},
        {"Fahrz", 1}, /* prefix */
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        size_t n;
        uint32_t got = top(ix, a, cases[i].q, &n);
        if (got != cases[i].doc)
            fail_msg("'%s': top %u, want %u", cases[i].q, got, cases[i].doc);
    }
    arena_free(a);
    search_index_free(ix);
}

/* Query syntax of search engines is just text here: never an error. */
static void test_hostile_queries(void **state)
{
    (void)state;
    struct search_index *ix = tiny();
    struct arena *a = arena_new(0);
    char longq[1000];
    memset(longq, 'x', sizeof(longq) - 1);
    longq[sizeof(longq) - 1] = '\0';
    static const char *const nasty[] = {
        "",
        " ",
        "\"",
        "*",
        "\"Auto\" NEAR Kfz",
        "-auto",
        "auto OR kfz",
        "a*b*c*d*e*",
        "'; DROP TABLE catalogue_service; --",
        "\xff\xfe",
        "%%%%",
        "auto*",
        "NEAR(auto, 3)",
        "\xc3",
        "ä",
        "ß",
        "0",
        "12345678901234",
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(nasty); i++) {
        size_t n;
        (void)top(ix, a, nasty[i], &n);
    }
    size_t n;
    (void)top(ix, a, longq, &n);
    assert_int_equal(n, 0);
    assert_int_equal(top(ix, a, "-auto", &n), 1); /* '-' is a separator, not "not" */
    arena_free(a);
    search_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spellings_meet),       cmocka_unit_test(test_ue_after_vowel_stays),
        cmocka_unit_test(test_words_split_and_keys), cmocka_unit_test(test_one_edit),
        cmocka_unit_test(test_stop_words),           cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_hostile_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
