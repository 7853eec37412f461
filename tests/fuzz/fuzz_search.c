/* fuzz_search.c - arbitrary bytes as a search query against a small
 * index (analysis, prefixes, typos, synonyms, ranking), and as a service
 * record for the schema check.  The first byte picks which. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/catalogue.h"
#include "catalogue/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct search_doc docs[] = {
    {{"Fahrzeug zulassen", "Auto anmelden Kfz-Zulassung", "Neues Auto anmelden", "Kennzeichen"}},
    {{"Führerschein umtauschen", "", "Alten Lappen tauschen", "Der Führerschein wird neu."}},
    {{"Wohngeld", "Mietzuschuss", "Zuschuss zur Miete", "Für Menschen mit wenig Geld."}},
    {{"Straßenverkehrsamt Öffnungszeiten", "", "Ärger? Übermäßig!", "Quelle Steuer neue"}},
};
static const char *const syn_words[] = {"auto", "kfz", "fahrzeug", "lappen", "führer schein"};
static const size_t syn_groups[] = {0, 0, 0, 1, 1};

static struct search_index *ix;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct kr_error err;
    if (!ix) {
        struct search_synonyms syn = {syn_words, syn_groups, 5};
        if (search_index_build(&ix, docs, sizeof(docs) / sizeof(docs[0]), &syn, &err))
            abort();
    }
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1) {
        struct arena *a = arena_new(0);
        struct search_hit *hits;
        size_t n;
        if (search_query(ix, text, data[0] & 2, NULL, NULL, data[0] >> 4, a, &hits, &n, &err))
            abort();
        for (size_t i = 1; i < n && i < (size_t)(data[0] >> 4); i++)
            if (hits[i].score > hits[i - 1].score)
                abort(); /* the top must be in order */
        arena_free(a);
    } else {
        json_t *r = json_loadb(text, size - 1, 0, NULL);
        if (r)
            (void)catalogue_record_check(r, &err);
        json_decref(r);
    }
    free(text);
    return 0;
}
