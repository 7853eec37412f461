/*
 * template.c - the template set: adding templates and catalogues, linking,
 * looking up templates and messages.
 *
 * Templates are kept sorted by name (binary search at render time, no hash
 * table to get wrong), catalogues in the order they were added (a handful
 * at most).  Everything compiled lives in the set's arena; the two pointer
 * arrays are malloc'd because they grow.
 */
#include "template/internal.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"

void *tpl_grow(void *items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return items;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            return NULL;
        n *= 2;
    }
    if (kr_fault_hit(KR_FAULT_ALLOC))
        return NULL;
    void *p = realloc(items, n * size);
    if (p)
        *cap = n;
    return p;
}

int tpl_set_new(struct tpl_set **out, struct kr_error *err)
{
    *out = NULL;
    struct tpl_set *set = kr_fault_hit(KR_FAULT_ALLOC) ? NULL : calloc(1, sizeof(*set));
    if (set)
        set->arena = arena_new(0);
    if (!set || !set->arena) {
        free(set);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    *out = set;
    return KR_OK;
}

void tpl_set_free(struct tpl_set *set)
{
    if (!set)
        return;
    free(set->templates);
    free(set->catalogues);
    arena_free(set->arena);
    free(set);
}

/* Index of name in the sorted templates, or where it would go. */
static size_t find_index(const struct tpl_set *set, const char *name, bool *found)
{
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(set->templates[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const struct tpl *tpl_set_find(const struct tpl_set *set, const char *name)
{
    bool found;
    size_t i = find_index(set, name, &found);
    return found ? set->templates[i] : NULL;
}

bool tpl_set_has(const struct tpl_set *set, const char *name)
{
    return tpl_set_find(set, name) != NULL;
}

static int refuse_linked(const struct tpl_set *set, struct kr_error *err)
{
    /* Linked sets are shared by rendering threads and must not change. */
    if (set->linked)
        return kr_error_set(err, KR_ERR_INVALID, "template set is already linked");
    return KR_OK;
}

int tpl_set_add_labeled(struct tpl_set *set, const char *name, const char *label, const char *src,
                        size_t len, bool html, struct kr_error *err)
{
    assert(set && name && label && (src || len == 0));
    int rc = refuse_linked(set, err);
    if (rc)
        return rc;
    if (!tpl_name_valid(name, strlen(name)))
        return kr_error_set(err, KR_ERR_INVALID, "%s: invalid template name '%s'", label, name);
    bool found;
    size_t at = find_index(set, name, &found);
    if (found)
        return kr_error_set(err, KR_ERR_CONFLICT, "%s: template '%s' already exists", label, name);
    void *p = tpl_grow(set->templates, &set->cap, set->count + 1, sizeof(*set->templates));
    struct tpl *t = arena_zalloc(set->arena, sizeof(*t));
    if (p)
        set->templates = p;
    if (!p || !t || !(t->name = arena_strdup(set->arena, name)) ||
        !(t->label = arena_strdup(set->arena, label)))
        return kr_error_set(err, KR_ERR_NOMEM, "%s: out of memory", label);
    t->html = html;
    rc = tpl_compile(set->arena, t, src, len, NULL, err);
    if (rc)
        return rc;
    memmove(&set->templates[at + 1], &set->templates[at],
            (set->count - at) * sizeof(*set->templates));
    set->templates[at] = t;
    set->count++;
    return KR_OK;
}

int tpl_set_add(struct tpl_set *set, const char *name, const char *src, size_t len, bool html,
                struct kr_error *err)
{
    return tpl_set_add_labeled(set, name, name, src, len, html, err);
}

/* ---- catalogues ---- */

static bool lang_valid(const char *lang)
{
    size_t n = 0;
    while (lang[n] >= 'a' && lang[n] <= 'z')
        n++;
    return lang[n] == '\0' && n >= 2 && n <= 3;
}

const struct tpl_catalogue *tpl_set_catalogue(const struct tpl_set *set, const char *lang)
{
    for (size_t i = 0; i < set->catalogue_count; i++)
        if (strcmp(set->catalogues[i]->lang, lang) == 0)
            return set->catalogues[i];
    return NULL;
}

bool tpl_set_has_lang(const struct tpl_set *set, const char *lang)
{
    return lang && tpl_set_catalogue(set, lang) != NULL;
}

const char *tpl_default_lang(const struct tpl_set *set)
{
    if (set->catalogue_count == 0)
        return NULL;
    return set->catalogues[set->default_lang]->lang;
}

static int cmp_messages(const void *a, const void *b)
{
    const struct tpl_message *x = a;
    const struct tpl_message *y = b;
    return strcmp(x->key, y->key);
}

/* jansson's iteration API takes non-const objects; it does not modify them. */
static json_t *json_unconst(const json_t *j)
{
    return (json_t *)(uintptr_t)j;
}

/* Copy the entries of messages into cat, sorted by key. */
static int copy_messages(struct tpl_set *set, struct tpl_catalogue *cat, const json_t *messages,
                         struct kr_error *err)
{
    size_t n = json_object_size(messages);
    cat->messages = arena_calloc(set->arena, n ? n : 1, sizeof(*cat->messages));
    if (!cat->messages)
        return kr_error_set(err, KR_ERR_NOMEM, "%s: out of memory", cat->label);
    const char *key;
    json_t *value;
    json_object_foreach(json_unconst(messages), key, value)
    {
        if (!json_is_string(value))
            return kr_error_set(err, KR_ERR_INVALID, "%s: message '%s' is not a string", cat->label,
                                key);
        struct tpl_message *m = &cat->messages[cat->count++];
        m->key = arena_strdup(set->arena, key);
        m->text = arena_strndup(set->arena, json_string_value(value), json_string_length(value));
        if (!m->key || !m->text)
            return kr_error_set(err, KR_ERR_NOMEM, "%s: out of memory", cat->label);
    }
    qsort(cat->messages, cat->count, sizeof(*cat->messages), cmp_messages);
    /* Keys holding a NUL byte would shorten to equal C strings. */
    for (size_t i = 1; i < cat->count; i++)
        if (strcmp(cat->messages[i - 1].key, cat->messages[i].key) == 0)
            return kr_error_set(err, KR_ERR_INVALID, "%s: duplicate message key '%s'", cat->label,
                                cat->messages[i].key);
    return KR_OK;
}

/* Compile every message in both forms, in key order (stable errors). */
static int compile_messages(struct tpl_set *set, struct tpl_catalogue *cat, const json_t *messages,
                            struct kr_error *err)
{
    for (size_t i = 0; i < cat->count; i++) {
        struct tpl_message *m = &cat->messages[i];
        const json_t *value = json_object_get(messages, m->key);
        const char *s = json_string_value(value);
        size_t len = json_string_length(value);
        m->plain = (struct tpl){.name = m->key, .label = cat->label, .html = false};
        m->html = (struct tpl){.name = m->key, .label = cat->label, .html = true};
        int rc = tpl_compile(set->arena, &m->plain, s, len, m->key, err);
        if (!rc)
            rc = tpl_compile(set->arena, &m->html, s, len, m->key, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}

int tpl_set_add_catalogue(struct tpl_set *set, const char *lang, const char *label,
                          const json_t *messages, struct kr_error *err)
{
    assert(set && lang && label);
    int rc = refuse_linked(set, err);
    if (rc)
        return rc;
    if (!lang_valid(lang))
        return kr_error_set(err, KR_ERR_INVALID, "%s: invalid language '%s'", label, lang);
    if (tpl_set_catalogue(set, lang))
        return kr_error_set(err, KR_ERR_CONFLICT, "%s: language '%s' already exists", label, lang);
    if (!json_is_object(messages))
        return kr_error_set(err, KR_ERR_INVALID, "%s: catalogue is not a JSON object", label);
    void *p = tpl_grow(set->catalogues, &set->catalogue_cap, set->catalogue_count + 1,
                       sizeof(*set->catalogues));
    struct tpl_catalogue *cat = arena_zalloc(set->arena, sizeof(*cat));
    if (p)
        set->catalogues = p;
    if (!p || !cat || !(cat->lang = arena_strdup(set->arena, lang)) ||
        !(cat->label = arena_strdup(set->arena, label)))
        return kr_error_set(err, KR_ERR_NOMEM, "%s: out of memory", label);
    rc = copy_messages(set, cat, messages, err);
    if (!rc)
        rc = compile_messages(set, cat, messages, err);
    if (rc)
        return rc;
    set->catalogues[set->catalogue_count++] = cat;
    if (strcmp(lang, "de") == 0)
        set->default_lang = set->catalogue_count - 1;
    return KR_OK;
}

int tpl_set_add_messages(struct tpl_set *set, const char *lang, const json_t *messages,
                         struct kr_error *err)
{
    return tpl_set_add_catalogue(set, lang, lang, messages, err);
}

static const struct tpl_message *find_message(const struct tpl_catalogue *cat, const char *key)
{
    struct tpl_message probe = {.key = key};
    return bsearch(&probe, cat->messages, cat->count, sizeof(*cat->messages), cmp_messages);
}

const char *tpl_message(const struct tpl_set *set, const char *lang, const char *key)
{
    const struct tpl_catalogue *cat = lang ? tpl_set_catalogue(set, lang) : NULL;
    if (!cat && set->catalogue_count)
        cat = set->catalogues[set->default_lang];
    const struct tpl_message *m = cat ? find_message(cat, key) : NULL;
    return m ? m->text : key;
}

/* ---- linking ---- */

/* The first key of a that b lacks, or NULL (both sorted). */
static const char *first_missing(const struct tpl_catalogue *a, const struct tpl_catalogue *b)
{
    size_t j = 0;
    for (size_t i = 0; i < a->count; i++) {
        while (j < b->count && strcmp(b->messages[j].key, a->messages[i].key) < 0)
            j++;
        if (j == b->count || strcmp(b->messages[j].key, a->messages[i].key) != 0)
            return a->messages[i].key;
    }
    return NULL;
}

/* Every catalogue must have the keys of the default one and no others, so
 * that a message index found at link is valid in every language. */
static int check_catalogues(const struct tpl_set *set, struct kr_error *err)
{
    if (set->catalogue_count == 0)
        return KR_OK;
    const struct tpl_catalogue *def = set->catalogues[set->default_lang];
    for (size_t i = 0; i < set->catalogue_count; i++) {
        const struct tpl_catalogue *cat = set->catalogues[i];
        const char *key = first_missing(def, cat);
        if (key)
            return kr_error_set(err, KR_ERR_INVALID, "%s: language '%s' lacks message '%s'",
                                cat->label, cat->lang, key);
        key = first_missing(cat, def);
        if (key)
            return kr_error_set(err, KR_ERR_INVALID, "%s: language '%s' lacks message '%s'",
                                def->label, def->lang, key);
    }
    return KR_OK;
}

static int link_op(const struct tpl_set *set, const struct tpl *t, struct tpl_op *op,
                   struct kr_error *err)
{
    if (op->kind == TPL_OP_PARTIAL || op->kind == TPL_OP_PARENT) {
        op->u.target = tpl_set_find(set, op->name);
        if (!op->u.target)
            return kr_error_set(err, KR_ERR_INVALID, "%s:%u: unknown %s '%s'", t->label, op->line,
                                op->kind == TPL_OP_PARTIAL ? "partial" : "parent", op->name);
    } else if (op->kind == TPL_OP_MESSAGE) {
        const struct tpl_message *m = NULL;
        if (set->catalogue_count)
            m = find_message(set->catalogues[set->default_lang], op->name);
        if (!m)
            return kr_error_set(err, KR_ERR_INVALID, "%s:%u: unknown message key '%s'", t->label,
                                op->line, op->name);
        op->u.message = (uint32_t)(m - set->catalogues[set->default_lang]->messages);
    }
    return KR_OK;
}

static int cmp_block_names(const void *a, const void *b)
{
    const struct tpl_op *const *x = a;
    const struct tpl_op *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Give blocks of equal name equal ids, so that finding an override at
 * render time compares integers.  Messages have no blocks. */
static int number_blocks(const struct tpl_set *set, struct kr_error *err)
{
    size_t n = 0, cap = 0;
    struct tpl_op **blocks = NULL;
    for (size_t t = 0; t < set->count; t++) {
        struct tpl *tpl = set->templates[t];
        for (uint32_t i = 0; i < tpl->count; i++) {
            if (tpl->ops[i].kind != TPL_OP_BLOCK)
                continue;
            void *p = tpl_grow(blocks, &cap, n + 1, sizeof(*blocks));
            if (!p) {
                free(blocks);
                return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
            }
            blocks = p;
            blocks[n++] = &tpl->ops[i];
        }
    }
    if (n > 1)
        qsort(blocks, n, sizeof(*blocks), cmp_block_names);
    uint32_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(blocks[i - 1]->name, blocks[i]->name) != 0)
            id++;
        blocks[i]->u.block_id = id;
    }
    free(blocks);
    return KR_OK;
}

int tpl_set_link(struct tpl_set *set, struct kr_error *err)
{
    if (set->linked)
        return KR_OK;
    int rc = check_catalogues(set, err);
    for (size_t t = 0; t < set->count && rc == KR_OK; t++) {
        struct tpl *tpl = set->templates[t];
        for (uint32_t i = 0; i < tpl->count && rc == KR_OK; i++)
            rc = link_op(set, tpl, &tpl->ops[i], err);
    }
    if (!rc)
        rc = number_blocks(set, err);
    if (!rc)
        set->linked = true;
    return rc;
}
