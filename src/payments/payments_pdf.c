/*
 * payments_pdf.c - reminder letters (Zahlungserinnerung) as PDF with cairo
 * and pango: A4, DIN 5008 address field, a table of amounts and the
 * GiroCode.  German only: letters go out in the language of the authority.
 */
#include "payments/payments_pdf.h"

#include <stdio.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/text.h"
#include "core/util.h"

#define A4_W 595.28
#define A4_H 841.89
#define MM (72.0 / 25.4)
#define PDF_MAX (8u * 1024 * 1024)

static cairo_status_t pdf_write(void *closure, const unsigned char *data, unsigned int len)
{
    return buf_append(closure, data, len) == KR_OK ? CAIRO_STATUS_SUCCESS
                                                   : CAIRO_STATUS_WRITE_ERROR;
}

/* Draw text (plain, not markup) at x, y in width; returns its height. */
static double text(cairo_t *cr, double x, double y, double width, const char *font, const char *s)
{
    PangoLayout *layout = pango_cairo_create_layout(cr);
    PangoFontDescription *fd = pango_font_description_from_string(font);
    pango_layout_set_font_description(layout, fd);
    pango_layout_set_width(layout, (int)(width * PANGO_SCALE));
    pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_text(layout, s, -1);
    cairo_move_to(cr, x, y);
    pango_cairo_show_layout(cr, layout);
    int w, h;
    pango_layout_get_size(layout, &w, &h);
    pango_font_description_free(fd);
    g_object_unref(layout);
    return (double)h / PANGO_SCALE;
}

static void date_text(int64_t t, char out[16])
{
    char full[32];
    kr_time_format_local(t, full, sizeof(full));
    snprintf(out, 16, "%.10s", full);
}

static void amount_row(cairo_t *cr, double y, const char *label, int64_t cents, bool bold)
{
    char v[TEXT_MONEY_LEN], shown[TEXT_MONEY_LEN + 8];
    snprintf(shown, sizeof(shown), "%s EUR", text_money(cents, "de", v));
    const char *font = bold ? "Sans Bold 10" : "Sans 10";
    text(cr, 25 * MM, y, 100 * MM, font, label);
    PangoLayout *layout = pango_cairo_create_layout(cr);
    PangoFontDescription *fd = pango_font_description_from_string(font);
    pango_layout_set_font_description(layout, fd);
    pango_layout_set_width(layout, (int)(45 * MM * PANGO_SCALE));
    pango_layout_set_alignment(layout, PANGO_ALIGN_RIGHT);
    pango_layout_set_text(layout, shown, -1);
    cairo_move_to(cr, 125 * MM, y);
    pango_cairo_show_layout(cr, layout);
    pango_font_description_free(fd);
    g_object_unref(layout);
}

static int draw_letter(cairo_t *cr, const struct kr_config *cfg,
                       const struct payments_receivable *r, int64_t now, struct kr_error *err)
{
    char line[600], kz[16], due[16], today[16];
    payments_kz_format(r->kz, kz);
    date_text(r->due_at, due);
    date_text(now, today);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, 25 * MM, 15 * MM, 160 * MM, "Sans Bold 14", cfg->payments_creditor_name);
    text(cr, 25 * MM, 24 * MM, 160 * MM, "Sans 9", "Kreiskasse");
    /* DIN 5008 form B: address field 45 mm from the top. */
    text(cr, 25 * MM, 50 * MM, 85 * MM, "Sans 10", r->debtor_name);
    snprintf(line, sizeof(line), "Datum: %s\nKassenzeichen: %s", today, kz);
    text(cr, 125 * MM, 50 * MM, 60 * MM, "Sans 9", line);
    snprintf(line, sizeof(line), "%lld. Zahlungserinnerung",
             (long long)(r->reminders > 0 ? r->reminders : 1));
    text(cr, 25 * MM, 98 * MM, 160 * MM, "Sans Bold 12", line);
    snprintf(line, sizeof(line),
             "Guten Tag,\n\nfür „%s“ war der Betrag am %s fällig. Bis heute ist er "
             "bei uns nicht "
             "vollständig eingegangen. Bitte überweisen Sie den offenen Betrag innerhalb von "
             "einer Woche und geben Sie dabei das Kassenzeichen an. Haben Sie in den letzten "
             "Tagen bezahlt, ist dieses Schreiben gegenstandslos.",
             r->purpose, due);
    double y = 108 * MM + text(cr, 25 * MM, 108 * MM, 160 * MM, "Sans 10", line) + 6 * MM;
    amount_row(cr, y, "Forderung", r->amount_cents, false);
    amount_row(cr, y + 6 * MM, "Mahngebühren", r->fee_cents, false);
    amount_row(cr, y + 12 * MM, "bereits gezahlt", -r->paid_cents, false);
    amount_row(cr, y + 19 * MM, "Offener Betrag", payments_outstanding(r), true);
    char iban[35];
    struct kr_error ignored;
    if (payments_iban_check(cfg->payments_iban, iban, &ignored) != KR_OK)
        iban[0] = '\0';
    snprintf(line, sizeof(line),
             "Empfänger: %s\nIBAN: %s\nBIC: %s\nVerwendungszweck: %s\n\nMit der Banking-App "
             "können Sie den GiroCode rechts scannen; er enthält alle Angaben.",
             cfg->payments_creditor_name, iban, cfg->payments_bic, kz);
    y += 32 * MM;
    text(cr, 25 * MM, y, 105 * MM, "Sans 10", line);
    struct payments_girocode g = {cfg->payments_bic, cfg->payments_creditor_name,
                                  cfg->payments_iban, payments_outstanding(r), r->kz};
    return payments_girocode_draw(cr, 140 * MM, y, 40 * MM, &g, err);
}

int payments_reminder_pdf(const struct kr_config *cfg, const struct payments_receivable *r,
                          int64_t now, struct arena *a, unsigned char **pdf, size_t *len,
                          struct kr_error *err)
{
    if (payments_outstanding(r) == 0)
        return kr_error_set(err, KR_ERR_CONFLICT, "nothing is outstanding");
    struct buf b;
    buf_init(&b, PDF_MAX);
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(pdf_write, &b, A4_W, A4_H);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, "Zahlungserinnerung");
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_AUTHOR, cfg->payments_creditor_name);
    cairo_t *cr = cairo_create(s);
    int rc = draw_letter(cr, cfg, r, now, err);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    cairo_status_t st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (rc) {
        buf_release(&b);
        return rc;
    }
    if (st != CAIRO_STATUS_SUCCESS || buf_status(&b)) {
        buf_release(&b);
        return kr_error_set(err, KR_ERR_INTERNAL, "the PDF could not be made");
    }
    *pdf = arena_alloc(a, b.len);
    if (*pdf)
        memcpy(*pdf, b.data, b.len);
    *len = b.len;
    buf_release(&b);
    return *pdf ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}
