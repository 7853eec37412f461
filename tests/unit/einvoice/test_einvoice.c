/*
 * Tests of src/einvoice: our own small invoices (tests/einvoice/), changed
 * in memory one term at a time, and the nasty inputs: not XML, XML bombs,
 * external entities, unknown roots, wrong encodings, deep nesting, huge
 * invoices.  The XSD layer runs when ../shared/xrechnung/schemas exists
 * (or $KREISEL_EINVOICE_SCHEMA_DIR); the rules never need it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "einvoice/einvoice.h"

static struct einvoice_validator *validator;
static char *ubl, *cii;
static size_t ubl_len, cii_len;

static char *slurp(const char *name, size_t *len)
{
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/einvoice/%s", root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b;
    buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), KR_OK);
    fclose(f);
    return buf_detach(&b, len);
}

static int setup(void **state)
{
    (void)state;
    const char *env = getenv("KREISEL_EINVOICE_SCHEMA_DIR");
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    char dir[1024];
    if (env && *env)
        snprintf(dir, sizeof(dir), "%s", env);
    else
        snprintf(dir, sizeof(dir), "%s/../shared/xrechnung/schemas", root ? root : ".");
    struct kr_error err;
    if (einvoice_validator_new(dir, &validator, &err))
        return -1;
    ubl = slurp("ubl-invoice.xml", &ubl_len);
    cii = slurp("cii-invoice.xml", &cii_len);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    einvoice_validator_free(validator);
    free(ubl);
    free(cii);
    return 0;
}

/* Validate text and return the report (in a, which the caller frees). */
static struct einvoice_report *check(struct arena *a, const char *text, size_t len)
{
    struct einvoice_report *r = NULL;
    struct kr_error err;
    assert_int_equal(einvoice_validate(validator, a, text, len, &r, &err), KR_OK);
    assert_non_null(r);
    return r;
}

static bool has_rule(const struct einvoice_report *r, const char *rule,
                     enum einvoice_severity severity)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->findings[i].rule, rule) == 0 && r->findings[i].severity == severity)
            return true;
    return false;
}

/* The document with the first occurrence of from replaced by to (malloc). */
static char *replace(const char *doc, const char *from, const char *to, size_t *len)
{
    const char *at = strstr(doc, from);
    assert_non_null(at);
    struct buf b;
    buf_init(&b, 1 << 24);
    buf_append(&b, doc, (size_t)(at - doc));
    buf_puts(&b, to);
    buf_puts(&b, at + strlen(from));
    assert_int_equal(buf_status(&b), KR_OK);
    return buf_detach(&b, len);
}

static void test_own_invoices_are_accepted(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    struct einvoice_report *r = check(a, ubl, ubl_len);
    assert_int_equal(r->verdict, EINVOICE_ACCEPT);
    assert_int_equal(r->syntax, EINVOICE_SYNTAX_UBL_INVOICE);
    assert_int_equal(r->scenario, EINVOICE_SCENARIO_XR_CIUS);
    if (r->xsd_checked)
        assert_true(r->xsd_valid);
    else
        assert_true(has_rule(r, "XSD-MISSING", EINVOICE_WARNING));
    r = check(a, cii, cii_len);
    assert_int_equal(r->verdict, EINVOICE_ACCEPT);
    assert_int_equal(r->syntax, EINVOICE_SYNTAX_CII);
    arena_free(a);
}

/* One term changed, the rule that must catch it, in UBL or CII. */
static const struct {
    bool use_cii;
    const char *from, *to, *rule;
} mutations[] = {
    {false,
     "<cbc:LineExtensionAmount currencyID=\"EUR\">250.00</cbc:LineExtensionAmount>\n    "
     "<cbc:TaxExclusiveAmount",
     "<cbc:LineExtensionAmount currencyID=\"EUR\">251.00</cbc:LineExtensionAmount>\n    "
     "<cbc:TaxExclusiveAmount",
     "BR-CO-10"},
    {false, "<cbc:BuyerReference>04011000-12345-67</cbc:BuyerReference>", "", "BR-DE-15"},
    {false, "<cbc:PayableAmount currencyID=\"EUR\">297.50",
     "<cbc:PayableAmount currencyID=\"EUR\">290.00", "BR-CO-16"},
    {false, "<cbc:InvoiceTypeCode>380", "<cbc:InvoiceTypeCode>999", "BR-CL-01"},
    {false, "<cbc:DocumentCurrencyCode>EUR", "<cbc:DocumentCurrencyCode>EUX", "BR-CL-04"},
    {false, "<cbc:Telephone>+49 1234 5678</cbc:Telephone>", "", "BR-DE-6"},
    {false, "<cbc:ID>DE02120300000000202051</cbc:ID>", "", "BR-50"},
    {false, "<cbc:TaxAmount currencyID=\"EUR\">47.50</cbc:TaxAmount>\n      <cac:TaxCategory>",
     "<cbc:TaxAmount currencyID=\"EUR\">57.50</cbc:TaxAmount>\n      <cac:TaxCategory>",
     "BR-CO-17"},
    {false, "<cbc:Name>Strom für Straßenbeleuchtung, Oktober</cbc:Name>", "", "BR-25"},
    {false, "<cbc:PriceAmount currencyID=\"EUR\">0.25", "<cbc:PriceAmount currencyID=\"EUR\">-0.25",
     "BR-27"},
    {true, "#SKONTO#TAGE=14#PROZENT=2.00#\n", "#SKONTO#TAGE=14#PROZENT=2#\n", "BR-DE-18"},
    {true, "<ram:GrandTotalAmount>428.00", "<ram:GrandTotalAmount>430.00", "BR-CO-15"},
    {true, "<ram:CityName>Berlin</ram:CityName>", "", "BR-DE-3"},
    {true, "<ram:TypeCode>58</ram:TypeCode>", "<ram:TypeCode>59</ram:TypeCode>", "BR-DE-25-a"},
    {true,
     "<ram:RateApplicablePercent>7</ram:RateApplicablePercent>\n        "
     "</ram:ApplicableTradeTax>\n        <ram:SpecifiedTradeSettlementLine",
     "</ram:ApplicableTradeTax>\n        <ram:SpecifiedTradeSettlementLine", "BR-S-05"},
    {true, "<ram:BasisAmount>400.00</ram:BasisAmount>", "<ram:BasisAmount>300.00</ram:BasisAmount>",
     "BR-S-08"},
};

static void test_each_broken_term_is_caught(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
        size_t len;
        char *doc =
            replace(mutations[i].use_cii ? cii : ubl, mutations[i].from, mutations[i].to, &len);
        struct arena *a = arena_new(0);
        struct einvoice_report *r = check(a, doc, len);
        if (!has_rule(r, mutations[i].rule, EINVOICE_FATAL))
            fail_msg("mutation %zu: expected %s", i, mutations[i].rule);
        assert_int_equal(r->verdict, EINVOICE_REJECT);
        for (size_t k = 0; k < r->count; k++)
            assert_true(r->findings[k].location[0] == '/' || r->findings[k].location[0] == '\0');
        arena_free(a);
        free(doc);
    }
}

static void test_scenarios(void **state)
{
    (void)state;
    size_t len;
    char *doc = replace(ubl, "#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0", "", &len);
    struct arena *a = arena_new(0);
    struct einvoice_report *r = check(a, doc, len);
    assert_int_equal(r->scenario, EINVOICE_SCENARIO_EN16931);
    assert_int_equal(r->verdict, EINVOICE_ACCEPT);
    free(doc);
    doc = replace(ubl, "xrechnung_3.0</cbc:CustomizationID>", "xrechnung_2.3</cbc:CustomizationID>",
                  &len);
    r = check(a, doc, len);
    assert_int_equal(r->scenario, EINVOICE_SCENARIO_NONE);
    assert_int_equal(r->verdict, EINVOICE_REJECT);
    assert_non_null(strstr(r->reason, "xrechnung_2.3"));
    assert_true(has_rule(r, "SCENARIO", EINVOICE_FATAL));
    free(doc);
    arena_free(a);
}

static void test_report_forms(void **state)
{
    (void)state;
    size_t len;
    char *doc =
        replace(ubl, "<cbc:BuyerReference>04011000-12345-67</cbc:BuyerReference>", "", &len);
    struct arena *a = arena_new(0);
    struct einvoice_report *r = check(a, doc, len);
    json_t *j = einvoice_report_json(r);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "reject");
    assert_string_equal(json_string_value(json_object_get(j, "scenario")), "xr-cius");
    json_t *f = json_array_get(json_object_get(j, "findings"), 0);
    assert_non_null(json_object_get(f, "location"));
    json_decref(j);
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(einvoice_report_text(r, "x.xml", &out), KR_OK);
    assert_non_null(strstr(buf_cstr(&out), "x.xml: REJECTED"));
    assert_non_null(strstr(buf_cstr(&out), "BR-DE-15"));
    buf_release(&out);
    free(doc);
    arena_free(a);
}

static const struct {
    const char *what, *text, *reason;
    size_t len; /* 0: strlen(text) */
} nasty[] = {
    {"empty", "", "empty", 0},
    {"not XML", "this is not XML", "well-formed", 0},
    {"broken PDF", "%PDF-1.7 this is not a PDF", "not a readable PDF", 0},
    {"unknown root", "<?xml version=\"1.0\"?><Order xmlns=\"urn:x\"/>", "unknown root", 0},
    {"billion laughs",
     "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
     "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>",
     "DOCTYPE", 0},
    {"external entity",
     "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
     "DOCTYPE", 0},
    {"undeclared entity",
     "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">"
     "&e;</Invoice>",
     "well-formed", 0},
    {"DOCTYPE in UTF-16", "\xff\xfe<\0!\0D\0O\0C\0T\0Y\0P\0E\0 \0x\0 \0[\0]\0>\0<\0x\0/\0>\0",
     "DOCTYPE", 40},
    {"wrong encoding",
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?><x>Gr\xfc\xdf"
     "e</x>",
     "well-formed", 0},
    {"truncated",
     "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"><cbc:ID",
     "well-formed", 0},
};

static void test_nasty_inputs_are_unreadable(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
        struct arena *a = arena_new(0);
        size_t len = nasty[i].len ? nasty[i].len : strlen(nasty[i].text);
        struct einvoice_report *r = check(a, nasty[i].text, len);
        if (r->verdict != EINVOICE_UNREADABLE || !strstr(r->reason, nasty[i].reason))
            fail_msg("%s: verdict %d, reason '%s'", nasty[i].what, r->verdict,
                     r->reason ? r->reason : "(none)");
        arena_free(a);
    }
}

static void test_deep_and_huge(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 26);
    buf_puts(&b, "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">");
    for (int i = 0; i < 200; i++)
        buf_puts(&b, "<a>");
    for (int i = 0; i < 200; i++)
        buf_puts(&b, "</a>");
    buf_puts(&b, "</Invoice>");
    struct arena *a = arena_new(0);
    struct einvoice_report *r = check(a, b.data, b.len);
    assert_int_equal(r->verdict, EINVOICE_UNREADABLE);
    assert_non_null(strstr(r->reason, "deeper"));
    /* 100,000 invoice lines are beyond the size limit: a clear report. */
    buf_reset(&b);
    const char *end = strstr(ubl, "</Invoice>");
    const char *line = strstr(ubl, "<cac:InvoiceLine>");
    buf_append(&b, ubl, (size_t)(end - ubl));
    for (int i = 0; i < 100000; i++)
        buf_append(&b, line, (size_t)(end - line));
    buf_puts(&b, "</Invoice>");
    r = check(a, b.data, b.len);
    assert_int_equal(r->verdict, EINVOICE_UNREADABLE);
    assert_non_null(strstr(r->reason, "larger than"));
    /* 10,000 lines fit: validated, and BR-CO-10 notices the sum. */
    buf_reset(&b);
    buf_append(&b, ubl, (size_t)(end - ubl));
    for (int i = 0; i < 10000; i++)
        buf_append(&b, line, (size_t)(end - line));
    buf_puts(&b, "</Invoice>");
    r = check(a, b.data, b.len);
    assert_int_equal(r->verdict, EINVOICE_REJECT);
    assert_true(has_rule(r, "BR-CO-10", EINVOICE_FATAL));
    arena_free(a);
    buf_release(&b);
}

/* ZUGFeRD / Factur-X PDFs made by tests/einvoice/make-pdfs.py. */
static const struct {
    const char *file;
    enum einvoice_verdict verdict;
    const char *profile, *reason;
} pdfs[] = {
    {"zugferd-xrechnung.pdf", EINVOICE_ACCEPT, "XRECHNUNG", NULL},
    {"zugferd-basic.pdf", EINVOICE_ACCEPT, "BASIC", NULL},
    {"zugferd-minimum.pdf", EINVOICE_REJECT, "MINIMUM", "not an invoice under EN 16931"},
    {"pdf-no-attachment.pdf", EINVOICE_UNREADABLE, NULL, "no embedded invoice"},
    {"pdf-two-invoices.pdf", EINVOICE_UNREADABLE, NULL, "ambiguous"},
    {"pdf-deflate-bomb.pdf", EINVOICE_UNREADABLE, NULL, "larger than"},
};

static void test_zugferd_pdfs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pdfs) / sizeof(pdfs[0]); i++) {
        size_t len;
        char *pdf = slurp(pdfs[i].file, &len);
        struct arena *a = arena_new(0);
        struct einvoice_report *r = check(a, pdf, len);
        if (r->verdict != pdfs[i].verdict)
            fail_msg("%s: verdict %d, reason '%s'", pdfs[i].file, r->verdict,
                     r->reason ? r->reason : "");
        assert_true(r->container_pdf);
        if (pdfs[i].profile)
            assert_string_equal(r->profile, pdfs[i].profile);
        if (pdfs[i].reason)
            assert_non_null(strstr(r->reason, pdfs[i].reason));
        if (r->verdict == EINVOICE_ACCEPT)
            assert_int_equal(r->syntax, EINVOICE_SYNTAX_CII);
        arena_free(a);
        free(pdf);
    }
}

/* Amounts as written in invoices, in cents; never more than two decimals. */
static void test_cents(void **state)
{
    (void)state;
    int64_t c;
    assert_true(einvoice_cents("1234.5", &c));
    assert_int_equal(c, 123450);
    assert_true(einvoice_cents("-3.07", &c));
    assert_int_equal(c, -307);
    assert_true(einvoice_cents("42", &c));
    assert_int_equal(c, 4200);
    assert_false(einvoice_cents("1.234", &c));
    assert_false(einvoice_cents("", &c));
    assert_false(einvoice_cents("1,50", &c));
    assert_false(einvoice_cents("1e5", &c));
    assert_false(einvoice_cents("1234567890123456", &c));
}

/* The invoice for people: parties, lines, VAT, totals and the Skonto of
 * XRechnung payment terms with its deadline and amount. */
static void test_view(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    struct kr_error err;
    json_t *v;
    assert_int_equal(einvoice_view(a, cii, cii_len, &v, &err), KR_OK);
    assert_non_null(json_string_value(json_object_get(json_object_get(v, "seller"), "name")));
    assert_true(json_array_size(json_object_get(v, "lines")) > 0);
    assert_true(json_array_size(json_object_get(v, "vat")) > 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "totals"), "payable")),
                        "428.00");
    json_t *sk = json_array_get(json_object_get(v, "skonto"), 0);
    assert_non_null(sk);
    assert_string_equal(json_string_value(json_object_get(sk, "until")), "2026-11-19");
    assert_string_equal(json_string_value(json_object_get(sk, "discount")), "8.56");
    assert_string_equal(json_string_value(json_object_get(sk, "percent")), "2.00");
    json_decref(v);
    assert_int_equal(einvoice_view(a, ubl, ubl_len, &v, &err), KR_OK);
    assert_int_equal(json_array_size(json_object_get(v, "skonto")), 0);
    assert_string_equal(json_string_value(json_object_get(v, "buyer_reference")),
                        "04011000-12345-67");
    json_decref(v);
    assert_int_equal(einvoice_view(a, "<x/>", 4, &v, &err), KR_ERR_INVALID);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_invoices_are_accepted),
        cmocka_unit_test(test_each_broken_term_is_caught),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_report_forms),
        cmocka_unit_test(test_nasty_inputs_are_unreadable),
        cmocka_unit_test(test_deep_and_huge),
        cmocka_unit_test(test_zugferd_pdfs),
        cmocka_unit_test(test_cents),
        cmocka_unit_test(test_view),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
