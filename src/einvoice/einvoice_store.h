/*
 * einvoice_store.h - reception of e-invoices and their approval workflow
 * (table einvoice_invoice, migration 0006).
 *
 * einvoice_receive validates an invoice (XML or ZUGFeRD PDF) and stores the
 * document with its report: accepted ones as "formally_valid", rejected
 * ones as "rejected" with the report's reason.  A second invoice with the
 * same seller (VAT id BT-31, else seller id BT-29/BT-30, else name BT-27)
 * and number (BT-1) is a duplicate and is not stored.
 *
 * einvoice_decide moves an invoice along
 *
 *   formally_valid --factual--> factually_correct (sachlich richtig)
 *     --arithmetic--> arithmetically_correct (rechnerisch richtig)
 *     --release--> released (Anordnung; four-eyes: not by the person who
 *                  confirmed the factual correctness)
 *     --export--> exported (to accounting)
 *   any state before exported --reject (reason required)--> rejected
 *
 * Every change is one transaction with its audit entry ("einvoice.receive",
 * "einvoice.factual", ...).  Who may take a step (the ordering unit found by
 * the buyer reference, the cash office) is for the HTTP layer to check; the
 * domain enforces the order of the steps and the four-eyes rule.
 */
#ifndef KR_EINVOICE_STORE_H
#define KR_EINVOICE_STORE_H

#include <stdint.h>

#include <stdbool.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "db/db.h"
#include "einvoice/einvoice.h"

enum einvoice_action {
    EINVOICE_STEP_FACTUAL,
    EINVOICE_STEP_ARITHMETIC,
    EINVOICE_STEP_RELEASE,
    EINVOICE_STEP_EXPORT,
    EINVOICE_STEP_REJECT,
};

/* Channels an invoice may arrive by. */
#define EINVOICE_CHANNELS "api, upload, directory, mail, cli"

struct einvoice_received {
    int64_t id;
    const char *status;             /* "formally_valid" or "rejected" */
    struct einvoice_report *report; /* in the caller's arena */
};

/*
 * Validate and store one invoice received by channel (see
 * EINVOICE_CHANNELS), recorded as done by actor ("user:7", "cli").  conn
 * must not be inside a transaction.  Errors: KR_ERR_INVALID for input that
 * cannot be read as an invoice (nothing stored; the message says why) or an
 * unknown channel; KR_ERR_CONFLICT for a duplicate (the message names the
 * invoice received before, out->id is its id); KR_ERR_DB, KR_ERR_NOMEM.
 */
int einvoice_receive(struct db_conn *conn, struct einvoice_validator *v, struct arena *a,
                     const char *actor, const char *channel, const char *data, size_t len,
                     struct einvoice_received *out, struct kr_error *err) KR_MUST_CHECK;

/*
 * Take one workflow step on invoice id as staff user user_id (> 0).  reason
 * is required for EINVOICE_STEP_REJECT (1-1000 bytes) and ignored otherwise.
 * Errors: KR_ERR_NOT_FOUND (no such invoice), KR_ERR_CONFLICT (the invoice
 * is not in the state the step starts from, e.g. already released),
 * KR_ERR_FORBIDDEN (release by the person who confirmed the factual
 * correctness), KR_ERR_INVALID (bad reason), KR_ERR_DB.
 */
int einvoice_decide(struct db_conn *conn, int64_t id, int64_t user_id, enum einvoice_action action,
                    const char *reason, struct kr_error *err) KR_MUST_CHECK;

/* One stored invoice; strings in the caller's arena, NULL when absent. */
struct einvoice_record {
    int64_t id;
    int64_t received_at, changed_at, exported_at; /* Unix seconds; 0 = not yet */
    int64_t org_unit_id; /* the ordering unit found by the Leitweg-ID; 0 = none */
    int64_t factual_by, arithmetic_by, released_by; /* account ids; 0 = not yet */
    const char *channel, *container, *status, *verdict;
    const char *seller_name, *seller_email, *seller_key, *number, *buyer_reference;
    const char *issue_date, *currency, *amount_due, *due_date, *reject_reason;
    const char *report;   /* the validation report as JSON text */
    const char *document; /* the invoice as received (only from einvoice_get
                           * with document true), document_len bytes */
    size_t document_len;
};

/* Invoice id; KR_ERR_NOT_FOUND. */
int einvoice_get(struct db_conn *conn, struct arena *a, int64_t id, bool document,
                 struct einvoice_record *out, struct kr_error *err) KR_MUST_CHECK;

/* The newest invoices first, at most limit (1-1000), of one status or of
 * all (status NULL); *out is an arena array of *n records without
 * documents.  KR_ERR_INVALID for an unknown status. */
int einvoice_list(struct db_conn *conn, struct arena *a, const char *status, size_t limit,
                  struct einvoice_record **out, size_t *n, struct kr_error *err) KR_MUST_CHECK;

/*
 * Map a Leitweg-ID (the buyer reference BT-10 of German public invoices,
 * e.g. "04011000-12345-34"; compared without surrounding spaces, upper
 * case) to the unit whose members confirm factual correctness.  Replaces an
 * earlier mapping; audited ("einvoice.leitweg").  Joins the caller's
 * transaction when conn is in one.  KR_ERR_INVALID for an
 * empty or over-long id or a unit that does not exist.
 */
int einvoice_leitweg_set(struct db_conn *conn, const char *actor, const char *leitweg_id,
                         int64_t org_unit_id, struct kr_error *err) KR_MUST_CHECK;

/*
 * The accounting export: every released invoice becomes exported (one
 * transaction, each audited "einvoice.export" with the user), and out gets
 * them as CSV (format "csv": RFC 4180, UTF-8, CRLF, header line; the
 * columns are documented in docs/einvoice.md) or as a JSON array ("json").
 * *count gets how many.  An export with nothing released is an empty file
 * (CSV: the header only).  KR_ERR_INVALID for another format.
 */
int einvoice_export(struct db_conn *conn, struct arena *a, int64_t user_id, const char *format,
                    struct buf *out, size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* The status of invoice id as a static string; KR_ERR_NOT_FOUND. */
int einvoice_status(struct db_conn *conn, int64_t id, const char **status,
                    struct kr_error *err) KR_MUST_CHECK;

#endif
