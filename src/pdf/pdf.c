/*
 * pdf.c - the document writer of pdf.h on cairo's PDF surface with pango
 * layouts.  One layout per document is reused for every block.
 */
#include "pdf/pdf.h"

#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>

#define PAGE_W 595.28 /* A4 in points */
#define PAGE_H 841.89
#define MARGIN 56.0
#define TOP 110.0   /* below the header */
#define BOTTOM 60.0 /* above the footer */
#define PDF_MAX (32 * 1024 * 1024)

struct pdf_doc {
    struct buf *out;
    cairo_surface_t *surface;
    cairo_t *cr;
    PangoLayout *layout;
    PangoFontDescription *body, *small, *bold, *h1, *h2;
    char *county, *title, *footer;
    double y;
    int page;
    int figure_rc; /* the first error of a pdf_figure callback */
    struct kr_error figure_err;
};

static cairo_status_t write_out(void *closure, const unsigned char *data, unsigned int len)
{
    struct buf *b = closure;
    return buf_append(b, data, len) == KR_OK ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Lay out text in font and width; returns its height in points. */
static double set_text(struct pdf_doc *d, const char *text, PangoFontDescription *font,
                       double width)
{
    pango_layout_set_font_description(d->layout, font);
    pango_layout_set_width(d->layout, (int)(width * PANGO_SCALE));
    pango_layout_set_wrap(d->layout, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_text(d->layout, text ? text : "", -1);
    int w, h;
    pango_layout_get_size(d->layout, &w, &h);
    return (double)h / PANGO_SCALE;
}

static void draw_at(struct pdf_doc *d, double x, double y)
{
    cairo_move_to(d->cr, x, y);
    pango_cairo_show_layout(d->cr, d->layout);
}

static void page_frame(struct pdf_doc *d)
{
    d->page++;
    cairo_set_source_rgb(d->cr, 0.1, 0.2, 0.4);
    set_text(d, d->county, d->h1, PAGE_W - 2 * MARGIN);
    draw_at(d, MARGIN, 40);
    cairo_set_source_rgb(d->cr, 0.2, 0.2, 0.2);
    set_text(d, d->title, d->body, PAGE_W - 2 * MARGIN);
    draw_at(d, MARGIN, 66);
    cairo_set_line_width(d->cr, 0.8);
    cairo_move_to(d->cr, MARGIN, 92);
    cairo_line_to(d->cr, PAGE_W - MARGIN, 92);
    cairo_stroke(d->cr);
    char num[64];
    snprintf(num, sizeof(num), "%s%sSeite %d", d->footer ? d->footer : "", d->footer ? " · " : "",
             d->page);
    set_text(d, num, d->small, PAGE_W - 2 * MARGIN);
    draw_at(d, MARGIN, PAGE_H - 40);
    cairo_set_source_rgb(d->cr, 0, 0, 0);
    d->y = TOP;
}

/* Make room for height points, starting a new page when needed. */
static void need(struct pdf_doc *d, double height)
{
    if (d->y + height <= PAGE_H - BOTTOM || d->y <= TOP)
        return;
    cairo_show_page(d->cr);
    page_frame(d);
}

int pdf_doc_new(struct buf *out, const struct pdf_page_header *hdr, struct pdf_doc **doc,
                struct kr_error *err)
{
    struct pdf_doc *d = calloc(1, sizeof(*d));
    if (!d)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    buf_init(out, PDF_MAX);
    d->out = out;
    d->county = strdup(hdr->county ? hdr->county : "");
    d->title = strdup(hdr->title ? hdr->title : "");
    d->footer = hdr->footer ? strdup(hdr->footer) : NULL;
    d->surface = cairo_pdf_surface_create_for_stream(write_out, out, PAGE_W, PAGE_H);
    d->cr = cairo_create(d->surface);
    if (!d->county || !d->title || cairo_status(d->cr) != CAIRO_STATUS_SUCCESS) {
        pdf_doc_abort(d);
        return kr_error_set(err, KR_ERR_NOMEM, "cannot create the PDF");
    }
    cairo_pdf_surface_set_metadata(d->surface, CAIRO_PDF_METADATA_TITLE, d->title);
    cairo_pdf_surface_set_metadata(d->surface, CAIRO_PDF_METADATA_CREATOR, "Kreisel");
    d->layout = pango_cairo_create_layout(d->cr);
    d->body = pango_font_description_from_string("DejaVu Sans 10");
    d->small = pango_font_description_from_string("DejaVu Sans 8");
    d->bold = pango_font_description_from_string("DejaVu Sans Bold 10");
    d->h1 = pango_font_description_from_string("DejaVu Sans Bold 15");
    d->h2 = pango_font_description_from_string("DejaVu Sans Bold 12");
    page_frame(d);
    *doc = d;
    return KR_OK;
}

void pdf_heading(struct pdf_doc *d, int level, const char *text)
{
    double w = PAGE_W - 2 * MARGIN;
    double h = set_text(d, text, level <= 1 ? d->h1 : d->h2, w);
    need(d, h + 40); /* keep a heading with what follows */
    set_text(d, text, level <= 1 ? d->h1 : d->h2, w);
    d->y += level <= 1 ? 6 : 10;
    draw_at(d, MARGIN, d->y);
    d->y += h + 6;
}

static void block(struct pdf_doc *d, const char *text, PangoFontDescription *font, double grey)
{
    double w = PAGE_W - 2 * MARGIN;
    double h = set_text(d, text, font, w);
    need(d, h);
    set_text(d, text, font, w);
    cairo_set_source_rgb(d->cr, grey, grey, grey);
    draw_at(d, MARGIN, d->y);
    cairo_set_source_rgb(d->cr, 0, 0, 0);
    d->y += h + 6;
}

void pdf_paragraph(struct pdf_doc *d, const char *text)
{
    block(d, text, d->body, 0);
}

void pdf_note(struct pdf_doc *d, const char *text)
{
    block(d, text, d->small, 0.35);
}

void pdf_row(struct pdf_doc *d, const char *key, const char *value)
{
    double kw = (PAGE_W - 2 * MARGIN) * 0.36, vw = (PAGE_W - 2 * MARGIN) - kw - 12;
    double kh = set_text(d, key, d->bold, kw);
    double vh = set_text(d, value && *value ? value : "-", d->body, vw);
    double h = kh > vh ? kh : vh;
    if (h > PAGE_H - TOP - BOTTOM) {
        /* A value longer than a page: the key, then the value as running text. */
        block(d, key, d->bold, 0);
        block(d, value, d->body, 0);
        return;
    }
    need(d, h);
    set_text(d, key, d->bold, kw);
    draw_at(d, MARGIN, d->y);
    set_text(d, value && *value ? value : "-", d->body, vw);
    draw_at(d, MARGIN + kw + 12, d->y);
    d->y += h + 5;
}

void pdf_write_in(struct pdf_doc *d, const char *label, int lines)
{
    double w = PAGE_W - 2 * MARGIN;
    double h = set_text(d, label, d->bold, w);
    double box = 20.0 * (lines < 1 ? 1 : lines);
    need(d, h + box + 8);
    set_text(d, label, d->bold, w);
    draw_at(d, MARGIN, d->y);
    d->y += h + 2;
    cairo_set_line_width(d->cr, 0.5);
    cairo_set_source_rgb(d->cr, 0.4, 0.4, 0.4);
    cairo_rectangle(d->cr, MARGIN, d->y, w, box);
    cairo_stroke(d->cr);
    cairo_set_source_rgb(d->cr, 0, 0, 0);
    d->y += box + 10;
}

void pdf_figure(struct pdf_doc *d, double size, pdf_draw_fn draw, const void *arg,
                const char *caption)
{
    double w = PAGE_W - 2 * MARGIN - size - 14;
    double h = caption ? set_text(d, caption, d->body, w) : 0;
    double box = h > size ? h : size;
    need(d, box + 6);
    cairo_save(d->cr);
    int rc = draw(d->cr, MARGIN, d->y, size, arg, &d->figure_err);
    cairo_restore(d->cr);
    if (rc != KR_OK && d->figure_rc == KR_OK)
        d->figure_rc = rc;
    if (caption) {
        set_text(d, caption, d->body, w);
        draw_at(d, MARGIN + size + 14, d->y);
    }
    d->y += box + 8;
}

void pdf_space(struct pdf_doc *d, double points)
{
    d->y += points;
}

void pdf_doc_abort(struct pdf_doc *d)
{
    if (!d)
        return;
    if (d->layout)
        g_object_unref(d->layout);
    PangoFontDescription *fonts[] = {d->body, d->small, d->bold, d->h1, d->h2};
    for (size_t i = 0; i < sizeof(fonts) / sizeof(fonts[0]); i++)
        if (fonts[i])
            pango_font_description_free(fonts[i]);
    if (d->cr)
        cairo_destroy(d->cr);
    if (d->surface) {
        cairo_surface_finish(d->surface);
        cairo_surface_destroy(d->surface);
    }
    free(d->county);
    free(d->title);
    free(d->footer);
    free(d);
}

int pdf_doc_finish(struct pdf_doc *d, struct kr_error *err)
{
    cairo_show_page(d->cr);
    cairo_surface_finish(d->surface);
    cairo_status_t st = cairo_surface_status(d->surface);
    struct buf *out = d->out;
    int figure_rc = d->figure_rc;
    if (figure_rc != KR_OK && err)
        *err = d->figure_err;
    pdf_doc_abort(d);
    if (figure_rc != KR_OK)
        return figure_rc;
    if (buf_status(out) != KR_OK)
        return kr_error_set(err, buf_status(out), "the PDF is too large");
    if (st != CAIRO_STATUS_SUCCESS)
        return kr_error_set(err, KR_ERR_INTERNAL, "cairo: %s", cairo_status_to_string(st));
    return KR_OK;
}

void pdf_shutdown(void)
{
    pango_cairo_font_map_set_default(NULL);
    cairo_debug_reset_static_data();
    FcFini();
}
