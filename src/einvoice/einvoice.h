/*
 * einvoice.h - reception checks for electronic invoices (EN 16931,
 * XRechnung 3.0) in their two XML syntaxes, UBL 2.1 (Invoice, CreditNote)
 * and UN/CEFACT CII D16B.
 *
 * A validator holds what is loaded once: the XML schemas.  Validating one
 * invoice runs, like the KoSIT validator's XRechnung configuration:
 *
 *   1. parse (libxml2: no network, no DTD, no entity expansion, size and
 *      depth limits) into the EN 16931 semantic model (einvoice_model.h);
 *   2. pick the scenario from the specification identifier (BT-24):
 *      XRechnung CIUS, XRechnung extension, XRechnung CVD, plain EN 16931;
 *      an unknown identifier is a reject with a reason;
 *   3. XSD check against the UBL / CII schemas;
 *   4. the EN 16931 business rules (BR-*, BR-CO-*, BR-DEC-*, VAT category
 *      rules, code lists BR-CL-*, syntax rules UBL-SR / CII-SR) and, in the
 *      XRechnung scenarios, the XRechnung rules (BR-DE-*, BR-DEX-*, the
 *      Peppol rules merged into XRechnung);
 *   5. the scenario's severity overrides; accept when no error remains.
 *
 * Every finding carries the rule id, the severity the rule set gives it
 * (fatal/warning/information), the severity after the scenario's overrides,
 * a message and the location (an XPath of the element or attribute).
 *
 * Memory: a report and everything in it live in the arena passed to
 * einvoice_validate and die with it.  The validator is owned by the caller
 * (einvoice_validator_free) and may be shared by threads: it compiles each
 * schema once, on first use or in einvoice_validator_preload, under a lock;
 * compiled schemas are read-only during validation.
 */
#ifndef KR_EINVOICE_EINVOICE_H
#define KR_EINVOICE_EINVOICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"

/* Largest invoice accepted (bytes), and the most elements in one. */
#define EINVOICE_MAX_SIZE (16u * 1024 * 1024)
#define EINVOICE_MAX_ELEMENTS 2000000u
/* Deepest element nesting accepted (invoices need about 12). */
#define EINVOICE_MAX_DEPTH 64

enum einvoice_syntax {
    EINVOICE_SYNTAX_UNKNOWN = 0,
    EINVOICE_SYNTAX_UBL_INVOICE,
    EINVOICE_SYNTAX_UBL_CREDITNOTE,
    EINVOICE_SYNTAX_CII,
};

/* The scenario chosen by the specification identifier (BT-24). */
enum einvoice_scenario {
    EINVOICE_SCENARIO_NONE = 0, /* no scenario matched: reject */
    EINVOICE_SCENARIO_XR_CIUS,  /* XRechnung 3.0 */
    EINVOICE_SCENARIO_XR_EXTENSION,
    EINVOICE_SCENARIO_XR_CVD,  /* XRechnung 3.0, clean vehicles directive */
    EINVOICE_SCENARIO_EN16931, /* urn:cen.eu:en16931:2017, CEN rules only */
};

enum einvoice_severity {
    EINVOICE_INFORMATION = 0,
    EINVOICE_WARNING = 1,
    EINVOICE_FATAL = 2,
};

struct einvoice_finding {
    const char *rule;                /* "BR-CO-10", "XSD", "SCENARIO", ... */
    enum einvoice_severity flag;     /* as the rule set defines it */
    enum einvoice_severity severity; /* after the scenario's overrides */
    const char *message;             /* English, one sentence */
    const char *location;            /* XPath; "" when not tied to a node */
};

enum einvoice_verdict {
    EINVOICE_ACCEPT = 0,
    EINVOICE_REJECT = 1,
    EINVOICE_UNREADABLE = 2, /* not well-formed XML, too large, not an invoice */
};

/* Key terms for reception and the workflow (arena strings, NULL when
 * absent; normalised as XPath normalize-space). */
struct einvoice_summary {
    const char *seller_vat_id;   /* BT-31 */
    const char *seller_id;       /* BT-29 (first), else BT-30 */
    const char *seller_name;     /* BT-27 */
    const char *seller_email;    /* BT-43 */
    const char *number;          /* BT-1 */
    const char *issue_date;      /* BT-2 as written */
    const char *buyer_reference; /* BT-10, the Leitweg-ID in Germany */
    const char *currency;        /* BT-5 */
    const char *amount_due;      /* BT-115 as written */
    const char *due_date;        /* BT-9 as written */
};

struct einvoice_report {
    enum einvoice_verdict verdict;
    enum einvoice_syntax syntax;
    enum einvoice_scenario scenario;
    const char *specification; /* BT-24 as found, or NULL */
    bool xsd_checked;          /* false when the schemas are not installed */
    bool xsd_valid;
    const char *reason;              /* one sentence why rejected/unreadable, or NULL */
    bool container_pdf;              /* the input was a ZUGFeRD/Factur-X PDF */
    const char *attachment;          /* its embedded file name ("factur-x.xml"), or NULL */
    const char *profile;             /* "MINIMUM" ... "XRECHNUNG" for PDFs, or NULL */
    struct einvoice_summary summary; /* filled unless unreadable */
    struct einvoice_finding *findings;
    size_t count;
};

struct einvoice_validator;

/*
 * A validator for the schemas in schema_dir (which holds ubl-2.1/ and
 * cii-d16b/ as in ../shared/xrechnung/schemas; NULL or "" for none).  When
 * a schema is not there, the validator works without the XSD layer and
 * says so in every report (xsd_checked false, finding "XSD-MISSING" as a
 * warning).  KR_ERR_NOMEM, KR_ERR_CONFIG for a path too long.  The caller
 * owns *out (einvoice_validator_free).
 */
int einvoice_validator_new(const char *schema_dir, struct einvoice_validator **out,
                           struct kr_error *err) KR_MUST_CHECK;

/* Compile all schemas now (a server does this at start, so that the first
 * request does not wait).  KR_ERR_CONFIG when a schema exists but does not
 * compile, KR_ERR_NOMEM. */
int einvoice_validator_preload(struct einvoice_validator *v, struct kr_error *err) KR_MUST_CHECK;

/* Free the validator and its schemas.  NULL is fine. */
void einvoice_validator_free(struct einvoice_validator *v);

/* True when the validator has the schema for the syntax. */
bool einvoice_validator_has_xsd(struct einvoice_validator *v, enum einvoice_syntax syntax);

/*
 * Validate one invoice of len bytes (v may be NULL: no XSD layer): XML, or
 * a ZUGFeRD/Factur-X PDF (starting with "%PDF-") whose embedded CII XML is
 * validated; its profile is reported, MINIMUM and BASIC WL are rejected as
 * not being invoices under EN 16931, BASIC and EXTENDED are checked
 * against EN 16931.  The report is allocated in arena a.  Returns KR_OK with *out filled for every
 * input, the unreadable ones included (verdict EINVOICE_UNREADABLE and a
 * reason); KR_ERR_NOMEM when the arena is exhausted.
 */
int einvoice_validate(struct einvoice_validator *v, struct arena *a, const char *data, size_t len,
                      struct einvoice_report **out, struct kr_error *err) KR_MUST_CHECK;

/* Stable names: "accept", "reject", "unreadable"; "ubl-invoice",
 * "ubl-creditnote", "cii", "unknown"; "xr-cius", "xr-extension",
 * "xr-cvd", "en16931", "none"; "fatal", "warning", "information". */
const char *einvoice_verdict_name(enum einvoice_verdict v);
const char *einvoice_syntax_name(enum einvoice_syntax s);
const char *einvoice_scenario_name(enum einvoice_scenario s);
const char *einvoice_severity_name(enum einvoice_severity s);

/* The report as a JSON object (new reference, caller owns; NULL on OOM):
 * {"verdict", "syntax", "scenario", "specification", "xsd", "reason",
 *  "container" ("xml"/"pdf"), "attachment", "profile",
 *  "findings": [{"rule", "severity", "flag", "message", "location"}]}. */
json_t *einvoice_report_json(const struct einvoice_report *r);

/* The report as text for people, appended to out: a headline with the
 * verdict, then one line per finding ("  fatal   BR-CO-10  message" and
 * the location below).  name labels the headline (a file name).  Returns
 * buf_status(out). */
int einvoice_report_text(const struct einvoice_report *r, const char *name, struct buf *out);

/*
 * The invoice for people to read (XML, or a ZUGFeRD PDF whose XML is
 * used): a new JSON object (caller owns) with "number", "issue_date",
 * "due_date", "currency", "buyer_reference", "payment_terms", "seller" and
 * "buyer" (name, vat_id, line1, postcode, city, country, contact, phone,
 * email), "payment" (means, iban, remittance), "lines" (id, name,
 * quantity, unit, price, net, vat_cat, vat_rate), "allowances", "vat"
 * (cat, rate, taxable, tax), "totals" (sum_lines ... payable) and
 * "skonto": the cash discounts of XRechnung payment terms
 * ("#SKONTO#TAGE=14#PROZENT=2.00#") with their deadline ("until") and
 * amount.  Absent terms are absent keys.  Parsing memory is in arena a.
 * KR_ERR_INVALID for input that is not an invoice, KR_ERR_NOMEM.
 */
int einvoice_view(struct arena *a, const char *data, size_t len, json_t **out,
                  struct kr_error *err) KR_MUST_CHECK;

/* A decimal amount as written in invoices ("1234.5", "-3.00") in cents;
 * false for more than two decimals, no digits or more than 15 digits. */
bool einvoice_cents(const char *s, int64_t *out);

/* A day as invoices write it ("2026-11-05" in UBL, "20261105" in CII) as
 * people read it ("05.11.2026"); false when it is not such a day. */
bool einvoice_day_text(const char *written, char out[16]);

#endif
