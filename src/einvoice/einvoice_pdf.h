/*
 * einvoice_pdf.h - ZUGFeRD / Factur-X containers (internal to
 * src/einvoice): the CII XML embedded in a PDF/A-3, and the profile its
 * guideline identifier names.
 */
#ifndef KR_EINVOICE_PDF_H
#define KR_EINVOICE_PDF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/error.h"
#include "einvoice/einvoice.h"

/*
 * Find the one invoice XML (factur-x.xml, zugferd-invoice.xml,
 * xrechnung.xml) among the PDF's embedded files and copy it, inflated, into
 * the arena (*xml, *xml_len; *name is its file name).  KR_ERR_INVALID with
 * a message for a PDF that cannot be read, has no such attachment, has two
 * or more, or uses a filter other than FlateDecode; KR_ERR_TOO_LARGE beyond
 * EINVOICE_MAX_SIZE inflated; KR_ERR_NOMEM.
 */
int einvoice_pdf_extract(struct arena *a, const char *data, size_t len, const char **xml,
                         size_t *xml_len, const char **name, struct kr_error *err) KR_MUST_CHECK;

/* The ZUGFeRD/Factur-X profile of a guideline identifier ("MINIMUM",
 * "BASIC WL", "BASIC", "EN 16931", "EXTENDED", "XRECHNUNG") or NULL;
 * *valid_en16931 is false for MINIMUM and BASIC WL, which are not
 * invoices under EN 16931. */
const char *einvoice_pdf_profile(const char *guideline, bool *valid_en16931);

#endif
