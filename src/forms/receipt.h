/*
 * receipt.h - the PDFs of the form server: the receipt of a submission
 * (county header, submission number, time, every answer in the order of
 * the form, attached files with SHA-256) and the empty printable form.
 * Both are made with the shared writer of src/pdf/pdf.h.
 *
 * *out is set up by the functions and owned by the caller (buf_release),
 * also on error.
 */
#ifndef KR_FORMS_RECEIPT_H
#define KR_FORMS_RECEIPT_H

#include "core/buf.h"
#include "forms/forms.h"

int forms_receipt(const struct forms_def *def, const struct forms_submission *sub,
                  const char *county, const char *lang, struct buf *out,
                  struct kr_error *err) KR_MUST_CHECK;

int forms_blank(const struct forms_def *def, const char *county, const char *lang, struct buf *out,
                struct kr_error *err) KR_MUST_CHECK;

#endif
