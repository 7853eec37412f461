/*
 * einvoice_codelists.c - the code list rules BR-CL-* and BR-CO-09 (VAT
 * identifier prefixes).  The lists are in einvoice_codes.c.
 */
#include <ctype.h>

#include "einvoice/einvoice_rules.h"

/* Fail rule at the value when it is present and not in the list. */
static void code(struct ei_ctx *c, const char *rule, enum ei_codelist list, const struct ei_val *v,
                 const char *msg)
{
    if (ei_has(v) && !ei_code_in(list, ei_norm(c->a, v)))
        FATAL(rule, v->node->type == XML_ATTRIBUTE_NODE ? v->node->parent : v->node, msg);
}

static void party_ids(struct ei_ctx *c, const struct ei_party *p, bool sepa_ok)
{
    EACH(const struct ei_id, id, p->ids)
    {
        if (!ei_has(&id->scheme))
            continue;
        if (sepa_ok && ei_eq(&id->scheme, "SEPA"))
            continue;
        if (id->registration)
            code(c, "BR-CL-11", EI_CL_ICD, &id->scheme,
                 "Any registration identifier identification scheme identifier MUST be coded "
                 "using one of the ISO 6523 ICD list.");
        else
            code(c, "BR-CL-10", EI_CL_ICD, &id->scheme,
                 "Any identifier identification scheme identifier MUST be coded using one of the "
                 "ISO 6523 ICD list.");
    }
    code(c, "BR-CL-11", EI_CL_ICD, &p->legal_id.scheme,
         "Any registration identifier identification scheme identifier MUST be coded using one "
         "of the ISO 6523 ICD list.");
    code(c, "BR-CL-25", EI_CL_EAS, &p->endpoint.scheme,
         "Endpoint identifier scheme identifier MUST belong to the CEF EAS code list.");
    code(c, "BR-CL-14", EI_CL_3166, &p->addr.country,
         "Country codes in an invoice MUST be coded using ISO code list 3166-1.");
}

static bool vat_prefix_ok(const struct ei_val *v)
{
    const char *s = v->s;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (!isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1]))
        return false;
    char cc[3] = {s[0], s[1], '\0'};
    return strcmp(cc, "EL") == 0 || (strcmp(cc, "XI") != 0 && ei_code_in(EI_CL_3166, cc));
}

static void vat_ids(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    const struct ei_val *ids[] = {&inv->seller.vat_id, &inv->buyer.vat_id, &inv->taxrep.vat_id};
    for (size_t i = 0; i < KR_EI_LEN(ids); i++) {
        if (!ei_has(ids[i]) || vat_prefix_ok(ids[i]))
            continue;
        FATAL("BR-CO-09",
              c->inv->syntax == EINVOICE_SYNTAX_CII ? ids[i]->node : ids[i]->node->parent,
              "The VAT identifier shall have a prefix in accordance with ISO code ISO 3166-1 "
              "alpha-2 by which the country of issue may be identified (Greece: 'EL').");
    }
}

static void allowance_codes(struct ei_ctx *c, const struct ei_allowance *ac, bool document)
{
    if (ac->charge)
        code(c, "BR-CL-20", EI_CL_7161, &ac->reason_code,
             "Coded charge reasons MUST belong to the UNCL 7161 code list.");
    else
        code(c, "BR-CL-19", EI_CL_5189, &ac->reason_code,
             "Coded allowance reasons MUST belong to the UNCL 5189 code list.");
    if (document)
        code(c, "BR-CL-17", EI_CL_5305, &ac->vat_cat,
             "Invoice tax categories MUST be coded using UNCL5305 code list.");
}

static void line_codes(struct ei_ctx *c, const struct ei_line *l)
{
    code(c, "BR-CL-18", EI_CL_5305, &l->vat_cat,
         "Invoice tax categories MUST be coded using UNCL5305 code list.");
    code(c, "BR-CL-23", EI_CL_REC20, &l->unit,
         "Unit code MUST be coded according to the UN/ECE Recommendation 20 with Rec 21 "
         "extension.");
    EACH(const struct ei_allowance, ac, l->allowances)
    allowance_codes(c, ac, false);
    EACH(const struct ei_id, id, l->std_ids)
    code(c, "BR-CL-21", EI_CL_ICD, &id->scheme,
         "Item standard identifier scheme identifier MUST belong to the ISO 6523 ICD code list.");
    EACH(const struct ei_id, id, l->classes)
    code(c, "BR-CL-13", EI_CL_7143, &id->scheme,
         "Item classification identifier identification scheme identifier MUST be coded using "
         "one of the UNTDID 7143 list.");
}

static void document_codes(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    enum ei_codelist types =
        inv->syntax == EINVOICE_SYNTAX_UBL_CREDITNOTE ? EI_CL_1001_CN : EI_CL_1001_INV;
    bool cii_credit = inv->syntax == EINVOICE_SYNTAX_CII &&
                      ei_code_in(EI_CL_1001_CN, ei_norm(c->a, &inv->type_code));
    if (!cii_credit)
        code(c, "BR-CL-01", types, &inv->type_code,
             "The document type code MUST be coded by the invoice and credit note related code "
             "lists of UNTDID 1001.");
    code(c, "BR-CL-04", EI_CL_4217, &inv->currency,
         "Invoice currency code MUST be coded using ISO code list 4217 alpha-3.");
    code(c, "BR-CL-05", EI_CL_4217, &inv->tax_currency,
         "Tax currency code MUST be coded using ISO code list 4217 alpha-3.");
    code(c, "BR-CL-26", EI_CL_ICD, &inv->delivery_location.scheme,
         "Delivery location identifier scheme identifier MUST belong to the ISO 6523 ICD code "
         "list.");
    code(c, "BR-CL-14", EI_CL_3166, &inv->delivery_addr.country,
         "Country codes in an invoice MUST be coded using ISO code list 3166-1.");
    EACH(const struct ei_payment, p, inv->payments)
    code(c, "BR-CL-16", EI_CL_4461, &p->code,
         "Payment means in an invoice MUST be coded using UNCL4461 code list.");
    EACH(const struct ei_attachment, at, inv->attachments)
    code(c, "BR-CL-24", EI_CL_MIME, &at->mime, "For Mime code in attribute use MIMEMediaType.");
    EACH(const struct ei_vat, v, inv->vat)
    {
        code(c, "BR-CL-17", EI_CL_5305, &v->cat,
             "Invoice tax categories MUST be coded using UNCL5305 code list.");
        if (ei_has(&v->exemption_code)) {
            char up[64];
            const char *s = ei_norm(c->a, &v->exemption_code);
            size_t i = 0;
            for (; s[i] && i + 1 < sizeof(up); i++)
                up[i] = (char)toupper((unsigned char)s[i]);
            up[i] = '\0';
            if (!ei_code_in(EI_CL_VATEX, up))
                FATAL("BR-CL-22", v->exemption_code.node,
                      "Tax exemption reason code identifier scheme identifier MUST belong to the "
                      "CEF VATEX code list.");
        }
    }
    EACH(const struct ei_allowance, ac, inv->allowances)
    allowance_codes(c, ac, true);
}

void ei_rules_codelists(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    document_codes(c);
    party_ids(c, &inv->seller, true);
    party_ids(c, &inv->buyer, false);
    party_ids(c, &inv->payee, true);
    party_ids(c, &inv->taxrep, false);
    EACH(const struct ei_line, l, inv->lines)
    line_codes(c, l);
    vat_ids(c);
}
