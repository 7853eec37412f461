/*
 * payments.h - receivables (Forderungen), Kassenzeichen, bookings, bank
 * statement reconciliation and the GiroCode.
 *
 * A receivable is money a debtor owes the county: an amount in cents
 * (int64, never floating point), EUR only, a purpose, a due date, an
 * optional link to a case, and a Kassenzeichen (payment reference) that the
 * debtor quotes on the transfer.  Money arrives as bookings: a credit of a
 * bank statement, a manual assignment by the cash office, a provider's
 * notification, or a reversal (negative).  The receivable's status follows
 * from the sum of its bookings:
 *
 *   open          nothing paid yet
 *   partly_paid   0 < paid < due
 *   paid          paid == due            ("settled")
 *   overpaid      paid > due             ("settled")
 *   cancelled     withdrawn by the cash office (with a reason)
 *   written_off   given up (niedergeschlagen), with a reason
 *
 * "due" is amount_cents + fee_cents (reminder fees added by dunning).
 *
 * Kassenzeichen: 10 digits (4-digit year, 6-digit sequence) followed by two
 * ISO 7064 MOD 97-10 check digits, e.g. 2026 0001 4278 (docs/payments.md).
 *
 * Transactions: every function that changes data joins the caller's
 * transaction when conn is in one, else opens its own; so another module
 * (forms, workflows) creates a receivable in the same transaction as its
 * case.  Every change is written to the audit log in that transaction
 * (object type "receivable", actions "payments.*").
 *
 * Memory: strings returned live in the caller's arena.
 */
#ifndef KR_PAYMENTS_PAYMENTS_H
#define KR_PAYMENTS_PAYMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

struct kr_config;

/* Largest amount of one receivable or booking: 999,999,999.99 EUR (the
 * EPC GiroCode's limit as well). */
#define PAYMENTS_AMOUNT_MAX 99999999999LL

/* Field limits (bytes of UTF-8). */
#define PAYMENTS_NAME_MAX 140
#define PAYMENTS_PURPOSE_MAX 140
#define PAYMENTS_REASON_MAX 500

/* ---- Kassenzeichen --------------------------------------------------------- */

/* Digits of a Kassenzeichen, without grouping. */
#define PAYMENTS_KZ_DIGITS 12
#define PAYMENTS_KZ_SIZE (PAYMENTS_KZ_DIGITS + 1)

/* The two ISO 7064 MOD 97-10 check digits of a string of decimal digits
 * (1-30 digits): 98 - (digits * 100 mod 97).  Returns 0-98 or -1 for an
 * invalid input. */
int payments_mod97_check(const char *digits, size_t len);

/* Kassenzeichen of year and sequence number (1-999999) into out. */
void payments_kz_make(int year, int64_t seq, char out[PAYMENTS_KZ_SIZE]);

/* Normalise what a person typed ("kz 2026-0001 4278") into the 12 digits
 * of a Kassenzeichen: case-insensitive leading "KZ", spaces, dashes and
 * dots dropped.  KR_ERR_INVALID when it is not 12 digits or the check
 * digits are wrong (a typo). */
int payments_kz_normalise(const char *text, char out[PAYMENTS_KZ_SIZE]) KR_MUST_CHECK;

/* "2026 0001 4278" for people (15 bytes with NUL). */
void payments_kz_format(const char *kz, char out[16]);

/*
 * Find the Kassenzeichen in a remittance text: every run of 12 digits,
 * possibly broken by spaces, dashes or dots, whose check digits are right.
 * At most max found, in order, into found[].  Returns the number found.
 */
size_t payments_kz_scan(const char *text, size_t len, char (*found)[PAYMENTS_KZ_SIZE], size_t max);

/* ---- Amounts ----------------------------------------------------------------- */

/*
 * Parse a decimal amount ("12", "12.5", "12.50", and with decimal_comma
 * "12,50") into cents.  Strict: no sign, no spaces, no thousands separators,
 * at most two decimals, at most PAYMENTS_AMOUNT_MAX, greater than zero
 * unless allow_zero.  KR_ERR_INVALID with a message otherwise.
 */
int payments_amount_parse(const char *s, size_t len, bool decimal_comma, bool allow_zero,
                          int64_t *cents, struct kr_error *err) KR_MUST_CHECK;

/* "1234.50" (decimal point, no grouping) into out (at least 24 bytes);
 * negative amounts get a '-'. */
void payments_amount_format(int64_t cents, char *out, size_t size);

/* ---- Receivables --------------------------------------------------------------- */

enum payments_status {
    PAYMENTS_OPEN,
    PAYMENTS_PARTLY_PAID,
    PAYMENTS_PAID,
    PAYMENTS_OVERPAID,
    PAYMENTS_CANCELLED,
    PAYMENTS_WRITTEN_OFF,
};

/* "open", "partly_paid", ... (the names stored in the database). */
const char *payments_status_name(enum payments_status s);
int payments_status_parse(const char *name, enum payments_status *out) KR_MUST_CHECK;

struct payments_new_receivable {
    const char *debtor_name;   /* 1-140 bytes */
    int64_t debtor_account_id; /* account of a citizen/business, 0 for none */
    const char *purpose;       /* 1-140 bytes, e.g. "Gebühr Wunschkennzeichen" */
    int64_t amount_cents;      /* 1 .. PAYMENTS_AMOUNT_MAX */
    const char *currency;      /* "EUR" or NULL (means EUR); nothing else */
    int64_t due_at;            /* Unix seconds; 0 means now + 14 days */
    const char *case_ref;      /* the case it belongs to, or NULL */
};

struct payments_receivable {
    int64_t id;
    char kz[PAYMENTS_KZ_SIZE];
    const char *debtor_name;
    int64_t debtor_account_id;
    const char *purpose;
    int64_t amount_cents;
    int64_t fee_cents;  /* reminder fees */
    int64_t paid_cents; /* sum of bookings */
    const char *currency;
    int64_t due_at;
    const char *case_ref; /* NULL when none */
    enum payments_status status;
    const char *reason; /* of a cancellation / write-off, else NULL */
    int64_t reminders;  /* reminder letters sent */
    int64_t reminded_at;
    int64_t created_at, updated_at;
};

/* Amount still owed (never negative). */
int64_t payments_outstanding(const struct payments_receivable *r);

/*
 * Create a receivable and give it the next Kassenzeichen of the current
 * year.  Joins the caller's transaction (or opens one).  actor for the
 * audit log ("user:7", "system", "cli").  *id_out and kz_out (may be NULL)
 * get its id and Kassenzeichen.  KR_ERR_INVALID naming the field for bad
 * input (empty name, amount out of range, currency other than EUR).
 */
int payments_receivable_create(struct db_conn *conn, const char *actor,
                               const struct payments_new_receivable *nr, int64_t *id_out,
                               char kz_out[PAYMENTS_KZ_SIZE], struct kr_error *err) KR_MUST_CHECK;

/* Load by id / by Kassenzeichen (typed form allowed, see
 * payments_kz_normalise); KR_ERR_NOT_FOUND. */
int payments_receivable_get(struct db_conn *conn, struct arena *a, int64_t id,
                            struct payments_receivable *out, struct kr_error *err) KR_MUST_CHECK;
int payments_receivable_find(struct db_conn *conn, struct arena *a, const char *kz,
                             struct payments_receivable *out, struct kr_error *err) KR_MUST_CHECK;

/* The receivables of a case (newest first), arena array. */
int payments_receivables_of_case(struct db_conn *conn, struct arena *a, const char *case_ref,
                                 struct payments_receivable **out, size_t *count,
                                 struct kr_error *err) KR_MUST_CHECK;

/* Search for the cash office.  All criteria optional (NULL/0 = any). */
struct payments_query {
    const char *text;     /* Kassenzeichen (typed form) or part of the name */
    int64_t amount_cents; /* exact original amount, 0 = any */
    bool open_only;       /* open and partly_paid only */
    bool overdue_before;  /* due_at < before */
    int64_t before;
    unsigned offset, limit; /* limit 1-500 */
};
int payments_receivables_search(struct db_conn *conn, struct arena *a,
                                const struct payments_query *q, struct payments_receivable **out,
                                size_t *count, struct kr_error *err) KR_MUST_CHECK;

/*
 * Book amount_cents (negative: a reversal) on a receivable.  source is
 * "statement", "manual", "provider" or "reversal"; entry_id the statement
 * entry (0 for none); note free text (may be NULL).  Cancelled and
 * written-off receivables take no bookings (KR_ERR_CONFLICT).  The status
 * follows the new sum; when it becomes paid/overpaid the settled callbacks
 * run in the same transaction.
 */
int payments_book(struct db_conn *conn, const char *actor, int64_t receivable_id,
                  int64_t amount_cents, const char *source, int64_t entry_id, const char *note,
                  struct kr_error *err) KR_MUST_CHECK;

/* One booking as read back. */
struct payments_booking {
    int64_t id, receivable_id, amount_cents, entry_id, created_at;
    const char *source, *note, *actor;
};
int payments_bookings_list(struct db_conn *conn, struct arena *a, int64_t receivable_id,
                           struct payments_booking **out, size_t *count,
                           struct kr_error *err) KR_MUST_CHECK;

/* Cancel (cancel == true) or write off a receivable with a reason (1-500
 * bytes).  KR_ERR_CONFLICT when it is already cancelled, written off or
 * settled. */
int payments_receivable_close(struct db_conn *conn, const char *actor, int64_t id, bool cancel,
                              const char *reason, struct kr_error *err) KR_MUST_CHECK;

/*
 * "On settled" hook for other modules (the workflow moves a case on when
 * its fee is paid).  fn runs inside the booking's transaction, with the
 * receivable as it is after the booking; a non-zero result rolls the whole
 * booking back.  Register at start (before serving), at most 8 hooks;
 * KR_ERR_TOO_LARGE beyond that.  Not thread-safe against bookings: register
 * before the server starts.
 */
typedef int (*payments_settled_fn)(struct db_conn *conn, const struct payments_receivable *r,
                                   struct kr_error *err);
int payments_on_settled(payments_settled_fn fn) KR_MUST_CHECK;
/* Forget all hooks (tests). */
void payments_on_settled_reset(void);

/* ---- Dunning ------------------------------------------------------------------ */

/* Receivables overdue by more than grace_days at now, open or partly
 * paid, oldest first (at most 500). */
int payments_dunning_list(struct db_conn *conn, struct arena *a, int64_t now, unsigned grace_days,
                          struct payments_receivable **out, size_t *count,
                          struct kr_error *err) KR_MUST_CHECK;

/* Record a reminder: adds fee_cents (0 allowed) to the receivable's fees
 * and counts the reminder.  KR_ERR_CONFLICT unless open/partly paid. */
int payments_remind(struct db_conn *conn, const char *actor, int64_t id, int64_t fee_cents,
                    struct kr_error *err) KR_MUST_CHECK;

/* ---- Bank statements ------------------------------------------------------------ */

/* One credit or debit of a statement, as the parsers hand it over.  The
 * strings point into the parser's memory and are valid during the
 * callback only. */
struct payments_stmt_item {
    int64_t amount_cents; /* positive */
    bool credit;          /* CRDT / C: money in */
    int64_t booked_at;    /* Unix seconds (midnight UTC) or 0 */
    const char *ref;      /* bank's reference (AcctSvcrRef, EndToEndId, MT940 ref) or "" */
    const char *debtor_name;
    const char *remittance;
};

/* Statement header. */
struct payments_stmt_info {
    const char *format;  /* "camt.053.001.02", "camt.053.001.08", "mt940" */
    const char *account; /* IBAN or account identification */
    const char *id;      /* statement id / :20:+:28C: */
};

/* Callbacks of the parsers.  Returning non-zero stops the parse with that
 * code. */
struct payments_stmt_sink {
    int (*statement)(void *ctx, const struct payments_stmt_info *info, struct kr_error *err);
    int (*item)(void *ctx, const struct payments_stmt_item *item, struct kr_error *err);
    void *ctx;
};

/* Limits of an import. */
#define PAYMENTS_STATEMENT_MAX_BYTES (256u * 1024 * 1024)
#define PAYMENTS_TEXT_MAX 1024 /* one name/remittance/reference, longer is cut */

/*
 * Parse a camt.053 (.001.02 or .001.08) document with libxml2's streaming
 * reader (no DOM, bounded memory): no network, no DTD, no entity
 * expansion (a document with a DOCTYPE is refused).  KR_ERR_INVALID for
 * malformed XML, an unknown version, a wrong currency or a bad amount.
 */
int payments_camt_parse(const char *data, size_t len, const struct payments_stmt_sink *sink,
                        struct kr_error *err) KR_MUST_CHECK;

/* Parse an MT940 file (SWIFT, German :86: structure ?20-?29, ?32/?33). */
int payments_mt940_parse(const char *data, size_t len, const struct payments_stmt_sink *sink,
                         struct kr_error *err) KR_MUST_CHECK;

/* Outcome of an import. */
struct payments_import_result {
    int64_t statement_id; /* of the last statement in the file */
    int64_t entries;      /* credits and debits read */
    int64_t matched;      /* credits booked on a receivable */
    int64_t unmatched;    /* credits in the queue */
    int64_t duplicates;   /* entries known from an earlier import, skipped */
    int64_t ignored;      /* debits (not ours to match) */
};

/*
 * The format of a statement file, told by its content (never by a file
 * name): "camt.053" for XML (after an optional UTF-8 BOM and white space
 * the first byte is '<'), "mt940" for text with a ":20:" field at the start
 * of a line within the first 4 KiB (SWIFT header blocks may come first),
 * NULL for anything else (empty, binary, other text).
 */
const char *payments_statement_format(const char *data, size_t len);

/*
 * Import a statement file (format from payments_statement_format) in
 * one transaction: each new credit is matched by Kassenzeichen in the
 * remittance text, else by outstanding amount and debtor name (one match
 * only), and booked; the rest goes to the unmatched queue.  A statement
 * already imported (same account and statement id) books nothing
 * (KR_ERR_CONFLICT); an entry seen before in another statement is skipped.
 * Any parse error books nothing; a file of neither format is KR_ERR_INVALID.
 * Joins the caller's transaction.
 */
int payments_statement_import(struct db_conn *conn, const char *actor, const char *data, size_t len,
                              struct payments_import_result *res,
                              struct kr_error *err) KR_MUST_CHECK;

/* A statement entry (for the cash office's lists). */
struct payments_entry {
    int64_t id, statement_id, amount_cents, booked_at, receivable_id;
    bool credit;
    const char *status; /* "matched", "unmatched", "assigned", "ignored" */
    const char *match;  /* "kassenzeichen", "name_amount", "manual", "" */
    const char *ref, *debtor_name, *remittance;
    char kz[PAYMENTS_KZ_SIZE]; /* of the receivable, "" when none */
};
/* Entries of a statement (statement_id > 0) or the unmatched queue
 * (statement_id == 0), at most 500 from offset. */
int payments_entries_list(struct db_conn *conn, struct arena *a, int64_t statement_id,
                          unsigned offset, struct payments_entry **out, size_t *count,
                          struct kr_error *err) KR_MUST_CHECK;

/* Assign an unmatched entry to a receivable by hand (books its amount).
 * KR_ERR_CONFLICT when the entry is not unmatched. */
int payments_entry_assign(struct db_conn *conn, const char *actor, int64_t entry_id,
                          int64_t receivable_id, struct kr_error *err) KR_MUST_CHECK;

/* An imported statement. */
struct payments_statement {
    int64_t id, imported_at, entries, matched, unmatched;
    const char *format, *account, *stmt_id, *actor;
};
int payments_statements_list(struct db_conn *conn, struct arena *a, struct payments_statement **out,
                             size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* ---- Export --------------------------------------------------------------------- */

/* CSV for the accounting system (columns in docs/payments.md), bookings
 * with booked_at in [from, to), into the caller's buf-backed text *out
 * (arena).  KR_ERR_TOO_LARGE beyond 64 MiB. */
int payments_export_csv(struct db_conn *conn, struct arena *a, int64_t from, int64_t to, char **out,
                        size_t *len, struct kr_error *err) KR_MUST_CHECK;

/* ---- IBAN and GiroCode ------------------------------------------------------------- */

/* Normalise (spaces dropped, upper case) and check an IBAN: ISO 13616
 * structure, the country's length where known (DE 22), mod 97 == 1.
 * out gets at most 34 characters + NUL.  KR_ERR_INVALID otherwise. */
int payments_iban_check(const char *iban, char out[35], struct kr_error *err) KR_MUST_CHECK;

/* A credit transfer as the EPC069-12 QR code ("GiroCode", version 002)
 * carries it.  Strings borrowed for the call. */
struct payments_girocode {
    const char *bic;        /* 8 or 11 characters, or NULL/"" (optional in 002) */
    const char *name;       /* creditor, 1-70 bytes */
    const char *iban;       /* checked with payments_iban_check */
    int64_t amount_cents;   /* 1 .. PAYMENTS_AMOUNT_MAX */
    const char *remittance; /* unstructured remittance, e.g. the Kassenzeichen; <= 140 */
};

/* Largest payload the EPC allows (bytes). */
#define PAYMENTS_GIROCODE_MAX 331

/*
 * The payload text: "BCD\n002\n1\nSCT\nBIC\nName\nIBAN\nEUR12.80\n\n\nRemittance"
 * (UTF-8, LF separated) into out (at least PAYMENTS_GIROCODE_MAX + 1).
 * KR_ERR_INVALID naming the field: bad IBAN or BIC, empty or long name,
 * amount outside 0.01-999999999.99, long remittance, control characters.
 */
int payments_girocode_payload(const struct payments_girocode *g, char *out, size_t size,
                              struct kr_error *err) KR_MUST_CHECK;

/* The QR code (libqrencode, error correction level M, 8-bit mode) as PNG
 * (module_px pixels per module, 1-32, with the 4-module quiet zone) /
 * as SVG text.  The bytes live in arena a. */
int payments_girocode_png(const struct payments_girocode *g, unsigned module_px, struct arena *a,
                          unsigned char **png, size_t *len, struct kr_error *err) KR_MUST_CHECK;
int payments_girocode_svg(const struct payments_girocode *g, struct arena *a, char **svg,
                          size_t *len, struct kr_error *err) KR_MUST_CHECK;

/*
 * Draw the GiroCode onto a cairo context (a PDF notice, a reminder letter):
 * a white square with its top-left corner at (x, y) and side size (in the
 * context's user units, e.g. PDF points; 4 modules of it are the quiet
 * zone, so 120 pt gives modules of about 2.4 pt).  The context's state
 * (source, path, transformation) is saved and restored; nothing else is
 * drawn.  Same errors as payments_girocode_payload; KR_ERR_NOMEM when the
 * encoder fails.  cr is a cairo_t * (void * so that this header does not
 * need cairo.h).
 */
int payments_girocode_draw(void *cr, double x, double y, double size,
                           const struct payments_girocode *g, struct kr_error *err) KR_MUST_CHECK;

/* ---- Personal data export ------------------------------------------------------------- */

struct export_sink;

/* The section "zahlungen" of "download all data about me": the account's
 * receivables with their bookings (accounts_export_register). */
int payments_export(struct db_conn *conn, struct arena *a, int64_t account_id,
                    struct export_sink *sink, struct kr_error *err) KR_MUST_CHECK;

/* ---- Demo ------------------------------------------------------------------------ */

/* A few open receivables for the demo citizen (account_id), one overdue.
 * Joins the caller's transaction. */
int payments_seed_demo(struct db_conn *conn, int64_t account_id, const char *name,
                       struct kr_error *err) KR_MUST_CHECK;

#endif
