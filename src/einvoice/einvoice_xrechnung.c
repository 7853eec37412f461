/*
 * einvoice_xrechnung.c - the XRechnung 3.0 rules: the CIUS (BR-DE-*), the
 * extension (BR-DEX-*), and the Peppol BIS rules that the XRechnung
 * Schematron merges in (PEPPOL-EN16931-R*).  They run only in XRechnung
 * scenarios.
 */
#include <ctype.h>

#include "einvoice/einvoice_rules.h"

/* ---- BR-DE-18: Skonto lines in the payment terms ------------------------------ */

static bool digits(const char **p, size_t min)
{
    size_t n = 0;
    while (isdigit((unsigned char)**p))
        (*p)++, n++;
    return n >= min;
}

static bool amount2(const char **p)
{
    if (!digits(p, 1) || **p != '.')
        return false;
    (*p)++;
    return isdigit((unsigned char)(*p)[0]) && isdigit((unsigned char)(*p)[1]) && ((*p) += 2);
}

/* #SKONTO#TAGE=n#PROZENT=n.nn(#BASISBETRAG=-?n.nn)?# and nothing else. */
static bool skonto_at(const char *p)
{
    if (strncmp(p, "#SKONTO#", 8) != 0)
        return false;
    p += 8;
    if (strncmp(p, "TAGE=", 5) != 0)
        return false;
    p += 5;
    if (!digits(&p, 1) || strncmp(p, "#PROZENT=", 9) != 0)
        return false;
    p += 9;
    if (!amount2(&p))
        return false;
    if (strncmp(p, "#BASISBETRAG=", 13) == 0) {
        p += 13;
        if (*p == '-')
            p++;
        if (!amount2(&p))
            return false;
    }
    return strcmp(p, "#") == 0;
}

/* The line (normalised, starting with '#') is one Skonto entry. */
static bool skonto_line_ok(const char *line)
{
    return skonto_at(line);
}

/* True when the note satisfies BR-DE-18 (see the XRechnung Schematron). */
static bool skonto_ok(struct arena *a, const char *note)
{
    bool any = false, ok = true;
    const char *rest = NULL; /* text after the last #...# on one line */
    for (const char *line = note; line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        struct ei_val v = {arena_strndup(a, line, len), NULL};
        const char *norm = v.s ? ei_norm(a, &v) : "";
        if (norm[0] == '#') {
            any = true;
            ok = ok && skonto_line_ok(norm);
        }
        const char *first = memchr(line, '#', len), *last = NULL;
        for (const char *p = line; p < line + len; p++)
            if (*p == '#')
                last = p;
        if (first && last > first)
            rest = last + 1;
        line = nl ? nl + 1 : NULL;
    }
    if (!any)
        return true;
    if (!rest)
        rest = note;
    while (*rest == ' ' || *rest == '\t' || *rest == '\r') /* \s* then \n */
        rest++;
    return ok && *rest == '\n';
}

/* ---- Helpers --------------------------------------------------------------------- */

static bool pays_by(const struct ei_payment *p, const char *const *codes)
{
    for (; *codes; codes++)
        if (ei_eq(&p->code, *codes))
            return true;
    return false;
}

static const char *const transfer[] = {"30", "58", NULL};
static const char *const card[] = {"48", "54", "55", NULL};
static const char *const debit[] = {"59", NULL};

/* CII has no element for BG-19: it exists when BT-89, BT-90 or BT-91 does. */
static bool cii_bt91(const struct ei_invoice *inv)
{
    EACH(const struct ei_payment, p, inv->payments)
    {
        if (ei_has(&p->debited_account))
            return true;
    }
    return false;
}

static bool cii_bt89(const struct ei_invoice *inv)
{
    EACH(const struct ei_payment, p, inv->payments)
    {
        if (ei_has(&p->mandate_id))
            return true;
    }
    return false;
}

static void cii_direct_debit(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    bool b89 = cii_bt89(inv), b90 = inv->creditor_ids.n > 0, b91 = cii_bt91(inv);
    /* As the XRechnung Schematron: each test needs its element and one other. */
    if (!(b89 || b90 || b91))
        return;
    if (!((b89 || b91) && b90))
        FATAL("BR-DE-30", inv->root,
              "If DIRECT DEBIT (BG-19) is present, the Bank assigned "
              "creditor identifier (BT-90) shall be provided.");
    if (!((b89 || b90) && b91))
        FATAL("BR-DE-31", inv->root,
              "If DIRECT DEBIT (BG-19) is present, the Debited account "
              "identifier (BT-91) shall be provided.");
}

static void ubl_direct_debit(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    bool mandate = false, account = false;
    EACH(const struct ei_payment, p, inv->payments)
    {
        mandate = mandate || p->mandate;
        account = account || ei_has(&p->debited_account);
    }
    if (mandate && inv->creditor_ids.n == 0)
        FATAL("BR-DE-30", inv->root,
              "If DIRECT DEBIT (BG-19) is present, the Bank assigned "
              "creditor identifier (BT-90) shall be provided.");
    if (mandate && !account)
        FATAL("BR-DE-31", inv->root,
              "If DIRECT DEBIT (BG-19) is present, the Debited account "
              "identifier (BT-91) shall be provided.");
}

static void payment_means(struct ei_ctx *c, const struct ei_payment *p)
{
    bool cii = c->inv->syntax == EINVOICE_SYNTAX_CII;
    /* In CII, BG-19 is the mandate, the creditor id or the debited account. */
    bool dd = cii ? cii_bt89(c->inv) || c->inv->creditor_ids.n > 0 || ei_has(&p->debited_account)
                  : p->mandate != NULL;
    if (pays_by(p, transfer)) {
        if (!p->credit_transfer)
            FATAL("BR-DE-23-a", p->node,
                  "If the Payment means type code (BT-81) is a credit "
                  "transfer (30, 58), CREDIT TRANSFER (BG-17) shall be "
                  "provided.");
        if (p->card || dd)
            FATAL("BR-DE-23-b", p->node,
                  "If the Payment means type code (BT-81) is a credit "
                  "transfer (30, 58), BG-18 and BG-19 shall not be "
                  "provided.");
    } else if (pays_by(p, card)) {
        if (!p->card)
            FATAL("BR-DE-24-a", p->node,
                  "If the Payment means type code (BT-81) is a card "
                  "payment (48, 54, 55), PAYMENT CARD INFORMATION (BG-18) "
                  "shall be provided.");
        if (p->credit_transfer || dd)
            FATAL("BR-DE-24-b", p->node,
                  "If the Payment means type code (BT-81) is a card "
                  "payment (48, 54, 55), BG-17 and BG-19 shall not be "
                  "provided.");
    } else if (pays_by(p, debit)) {
        if (!dd)
            FATAL("BR-DE-25-a", p->node,
                  "If the Payment means type code (BT-81) is a direct "
                  "debit (59), DIRECT DEBIT (BG-19) shall be provided.");
        if (p->credit_transfer || p->card || p->creditor_institution)
            FATAL("BR-DE-25-b", p->node,
                  "If the Payment means type code (BT-81) is a direct "
                  "debit (59), BG-17 and BG-18 shall not be provided.");
    }
}

/* ---- BR-DE ------------------------------------------------------------------------ */

/* BR-TMP-3 (CII): the price base quantity (BT-149) of gross and net price
 * must be the same, as EN 16931 has one. */
static void price_base_quantities(struct ei_ctx *c)
{
    EACH(const struct ei_line, l, c->inv->lines)
    {
        double g, n;
        if (ei_num(&l->gross_base_quantity, &g) && ei_num(&l->base_quantity, &n) && g != n)
            FATAL("BR-TMP-3", l->node,
                  "The Item price base quantity (BT-149) of the gross price "
                  "and of the net price shall be the same.");
    }
}

static void parties(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    const struct ei_party *s = &inv->seller, *b = &inv->buyer;
    if (s->node && !s->contact.node)
        FATAL("BR-DE-2", s->node, "The group SELLER CONTACT (BG-6) shall be provided.");
    if (s->addr.node && !ei_nonblank(&s->addr.city))
        FATAL("BR-DE-3", s->addr.node, "The Seller city (BT-37) shall be provided.");
    if (s->addr.node && !ei_nonblank(&s->addr.postcode))
        FATAL("BR-DE-4", s->addr.node, "The Seller post code (BT-38) shall be provided.");
    if (s->contact.node) {
        if (!ei_nonblank(&s->contact.name))
            FATAL("BR-DE-5", s->contact.node,
                  "The Seller contact point (BT-41) shall be "
                  "provided.");
        if (!ei_nonblank(&s->contact.phone))
            FATAL("BR-DE-6", s->contact.node,
                  "The Seller contact telephone number (BT-42) "
                  "shall be provided.");
        if (!ei_nonblank(&s->contact.email))
            FATAL("BR-DE-7", s->contact.node,
                  "The Seller contact email address (BT-43) shall "
                  "be provided.");
    }
    if (b->addr.node && !ei_nonblank(&b->addr.city))
        FATAL("BR-DE-8", b->addr.node, "The Buyer city (BT-52) shall be provided.");
    if (b->addr.node && !ei_nonblank(&b->addr.postcode))
        FATAL("BR-DE-9", b->addr.node, "The Buyer post code (BT-53) shall be provided.");
    if (inv->delivery_addr.node && !ei_nonblank(&inv->delivery_addr.city))
        FATAL("BR-DE-10", inv->delivery_addr.node,
              "The Deliver to city (BT-77) shall be "
              "provided.");
    if (inv->delivery_addr.node && !ei_nonblank(&inv->delivery_addr.postcode))
        FATAL("BR-DE-11", inv->delivery_addr.node,
              "The Deliver to post code (BT-78) shall be "
              "provided.");
}

static bool tax_code_de16(const struct ei_val *v)
{
    static const char *const codes[] = {"S", "Z", "E", "AE", "K", "G", "L", "M"};
    for (size_t i = 0; i < KR_EI_LEN(codes); i++)
        if (ei_eq(v, codes[i]))
            return true;
    return false;
}

static void vat_rules(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    bool used = false;
    EACH(const struct ei_line, l, inv->lines)
    used = used || tax_code_de16(&l->vat_cat);
    EACH(const struct ei_allowance, ac, inv->allowances)
    used = used || tax_code_de16(&ac->vat_cat);
    bool ids =
        ei_nonblank(&inv->seller.vat_id) || ei_nonblank(&inv->seller.tax_reg_id) || inv->has_taxrep;
    if (used && !ids)
        FATAL("BR-DE-16", inv->root,
              "If the VAT codes S, Z, E, AE, K, G, L or M are used, the "
              "Seller VAT identifier (BT-31), the Seller tax "
              "registration identifier (BT-32) or the SELLER TAX "
              "REPRESENTATIVE PARTY (BG-11) shall be provided.");
    EACH(const struct ei_vat, v, inv->vat)
    {
        if (!ei_nonblank(&v->rate))
            FATAL("BR-DE-14", v->node, "The VAT category rate (BT-119) shall be provided.");
    }
}

static void document_rules(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    if (inv->payments.n == 0)
        FATAL("BR-DE-1", inv->root, "An Invoice shall contain PAYMENT INSTRUCTIONS (BG-16).");
    if (!ei_nonblank(&inv->buyer_ref))
        FATAL("BR-DE-15", inv->root, "The Buyer reference (BT-10) shall be provided.");
    if (inv->payment_terms.s && !skonto_ok(c->a, inv->payment_terms.s))
        FATAL("BR-DE-18", inv->payment_terms.node,
              "Skonto lines in the Payment terms (BT-20) shall match "
              "#SKONTO#TAGE=n#PROZENT=n.nn(#BASISBETRAG=n.nn)?# and end with a line break.");
    EACH(const struct ei_attachment, at, inv->attachments)
    {
        if (!at->filename.s)
            continue;
        for (size_t k = 0; k < at_i; k++) {
            const struct ei_attachment *o = inv->attachments.items[k];
            if (o->filename.s && strcmp(o->filename.s, at->filename.s) == 0) {
                FATAL("BR-DE-22", inv->root,
                      "The filename attributes of all attached "
                      "documents shall be unique.");
                return;
            }
        }
    }
    if (inv->syntax == EINVOICE_SYNTAX_CII)
        cii_direct_debit(c);
    else
        ubl_direct_debit(c);
    EACH(const struct ei_payment, p, inv->payments)
    payment_means(c, p);
}

static void warnings(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    static const char *const types[] = {"326", "380", "384", "389", "381", "875", "876", "877"};
    bool ok = false;
    for (size_t i = 0; i < KR_EI_LEN(types); i++)
        ok = ok || ei_eq(&inv->type_code, types[i]);
    if (!ok)
        WARN("BR-DE-17", inv->type_code.node ? inv->type_code.node : inv->root,
             "The Invoice type code (BT-3) should be 326, 380, 384, 389, 381, 875, 876 or 877.");
    if (ei_eq(&inv->type_code, "384") && inv->preceding.n == 0)
        WARN("BR-DE-26", inv->root,
             "A corrected invoice (384) should have a PRECEDING INVOICE "
             "REFERENCE (BG-3).");
    const struct ei_contact *k = &inv->seller.contact;
    if (k->node) {
        size_t n = 0;
        for (const char *p = k->phone.s ? k->phone.s : ""; *p; p++)
            n += isdigit((unsigned char)*p) != 0;
        if (n < 3)
            WARN("BR-DE-27", k->node,
                 "The Seller contact telephone number (BT-42) should "
                 "contain at least three digits.");
        const char *e = k->email.s ? strchr(k->email.s, '@') : NULL;
        if (!e || strchr(e + 1, '@') || !strchr(e, '.'))
            WARN("BR-DE-28", k->node,
                 "The Seller contact email address (BT-43) should contain "
                 "exactly one @ between valid parts.");
    }
}

void ei_rules_xrechnung(struct ei_ctx *c)
{
    parties(c);
    if (c->inv->syntax == EINVOICE_SYNTAX_CII)
        price_base_quantities(c);
    vat_rules(c);
    document_rules(c);
    warnings(c);
    ei_rules_xr_extension(c);
    ei_rules_peppol(c);
}
