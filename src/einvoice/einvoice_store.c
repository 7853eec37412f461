/*
 * einvoice_store.c - reception and approval workflow (see einvoice_store.h).
 */
#include "einvoice/einvoice_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/util.h"
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
                  const char *data, size_t len, const char *key, int64_t *id, struct kr_error *err)
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
        "document, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14, $15, $16, $17, $1, $18, $19) ON CONFLICT (seller_key, invoice_number) DO NOTHING "
        "RETURNING id",
        DB_PARAMS(DB_INT(now), DB_TEXT(channel), DB_TEXT(r->container_pdf ? "pdf" : "xml"),
                  DB_TEXT(einvoice_syntax_name(r->syntax)),
                  DB_TEXT(einvoice_scenario_name(r->scenario)), DB_TEXT(ok ? "accept" : "reject"),
                  DB_TEXT(key), DB_TEXT(s->seller_name), DB_TEXT(s->seller_email),
                  DB_TEXT(s->number), DB_TEXT(s->buyer_reference), DB_TEXT(s->issue_date),
                  DB_TEXT(s->currency), DB_TEXT(s->amount_due), DB_TEXT(s->due_date),
                  DB_TEXT(ok ? "formally_valid" : "rejected"), DB_TEXT(ok ? NULL : r->reason),
                  DB_BLOB(data, len), DB_TEXT(report_text)),
        id, err);
    free(report_text);
    return rc;
}

static int duplicate(struct db_conn *conn, const char *key, const char *number,
                     struct kr_error *err)
{
    int64_t before = 0;
    int rc = db_query_int64(conn,
                            "SELECT id FROM einvoice_invoice WHERE seller_key = $1 AND "
                            "invoice_number = $2",
                            DB_PARAMS(DB_TEXT(key), DB_TEXT(number)), &before, err);
    if (rc && rc != KR_ERR_NOT_FOUND)
        return rc;
    return kr_error_set(err, KR_ERR_CONFLICT,
                        "duplicate: invoice %.80s of this seller was received already (id %lld)",
                        number, (long long)before);
}

int einvoice_receive(struct db_conn *conn, struct einvoice_validator *v, struct arena *a,
                     const char *actor, const char *channel, const char *data, size_t len,
                     struct einvoice_received *out, struct kr_error *err)
{
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
    int64_t id = 0;
    rc = insert(conn, r, channel, data, len, key, &id, err);
    if (rc == KR_ERR_NOT_FOUND) /* ON CONFLICT: nothing inserted */
        rc = duplicate(conn, key, r->summary.number, err);
    if (rc == KR_OK)
        rc = audit(conn, actor, "einvoice.receive", id,
                   json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "channel", channel, "verdict",
                             einvoice_verdict_name(r->verdict), "seller", key, "number",
                             r->summary.number, "scenario", einvoice_scenario_name(r->scenario)),
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

static int reject(struct db_conn *conn, int64_t id, int64_t user_id, const char *reason,
                  const char *actor, struct kr_error *err)
{
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE einvoice_invoice SET status = 'rejected', reject_reason = $1, "
                     "changed_at = $2 WHERE id = $3 AND status NOT IN ('exported', 'rejected')",
                     DB_PARAMS(DB_TEXT(reason), DB_INT(kr_now()), DB_INT(id)), &changed, err);
    if (rc == KR_OK && changed == 0)
        rc = kr_error_set(err, KR_ERR_CONFLICT, "the invoice is already exported or rejected");
    if (rc == KR_OK)
        rc = audit(conn, actor, "einvoice.reject", id,
                   json_pack("{s:s, s:I}", "reason", reason, "user", (json_int_t)user_id), err);
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
