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

#include "core/arena.h"
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
 * invoice received before); KR_ERR_DB, KR_ERR_NOMEM.
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

/* The status of invoice id as a static string; KR_ERR_NOT_FOUND. */
int einvoice_status(struct db_conn *conn, int64_t id, const char **status,
                    struct kr_error *err) KR_MUST_CHECK;

#endif
