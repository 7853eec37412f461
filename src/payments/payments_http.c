/*
 * payments_http.c - the cash office's pages (/verwaltung/kasse) and the
 * public payment page (/zahlung/<Kassenzeichen>).  Handlers parse, call
 * one domain function, render.
 */
#include "payments/payments_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/accounts.h"
#include "core/text.h"
#include "core/util.h"
#include "payments/payments_pdf.h"
#include "payments/payments_web.h"

/* ---- Shared helpers ------------------------------------------------------------------- */

static json_t *date_json(int64_t t)
{
    char out[32];
    if (!t)
        return json_null();
    kr_time_format_local(t, out, sizeof(out));
    out[10] = '\0'; /* "23.11.2026" */
    return json_string(out);
}

/* An amount for machines ("1750.00", lang NULL) or for people in lang
 * ("1.750,00 EUR", "1,750.00 EUR"). */
static json_t *amount_json(int64_t cents, const char *lang)
{
    char out[TEXT_MONEY_LEN + 8], num[TEXT_MONEY_LEN];
    if (lang)
        snprintf(out, sizeof(out), "%s EUR", text_money(cents, lang, num));
    else
        payments_amount_format(cents, out, sizeof(out));
    return json_string(out);
}

/* An amount for the people reading the request's page. */
static json_t *money_json(struct http_request *req, int64_t cents)
{
    return amount_json(cents, http_lang(req));
}

json_t *payments_receivable_json(struct http_request *req, const struct payments_receivable *r,
                                 bool for_people)
{
    const char *lang = for_people ? http_lang(req) : NULL;
    char grouped[16], key[64];
    payments_kz_format(r->kz, grouped);
    snprintf(key, sizeof(key), "payments.status.%s", payments_status_name(r->status));
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:o, s:I, s:o, s:I, s:o}", "id",
        (json_int_t)r->id, "kassenzeichen", r->kz, "kz_formatted", grouped, "debtor_name",
        r->debtor_name, "purpose", r->purpose, "amount_cents", (json_int_t)r->amount_cents,
        "amount", amount_json(r->amount_cents, lang), "fee_cents", (json_int_t)r->fee_cents, "fee",
        amount_json(r->fee_cents, lang), "paid_cents", (json_int_t)r->paid_cents, "paid",
        amount_json(r->paid_cents, lang), "outstanding_cents", (json_int_t)payments_outstanding(r),
        "outstanding", amount_json(payments_outstanding(r), lang));
    json_object_set_new(o, "currency", json_string("EUR"));
    json_object_set_new(o, "due_at", json_integer(r->due_at));
    json_object_set_new(o, "due", date_json(r->due_at));
    json_object_set_new(o, "status", json_string(payments_status_name(r->status)));
    json_object_set_new(o, "status_text", json_string(http_message(req, key)));
    json_object_set_new(o, "case_ref", r->case_ref ? json_string(r->case_ref) : json_null());
    json_object_set_new(o, "reason", r->reason ? json_string(r->reason) : json_null());
    json_object_set_new(o, "reminders", json_integer(r->reminders));
    json_object_set_new(
        o, "closable",
        json_boolean(r->status == PAYMENTS_OPEN || r->status == PAYMENTS_PARTLY_PAID));
    return o;
}

int payments_cash_office(struct http_request *req, struct payments_cash *c, struct kr_error *err)
{
    int rc = http_require_user(req, ACCOUNT_ROLE_CASH_OFFICE, err);
    if (rc)
        return rc;
    c->actor = arena_printf(http_arena(req), "user:%lld", (long long)http_user(req)->id);
    if (!c->actor)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return http_db(req, &c->conn, err);
}

void payments_girocode_of(const struct kr_config *cfg, const struct payments_receivable *r,
                          struct payments_girocode *g)
{
    *g = (struct payments_girocode){cfg->payments_bic, cfg->payments_creditor_name,
                                    cfg->payments_iban, payments_outstanding(r), r->kz};
}

int64_t payments_reminder_fee(const struct kr_config *cfg)
{
    int64_t fee = 0;
    const char *s = cfg->payments_reminder_fee;
    if (payments_amount_parse(s, strlen(s), false, true, &fee, NULL) != KR_OK)
        return 0;
    return fee;
}

static int64_t param_id(struct http_request *req, const char *name)
{
    int64_t id = 0;
    const char *v = http_param(req, name);
    if (!v || kr_parse_int64(v, 1, INT64_MAX, &id) != KR_OK)
        return 0;
    return id;
}

/* The cash office preamble of a page with forms (a session for CSRF). */
static int cash_page(struct http_request *req, struct payments_cash *c, struct kr_error *err)
{
    int rc = payments_cash_office(req, c, err);
    return rc ? rc : http_session_ensure(req, err);
}

/* The cash office preamble with the receivable named by :id. */
static int cash_receivable(struct http_request *req, struct payments_cash *c,
                           struct payments_receivable *r, struct kr_error *err)
{
    int rc = payments_cash_office(req, c, err);
    return rc ? rc : payments_receivable_get(c->conn, http_arena(req), param_id(req, "id"), r, err);
}

/* 303 to the receivable's page, or to what follows it (suffix). */
static int to_receivable(struct http_request *req, int64_t id, const char *suffix)
{
    char *to =
        arena_printf(http_arena(req), "/verwaltung/kasse/forderung/%lld%s", (long long)id, suffix);
    return http_redirect(req, 303, to ? to : "/verwaltung/kasse");
}

static json_t *list_json(struct http_request *req, const struct payments_receivable *list, size_t n)
{
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, payments_receivable_json(req, &list[i], true));
    return items;
}

/* ---- Open items and search -------------------------------------------------------------- */

/* Fill q from ?q=&betrag=&alle=; KR_ERR_INVALID for a bad amount. */
static int read_query(struct http_request *req, struct payments_query *q, struct kr_error *err)
{
    memset(q, 0, sizeof(*q));
    q->text = http_query(req, "q");
    if (q->text && strlen(q->text) > 140)
        return kr_error_set(err, KR_ERR_INVALID, "q: at most 140 bytes");
    const char *amount = http_query(req, "betrag");
    if (amount && *amount) {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%s", amount);
        for (char *p = tmp; *p; p++)
            *p = *p == ',' ? '.' : *p;
        if (payments_amount_parse(tmp, strlen(tmp), false, false, &q->amount_cents, err))
            return KR_ERR_INVALID;
    }
    const char *all = http_query(req, "alle");
    q->open_only = !(all && strcmp(all, "1") == 0);
    q->limit = 200;
    return KR_OK;
}

static int cash_home(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    if (rc)
        return rc;
    struct payments_query q;
    json_t *ctx = json_object();
    if (read_query(req, &q, err)) {
        json_object_set_new(ctx, "search_error", json_string(err->message));
        q = (struct payments_query){.open_only = true, .limit = 200};
    }
    struct payments_receivable *list;
    size_t n;
    rc = payments_receivables_search(c.conn, http_arena(req), &q, &list, &n, err);
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    json_object_set_new(ctx, "receivables", list_json(req, list, n));
    json_object_set_new(ctx, "has_receivables", json_boolean(n > 0));
    json_object_set_new(ctx, "q", json_string(q.text ? q.text : ""));
    json_object_set_new(ctx, "betrag", json_string(http_query(req, "betrag") ?: ""));
    json_object_set_new(ctx, "all", json_boolean(!q.open_only));
    return http_render(req, 200, "payments/cash", ctx);
}

static int receivable_page(struct http_request *req, unsigned status, const char *error,
                           struct kr_error *err)
{
    struct payments_cash c;
    struct payments_receivable r;
    int rc = cash_receivable(req, &c, &r, err);
    if (rc == KR_OK)
        rc = http_session_ensure(req, err);
    struct payments_booking *b = NULL;
    size_t n = 0;
    if (rc == KR_OK)
        rc = payments_bookings_list(c.conn, http_arena(req), r.id, &b, &n, err);
    if (rc)
        return rc;
    json_t *bookings = json_array();
    for (size_t i = 0; i < n; i++) {
        char when[32];
        kr_time_format_local(b[i].created_at, when, sizeof(when));
        json_array_append_new(bookings, json_pack("{s:o, s:s, s:s, s:s?}", "amount",
                                                  money_json(req, b[i].amount_cents), "source",
                                                  b[i].source, "when", when, "note", b[i].note));
    }
    json_t *ctx = json_pack("{s:o, s:o, s:b}", "r", payments_receivable_json(req, &r, true),
                            "bookings", bookings, "has_bookings", n > 0);
    if (error) {
        json_object_set_new(ctx, "cancel_error", json_string(error));
        json_object_set_new(ctx, "has_errors", json_true());
        json_object_set_new(
            ctx, "errors",
            json_pack("[{s:s, s:s, s:b}]", "field", "reason", "message", error, "link", 1));
    }
    return http_render(req, status, "payments/receivable", ctx);
}

static int receivable_show(struct http_request *req, struct kr_error *err)
{
    return receivable_page(req, 200, NULL, err);
}

static int receivable_cancel(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    if (rc)
        return rc;
    int64_t id = param_id(req, "id");
    const char *what = http_form(req, "art");
    bool cancel = !what || strcmp(what, "niederschlagung") != 0;
    rc = payments_receivable_close(c.conn, c.actor, id, cancel, http_form(req, "reason"), err);
    if (rc == KR_ERR_INVALID)
        return receivable_page(req, 422, http_message(req, "payments.error.reason"), err);
    return rc ? rc : to_receivable(req, id, "");
}

/* ---- Dunning and reminder letters ---------------------------------------------------------- */

static int dunning_page(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = cash_page(req, &c, err);
    if (rc)
        return rc;
    const struct kr_config *cfg = http_config(req);
    struct payments_receivable *list;
    size_t n;
    rc = payments_dunning_list(c.conn, http_arena(req), kr_now(), cfg->payments_grace_days, &list,
                               &n, err);
    if (rc)
        return rc;
    json_t *ctx =
        json_pack("{s:o, s:b, s:I, s:o}", "receivables", list_json(req, list, n), "has_receivables",
                  n > 0, "grace_days", (json_int_t)cfg->payments_grace_days, "fee",
                  money_json(req, payments_reminder_fee(cfg)));
    return http_render(req, 200, "payments/dunning", ctx);
}

static int remind_submit(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    if (rc)
        return rc;
    int64_t id = param_id(req, "id");
    rc = payments_remind(c.conn, c.actor, id, payments_reminder_fee(http_config(req)), err);
    return rc ? rc : to_receivable(req, id, "/mahnung.pdf");
}

static int reminder_pdf(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    struct payments_receivable r;
    int rc = cash_receivable(req, &c, &r, err);
    unsigned char *pdf = NULL;
    size_t len = 0;
    if (rc == KR_OK)
        rc =
            payments_reminder_pdf(http_config(req), &r, kr_now(), http_arena(req), &pdf, &len, err);
    if (rc)
        return rc;
    http_set_header(req, "Content-Disposition", "inline; filename=\"mahnung.pdf\"");
    http_set_header(req, "Cache-Control", "private, no-store");
    return http_send(req, 200, "application/pdf", pdf, len);
}

/* ---- Statements and the unmatched queue ------------------------------------------------------ */

static json_t *entry_json(struct http_request *req, const struct payments_entry *e)
{
    char grouped[16];
    payments_kz_format(e->kz, grouped);
    return json_pack("{s:I, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "id",
                     (json_int_t)e->id, "amount",
                     money_json(req, e->credit ? e->amount_cents : -e->amount_cents), "date",
                     date_json(e->booked_at), "status", e->status, "match", e->match, "ref", e->ref,
                     "debtor_name", e->debtor_name, "remittance", e->remittance, "kassenzeichen",
                     grouped, "receivable_id", (json_int_t)e->receivable_id, "unmatched",
                     strcmp(e->status, "unmatched") == 0);
}

static int statements_render(struct http_request *req, struct db_conn *conn, unsigned status,
                             json_t *ctx, struct kr_error *err)
{
    struct payments_statement *list;
    size_t n;
    int rc = http_session_ensure(req, err);
    if (rc == KR_OK)
        rc = payments_statements_list(conn, http_arena(req), &list, &n, err);
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        char when[32];
        kr_time_format_local(list[i].imported_at, when, sizeof(when));
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id",
                             (json_int_t)list[i].id, "format", list[i].format, "account",
                             list[i].account, "stmt_id", list[i].stmt_id, "when", when, "entries",
                             (json_int_t)list[i].entries, "matched", (json_int_t)list[i].matched,
                             "unmatched", (json_int_t)list[i].unmatched));
    }
    json_object_set_new(ctx, "statements", items);
    json_object_set_new(ctx, "has_statements", json_boolean(n > 0));
    return http_render(req, status, "payments/statements", ctx);
}

static int statements_page(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    return rc ? rc : statements_render(req, c.conn, 200, json_object(), err);
}

/* Largest statement file the form takes (a busy month of camt.053). */
#define STATEMENT_FILE_MAX (20 * 1024 * 1024)

static int form_error(struct http_request *req, int code, const char *key, struct kr_error *err)
{
    return kr_error_set(err, code, "%s", http_message(req, key));
}

/*
 * The statement the form carries: the uploaded file (field "datei"), else
 * the pasted text (field "statement"); the file's bytes are read from the
 * upload's temporary file into the request's arena.  KR_ERR_INVALID or
 * KR_ERR_TOO_LARGE with a message for the form.
 */
static int statement_input(struct http_request *req, const char **data, size_t *len,
                           struct kr_error *err)
{
    size_t n;
    const struct http_upload *up = http_uploads(req, &n);
    const char *text = http_form(req, "statement");
    if (n > 1 || (n == 1 && text && *text))
        return form_error(req, KR_ERR_INVALID, "payments.error.one_statement", err);
    if (n == 1 && up[0].too_large)
        return form_error(req, KR_ERR_TOO_LARGE, "payments.error.file_too_large", err);
    if (n == 1 && up[0].blob.size == 0)
        return form_error(req, KR_ERR_INVALID, "payments.error.file_empty", err);
    if (n == 0 && (!text || !*text))
        return form_error(req, KR_ERR_INVALID, "payments.error.no_statement", err);
    *data = text;
    *len = text ? strlen(text) : 0;
    if (n == 1) {
        char *bytes;
        int rc = kr_read_file(up[0].path, STATEMENT_FILE_MAX, &bytes, len, err);
        if (rc)
            return rc == KR_ERR_TOO_LARGE
                       ? form_error(req, rc, "payments.error.file_too_large", err)
                       : rc;
        if (arena_defer(http_arena(req), free, bytes) != KR_OK) {
            free(bytes);
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        }
        *data = bytes;
    }
    if (!payments_statement_format(*data, *len))
        return form_error(req, KR_ERR_INVALID, "payments.error.file_format", err);
    return KR_OK;
}

static int statement_upload(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    const char *data = NULL;
    size_t len = 0;
    int rc = payments_cash_office(req, &c, err);
    if (rc)
        return rc;
    struct payments_import_result res;
    rc = statement_input(req, &data, &len, err);
    if (rc == KR_OK)
        rc = payments_statement_import(c.conn, c.actor, data, len, &res, err);
    if (rc == KR_ERR_CONFLICT)
        rc = form_error(req, rc, "payments.error.statement_known", err);
    if (rc == KR_ERR_INVALID || rc == KR_ERR_CONFLICT || rc == KR_ERR_TOO_LARGE) {
        json_t *ctx = json_pack("{s:s, s:b}", "upload_error", err->message, "has_errors", 1);
        json_object_set_new(ctx, "errors",
                            json_pack("[{s:s, s:s, s:b}]", "field", "statement-file", "message",
                                      err->message, "link", 1));
        return statements_render(req, c.conn, rc == KR_ERR_TOO_LARGE ? 413 : 422, ctx, err);
    }
    if (rc)
        return rc;
    char *to = arena_printf(http_arena(req), "/verwaltung/kasse/kontoauszug/%lld",
                            (long long)res.statement_id);
    return http_redirect(req, 303, to ? to : "/verwaltung/kasse/kontoauszug");
}

static int entries_page(struct http_request *req, int64_t statement_id, struct kr_error *err)
{
    struct payments_cash c;
    int rc = cash_page(req, &c, err);
    if (rc)
        return rc;
    struct payments_entry *list;
    size_t n;
    rc = payments_entries_list(c.conn, http_arena(req), statement_id, 0, &list, &n, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, entry_json(req, &list[i]));
    json_t *ctx = json_pack("{s:o, s:b, s:b, s:I}", "entries", items, "has_entries", n > 0, "queue",
                            statement_id == 0, "statement_id", (json_int_t)statement_id);
    const char *e = http_query(req, "fehler");
    if (e && strcmp(e, "zuordnung") == 0)
        json_object_set_new(ctx, "assign_error",
                            json_string(http_message(req, "payments.error.assign")));
    return http_render(req, 200, "payments/entries", ctx);
}

static int statement_show(struct http_request *req, struct kr_error *err)
{
    int64_t id = param_id(req, "id");
    if (!id)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such statement");
    return entries_page(req, id, err);
}

static int queue_page(struct http_request *req, struct kr_error *err)
{
    return entries_page(req, 0, err);
}

static int entry_assign(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    if (rc)
        return rc;
    struct payments_receivable r;
    struct kr_error ignored;
    rc = payments_receivable_find(c.conn, http_arena(req), http_form(req, "kassenzeichen"), &r,
                                  &ignored);
    if (rc == KR_OK)
        rc = payments_entry_assign(c.conn, c.actor, param_id(req, "id"), r.id, &ignored);
    if (rc == KR_ERR_NOT_FOUND || rc == KR_ERR_CONFLICT)
        return http_redirect(req, 303, "/verwaltung/kasse/offene-posten?fehler=zuordnung");
    if (rc) {
        *err = ignored;
        return rc;
    }
    return http_redirect(req, 303, "/verwaltung/kasse/offene-posten");
}

/* ---- Export ------------------------------------------------------------------------------- */

static int parse_day(const char *s, int64_t *out)
{
    int y, m, d;
    char tail;
    if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return KR_ERR_INVALID;
    if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
        return KR_ERR_INVALID;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    *out = (int64_t)timegm(&tm);
    return KR_OK;
}

static int export_csv(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    if (rc)
        return rc;
    int64_t from = 0, to = kr_now() + 86400;
    const char *f = http_query(req, "von"), *t = http_query(req, "bis");
    if ((f && *f && parse_day(f, &from)) || (t && *t && parse_day(t, &to)))
        return kr_error_set(err, KR_ERR_INVALID, "von/bis: dates as YYYY-MM-DD");
    if (t && *t)
        to += 86400; /* "bis" includes that day */
    char *csv;
    size_t len;
    rc = payments_export_csv(c.conn, http_arena(req), from, to, &csv, &len, err);
    if (rc)
        return rc;
    http_set_header(req, "Content-Disposition", "attachment; filename=\"buchungen.csv\"");
    return http_send(req, 200, "text/csv; charset=utf-8", csv, len);
}

/* ---- The public payment page ------------------------------------------------------------------
 */

static int public_receivable(struct http_request *req, struct payments_receivable *r,
                             struct kr_error *err)
{
    struct db_conn *conn;
    int rc = http_db(req, &conn, err);
    if (rc)
        return rc;
    rc = payments_receivable_find(conn, http_arena(req), http_param(req, "kz"), r, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "%s",
                            http_message(req, "payments.error.unknown_kz"));
    return rc;
}

static int pay_page(struct http_request *req, struct kr_error *err)
{
    struct payments_receivable r;
    int rc = public_receivable(req, &r, err);
    if (rc)
        return rc;
    const struct kr_config *cfg = http_config(req);
    char grouped[16], iban[35];
    payments_kz_format(r.kz, grouped);
    struct kr_error ignored;
    if (payments_iban_check(cfg->payments_iban, iban, &ignored) != KR_OK)
        iban[0] = '\0';
    char key[64];
    snprintf(key, sizeof(key), "payments.status.%s", payments_status_name(r.status));
    /* Only what the reference implies: no name, no purpose, no case. */
    json_t *ctx = json_pack(
        "{s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:s, s:b}", "kassenzeichen", r.kz, "kz_formatted",
        grouped, "amount", money_json(req, payments_outstanding(&r)), "iban", iban, "bic",
        cfg->payments_bic, "creditor", cfg->payments_creditor_name, "due", date_json(r.due_at),
        "status_text", http_message(req, key), "payable", payments_outstanding(&r) > 0);
    http_set_header(req, "Cache-Control", "no-store");
    http_set_header(req, "X-Robots-Tag", "noindex");
    return http_render(req, 200, "payments/pay", ctx);
}

static int pay_code(struct http_request *req, bool png, struct kr_error *err)
{
    struct payments_receivable r;
    int rc = public_receivable(req, &r, err);
    if (rc)
        return rc;
    if (payments_outstanding(&r) == 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "nothing to pay");
    struct payments_girocode g;
    payments_girocode_of(http_config(req), &r, &g);
    http_set_header(req, "Cache-Control", "no-store");
    if (png) {
        unsigned char *data;
        size_t len;
        rc = payments_girocode_png(&g, 6, http_arena(req), &data, &len, err);
        return rc ? rc : http_send(req, 200, "image/png", data, len);
    }
    char *svg;
    size_t len;
    rc = payments_girocode_svg(&g, http_arena(req), &svg, &len, err);
    return rc ? rc : http_send(req, 200, "image/svg+xml", svg, len);
}

static int pay_png(struct http_request *req, struct kr_error *err)
{
    return pay_code(req, true, err);
}

static int pay_svg(struct http_request *req, struct kr_error *err)
{
    return pay_code(req, false, err);
}

/* ---- Registration ------------------------------------------------------------------------------
 */

static int check_config(const struct kr_config *cfg, struct kr_error *err)
{
    struct payments_girocode g = {cfg->payments_bic, cfg->payments_creditor_name,
                                  cfg->payments_iban, 100, "202600000142"};
    char payload[PAYMENTS_GIROCODE_MAX + 1];
    int64_t fee;
    const char *f = cfg->payments_reminder_fee;
    if (payments_girocode_payload(&g, payload, sizeof(payload), err) != KR_OK) {
        err->code = KR_ERR_CONFIG;
        kr_error_prefix(err, "payments_iban/payments_bic/payments_creditor_name");
        return KR_ERR_CONFIG;
    }
    if (payments_amount_parse(f, strlen(f), false, true, &fee, err) != KR_OK || fee > 100000)
        return kr_error_set(err, KR_ERR_CONFIG, "payments_reminder_fee: 0 to 1000.00 EUR");
    if (cfg->payments_callback_secret[0] && strlen(cfg->payments_callback_secret) < 32)
        return kr_error_set(err, KR_ERR_CONFIG, "payments_callback_secret: at least 32 bytes");
    return KR_OK;
}

int payments_http_routes(struct http_server *s, const struct kr_config *cfg, struct kr_error *err)
{
    static const struct {
        unsigned method;
        const char *pattern;
        http_handler handler;
    } routes[] = {
        {HTTP_GET, "/verwaltung/kasse", cash_home},
        {HTTP_GET, "/verwaltung/kasse/forderung/:id", receivable_show},
        {HTTP_POST, "/verwaltung/kasse/forderung/:id/storno", receivable_cancel},
        {HTTP_POST, "/verwaltung/kasse/forderung/:id/mahnung", remind_submit},
        {HTTP_GET, "/verwaltung/kasse/forderung/:id/mahnung.pdf", reminder_pdf},
        {HTTP_GET, "/verwaltung/kasse/mahnungen", dunning_page},
        {HTTP_GET, "/verwaltung/kasse/kontoauszug", statements_page},
        {HTTP_GET, "/verwaltung/kasse/kontoauszug/:id", statement_show},
        {HTTP_GET, "/verwaltung/kasse/offene-posten", queue_page},
        {HTTP_POST, "/verwaltung/kasse/offene-posten/:id/zuordnen", entry_assign},
        {HTTP_GET, "/verwaltung/kasse/export.csv", export_csv},
        {HTTP_GET, "/zahlung/:kz", pay_page},
        {HTTP_GET, "/zahlung/:kz/girocode.png", pay_png},
        {HTTP_GET, "/zahlung/:kz/girocode.svg", pay_svg},
    };
    static const struct http_upload_limits one_statement = {
        .max_file = STATEMENT_FILE_MAX, .max_total = 2 * STATEMENT_FILE_MAX, .max_files = 1};
    int rc = check_config(cfg, err);
    for (size_t i = 0; rc == KR_OK && i < sizeof(routes) / sizeof(routes[0]); i++)
        rc = http_route(s, routes[i].method, routes[i].pattern, routes[i].handler, 0, err);
    if (rc == KR_OK)
        rc = http_route_upload(s, HTTP_POST, "/verwaltung/kasse/kontoauszug", statement_upload, 0,
                               &one_statement, err);
    return rc == KR_OK ? payments_api_routes(s, err) : rc;
}
