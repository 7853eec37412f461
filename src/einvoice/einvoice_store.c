/*
 * einvoice_store.c - reception and approval workflow (see einvoice_store.h).
 */
#include "einvoice/einvoice_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "core/log.h"
#include "core/text.h"
#include "core/util.h"
#include "mail/mail.h"
#include "einvoice/einvoice_xml.h"

static const char *const statuses[] = {
    "formally_valid", "factually_correct", "arithmetically_correct",
    "released",       "exported",          "rejected"};

/* One step: the state it starts from, where it leads, the statement. */
static const struct {
    enum einvoice_action action;
    const char *from, *to, *audit_action, *sql;
} steps[] = {
    {EINVOICE_STEP_FACTUAL, "formally_valid", "factually_correct", "einvoice.factual",
     "UPDATE einvoice_invoice SET status = $1, factual_by = $2, changed_at = $3 "
     "WHERE id = $4 AND status = $5"},
    {EINVOICE_STEP_ARITHMETIC, "factually_correct", "arithmetically_correct", "einvoice.arithmetic",
     "UPDATE einvoice_invoice SET status = $1, arithmetic_by = $2, changed_at = $3 "
     "WHERE id = $4 AND status = $5"},
    {EINVOICE_STEP_RELEASE, "arithmetically_correct", "released", "einvoice.release",
     "UPDATE einvoice_invoice SET status = $1, released_by = $2, changed_at = $3 "
     "WHERE id = $4 AND status = $5"},
    {EINVOICE_STEP_EXPORT, "released", "exported", "einvoice.export",
     "UPDATE einvoice_invoice SET status = $1, changed_at = $3 "
     "WHERE id = $4 AND status = $5 AND $2 > 0"},
};

static int audit(struct db_conn *conn, const char *actor, const char *action, int64_t id,
                 json_t *details, struct kr_error *err)
{
    char idtext[24];
    (void)snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    struct audit_event ev = {actor, action, "einvoice", idtext, details};
    int rc = details ? audit_append(conn, &ev, NULL, err)
                     : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    json_decref(details);
    return rc;
}

/* ---- Reception ------------------------------------------------------------------- */

static bool known_channel(const char *channel)
{
    static const char *const channels[] = {"api", "upload", "directory", "mail", "cli"};
    for (size_t i = 0; channel && i < KR_EI_LEN(channels); i++)
        if (strcmp(channel, channels[i]) == 0)
            return true;
    return false;
}

/* "vat:DE123", "id:4000001", "name:Stadtwerke ..." or NULL. */
static const char *seller_key(struct arena *a, const struct einvoice_summary *s)
{
    if (s->seller_vat_id)
        return arena_printf(a, "vat:%s", s->seller_vat_id);
    if (s->seller_id)
        return arena_printf(a, "id:%s", s->seller_id);
    if (s->seller_name)
        return arena_printf(a, "name:%s", s->seller_name);
    return NULL;
}

static int insert(struct db_conn *conn, const struct einvoice_report *r, const char *channel,
                  const char *data, size_t len, const char *key, int64_t unit, int64_t *id,
                  struct kr_error *err)
{
    const struct einvoice_summary *s = &r->summary;
    json_t *report = einvoice_report_json(r);
    char *report_text = report ? json_dumps(report, JSON_COMPACT) : NULL;
    json_decref(report);
    if (!report_text)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    bool ok = r->verdict == EINVOICE_ACCEPT;
    int64_t now = kr_now();
    int rc = db_query_int64(
        conn,
        "INSERT INTO einvoice_invoice (received_at, channel, container, syntax, scenario, "
        "verdict, seller_key, seller_name, seller_email, invoice_number, buyer_reference, "
        "issue_date, currency, amount_due, due_date, status, reject_reason, changed_at, "
        "document, report, org_unit_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
        "$12, $13, $14, $15, $16, $17, $1, $18, $19, $20) "
        "ON CONFLICT (seller_key, invoice_number) DO NOTHING "
        "RETURNING id",
        DB_PARAMS(DB_INT(now), DB_TEXT(channel), DB_TEXT(r->container_pdf ? "pdf" : "xml"),
                  DB_TEXT(einvoice_syntax_name(r->syntax)),
                  DB_TEXT(einvoice_scenario_name(r->scenario)), DB_TEXT(ok ? "accept" : "reject"),
                  DB_TEXT(key), DB_TEXT(s->seller_name), DB_TEXT(s->seller_email),
                  DB_TEXT(s->number), DB_TEXT(s->buyer_reference), DB_TEXT(s->issue_date),
                  DB_TEXT(s->currency), DB_TEXT(s->amount_due), DB_TEXT(s->due_date),
                  DB_TEXT(ok ? "formally_valid" : "rejected"), DB_TEXT(ok ? NULL : r->reason),
                  DB_BLOB(data, len), DB_TEXT(report_text), unit > 0 ? DB_INT(unit) : DB_NULL),
        id, err);
    free(report_text);
    return rc;
}

static int duplicate(struct db_conn *conn, const char *key, const char *number, int64_t *before,
                     struct kr_error *err)
{
    *before = 0;
    int rc = db_query_int64(conn,
                            "SELECT id FROM einvoice_invoice WHERE seller_key = $1 AND "
                            "invoice_number = $2",
                            DB_PARAMS(DB_TEXT(key), DB_TEXT(number)), before, err);
    if (rc && rc != KR_ERR_NOT_FOUND)
        return rc;
    return kr_error_set(err, KR_ERR_CONFLICT,
                        "duplicate: invoice %.80s of this seller was received already (id %lld)",
                        number, (long long)*before);
}

/* "04011000-12345-34": trimmed, upper case; NULL when empty or too long. */
static const char *leitweg_norm(struct arena *a, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    const char *t = text_trim(s, &n);
    if (n == 0 || n > 64)
        return NULL;
    char *out = arena_strndup(a, t, n);
    for (char *p = out; p && *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return out;
}

/* The ordering unit of a buyer reference, 0 when not mapped. */
static int ordering_unit(struct db_conn *conn, struct arena *a, const char *buyer_reference,
                         int64_t *unit, struct kr_error *err)
{
    *unit = 0;
    const char *id = leitweg_norm(a, buyer_reference);
    if (!id)
        return KR_OK;
    int rc = db_query_int64(conn, "SELECT org_unit_id FROM einvoice_leitweg WHERE leitweg_id = $1",
                            DB_PARAMS(DB_TEXT(id)), unit, err);
    return rc == KR_ERR_NOT_FOUND ? KR_OK : rc;
}

/* The text of the rejection mail: German first, English second; the
 * findings that decided it (at most 20). */
static char *rejection_text(struct arena *a, const char *county, const char *number,
                            const char *reason, const struct einvoice_report *r)
{
    struct buf b;
    buf_init(&b, 64 * 1024);
    buf_printf(&b,
               "Sehr geehrte Damen und Herren,\n\nIhre elektronische Rechnung Nr. %s wurde vom %s "
               "nicht angenommen.\n\nGrund: %s\n",
               number, county, reason);
    size_t shown = 0;
    for (size_t i = 0; r && i < r->count && shown < 20; i++) {
        if (r->findings[i].severity != EINVOICE_FATAL)
            continue;
        if (shown++ == 0)
            buf_puts(&b, "\nFestgestellte Fehler / Findings:\n");
        buf_printf(&b, "- %s: %s\n", r->findings[i].rule, r->findings[i].message);
    }
    buf_printf(&b,
               "\nBitte senden Sie uns eine berichtigte Rechnung mit neuer Rechnungsnummer.\n\n"
               "---\nYour electronic invoice no. %s was not accepted by %s.\nReason: %s\n"
               "Please send a corrected invoice with a new invoice number.\n\n"
               "Diese Nachricht wurde automatisch erstellt. / This message was generated "
               "automatically.\n",
               number, county, reason);
    char *text = buf_status(&b) ? NULL : arena_strdup(a, buf_cstr(&b));
    buf_release(&b);
    return text;
}

/* Queue the rejection report to the supplier's e-mail (BT-43) inside the
 * caller's transaction.  No or an unusable address: nothing is sent and
 * *sent stays false (the audit entry says so). */
static int notify_rejection(struct db_conn *conn, struct arena *a, const char *email,
                            const char *number, const char *reason, const struct einvoice_report *r,
                            bool *sent, struct kr_error *err)
{
    *sent = false;
    if (!email || !number || mail_address_check(email, NULL) != KR_OK)
        return KR_OK;
    char *county = NULL;
    if (accounts_county_name(conn, a, "de", &county, NULL) != KR_OK)
        county = "Landkreis";
    const char *text = rejection_text(a, county, number, reason, r);
    const char *subject = arena_printf(a, "Rechnung %.80s abgelehnt / Invoice rejected", number);
    if (!text || !subject)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct mail_message m = {.to = email, .subject = subject, .text = text};
    struct kr_error merr;
    int rc = mail_enqueue(conn, &m, NULL, &merr);
    if (rc == KR_ERR_INVALID || rc == KR_ERR_TOO_LARGE) {
        kr_log(KR_LOG_WARN, "einvoice_rejection_mail", "not sent: %s", merr.message);
        return KR_OK;
    }
    if (rc) {
        *err = merr;
        return rc;
    }
    *sent = true;
    return KR_OK;
}

int einvoice_receive(struct db_conn *conn, struct einvoice_validator *v, struct arena *a,
                     const char *actor, const char *channel, const char *data, size_t len,
                     struct einvoice_received *out, struct kr_error *err)
{
    out->id = 0;
    if (!known_channel(channel))
        return kr_error_set(err, KR_ERR_INVALID, "unknown channel (%s)", EINVOICE_CHANNELS);
    struct einvoice_report *r;
    int rc = einvoice_validate(v, a, data, len, &r, err);
    if (rc)
        return rc;
    if (r->verdict == EINVOICE_UNREADABLE)
        return kr_error_set(err, KR_ERR_INVALID, "the invoice cannot be read: %s", r->reason);
    const char *key = seller_key(a, &r->summary);
    rc = db_begin(conn, err);
    if (rc)
        return rc;
    int64_t id = 0, unit = 0;
    bool notified = false;
    rc = ordering_unit(conn, a, r->summary.buyer_reference, &unit, err);
    if (rc == KR_OK)
        rc = insert(conn, r, channel, data, len, key, unit, &id, err);
    if (rc == KR_ERR_NOT_FOUND) /* ON CONFLICT: nothing inserted */
        rc = duplicate(conn, key, r->summary.number, &out->id, err);
    if (rc == KR_OK && r->verdict != EINVOICE_ACCEPT)
        rc = notify_rejection(conn, a, r->summary.seller_email, r->summary.number, r->reason, r,
                              &notified, err);
    if (rc == KR_OK)
        rc = audit(conn, actor, "einvoice.receive", id,
                   json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:I, s:b}", "channel", channel, "verdict",
                             einvoice_verdict_name(r->verdict), "seller", key, "number",
                             r->summary.number, "scenario", einvoice_scenario_name(r->scenario),
                             "org_unit", (json_int_t)unit, "supplier_notified", notified),
                   err);
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    if (rc) {
        db_rollback(conn);
        return rc;
    }
    out->id = id;
    out->status = r->verdict == EINVOICE_ACCEPT ? statuses[0] : statuses[5];
    out->report = r;
    return KR_OK;
}

/* ---- Workflow ---------------------------------------------------------------------- */

int einvoice_status(struct db_conn *conn, int64_t id, const char **status, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, "SELECT status FROM einvoice_invoice WHERE id = $1",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    *status = NULL;
    if (rc == DB_ROW)
        for (size_t i = 0; i < KR_EI_LEN(statuses); i++)
            if (strcmp(db_column_text(st, 0), statuses[i]) == 0)
                *status = statuses[i];
    db_finish(st);
    if (rc < 0)
        return rc;
    if (rc == DB_DONE || !*status)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such invoice");
    return KR_OK;
}

static int reject_row(struct db_conn *conn, int64_t id, const char *reason, struct kr_error *err)
{
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE einvoice_invoice SET status = 'rejected', reject_reason = $1, "
                     "changed_at = $2 WHERE id = $3 AND status NOT IN ('exported', 'rejected')",
                     DB_PARAMS(DB_TEXT(reason), DB_INT(kr_now()), DB_INT(id)), &changed, err);
    if (rc == KR_OK && changed == 0)
        rc = kr_error_set(err, KR_ERR_CONFLICT, "the invoice is already exported or rejected");
    return rc;
}

static int reject(struct db_conn *conn, int64_t id, int64_t user_id, const char *reason,
                  const char *actor, struct kr_error *err)
{
    struct arena *a = arena_new(256 * 1024);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct einvoice_record rec;
    bool notified = false;
    int rc = einvoice_get(conn, a, id, false, &rec, err);
    if (rc == KR_OK)
        rc = reject_row(conn, id, reason, err);
    if (rc == KR_OK)
        rc = notify_rejection(conn, a, rec.seller_email, rec.number, reason, NULL, &notified, err);
    if (rc == KR_OK)
        rc = audit(conn, actor, "einvoice.reject", id,
                   json_pack("{s:s, s:I, s:b}", "reason", reason, "user", (json_int_t)user_id,
                             "supplier_notified", notified),
                   err);
    arena_free(a);
    return rc;
}

static int step(struct db_conn *conn, int64_t id, int64_t user_id, size_t k, const char *actor,
                struct kr_error *err)
{
    if (steps[k].action == EINVOICE_STEP_RELEASE) {
        int64_t factual = 0;
        int rc = db_query_int64(conn, "SELECT factual_by FROM einvoice_invoice WHERE id = $1",
                                DB_PARAMS(DB_INT(id)), &factual, err);
        if (rc)
            return rc;
        if (factual == user_id)
            return kr_error_set(err, KR_ERR_FORBIDDEN,
                                "four-eyes principle: the release must come from another "
                                "person than the factual check");
    }
    int64_t changed = 0;
    int rc = db_exec(conn, steps[k].sql,
                     DB_PARAMS(DB_TEXT(steps[k].to), DB_INT(user_id), DB_INT(kr_now()), DB_INT(id),
                               DB_TEXT(steps[k].from)),
                     &changed, err);
    if (rc == KR_OK && changed == 0)
        rc = kr_error_set(err, KR_ERR_CONFLICT, "the invoice is not %s", steps[k].from);
    if (rc == KR_OK)
        rc = audit(conn, actor, steps[k].audit_action, id,
                   json_pack("{s:s, s:s}", "from", steps[k].from, "to", steps[k].to), err);
    return rc;
}

int einvoice_decide(struct db_conn *conn, int64_t id, int64_t user_id, enum einvoice_action action,
                    const char *reason, struct kr_error *err)
{
    if (user_id <= 0)
        return kr_error_set(err, KR_ERR_INVALID, "a workflow step needs a staff user");
    if (action == EINVOICE_STEP_REJECT && (!reason || !*reason || strlen(reason) > 1000))
        return kr_error_set(err, KR_ERR_INVALID, "a rejection needs a reason (1-1000 bytes)");
    char actor[32];
    (void)snprintf(actor, sizeof(actor), "user:%lld", (long long)user_id);
    int rc = db_begin(conn, err);
    if (rc)
        return rc;
    const char *status;
    rc = einvoice_status(conn, id, &status, err);
    if (rc == KR_OK && action == EINVOICE_STEP_REJECT) {
        rc = reject(conn, id, user_id, reason, actor, err);
    } else if (rc == KR_OK) {
        size_t k = 0;
        while (k < KR_EI_LEN(steps) && steps[k].action != action)
            k++;
        rc = k < KR_EI_LEN(steps) ? step(conn, id, user_id, k, actor, err)
                                  : kr_error_set(err, KR_ERR_INVALID, "unknown workflow step");
    }
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    if (rc)
        db_rollback(conn);
    return rc;
}

/* ---- Reading ---------------------------------------------------------------------- */

#define RECORD_COLUMNS                                                                             \
    "id, received_at, changed_at, COALESCE(exported_at, 0), COALESCE(org_unit_id, 0), "            \
    "COALESCE(factual_by, 0), COALESCE(arithmetic_by, 0), COALESCE(released_by, 0), channel, "     \
    "container, status, verdict, seller_name, seller_email, seller_key, invoice_number, "          \
    "buyer_reference, issue_date, currency, amount_due, due_date, reject_reason, report"

static void read_record(struct db_stmt *st, struct arena *a, struct einvoice_record *r)
{
    memset(r, 0, sizeof(*r));
    int64_t *ints[] = {&r->id,          &r->received_at, &r->changed_at,    &r->exported_at,
                       &r->org_unit_id, &r->factual_by,  &r->arithmetic_by, &r->released_by};
    for (int i = 0; i < 8; i++)
        *ints[i] = db_column_int64(st, i);
    const char **texts[] = {&r->channel,         &r->container,     &r->status,     &r->verdict,
                            &r->seller_name,     &r->seller_email,  &r->seller_key, &r->number,
                            &r->buyer_reference, &r->issue_date,    &r->currency,   &r->amount_due,
                            &r->due_date,        &r->reject_reason, &r->report};
    for (int i = 0; i < 15; i++)
        *texts[i] = db_column_strdup(st, 8 + i, a);
}

int einvoice_get(struct db_conn *conn, struct arena *a, int64_t id, bool document,
                 struct einvoice_record *out, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      document ? "SELECT " RECORD_COLUMNS ", document FROM einvoice_invoice "
                                 "WHERE id = $1"
                               : "SELECT " RECORD_COLUMNS " FROM einvoice_invoice WHERE id = $1",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        read_record(st, a, out);
        if (document) {
            size_t len = db_column_len(st, 23);
            const void *blob = db_column_blob(st, 23);
            char *copy = arena_alloc(a, len + 1);
            if (copy) {
                memcpy(copy, blob, len);
                copy[len] = '\0';
            }
            out->document = copy;
            out->document_len = len;
            rc = copy ? DB_ROW : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        }
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such invoice");
    return rc < 0 ? rc : KR_OK;
}

static bool known_status(const char *status)
{
    for (size_t i = 0; i < KR_EI_LEN(statuses); i++)
        if (strcmp(statuses[i], status) == 0)
            return true;
    return false;
}

int einvoice_list(struct db_conn *conn, struct arena *a, const char *status, size_t limit,
                  struct einvoice_record **out, size_t *n, struct kr_error *err)
{
    *n = 0;
    if (status && !known_status(status))
        return kr_error_set(err, KR_ERR_INVALID, "unknown invoice status");
    if (limit < 1 || limit > 1000)
        return kr_error_set(err, KR_ERR_INVALID, "list limit out of range");
    struct einvoice_record *recs = arena_alloc(a, limit * sizeof(*recs));
    if (!recs)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(
        conn,
        "SELECT " RECORD_COLUMNS " FROM einvoice_invoice "
        "WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) ORDER BY received_at DESC, id DESC "
        "LIMIT $2",
        DB_PARAMS(DB_TEXT(status), DB_INT((int64_t)limit)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW)
        read_record(st, a, &recs[(*n)++]);
    db_finish(st);
    *out = recs;
    return rc < 0 ? rc : KR_OK;
}

/* ---- Routing by Leitweg-ID ----------------------------------------------------------- */

static int leitweg_upsert(struct db_conn *conn, const char *id, int64_t unit, const char *actor,
                          struct kr_error *err)
{
    int64_t exists = 0;
    int rc = db_query_int64(conn, "SELECT COUNT(*) FROM account_org_unit WHERE id = $1",
                            DB_PARAMS(DB_INT(unit)), &exists, err);
    if (rc == KR_OK && exists == 0)
        rc = kr_error_set(err, KR_ERR_INVALID, "no such organisation unit");
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "INSERT INTO einvoice_leitweg (leitweg_id, org_unit_id, changed_at) "
                     "VALUES ($1, $2, $3) ON CONFLICT (leitweg_id) DO UPDATE SET "
                     "org_unit_id = excluded.org_unit_id, changed_at = excluded.changed_at",
                     DB_PARAMS(DB_TEXT(id), DB_INT(unit), DB_INT(kr_now())), NULL, err);
    if (rc == KR_OK) {
        json_t *details = json_pack("{s:I}", "org_unit", (json_int_t)unit);
        struct audit_event ev = {actor, "einvoice.leitweg", "einvoice_leitweg", id, details};
        rc = details ? audit_append(conn, &ev, NULL, err)
                     : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        json_decref(details);
    }
    return rc;
}

int einvoice_leitweg_set(struct db_conn *conn, const char *actor, const char *leitweg_id,
                         int64_t org_unit_id, struct kr_error *err)
{
    struct arena *a = arena_new(4096);
    const char *id = a ? leitweg_norm(a, leitweg_id) : NULL;
    bool own = !db_in_transaction(conn);
    int rc = !id   ? kr_error_set(err, KR_ERR_INVALID, "a Leitweg-ID has 1-64 characters")
             : own ? db_begin(conn, err)
                   : KR_OK;
    if (rc == KR_OK) {
        rc = leitweg_upsert(conn, id, org_unit_id, actor, err);
        if (own && rc == KR_OK)
            rc = db_commit(conn, err);
        if (own && rc)
            db_rollback(conn);
    }
    arena_free(a);
    return rc;
}

/* ---- Accounting export ------------------------------------------------------------- */

static const char *const export_columns[] = {
    "invoice_id", "invoice_number", "seller_name", "seller_key",  "buyer_reference", "issue_date",
    "due_date",   "currency",       "amount_due",  "released_by", "exported_at"};

static void export_csv_row(struct buf *out, const struct einvoice_record *r, int64_t now)
{
    char id[24], by[24], at[32];
    (void)snprintf(id, sizeof(id), "%lld", (long long)r->id);
    (void)snprintf(by, sizeof(by), "%lld", (long long)r->released_by);
    kr_time_format_rfc3339(now, at, sizeof(at));
    const char *cols[] = {id,
                          r->number,
                          r->seller_name,
                          r->seller_key,
                          r->buyer_reference,
                          r->issue_date,
                          r->due_date,
                          r->currency,
                          r->amount_due,
                          by,
                          at};
    for (size_t i = 0; i < KR_EI_LEN(cols); i++) {
        if (i)
            buf_putc(out, ',');
        buf_put_csv(out, cols[i]);
    }
    buf_puts(out, "\r\n");
}

static json_t *export_json_row(const struct einvoice_record *r, int64_t now)
{
    char at[32];
    kr_time_format_rfc3339(now, at, sizeof(at));
    return json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:s}",
                     "invoice_id", (json_int_t)r->id, "invoice_number", r->number, "seller_name",
                     r->seller_name, "seller_key", r->seller_key, "buyer_reference",
                     r->buyer_reference, "issue_date", r->issue_date, "due_date", r->due_date,
                     "currency", r->currency, "amount_due", r->amount_due, "released_by",
                     (json_int_t)r->released_by, "exported_at", at);
}

/* Mark every listed invoice exported (each audited) and write the rows. */
static int export_rows(struct db_conn *conn, const struct einvoice_record *recs, size_t n,
                       int64_t user_id, bool csv, struct buf *out, json_t *arr,
                       struct kr_error *err)
{
    char actor[32];
    (void)snprintf(actor, sizeof(actor), "user:%lld", (long long)user_id);
    int64_t now = kr_now();
    for (size_t i = 0; i < n; i++) {
        int64_t changed = 0;
        int rc = db_exec(conn,
                         "UPDATE einvoice_invoice SET status = 'exported', exported_at = $1, "
                         "changed_at = $1 WHERE id = $2 AND status = 'released'",
                         DB_PARAMS(DB_INT(now), DB_INT(recs[i].id)), &changed, err);
        if (rc == KR_OK && changed != 1)
            rc = kr_error_set(err, KR_ERR_CONFLICT, "invoice %lld changed during the export",
                              (long long)recs[i].id);
        if (rc == KR_OK)
            rc = audit(conn, actor, "einvoice.export", recs[i].id,
                       json_pack("{s:s, s:s, s:s}", "from", "released", "to", "exported", "format",
                                 csv ? "csv" : "json"),
                       err);
        if (rc)
            return rc;
        if (csv)
            export_csv_row(out, &recs[i], now);
        else
            json_array_append_new(arr, export_json_row(&recs[i], now));
    }
    return KR_OK;
}

int einvoice_export(struct db_conn *conn, struct arena *a, int64_t user_id, const char *format,
                    struct buf *out, size_t *count, struct kr_error *err)
{
    bool csv = format && strcmp(format, "csv") == 0;
    if (!csv && !(format && strcmp(format, "json") == 0))
        return kr_error_set(err, KR_ERR_INVALID, "export format is csv or json");
    if (user_id <= 0)
        return kr_error_set(err, KR_ERR_INVALID, "an export needs a staff user");
    *count = 0;
    struct einvoice_record *recs;
    size_t n;
    int rc = db_begin(conn, err);
    if (rc)
        return rc;
    rc = einvoice_list(conn, a, "released", 1000, &recs, &n, err);
    json_t *arr = csv ? NULL : json_array();
    if (rc == KR_OK && csv)
        for (size_t i = 0; i < KR_EI_LEN(export_columns); i++)
            buf_printf(out, "%s%s", i ? "," : "", export_columns[i]);
    if (rc == KR_OK && csv)
        buf_puts(out, "\r\n");
    if (rc == KR_OK)
        rc = export_rows(conn, recs, n, user_id, csv, out, arr, err);
    if (rc == KR_OK && !csv) {
        char *text = json_dumps(arr, JSON_INDENT(2));
        rc = text ? buf_puts(out, text) : KR_ERR_NOMEM;
        free(text);
    }
    json_decref(arr);
    if (rc == KR_OK && buf_status(out))
        rc = kr_error_set(err, buf_status(out), "the export does not fit in memory");
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    if (rc) {
        db_rollback(conn);
        return rc;
    }
    *count = n;
    return KR_OK;
}
