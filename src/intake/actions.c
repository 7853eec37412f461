/*
 * actions.c - what the workflow engine does with the other modules (see
 * intake.h): the e-file of a case, notices, closing the file, moving on
 * when the fee is paid.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "core/log.h"
#include "core/text.h"
#include "efile/efile.h"
#include "forms/forms.h"
#include "forms/forms_http.h"
#include "forms/receipt.h"
#include "intake/intake.h"
#include "intake/intake_internal.h"
#include "notice/notice.h"
#include "payments/payments.h"
#include "workflow/workflow.h"

static const struct kr_config *actions_cfg;
static struct blob_store *actions_blobs;

/* The engine acting in the e-file: a clerk of the case's unit without an
 * account (audited as "system"). */
static struct efile_actor engine(int64_t unit_id)
{
    return (struct efile_actor){0, unit_id, ACCOUNT_ROLE_CLERK};
}

/* ---- The case's e-file ------------------------------------------------------------ */

/* A PDF (or any bytes) into the blob store and the case's transaction. */
static int file_bytes(struct db_conn *conn, int64_t unit_id, int64_t txn, const char *title,
                      const char *filename, const char *direction, const void *data, size_t len,
                      struct kr_error *err)
{
    struct blob_info info;
    int rc = blob_put(actions_blobs, data, len, &info, err);
    if (rc != KR_OK)
        return rc;
    struct efile_actor who = engine(unit_id);
    struct efile_doc_meta meta = {.title = title, .direction = direction, .author = "Kreisel"};
    struct efile_content content = {info.hash, info.size, filename, "application/pdf"};
    int64_t doc;
    return efile_doc_add(conn, actions_blobs, &who, txn, &meta, &content, workflow_now(), &doc,
                         err);
}

/* The submission's receipt and files as documents of the new transaction. */
static int file_submission(struct db_conn *conn, int64_t unit_id, int64_t txn,
                           const struct forms_submission *s, struct kr_error *err)
{
    const struct forms_def *def = forms_find(forms_http_set(), s->form_id);
    struct buf pdf;
    int rc = def ? forms_receipt(def, s, actions_cfg->payments_creditor_name, "de", &pdf, err)
                 : kr_error_set(err, KR_ERR_NOT_FOUND, "form %s is not loaded", s->form_id);
    char title[160], name[96];
    (void)snprintf(title, sizeof(title), "Antrag %s (Eingangsbestätigung)", s->number);
    (void)snprintf(name, sizeof(name), "Antrag-%s.pdf", s->number);
    if (rc == KR_OK)
        rc = file_bytes(conn, unit_id, txn, title, name, "in", buf_cstr(&pdf), pdf.len, err);
    if (def)
        buf_release(&pdf);
    struct efile_actor who = engine(unit_id);
    for (size_t i = 0; rc == KR_OK && i < s->file_count; i++) {
        const struct forms_file *f = &s->files[i];
        struct efile_content content = {f->hash, f->size, f->name, f->content_type};
        int64_t doc;
        rc = efile_case_add_document(conn, actions_blobs, &who, txn, f->name, &content,
                                     workflow_now(), &doc, err);
    }
    return rc;
}

int intake_efile_open(struct db_conn *conn, const struct workflow_def *def, int64_t case_id,
                      const struct forms_submission *s, struct kr_error *err)
{
    if (!def->plan || !actions_blobs)
        return KR_OK;
    struct arena *a = arena_new(0);
    struct workflow_case c;
    int rc = a ? workflow_case_get(conn, a, case_id, &c, err)
               : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char title[300];
    (void)snprintf(title, sizeof(title), "%s %s", def->title_de, c.number);
    struct efile_actor who = engine(c.unit_id);
    int64_t file_id = 0, txn = 0;
    if (rc == KR_OK)
        rc = efile_case_open(conn, &who, def->plan, c.unit_id, title, c.number, workflow_now(),
                             &file_id, &txn, err);
    if (rc == KR_ERR_NOT_FOUND) { /* the county has not imported that plan item */
        kr_log(KR_LOG_WARN, "intake_no_plan_item",
               "workflow %s: file plan item %s is missing; case %s gets no e-file", def->id,
               def->plan, c.number);
        rc = KR_OK;
    } else if (rc == KR_OK && s) {
        rc = file_submission(conn, c.unit_id, txn, s, err);
    }
    arena_free(a);
    return rc;
}

/* A document the applicant sent later goes into the case's e-file. */
static int on_document(struct db_conn *conn, const struct workflow_case *c,
                       const struct workflow_upload *up, struct kr_error *err)
{
    int64_t file_id, txn;
    int rc = efile_case_txn(conn, c->number, &file_id, &txn, err);
    if (rc == KR_ERR_NOT_FOUND)
        return KR_OK;
    struct efile_actor who = engine(c->unit_id);
    struct efile_content content = {up->blob_hash, up->size, up->filename, up->content_type};
    char title[260];
    (void)snprintf(title, sizeof(title), "Nachgereicht: %s", up->filename);
    int64_t doc;
    return rc == KR_OK ? efile_case_add_document(conn, actions_blobs, &who, txn, title, &content,
                                                 workflow_now(), &doc, err)
                       : rc;
}

/* ---- Notices -------------------------------------------------------------------------- */

struct answers {
    const struct forms_def *form;
    json_t *data;
};

/* data.<field> as people read it: the form's display of the answer, else
 * the JSON text of a plain value. */
static const char *answer(void *ctx, const char *field, struct arena *a)
{
    const struct answers *x = ctx;
    json_t *v = json_object_get(x->data, field);
    const struct forms_field *f = x->form ? forms_field_find(x->form, field) : NULL;
    if (!v || json_is_null(v))
        return NULL;
    if (f)
        return forms_display(f, v, "de", a);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        return arena_printf(a, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    if (json_is_boolean(v))
        return json_is_true(v) ? "ja" : "nein";
    return NULL;
}

/* The first open receivable of the case, or none (*has false). */
static int unpaid_fee(struct db_conn *conn, struct arena *a, const char *number,
                      struct notice_payment *pay, bool *has, struct kr_error *err)
{
    struct payments_receivable *rs;
    size_t n;
    *has = false;
    int rc = payments_receivables_of_case(conn, a, number, &rs, &n, err);
    for (size_t i = 0; rc == KR_OK && i < n && !*has; i++) {
        if (rs[i].status != PAYMENTS_OPEN && rs[i].status != PAYMENTS_PARTLY_PAID)
            continue;
        const struct kr_config *cfg = actions_cfg;
        *pay = (struct notice_payment){
            payments_outstanding(&rs[i]), arena_strdup(a, rs[i].kz), rs[i].due_at,
            cfg->payments_creditor_name,  cfg->payments_iban,        cfg->payments_bic};
        *has = true;
    }
    return rc;
}

/* The notice goes to the applicant: mailbox with the PDF, or e-mail. */
static int deliver_notice(const struct workflow_action_ctx *ctx, const char *subject,
                          const char *filename, const struct buf *pdf, struct kr_error *err)
{
    const char *url = actions_cfg->public_url;
    char *body =
        arena_printf(ctx->a,
                     "Guten Tag,\n\nzu Ihrem Antrag %s (%s) erhalten Sie anbei den "
                     "Bescheid als PDF.\nDen Stand Ihres Antrags sehen Sie unter %s%s\n\n"
                     "-- English --\n\nPlease find the decision on your application %s "
                     "attached (PDF, in German).\n",
                     ctx->c->number, ctx->def->title_de, url,
                     ctx->c->applicant_id ? "/antraege" : "/antragsstatus", ctx->c->number);
    struct mail_attachment file = {filename, "application/pdf", buf_cstr(pdf), pdf->len};
    return workflow_tell_applicant(ctx->conn, ctx->cfg, ctx->c, ctx->actor_id, subject, body, &file,
                                   err);
}

/* Store the notice in the e-file (when the case has one), log and audit. */
static int record_notice(const struct workflow_action_ctx *ctx, const char *title,
                         const char *filename, const struct buf *pdf, bool with_fee,
                         struct kr_error *err)
{
    int64_t file_id, txn;
    int rc = efile_case_txn(ctx->conn, ctx->c->number, &file_id, &txn, err);
    if (rc == KR_OK)
        rc = file_bytes(ctx->conn, ctx->c->unit_id, txn, title, filename, "out", buf_cstr(pdf),
                        pdf->len, err);
    else if (rc == KR_ERR_NOT_FOUND)
        rc = KR_OK;
    if (rc == KR_OK)
        rc = workflow_case_log(ctx->conn, ctx->c->id, "notice", filename, true, err);
    char id[24];
    (void)snprintf(id, sizeof(id), "%" PRId64, ctx->c->id);
    json_t *details = json_pack("{s:s, s:s, s:s, s:b}", "number", ctx->c->number, "template",
                                workflow_state_find(ctx->def, ctx->state)->notice, "file", filename,
                                "payment", with_fee);
    struct audit_event ev = {ctx->actor, "case.notice", "case", id, details};
    if (rc == KR_OK)
        rc = audit_append(ctx->conn, &ev, NULL, err);
    json_decref(details);
    return rc;
}

static int action_notice(const struct workflow_action_ctx *ctx, struct kr_error *err)
{
    const struct workflow_state *st = workflow_state_find(ctx->def, ctx->state);
    const struct notice_template *t = notice_find(st->notice);
    if (!t)
        return kr_error_set(err, KR_ERR_INTERNAL, "notice template %s is not loaded", st->notice);
    struct notice_payment pay;
    bool has_fee;
    int rc = unpaid_fee(ctx->conn, ctx->a, ctx->c->number, &pay, &has_fee, err);
    struct answers x = {ctx->def->form ? forms_find(forms_http_set(), ctx->def->form) : NULL,
                        json_loads(ctx->c->data ? ctx->c->data : "{}", 0, NULL)};
    struct notice_input in = {.county = actions_cfg->payments_creditor_name,
                              .number = ctx->c->number,
                              .opened_at = ctx->c->created_at,
                              .now = workflow_now(),
                              .workflow = ctx->def->title_de,
                              .unit = ctx->c->unit_name,
                              .reason = ctx->reason,
                              .payment = has_fee ? &pay : NULL,
                              .field = answer,
                              .ctx = &x};
    struct buf pdf;
    const char *subject = NULL;
    bool rendered = false;
    if (rc == KR_OK) {
        rc = notice_render(t, &in, ctx->a, &pdf, &subject, err);
        rendered = true;
    }
    json_decref(x.data);
    char *filename = arena_printf(ctx->a, "Bescheid-%s-%s.pdf", ctx->c->number, ctx->state);
    if (rc == KR_OK)
        rc = record_notice(ctx, notice_title(t), filename, &pdf, has_fee, err);
    if (rc == KR_OK)
        rc = deliver_notice(ctx, subject, filename, &pdf, err);
    if (rendered)
        buf_release(&pdf);
    return rc;
}

/* ---- Payments requested by a state ------------------------------------------------------ */

static int action_request_payment(const struct workflow_action_ctx *ctx, struct kr_error *err)
{
    const struct workflow_state *st = workflow_state_find(ctx->def, ctx->state);
    json_t *data = json_loads(ctx->c->data ? ctx->c->data : "{}", 0, NULL);
    char name[141];
    (void)snprintf(name, sizeof(name), "%s", intake_debtor_name(data, ctx->c->applicant_email));
    json_decref(data);
    struct payments_new_receivable nr = {.debtor_name = name,
                                         .debtor_account_id = ctx->c->applicant_id,
                                         .purpose = st->payment_purpose,
                                         .amount_cents = st->payment_cents,
                                         .case_ref = ctx->c->number};
    int64_t id;
    char kz[PAYMENTS_KZ_SIZE], shown[16], amount[TEXT_MONEY_LEN];
    int rc = payments_receivable_create(ctx->conn, ctx->actor, &nr, &id, kz, err);
    if (rc != KR_OK)
        return rc;
    payments_kz_format(kz, shown);
    const char *url = actions_cfg->public_url;
    char *body = arena_printf(ctx->a,
                              "Guten Tag,\n\nfür Ihren Antrag %s ist eine Zahlung fällig:\n"
                              "%s – %s EUR, Kassenzeichen %s.\nAlle Angaben und den GiroCode "
                              "finden Sie hier: %s/zahlung/%s\n\n-- English --\n\nA payment "
                              "is due for your application %s: %s EUR, reference %s.\n%s/zahlung/"
                              "%s\n",
                              ctx->c->number, st->payment_purpose,
                              text_money(st->payment_cents, "de", amount), shown, url, kz,
                              ctx->c->number, amount, shown, url, kz);
    char *subject = arena_printf(ctx->a, "Antrag %s: Zahlung / payment", ctx->c->number);
    return workflow_tell_applicant(ctx->conn, ctx->cfg, ctx->c, ctx->actor_id, subject, body, NULL,
                                   err);
}

/* ---- Closing the e-file --------------------------------------------------------------- */

static int action_close_file(const struct workflow_action_ctx *ctx, struct kr_error *err)
{
    int64_t file_id, txn;
    int rc = efile_case_txn(ctx->conn, ctx->c->number, &file_id, &txn, err);
    if (rc == KR_ERR_NOT_FOUND)
        return KR_OK; /* a case without an e-file */
    struct efile_actor who = engine(ctx->c->unit_id);
    struct efile_file f;
    if (rc == KR_OK)
        rc = efile_file_get(ctx->conn, ctx->a, &who, file_id, false, &f, err);
    if (rc == KR_OK && strcmp(f.status, "open") == 0)
        rc = efile_file_close(ctx->conn, &who, file_id, f.version, workflow_now(), err);
    return rc;
}

/* ---- Paid fees move the case on --------------------------------------------------------- */

static int on_settled(struct db_conn *conn, const struct payments_receivable *r,
                      struct kr_error *err)
{
    if (!r->case_ref || r->status != PAYMENTS_PAID)
        return KR_OK;
    struct arena *a = arena_new(0);
    struct workflow_case c;
    int rc = a ? workflow_case_by_number(conn, a, r->case_ref, &c, err)
               : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    const struct workflow_state *st =
        rc == KR_OK ? workflow_state_find(workflow_find(c.workflow), c.state) : NULL;
    if (rc == KR_ERR_NOT_FOUND) /* a receivable of something else */
        rc = KR_OK;
    else if (rc == KR_OK && st && st->on_paid) {
        struct workflow_actor system = {0, 0, 0, false};
        rc = workflow_transition(conn, actions_cfg, c.id, st->on_paid, c.version, &system,
                                 "Gebühr bezahlt / fee paid", NULL, 0, NULL, err);
    }
    arena_free(a);
    return rc;
}

/* ---- Setup ------------------------------------------------------------------------------ */

int intake_actions_register(const struct kr_config *cfg, struct blob_store *blobs,
                            struct kr_error *err)
{
    actions_cfg = cfg;
    actions_blobs = blobs;
    char dir[KR_CONFIG_PATH_MAX + 16];
    (void)snprintf(dir, sizeof(dir), "%s/notices", cfg->share_dir);
    intake_guards_use();
    workflow_on_document(on_document);
    int rc = notice_load_dir(dir, err);
    if (rc == KR_OK && !workflow_action_known("notice") &&
        (workflow_action_register("notice", action_notice) != KR_OK ||
         workflow_action_register("close_file", action_close_file) != KR_OK ||
         workflow_action_register("request_payment", action_request_payment) != KR_OK ||
         payments_on_settled(on_settled) != KR_OK))
        rc = kr_error_set(err, KR_ERR_INTERNAL, "intake: cannot register the workflow actions");
    return rc;
}

/* ---- Start checks ------------------------------------------------------------------------ */

struct field_check {
    const struct workflow_def *def;
    const struct forms_def *form;
    const char *template;
};

static int check_field(void *ctx, const char *field, struct kr_error *err)
{
    const struct field_check *x = ctx;
    if (!x->form || forms_field_find(x->form, field))
        return KR_OK;
    return kr_error_set(err, KR_ERR_CONFIG,
                        "notices/%s.json: {{data.%s}} is not a field of form %s (workflow %s)",
                        x->template, field, x->def->form, x->def->id);
}

int intake_check(struct kr_error *err)
{
    size_t n;
    const struct workflow_def *const *defs = workflow_list(&n);
    int rc = KR_OK;
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        const struct workflow_def *def = defs[i];
        const struct forms_def *form = def->form ? forms_find(forms_http_set(), def->form) : NULL;
        rc = intake_guards_check(def, form, err);
        for (size_t k = 0; rc == KR_OK && k < def->state_count; k++) {
            const char *name = def->states[k].notice;
            const struct notice_template *t = name ? notice_find(name) : NULL;
            if (name && !t)
                rc = kr_error_set(err, KR_ERR_CONFIG,
                                  "%s: state \"%s\": notice template \"%s\" not found in notices/",
                                  def->path, def->states[k].name, name);
            struct field_check x = {def, form, name};
            if (t)
                rc = notice_each_field(t, check_field, &x, err);
        }
    }
    return rc;
}
