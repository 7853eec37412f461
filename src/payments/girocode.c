/*
 * girocode.c - EPC069-12 "GiroCode" (SEPA credit transfer QR code,
 * version 002) with libqrencode at error level M; PNG through cairo, SVG
 * as text, and drawing onto any cairo context (notices, letters).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <cairo.h>
#include <qrencode.h>

#include "core/buf.h"
#include "core/text.h"
#include "payments/payments.h"

#define QUIET 4

static int iban_length(const char *cc)
{
    static const struct {
        const char cc[3];
        int len;
    } known[] = {{"DE", 22}, {"AT", 20}, {"CH", 21}, {"NL", 18}, {"FR", 27}, {"BE", 16},
                 {"LU", 20}, {"IT", 27}, {"ES", 24}, {"PL", 28}, {"DK", 18}, {"CZ", 24}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (memcmp(known[i].cc, cc, 2) == 0)
            return known[i].len;
    return 0;
}

int payments_iban_check(const char *iban, char out[35], struct kr_error *err)
{
    size_t n = 0;
    for (const char *p = iban ? iban : ""; *p; p++) {
        if (*p == ' ')
            continue;
        if (!isalnum((unsigned char)*p) || n == 34)
            return kr_error_set(err, KR_ERR_INVALID, "IBAN: only letters and digits, at most 34");
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n] = '\0';
    if (n < 15 || !isalpha((unsigned char)out[0]) || !isalpha((unsigned char)out[1]) ||
        !isdigit((unsigned char)out[2]) || !isdigit((unsigned char)out[3]))
        return kr_error_set(err, KR_ERR_INVALID, "IBAN: must start with country and check digits");
    int want = iban_length(out);
    if (want && (int)n != want)
        return kr_error_set(err, KR_ERR_INVALID, "IBAN: %.2s IBANs have %d characters", out, want);
    /* Move the first four characters to the end, letters become 10..35. */
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char c = out[(k + 4) % n];
        if (isdigit((unsigned char)c))
            rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else
            rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
    }
    if (rem != 1)
        return kr_error_set(err, KR_ERR_INVALID, "IBAN: check digits wrong (a typo?)");
    return KR_OK;
}

static int check_field(const char *field, const char *s, size_t max, bool required,
                       struct kr_error *err)
{
    size_t len = s ? strlen(s) : 0;
    if (required && len == 0)
        return kr_error_set(err, KR_ERR_INVALID, "GiroCode %s: required", field);
    if (len > max)
        return kr_error_set(err, KR_ERR_INVALID, "GiroCode %s: at most %zu bytes", field, max);
    if (len && !text_utf8_valid(s, len))
        return kr_error_set(err, KR_ERR_INVALID, "GiroCode %s: not UTF-8", field);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20)
            return kr_error_set(err, KR_ERR_INVALID, "GiroCode %s: control characters", field);
    return KR_OK;
}

static int check_bic(const char *bic, struct kr_error *err)
{
    size_t len = bic ? strlen(bic) : 0;
    if (len == 0)
        return KR_OK;
    bool ok = len == 8 || len == 11;
    for (size_t i = 0; ok && i < len; i++)
        ok = isupper((unsigned char)bic[i]) || isdigit((unsigned char)bic[i]);
    for (size_t i = 0; ok && i < 6; i++)
        ok = isupper((unsigned char)bic[i]);
    return ok ? KR_OK : kr_error_set(err, KR_ERR_INVALID, "GiroCode BIC: 8 or 11 characters");
}

int payments_girocode_payload(const struct payments_girocode *g, char *out, size_t size,
                              struct kr_error *err)
{
    char iban[35], amount[32];
    int rc = payments_iban_check(g->iban, iban, err);
    if (rc == KR_OK)
        rc = check_bic(g->bic, err);
    if (rc == KR_OK)
        rc = check_field("name", g->name, 70, true, err);
    if (rc == KR_OK)
        rc = check_field("remittance", g->remittance, 140, false, err);
    if (rc == KR_OK && (g->amount_cents < 1 || g->amount_cents > PAYMENTS_AMOUNT_MAX))
        rc = kr_error_set(err, KR_ERR_INVALID, "GiroCode amount: 0.01 to 999999999.99 EUR");
    if (rc)
        return rc;
    payments_amount_format(g->amount_cents, amount, sizeof(amount));
    int n = snprintf(out, size, "BCD\n002\n1\nSCT\n%s\n%s\n%s\nEUR%s\n\n\n%s", g->bic ? g->bic : "",
                     g->name, iban, amount, g->remittance ? g->remittance : "");
    if (n < 0 || (size_t)n >= size || n > PAYMENTS_GIROCODE_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "GiroCode: payload longer than 331 bytes");
    return KR_OK;
}

static int encode(const struct payments_girocode *g, QRcode **qr, struct kr_error *err)
{
    char payload[PAYMENTS_GIROCODE_MAX + 1];
    int rc = payments_girocode_payload(g, payload, sizeof(payload), err);
    if (rc)
        return rc;
    *qr = QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!*qr)
        return kr_error_set(err, KR_ERR_NOMEM, "the QR encoder failed");
    return KR_OK;
}

static void draw_modules(cairo_t *cr, const QRcode *qr, double x, double y, double module)
{
    double side = (qr->width + 2 * QUIET) * module;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, x, y, side, side);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int r = 0; r < qr->width; r++)
        for (int c = 0; c < qr->width; c++)
            if (qr->data[r * qr->width + c] & 1)
                cairo_rectangle(cr, x + (c + QUIET) * module, y + (r + QUIET) * module, module,
                                module);
    cairo_fill(cr);
}

int payments_girocode_draw(void *ctx, double x, double y, double size,
                           const struct payments_girocode *g, struct kr_error *err)
{
    cairo_t *cr = ctx;
    QRcode *qr;
    int rc = encode(g, &qr, err);
    if (rc)
        return rc;
    cairo_save(cr);
    cairo_new_path(cr);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
    draw_modules(cr, qr, x, y, size / (qr->width + 2 * QUIET));
    cairo_restore(cr);
    QRcode_free(qr);
    return KR_OK;
}

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int len)
{
    return buf_append(closure, data, len) == KR_OK ? CAIRO_STATUS_SUCCESS
                                                   : CAIRO_STATUS_WRITE_ERROR;
}

int payments_girocode_png(const struct payments_girocode *g, unsigned module_px, struct arena *a,
                          unsigned char **png, size_t *len, struct kr_error *err)
{
    if (module_px < 1 || module_px > 32)
        return kr_error_set(err, KR_ERR_INVALID, "module size 1-32 pixels");
    QRcode *qr;
    int rc = encode(g, &qr, err);
    if (rc)
        return rc;
    int side = (qr->width + 2 * QUIET) * (int)module_px;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, side, side);
    cairo_t *cr = cairo_create(s);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
    draw_modules(cr, qr, 0, 0, module_px);
    cairo_destroy(cr);
    QRcode_free(qr);
    struct buf b;
    buf_init(&b, 4u * 1024 * 1024);
    cairo_status_t st = cairo_surface_write_to_png_stream(s, png_write, &b);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS || buf_status(&b)) {
        buf_release(&b);
        return kr_error_set(err, KR_ERR_NOMEM, "PNG encoding failed");
    }
    *png = arena_alloc(a, b.len);
    if (*png)
        memcpy(*png, b.data, b.len);
    *len = b.len;
    buf_release(&b);
    return *png ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}

int payments_girocode_svg(const struct payments_girocode *g, struct arena *a, char **svg,
                          size_t *len, struct kr_error *err)
{
    QRcode *qr;
    int rc = encode(g, &qr, err);
    if (rc)
        return rc;
    int side = qr->width + 2 * QUIET;
    struct buf b;
    buf_init(&b, 1024u * 1024);
    buf_printf(&b,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
               "height=\"%d\" shape-rendering=\"crispEdges\" role=\"img\">"
               "<title>GiroCode</title><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
               "<path fill=\"#000\" d=\"",
               side, side, side * 6, side * 6, side, side);
    for (int r = 0; r < qr->width; r++)
        for (int c = 0; c < qr->width; c++)
            if (qr->data[r * qr->width + c] & 1)
                buf_printf(&b, "M%d %dh1v1h-1z", c + QUIET, r + QUIET);
    buf_puts(&b, "\"/></svg>\n");
    QRcode_free(qr);
    if (buf_status(&b)) {
        buf_release(&b);
        return kr_error_set(err, KR_ERR_NOMEM, "SVG encoding failed");
    }
    *svg = arena_strndup(a, b.data, b.len);
    *len = b.len;
    buf_release(&b);
    return *svg ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}
