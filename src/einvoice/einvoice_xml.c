/*
 * einvoice_xml.c - the model's small helpers: arena vectors, values,
 * numbers, node paths, and the hardened libxml2 parse.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "core/buf.h"
#include "einvoice/einvoice_model.h"
#include "einvoice/einvoice_xml.h"

int ei_vec_push(struct arena *a, struct ei_vec *vec, void *item)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 8;
        void **items = arena_calloc(a, cap, sizeof(void *));
        if (!items)
            return KR_ERR_NOMEM;
        if (vec->n)
            memcpy(items, vec->items, vec->n * sizeof(void *));
        vec->items = items;
        vec->cap = cap;
    }
    vec->items[vec->n++] = item;
    return KR_OK;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool ei_nonblank(const struct ei_val *v)
{
    if (!v->s)
        return false;
    for (const char *p = v->s; *p; p++)
        if (!is_space(*p))
            return true;
    return false;
}

/* Walk normalize-space(s) word by word: calls back with each word. */
bool ei_eq(const struct ei_val *v, const char *s)
{
    const char *p = v->s ? v->s : "";
    const char *q = s;
    bool first = true;
    for (;;) {
        while (is_space(*p))
            p++;
        if (!*p)
            return *q == '\0';
        if (!first) {
            if (*q != ' ')
                return false;
            q++;
        }
        first = false;
        while (*p && !is_space(*p)) {
            if (*p != *q)
                return false;
            p++, q++;
        }
    }
}

const char *ei_norm(struct arena *a, const struct ei_val *v)
{
    const char *p = v->s ? v->s : "";
    size_t n = strlen(p);
    char *out = arena_alloc(a, n + 1);
    if (!out)
        return "";
    size_t k = 0;
    for (;;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        if (k)
            out[k++] = ' ';
        while (*p && !is_space(*p))
            out[k++] = *p++;
    }
    out[k] = '\0';
    return out;
}

bool ei_num(const struct ei_val *v, double *out)
{
    if (!v->s)
        return false;
    const char *p = v->s;
    while (is_space(*p))
        p++;
    const char *start = p;
    if (*p == '+' || *p == '-')
        p++;
    bool digits = false;
    while (isdigit((unsigned char)*p))
        p++, digits = true;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++, digits = true;
    }
    const char *end = p;
    while (is_space(*p))
        p++;
    if (!digits || *p)
        return false;
    char tmp[64];
    size_t n = (size_t)(end - start);
    if (n >= sizeof(tmp))
        return false;
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    return isfinite(*out);
}

/* ---- Locations ------------------------------------------------------------ */

static bool same_name(const xmlNode *a, const xmlNode *b)
{
    if (strcmp((const char *)a->name, (const char *)b->name) != 0)
        return false;
    const xmlChar *na = a->ns ? a->ns->href : NULL, *nb = b->ns ? b->ns->href : NULL;
    return na == nb || (na && nb && xmlStrEqual(na, nb));
}

const char *ei_location(struct arena *a, const xmlNode *node)
{
    if (!node)
        return "";
    const xmlNode *chain[EINVOICE_MAX_DEPTH + 2];
    size_t depth = 0;
    for (const xmlNode *n = node; n && n->type != XML_DOCUMENT_NODE && depth < KR_EI_LEN(chain);
         n = n->parent)
        chain[depth++] = n;
    struct buf b;
    buf_init(&b, 4096);
    while (depth--) {
        const xmlNode *n = chain[depth];
        const char *prefix = n->ns && n->ns->prefix ? (const char *)n->ns->prefix : NULL;
        if (n->type == XML_ATTRIBUTE_NODE) {
            buf_printf(&b, "/@%s", (const char *)n->name);
            continue;
        }
        unsigned pos = 1;
        for (const xmlNode *s = n->prev; s; s = s->prev)
            if (s->type == XML_ELEMENT_NODE && same_name(s, n))
                pos++;
        buf_printf(&b, "/%s%s%s[%u]", prefix ? prefix : "", prefix ? ":" : "",
                   (const char *)n->name, pos);
    }
    const char *out = buf_status(&b) == KR_OK ? arena_strdup(a, buf_cstr(&b)) : NULL;
    buf_release(&b);
    return out ? out : "";
}

/* ---- Navigation ----------------------------------------------------------- */

static const struct {
    const char *prefix;
    const char *uri;
} namespaces[] = {
    {"cbc", "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"},
    {"cac", "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"},
    {"ram", "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"},
    {"rsm", "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"},
    {"udt", "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"},
    {"qdt", "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"},
    {"ubl", "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"},
    {"cn", "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"},
};

const char *ei_ns_uri(const char *prefix, size_t len)
{
    for (size_t i = 0; i < KR_EI_LEN(namespaces); i++)
        if (strlen(namespaces[i].prefix) == len && memcmp(namespaces[i].prefix, prefix, len) == 0)
            return namespaces[i].uri;
    return NULL;
}

bool ei_is(const xmlNode *n, const char *qname)
{
    if (!n || n->type != XML_ELEMENT_NODE)
        return false;
    const char *colon = strchr(qname, ':');
    if (!colon)
        return false;
    const char *uri = ei_ns_uri(qname, (size_t)(colon - qname));
    if (strcmp((const char *)n->name, colon + 1) != 0)
        return false;
    return n->ns && uri && strcmp((const char *)n->ns->href, uri) == 0;
}

xmlNode *ei_child(const xmlNode *p, const char *qname)
{
    if (!p)
        return NULL;
    for (xmlNode *c = p->children; c; c = c->next)
        if (ei_is(c, qname))
            return c;
    return NULL;
}

xmlNode *ei_next(const xmlNode *n, const char *qname)
{
    for (xmlNode *c = n ? n->next : NULL; c; c = c->next)
        if (ei_is(c, qname))
            return c;
    return NULL;
}

size_t ei_count(const xmlNode *p, const char *qname)
{
    size_t k = 0;
    for (xmlNode *c = ei_child(p, qname); c; c = ei_next(c, qname))
        k++;
    return k;
}

xmlNode *ei_path(xmlNode *p, const char *path)
{
    char step[128];
    xmlNode *n = p;
    while (n && *path) {
        const char *slash = strchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : strlen(path);
        if (len >= sizeof(step))
            return NULL;
        memcpy(step, path, len);
        step[len] = '\0';
        n = ei_child(n, step);
        path += len + (slash ? 1 : 0);
    }
    return n;
}

const char *ei_text(struct arena *a, const xmlNode *n)
{
    if (!n)
        return NULL;
    const xmlNode *c = n->children;
    if (!c)
        return "";
    if (!c->next && (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE))
        return (const char *)c->content;
    struct buf b;
    buf_init(&b, EINVOICE_MAX_SIZE);
    for (; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            buf_puts(&b, (const char *)c->content);
    const char *out = buf_status(&b) == KR_OK ? arena_strdup(a, buf_cstr(&b)) : NULL;
    buf_release(&b);
    return out ? out : "";
}

struct ei_val ei_get(struct arena *a, xmlNode *p, const char *path)
{
    struct ei_val v = {NULL, NULL};
    const char *at = strrchr(path, '@');
    if (at) {
        char head[256];
        size_t len = (size_t)(at - path);
        if (len && path[len - 1] == '/')
            len--;
        if (len >= sizeof(head))
            return v;
        memcpy(head, path, len);
        head[len] = '\0';
        xmlNode *e = len ? ei_path(p, head) : p;
        return ei_attr(e, at + 1);
    }
    v.node = ei_path(p, path);
    v.s = ei_text(a, v.node);
    return v;
}

struct ei_val ei_attr(const xmlNode *e, const char *name)
{
    struct ei_val v = {NULL, NULL};
    if (!e)
        return v;
    for (xmlAttr *at = e->properties; at; at = at->next) {
        if (at->ns == NULL && strcmp((const char *)at->name, name) == 0) {
            v.node = (xmlNode *)at;
            v.s = at->children && at->children->content ? (const char *)at->children->content : "";
            return v;
        }
    }
    return v;
}

struct ei_val ei_node_val(struct arena *a, xmlNode *n)
{
    struct ei_val v = {ei_text(a, n), n};
    return v;
}

/* ---- Parsing ---------------------------------------------------------------- */

static void free_doc(void *doc)
{
    xmlFreeDoc(doc);
}

/* Silence libxml2's default error printing: errors are reported in the
 * validation report, never on stderr. */
static void quiet(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
}

void ei_xml_init(void)
{
    static int done;
    if (!done) {
        xmlInitParser();
        xmlSetGenericErrorFunc(NULL, quiet);
        done = 1;
    }
}

static int check_tree(const xmlNode *root, struct kr_error *err)
{
    size_t elements = 0;
    unsigned depth = 1;
    const xmlNode *n = root;
    while (n) {
        if (n->type == XML_ELEMENT_NODE && ++elements > EINVOICE_MAX_ELEMENTS)
            return kr_error_set(err, KR_ERR_TOO_LARGE, "the invoice has more than %u elements",
                                EINVOICE_MAX_ELEMENTS);
        if (n->type == XML_ENTITY_REF_NODE)
            return kr_error_set(err, KR_ERR_INVALID, "entity references are not accepted");
        if (n->children && n->type == XML_ELEMENT_NODE) {
            if (++depth > EINVOICE_MAX_DEPTH)
                return kr_error_set(err, KR_ERR_TOO_LARGE, "the XML is nested deeper than %d",
                                    EINVOICE_MAX_DEPTH);
            n = n->children;
            continue;
        }
        while (n && !n->next && n != root) {
            n = n->parent;
            depth--;
        }
        if (!n || n == root)
            break;
        n = n->next;
    }
    return KR_OK;
}

/* A DOCTYPE can only stand in the prolog, before the root element: look
 * there, skipping the XML declaration, processing instructions, comments
 * and blanks, so that a large invoice is not scanned twice. */
static bool has_doctype(const char *p, size_t len)
{
    const char *end = p + len;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt || lt + 1 >= end)
            return false;
        if (lt[1] == '!' && end - lt >= 4 && memcmp(lt, "<!--", 4) == 0) {
            const char *close = memmem(lt + 4, (size_t)(end - lt - 4), "-->", 3);
            if (!close)
                return false;
            p = close + 3;
        } else if (lt[1] == '?') {
            const char *close = memmem(lt + 2, (size_t)(end - lt - 2), "?>", 2);
            if (!close)
                return false;
            p = close + 2;
        } else {
            return lt[1] == '!'; /* <!DOCTYPE (or other markup declarations) */
        }
    }
    return false;
}

int ei_xml_read(struct arena *a, const char *data, size_t len, xmlDoc **out, struct kr_error *err)
{
    if (len > EINVOICE_MAX_SIZE)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "the invoice is larger than %u bytes",
                            EINVOICE_MAX_SIZE);
    if (len == 0)
        return kr_error_set(err, KR_ERR_INVALID, "the document is empty");
    /* No DTD means no entity declarations: no XML bombs, no external
     * entities.  Invoices never carry a DOCTYPE. */
    if (has_doctype(data, len))
        return kr_error_set(err, KR_ERR_INVALID,
                            "a document type declaration (DOCTYPE) is not accepted");
    ei_xml_init();
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    xmlDoc *doc = xmlCtxtReadMemory(ctxt, data, (int)len, "invoice.xml", NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                        XML_PARSE_COMPACT);
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        kr_error_set(err, KR_ERR_INVALID, "not well-formed XML (line %d): %s", e ? e->line : 0,
                     e && e->message ? e->message : "parse error");
        size_t n = strlen(err ? err->message : "");
        if (err && n && err->message[n - 1] == '\n')
            err->message[n - 1] = '\0';
        xmlFreeParserCtxt(ctxt);
        return KR_ERR_INVALID;
    }
    xmlFreeParserCtxt(ctxt);
    if (arena_defer(a, free_doc, doc))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    /* The prolog scan misses DOCTYPEs in UTF-16 documents; the parser
     * has not expanded their entities, but refuse them all the same. */
    if (doc->intSubset || doc->extSubset)
        return kr_error_set(err, KR_ERR_INVALID,
                            "a document type declaration (DOCTYPE) is not accepted");
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root)
        return kr_error_set(err, KR_ERR_INVALID, "the document has no root element");
    int rc = check_tree(root, err);
    if (rc)
        return rc;
    *out = doc;
    return KR_OK;
}
