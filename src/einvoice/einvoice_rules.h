/*
 * einvoice_rules.h - shorthand for the rule files (internal).  A rule is a
 * few lines of C on the model; it reports with FATAL/WARN at the node of
 * the term or group the official Schematron uses as its context.
 */
#ifndef KR_EINVOICE_RULES_H
#define KR_EINVOICE_RULES_H

#include <math.h>
#include <string.h>

#include "einvoice/einvoice_model.h"
#include "einvoice/einvoice_xml.h"

#define FATAL(rule, node, msg) ei_fail(c, (rule), EINVOICE_FATAL, (node), (msg))
#define WARN(rule, node, msg) ei_fail(c, (rule), EINVOICE_WARNING, (node), (msg))
#define EACH(type, var, vec)                                                                       \
    for (size_t var##_i = 0; var##_i < (vec).n; var##_i++)                                         \
        for (type *var = (vec).items[var##_i]; var; var = NULL)

/* XPath round(x * 100) div 100: half up towards +infinity. */
static inline double ei_round2(double x)
{
    return floor(x * 100.0 + 0.5 + 1e-9) / 100.0;
}

/* xs:decimal equality of values that come from decimals of a few digits. */
static inline bool ei_same(double a, double b)
{
    return fabs(a - b) < 1e-9 * (1.0 + fabs(a) + fabs(b));
}

/* Within one currency unit, as the CEN artefacts (1.3.x) check the VAT
 * arithmetic: abs(a) - 1 < abs(b) < abs(a) + 1. */
static inline bool ei_within_unit(double a, double b)
{
    return fabs(fabs(a) - fabs(b)) < 1.0;
}

/* The number of a term, 0 when absent or not a number (XPath sum() treats
 * absent as nothing; the rules that need NaN semantics check ei_num). */
static inline double ei_num0(const struct ei_val *v)
{
    double d;
    return ei_num(v, &d) ? d : 0.0;
}

/* Digits after the decimal point of the term's text (normalised). */
size_t ei_decimals(const struct ei_val *v);

/* True when at least one line / allowance / breakdown has the category. */
bool ei_any_line_cat(const struct ei_invoice *inv, const char *cat);
bool ei_any_allowance_cat(const struct ei_invoice *inv, const char *cat, int charge);
bool ei_any_vat_cat(const struct ei_invoice *inv, const char *cat);

/* Categories and VAT rules (einvoice_vat.c). */
void ei_rules_vat(struct ei_ctx *c);

/* XRechnung extension and Peppol rules (einvoice_peppol.c). */
void ei_rules_xr_extension(struct ei_ctx *c);
void ei_rules_peppol(struct ei_ctx *c);

#endif
