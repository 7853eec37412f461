/*
 * einvoice_model.h - the EN 16931 semantic model of one invoice (internal
 * to src/einvoice), filled from UBL or CII by einvoice_parse.c and read by
 * the rules.
 *
 * Every business term (BT-n) is a struct ei_val: its text as found in the
 * document (not trimmed) and the XML node it came from, which gives its
 * location (ei_location) for reports.  An absent term has node NULL and
 * s NULL; a present but empty one has s "".  Groups (BG-n) are structs
 * whose node is the element of the group.  The syntaxes differ in where a
 * term lives, not in what it means: the rules read only this model, apart
 * from the syntax rules (UBL-SR, CII-SR, Peppol's empty elements) that
 * look at the XML itself.
 *
 * Everything is allocated in the arena of the validation and points into
 * the libxml2 document, which the arena frees last.
 */
#ifndef KR_EINVOICE_MODEL_H
#define KR_EINVOICE_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "core/arena.h"
#include "einvoice/einvoice.h"

struct ei_val {
    const char *s;
    xmlNode *node; /* element, or attribute (cast) */
};

/* An identifier with its scheme (attribute schemeID / listID). */
struct ei_id {
    struct ei_val v;
    struct ei_val scheme;
    bool registration; /* CII party ram:ID: checked as a registration id */
};

/* A growable array in the arena. */
struct ei_vec {
    void **items;
    size_t n, cap;
};

struct ei_address { /* BG-5, BG-8, BG-10, BG-12, BG-15 */
    xmlNode *node;
    struct ei_val line1, line2, line3, city, postcode, subdivision, country;
};

struct ei_contact { /* BG-6, BG-9 */
    xmlNode *node;
    struct ei_val name, phone, email;
};

struct ei_party { /* BG-4 seller, BG-7 buyer, BG-10 payee, BG-11 tax rep. */
    xmlNode *node;
    struct ei_val name;         /* BT-27, BT-44, BT-59, BT-62 */
    struct ei_val trading_name; /* BT-28, BT-45 */
    struct ei_vec ids;          /* BT-29, BT-46, BT-60: struct ei_id */
    struct ei_id legal_id;      /* BT-30, BT-47, BT-61 */
    struct ei_val vat_id;       /* BT-31, BT-48, BT-63 */
    struct ei_val tax_reg_id;   /* BT-32 */
    struct ei_id endpoint;      /* BT-34, BT-49 */
    struct ei_address addr;
    struct ei_contact contact;
};

struct ei_allowance { /* BG-20/BG-21 document, BG-27/BG-28 line */
    xmlNode *node;
    bool charge;
    struct ei_val indicator;
    struct ei_val amount, base, percent, reason, reason_code;
    struct ei_val vat_cat, vat_rate; /* BT-95/102 and BT-96/103 (document) */
};

struct ei_vat { /* BG-23 VAT breakdown */
    xmlNode *node;
    struct ei_val taxable, tax, cat, rate, exemption, exemption_code;
    struct ei_val tax_currency; /* currencyID of the tax amount (UBL) */
};

/* A VAT total that must equal the sum of its VAT breakdowns (BR-CO-14):
 * in UBL each TaxTotal with TaxSubtotals, in CII the TaxTotalAmount in
 * the invoice currency against all ApplicableTradeTax. */
struct ei_tax_total {
    struct ei_val amount;
    double breakdown_sum;
};

struct ei_payment { /* BG-16 */
    xmlNode *node;
    struct ei_val code, remittance; /* BT-81, BT-83 */
    xmlNode *credit_transfer;       /* BG-17, first; NULL when absent */
    size_t credit_transfers;
    struct ei_val account;                     /* BT-84 of the first credit transfer */
    xmlNode *card;                             /* BG-18 */
    xmlNode *creditor_institution;             /* CII: BT-86 outside BT-84\'s element */
    xmlNode *mandate;                          /* BG-19 (UBL PaymentMandate, CII: see parser) */
    struct ei_val mandate_id, debited_account; /* BT-89, BT-91 */
};

struct ei_line { /* BG-25 */
    xmlNode *node;
    struct ei_val id, quantity, unit, net_amount;
    struct ei_val price, gross_price, price_discount, base_quantity;
    struct ei_val item_name, vat_cat, vat_rate;
    struct ei_val gross_base_quantity; /* CII only: BT-149 given twice */
    struct ei_val period_start, period_end;
    struct ei_vec allowances; /* struct ei_allowance, both kinds */
    struct ei_vec std_ids;    /* BT-157: struct ei_id */
    struct ei_vec classes;    /* BT-158: struct ei_id (listID) */
    size_t vat_categories;    /* how many ClassifiedTaxCategory */
};

struct ei_attachment { /* BG-24 */
    xmlNode *node;
    struct ei_val id, binary, mime, filename, uri;
};

struct ei_invoice {
    enum einvoice_syntax syntax;
    xmlDoc *doc;
    xmlNode *root;
    struct ei_val spec_id;       /* BT-24 */
    struct ei_val process_id;    /* BT-23 */
    struct ei_val number;        /* BT-1 */
    struct ei_val issue_date;    /* BT-2 */
    struct ei_val type_code;     /* BT-3 */
    struct ei_val currency;      /* BT-5 */
    struct ei_val tax_currency;  /* BT-6 */
    struct ei_val tax_point;     /* BT-7 */
    struct ei_val due_date;      /* BT-9 */
    struct ei_val buyer_ref;     /* BT-10 */
    struct ei_val payment_terms; /* BT-20 (first) */
    xmlNode *payment_terms_node;
    struct ei_vec preceding; /* BG-3: struct ei_val (BT-25) */
    struct ei_party seller, buyer, payee, taxrep;
    bool has_payee, has_taxrep;
    struct ei_vec creditor_ids;      /* BT-90 (SEPA ids of seller/payee) */
    struct ei_id delivery_location;  /* BT-71 */
    struct ei_address delivery_addr; /* BG-15 */
    struct ei_val delivery_date;     /* BT-72 */
    xmlNode *invoice_period;         /* BG-14 */
    struct ei_val period_start, period_end;
    /* BG-22 totals */
    xmlNode *totals_node;
    struct ei_val sum_lines, allowance_total, charge_total, total_without_vat;
    struct ei_val total_with_vat, prepaid, rounding, payable;
    struct ei_vec vat_totals;         /* BT-110/BT-111: struct ei_val with currencyID */
    struct ei_vec vat_totals_cur;     /* currencyID of each, struct ei_val */
    struct ei_vec vat_totals_checked; /* BR-CO-14: struct ei_tax_total */
    size_t tax_totals;                /* UBL TaxTotal elements */
    size_t tax_totals_with_sub;       /* of which with TaxSubtotal */
    struct ei_vec vat;                /* struct ei_vat */
    struct ei_vec allowances;         /* struct ei_allowance, both kinds */
    struct ei_vec payments;           /* struct ei_payment */
    struct ei_vec lines;              /* struct ei_line */
    struct ei_vec attachments;        /* struct ei_attachment */
    struct ei_vec third_party;        /* UBL PrepaidPayment (extension) nodes */
    size_t sub_lines;                 /* extension sub invoice lines */
};

/* Append item to vec (arena-grown).  KR_OK or KR_ERR_NOMEM. */
int ei_vec_push(struct arena *a, struct ei_vec *vec, void *item);

/* True if the term is present / present with non-blank text. */
static inline bool ei_has(const struct ei_val *v)
{
    return v->node != NULL;
}
bool ei_nonblank(const struct ei_val *v);

/* The text with XPath normalize-space applied, in the arena ("" when
 * absent). */
const char *ei_norm(struct arena *a, const struct ei_val *v);

/* Compare normalize-space(v) to s without allocating. */
bool ei_eq(const struct ei_val *v, const char *s);

/* Parse the value as a decimal number like xs:decimal (no exponent).
 * False when absent or not a number. */
bool ei_num(const struct ei_val *v, double *out);

/* XPath of a node ("/Invoice[1]/cac:TaxTotal[1]/cbc:TaxAmount[1]"), in the
 * arena; "" for NULL. */
const char *ei_location(struct arena *a, const xmlNode *node);

/* Parse len bytes into the model.  On KR_OK *out is set; the document
 * belongs to the arena.  KR_ERR_INVALID with a message for input that is
 * not a well-formed invoice of a known syntax, KR_ERR_TOO_LARGE beyond
 * the limits, KR_ERR_NOMEM. */
int ei_parse(struct arena *a, const char *data, size_t len, struct ei_invoice **out,
             struct kr_error *err) KR_MUST_CHECK;

/* ---- Rules (einvoice_rules*.c) ------------------------------------------- */

struct ei_ctx {
    struct arena *a;
    const struct ei_invoice *inv;
    enum einvoice_scenario scenario;
    struct ei_vec findings; /* struct einvoice_finding */
    int status;             /* KR_OK or the first KR_ERR_NOMEM */
};

/* Record a failed rule at node.  Sets ctx->status on OOM. */
void ei_fail(struct ei_ctx *c, const char *rule, enum einvoice_severity flag, const xmlNode *node,
             const char *message);

/* The rule sets. */
void ei_rules_en16931(struct ei_ctx *c);
void ei_rules_codelists(struct ei_ctx *c);
void ei_rules_syntax(struct ei_ctx *c);
void ei_rules_xrechnung(struct ei_ctx *c);

/* Code list membership (einvoice_codes.c): code normalised as XPath
 * normalize-space; false for codes with inner blanks. */
enum ei_codelist {
    EI_CL_1001_INV, /* invoice type codes (UNTDID 1001 subset) */
    EI_CL_1001_CN,  /* credit note type codes */
    EI_CL_4217,     /* currencies */
    EI_CL_3166,     /* countries */
    EI_CL_4461,     /* payment means */
    EI_CL_5189,     /* allowance reasons */
    EI_CL_7161,     /* charge reasons */
    EI_CL_5305,     /* VAT categories */
    EI_CL_7143,     /* item classification schemes */
    EI_CL_ICD,      /* ISO 6523 ICD */
    EI_CL_EAS,      /* CEF EAS */
    EI_CL_MIME,     /* attachment MIME codes */
    EI_CL_REC20,    /* units (UN/ECE Rec 20 + 21) */
    EI_CL_2005,     /* date codes for VAT point */
    EI_CL_VATEX,    /* VAT exemption reasons */
    EI_CL_1153,     /* reference qualifiers */
    EI_CL_ICD_XR,   /* ICD plus XR01-XR03 (XRechnung extension) */
    EI_CL_EAS_XR,   /* EAS plus XR01-XR03 */
};
bool ei_code_in(enum ei_codelist list, const char *code);

#endif
