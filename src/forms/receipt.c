/*
 * receipt.c - the receipt PDF of a submission and the empty printable
 * form (see receipt.h).
 */
#include "forms/receipt.h"

#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "pdf/pdf.h"

static bool en(const char *lang)
{
    return lang && strcmp(lang, "en") == 0;
}

static void answers_of(struct pdf_doc *doc, const struct forms_def *def, json_t *answers,
                       const char *lang, struct arena *a)
{
    struct forms_eval ev;
    forms_eval_init(&ev, def, answers, a);
    for (size_t s = 0; s < def->step_count; s++) {
        const struct forms_step *st = &def->steps[s];
        if (!forms_step_visible(&ev, (int)s))
            continue;
        pdf_heading(doc, 2, forms_tr(&st->title, lang));
        for (size_t i = 0; i < st->field_count; i++) {
            const struct forms_field *f = &st->fields[i];
            if (!forms_field_visible(&ev, f))
                continue;
            const char *v = f->type == FORMS_COMPUTED
                                ? forms_computed_display(&ev, f, lang)
                                : forms_display(f, json_object_get(answers, f->id), lang, a);
            pdf_row(doc, forms_tr(&f->label, lang), v);
        }
    }
}

static void files_of(struct pdf_doc *doc, const struct forms_submission *sub, const char *lang)
{
    if (!sub->file_count)
        return;
    pdf_heading(doc, 2, en(lang) ? "Attached files" : "Angehängte Dateien");
    for (size_t i = 0; i < sub->file_count; i++) {
        char line[256];
        snprintf(line, sizeof(line), "%lld Bytes, %s", (long long)sub->files[i].size,
                 sub->files[i].content_type);
        pdf_row(doc, sub->files[i].name, line);
        /* The hash on a line of its own, so that it is never wrapped. */
        snprintf(line, sizeof(line), "SHA-256: %s", sub->files[i].hash);
        pdf_note(doc, line);
    }
}

int forms_receipt(const struct forms_def *def, const struct forms_submission *sub,
                  const char *county, const char *lang, struct buf *out, struct kr_error *err)
{
    struct pdf_doc *doc;
    struct pdf_page_header hdr = {.county = county,
                                  .title = en(lang) ? "Receipt of your application"
                                                    : "Eingangsbestätigung",
                                  .footer = sub->number};
    int rc = pdf_doc_new(out, &hdr, &doc, err);
    if (rc)
        return rc;
    struct arena *a = arena_new(16 * 1024 * 1024);
    json_t *answers = json_loads(sub->answers, 0, NULL);
    if (!a || !answers) {
        pdf_doc_abort(doc);
        arena_free(a);
        json_decref(answers);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    char when[32], fee[48];
    kr_time_format_local(sub->created_at, when, sizeof(when));
    pdf_heading(doc, 1, forms_tr(&def->title, lang));
    pdf_row(doc, en(lang) ? "Submission number" : "Antragsnummer", sub->number);
    pdf_row(doc, en(lang) ? "Received" : "Eingegangen am", when);
    if (sub->fee_cents) {
        forms_money_text(sub->fee_cents, lang, fee, sizeof(fee));
        pdf_row(doc, en(lang) ? "Fee" : "Gebühr", fee);
    }
    pdf_row(doc, en(lang) ? "Form version" : "Formularversion", sub->version);
    answers_of(doc, def, answers, lang, a);
    files_of(doc, sub, lang);
    pdf_space(doc, 12);
    pdf_note(doc, en(lang) ? "Please keep this receipt. Quote the submission number when you "
                             "contact us."
                           : "Bitte bewahren Sie diese Bestätigung auf. Geben Sie bei Rückfragen "
                             "die Antragsnummer an.");
    json_decref(answers);
    arena_free(a);
    return pdf_doc_finish(doc, err);
}

static void blank_field(struct pdf_doc *doc, const struct forms_field *f, const char *lang)
{
    char label[512];
    snprintf(label, sizeof(label), "%s%s", forms_tr(&f->label, lang), f->required ? " *" : "");
    if (f->option_count) {
        pdf_paragraph(doc, label);
        for (size_t i = 0; i < f->option_count; i++) {
            char opt[300];
            snprintf(opt, sizeof(opt), "☐ %s", forms_tr(&f->options[i].label, lang));
            pdf_paragraph(doc, opt);
        }
        return;
    }
    if (f->type == FORMS_YESNO) {
        pdf_paragraph(doc, label);
        pdf_paragraph(doc, en(lang) ? "☐ Yes   ☐ No" : "☐ Ja   ☐ Nein");
        return;
    }
    if (f->type == FORMS_COMPUTED) {
        pdf_row(doc, label, en(lang) ? "(calculated by the office)" : "(wird berechnet)");
        return;
    }
    if (f->type == FORMS_FILE) {
        pdf_row(doc, label, en(lang) ? "(please enclose)" : "(bitte beilegen)");
        return;
    }
    pdf_write_in(doc, label, f->type == FORMS_TEXTAREA ? 4 : f->type == FORMS_ADDRESS ? 2 : 1);
}

int forms_blank(const struct forms_def *def, const char *county, const char *lang, struct buf *out,
                struct kr_error *err)
{
    struct pdf_doc *doc;
    struct pdf_page_header hdr = {.county = county,
                                  .title = en(lang) ? "Application form" : "Antragsformular",
                                  .footer = def->id};
    int rc = pdf_doc_new(out, &hdr, &doc, err);
    if (rc)
        return rc;
    pdf_heading(doc, 1, forms_tr(&def->title, lang));
    if (def->intro.de)
        pdf_paragraph(doc, forms_tr(&def->intro, lang));
    pdf_note(doc, en(lang) ? "Fields marked * are required. Some questions only apply in "
                             "certain cases; their notes say when."
                           : "Mit * markierte Felder sind Pflichtangaben. Manche Fragen gelten "
                             "nur in bestimmten Fällen.");
    for (size_t s = 0; s < def->step_count; s++) {
        const struct forms_step *st = &def->steps[s];
        pdf_heading(doc, 2, forms_tr(&st->title, lang));
        for (size_t i = 0; i < st->field_count; i++) {
            const struct forms_field *f = &st->fields[i];
            if (f->type == FORMS_GROUP) {
                pdf_paragraph(doc, forms_tr(&f->label, lang));
                for (unsigned r = 0; r < (f->min_rows > 2 ? f->min_rows : 2); r++)
                    for (size_t c = 0; c < f->field_count; c++)
                        blank_field(doc, &f->fields[c], lang);
                continue;
            }
            blank_field(doc, f, lang);
        }
    }
    pdf_space(doc, 20);
    pdf_write_in(doc, en(lang) ? "Place, date, signature" : "Ort, Datum, Unterschrift", 2);
    return pdf_doc_finish(doc, err);
}
