/*
 * einvoice.c - the validation pipeline: parse, scenario, XSD, rules,
 * severity overrides, verdict; and the report's names and JSON form.
 */
#include "einvoice/einvoice.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/xmlschemas.h>

#include "core/buf.h"
#include "core/log.h"
#include "einvoice/einvoice_model.h"
#include "einvoice/einvoice_pdf.h"
#include "einvoice/einvoice_xml.h"

#define XR_CIUS "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"

static const struct {
    const char *id;
    enum einvoice_scenario scenario;
} scenarios[] = {
    {XR_CIUS, EINVOICE_SCENARIO_XR_CIUS},
    {XR_CIUS "#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0",
     EINVOICE_SCENARIO_XR_EXTENSION},
    {XR_CIUS "#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_0.9", EINVOICE_SCENARIO_XR_CVD},
    {"urn:cen.eu:en16931:2017", EINVOICE_SCENARIO_EN16931},
};

/* The scenario's customLevel overrides (KoSIT validator-configuration-
 * xrechnung, scenarios.xml). */
static const struct {
    enum einvoice_scenario scenario;
    const char *rule;
    enum einvoice_severity level;
} overrides[] = {
    {EINVOICE_SCENARIO_XR_CIUS, "BR-CL-21", EINVOICE_WARNING},
    {EINVOICE_SCENARIO_XR_CIUS, "BR-CL-23", EINVOICE_WARNING},
    {EINVOICE_SCENARIO_XR_EXTENSION, "BR-CL-21", EINVOICE_INFORMATION},
    {EINVOICE_SCENARIO_XR_EXTENSION, "BR-CL-23", EINVOICE_WARNING},
    {EINVOICE_SCENARIO_XR_EXTENSION, "BR-CL-24", EINVOICE_WARNING},
    {EINVOICE_SCENARIO_XR_EXTENSION, "BR-CL-10", EINVOICE_INFORMATION},
    {EINVOICE_SCENARIO_XR_EXTENSION, "BR-CL-11", EINVOICE_INFORMATION},
    {EINVOICE_SCENARIO_XR_EXTENSION, "BR-CL-25", EINVOICE_INFORMATION},
    {EINVOICE_SCENARIO_XR_EXTENSION, "BR-CL-26", EINVOICE_INFORMATION},
    {EINVOICE_SCENARIO_XR_EXTENSION, "BR-CO-16", EINVOICE_INFORMATION},
    {EINVOICE_SCENARIO_XR_CVD, "BR-CL-21", EINVOICE_WARNING},
    {EINVOICE_SCENARIO_XR_CVD, "BR-CL-23", EINVOICE_WARNING},
    {EINVOICE_SCENARIO_XR_CVD, "BR-CL-13", EINVOICE_INFORMATION},
};

struct einvoice_validator {
    pthread_mutex_t lock;
    char dir[1024];
    bool tried[4];     /* by enum einvoice_syntax: load attempted */
    xmlSchema *xsd[4]; /* NULL when missing */
};

static const char *const schema_files[] = {
    [EINVOICE_SYNTAX_UBL_INVOICE] = "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
    [EINVOICE_SYNTAX_UBL_CREDITNOTE] = "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
    [EINVOICE_SYNTAX_CII] = "cii-d16b/uncefact/data/standard/CrossIndustryInvoice_100pD16B.xsd",
};

/* ---- Schemas ------------------------------------------------------------------ */

static int load_schema(const char *dir, const char *rel, xmlSchema **out, struct kr_error *err)
{
    char path[1200];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);
    struct stat st;
    if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) != 0) {
        kr_log(KR_LOG_WARN, "einvoice_schema_missing", "%s: not found; XSD checks are off", path);
        return KR_OK;
    }
    xmlSchemaParserCtxt *pc = xmlSchemaNewParserCtxt(path);
    if (!pc)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    *out = xmlSchemaParse(pc);
    xmlSchemaFreeParserCtxt(pc);
    if (!*out)
        return kr_error_set(err, KR_ERR_CONFIG, "%s: the XML schema does not compile", path);
    return KR_OK;
}

/* The schema of a syntax, compiled on first use; NULL when missing. */
static xmlSchema *schema_for(struct einvoice_validator *v, enum einvoice_syntax syntax,
                             struct kr_error *err, int *rc)
{
    *rc = KR_OK;
    if (!v || syntax <= EINVOICE_SYNTAX_UNKNOWN || syntax > EINVOICE_SYNTAX_CII || !v->dir[0])
        return NULL;
    pthread_mutex_lock(&v->lock);
    if (!v->tried[syntax]) {
        *rc = load_schema(v->dir, schema_files[syntax], &v->xsd[syntax], err);
        v->tried[syntax] = *rc == KR_OK;
    }
    xmlSchema *s = v->xsd[syntax];
    pthread_mutex_unlock(&v->lock);
    return s;
}

int einvoice_validator_new(const char *schema_dir, struct einvoice_validator **out,
                           struct kr_error *err)
{
    ei_xml_init();
    struct einvoice_validator *v = calloc(1, sizeof(*v));
    if (!v)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&v->lock, NULL);
    if (schema_dir && strlen(schema_dir) >= sizeof(v->dir)) {
        einvoice_validator_free(v);
        return kr_error_set(err, KR_ERR_CONFIG, "einvoice_schema_dir: the path is too long");
    }
    if (schema_dir)
        memcpy(v->dir, schema_dir, strlen(schema_dir) + 1);
    *out = v;
    return KR_OK;
}

int einvoice_validator_preload(struct einvoice_validator *v, struct kr_error *err)
{
    for (int s = EINVOICE_SYNTAX_UBL_INVOICE; s <= EINVOICE_SYNTAX_CII; s++) {
        int rc;
        (void)schema_for(v, (enum einvoice_syntax)s, err, &rc);
        if (rc)
            return rc;
    }
    return KR_OK;
}

void einvoice_validator_free(struct einvoice_validator *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < KR_EI_LEN(v->xsd); i++)
        if (v->xsd[i])
            xmlSchemaFree(v->xsd[i]);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

bool einvoice_validator_has_xsd(struct einvoice_validator *v, enum einvoice_syntax syntax)
{
    int rc;
    return schema_for(v, syntax, NULL, &rc) != NULL;
}

/* ---- Findings ------------------------------------------------------------------ */

void ei_fail(struct ei_ctx *c, const char *rule, enum einvoice_severity flag, const xmlNode *node,
             const char *message)
{
    if (c->status)
        return;
    struct einvoice_finding *f = arena_zalloc(c->a, sizeof(*f));
    if (!f || ei_vec_push(c->a, &c->findings, f)) {
        c->status = KR_ERR_NOMEM;
        return;
    }
    f->rule = rule;
    f->flag = f->severity = flag;
    f->message = message;
    f->location = ei_location(c->a, node);
}

struct xsd_state {
    struct ei_ctx *c;
    unsigned errors;
};

static void xsd_error(void *data, xmlError *e)
{
    struct xsd_state *st = data;
    if (++st->errors > 50)
        return;
    char *m = arena_strdup(st->c->a, e->message ? e->message : "schema violation");
    size_t n = m ? strlen(m) : 0;
    if (n && m[n - 1] == '\n')
        m[n - 1] = '\0';
    ei_fail(st->c, "XSD", EINVOICE_FATAL, e->node, m ? m : "schema violation");
}

/* Attachments are large base64 texts that libxml2's XSD layer checks
 * slowly (it copies and scans them several times).  Valid base64 is
 * checked here in one pass and stands in for the XSD check: during the
 * schema validation the text is replaced by a short valid value and put
 * back afterwards.  Invalid base64 is left for the schema to report. */
#define BASE64_SWAP_MIN 4096

/* Per byte: 1 a base64 digit, 2 white space, 3 '=', 0 anything else (a
 * table: attachments run to megabytes, and isalnum() is a call per byte). */
static const unsigned char base64_class[256] = {
    ['\t'] = 2, ['\n'] = 2, ['\r'] = 2, [' '] = 2, ['='] = 3, ['+'] = 1, ['/'] = 1, ['0'] = 1,
    ['1'] = 1,  ['2'] = 1,  ['3'] = 1,  ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1,  ['A'] = 1,  ['B'] = 1,  ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1,  ['I'] = 1,  ['J'] = 1,  ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1,
    ['P'] = 1,  ['Q'] = 1,  ['R'] = 1,  ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1,
    ['X'] = 1,  ['Y'] = 1,  ['Z'] = 1,  ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,
    ['f'] = 1,  ['g'] = 1,  ['h'] = 1,  ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1,
    ['n'] = 1,  ['o'] = 1,  ['p'] = 1,  ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1,  ['w'] = 1,  ['x'] = 1,  ['y'] = 1, ['z'] = 1,
};

static bool base64_valid(const char *s)
{
    size_t chars = 0, pad = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (base64_class[*p]) {
        case 1:
            if (pad)
                return false;
            chars++;
            break;
        case 2: break;
        case 3:
            pad++;
            chars++;
            break;
        default: return false;
        }
    }
    return pad <= 2 && chars % 4 == 0;
}

struct swapped {
    xmlNode *text;
    xmlChar *content;
};

static size_t swap_attachments(const struct ei_invoice *inv, struct swapped *out, size_t max)
{
    static xmlChar placeholder[] = "QUJD";
    size_t n = 0;
    for (size_t i = 0; i < inv->attachments.n && n < max; i++) {
        const struct ei_attachment *at = inv->attachments.items[i];
        xmlNode *t = at->binary.node ? at->binary.node->children : NULL;
        if (!t || t->next || t->type != XML_TEXT_NODE || !t->content ||
            t->content == (xmlChar *)&t->properties || /* COMPACT: stored inline */
            strlen((const char *)t->content) < BASE64_SWAP_MIN ||
            !base64_valid((const char *)t->content))
            continue;
        out[n].text = t;
        out[n++].content = t->content;
        t->content = placeholder;
    }
    return n;
}

static bool check_xsd(xmlSchema *schema, struct ei_ctx *c)
{
    xmlSchemaValidCtxt *vc = xmlSchemaNewValidCtxt(schema);
    if (!vc) {
        c->status = KR_ERR_NOMEM;
        return false;
    }
    struct xsd_state st = {c, 0};
    xmlSchemaSetValidStructuredErrors(vc, xsd_error, &st);
    struct swapped swaps[64];
    size_t n = swap_attachments(c->inv, swaps, KR_EI_LEN(swaps));
    int rc = xmlSchemaValidateDoc(vc, c->inv->doc);
    while (n--)
        swaps[n].text->content = swaps[n].content;
    xmlSchemaFreeValidCtxt(vc);
    if (rc != 0 && st.errors == 0)
        ei_fail(c, "XSD", EINVOICE_FATAL, NULL,
                "the document does not validate against the schema");
    return rc == 0;
}

/* ---- The pipeline --------------------------------------------------------------- */

static enum einvoice_scenario pick_scenario(const struct ei_invoice *inv)
{
    /* KoSIT matches the exact text of the element, not normalised. */
    if (!inv->spec_id.s)
        return EINVOICE_SCENARIO_NONE;
    for (size_t i = 0; i < KR_EI_LEN(scenarios); i++)
        if (strcmp(inv->spec_id.s, scenarios[i].id) == 0)
            return scenarios[i].scenario;
    return EINVOICE_SCENARIO_NONE;
}

static void apply_overrides(struct ei_ctx *c)
{
    for (size_t i = 0; i < c->findings.n; i++) {
        struct einvoice_finding *f = c->findings.items[i];
        for (size_t k = 0; k < KR_EI_LEN(overrides); k++)
            if (overrides[k].scenario == c->scenario && strcmp(overrides[k].rule, f->rule) == 0)
                f->severity = overrides[k].level;
    }
}

static int unreadable(struct arena *a, const struct kr_error *perr, struct einvoice_report *r)
{
    r->verdict = EINVOICE_UNREADABLE;
    r->reason = arena_strdup(a, perr->message);
    return r->reason ? KR_OK : KR_ERR_NOMEM;
}

static void run_rules(struct einvoice_validator *v, struct ei_ctx *c, struct einvoice_report *r)
{
    int rc;
    xmlSchema *schema = schema_for(v, r->syntax, NULL, &rc);
    r->xsd_checked = schema != NULL;
    if (rc)
        ei_fail(c, "XSD-MISSING", EINVOICE_WARNING, NULL,
                "the XML schema does not compile: the XSD check was skipped");
    else if (r->xsd_checked)
        r->xsd_valid = check_xsd(schema, c);
    else
        ei_fail(c, "XSD-MISSING", EINVOICE_WARNING, NULL,
                "the XML schemas are not installed: the XSD check was skipped");
    ei_rules_en16931(c);
    ei_rules_codelists(c);
    ei_rules_syntax(c);
    if (c->scenario != EINVOICE_SCENARIO_EN16931)
        ei_rules_xrechnung(c);
    apply_overrides(c);
}

/* Choose the scenario, or reject with a reason when none applies.  In a
 * PDF, the ZUGFeRD/Factur-X profile decides: MINIMUM and BASIC WL are not
 * invoices, BASIC and EXTENDED are checked against EN 16931. */
static bool choose_scenario(struct ei_ctx *c, struct einvoice_report *r)
{
    const struct ei_invoice *inv = c->inv;
    r->scenario = pick_scenario(inv);
    bool valid = true;
    if (r->container_pdf) {
        r->profile = einvoice_pdf_profile(inv->spec_id.s, &valid);
        if (r->profile && valid && r->scenario == EINVOICE_SCENARIO_NONE)
            r->scenario = EINVOICE_SCENARIO_EN16931;
    }
    c->scenario = r->scenario;
    if (r->profile && !valid) {
        r->scenario = c->scenario = EINVOICE_SCENARIO_NONE;
        r->reason = arena_printf(c->a,
                                 "the ZUGFeRD/Factur-X profile %s is not an invoice under "
                                 "EN 16931 (it only supports booking)",
                                 r->profile);
    } else if (r->scenario == EINVOICE_SCENARIO_NONE) {
        r->reason = inv->spec_id.s ? arena_printf(c->a,
                                                  "the specification identifier (BT-24) '%.200s' "
                                                  "matches no scenario (XRechnung 3.0, EN 16931)",
                                                  inv->spec_id.s)
                                   : "the invoice has no specification identifier (BT-24)";
    } else {
        return true;
    }
    r->verdict = EINVOICE_REJECT;
    ei_fail(c, r->profile && !valid ? "PROFILE" : "SCENARIO", EINVOICE_FATAL, inv->spec_id.node,
            r->reason ? r->reason : "no scenario");
    return false;
}

static int finish(struct ei_ctx *c, struct einvoice_report *r, struct kr_error *err)
{
    if (c->status)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    r->findings = arena_calloc(c->a, c->findings.n ? c->findings.n : 1, sizeof(*r->findings));
    if (!r->findings)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->findings.n; i++) {
        r->findings[i] = *(struct einvoice_finding *)c->findings.items[i];
        if (r->findings[i].severity == EINVOICE_FATAL && r->verdict == EINVOICE_ACCEPT) {
            r->verdict = EINVOICE_REJECT;
            r->reason = "the invoice breaks at least one rule (see the findings)";
        }
    }
    r->count = c->findings.n;
    return KR_OK;
}

static const char *norm_or_null(struct arena *a, const struct ei_val *v)
{
    return ei_nonblank(v) ? ei_norm(a, v) : NULL;
}

static void summarize(struct arena *a, const struct ei_invoice *inv, struct einvoice_summary *s)
{
    s->seller_vat_id = norm_or_null(a, &inv->seller.vat_id);
    s->seller_id = inv->seller.ids.n
                       ? norm_or_null(a, &((const struct ei_id *)inv->seller.ids.items[0])->v)
                       : NULL;
    if (!s->seller_id)
        s->seller_id = norm_or_null(a, &inv->seller.legal_id.v);
    s->seller_name = norm_or_null(a, &inv->seller.name);
    s->seller_email = norm_or_null(a, &inv->seller.contact.email);
    s->number = norm_or_null(a, &inv->number);
    s->issue_date = norm_or_null(a, &inv->issue_date);
    s->buyer_reference = norm_or_null(a, &inv->buyer_ref);
    s->currency = norm_or_null(a, &inv->currency);
    s->amount_due = norm_or_null(a, &inv->payable);
    s->due_date = norm_or_null(a, &inv->due_date);
}

/* A PDF: take out the embedded XML (the report then names it). */
static int unwrap_pdf(struct arena *a, const char **data, size_t *len, struct einvoice_report *r,
                      struct kr_error *perr)
{
    if (*len < 5 || memcmp(*data, "%PDF-", 5) != 0)
        return KR_OK;
    r->container_pdf = true;
    return einvoice_pdf_extract(a, *data, *len, data, len, &r->attachment, perr);
}

int einvoice_validate(struct einvoice_validator *v, struct arena *a, const char *data, size_t len,
                      struct einvoice_report **out, struct kr_error *err)
{
    struct einvoice_report *r = arena_zalloc(a, sizeof(*r));
    if (!r)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct kr_error perr;
    kr_error_clear(&perr);
    struct ei_invoice *inv = NULL;
    int rc = unwrap_pdf(a, &data, &len, r, &perr);
    if (rc == KR_OK)
        rc = ei_parse(a, data, len, &inv, &perr);
    if (rc == KR_ERR_NOMEM)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    *out = r;
    if (rc)
        return unreadable(a, &perr, r) ? kr_error_set(err, KR_ERR_NOMEM, "out of memory") : KR_OK;
    r->syntax = inv->syntax;
    r->specification = inv->spec_id.s;
    summarize(a, inv, &r->summary);
    struct ei_ctx c = {.a = a, .inv = inv};
    if (choose_scenario(&c, r))
        run_rules(v, &c, r);
    return finish(&c, r, err);
}

/* ---- Names and JSON --------------------------------------------------------------- */

const char *einvoice_verdict_name(enum einvoice_verdict v)
{
    static const char *names[] = {"accept", "reject", "unreadable"};
    return (unsigned)v < KR_EI_LEN(names) ? names[v] : "unreadable";
}

const char *einvoice_syntax_name(enum einvoice_syntax s)
{
    static const char *names[] = {"unknown", "ubl-invoice", "ubl-creditnote", "cii"};
    return (unsigned)s < KR_EI_LEN(names) ? names[s] : "unknown";
}

const char *einvoice_scenario_name(enum einvoice_scenario s)
{
    static const char *names[] = {"none", "xr-cius", "xr-extension", "xr-cvd", "en16931"};
    return (unsigned)s < KR_EI_LEN(names) ? names[s] : "none";
}

const char *einvoice_severity_name(enum einvoice_severity s)
{
    static const char *names[] = {"information", "warning", "fatal"};
    return (unsigned)s < KR_EI_LEN(names) ? names[s] : "fatal";
}

json_t *einvoice_report_json(const struct einvoice_report *r)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < r->count; i++) {
        const struct einvoice_finding *f = &r->findings[i];
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "rule", f->rule,
                                              "severity", einvoice_severity_name(f->severity),
                                              "flag", einvoice_severity_name(f->flag), "message",
                                              f->message, "location", f->location));
    }
    const char *xsd = !r->xsd_checked ? "not-checked" : r->xsd_valid ? "valid" : "invalid";
    if (r->verdict == EINVOICE_UNREADABLE)
        xsd = "not-checked";
    return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s?, s:s, s:s?, s:s?, s:o}", "verdict",
                     einvoice_verdict_name(r->verdict), "syntax", einvoice_syntax_name(r->syntax),
                     "scenario", einvoice_scenario_name(r->scenario), "specification",
                     r->specification, "xsd", xsd, "reason", r->reason, "container",
                     r->container_pdf ? "pdf" : "xml", "attachment", r->attachment, "profile",
                     r->profile, "findings", list ? list : json_null());
}

int einvoice_report_text(const struct einvoice_report *r, const char *name, struct buf *out)
{
    size_t fatal = 0, warn = 0;
    for (size_t i = 0; i < r->count; i++) {
        fatal += r->findings[i].severity == EINVOICE_FATAL;
        warn += r->findings[i].severity == EINVOICE_WARNING;
    }
    buf_printf(out, "%s: %s", name,
               r->verdict == EINVOICE_ACCEPT   ? "ACCEPTED"
               : r->verdict == EINVOICE_REJECT ? "REJECTED"
                                               : "UNREADABLE");
    if (r->verdict != EINVOICE_UNREADABLE)
        buf_printf(out, " (%s, scenario %s; %zu error%s, %zu warning%s%s)\n",
                   einvoice_syntax_name(r->syntax), einvoice_scenario_name(r->scenario), fatal,
                   fatal == 1 ? "" : "s", warn, warn == 1 ? "" : "s",
                   r->xsd_checked || r->scenario == EINVOICE_SCENARIO_NONE
                       ? ""
                       : "; XSD not checked: schemas not installed");
    else
        buf_puts(out, "\n");
    if (r->container_pdf && r->attachment)
        buf_printf(out, "  ZUGFeRD/Factur-X PDF, embedded %s, profile %s\n", r->attachment,
                   r->profile ? r->profile : "unknown");
    if (r->reason && r->verdict != EINVOICE_ACCEPT)
        buf_printf(out, "  reason: %s\n", r->reason);
    for (size_t i = 0; i < r->count; i++) {
        const struct einvoice_finding *f = &r->findings[i];
        buf_printf(out, "  %-11s %-20s %s\n", einvoice_severity_name(f->severity), f->rule,
                   f->message);
        if (f->location[0])
            buf_printf(out, "              at %s\n", f->location);
    }
    return buf_status(out);
}
