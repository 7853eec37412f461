/*
 * snapshot.c - the in-memory catalogue: summaries of every service and
 * the search index, built from the database, shared by reference between
 * request threads and replaced when an import changes the generation.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/catalogue.h"
#include "core/log.h"
#include "core/util.h"

#define SYNONYMS_MAX 20000

static struct catalogue_cache *cache_new(void);
static void cache_free(struct catalogue_cache *c);

struct load_state {
    struct catalogue_snapshot *snap;
    struct arena *tmp; /* texts for the index, freed after the build */
    struct search_doc *docs;
    char **title_keys;
    size_t cap;
};

static const char *text_of(const json_t *v)
{
    const char *s = json_string_value(v);
    return s ? s : "";
}

/* Join the strings of a list (or of the "label" of objects) with blanks. */
static void put_list(struct buf *b, const json_t *list, const char *member)
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        buf_putc(b, ' ');
        buf_puts(b, text_of(member ? json_object_get(v, member) : v));
    }
}

/* The search document of a record: title (both languages), synonyms and
 * LeiKa key, summaries, and the rest as body. */
static int make_doc(struct arena *tmp, const json_t *r, struct search_doc *d)
{
    struct buf b;
    buf_init(&b, 1024 * 1024);
    buf_printf(&b, "%s %s", text_of(json_object_get(r, "title")),
               text_of(json_object_get(r, "title_en")));
    d->field[SEARCH_FIELD_TITLE] = arena_strdup(tmp, buf_cstr(&b));
    buf_reset(&b);
    buf_puts(&b, text_of(json_object_get(r, "leika")));
    put_list(&b, json_object_get(r, "synonyms"), NULL);
    d->field[SEARCH_FIELD_SYNONYMS] = arena_strdup(tmp, buf_cstr(&b));
    buf_reset(&b);
    buf_printf(&b, "%s %s", text_of(json_object_get(r, "summary")),
               text_of(json_object_get(r, "summary_en")));
    d->field[SEARCH_FIELD_SUMMARY] = arena_strdup(tmp, buf_cstr(&b));
    buf_reset(&b);
    static const char *const body[] = {"description", "who_may_apply", "processing_time",
                                       "deadlines"};
    for (size_t i = 0; i < KR_ARRAY_LEN(body); i++)
        buf_printf(&b, "%s ", text_of(json_object_get(r, body[i])));
    put_list(&b, json_object_get(r, "documents"), NULL);
    put_list(&b, json_object_get(r, "fees"), "label");
    d->field[SEARCH_FIELD_BODY] = arena_strdup(tmp, buf_cstr(&b));
    int rc = buf_status(&b);
    buf_release(&b);
    for (int f = 0; f < SEARCH_FIELD_COUNT; f++)
        if (!d->field[f])
            return KR_ERR_NOMEM;
    return rc;
}

/* A sort key for titles: the analysed words' keys (umlauts without dots,
 * case folded), so that "Änderung" sorts with "Anmeldung". */
static char *title_key(struct arena *a, const char *title)
{
    struct search_word w[24];
    size_t n = search_analyze(NULL, title, strlen(title), w, KR_ARRAY_LEN(w));
    struct buf b;
    buf_init(&b, 4096);
    for (size_t i = 0; i < n; i++) {
        buf_puts(&b, w[i].key);
        buf_putc(&b, ' ');
    }
    char *s = arena_strdup(a, buf_cstr(&b));
    buf_release(&b);
    return s;
}

static unsigned situations_of(const char *text)
{
    unsigned bits = 0;
    char word[32];
    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, " ");
        if (n > 0 && n < sizeof(word)) {
            memcpy(word, p, n);
            word[n] = '\0';
            int s = catalogue_situation_parse(word);
            if (s >= 0)
                bits |= 1u << s;
        }
        p += n;
        p += *p == ' ';
    }
    return bits;
}

static int add_row(struct load_state *ls, struct db_stmt *st)
{
    struct catalogue_snapshot *snap = ls->snap;
    if (snap->count == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 256;
        struct catalogue_summary *s = realloc(snap->services, cap * sizeof(*s));
        if (s)
            snap->services = s;
        struct search_doc *d = s ? realloc(ls->docs, cap * sizeof(*d)) : NULL;
        if (d)
            ls->docs = d;
        if (!s || !d)
            return KR_ERR_NOMEM;
        ls->cap = cap;
    }
    struct arena *m = snap->mem;
    struct catalogue_summary *c = &snap->services[snap->count];
    memset(c, 0, sizeof(*c));
    const char **fields[] = {&c->id,         &c->title,    &c->title_en,    &c->summary,
                             &c->summary_en, &c->org_unit, &c->online_form, &c->last_reviewed};
    for (int i = 0; i < 8; i++)
        if (!db_column_is_null(st, i) && !(*fields[i] = db_column_strdup(st, i, m)))
            return KR_ERR_NOMEM;
    c->appointment = db_column_int64(st, 8) != 0;
    c->situations = situations_of(db_column_text(st, 9));
    json_t *r = json_loads(db_column_text(st, 10), 0, NULL);
    int rc = r ? make_doc(ls->tmp, r, &ls->docs[snap->count]) : KR_ERR_INTEGRITY;
    json_decref(r);
    if (rc == KR_OK)
        snap->count++;
    return rc;
}

static int load_services(struct db_conn *conn, struct load_state *ls, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT id, title, title_en, summary, summary_en, org_unit, online_form, "
                      "last_reviewed, appointment, life_situations, record "
                      "FROM catalogue_service",
                      NULL, 0, &st, err);
    while (rc == KR_OK && (rc = db_step(st, err)) == DB_ROW) {
        rc = add_row(ls, st);
        if (rc)
            kr_error_set(err, rc, "cannot load the catalogue (%s)", kr_status_name(rc));
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

static int load_synonyms(struct db_conn *conn, struct arena *a, const char ***words,
                         size_t **groups, size_t *count, struct kr_error *err)
{
    *words = arena_calloc(a, SYNONYMS_MAX, sizeof(**words));
    *groups = arena_calloc(a, SYNONYMS_MAX, sizeof(**groups));
    *count = 0;
    if (!*words || !*groups)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn, "SELECT group_no, word FROM catalogue_synonym", NULL, 0, &st, err);
    while (rc == KR_OK && (rc = db_step(st, err)) == DB_ROW && *count < SYNONYMS_MAX) {
        (*groups)[*count] = (size_t)db_column_int64(st, 0);
        (*words)[*count] = db_column_strdup(st, 1, a);
        rc = (*words)[(*count)++] ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

/* Order services by id (the document numbers), the same on both backends. */
static int cmp_by_id(const void *a, const void *b, void *arg)
{
    const struct catalogue_summary *s = arg;
    return strcmp(s[*(const uint32_t *)a].id, s[*(const uint32_t *)b].id);
}

static int order_by_id(struct load_state *ls)
{
    struct catalogue_snapshot *snap = ls->snap;
    size_t n = snap->count;
    uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    struct catalogue_summary *s = malloc((n ? n : 1) * sizeof(*s));
    struct search_doc *d = malloc((n ? n : 1) * sizeof(*d));
    if (!idx || !s || !d) {
        free(idx);
        free(s);
        free(d);
        return KR_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    qsort_r(idx, n, sizeof(*idx), cmp_by_id, snap->services);
    for (size_t i = 0; i < n; i++) {
        s[i] = snap->services[idx[i]];
        d[i] = ls->docs[idx[i]];
    }
    free(idx);
    free(snap->services);
    free(ls->docs);
    snap->services = s;
    ls->docs = d;
    return KR_OK;
}

static int cmp_by_title(const void *a, const void *b, void *arg)
{
    char **keys = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = strcmp(keys[x], keys[y]);
    return c ? c : (x > y) - (x < y);
}

static int order_by_title(struct catalogue_snapshot *snap, struct arena *tmp)
{
    size_t n = snap->count;
    char **keys = arena_calloc(tmp, n ? n : 1, sizeof(*keys));
    snap->by_title = arena_calloc(snap->mem, n ? n : 1, sizeof(*snap->by_title));
    if (!keys || !snap->by_title)
        return KR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        snap->by_title[i] = (uint32_t)i;
        if (!(keys[i] = title_key(tmp, snap->services[i].title)))
            return KR_ERR_NOMEM;
    }
    qsort_r(snap->by_title, n, sizeof(*snap->by_title), cmp_by_title, keys);
    return KR_OK;
}

static int build(struct db_conn *conn, struct load_state *ls, struct kr_error *err)
{
    int rc = db_query_int64(conn, "SELECT generation FROM catalogue_state WHERE id = 1", NULL, 0,
                            &ls->snap->generation, err);
    if (rc == KR_OK)
        rc = load_services(conn, ls, err);
    if (rc == KR_OK && (order_by_id(ls) || order_by_title(ls->snap, ls->tmp)))
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    const char **words;
    size_t *groups, nsyn;
    if (rc == KR_OK)
        rc = load_synonyms(conn, ls->tmp, &words, &groups, &nsyn, err);
    if (rc == KR_OK) {
        struct search_synonyms syn = {words, groups, nsyn};
        rc = search_index_build(&ls->snap->index, ls->docs, ls->snap->count, &syn, err);
    }
    return rc;
}

int catalogue_snapshot_load(struct db_conn *conn, struct catalogue_snapshot **out,
                            struct kr_error *err)
{
    struct catalogue_snapshot *snap = calloc(1, sizeof(*snap));
    struct load_state ls = {.snap = snap, .tmp = arena_new(0)};
    if (snap)
        snap->mem = arena_new(0);
    int rc = snap && snap->mem && ls.tmp ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int64_t started = kr_monotonic_ns();
    if (rc == KR_OK)
        rc = build(conn, &ls, err);
    free(ls.docs);
    arena_free(ls.tmp);
    if (rc) {
        if (snap)
            snap->refs = 1;
        catalogue_snapshot_release(snap);
        return rc;
    }
    snap->refs = 1;
    snap->cache = cache_new(); /* without it, searches are just not cached */
    kr_log_json(KR_LOG_INFO, "catalogue_loaded",
                json_pack("{s:I, s:I, s:I, s:I, s:I}", "services", (json_int_t)snap->count,
                          "generation", (json_int_t)snap->generation, "terms",
                          (json_int_t)search_index_terms(snap->index), "postings",
                          (json_int_t)search_index_postings(snap->index), "ms",
                          (json_int_t)((kr_monotonic_ns() - started) / 1000000)));
    *out = snap;
    return KR_OK;
}

void catalogue_snapshot_release(struct catalogue_snapshot *snap)
{
    if (!snap || __atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    search_index_free(snap->index);
    cache_free(snap->cache);
    free(snap->services);
    arena_free(snap->mem);
    free(snap);
}

static int cmp_id_key(const void *key, const void *elem)
{
    return strcmp(key, ((const struct catalogue_summary *)elem)->id);
}

const struct catalogue_summary *catalogue_snapshot_find(const struct catalogue_snapshot *snap,
                                                        const char *id)
{
    if (!id || snap->count == 0)
        return NULL;
    return bsearch(id, snap->services, snap->count, sizeof(*snap->services), cmp_id_key);
}

/* ---- Result cache ------------------------------------------------------------------ */

struct cache_slot {
    char *key; /* "situation|typing|text" */
    uint32_t *results;
    size_t count;
};

struct catalogue_cache {
    pthread_mutex_t lock;
    struct cache_slot slots[CATALOGUE_CACHE_SLOTS];
};

static struct catalogue_cache *cache_new(void)
{
    struct catalogue_cache *c = calloc(1, sizeof(*c));
    if (c)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void cache_free(struct catalogue_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CATALOGUE_CACHE_SLOTS; i++) {
        free(c->slots[i].key);
        free(c->slots[i].results);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static size_t cache_index(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return (size_t)(h % CATALOGUE_CACHE_SLOTS);
}

/* Copy the cached results of key into the arena; false when not cached. */
static bool cache_get(struct catalogue_cache *c, const char *key, struct arena *a,
                      uint32_t **results, size_t *count)
{
    struct cache_slot *s = &c->slots[cache_index(key)];
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    if (s->key && strcmp(s->key, key) == 0) {
        *results = arena_alloc(a, (s->count ? s->count : 1) * sizeof(**results));
        if (*results) {
            memcpy(*results, s->results, s->count * sizeof(**results));
            *count = s->count;
            hit = true;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* Remember results (fully ordered) under key; failures only skip it. */
static void cache_put(struct catalogue_cache *c, const char *key, const uint32_t *results,
                      size_t count)
{
    char *k = strdup(key);
    uint32_t *r = malloc((count ? count : 1) * sizeof(*r));
    if (!k || !r) {
        free(k);
        free(r);
        return;
    }
    memcpy(r, results, count * sizeof(*r));
    struct cache_slot *s = &c->slots[cache_index(key)];
    pthread_mutex_lock(&c->lock);
    char *old_key = s->key;
    uint32_t *old_results = s->results;
    s->key = k;
    s->results = r;
    s->count = count;
    pthread_mutex_unlock(&c->lock);
    free(old_key);
    free(old_results);
}

/* ---- Search ------------------------------------------------------------------------ */

struct filter_arg {
    const struct catalogue_snapshot *snap;
    unsigned mask;
};

static bool situation_filter(uint32_t doc, const void *arg)
{
    const struct filter_arg *f = arg;
    return (f->snap->services[doc].situations & f->mask) != 0;
}

static bool blank(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

int catalogue_search(const struct catalogue_snapshot *snap, const struct catalogue_query *q,
                     struct arena *a, uint32_t **results, size_t *count, struct kr_error *err)
{
    struct filter_arg f = {snap, q->situation >= 0 ? 1u << q->situation : ~0u};
    *count = 0;
    if (blank(q->text)) {
        *results = arena_calloc(a, snap->count ? snap->count : 1, sizeof(**results));
        if (!*results)
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < snap->count; i++)
            if (situation_filter(snap->by_title[i], &f))
                (*results)[(*count)++] = snap->by_title[i];
        return KR_OK;
    }
    char *key =
        arena_printf(a, "%d|%d|%.*s", q->situation, q->typing, SEARCH_QUERY_MAX + 1, q->text);
    if (!key)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (snap->cache && cache_get(snap->cache, key, a, results, count))
        return KR_OK;
    struct search_hit *hits;
    size_t n;
    /* A cached list must be fully ordered: only uncached searches may
     * order just the top. */
    int rc =
        search_query(snap->index, q->text, q->typing, q->situation >= 0 ? situation_filter : NULL,
                     &f, snap->cache ? 0 : q->top, a, &hits, &n, err);
    if (rc)
        return rc;
    *results = arena_calloc(a, n ? n : 1, sizeof(**results));
    if (!*results)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        (*results)[i] = hits[i].doc;
    *count = n;
    if (snap->cache)
        cache_put(snap->cache, key, *results, n);
    return KR_OK;
}

/* ---- The live snapshot ----------------------------------------------------------- */

struct catalogue_live {
    pthread_mutex_t lock;
    struct catalogue_snapshot *current;
    bool building;
};

int catalogue_live_new(struct catalogue_live **out, struct kr_error *err)
{
    struct catalogue_live *live = calloc(1, sizeof(*live));
    if (!live)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&live->lock, NULL);
    *out = live;
    return KR_OK;
}

void catalogue_live_free(struct catalogue_live *live)
{
    if (!live)
        return;
    catalogue_snapshot_release(live->current);
    pthread_mutex_destroy(&live->lock);
    free(live);
}

static struct catalogue_snapshot *take(struct catalogue_snapshot *s)
{
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
    return s;
}

int catalogue_live_get(struct catalogue_live *live, struct db_conn *conn,
                       struct catalogue_snapshot **out, struct kr_error *err)
{
    int64_t gen;
    int rc = db_query_int64(conn, "SELECT generation FROM catalogue_state WHERE id = 1", NULL, 0,
                            &gen, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&live->lock);
    struct catalogue_snapshot *cur = live->current;
    if ((cur && cur->generation == gen) || (cur && live->building)) {
        *out = take(cur);
        pthread_mutex_unlock(&live->lock);
        return KR_OK;
    }
    live->building = true;
    pthread_mutex_unlock(&live->lock);
    struct catalogue_snapshot *fresh = NULL;
    rc = catalogue_snapshot_load(conn, &fresh, err);
    pthread_mutex_lock(&live->lock);
    live->building = false;
    if (rc == KR_OK) {
        struct catalogue_snapshot *old = live->current;
        live->current = fresh;
        catalogue_snapshot_release(old);
    } else if (live->current) {
        kr_log_error("catalogue_reload_failed", err);
        rc = KR_OK; /* keep serving the previous catalogue */
    }
    *out = rc == KR_OK ? take(live->current) : NULL;
    pthread_mutex_unlock(&live->lock);
    return rc;
}
