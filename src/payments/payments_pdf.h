/* payments_pdf.h - the reminder letter (Mahnung) as PDF, drawn with cairo
 * and pango.  Kept in one small file so that it can move into a shared PDF
 * module later. */
#ifndef KR_PAYMENTS_PDF_H
#define KR_PAYMENTS_PDF_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "payments/payments.h"

struct kr_config;

/* An A4 reminder for r dated now: payee, debtor, Kassenzeichen, amounts
 * (original, fees, paid, outstanding), the account and the GiroCode of the
 * outstanding amount.  The PDF bytes live in arena a.  KR_ERR_CONFLICT
 * when nothing is outstanding. */
int payments_reminder_pdf(const struct kr_config *cfg, const struct payments_receivable *r,
                          int64_t now, struct arena *a, unsigned char **pdf, size_t *len,
                          struct kr_error *err) KR_MUST_CHECK;

#endif
