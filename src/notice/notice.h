/*
 * notice.h - notices (Bescheide): letter templates with placeholders,
 * rendered to PDF with the shared writer (pdf.h), with the payment details
 * and the GiroCode when a fee is unpaid.
 *
 * A template is notices/<name>.json (docs/notices.md):
 *
 *   {"title": "Bescheid über die Vergabe eines Betreuungsplatzes",
 *    "subject": "Ihr Antrag {{case.number}}: Bescheid",
 *    "body": ["Sehr geehrte Damen und Herren,", "für {{data.child_name}} ..."],
 *    "rows": [["Vorgangsnummer", "{{case.number}}"], ["Beginn", "{{data.start}}"]],
 *    "legal_remedy": "Gegen diesen Bescheid kann innerhalb eines Monats ..."}
 *
 * title, subject, body (1-50 paragraphs) and legal_remedy are required;
 * rows is optional.  Placeholders are {{name}} with name one of
 *     case.number  case.date  today  workflow  unit  county  reason
 *     fee  kassenzeichen  due_date
 * or data.<field> (a field of the case data, shown as people read it).
 * Every text is checked at load: unbalanced braces and unknown names are
 * start errors with file and line.  fee, kassenzeichen and due_date are
 * "–" when nothing is to be paid; then the payment section is left out.
 *
 * The loaded templates belong to the process (notice_load_dir until
 * notice_unload) and are read-only in between, so any thread may render.
 */
#ifndef KR_NOTICE_NOTICE_H
#define KR_NOTICE_NOTICE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"

#define NOTICE_NAME_MAX 64
#define NOTICE_FILE_MAX (64 * 1024)

struct notice_template;

/* Load every *.json of dir (replacing what was loaded; nothing replaced
 * on error: KR_ERR_CONFIG "path:line: message").  A missing dir loads
 * nothing and is KR_OK. */
int notice_load_dir(const char *dir, struct kr_error *err) KR_MUST_CHECK;

/* Parse one template from text (tests); name as the file name without
 * .json.  Replaces a loaded template of that name. */
int notice_load_text(const char *name, const char *path, const char *text, size_t len,
                     struct kr_error *err) KR_MUST_CHECK;

void notice_unload(void);

/* The loaded template, or NULL. */
const struct notice_template *notice_find(const char *name);

/* Call fn for every data.<field> placeholder of t (field without the
 * prefix); stops at the first non-KR_OK return and returns it. */
int notice_each_field(const struct notice_template *t,
                      int (*fn)(void *ctx, const char *field, struct kr_error *err), void *ctx,
                      struct kr_error *err) KR_MUST_CHECK;

/* What is to be paid; all strings required. */
struct notice_payment {
    int64_t amount_cents;      /* outstanding */
    const char *kassenzeichen; /* as stored (the GiroCode's remittance) */
    int64_t due_at;
    const char *creditor, *iban, *bic; /* bic may be "" */
};

struct notice_input {
    const char *county;                   /* letter head */
    const char *number;                   /* case number */
    int64_t opened_at, now;               /* Unix seconds */
    const char *workflow, *unit;          /* titles */
    const char *reason;                   /* of the clerk's decision, or NULL */
    const struct notice_payment *payment; /* NULL: nothing to pay */
    /* data.<field>: the answer as people read it, in a; NULL for none. */
    const char *(*field)(void *ctx, const char *field, struct arena *a);
    void *ctx;
};

/*
 * Render template t for in into pdf (set up here, owned by the caller:
 * buf_release, also on error); *subject gets the filled-in subject in a.
 * Errors: KR_ERR_INVALID for a payment the GiroCode refuses, KR_ERR_NOMEM,
 * the PDF writer's.
 */
int notice_render(const struct notice_template *t, const struct notice_input *in, struct arena *a,
                  struct buf *pdf, const char **subject, struct kr_error *err) KR_MUST_CHECK;

/* The PDF's title (the template's "title"). */
const char *notice_title(const struct notice_template *t);

#endif
