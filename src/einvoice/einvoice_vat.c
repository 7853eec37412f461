/*
 * einvoice_vat.c - the arithmetic of EN 16931: totals (BR-CO-10 ...
 * BR-CO-17), decimals (BR-DEC-*) and the rules of each VAT category
 * (BR-S, BR-Z, BR-E, BR-AE, BR-IC for K, BR-G, BR-O, BR-IG for L, BR-IP
 * for M).  Sums use XPath's round(x * 100) div 100 as the Schematron does.
 */
#include "einvoice/einvoice_rules.h"

bool ei_any_line_cat(const struct ei_invoice *inv, const char *cat)
{
    EACH(const struct ei_line, l, inv->lines)
    {
        if (ei_eq(&l->vat_cat, cat))
            return true;
    }
    return false;
}

bool ei_any_allowance_cat(const struct ei_invoice *inv, const char *cat, int charge)
{
    EACH(const struct ei_allowance, ac, inv->allowances)
    {
        if ((charge < 0 || ac->charge == (charge == 1)) && ei_eq(&ac->vat_cat, cat))
            return true;
    }
    return false;
}

bool ei_any_vat_cat(const struct ei_invoice *inv, const char *cat)
{
    EACH(const struct ei_vat, v, inv->vat)
    {
        if (ei_eq(&v->cat, cat))
            return true;
    }
    return false;
}

/* The VAT total (BT-110) in the invoice currency, summed over every total
 * in that currency as the Schematron's XPath does; false when absent. */
static bool vat_total(const struct ei_invoice *inv, double *out)
{
    bool found = false;
    *out = 0;
    for (size_t i = 0; i < inv->vat_totals.n; i++) {
        const struct ei_val *amount = inv->vat_totals.items[i];
        const struct ei_val *cur = inv->vat_totals_cur.items[i];
        if (!ei_has(amount))
            continue;
        if (inv->vat_totals.n == 1 || (cur->s && inv->currency.s && ei_eq(cur, inv->currency.s))) {
            *out += ei_num0(amount);
            found = true;
        }
    }
    return found;
}

static void sums(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    xmlNode *t = inv->totals_node;
    if (!t)
        return;
    double lines = 0, allow = 0, charge = 0, d, e;
    EACH(const struct ei_line, l, inv->lines)
    lines += ei_num0(&l->net_amount);
    EACH(const struct ei_allowance, ac, inv->allowances)
    {
        if (ac->charge)
            charge += ei_num0(&ac->amount);
        else
            allow += ei_num0(&ac->amount);
    }
    if (ei_has(&inv->sum_lines) && (!ei_num(&inv->sum_lines, &d) || !ei_same(d, ei_round2(lines))))
        FATAL("BR-CO-10", t,
              "Sum of Invoice line net amount (BT-106) = Σ Invoice line net "
              "amount (BT-131).");
    if (ei_has(&inv->allowance_total) &&
        (!ei_num(&inv->allowance_total, &d) || !ei_same(d, ei_round2(allow))))
        FATAL("BR-CO-11", t,
              "Sum of allowances on document level (BT-107) = Σ Document level "
              "allowance amount (BT-92).");
    if (ei_has(&inv->charge_total) &&
        (!ei_num(&inv->charge_total, &d) || !ei_same(d, ei_round2(charge))))
        FATAL("BR-CO-12", t,
              "Sum of charges on document level (BT-108) = Σ Document level "
              "charge amount (BT-99).");
    double expect =
        ei_num0(&inv->sum_lines) - ei_num0(&inv->allowance_total) + ei_num0(&inv->charge_total);
    if (ei_has(&inv->total_without_vat) &&
        (!ei_num(&inv->total_without_vat, &d) || !ei_same(d, ei_round2(expect))))
        FATAL("BR-CO-13", t,
              "Invoice total amount without VAT (BT-109) = Σ Invoice line net "
              "amount (BT-131) - Sum of allowances on document level (BT-107) + "
              "Sum of charges on document level (BT-108).");
    double vt = 0;
    bool has_vt = vat_total(inv, &vt);
    /* CEN 1.3.16 (CII) also accepts a total equal to the amount without VAT. */
    bool cii_plain = inv->syntax == EINVOICE_SYNTAX_CII && ei_num(&inv->total_with_vat, &d) &&
                     ei_same(d, ei_num0(&inv->total_without_vat));
    if (ei_has(&inv->total_with_vat) && ei_num(&inv->total_with_vat, &d) && !cii_plain &&
        !ei_same(d, ei_round2(ei_num0(&inv->total_without_vat) + vt)))
        FATAL("BR-CO-15", t,
              "Invoice total amount with VAT (BT-112) = Invoice total amount "
              "without VAT (BT-109) + Invoice total VAT amount (BT-110).");
    (void)has_vt;
    if (ei_num(&inv->payable, &d) && ei_num(&inv->total_with_vat, &e)) {
        double due = ei_round2(d - ei_num0(&inv->rounding));
        double want = ei_has(&inv->prepaid) || ei_has(&inv->rounding)
                          ? ei_round2(e - ei_num0(&inv->prepaid))
                          : e;
        if (!ei_same(ei_has(&inv->rounding) ? due : d, want))
            FATAL("BR-CO-16", t,
                  "Amount due for payment (BT-115) = Invoice total amount with "
                  "VAT (BT-112) - Paid amount (BT-113) + Rounding amount "
                  "(BT-114).");
    }
}

static void vat_sums(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    double vt;
    EACH(const struct ei_tax_total, t, inv->vat_totals_checked)
    {
        if (inv->vat.n && (!ei_num(&t->amount, &vt) || !ei_same(vt, ei_round2(t->breakdown_sum))))
            FATAL("BR-CO-14", t->amount.node,
                  "Invoice total VAT amount (BT-110) = Σ VAT category "
                  "tax amount (BT-117).");
    }
    EACH(const struct ei_vat, v, inv->vat)
    {
        double taxable, tax, rate;
        if (ei_num(&v->rate, &rate) && ei_num(&v->taxable, &taxable) && ei_num(&v->tax, &tax) &&
            !ei_within_unit(tax, ei_round2(fabs(taxable) * rate / 100.0)))
            FATAL("BR-CO-17", v->node,
                  "VAT category tax amount (BT-117) = VAT category taxable "
                  "amount (BT-116) x (VAT category rate (BT-119) / 100), "
                  "rounded to two decimals.");
    }
    double payable;
    if (inv->syntax != EINVOICE_SYNTAX_UBL_CREDITNOTE && ei_num(&inv->payable, &payable) &&
        payable > 0 && !ei_has(&inv->due_date) && !ei_has(&inv->payment_terms))
        FATAL("BR-CO-25", inv->totals_node,
              "In case the Amount due for payment (BT-115) is "
              "positive, either the Payment due date (BT-9) or the "
              "Payment terms (BT-20) shall be present.");
}

/* ---- BR-DEC --------------------------------------------------------------------- */

static void dec(struct ei_ctx *c, const char *rule, const struct ei_val *v, const char *msg)
{
    if (ei_has(v) && ei_decimals(v) > 2)
        FATAL(rule, v->node, msg);
}

static void decimals(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    const char *m = "The allowed maximum number of decimals for this amount is 2.";
    EACH(const struct ei_allowance, ac, inv->allowances)
    {
        dec(c, ac->charge ? "BR-DEC-05" : "BR-DEC-01", &ac->amount, m);
        dec(c, ac->charge ? "BR-DEC-06" : "BR-DEC-02", &ac->base, m);
    }
    dec(c, "BR-DEC-09", &inv->sum_lines, m);
    dec(c, "BR-DEC-10", &inv->allowance_total, m);
    dec(c, "BR-DEC-11", &inv->charge_total, m);
    dec(c, "BR-DEC-12", &inv->total_without_vat, m);
    EACH(const struct ei_val, v, inv->vat_totals)
    dec(c, "BR-DEC-13", v, m);
    dec(c, "BR-DEC-14", &inv->total_with_vat, m);
    dec(c, "BR-DEC-16", &inv->prepaid, m);
    dec(c, "BR-DEC-17", &inv->rounding, m);
    dec(c, "BR-DEC-18", &inv->payable, m);
    EACH(const struct ei_vat, v, inv->vat)
    {
        dec(c, "BR-DEC-19", &v->taxable, m);
        dec(c, "BR-DEC-20", &v->tax, m);
    }
    EACH(const struct ei_line, l, inv->lines)
    {
        dec(c, "BR-DEC-23", &l->net_amount, m);
        EACH(const struct ei_allowance, ac, l->allowances)
        {
            dec(c, ac->charge ? "BR-DEC-27" : "BR-DEC-24", &ac->amount, m);
            dec(c, ac->charge ? "BR-DEC-28" : "BR-DEC-25", &ac->base, m);
        }
    }
}

/* ---- VAT categories ----------------------------------------------------------- */

enum rate_rule { RATE_POSITIVE, RATE_ZERO, RATE_ABSENT, RATE_NONNEG };

struct category {
    const char *code;
    const char *prefix; /* "BR-S" */
    enum rate_rule rate;
    bool exemption; /* exemption reason required (true) or forbidden (false) */
    bool zero_tax;  /* VAT amount must be 0 */
};

static const struct category categories[] = {
    {"S", "BR-S", RATE_POSITIVE, false, false}, {"Z", "BR-Z", RATE_ZERO, false, true},
    {"E", "BR-E", RATE_ZERO, true, true},       {"AE", "BR-AE", RATE_ZERO, true, true},
    {"K", "BR-IC", RATE_ZERO, true, true},      {"G", "BR-G", RATE_ZERO, true, true},
    {"O", "BR-O", RATE_ABSENT, true, true},     {"L", "BR-IG", RATE_NONNEG, false, false},
    {"M", "BR-IP", RATE_NONNEG, false, false},
};

static const char *rule_id(struct ei_ctx *c, const struct category *k, int n)
{
    const char *id = arena_printf(c->a, "%s-%02d", k->prefix, n);
    return id ? id : k->prefix;
}

static bool rate_ok(const struct category *k, const struct ei_val *rate)
{
    double d;
    switch (k->rate) {
    case RATE_POSITIVE: return ei_num(rate, &d) && d > 0;
    case RATE_ZERO: return ei_num(rate, &d) && d == 0;
    case RATE_ABSENT: return !ei_has(rate);
    case RATE_NONNEG: return ei_num(rate, &d) && d >= 0;
    }
    return true;
}

/* BR-x-02 ... 04: the parties' tax identifiers where the category is used.
 * "Tax id" is any PartyTaxScheme/CompanyID (BT-31 or BT-32). */
static void category_ids(struct ei_ctx *c, const struct category *k)
{
    const struct ei_invoice *inv = c->inv;
    bool cii = inv->syntax == EINVOICE_SYNTAX_CII;
    bool seller = ei_has(&inv->seller.vat_id) || ei_has(&inv->seller.tax_reg_id);
    bool rep = ei_has(&inv->taxrep.vat_id);
    bool buyer = ei_has(&inv->buyer.vat_id) || (!cii && ei_has(&inv->buyer.tax_reg_id));
    bool legal = !cii && ei_has(&inv->seller.legal_id.v);
    if (!strcmp(k->code, "O")) { /* only the VAT identifiers (BT-31, BT-48, BT-63) count */
        seller = ei_has(&inv->seller.vat_id);
        buyer = ei_has(&inv->buyer.vat_id);
    }
    bool line_ok, ac_ok;
    if (!strcmp(k->code, "S") || !strcmp(k->code, "L") || !strcmp(k->code, "M")) {
        line_ok = seller || rep || (strcmp(k->code, "S") != 0 && legal);
        ac_ok = seller || rep || (strcmp(k->code, "S") != 0 && legal);
    } else if (!strcmp(k->code, "AE") || !strcmp(k->code, "K")) {
        line_ok = ac_ok = (seller || rep) && buyer;
    } else if (!strcmp(k->code, "O")) {
        line_ok = ac_ok = !(seller || rep || buyer);
    } else {
        line_ok = ac_ok = seller || rep;
    }
    const char *msg = "The Seller/Buyer tax identifiers do not fit the VAT category used.";
    if (!line_ok && ei_any_line_cat(inv, k->code))
        FATAL(rule_id(c, k, 2), inv->root, msg);
    if (!ac_ok && ei_any_allowance_cat(inv, k->code, 0))
        FATAL(rule_id(c, k, 3), inv->root, msg);
    if (!ac_ok && ei_any_allowance_cat(inv, k->code, 1))
        FATAL(rule_id(c, k, 4), inv->root, msg);
}

/* BR-x-08: the taxable amount of the category (and rate) adds up. */
static void category_taxable(struct ei_ctx *c, const struct category *k, const struct ei_vat *v)
{
    const struct ei_invoice *inv = c->inv;
    bool by_rate = k->rate == RATE_POSITIVE || k->rate == RATE_NONNEG;
    bool rounded = k->rate == RATE_POSITIVE;
    double rate = rounded ? round(ei_num0(&v->rate)) : ei_num0(&v->rate), sum = 0, taxable;
    EACH(const struct ei_line, l, inv->lines)
    {
        if (ei_eq(&l->vat_cat, k->code) &&
            (!by_rate || (rounded ? round(ei_num0(&l->vat_rate)) : ei_num0(&l->vat_rate)) == rate))
            sum += ei_num0(&l->net_amount);
    }
    EACH(const struct ei_allowance, ac, inv->allowances)
    {
        if (ei_eq(&ac->vat_cat, k->code) &&
            (!by_rate ||
             (rounded ? round(ei_num0(&ac->vat_rate)) : ei_num0(&ac->vat_rate)) == rate))
            sum += ac->charge ? ei_num0(&ac->amount) : -ei_num0(&ac->amount);
    }
    if (!ei_num(&v->taxable, &taxable) || !ei_within_unit(taxable, sum))
        FATAL(rule_id(c, k, 8), v->node,
              "The VAT category taxable amount (BT-116) shall equal "
              "the sum of line net amounts plus charges minus "
              "allowances of this VAT category.");
}

static void category_breakdown(struct ei_ctx *c, const struct category *k, const struct ei_vat *v)
{
    double tax, taxable, rate;
    category_taxable(c, k, v);
    if (k->zero_tax && (!ei_num(&v->tax, &tax) || tax != 0))
        FATAL(rule_id(c, k, 9), v->node, "The VAT category tax amount (BT-117) shall be 0.");
    if (!k->zero_tax && ei_num(&v->rate, &rate) && ei_num(&v->taxable, &taxable) &&
        (!ei_num(&v->tax, &tax) || !ei_within_unit(tax, ei_round2(fabs(taxable) * rate / 100.0))))
        FATAL(rule_id(c, k, 9), v->node,
              "The VAT category tax amount (BT-117) shall equal the "
              "taxable amount (BT-116) multiplied by the VAT "
              "category rate (BT-119).");
    bool has_ex = ei_has(&v->exemption) || ei_has(&v->exemption_code);
    if (has_ex != k->exemption)
        FATAL(rule_id(c, k, 10), v->node,
              k->exemption ? "A VAT breakdown of this category shall have a VAT exemption "
                             "reason code (BT-121) or text (BT-120)."
                           : "A VAT breakdown of this category shall not have a VAT exemption "
                             "reason code (BT-121) or text (BT-120).");
}

static void category_usage(struct ei_ctx *c, const struct category *k)
{
    const struct ei_invoice *inv = c->inv;
    bool used = ei_any_line_cat(inv, k->code) || ei_any_allowance_cat(inv, k->code, -1);
    size_t n = 0;
    EACH(const struct ei_vat, v, inv->vat)
    {
        if (ei_eq(&v->cat, k->code))
            n++;
    }
    bool many = !strcmp(k->code, "S") || k->rate == RATE_NONNEG;
    if (many ? used != (n > 0) : (used || n > 0) && n != 1)
        FATAL(rule_id(c, k, 1), inv->root,
              "An Invoice that uses this VAT category shall have "
              "a matching VAT breakdown (BG-23).");
    if (used)
        category_ids(c, k);
    EACH(const struct ei_line, l, inv->lines)
    {
        if (ei_eq(&l->vat_cat, k->code) && !rate_ok(k, &l->vat_rate))
            FATAL(rule_id(c, k, 5), l->node,
                  "The Invoiced item VAT rate (BT-152) does not fit "
                  "the VAT category code.");
    }
    EACH(const struct ei_allowance, ac, inv->allowances)
    {
        if (ei_eq(&ac->vat_cat, k->code) && !rate_ok(k, &ac->vat_rate))
            FATAL(rule_id(c, k, ac->charge ? 7 : 6), ac->node,
                  "The allowance/charge VAT rate does not fit the VAT category code.");
    }
}

static void category_o(struct ei_ctx *c)
{
    const struct ei_invoice *inv = c->inv;
    if (!ei_any_vat_cat(inv, "O"))
        return;
    EACH(const struct ei_vat, v, inv->vat)
    {
        if (!ei_eq(&v->cat, "O")) {
            FATAL("BR-O-11", inv->root,
                  "An Invoice with a 'Not subject to VAT' VAT breakdown "
                  "shall not contain other VAT breakdown groups.");
            break;
        }
    }
    EACH(const struct ei_line, l, inv->lines)
    {
        if (!ei_eq(&l->vat_cat, "O")) {
            FATAL("BR-O-12", inv->root,
                  "An Invoice with a 'Not subject to VAT' VAT breakdown "
                  "shall not contain an Invoice line with another VAT "
                  "category.");
            break;
        }
    }
    EACH(const struct ei_allowance, ac, inv->allowances)
    {
        if (!ei_eq(&ac->vat_cat, "O")) {
            FATAL(ac->charge ? "BR-O-14" : "BR-O-13", inv->root,
                  "An Invoice with a 'Not subject to VAT' VAT breakdown shall not contain "
                  "allowances or charges of another VAT category.");
            break;
        }
    }
}

void ei_rules_vat(struct ei_ctx *c)
{
    sums(c);
    vat_sums(c);
    decimals(c);
    for (size_t i = 0; i < KR_EI_LEN(categories); i++) {
        const struct category *k = &categories[i];
        category_usage(c, k);
        EACH(const struct ei_vat, v, c->inv->vat)
        {
            if (ei_eq(&v->cat, k->code))
                category_breakdown(c, k, v);
        }
    }
    category_o(c);
}
