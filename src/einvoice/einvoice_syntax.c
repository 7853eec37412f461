/*
 * einvoice_syntax.c - the CEN syntax binding rules that look at the XML
 * rather than the model: UBL-SR-* and CII-SR-* (cardinalities the schemas
 * allow but EN 16931 does not).
 */
#include "einvoice/einvoice_rules.h"

static void ubl_party_tax_schemes(struct ei_ctx *c, const xmlNode *party)
{
    for (xmlNode *t = ei_child(party, "cac:PartyTaxScheme"); t;
         t = ei_next(t, "cac:PartyTaxScheme"))
        if (!ei_child(t, "cbc:CompanyID"))
            FATAL("UBL-SR-53", t,
                  "CompanyID (VAT Identifier) must be stated when providing the "
                  "PartyTaxScheme/TaxScheme/ID.");
}

static void ubl_rules(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    ubl_party_tax_schemes(c, inv->seller.node);
    ubl_party_tax_schemes(c, inv->buyer.node);
    ubl_party_tax_schemes(c, inv->taxrep.node);
    EACH(const struct ei_line, l, inv->lines)
    {
        if (l->vat_categories != 1)
            FATAL("UBL-SR-48", l->node,
                  "Invoice lines shall have one and only one classified "
                  "tax category.");
    }
}

static void cii_rules(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    xmlNode *s = ei_path(inv->root, "rsm:SupplyChainTradeTransaction/"
                                    "ram:ApplicableHeaderTradeSettlement");
    size_t points = 0;
    for (xmlNode *t = ei_child(s, "ram:ApplicableTradeTax"); t;
         t = ei_next(t, "ram:ApplicableTradeTax"))
        points += ei_count(t, "ram:TaxPointDate");
    if (points > 1)
        FATAL("CII-SR-461", s, "Value added tax point date shall occur maximum once.");
    EACH(const struct ei_payment, p, inv->payments)
    {
        if ((ei_eq(&p->code, "30") || ei_eq(&p->code, "58")) && !p->credit_transfer) {
            FATAL("CII-SR-470", s,
                  "A credit transfer payment means needs the payee's "
                  "financial account.");
            break;
        }
    }
}

void ei_rules_syntax(struct ei_ctx *c)
{
    if (c->inv->syntax == EINVOICE_SYNTAX_CII)
        cii_rules(c);
    else
        ubl_rules(c);
}
