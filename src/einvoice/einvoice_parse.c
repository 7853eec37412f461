/*
 * einvoice_parse.c - UBL Invoice, UBL CreditNote and CII into the EN 16931
 * model (einvoice_model.h).  The element paths follow the syntax bindings
 * of EN 16931-3-2 (UBL) and EN 16931-3-3 (CII).
 */
#include <string.h>

#include "einvoice/einvoice_model.h"
#include "einvoice/einvoice_xml.h"

#define GET(n, path) ei_get(a, (n), (path))

/* Add up the VAT breakdowns' tax amounts (BT-117) parsed so far. */
#define EACH_VAT_SUM(inv, sum)                                                                     \
    for (size_t k_ = 0; k_ < (inv)->vat.n; k_++) {                                                 \
        double d_;                                                                                 \
        if (ei_num(&((struct ei_vat *)(inv)->vat.items[k_])->tax, &d_))                            \
            (sum) += d_;                                                                           \
    }

/* Push a fresh zeroed T into vec; NULL on OOM. */
static void *push_new(struct arena *a, struct ei_vec *vec, size_t size)
{
    void *p = arena_zalloc(a, size);
    if (p && ei_vec_push(a, vec, p))
        return NULL;
    return p;
}

static int push_id(struct arena *a, struct ei_vec *vec, xmlNode *e, const char *scheme_attr)
{
    struct ei_id *id = push_new(a, vec, sizeof(*id));
    if (!id)
        return KR_ERR_NOMEM;
    id->v = ei_node_val(a, e);
    id->scheme = ei_attr(e, scheme_attr);
    return KR_OK;
}

static struct ei_id get_id(struct arena *a, xmlNode *p, const char *path, const char *attr)
{
    struct ei_id id = {0};
    id.v = GET(p, path);
    id.scheme = ei_attr(id.v.node, attr);
    return id;
}

/* ---- UBL -------------------------------------------------------------------- */

static void ubl_address(struct arena *a, xmlNode *n, struct ei_address *ad)
{
    ad->node = n;
    ad->line1 = GET(n, "cbc:StreetName");
    ad->line2 = GET(n, "cbc:AdditionalStreetName");
    ad->line3 = GET(n, "cac:AddressLine/cbc:Line");
    ad->city = GET(n, "cbc:CityName");
    ad->postcode = GET(n, "cbc:PostalZone");
    ad->subdivision = GET(n, "cbc:CountrySubentity");
    ad->country = GET(n, "cac:Country/cbc:IdentificationCode");
}

/* The PartyTaxScheme whose TaxScheme/ID is (or is not) VAT. */
static struct ei_val ubl_tax_scheme(struct arena *a, xmlNode *party, bool vat)
{
    for (xmlNode *t = ei_child(party, "cac:PartyTaxScheme"); t;
         t = ei_next(t, "cac:PartyTaxScheme")) {
        struct ei_val s = GET(t, "cac:TaxScheme/cbc:ID");
        if (ei_eq(&s, "VAT") == vat)
            return GET(t, "cbc:CompanyID");
    }
    struct ei_val none = {NULL, NULL};
    return none;
}

static int ubl_party(struct arena *a, xmlNode *n, struct ei_party *p, struct ei_vec *sepa)
{
    p->node = n;
    if (!n)
        return KR_OK;
    p->trading_name = GET(n, "cac:PartyName/cbc:Name");
    p->name = GET(n, "cac:PartyLegalEntity/cbc:RegistrationName");
    p->legal_id = get_id(a, n, "cac:PartyLegalEntity/cbc:CompanyID", "schemeID");
    p->vat_id = ubl_tax_scheme(a, n, true);
    p->tax_reg_id = ubl_tax_scheme(a, n, false);
    p->endpoint = get_id(a, n, "cbc:EndpointID", "schemeID");
    for (xmlNode *i = ei_child(n, "cac:PartyIdentification"); i;
         i = ei_next(i, "cac:PartyIdentification")) {
        xmlNode *id = ei_child(i, "cbc:ID");
        if (!id)
            continue;
        struct ei_val scheme = ei_attr(id, "schemeID");
        int rc = push_id(a, sepa && ei_eq(&scheme, "SEPA") ? sepa : &p->ids, id, "schemeID");
        if (rc)
            return rc;
    }
    xmlNode *addr = ei_child(n, "cac:PostalAddress");
    if (addr)
        ubl_address(a, addr, &p->addr);
    xmlNode *c = ei_child(n, "cac:Contact");
    if (c) {
        p->contact.node = c;
        p->contact.name = GET(c, "cbc:Name");
        p->contact.phone = GET(c, "cbc:Telephone");
        p->contact.email = GET(c, "cbc:ElectronicMail");
    }
    return KR_OK;
}

static int ubl_allowance(struct arena *a, xmlNode *n, struct ei_vec *vec)
{
    struct ei_allowance *ac = push_new(a, vec, sizeof(*ac));
    if (!ac)
        return KR_ERR_NOMEM;
    ac->node = n;
    ac->indicator = GET(n, "cbc:ChargeIndicator");
    ac->charge = ei_eq(&ac->indicator, "true");
    ac->amount = GET(n, "cbc:Amount");
    ac->base = GET(n, "cbc:BaseAmount");
    ac->percent = GET(n, "cbc:MultiplierFactorNumeric");
    ac->reason = GET(n, "cbc:AllowanceChargeReason");
    ac->reason_code = GET(n, "cbc:AllowanceChargeReasonCode");
    ac->vat_cat = GET(n, "cac:TaxCategory/cbc:ID");
    ac->vat_rate = GET(n, "cac:TaxCategory/cbc:Percent");
    return KR_OK;
}

static int ubl_line(struct arena *a, xmlNode *n, bool credit, struct ei_invoice *inv)
{
    struct ei_line *l = push_new(a, &inv->lines, sizeof(*l));
    if (!l)
        return KR_ERR_NOMEM;
    l->node = n;
    l->id = GET(n, "cbc:ID");
    l->quantity = GET(n, credit ? "cbc:CreditedQuantity" : "cbc:InvoicedQuantity");
    l->unit = ei_attr(l->quantity.node, "unitCode");
    l->net_amount = GET(n, "cbc:LineExtensionAmount");
    l->price = GET(n, "cac:Price/cbc:PriceAmount");
    l->base_quantity = GET(n, "cac:Price/cbc:BaseQuantity");
    l->gross_price = GET(n, "cac:Price/cac:AllowanceCharge/cbc:BaseAmount");
    l->price_discount = GET(n, "cac:Price/cac:AllowanceCharge/cbc:Amount");
    l->item_name = GET(n, "cac:Item/cbc:Name");
    xmlNode *item = ei_child(n, "cac:Item");
    l->vat_categories = ei_count(item, "cac:ClassifiedTaxCategory");
    l->vat_cat = GET(n, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID");
    l->vat_rate = GET(n, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent");
    l->period_start = GET(n, "cac:InvoicePeriod/cbc:StartDate");
    l->period_end = GET(n, "cac:InvoicePeriod/cbc:EndDate");
    int rc = KR_OK;
    for (xmlNode *c = ei_child(n, "cac:AllowanceCharge"); c && !rc;
         c = ei_next(c, "cac:AllowanceCharge"))
        rc = ubl_allowance(a, c, &l->allowances);
    for (xmlNode *c = ei_child(item, "cac:StandardItemIdentification"); c && !rc;
         c = ei_next(c, "cac:StandardItemIdentification"))
        if (ei_child(c, "cbc:ID"))
            rc = push_id(a, &l->std_ids, ei_child(c, "cbc:ID"), "schemeID");
    for (xmlNode *c = ei_child(item, "cac:CommodityClassification"); c && !rc;
         c = ei_next(c, "cac:CommodityClassification"))
        if (ei_child(c, "cbc:ItemClassificationCode"))
            rc = push_id(a, &l->classes, ei_child(c, "cbc:ItemClassificationCode"), "listID");
    return rc;
}

static int ubl_payment(struct arena *a, xmlNode *n, struct ei_invoice *inv)
{
    struct ei_payment *p = push_new(a, &inv->payments, sizeof(*p));
    if (!p)
        return KR_ERR_NOMEM;
    p->node = n;
    p->code = GET(n, "cbc:PaymentMeansCode");
    p->remittance = GET(n, "cbc:PaymentID");
    p->credit_transfer = ei_child(n, "cac:PayeeFinancialAccount");
    p->credit_transfers = ei_count(n, "cac:PayeeFinancialAccount");
    p->account = GET(n, "cac:PayeeFinancialAccount/cbc:ID");
    p->card = ei_child(n, "cac:CardAccount");
    p->mandate = ei_child(n, "cac:PaymentMandate");
    p->mandate_id = GET(n, "cac:PaymentMandate/cbc:ID");
    p->debited_account = GET(n, "cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID");
    return KR_OK;
}

static int ubl_tax_total(struct arena *a, xmlNode *t, struct ei_invoice *inv)
{
    inv->tax_totals++;
    struct ei_val *amount = push_new(a, &inv->vat_totals, sizeof(*amount));
    struct ei_val *cur = push_new(a, &inv->vat_totals_cur, sizeof(*cur));
    if (!amount || !cur)
        return KR_ERR_NOMEM;
    *amount = GET(t, "cbc:TaxAmount");
    *cur = ei_attr(amount->node, "currencyID");
    struct ei_tax_total *checked = NULL;
    if (ei_child(t, "cac:TaxSubtotal")) {
        inv->tax_totals_with_sub++;
        checked = push_new(a, &inv->vat_totals_checked, sizeof(*checked));
        if (!checked)
            return KR_ERR_NOMEM;
        checked->amount = *amount;
    }
    for (xmlNode *s = ei_child(t, "cac:TaxSubtotal"); s; s = ei_next(s, "cac:TaxSubtotal")) {
        struct ei_vat *v = push_new(a, &inv->vat, sizeof(*v));
        if (!v)
            return KR_ERR_NOMEM;
        v->node = s;
        v->taxable = GET(s, "cbc:TaxableAmount");
        v->tax = GET(s, "cbc:TaxAmount");
        v->tax_currency = ei_attr(v->tax.node, "currencyID");
        v->cat = GET(s, "cac:TaxCategory/cbc:ID");
        v->rate = GET(s, "cac:TaxCategory/cbc:Percent");
        v->exemption = GET(s, "cac:TaxCategory/cbc:TaxExemptionReason");
        v->exemption_code = GET(s, "cac:TaxCategory/cbc:TaxExemptionReasonCode");
        double d;
        if (checked && ei_num(&v->tax, &d))
            checked->breakdown_sum += d;
    }
    return KR_OK;
}

static int ubl_attachments(struct arena *a, xmlNode *r, struct ei_invoice *inv)
{
    for (xmlNode *d = ei_child(r, "cac:AdditionalDocumentReference"); d;
         d = ei_next(d, "cac:AdditionalDocumentReference")) {
        struct ei_attachment *at = push_new(a, &inv->attachments, sizeof(*at));
        if (!at)
            return KR_ERR_NOMEM;
        at->node = d;
        at->id = GET(d, "cbc:ID");
        at->binary = GET(d, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject");
        at->mime = ei_attr(at->binary.node, "mimeCode");
        at->filename = ei_attr(at->binary.node, "filename");
        at->uri = GET(d, "cac:Attachment/cac:ExternalReference/cbc:URI");
    }
    for (xmlNode *d = ei_child(r, "cac:BillingReference"); d;
         d = ei_next(d, "cac:BillingReference")) {
        struct ei_val *v = push_new(a, &inv->preceding, sizeof(*v));
        if (!v)
            return KR_ERR_NOMEM;
        *v = GET(d, "cac:InvoiceDocumentReference/cbc:ID");
    }
    return KR_OK;
}

static void ubl_header(struct arena *a, xmlNode *r, bool credit, struct ei_invoice *inv)
{
    inv->spec_id = GET(r, "cbc:CustomizationID");
    inv->process_id = GET(r, "cbc:ProfileID");
    inv->number = GET(r, "cbc:ID");
    inv->issue_date = GET(r, "cbc:IssueDate");
    inv->type_code = GET(r, credit ? "cbc:CreditNoteTypeCode" : "cbc:InvoiceTypeCode");
    inv->currency = GET(r, "cbc:DocumentCurrencyCode");
    inv->tax_currency = GET(r, "cbc:TaxCurrencyCode");
    inv->tax_point = GET(r, "cbc:TaxPointDate");
    inv->due_date = credit ? GET(r, "cac:PaymentMeans/cbc:PaymentDueDate") : GET(r, "cbc:DueDate");
    inv->buyer_ref = GET(r, "cbc:BuyerReference");
    inv->payment_terms_node = ei_child(r, "cac:PaymentTerms");
    inv->payment_terms = GET(r, "cac:PaymentTerms/cbc:Note");
    inv->invoice_period = ei_child(r, "cac:InvoicePeriod");
    inv->period_start = GET(r, "cac:InvoicePeriod/cbc:StartDate");
    inv->period_end = GET(r, "cac:InvoicePeriod/cbc:EndDate");
    inv->delivery_date = GET(r, "cac:Delivery/cbc:ActualDeliveryDate");
    inv->delivery_location = get_id(a, r, "cac:Delivery/cac:DeliveryLocation/cbc:ID", "schemeID");
    xmlNode *da = ei_path(r, "cac:Delivery/cac:DeliveryLocation/cac:Address");
    if (da)
        ubl_address(a, da, &inv->delivery_addr);
    xmlNode *t = ei_child(r, "cac:LegalMonetaryTotal");
    inv->totals_node = t;
    inv->sum_lines = GET(t, "cbc:LineExtensionAmount");
    inv->allowance_total = GET(t, "cbc:AllowanceTotalAmount");
    inv->charge_total = GET(t, "cbc:ChargeTotalAmount");
    inv->total_without_vat = GET(t, "cbc:TaxExclusiveAmount");
    inv->total_with_vat = GET(t, "cbc:TaxInclusiveAmount");
    inv->prepaid = GET(t, "cbc:PrepaidAmount");
    inv->rounding = GET(t, "cbc:PayableRoundingAmount");
    inv->payable = GET(t, "cbc:PayableAmount");
}

static int ubl_sub_lines(xmlNode *line, struct ei_invoice *inv)
{
    for (xmlNode *s = ei_child(line, "cac:SubInvoiceLine"); s;
         s = ei_next(s, "cac:SubInvoiceLine")) {
        inv->sub_lines++;
        ubl_sub_lines(s, inv);
    }
    return KR_OK;
}

static int ubl_parse(struct arena *a, xmlNode *r, bool credit, struct ei_invoice *inv)
{
    ubl_header(a, r, credit, inv);
    int rc = ubl_party(a, ei_path(r, "cac:AccountingSupplierParty/cac:Party"), &inv->seller,
                       &inv->creditor_ids);
    if (rc == KR_OK)
        rc = ubl_party(a, ei_path(r, "cac:AccountingCustomerParty/cac:Party"), &inv->buyer, NULL);
    inv->has_payee = ei_child(r, "cac:PayeeParty") != NULL;
    if (rc == KR_OK)
        rc = ubl_party(a, ei_child(r, "cac:PayeeParty"), &inv->payee, &inv->creditor_ids);
    if (inv->payee.node)
        inv->payee.name = GET(inv->payee.node, "cac:PartyName/cbc:Name");
    inv->has_taxrep = ei_child(r, "cac:TaxRepresentativeParty") != NULL;
    if (rc == KR_OK)
        rc = ubl_party(a, ei_child(r, "cac:TaxRepresentativeParty"), &inv->taxrep, NULL);
    if (inv->taxrep.node)
        inv->taxrep.name = GET(inv->taxrep.node, "cac:PartyName/cbc:Name");
    for (xmlNode *c = ei_child(r, "cac:AllowanceCharge"); c && !rc;
         c = ei_next(c, "cac:AllowanceCharge"))
        rc = ubl_allowance(a, c, &inv->allowances);
    for (xmlNode *c = ei_child(r, "cac:PaymentMeans"); c && !rc; c = ei_next(c, "cac:PaymentMeans"))
        rc = ubl_payment(a, c, inv);
    for (xmlNode *c = ei_child(r, "cac:TaxTotal"); c && !rc; c = ei_next(c, "cac:TaxTotal"))
        rc = ubl_tax_total(a, c, inv);
    const char *line_name = credit ? "cac:CreditNoteLine" : "cac:InvoiceLine";
    for (xmlNode *c = ei_child(r, line_name); c && !rc; c = ei_next(c, line_name)) {
        rc = ubl_line(a, c, credit, inv);
        if (rc == KR_OK)
            rc = ubl_sub_lines(c, inv);
    }
    for (xmlNode *c = ei_child(r, "cac:PrepaidPayment"); c && !rc;
         c = ei_next(c, "cac:PrepaidPayment"))
        rc = ei_vec_push(a, &inv->third_party, c);
    if (rc == KR_OK)
        rc = ubl_attachments(a, r, inv);
    return rc;
}

/* ---- CII -------------------------------------------------------------------- */

static void cii_address(struct arena *a, xmlNode *n, struct ei_address *ad)
{
    ad->node = n;
    ad->line1 = GET(n, "ram:LineOne");
    ad->line2 = GET(n, "ram:LineTwo");
    ad->line3 = GET(n, "ram:LineThree");
    ad->city = GET(n, "ram:CityName");
    ad->postcode = GET(n, "ram:PostcodeCode");
    ad->subdivision = GET(n, "ram:CountrySubDivisionName");
    ad->country = GET(n, "ram:CountryID");
}

static struct ei_val cii_tax_reg(struct arena *a, xmlNode *n, const char *scheme)
{
    struct ei_val none = {NULL, NULL};
    for (xmlNode *t = ei_child(n, "ram:SpecifiedTaxRegistration"); t;
         t = ei_next(t, "ram:SpecifiedTaxRegistration")) {
        xmlNode *id = ei_child(t, "ram:ID");
        struct ei_val s = ei_attr(id, "schemeID");
        if (id && ei_eq(&s, scheme)) {
            struct ei_val v = {ei_text(a, id), id};
            return v;
        }
    }
    return none;
}

static int cii_party(struct arena *a, xmlNode *n, struct ei_party *p)
{
    p->node = n;
    if (!n)
        return KR_OK;
    p->name = GET(n, "ram:Name");
    p->trading_name = GET(n, "ram:SpecifiedLegalOrganization/ram:TradingBusinessName");
    p->legal_id = get_id(a, n, "ram:SpecifiedLegalOrganization/ram:ID", "schemeID");
    p->vat_id = cii_tax_reg(a, n, "VA");
    p->tax_reg_id = cii_tax_reg(a, n, "FC");
    p->endpoint = get_id(a, n, "ram:URIUniversalCommunication/ram:URIID", "schemeID");
    int rc = KR_OK;
    for (xmlNode *i = ei_child(n, "ram:ID"); i && !rc; i = ei_next(i, "ram:ID")) {
        rc = push_id(a, &p->ids, i, "schemeID");
        if (rc == KR_OK)
            ((struct ei_id *)p->ids.items[p->ids.n - 1])->registration = true;
    }
    for (xmlNode *i = ei_child(n, "ram:GlobalID"); i && !rc; i = ei_next(i, "ram:GlobalID"))
        rc = push_id(a, &p->ids, i, "schemeID");
    xmlNode *addr = ei_child(n, "ram:PostalTradeAddress");
    if (addr)
        cii_address(a, addr, &p->addr);
    xmlNode *c = ei_child(n, "ram:DefinedTradeContact");
    if (c) {
        p->contact.node = c;
        p->contact.name = GET(c, "ram:PersonName");
        if (!ei_has(&p->contact.name))
            p->contact.name = GET(c, "ram:DepartmentName");
        p->contact.phone = GET(c, "ram:TelephoneUniversalCommunication/ram:CompleteNumber");
        p->contact.email = GET(c, "ram:EmailURIUniversalCommunication/ram:URIID");
    }
    return rc;
}

static int cii_allowance(struct arena *a, xmlNode *n, struct ei_vec *vec)
{
    struct ei_allowance *ac = push_new(a, vec, sizeof(*ac));
    if (!ac)
        return KR_ERR_NOMEM;
    ac->node = n;
    ac->indicator = GET(n, "ram:ChargeIndicator/udt:Indicator");
    ac->charge = ei_eq(&ac->indicator, "true");
    ac->amount = GET(n, "ram:ActualAmount");
    ac->base = GET(n, "ram:BasisAmount");
    ac->percent = GET(n, "ram:CalculationPercent");
    ac->reason = GET(n, "ram:Reason");
    ac->reason_code = GET(n, "ram:ReasonCode");
    ac->vat_cat = GET(n, "ram:CategoryTradeTax/ram:CategoryCode");
    ac->vat_rate = GET(n, "ram:CategoryTradeTax/ram:RateApplicablePercent");
    return KR_OK;
}

static int cii_line(struct arena *a, xmlNode *n, struct ei_invoice *inv)
{
    struct ei_line *l = push_new(a, &inv->lines, sizeof(*l));
    if (!l)
        return KR_ERR_NOMEM;
    l->node = n;
    l->id = GET(n, "ram:AssociatedDocumentLineDocument/ram:LineID");
    l->quantity = GET(n, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity");
    l->unit = ei_attr(l->quantity.node, "unitCode");
    xmlNode *ag = ei_child(n, "ram:SpecifiedLineTradeAgreement");
    l->price = GET(ag, "ram:NetPriceProductTradePrice/ram:ChargeAmount");
    l->base_quantity = GET(ag, "ram:NetPriceProductTradePrice/ram:BasisQuantity");
    l->gross_price = GET(ag, "ram:GrossPriceProductTradePrice/ram:ChargeAmount");
    l->gross_base_quantity = GET(ag, "ram:GrossPriceProductTradePrice/ram:BasisQuantity");
    l->price_discount = GET(ag, "ram:GrossPriceProductTradePrice/ram:AppliedTradeAllowanceCharge/"
                                "ram:ActualAmount");
    xmlNode *item = ei_child(n, "ram:SpecifiedTradeProduct");
    l->item_name = GET(item, "ram:Name");
    xmlNode *st = ei_child(n, "ram:SpecifiedLineTradeSettlement");
    l->vat_categories = ei_count(st, "ram:ApplicableTradeTax");
    l->vat_cat = GET(st, "ram:ApplicableTradeTax/ram:CategoryCode");
    l->vat_rate = GET(st, "ram:ApplicableTradeTax/ram:RateApplicablePercent");
    l->period_start = GET(st, "ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString");
    l->period_end = GET(st, "ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString");
    l->net_amount =
        GET(st, "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount");
    int rc = KR_OK;
    for (xmlNode *c = ei_child(st, "ram:SpecifiedTradeAllowanceCharge"); c && !rc;
         c = ei_next(c, "ram:SpecifiedTradeAllowanceCharge"))
        rc = cii_allowance(a, c, &l->allowances);
    for (xmlNode *c = ei_child(item, "ram:GlobalID"); c && !rc; c = ei_next(c, "ram:GlobalID"))
        rc = push_id(a, &l->std_ids, c, "schemeID");
    for (xmlNode *c = ei_child(item, "ram:DesignatedProductClassification"); c && !rc;
         c = ei_next(c, "ram:DesignatedProductClassification"))
        if (ei_child(c, "ram:ClassCode"))
            rc = push_id(a, &l->classes, ei_child(c, "ram:ClassCode"), "listID");
    return rc;
}

static int cii_payment(struct arena *a, xmlNode *n, xmlNode *settlement, struct ei_invoice *inv)
{
    struct ei_payment *p = push_new(a, &inv->payments, sizeof(*p));
    if (!p)
        return KR_ERR_NOMEM;
    p->node = n;
    p->code = GET(n, "ram:TypeCode");
    p->remittance = GET(settlement, "ram:PaymentReference");
    p->credit_transfer = ei_child(n, "ram:PayeePartyCreditorFinancialAccount");
    p->credit_transfers = ei_count(n, "ram:PayeePartyCreditorFinancialAccount");
    p->account = GET(n, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID");
    if (!ei_has(&p->account))
        p->account = GET(n, "ram:PayeePartyCreditorFinancialAccount/ram:ProprietaryID");
    p->card = ei_child(n, "ram:ApplicableTradeSettlementFinancialCard");
    p->creditor_institution = ei_child(n, "ram:PayeeSpecifiedCreditorFinancialInstitution");
    if (!p->creditor_institution)
        p->creditor_institution = ei_child(n, "ram:PayerSpecifiedDebtorFinancialInstitution");
    p->mandate = ei_child(n, "ram:PayerPartyDebtorFinancialAccount");
    p->mandate_id = GET(settlement, "ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID");
    p->debited_account = GET(n, "ram:PayerPartyDebtorFinancialAccount/ram:IBANID");
    return KR_OK;
}

static int cii_tax(struct arena *a, xmlNode *s, struct ei_invoice *inv)
{
    for (xmlNode *t = ei_child(s, "ram:ApplicableTradeTax"); t;
         t = ei_next(t, "ram:ApplicableTradeTax")) {
        struct ei_vat *v = push_new(a, &inv->vat, sizeof(*v));
        if (!v)
            return KR_ERR_NOMEM;
        v->node = t;
        v->taxable = GET(t, "ram:BasisAmount");
        v->tax = GET(t, "ram:CalculatedAmount");
        v->cat = GET(t, "ram:CategoryCode");
        v->rate = GET(t, "ram:RateApplicablePercent");
        v->exemption = GET(t, "ram:ExemptionReason");
        v->exemption_code = GET(t, "ram:ExemptionReasonCode");
        if (!ei_has(&inv->tax_point))
            inv->tax_point = GET(t, "ram:TaxPointDate/udt:DateString");
    }
    xmlNode *m = ei_child(s, "ram:SpecifiedTradeSettlementHeaderMonetarySummation");
    for (xmlNode *t = ei_child(m, "ram:TaxTotalAmount"); t; t = ei_next(t, "ram:TaxTotalAmount")) {
        struct ei_val *amount = push_new(a, &inv->vat_totals, sizeof(*amount));
        struct ei_val *cur = push_new(a, &inv->vat_totals_cur, sizeof(*cur));
        if (!amount || !cur)
            return KR_ERR_NOMEM;
        *amount = ei_node_val(a, t);
        *cur = ei_attr(t, "currencyID");
        if (inv->currency.s && ei_eq(cur, inv->currency.s)) {
            struct ei_tax_total *checked = push_new(a, &inv->vat_totals_checked, sizeof(*checked));
            if (!checked)
                return KR_ERR_NOMEM;
            checked->amount = *amount;
            EACH_VAT_SUM(inv, checked->breakdown_sum);
        }
    }
    return KR_OK;
}

static void cii_totals(struct arena *a, xmlNode *s, struct ei_invoice *inv)
{
    xmlNode *m = ei_child(s, "ram:SpecifiedTradeSettlementHeaderMonetarySummation");
    inv->totals_node = m;
    inv->sum_lines = GET(m, "ram:LineTotalAmount");
    inv->charge_total = GET(m, "ram:ChargeTotalAmount");
    inv->allowance_total = GET(m, "ram:AllowanceTotalAmount");
    inv->total_without_vat = GET(m, "ram:TaxBasisTotalAmount");
    inv->total_with_vat = GET(m, "ram:GrandTotalAmount");
    inv->prepaid = GET(m, "ram:TotalPrepaidAmount");
    inv->rounding = GET(m, "ram:RoundingAmount");
    inv->payable = GET(m, "ram:DuePayableAmount");
}

static int cii_settlement(struct arena *a, xmlNode *s, struct ei_invoice *inv)
{
    inv->currency = GET(s, "ram:InvoiceCurrencyCode");
    inv->tax_currency = GET(s, "ram:TaxCurrencyCode");
    inv->payment_terms_node = ei_child(s, "ram:SpecifiedTradePaymentTerms");
    inv->payment_terms = GET(s, "ram:SpecifiedTradePaymentTerms/ram:Description");
    inv->due_date = GET(s, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString");
    inv->invoice_period = ei_child(s, "ram:BillingSpecifiedPeriod");
    inv->period_start = GET(s, "ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString");
    inv->period_end = GET(s, "ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString");
    cii_totals(a, s, inv);
    struct ei_val creditor = GET(s, "ram:CreditorReferenceID");
    int rc = KR_OK;
    if (ei_has(&creditor)) {
        struct ei_id *id = push_new(a, &inv->creditor_ids, sizeof(*id));
        if (!id)
            return KR_ERR_NOMEM;
        id->v = creditor;
    }
    inv->has_payee = ei_child(s, "ram:PayeeTradeParty") != NULL;
    rc = cii_party(a, ei_child(s, "ram:PayeeTradeParty"), &inv->payee);
    for (xmlNode *c = ei_child(s, "ram:SpecifiedTradeSettlementPaymentMeans"); c && !rc;
         c = ei_next(c, "ram:SpecifiedTradeSettlementPaymentMeans"))
        rc = cii_payment(a, c, s, inv);
    for (xmlNode *c = ei_child(s, "ram:SpecifiedTradeAllowanceCharge"); c && !rc;
         c = ei_next(c, "ram:SpecifiedTradeAllowanceCharge"))
        rc = cii_allowance(a, c, &inv->allowances);
    for (xmlNode *c = ei_child(s, "ram:InvoiceReferencedDocument"); c && !rc;
         c = ei_next(c, "ram:InvoiceReferencedDocument")) {
        struct ei_val *v = push_new(a, &inv->preceding, sizeof(*v));
        if (!v)
            return KR_ERR_NOMEM;
        *v = GET(c, "ram:IssuerAssignedID");
    }
    if (rc == KR_OK)
        rc = cii_tax(a, s, inv);
    return rc;
}

static int cii_agreement(struct arena *a, xmlNode *ag, struct ei_invoice *inv)
{
    inv->buyer_ref = GET(ag, "ram:BuyerReference");
    int rc = cii_party(a, ei_child(ag, "ram:SellerTradeParty"), &inv->seller);
    if (rc == KR_OK)
        rc = cii_party(a, ei_child(ag, "ram:BuyerTradeParty"), &inv->buyer);
    inv->has_taxrep = ei_child(ag, "ram:SellerTaxRepresentativeTradeParty") != NULL;
    if (rc == KR_OK)
        rc = cii_party(a, ei_child(ag, "ram:SellerTaxRepresentativeTradeParty"), &inv->taxrep);
    for (xmlNode *d = ei_child(ag, "ram:AdditionalReferencedDocument"); d && !rc;
         d = ei_next(d, "ram:AdditionalReferencedDocument")) {
        struct ei_val tc = GET(d, "ram:TypeCode");
        if (!ei_eq(&tc, "916"))
            continue;
        struct ei_attachment *at = push_new(a, &inv->attachments, sizeof(*at));
        if (!at)
            return KR_ERR_NOMEM;
        at->node = d;
        at->id = GET(d, "ram:IssuerAssignedID");
        at->binary = GET(d, "ram:AttachmentBinaryObject");
        at->mime = ei_attr(at->binary.node, "mimeCode");
        at->filename = ei_attr(at->binary.node, "filename");
        at->uri = GET(d, "ram:URIID");
    }
    return rc;
}

static int cii_parse(struct arena *a, xmlNode *r, struct ei_invoice *inv)
{
    inv->spec_id =
        GET(r, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/"
               "ram:ID");
    inv->process_id = GET(r, "rsm:ExchangedDocumentContext/"
                             "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID");
    inv->number = GET(r, "rsm:ExchangedDocument/ram:ID");
    inv->type_code = GET(r, "rsm:ExchangedDocument/ram:TypeCode");
    inv->issue_date = GET(r, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString");
    xmlNode *t = ei_child(r, "rsm:SupplyChainTradeTransaction");
    int rc = cii_agreement(a, ei_child(t, "ram:ApplicableHeaderTradeAgreement"), inv);
    xmlNode *d = ei_child(t, "ram:ApplicableHeaderTradeDelivery");
    inv->delivery_location = get_id(a, d, "ram:ShipToTradeParty/ram:GlobalID", "schemeID");
    if (!ei_has(&inv->delivery_location.v))
        inv->delivery_location = get_id(a, d, "ram:ShipToTradeParty/ram:ID", "schemeID");
    xmlNode *da = ei_path(d, "ram:ShipToTradeParty/ram:PostalTradeAddress");
    if (da)
        cii_address(a, da, &inv->delivery_addr);
    inv->delivery_date = GET(d, "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/"
                                "udt:DateTimeString");
    if (rc == KR_OK)
        rc = cii_settlement(a, ei_child(t, "ram:ApplicableHeaderTradeSettlement"), inv);
    for (xmlNode *c = ei_child(t, "ram:IncludedSupplyChainTradeLineItem"); c && !rc;
         c = ei_next(c, "ram:IncludedSupplyChainTradeLineItem"))
        rc = cii_line(a, c, inv);
    return rc;
}

int ei_parse(struct arena *a, const char *data, size_t len, struct ei_invoice **out,
             struct kr_error *err)
{
    xmlDoc *doc;
    int rc = ei_xml_read(a, data, len, &doc, err);
    if (rc)
        return rc;
    struct ei_invoice *inv = arena_zalloc(a, sizeof(*inv));
    if (!inv)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    inv->doc = doc;
    inv->root = xmlDocGetRootElement(doc);
    if (ei_is(inv->root, "ubl:Invoice"))
        inv->syntax = EINVOICE_SYNTAX_UBL_INVOICE;
    else if (ei_is(inv->root, "cn:CreditNote"))
        inv->syntax = EINVOICE_SYNTAX_UBL_CREDITNOTE;
    else if (ei_is(inv->root, "rsm:CrossIndustryInvoice"))
        inv->syntax = EINVOICE_SYNTAX_CII;
    else
        return kr_error_set(err, KR_ERR_INVALID,
                            "unknown root element '%.80s': expected a UBL Invoice or CreditNote "
                            "or a CII CrossIndustryInvoice",
                            (const char *)inv->root->name);
    if (inv->syntax == EINVOICE_SYNTAX_CII)
        rc = cii_parse(a, inv->root, inv);
    else
        rc = ubl_parse(a, inv->root, inv->syntax == EINVOICE_SYNTAX_UBL_CREDITNOTE, inv);
    if (rc)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    *out = inv;
    return KR_OK;
}
