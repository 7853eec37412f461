/*
 * einvoice_view.c - an invoice for people to read (see einvoice_view in
 * einvoice.h): the terms of the EN 16931 model as plain JSON for the
 * HTML page, in the order of the official visualisation.  Values stay as
 * written in the document (normalised spaces); nothing is computed except
 * the cash discount (Skonto) deadlines of XRechnung's payment terms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "einvoice/einvoice.h"
#include "einvoice/einvoice_model.h"
#include "einvoice/einvoice_pdf.h"

/* Set key to the normalised term when it is present and not blank. */
static void put(struct arena *a, json_t *o, const char *key, const struct ei_val *v)
{
    if (ei_nonblank(v)) {
        const char *s = ei_norm(a, v);
        if (s)
            json_object_set_new(o, key, json_string(s));
    }
}

static json_t *party(struct arena *a, const struct ei_party *p)
{
    json_t *o = json_object();
    put(a, o, "name", &p->name);
    put(a, o, "trading_name", &p->trading_name);
    put(a, o, "vat_id", &p->vat_id);
    put(a, o, "tax_reg_id", &p->tax_reg_id);
    put(a, o, "legal_id", &p->legal_id.v);
    put(a, o, "line1", &p->addr.line1);
    put(a, o, "line2", &p->addr.line2);
    put(a, o, "postcode", &p->addr.postcode);
    put(a, o, "city", &p->addr.city);
    put(a, o, "country", &p->addr.country);
    put(a, o, "contact", &p->contact.name);
    put(a, o, "phone", &p->contact.phone);
    put(a, o, "email", &p->contact.email);
    return o;
}

static json_t *lines(struct arena *a, const struct ei_invoice *inv)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < inv->lines.n; i++) {
        const struct ei_line *l = inv->lines.items[i];
        json_t *o = json_object();
        put(a, o, "id", &l->id);
        put(a, o, "name", &l->item_name);
        put(a, o, "quantity", &l->quantity);
        put(a, o, "unit", &l->unit);
        put(a, o, "price", &l->price);
        put(a, o, "net", &l->net_amount);
        put(a, o, "vat_cat", &l->vat_cat);
        put(a, o, "vat_rate", &l->vat_rate);
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *vat(struct arena *a, const struct ei_invoice *inv)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < inv->vat.n; i++) {
        const struct ei_vat *v = inv->vat.items[i];
        json_t *o = json_object();
        put(a, o, "cat", &v->cat);
        put(a, o, "rate", &v->rate);
        put(a, o, "taxable", &v->taxable);
        put(a, o, "tax", &v->tax);
        put(a, o, "exemption", &v->exemption);
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *allowances(struct arena *a, const struct ei_invoice *inv)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < inv->allowances.n; i++) {
        const struct ei_allowance *al = inv->allowances.items[i];
        json_t *o = json_pack("{s:b}", "charge", al->charge);
        put(a, o, "amount", &al->amount);
        put(a, o, "reason", &al->reason);
        put(a, o, "vat_cat", &al->vat_cat);
        put(a, o, "vat_rate", &al->vat_rate);
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *totals(struct arena *a, const struct ei_invoice *inv)
{
    json_t *o = json_object();
    put(a, o, "sum_lines", &inv->sum_lines);
    put(a, o, "allowances", &inv->allowance_total);
    put(a, o, "charges", &inv->charge_total);
    put(a, o, "without_vat", &inv->total_without_vat);
    if (inv->vat_totals.n > 0)
        put(a, o, "vat", inv->vat_totals.items[0]);
    put(a, o, "with_vat", &inv->total_with_vat);
    put(a, o, "prepaid", &inv->prepaid);
    put(a, o, "rounding", &inv->rounding);
    put(a, o, "payable", &inv->payable);
    return o;
}

static json_t *payment(struct arena *a, const struct ei_invoice *inv)
{
    json_t *o = json_object();
    if (inv->payments.n > 0) {
        const struct ei_payment *p = inv->payments.items[0];
        put(a, o, "means", &p->code);
        put(a, o, "iban", &p->account);
        put(a, o, "remittance", &p->remittance);
        put(a, o, "mandate", &p->mandate_id);
        put(a, o, "debited_account", &p->debited_account);
    }
    return o;
}

/* "2026-11-01" (UBL) or "20261101" (CII format 102) as a UTC day. */
static bool parse_day(const char *s, time_t *out)
{
    int y, m, d;
    char tail;
    if (!s || (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 &&
               sscanf(s, "%4d%2d%2d%c", &y, &m, &d, &tail) != 3))
        return false;
    if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
    *out = timegm(&tm);
    return true;
}

/* A decimal amount ("1234.5", "-3.00") in cents; false for more than two
 * decimals or beyond +-10^15. */
bool einvoice_cents(const char *s, int64_t *out)
{
    if (!s)
        return false;
    bool neg = *s == '-';
    const char *p = s + (neg || *s == '+');
    int64_t whole = 0, frac = 0;
    int digits = 0, decimals = -1;
    for (; *p; p++) {
        if (*p == '.' && decimals < 0) {
            decimals = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || ++digits > 15 || decimals >= 2)
            return false;
        if (decimals >= 0) {
            frac = frac * 10 + (*p - '0');
            decimals++;
        } else {
            whole = whole * 10 + (*p - '0');
        }
    }
    if (digits == 0)
        return false;
    if (decimals == 1)
        frac *= 10;
    *out = (whole * 100 + frac) * (neg ? -1 : 1);
    return true;
}

/* One "#SKONTO#TAGE=14#PROZENT=2.00#BASISBETRAG=100.00#" entry (XRechnung's
 * format for BT-20): the deadline from the issue date, the discount in
 * cents of the base (else of the amount payable). */
static json_t *skonto_entry(const char *entry, time_t issued, int64_t payable)
{
    int days = 0;
    char pct[16] = "", base[32] = "";
    const char *t = strstr(entry, "TAGE=");
    const char *p = strstr(entry, "PROZENT=");
    const char *b = strstr(entry, "BASISBETRAG=");
    if (!t || !p || sscanf(t, "TAGE=%d", &days) != 1 || days < 0 || days > 3650 ||
        sscanf(p, "PROZENT=%15[0-9.]", pct) != 1)
        return NULL;
    if (b)
        (void)sscanf(b, "BASISBETRAG=%31[0-9.-]", base);
    int64_t pct_cents, base_cents = payable;
    if (!einvoice_cents(pct, &pct_cents) || (base[0] && !einvoice_cents(base, &base_cents)))
        return NULL;
    time_t until = issued + (time_t)days * 86400;
    struct tm tm;
    char day[16];
    char shown[16];
    gmtime_r(&until, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    strftime(shown, sizeof(shown), "%d.%m.%Y", &tm);
    /* percent has two decimals: discount = base * pct / 10000, rounded */
    int64_t discount = (base_cents * pct_cents + (base_cents >= 0 ? 5000 : -5000)) / 10000;
    char amount[32];
    (void)snprintf(amount, sizeof(amount), "%s%lld.%02lld", discount < 0 ? "-" : "",
                   (long long)llabs(discount) / 100, (long long)llabs(discount) % 100);
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:I}", "days", days, "percent", pct, "until", day,
                     "until_text", shown, "discount", amount, "until_epoch", (json_int_t)until);
}

bool einvoice_day_text(const char *written, char out[16])
{
    time_t t;
    if (!parse_day(written, &t))
        return false;
    struct tm tm;
    gmtime_r(&t, &tm);
    return strftime(out, 16, "%d.%m.%Y", &tm) > 0;
}

/* "05.11.2026" for a day written "2026-11-05" or "20261105", as key. */
static void put_day(struct arena *a, json_t *o, const char *key, const struct ei_val *v)
{
    char day[16];
    if (ei_nonblank(v) && einvoice_day_text(ei_norm(a, v), day))
        json_object_set_new(o, key, json_string(day));
}

static json_t *skonto(struct arena *a, const struct ei_invoice *inv)
{
    json_t *arr = json_array();
    const char *terms = ei_nonblank(&inv->payment_terms) ? inv->payment_terms.s : NULL;
    time_t issued;
    int64_t payable = 0;
    const char *pay = ei_norm(a, &inv->payable);
    if (!terms || !parse_day(ei_norm(a, &inv->issue_date), &issued) ||
        !einvoice_cents(pay, &payable))
        return arr;
    for (const char *s = strstr(terms, "#SKONTO#"); s; s = strstr(s + 8, "#SKONTO#")) {
        const char *end = strstr(s + 8, "#SKONTO#");
        size_t n = end ? (size_t)(end - s) : strlen(s);
        char entry[256];
        (void)snprintf(entry, sizeof(entry), "%.*s", (int)(n < 255 ? n : 255), s);
        json_t *e = skonto_entry(entry, issued, payable);
        if (e)
            json_array_append_new(arr, e);
    }
    return arr;
}

int einvoice_view(struct arena *a, const char *data, size_t len, json_t **out, struct kr_error *err)
{
    if (len >= 5 && memcmp(data, "%PDF-", 5) == 0) {
        const char *name;
        int rc = einvoice_pdf_extract(a, data, len, &data, &len, &name, err);
        if (rc)
            return rc;
    }
    struct ei_invoice *inv;
    int rc = ei_parse(a, data, len, &inv, err);
    if (rc)
        return rc;
    json_t *o = json_object();
    put(a, o, "number", &inv->number);
    put(a, o, "issue_date", &inv->issue_date);
    put(a, o, "type_code", &inv->type_code);
    put(a, o, "currency", &inv->currency);
    put(a, o, "due_date", &inv->due_date);
    put(a, o, "buyer_reference", &inv->buyer_ref);
    put(a, o, "payment_terms", &inv->payment_terms);
    put_day(a, o, "issue_date_text", &inv->issue_date);
    put_day(a, o, "due_date_text", &inv->due_date);
    put(a, o, "period_start", &inv->period_start);
    put(a, o, "period_end", &inv->period_end);
    json_object_set_new(o, "credit_note",
                        json_boolean(inv->syntax == EINVOICE_SYNTAX_UBL_CREDITNOTE ||
                                     ei_eq(&inv->type_code, "381")));
    json_object_set_new(o, "seller", party(a, &inv->seller));
    json_object_set_new(o, "buyer", party(a, &inv->buyer));
    if (inv->has_payee)
        json_object_set_new(o, "payee", party(a, &inv->payee));
    json_object_set_new(o, "payment", payment(a, inv));
    json_object_set_new(o, "lines", lines(a, inv));
    json_object_set_new(o, "allowances", allowances(a, inv));
    json_object_set_new(o, "vat", vat(a, inv));
    json_object_set_new(o, "totals", totals(a, inv));
    json_object_set_new(o, "skonto", skonto(a, inv));
    *out = o;
    return KR_OK;
}
