/*
 * einvoice_en16931.c - the core business rules of EN 16931 (BR-01 ...
 * BR-65), the conditions BR-CO-* and the decimals rules BR-DEC-*.
 * Message texts follow the CEN artefacts' wording, shortened.
 */
#include "einvoice/einvoice_rules.h"

size_t ei_decimals(const struct ei_val *v)
{
    if (!v->s)
        return 0;
    const char *dot = strchr(v->s, '.');
    if (!dot)
        return 0;
    size_t n = 0;
    for (const char *p = dot + 1; *p >= '0' && *p <= '9'; p++)
        n++;
    return n;
}

static void mandatory_header(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    xmlNode *r = inv->root;
    if (!ei_has(&inv->spec_id))
        FATAL("BR-01", r, "An Invoice shall have a Specification identifier (BT-24).");
    if (!ei_has(&inv->number))
        FATAL("BR-02", r, "An Invoice shall have an Invoice number (BT-1).");
    if (!ei_has(&inv->issue_date))
        FATAL("BR-03", r, "An Invoice shall have an Invoice issue date (BT-2).");
    if (!ei_has(&inv->type_code))
        FATAL("BR-04", r, "An Invoice shall have an Invoice type code (BT-3).");
    if (!ei_has(&inv->currency))
        FATAL("BR-05", r, "An Invoice shall have an Invoice currency code (BT-5).");
    if (!ei_has(&inv->seller.name))
        FATAL("BR-06", r, "An Invoice shall contain the Seller name (BT-27).");
    if (!ei_has(&inv->buyer.name))
        FATAL("BR-07", r, "An Invoice shall contain the Buyer name (BT-44).");
    if (!inv->seller.addr.node)
        FATAL("BR-08", r, "An Invoice shall contain the Seller postal address (BG-5).");
    else if (!ei_has(&inv->seller.addr.country))
        FATAL("BR-09", inv->seller.addr.node,
              "The Seller postal address (BG-5) shall contain a Seller country code (BT-40).");
    if (!inv->buyer.addr.node)
        FATAL("BR-10", r, "An Invoice shall contain the Buyer postal address (BG-8).");
    else if (!ei_has(&inv->buyer.addr.country))
        FATAL("BR-11", inv->buyer.addr.node,
              "The Buyer postal address shall contain a Buyer country code (BT-55).");
    if (inv->lines.n == 0)
        FATAL("BR-16", r, "An Invoice shall have at least one Invoice line (BG-25).");
}

static void mandatory_totals(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    xmlNode *t = inv->totals_node ? inv->totals_node : inv->root;
    if (!ei_has(&inv->sum_lines))
        FATAL("BR-12", t, "An Invoice shall have the Sum of Invoice line net amount (BT-106).");
    if (!ei_has(&inv->total_without_vat))
        FATAL("BR-13", t, "An Invoice shall have the Invoice total amount without VAT (BT-109).");
    if (!ei_has(&inv->total_with_vat))
        FATAL("BR-14", t, "An Invoice shall have the Invoice total amount with VAT (BT-112).");
    if (!ei_has(&inv->payable))
        FATAL("BR-15", t, "An Invoice shall have the Amount due for payment (BT-115).");
}

static void parties(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    if (inv->has_payee && !ei_has(&inv->payee.name))
        FATAL("BR-17", inv->payee.node,
              "The Payee name (BT-59) shall be provided if the Payee (BG-10) is different "
              "from the Seller.");
    if (inv->has_taxrep) {
        if (!ei_has(&inv->taxrep.name))
            FATAL("BR-18", inv->taxrep.node,
                  "The Seller tax representative name (BT-62) shall be provided if the "
                  "Seller (BG-4) has a Seller tax representative party (BG-11).");
        if (!inv->taxrep.addr.node)
            FATAL("BR-19", inv->taxrep.node,
                  "The Seller tax representative postal address (BG-12) shall be provided.");
        else if (!ei_has(&inv->taxrep.addr.country))
            FATAL("BR-20", inv->taxrep.addr.node,
                  "The Seller tax representative postal address (BG-12) shall contain a "
                  "country code (BT-69).");
        if (!ei_has(&inv->taxrep.vat_id))
            FATAL("BR-56", inv->taxrep.node,
                  "Each Seller tax representative party (BG-11) shall have a Seller tax "
                  "representative VAT identifier (BT-63).");
    }
    if (inv->delivery_addr.node && !ei_has(&inv->delivery_addr.country))
        FATAL("BR-57", inv->delivery_addr.node,
              "Each Deliver to address (BG-15) shall contain a Deliver to country code (BT-80).");
    if (ei_has(&inv->seller.endpoint.v) && !ei_has(&inv->seller.endpoint.scheme))
        FATAL("BR-62", inv->seller.endpoint.v.node,
              "The Seller electronic address (BT-34) shall have a Scheme identifier.");
    if (ei_has(&inv->buyer.endpoint.v) && !ei_has(&inv->buyer.endpoint.scheme))
        FATAL("BR-63", inv->buyer.endpoint.v.node,
              "The Buyer electronic address (BT-49) shall have a Scheme identifier.");
    const struct ei_party *s = &inv->seller;
    if (!ei_has(&s->vat_id) && !ei_has(&s->legal_id.v) && s->ids.n == 0)
        FATAL("BR-CO-26", s->node ? s->node : inv->root,
              "In order for the buyer to automatically identify a supplier, the Seller "
              "identifier (BT-29), the Seller legal registration identifier (BT-30) and/or the "
              "Seller VAT identifier (BT-31) shall be present.");
}

static void line_rules(struct ei_ctx *c, const struct ei_line *l)
{
    xmlNode *n = l->node;
    if (!ei_has(&l->id))
        FATAL("BR-21", n,
              "Each Invoice line (BG-25) shall have an Invoice line identifier "
              "(BT-126).");
    if (!ei_has(&l->quantity))
        FATAL("BR-22", n, "Each Invoice line (BG-25) shall have an Invoiced quantity (BT-129).");
    if (!ei_has(&l->unit))
        FATAL("BR-23", n,
              "An Invoice line (BG-25) shall have an Invoiced quantity unit of "
              "measure code (BT-130).");
    if (!ei_has(&l->net_amount))
        FATAL("BR-24", n,
              "Each Invoice line (BG-25) shall have an Invoice line net amount "
              "(BT-131).");
    if (!ei_has(&l->item_name))
        FATAL("BR-25", n, "Each Invoice line (BG-25) shall contain the Item name (BT-153).");
    double d;
    if (!ei_has(&l->price))
        FATAL("BR-26", n, "Each Invoice line (BG-25) shall contain the Item net price (BT-146).");
    else if (!ei_num(&l->price, &d) || d < 0)
        FATAL("BR-27", n, "The Item net price (BT-146) shall NOT be negative.");
    if (ei_has(&l->gross_price) && (!ei_num(&l->gross_price, &d) || d < 0))
        FATAL("BR-28", n, "The Item gross price (BT-148) shall NOT be negative.");
    if (!ei_has(&l->vat_cat))
        FATAL("BR-CO-04", n,
              "Each Invoice line (BG-25) shall be categorized with an Invoiced "
              "item VAT category code (BT-151).");
    if (ei_has(&l->period_start) && ei_has(&l->period_end) &&
        strcmp(ei_norm(c->a, &l->period_end), ei_norm(c->a, &l->period_start)) < 0)
        FATAL("BR-30", n,
              "If both Invoice line period start date (BT-134) and end date "
              "(BT-135) are given then the end date shall be later or equal to the "
              "start date.");
    EACH(struct ei_allowance, ac, l->allowances)
    {
        if (!ei_has(&ac->amount))
            FATAL(ac->charge ? "BR-43" : "BR-41", ac->node,
                  "Each Invoice line allowance/charge shall have an amount.");
        if (!ei_has(&ac->reason) && !ei_has(&ac->reason_code)) {
            FATAL(ac->charge ? "BR-44" : "BR-42", ac->node,
                  "Each Invoice line allowance/charge shall have a reason or a reason code.");
            FATAL(ac->charge ? "BR-CO-24" : "BR-CO-23", ac->node,
                  "Each Invoice line allowance/charge shall contain a reason or a reason "
                  "code, or both.");
        }
    }
}

static void document_allowances(struct ei_ctx *c)
{
    EACH(struct ei_allowance, ac, c->inv->allowances)
    {
        if (!ei_has(&ac->amount))
            FATAL(ac->charge ? "BR-36" : "BR-31", ac->node,
                  "Each Document level allowance/charge shall have an amount.");
        if (!ei_has(&ac->vat_cat))
            FATAL(ac->charge ? "BR-37" : "BR-32", ac->node,
                  "Each Document level allowance/charge shall have a VAT category code.");
        if (!ei_has(&ac->reason) && !ei_has(&ac->reason_code)) {
            FATAL(ac->charge ? "BR-38" : "BR-33", ac->node,
                  "Each Document level allowance/charge shall have a reason or a reason code.");
            FATAL(ac->charge ? "BR-CO-22" : "BR-CO-21", ac->node,
                  "Each Document level allowance/charge shall contain a reason or a reason "
                  "code, or both.");
        }
    }
}

static void vat_breakdown_presence(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    if (inv->vat.n == 0)
        FATAL("BR-CO-18", inv->root,
              "An Invoice shall at least have one VAT breakdown group "
              "(BG-23).");
    EACH(struct ei_vat, v, inv->vat)
    {
        if (!ei_has(&v->taxable))
            FATAL("BR-45", v->node,
                  "Each VAT breakdown (BG-23) shall have a VAT category "
                  "taxable amount (BT-116).");
        if (!ei_has(&v->tax))
            FATAL("BR-46", v->node,
                  "Each VAT breakdown (BG-23) shall have a VAT category tax "
                  "amount (BT-117).");
        if (!ei_has(&v->cat))
            FATAL("BR-47", v->node,
                  "Each VAT breakdown (BG-23) shall be defined through a VAT "
                  "category code (BT-118).");
        if (!ei_has(&v->rate) && !ei_eq(&v->cat, "O"))
            FATAL("BR-48", v->node,
                  "Each VAT breakdown (BG-23) shall have a VAT category rate "
                  "(BT-119), except if the Invoice is not subject to VAT.");
    }
}

static void payments(struct ei_ctx *c)
{
    EACH(struct ei_payment, p, c->inv->payments)
    {
        if (!ei_has(&p->code))
            FATAL("BR-49", p->node,
                  "A Payment instruction (BG-16) shall specify the Payment "
                  "means type code (BT-81).");
        if (p->credit_transfer && !ei_has(&p->account))
            FATAL("BR-50", p->credit_transfer,
                  "A Payment account identifier (BT-84) shall be "
                  "present if Credit transfer (BG-17) information "
                  "is provided in the Invoice.");
        if (c->inv->syntax != EINVOICE_SYNTAX_CII &&
            (ei_eq(&p->code, "30") || ei_eq(&p->code, "58")) && !ei_has(&p->account))
            FATAL("BR-61", p->node,
                  "If the Payment means type code (BT-81) means SEPA credit "
                  "transfer, Local credit transfer or Non-SEPA international "
                  "credit transfer, the Payment account identifier (BT-84) "
                  "shall be present.");
    }
    EACH(struct ei_attachment, at, c->inv->attachments)
    {
        if (!ei_has(&at->id))
            FATAL("BR-52", at->node,
                  "Each Additional supporting document (BG-24) shall contain "
                  "a Supporting document reference (BT-122).");
    }
    const struct ei_invoice *inv = c->inv;
    if (ei_has(&inv->period_start) && ei_has(&inv->period_end) &&
        strcmp(ei_norm(c->a, &inv->period_end), ei_norm(c->a, &inv->period_start)) < 0)
        FATAL("BR-29", inv->invoice_period,
              "If both Invoicing period start date (BT-73) and end "
              "date (BT-74) are given then the end date shall be "
              "later or equal to the start date.");
}

void ei_rules_en16931(struct ei_ctx *c)
{
    mandatory_header(c);
    mandatory_totals(c);
    parties(c);
    EACH(struct ei_line, l, c->inv->lines)
    line_rules(c, l);
    document_allowances(c);
    vat_breakdown_presence(c);
    payments(c);
    ei_rules_vat(c);
}
