/*
 * catalogue_http.c - search, service and unit pages, sitemap, robots.txt
 * and the JSON API of the service catalogue.  Handlers parse and check the
 * query, ask the catalogue (snapshot or record) and render.
 */
#include "catalogue/catalogue_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "catalogue/catalogue.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"

#define PAGE_SIZE 10     /* results per HTML page */
#define API_PAGE_SIZE 20 /* default items per API page */
#define API_PAGE_SIZE_MAX 100
#define PAGE_MAX 100000
#define OPENAPI_MAX (1024 * 1024)

/* Long-lived state of the module (see catalogue_http.h). */
static struct {
    struct catalogue_live *live;
    const struct kr_config *cfg;
    char *openapi;
    size_t openapi_len;
} mod;

static void release_snapshot(void *p)
{
    catalogue_snapshot_release(p);
}

/* The current catalogue for this request (released with the arena). */
static int snapshot(struct http_request *req, struct catalogue_snapshot **out, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = catalogue_live_get(mod.live, conn, out, err);
    if (rc == KR_OK && arena_defer(http_arena(req), release_snapshot, *out))
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return rc;
}

static bool lang_en(struct http_request *req)
{
    return strcmp(http_lang(req), "en") == 0;
}

/* Append s percent-encoded for a query string value. */
static void url_encode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            buf_putc(b, (char)*p);
        else if (*p == ' ')
            buf_putc(b, '+');
        else {
            buf_putc(b, '%');
            buf_putc(b, hex[*p >> 4]);
            buf_putc(b, hex[*p & 15]);
        }
    }
}

/* The query text as used: at most SEARCH_QUERY_MAX bytes, cut at a
 * character boundary (longer queries are not an error). */
static const char *query_text(struct http_request *req)
{
    const char *q = http_query(req, "q");
    if (!q)
        return "";
    size_t n = strlen(q);
    if (n <= SEARCH_QUERY_MAX)
        return q;
    n = SEARCH_QUERY_MAX;
    while (n > 0 && ((unsigned char)q[n] & 0xC0) == 0x80)
        n--;
    char *cut = arena_strndup(http_arena(req), q, n);
    return cut ? cut : "";
}

/* page: absent means 1; else a number 1..PAGE_MAX. */
static int parse_page(struct http_request *req, const char *name, int64_t max, int64_t dflt,
                      int64_t *out, struct kr_error *err)
{
    const char *v = http_query(req, name);
    if (!v || !*v) {
        *out = dflt;
        return KR_OK;
    }
    if (kr_parse_int64(v, 1, max, out))
        return kr_error_set(err, KR_ERR_INVALID, "%s: %s", name,
                            http_message(req, "catalogue.error.page"));
    return KR_OK;
}

static int parse_situation(struct http_request *req, int *out, struct kr_error *err)
{
    const char *v = http_query(req, "lebenslage");
    *out = -1;
    if (!v || !*v)
        return KR_OK;
    *out = catalogue_situation_parse(v);
    if (*out < 0)
        return kr_error_set(err, KR_ERR_INVALID, "lebenslage: %s",
                            http_message(req, "catalogue.error.situation"));
    return KR_OK;
}

static const char *situation_label(struct http_request *req, unsigned i)
{
    char key[64];
    (void)snprintf(key, sizeof(key), "catalogue.situation.%s", catalogue_situation_name(i));
    return http_message(req, key);
}

/* {"car": true} for the selected life situation (the options themselves
 * are in the template: no objects to build per request). */
static json_t *selected_json(int selected)
{
    json_t *sel = json_object();
    if (selected >= 0)
        json_object_set_new(sel, catalogue_situation_name((unsigned)selected), json_true());
    return sel;
}

static json_t *summary_json(const struct catalogue_summary *s, bool en)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b}", "id", s->id, "title",
                          en ? s->title_en : s->title, "summary", en ? s->summary_en : s->summary,
                          "online", s->online_form != NULL, "appointment", s->appointment);
    return o ? o : json_object();
}

/* "/suche?q=...&lebenslage=...&seite=N" */
static const char *results_url(struct http_request *req, const char *q, int situation, int64_t page)
{
    struct buf b;
    buf_init(&b, 2048);
    buf_puts(&b, "/suche?q=");
    url_encode(&b, q);
    if (situation >= 0)
        buf_printf(&b, "&lebenslage=%s", catalogue_situation_name((unsigned)situation));
    if (page > 1)
        buf_printf(&b, "&seite=%lld", (long long)page);
    char *s = arena_strdup(http_arena(req), buf_cstr(&b));
    buf_release(&b);
    return s ? s : "/suche";
}

static void add_paging(struct http_request *req, json_t *ctx, const char *q, int situation,
                       int64_t page, size_t total)
{
    int64_t pages = (int64_t)((total + PAGE_SIZE - 1) / PAGE_SIZE);
    json_object_set_new(ctx, "page", json_integer(page));
    json_object_set_new(ctx, "pages", json_integer(pages));
    json_object_set_new(ctx, "paged", json_boolean(pages > 1));
    if (page > 1)
        json_object_set_new(ctx, "prev_url", json_string(results_url(req, q, situation, page - 1)));
    if (page < pages)
        json_object_set_new(ctx, "next_url", json_string(results_url(req, q, situation, page + 1)));
}

static int results_page(struct http_request *req, struct kr_error *err)
{
    const char *q = query_text(req);
    int situation = -1;
    int64_t page = 1;
    int rc = parse_situation(req, &situation, err);
    if (rc == KR_OK)
        rc = parse_page(req, "seite", PAGE_MAX, 1, &page, err);
    struct catalogue_snapshot *snap;
    if (rc == KR_OK)
        rc = snapshot(req, &snap, err);
    uint32_t *found;
    size_t n;
    struct catalogue_query cq = {q, situation, false, (size_t)page * PAGE_SIZE};
    if (rc == KR_OK)
        rc = catalogue_search(snap, &cq, http_arena(req), &found, &n, err);
    if (rc)
        return rc;
    bool en = lang_en(req);
    json_t *ctx = json_object();
    json_t *items = json_array();
    for (size_t i = (size_t)(page - 1) * PAGE_SIZE; i < n && i < (size_t)page * PAGE_SIZE; i++)
        json_array_append_new(items, summary_json(&snap->services[found[i]], en));
    json_object_set_new(ctx, "results", items);
    json_object_set_new(ctx, "q", json_string(q));
    json_object_set_new(ctx, "count", json_integer((json_int_t)n));
    json_object_set_new(ctx, "one", json_boolean(n == 1));
    json_object_set_new(ctx, "none", json_boolean(n == 0));
    json_object_set_new(ctx, "has_query", json_boolean(*q != '\0'));
    if (situation >= 0)
        json_object_set_new(ctx, "situation",
                            json_string(situation_label(req, (unsigned)situation)));
    json_object_set_new(ctx, "sel", selected_json(situation));
    json_object_set_new(ctx, "show_situations", json_true());
    add_paging(req, ctx, q, situation, page, n);
    return http_render(req, 200, "catalogue/results", ctx);
}

static bool (*form_check)(const char *url);

void catalogue_http_set_form_check(bool (*fn)(const char *url))
{
    form_check = fn;
}

/* The service's online form link, or NULL when it has none or it leads
 * nowhere (form_check). */
static const char *online_form(const json_t *service)
{
    const char *form =
        json_string_value(json_object_get(json_object_get(service, "online"), "form"));
    return form && (!form_check || form_check(form)) ? form : NULL;
}

/* ---- Service page --------------------------------------------------------------- */

/* 2770 -> "27,70 €" (de) or "€27.70" (en), with thousands separators. */
static void money(char *out, size_t size, json_int_t cents, bool en)
{
    char euros[32], grouped[48];
    (void)snprintf(euros, sizeof(euros), "%lld", (long long)(cents / 100));
    size_t len = strlen(euros), k = 0;
    for (size_t i = 0; i < len && k + 2 < sizeof(grouped); i++) {
        if (i > 0 && (len - i) % 3 == 0)
            grouped[k++] = en ? ',' : '.';
        grouped[k++] = euros[i];
    }
    grouped[k] = '\0';
    if (en)
        (void)snprintf(out, size, "€%s.%02lld", grouped, (long long)(cents % 100));
    else
        (void)snprintf(out, size, "%s,%02lld €", grouped, (long long)(cents % 100));
}

static json_t *fees_json(struct http_request *req, const json_t *fees, bool en)
{
    json_t *list = json_array();
    size_t i;
    const json_t *f;
    json_array_foreach(fees, i, f)
    {
        char a[64], b[64], text[160];
        const json_t *amount = json_object_get(f, "amount_cents");
        if (amount) {
            money(text, sizeof(text), json_integer_value(amount), en);
        } else {
            money(a, sizeof(a), json_integer_value(json_object_get(f, "min_cents")), en);
            money(b, sizeof(b), json_integer_value(json_object_get(f, "max_cents")), en);
            (void)snprintf(text, sizeof(text), "%s %s %s", a,
                           http_message(req, "catalogue.service.fee_to"), b);
        }
        json_array_append_new(
            list, json_pack("{s:O, s:s}", "label", json_object_get(f, "label"), "amount", text));
    }
    return list;
}

/* "a\n\nb" -> ["a", "b"] */
static json_t *paragraphs(const char *text)
{
    json_t *list = json_array();
    for (const char *p = text; p && *p;) {
        const char *end = strstr(p, "\n\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' '))
            n--;
        if (n > 0)
            json_array_append_new(list, json_stringn(p, n));
        p = end ? end + 2 : p + strlen(p);
        while (*p == '\n')
            p++;
    }
    return list;
}

/* "2026-09-15" -> "15.09.2026" for German. */
static json_t *date_text(const char *iso, bool en)
{
    if (en || !iso || strlen(iso) != 10)
        return json_string(iso ? iso : "");
    char d[11];
    (void)snprintf(d, sizeof(d), "%.2s.%.2s.%.4s", iso + 8, iso + 5, iso);
    return json_string(d);
}

/* Text for a <script type="application/ld+json"> element: "<", ">" and
 * "&" as \u escapes, so that nothing in the data can end the element. */
static char *script_safe_json(struct arena *a, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return NULL;
    struct buf b;
    buf_init(&b, 4 * strlen(text) + 16);
    for (const char *p = text; *p; p++) {
        if (*p == '<' || *p == '>' || *p == '&')
            buf_printf(&b, "\\u%04x", (unsigned)*p);
        else
            buf_putc(&b, *p);
    }
    free(text);
    char *s = arena_strdup(a, buf_cstr(&b));
    buf_release(&b);
    return s;
}

static void set_if(json_t *ctx, const char *key, const json_t *v)
{
    if (v)
        json_object_set(ctx, key, (json_t *)(uintptr_t)v);
}

/* schema.org GovernmentService for search engines. */
static char *jsonld(struct http_request *req, const json_t *r, const char *unit_name, bool en)
{
    const char *base = http_config(req)->public_url;
    const char *id = json_string_value(json_object_get(r, "id"));
    char url[512];
    (void)snprintf(url, sizeof(url), "%s/leistungen/%s", base, id);
    json_t *ld = json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "@context",
                           "https://schema.org", "@type", "GovernmentService", "url", url, "name",
                           json_object_get(r, en ? "title_en" : "title"), "description",
                           json_object_get(r, en ? "summary_en" : "summary"), "serviceType",
                           json_string_value(json_object_get(r, "title")), "provider", "@type",
                           "GovernmentOrganization", "name", unit_name, "areaServed", "@type",
                           "AdministrativeArea", "name", http_message(req, "catalogue.county"));
    if (!ld)
        return NULL;
    const json_t *leika = json_object_get(r, "leika");
    if (leika)
        set_if(ld, "identifier", leika);
    const char *form = online_form(r);
    if (form) {
        char furl[1024];
        (void)snprintf(furl, sizeof(furl), "%s%s", form[0] == '/' ? base : "", form);
        json_object_set_new(ld, "availableChannel",
                            json_pack("{s:s, s:s}", "@type", "ServiceChannel", "serviceUrl", furl));
    }
    char *s = script_safe_json(http_arena(req), ld);
    json_decref(ld);
    return s;
}

static int unit_of(struct http_request *req, const char *code, struct account_org_unit *unit,
                   struct kr_error *err)
{
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = accounts_org_unit_find(conn, http_arena(req), code, unit, err);
    if (rc == KR_ERR_NOT_FOUND) {
        unit->code = code;
        unit->name = unit->name_en = code;
        return KR_OK;
    }
    return rc;
}

static json_t *service_context(struct http_request *req, const json_t *r,
                               const struct account_org_unit *unit, bool en)
{
    json_t *ctx = json_object();
    json_object_set(ctx, "id", json_object_get(r, "id"));
    json_object_set(ctx, "title", json_object_get(r, en ? "title_en" : "title"));
    json_object_set(ctx, "summary", json_object_get(r, en ? "summary_en" : "summary"));
    json_object_set_new(ctx, "german_only", json_boolean(en));
    json_object_set_new(ctx, "paragraphs",
                        paragraphs(json_string_value(json_object_get(r, "description"))));
    static const char *const copy[] = {"who_may_apply", "documents",       "fee_legal_basis",
                                       "legal_basis",   "processing_time", "deadlines",
                                       "contacts",      "plain_language"};
    for (size_t i = 0; i < KR_ARRAY_LEN(copy); i++)
        set_if(ctx, copy[i], json_object_get(r, copy[i]));
    const json_t *fees = json_object_get(r, "fees");
    json_object_set_new(ctx, "fees", fees_json(req, fees, en));
    json_object_set_new(ctx, "free", json_boolean(json_array_size(fees) == 0));
    const json_t *online = json_object_get(r, "online");
    const char *form = online_form(r);
    if (form)
        json_object_set_new(ctx, "form", json_string(form));
    json_object_set_new(ctx, "appointment",
                        json_boolean(json_is_true(json_object_get(online, "appointment"))));
    json_object_set_new(ctx, "has_documents",
                        json_boolean(json_array_size(json_object_get(r, "documents")) > 0));
    json_object_set_new(
        ctx, "unit",
        json_pack("{s:s, s:s}", "code", unit->code, "name", en ? unit->name_en : unit->name));
    const char *reviewed = json_string_value(json_object_get(r, "last_reviewed"));
    json_object_set_new(ctx, "last_reviewed", json_string(reviewed));
    json_object_set_new(ctx, "last_reviewed_text", date_text(reviewed, en));
    char *ld = jsonld(req, r, en ? unit->name_en : unit->name, en);
    if (ld)
        json_object_set_new(ctx, "jsonld", json_string(ld));
    return ctx;
}

static int service_page(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    json_t *r = NULL;
    if (rc == KR_OK)
        rc = catalogue_service_get(conn, http_arena(req), http_param(req, "id"), &r, NULL, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, rc, "%s", http_message(req, "catalogue.error.no_service"));
    struct account_org_unit unit;
    if (rc == KR_OK)
        rc = unit_of(req, json_string_value(json_object_get(r, "org_unit")), &unit, err);
    if (rc)
        return rc;
    return http_render(req, 200, "catalogue/service", service_context(req, r, &unit, lang_en(req)));
}

/* ---- Units ----------------------------------------------------------------------- */

static size_t services_of_unit(const struct catalogue_snapshot *snap, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < snap->count; i++)
        n += strcmp(snap->services[i].org_unit, code) == 0;
    return n;
}

static int units_page(struct http_request *req, struct kr_error *err)
{
    struct catalogue_snapshot *snap;
    struct db_conn *conn;
    struct account_org_unit *units;
    size_t n;
    int rc = snapshot(req, &snap, err);
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = accounts_org_units_list(conn, http_arena(req), &units, &n, err);
    if (rc)
        return rc;
    bool en = lang_en(req);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t count = services_of_unit(snap, units[i].code);
        if (count)
            json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "code", units[i].code, "name",
                                                  en ? units[i].name_en : units[i].name, "count",
                                                  (json_int_t)count));
    }
    return http_render(req, 200, "catalogue/units", json_pack("{s:o}", "units", list));
}

/* Contacts of the unit's services, each once. */
static json_t *unit_contacts(struct http_request *req, struct db_conn *conn,
                             const struct catalogue_snapshot *snap, const char *code)
{
    json_t *list = json_array(), *seen = json_object();
    size_t loaded = 0;
    for (size_t i = 0; i < snap->count && loaded < 50; i++) {
        if (strcmp(snap->services[i].org_unit, code) != 0)
            continue;
        json_t *r;
        struct kr_error e;
        if (catalogue_service_get(conn, http_arena(req), snap->services[i].id, &r, NULL, &e))
            continue;
        loaded++;
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(r, "contacts"), k, c)
        {
            char *key = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
            if (key && !json_object_get(seen, key)) {
                json_object_set_new(seen, key, json_true());
                json_array_append(list, c);
            }
            free(key);
        }
    }
    json_decref(seen);
    return list;
}

static bool unit_code_valid(const char *code)
{
    size_t n = code ? strlen(code) : 0;
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((code[i] >= 'A' && code[i] <= 'Z') || (code[i] >= 'a' && code[i] <= 'z') ||
              (code[i] >= '0' && code[i] <= '9') || code[i] == '.' || code[i] == '-'))
            return false;
    return true;
}

static int unit_page(struct http_request *req, struct kr_error *err)
{
    const char *code = http_param(req, "code");
    if (!unit_code_valid(code))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "%s",
                            http_message(req, "catalogue.error.no_unit"));
    struct catalogue_snapshot *snap;
    struct db_conn *conn;
    struct account_org_unit unit;
    int rc = snapshot(req, &snap, err);
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = accounts_org_unit_find(conn, http_arena(req), code, &unit, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, rc, "%s", http_message(req, "catalogue.error.no_unit"));
    if (rc)
        return rc;
    bool en = lang_en(req);
    json_t *services = json_array();
    for (size_t i = 0; i < snap->count; i++) {
        const struct catalogue_summary *s = &snap->services[snap->by_title[i]];
        if (strcmp(s->org_unit, unit.code) == 0)
            json_array_append_new(services, summary_json(s, en));
    }
    json_t *ctx =
        json_pack("{s:s, s:s, s:o, s:o}", "code", unit.code, "name", en ? unit.name_en : unit.name,
                  "services", services, "contacts", unit_contacts(req, conn, snap, unit.code));
    return http_render(req, 200, "catalogue/unit", ctx);
}

/* ---- Sitemap and robots.txt ---------------------------------------------------------- */

static void xml_text(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&apos;"); break;
        default: buf_putc(b, *s);
        }
    }
}

static void sitemap_url(struct buf *b, const char *path, const char *lastmod)
{
    buf_puts(b, "<url><loc>");
    xml_text(b, mod.cfg->public_url);
    xml_text(b, path);
    buf_puts(b, "</loc>");
    if (lastmod) {
        buf_puts(b, "<lastmod>");
        xml_text(b, lastmod);
        buf_puts(b, "</lastmod>");
    }
    buf_puts(b, "</url>\n");
}

static int sitemap(struct http_request *req, struct kr_error *err)
{
    struct catalogue_snapshot *snap;
    int rc = snapshot(req, &snap, err);
    if (rc)
        return rc;
    struct buf b;
    buf_init(&b, 64 * 1024 * 1024);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    static const char *const pages[] = {"/", "/stellen", "/impressum", "/datenschutz",
                                        "/barrierefreiheit"};
    for (size_t i = 0; i < KR_ARRAY_LEN(pages); i++)
        sitemap_url(&b, pages[i], NULL);
    json_t *units = json_object();
    for (size_t i = 0; i < snap->count; i++) {
        char path[128];
        (void)snprintf(path, sizeof(path), "/leistungen/%s", snap->services[i].id);
        sitemap_url(&b, path, snap->services[i].last_reviewed);
        json_object_set_new(units, snap->services[i].org_unit, json_true());
    }
    const char *code;
    json_t *v;
    json_object_foreach(units, code, v)
    {
        char path[64];
        (void)snprintf(path, sizeof(path), "/stellen/%s", code);
        sitemap_url(&b, path, NULL);
    }
    json_decref(units);
    buf_puts(&b, "</urlset>\n");
    rc = buf_status(&b)
             ? kr_error_set(err, buf_status(&b), "sitemap too large")
             : http_send(req, 200, "application/xml; charset=utf-8", buf_cstr(&b), b.len);
    buf_release(&b);
    return rc;
}

static int robots(struct http_request *req, struct kr_error *err)
{
    (void)err;
    char *text = arena_printf(http_arena(req),
                              "User-agent: *\n"
                              "Disallow: /suche\n"
                              "Disallow: /anmelden\n"
                              "Disallow: /verwaltung\n"
                              "Disallow: /api/\n"
                              "Allow: /\n"
                              "\n"
                              "Sitemap: %s/sitemap.xml\n",
                              mod.cfg->public_url);
    if (!text)
        return KR_ERR_NOMEM;
    return http_send(req, 200, "text/plain; charset=utf-8", text, strlen(text));
}

/* ---- JSON API ------------------------------------------------------------------------- */

/* Send body (stolen) with a strong ETag from its bytes; 304 when the
 * client has it already. */
static int send_json_etag(struct http_request *req, json_t *body, struct kr_error *err)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text || arena_defer(http_arena(req), free, text))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char hash[2 * KR_SHA256_LEN + 1], etag[32];
    size_t len = strlen(text);
    kr_sha256_hex(text, len, hash);
    (void)snprintf(etag, sizeof(etag), "\"%.24s\"", hash);
    http_set_header(req, "ETag", etag);
    http_set_header(req, "Cache-Control", "no-cache");
    const char *inm = http_header(req, "If-None-Match");
    if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0))
        return http_send(req, 304, NULL, "", 0);
    return http_send(req, 200, "application/json; charset=utf-8", text, len);
}

static json_t *api_summary(const struct catalogue_summary *s)
{
    json_t *sit = json_array();
    for (unsigned i = 0; i < CATALOGUE_SITUATION_COUNT; i++)
        if (s->situations & (1u << i))
            json_array_append_new(sit, json_string(catalogue_situation_name(i)));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:s}", "id", s->id, "title",
                          s->title, "title_en", s->title_en, "summary", s->summary, "summary_en",
                          s->summary_en, "org_unit", s->org_unit, "life_situations", sit,
                          "appointment", s->appointment, "last_reviewed", s->last_reviewed);
    if (!o)
        return json_object();
    json_object_set_new(o, "online_form",
                        s->online_form ? json_string(s->online_form) : json_null());
    char link[96];
    (void)snprintf(link, sizeof(link), "/leistungen/%s", s->id);
    json_object_set_new(o, "url", json_string(link));
    (void)snprintf(link, sizeof(link), "/api/v1/services/%s", s->id);
    json_object_set_new(o, "api_url", json_string(link));
    return o;
}

static int api_services(struct http_request *req, struct kr_error *err)
{
    int situation = -1;
    int64_t page = 1, per_page = API_PAGE_SIZE;
    const char *typing = http_query(req, "typing");
    int rc = parse_situation(req, &situation, err);
    if (rc == KR_OK)
        rc = parse_page(req, "page", PAGE_MAX, 1, &page, err);
    if (rc == KR_OK)
        rc = parse_page(req, "per_page", API_PAGE_SIZE_MAX, API_PAGE_SIZE, &per_page, err);
    if (rc == KR_OK && typing && strcmp(typing, "0") != 0 && strcmp(typing, "1") != 0)
        rc = kr_error_set(err, KR_ERR_INVALID, "typing: must be 0 or 1");
    struct catalogue_snapshot *snap;
    if (rc == KR_OK)
        rc = snapshot(req, &snap, err);
    const char *q = query_text(req);
    struct catalogue_query cq = {q, situation, typing && strcmp(typing, "1") == 0,
                                 (size_t)(page * per_page)};
    uint32_t *found;
    size_t n;
    if (rc == KR_OK)
        rc = catalogue_search(snap, &cq, http_arena(req), &found, &n, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    size_t first = (size_t)(page - 1) * (size_t)per_page;
    for (size_t i = first; i < n && i < first + (size_t)per_page; i++)
        json_array_append_new(items, api_summary(&snap->services[found[i]]));
    json_t *body =
        json_pack("{s:o, s:I, s:I, s:I, s:I, s:s, s:s*}", "items", items, "total", (json_int_t)n,
                  "page", (json_int_t)page, "per_page", (json_int_t)per_page, "pages",
                  (json_int_t)((n + (size_t)per_page - 1) / (size_t)per_page), "q", q, "lebenslage",
                  situation >= 0 ? catalogue_situation_name((unsigned)situation) : NULL);
    if (!body)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return send_json_etag(req, body, err);
}

static int api_service(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    json_t *r;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = catalogue_service_get(conn, http_arena(req), http_param(req, "id"), &r, NULL, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, rc, "no service with this id");
    if (rc)
        return rc;
    json_t *body = json_deep_copy(r);
    if (!body)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char link[96];
    (void)snprintf(link, sizeof(link), "/leistungen/%s",
                   json_string_value(json_object_get(r, "id")));
    json_object_set_new(body, "url", json_string(link));
    return send_json_etag(req, body, err);
}

static int openapi(struct http_request *req, struct kr_error *err)
{
    (void)err;
    http_set_header(req, "Cache-Control", "public, max-age=3600");
    return http_send_static(req, 200, "application/json; charset=utf-8", mod.openapi,
                            mod.openapi_len);
}

/* ---- Registration ------------------------------------------------------------------- */

static int load_openapi(const struct kr_config *cfg, struct kr_error *err)
{
    char path[KR_CONFIG_PATH_MAX + 64];
    (void)snprintf(path, sizeof(path), "%s/static/api/openapi.json", cfg->share_dir);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        return kr_error_set(err, KR_ERR_CONFIG, "%s:%d: %s", path, jerr.line, jerr.text);
    mod.openapi = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (!mod.openapi)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    mod.openapi_len = strlen(mod.openapi);
    return mod.openapi_len > OPENAPI_MAX ? kr_error_set(err, KR_ERR_CONFIG, "%s: too large", path)
                                         : KR_OK;
}

static int first_snapshot(struct db *db, struct kr_error *err)
{
    struct db_conn *conn;
    int rc = catalogue_live_new(&mod.live, err);
    if (rc == KR_OK)
        rc = db_acquire(db, &conn, err);
    if (rc)
        return rc;
    struct catalogue_snapshot *snap = NULL;
    rc = catalogue_live_get(mod.live, conn, &snap, err);
    catalogue_snapshot_release(snap);
    db_release(conn);
    return rc;
}

int catalogue_http_routes(struct http_server *s, const struct kr_config *cfg, struct db *db,
                          struct kr_error *err)
{
    static const struct {
        const char *pattern;
        http_handler fn;
        unsigned flags;
    } routes[] = {
        {"/suche", results_page, 0},
        {"/leistungen", results_page, 0},
        {"/leistungen/:id", service_page, 0},
        {"/stellen", units_page, 0},
        {"/stellen/:code", unit_page, 0},
        {"/sitemap.xml", sitemap, HTTP_ROUTE_NO_SESSION},
        {"/robots.txt", robots, HTTP_ROUTE_NO_SESSION},
        {"/api/v1/services", api_services, HTTP_ROUTE_NO_SESSION},
        {"/api/v1/services/:id", api_service, HTTP_ROUTE_NO_SESSION},
        {"/api/openapi.json", openapi, HTTP_ROUTE_NO_SESSION},
    };
    mod.cfg = cfg;
    int rc = load_openapi(cfg, err);
    if (rc == KR_OK)
        rc = first_snapshot(db, err);
    for (size_t i = 0; rc == KR_OK && i < KR_ARRAY_LEN(routes); i++)
        rc = http_route(s, HTTP_GET, routes[i].pattern, routes[i].fn, routes[i].flags, err);
    return rc;
}

void catalogue_http_shutdown(void)
{
    catalogue_live_free(mod.live);
    free(mod.openapi);
    memset(&mod, 0, sizeof(mod));
}
