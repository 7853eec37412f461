/*
 * pdf.h - a small document writer for the letters and receipts Kreisel
 * prints: A4 pages with the county's header, headings, paragraphs and
 * key/value rows that wrap and break across pages, made with cairo and
 * pango (DejaVu Sans from Debian's fonts-dejavu-core).  Text stays text in
 * the PDF, so that pdftotext and screen readers can read it.
 *
 *   struct buf out;
 *   struct pdf_doc *doc;
 *   pdf_doc_new(&out, &(struct pdf_page_header){.county = "Landkreis ...",
 *                                                .title = "Eingangsbestätigung"},
 *               &doc, err);
 *   pdf_heading(doc, "Ihre Angaben");
 *   pdf_row(doc, "Name", "Anna Muster");
 *   pdf_doc_finish(doc, err);          // frees doc; out holds the PDF
 *
 * Ownership: the caller owns out (buf_init'ed by pdf_doc_new with a 32 MiB
 * cap; buf_release it).  A struct pdf_doc belongs to one thread from
 * pdf_doc_new until pdf_doc_finish or pdf_doc_abort frees it.  Drawing
 * functions never fail individually; an error (out of memory, the cap)
 * is reported by pdf_doc_finish.
 */
#ifndef KR_PDF_PDF_H
#define KR_PDF_PDF_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/error.h"

struct pdf_doc;

/* Printed at the top of every page; strings are copied. */
struct pdf_page_header {
    const char *county; /* "Landkreis Musterland" */
    const char *title;  /* the document's kind, also the PDF's title */
    const char *footer; /* left of the page number, or NULL */
};

int pdf_doc_new(struct buf *out, const struct pdf_page_header *hdr, struct pdf_doc **doc,
                struct kr_error *err) KR_MUST_CHECK;

/* A heading (level 1 or 2). */
void pdf_heading(struct pdf_doc *doc, int level, const char *text);
/* A paragraph of running text (newlines start new lines). */
void pdf_paragraph(struct pdf_doc *doc, const char *text);
/* A small print note (grey, smaller). */
void pdf_note(struct pdf_doc *doc, const char *text);
/* A row: key on the left third, value wrapped on the right. */
void pdf_row(struct pdf_doc *doc, const char *key, const char *value);
/* A labelled empty box of lines for handwriting (blank forms). */
void pdf_write_in(struct pdf_doc *doc, const char *label, int lines);
/*
 * A figure the caller draws (a GiroCode, a seal): size x size points at
 * the left margin, beside caption (wrapped right of it; may be NULL), on
 * one page.  draw gets the cairo_t (void * so that callers need no cairo
 * headers) and the figure's top-left corner; its error is reported by
 * pdf_doc_finish.
 */
typedef int (*pdf_draw_fn)(void *cr, double x, double y, double size, const void *arg,
                           struct kr_error *err);
void pdf_figure(struct pdf_doc *doc, double size, pdf_draw_fn draw, const void *arg,
                const char *caption);
/* Vertical space in points. */
void pdf_space(struct pdf_doc *doc, double points);

/* Finish the document into out and free doc.  KR_ERR_NOMEM,
 * KR_ERR_TOO_LARGE, KR_ERR_INTERNAL (cairo's status) on failure. */
int pdf_doc_finish(struct pdf_doc *doc, struct kr_error *err) KR_MUST_CHECK;
/* Free doc without finishing (error paths); NULL is ok. */
void pdf_doc_abort(struct pdf_doc *doc);

/* At exit, after every thread that made PDFs (any module) has ended:
 * release the global caches of pango, cairo and fontconfig (so that leak
 * checkers see a clean exit).  Called once, by main.  No PDF may be made
 * afterwards. */
void pdf_shutdown(void);

#endif
