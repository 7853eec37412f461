/*
 * einvoice_worker.h - what `kreisel serve` does for e-invoices in the
 * background: the directory intake and the escalation of payment and cash
 * discount (Skonto) deadlines (docs/einvoice.md).
 *
 * Directory intake (config einvoice_intake_dir): the files of a drop
 * directory (core/dropdir.h: regular files, no dotfiles, no "*.tmp", not
 * changed since the previous scan) are received exactly as `kreisel
 * invoice receive` does, by einvoice_receive (channel "directory", actor
 * "system"): the same validation, duplicate check, audit entry and
 * rejection mail.  Then the file goes to
 *   done/    stored (accepted, or rejected by the rules: the invoice list
 *            shows it, the supplier was mailed),
 *   failed/  not stored: unreadable, or a duplicate ("Duplikat von
 *            Rechnung #id"; also what a crash between storing and moving
 *            leads to on the next scan),
 * with "<name>.txt" beside it saying which.  A database failure leaves the
 * file for the next scan.
 *
 * Deadlines (table einvoice_deadline, migration 0017): for each invoice
 * that waits for release (formally_valid, factually_correct,
 * arithmetically_correct) the due date (BT-9, else issue date +
 * einvoice_payment_days) and its Skonto deadlines (the same computation as
 * the invoice page, einvoice_view's "skonto") are computed once.  When a
 * Skonto deadline is at most einvoice_warn_days ahead (and not past), or
 * the due date is at most that far ahead or past, the ordering unit's
 * clerks and heads of unit (administrators for an invoice without unit)
 * are mailed once per invoice and deadline, and the escalation is audited
 * ("einvoice.escalate", actor "system").
 */
#ifndef KR_EINVOICE_WORKER_H
#define KR_EINVOICE_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/dropdir.h"
#include "core/error.h"
#include "db/db.h"
#include "einvoice/einvoice.h"

/*
 * One scan of the drop directory d (opened with kr_dropdir_open, at most
 * EINVOICE_MAX_SIZE bytes a file): hand the settled files to
 * einvoice_receive with validator v on conn (not in a transaction) and
 * move them.  counts (may be NULL) gets what happened.  Errors of the scan
 * itself (kr_dropdir_scan); one file's trouble is in its note and the log.
 */
int einvoice_intake_scan(struct db_conn *conn, struct einvoice_validator *v, struct kr_dropdir *d,
                         struct kr_dropdir_counts *counts, struct kr_error *err) KR_MUST_CHECK;

/*
 * Compute the deadlines of the invoices waiting for release that have
 * none yet, then escalate those due at now (Unix seconds; the day is the
 * local day of now, TZ): mail and audit, each deadline in its own
 * transaction, once (the update is conditional, so several processes may
 * run it).  cfg gives einvoice_warn_days, einvoice_payment_days,
 * public_url for the link and the mail settings.  *escalated (may be NULL)
 * counts the deadlines escalated.  KR_ERR_DB, KR_ERR_NOMEM.
 */
int einvoice_check_deadlines(struct db_conn *conn, const struct kr_config *cfg, int64_t now,
                             unsigned *escalated, struct kr_error *err) KR_MUST_CHECK;

/* An escalated deadline of an invoice that still waits for release. */
struct einvoice_escalation {
    int64_t invoice_id;
    const char *kind;   /* "due" or "skonto" */
    const char *day;    /* the deadline, "2026-11-19" */
    const char *detail; /* Skonto: "2.00 % = 3.57", else NULL */
    int64_t escalated_at;
};

/* The escalated deadlines of invoices waiting for release, earliest
 * deadline first, at most limit (1-1000); *out is an arena array of *n.
 * KR_ERR_INVALID for a bad limit, KR_ERR_DB. */
int einvoice_escalations(struct db_conn *conn, struct arena *a, size_t limit,
                         struct einvoice_escalation **out, size_t *n,
                         struct kr_error *err) KR_MUST_CHECK;

/*
 * The thread of `serve`: every cfg->einvoice_intake_interval seconds one
 * intake scan (when einvoice_intake_dir is set; the directory and its
 * done/ and failed/ are created at start) and einvoice_check_deadlines
 * with now() (kr_now when NULL; `serve` passes workflow_now, the one
 * clock the schedulers share).  v is the server's validator and must
 * outlive the worker.  *out belongs to the caller: einvoice_worker_stop
 * (NULL ok).  KR_ERR_IO / KR_ERR_INVALID for the intake directory,
 * KR_ERR_INTERNAL when the thread cannot start.
 */
struct einvoice_worker;
int einvoice_worker_start(const struct kr_config *cfg, struct db *pool,
                          struct einvoice_validator *v, int64_t (*now)(void),
                          struct einvoice_worker **out, struct kr_error *err) KR_MUST_CHECK;
void einvoice_worker_stop(struct einvoice_worker *w);

#endif
