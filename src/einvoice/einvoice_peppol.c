/*
 * einvoice_peppol.c - the XRechnung extension rules (BR-DEX-*) and the
 * Peppol BIS Billing 3 rules that the XRechnung Schematron merges in
 * (PEPPOL-EN16931-R*).
 */
#include "einvoice/einvoice_rules.h"

/* ---- Extension ---------------------------------------------------------------- */

static void dex_code(struct ei_ctx *c, const char *rule, enum ei_codelist list,
                     const struct ei_val *scheme, const char *msg)
{
    if (ei_has(scheme) && !ei_code_in(list, ei_norm(c->a, scheme)))
        FATAL(rule, scheme->node->parent, msg);
}

static void dex_party(struct ei_ctx *c, const struct ei_party *p, bool sepa_ok)
{
    const char *m = "Any scheme identifier MUST be coded using one of the ISO 6523 ICD list "
                    "(with XR01, XR02, XR03).";
    EACH(const struct ei_id, id, p->ids)
    {
        if (!(sepa_ok && ei_eq(&id->scheme, "SEPA")))
            dex_code(c, id->registration ? "BR-DEX-05" : "BR-DEX-04", EI_CL_ICD_XR, &id->scheme, m);
    }
    dex_code(c, "BR-DEX-05", EI_CL_ICD_XR, &p->legal_id.scheme, m);
    dex_code(c, "BR-DEX-07", EI_CL_EAS_XR, &p->endpoint.scheme,
             "Any scheme identifier for an Endpoint Identifier MUST belong to the CEF EAS code "
             "list (with XR01, XR02, XR03).");
}

static bool dex_mime(const struct ei_val *mime)
{
    return ei_code_in(EI_CL_MIME, mime->s) || strcmp(mime->s, "application/xml") == 0;
}

static void dex_third_party(struct ei_ctx *c, double *paid)
{
    const struct ei_invoice *inv = c->inv;
    for (size_t i = 0; i < inv->third_party.n; i++) {
        xmlNode *n = inv->third_party.items[i];
        struct ei_val id = ei_get(c->a, n, "cbc:ID");
        struct ei_val amount = ei_get(c->a, n, "cbc:PaidAmount");
        struct ei_val instr = ei_get(c->a, n, "cbc:InstructionID");
        struct ei_val cur = ei_attr(amount.node, "currencyID");
        if (!ei_nonblank(&id))
            FATAL("BR-DEX-10", n, "The Third party payment type (BT-DEX-001) shall be provided.");
        if (!ei_nonblank(&amount))
            FATAL("BR-DEX-11", n,
                  "The Third party payment amount (BT-DEX-002) shall be "
                  "provided.");
        if (!ei_nonblank(&instr))
            FATAL("BR-DEX-12", n,
                  "The Third party payment description (BT-DEX-003) shall be "
                  "provided.");
        if (ei_decimals(&amount) > 2)
            FATAL("BR-DEX-13", n,
                  "The Third party payment amount (BT-DEX-002) has at most 2 "
                  "decimals.");
        if (!cur.s || !inv->currency.s || strcmp(cur.s, inv->currency.s) != 0)
            FATAL("BR-DEX-14", n,
                  "The currency of the Third party payment amount (BT-DEX-002) "
                  "shall be the Invoice currency code (BT-5).");
        *paid += ei_num0(&amount);
    }
}

static void extension(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    dex_party(c, &inv->seller, true);
    dex_party(c, &inv->buyer, false);
    dex_party(c, &inv->payee, true);
    dex_code(c, "BR-DEX-08", EI_CL_ICD_XR, &inv->delivery_location.scheme,
             "Any scheme identifier for a Delivery location identifier MUST be coded using one "
             "of the ISO 6523 ICD list (with XR01, XR02, XR03).");
    EACH(const struct ei_line, l, inv->lines)
    {
        EACH(const struct ei_id, id, l->std_ids)
        dex_code(c, "BR-DEX-06", EI_CL_ICD_XR, &id->scheme,
                 "Any scheme identifier MUST be coded using one of the ISO 6523 ICD list (with "
                 "XR01, XR02, XR03).");
    }
    EACH(const struct ei_attachment, at, inv->attachments)
    {
        if (ei_has(&at->binary) && (!at->mime.s || !dex_mime(&at->mime)))
            FATAL("BR-DEX-01", at->binary.node,
                  "The attached document (BT-125) uses a MIME "
                  "code that is not allowed.");
    }
    double paid = 0, payable, total;
    dex_third_party(c, &paid);
    if (inv->totals_node && ei_num(&inv->payable, &payable) &&
        ei_num(&inv->total_with_vat, &total) &&
        !ei_same(ei_round2(payable - ei_num0(&inv->rounding)),
                 ei_round2(total - ei_num0(&inv->prepaid) + paid)))
        FATAL("BR-DEX-09", inv->totals_node,
              "Amount due for payment (BT-115) = Invoice total "
              "amount with VAT (BT-112) - Paid amount (BT-113) + "
              "Rounding amount (BT-114) + Σ Third party payment "
              "amount (BT-DEX-002).");
}

/* Every sub invoice line has exactly one VAT category (BR-DEX-03, UBL). */
static bool sub_lines_ok(const xmlNode *line)
{
    for (xmlNode *s = ei_child(line, "cac:SubInvoiceLine"); s;
         s = ei_next(s, "cac:SubInvoiceLine")) {
        if (ei_count(ei_child(s, "cac:Item"), "cac:ClassifiedTaxCategory") != 1)
            return false;
        if (!sub_lines_ok(s))
            return false;
    }
    return true;
}

void ei_rules_xr_extension(struct ei_ctx *c)
{
    if (c->scenario != EINVOICE_SCENARIO_XR_EXTENSION)
        return;
    extension(c);
    if (c->inv->syntax != EINVOICE_SYNTAX_UBL_INVOICE)
        return;
    EACH(const struct ei_line, l, c->inv->lines)
    {
        if (!sub_lines_ok(l->node)) {
            FATAL("BR-DEX-03", c->inv->root,
                  "A Sub Invoice Line (BG-DEX-01) shall contain "
                  "exactly one SUB INVOICE LINE VAT INFORMATION "
                  "(BG-DEX-06).");
            break;
        }
    }
}

/* ---- Peppol ------------------------------------------------------------------- */

/* PEPPOL-EN16931-R008: no empty elements (no child element, blank text). */
static void empty_elements(struct ei_ctx *c, const xmlNode *n)
{
    bool has_child = false, has_text = false;
    for (const xmlNode *k = n->children; k; k = k->next) {
        if (k->type == XML_ELEMENT_NODE) {
            has_child = true;
            empty_elements(c, k);
        } else if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) && !has_text) {
            struct ei_val v = {(const char *)k->content, NULL};
            has_text = ei_nonblank(&v);
        }
    }
    /* CII requires the delivery group even when it has nothing to say. */
    if (!has_child && !has_text && !ei_is(n, "ram:ApplicableHeaderTradeDelivery"))
        FATAL("PEPPOL-EN16931-R008", n, "Document MUST not contain empty elements.");
}

static void price_rules(struct ei_ctx *c, const struct ei_line *l)
{
    double net, gross;
    if (ei_num(&l->gross_price, &gross) && ei_num(&l->price, &net) &&
        !ei_same(net, gross - ei_num0(&l->price_discount)))
        FATAL("PEPPOL-EN16931-R046", l->gross_price.node->parent,
              "Item net price MUST equal (Gross price - Allowance amount) when gross price is "
              "provided.");
    double qty, base = 1, amount;
    if (ei_num(&l->quantity, &qty) && ei_num(&l->price, &net) && ei_num(&l->net_amount, &amount)) {
        if (ei_has(&l->base_quantity) && (!ei_num(&l->base_quantity, &base) || base == 0))
            base = 1;
        double sum = qty * net / base;
        EACH(const struct ei_allowance, ac, l->allowances)
        sum += ac->charge ? ei_num0(&ac->amount) : -ei_num0(&ac->amount);
        if (fabs(amount - sum) > 0.02 + 1e-9)
            WARN("PEPPOL-EN16931-R120", l->node,
                 "Invoice line net amount MUST equal (Invoiced "
                 "quantity * (Item net price/item price base "
                 "quantity) + Sum of invoice line charge amount - "
                 "sum of invoice line allowance amount.");
    }
}

static void allowance_rule(struct ei_ctx *c, const struct ei_allowance *ac)
{
    double amount, base, pct;
    /* Peppol's slack is 0.02; an amount stated in whole units is rounded to them. */
    double slack = ei_decimals(&ac->amount) == 0 ? 0.5 : 0.02;
    if (ei_num(&ac->amount, &amount) && ei_num(&ac->base, &base) && ei_num(&ac->percent, &pct) &&
        fabs(amount - base * pct / 100.0) > slack + 1e-9)
        FATAL("PEPPOL-EN16931-R040", ac->node,
              "Allowance/charge amount must equal base amount * "
              "percentage/100 if base amount and percentage "
              "exists.");
    if (c->inv->syntax != EINVOICE_SYNTAX_CII && !ei_eq(&ac->indicator, "true") &&
        !ei_eq(&ac->indicator, "false"))
        FATAL("PEPPOL-EN16931-R043", ac->node,
              "Allowance/charge ChargeIndicator value MUST "
              "equal 'true' or 'false'.");
}

static void tax_totals(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    size_t with_sub, without_sub;
    if (inv->syntax == EINVOICE_SYNTAX_CII) {
        with_sub = without_sub = 0;
        for (size_t i = 0; i < inv->vat_totals_cur.n; i++) {
            const struct ei_val *cur = inv->vat_totals_cur.items[i];
            if (cur->s && inv->currency.s && ei_eq(cur, inv->currency.s))
                with_sub++;
            else
                without_sub++;
        }
    } else {
        with_sub = inv->tax_totals_with_sub;
        without_sub = inv->tax_totals - inv->tax_totals_with_sub;
    }
    xmlNode *at = inv->syntax == EINVOICE_SYNTAX_CII && inv->totals_node ? inv->totals_node->parent
                                                                         : inv->root;
    if (inv->syntax == EINVOICE_SYNTAX_CII ? with_sub > 1 : with_sub != 1)
        FATAL("PEPPOL-EN16931-R053", at,
              "Only one tax total with tax subtotals MUST be "
              "provided.");
    if (without_sub != (ei_has(&inv->tax_currency) ? 1u : 0u))
        FATAL("PEPPOL-EN16931-R054", at,
              "Only one tax total without tax subtotals MUST be "
              "provided when tax currency code is provided.");
}

void ei_rules_peppol(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    bool cii = inv->syntax == EINVOICE_SYNTAX_CII;
    xmlNode *context = cii ? ei_child(inv->root, "rsm:ExchangedDocumentContext") : inv->root;
    if (!ei_nonblank(&inv->process_id))
        FATAL("PEPPOL-EN16931-R001", context ? context : inv->root,
              "Business process MUST be provided.");
    if (ei_has(&inv->tax_currency) && ei_eq(&inv->tax_currency, ei_norm(c->a, &inv->currency)))
        FATAL("PEPPOL-EN16931-R005", inv->tax_currency.node,
              "VAT accounting currency code MUST be different from invoice currency code when "
              "provided.");
    if (inv->buyer.node && !ei_has(&inv->buyer.endpoint.v))
        FATAL("PEPPOL-EN16931-R010", inv->buyer.node,
              "Buyer electronic address MUST be "
              "provided.");
    if (inv->seller.node && !ei_has(&inv->seller.endpoint.v))
        FATAL("PEPPOL-EN16931-R020", inv->seller.node,
              "Seller electronic address MUST be "
              "provided.");
    empty_elements(c, inv->root);
    tax_totals(c);
    EACH(const struct ei_line, l, inv->lines)
    {
        price_rules(c, l);
        EACH(const struct ei_allowance, ac, l->allowances)
        allowance_rule(c, ac);
    }
    EACH(const struct ei_allowance, ac, inv->allowances)
    allowance_rule(c, ac);
    EACH(const struct ei_payment, p, inv->payments)
    {
        bool mandate = cii ? ei_has(&p->mandate_id) : ei_has(&p->mandate_id);
        if ((ei_eq(&p->code, "49") || ei_eq(&p->code, "59")) && !mandate)
            FATAL("PEPPOL-EN16931-R061", p->node,
                  "Mandate reference MUST be provided for direct "
                  "debit.");
    }
}
