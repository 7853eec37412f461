/*
 * workflow.h - case processing: declarative workflows, cases, transitions,
 * deadlines in working days, escalation and the applicant's status.
 *
 * A workflow definition (workflows/<id>.json, docs/workflow.md) names its
 * form, its states (public label for the applicant, internal label for
 * staff, a deadline in working days, actions run on entering) and its
 * transitions (from, to, allowed roles, a guard on the case data, required
 * fields such as a reason).  workflow_load_dir() reads and validates every
 * definition at start; any problem is a start error with file and line.
 * The loaded definitions belong to the process and are read-only until
 * workflow_unload() (shutdown).
 *
 * A case (Vorgang) is one application worked through one workflow: it has
 * a human-readable number ("2026-000123"), a state, a version for
 * optimistic locking, an org unit, an assignee, a due date and a history
 * whose entries are public (the applicant sees them) or internal.  Every
 * change is in the audit log (audit_append) in the same transaction.
 *
 * Transactions: every function that changes data joins the caller's
 * transaction when conn is in one (so that, e.g., the form server opens a
 * case inside its submission transaction), else runs its own.
 *
 * Seams for modules that land later (wired in src/main.c):
 *   workflow_action_register   "request_payment", "notice", "close_transaction"
 *   workflow_set_guard_evaluator   the forms expression language
 *   workflow_set_holiday_fn    public holidays of the county's state
 *   workflow_set_clock         tests of deadlines and escalation
 * The registries are process-global: set them before workflow_load_dir
 * and before the server starts; they are read without locks afterwards.
 */
#ifndef KR_WORKFLOW_WORKFLOW_H
#define KR_WORKFLOW_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "db/db.h"
#include "mail/mail.h"

/* Limits of definitions and inputs. */
#define WORKFLOW_ID_MAX 64 /* workflow, state, transition, action names */
#define WORKFLOW_MAX_STATES 64
#define WORKFLOW_MAX_TRANSITIONS 128
#define WORKFLOW_MAX_ACTIONS 8 /* per state */
#define WORKFLOW_MAX_FIELDS 8  /* required fields per transition */
#define WORKFLOW_DEFINITION_MAX (256 * 1024)
#define WORKFLOW_DATA_MAX (256 * 1024) /* case data, serialised JSON */
#define WORKFLOW_TEXT_MAX 4000         /* reason, note, field values */
#define WORKFLOW_NUMBER_LEN 32         /* "2026-000123" + NUL fits */
#define WORKFLOW_SECRET_LEN 20         /* "ABCD-EFGH-JKLM-NPQR" + NUL */

struct workflow_guard_evaluator;

/* ---- Definitions ---------------------------------------------------------- */

struct workflow_field {
    const char *name; /* e.g. "reason"; stored in the history's fields */
    const char *label_de, *label_en;
    bool required;
};

struct workflow_transition {
    const char *name;
    const char *label_de, *label_en;
    const char **from; /* state names; from_count of them */
    size_t from_count;
    const char *to;
    unsigned roles;       /* enum account_role bits allowed to take it */
    bool applicant;       /* the applicant may take it (status page) */
    bool system;          /* the engine may take it (uploads, scheduler) */
    const char *guard;    /* expression text or NULL */
    void *guard_compiled; /* from the guard evaluator's compile */
    const struct workflow_guard_evaluator *guard_ev; /* the one that compiled it */
    struct workflow_field fields[WORKFLOW_MAX_FIELDS];
    size_t field_count;
};

struct workflow_state {
    const char *name;
    const char *public_de, *public_en; /* shown to the applicant */
    const char *internal;              /* shown to staff */
    unsigned deadline_days;            /* working days; 0 = none */
    bool final;                        /* the case is closed here */
    const char *on_upload;             /* transition taken after an upload */
    const char *on_paid;               /* transition taken when the fee is paid */
    const char *notice;                /* template of the action "notice" */
    int64_t payment_cents;             /* amount of the action "request_payment" */
    const char *payment_purpose;       /* its purpose (1-140 bytes) */
    const char *webhook;               /* URL of the action "webhook" */
    const char *actions[WORKFLOW_MAX_ACTIONS];
    size_t action_count;
};

struct workflow_def {
    const char *id;   /* file name without .json */
    const char *form; /* the form id whose submissions open cases here */
    const char *title_de, *title_en;
    const char *unit; /* org unit code that works the cases */
    const char *plan; /* file plan number of the cases' e-files, or NULL */
    const char *initial;
    struct workflow_state *states;
    size_t state_count;
    struct workflow_transition *transitions;
    size_t transition_count;
    const char *path; /* for messages */
};

/*
 * Parse and validate one definition from text (path names it in
 * messages).  The definition is allocated in a (which must outlive it).
 * KR_ERR_CONFIG with "path:line: ..." for JSON syntax errors (jansson's
 * line), and for semantic errors the line where the offending name
 * occurs: a missing or unknown initial state, transitions from or to
 * unknown states, unknown roles, states unreachable from the initial one,
 * duplicate names, actions nobody registered, guards that do not compile.
 */
int workflow_def_parse(struct arena *a, const char *path, const char *text, size_t len,
                       struct workflow_def **out, struct kr_error *err) KR_MUST_CHECK;

/*
 * Load every *.json of dir into the process's registry (replacing what
 * was loaded).  Nothing is replaced on error (KR_ERR_CONFIG naming file
 * and line; KR_ERR_IO when dir cannot be read).  A missing dir loads
 * nothing and is KR_OK.
 */
int workflow_load_dir(const char *dir, struct kr_error *err) KR_MUST_CHECK;

/* Add one parsed definition (tests).  The registry owns it after success. */
int workflow_load_text(const char *path, const char *text, struct kr_error *err) KR_MUST_CHECK;

/* Free every loaded definition. */
void workflow_unload(void);

/* The loaded definition of id / of form id, or NULL. */
const struct workflow_def *workflow_find(const char *id);
const struct workflow_def *workflow_find_for_form(const char *form_id);

/* The loaded definitions in id order; *count gets their number. */
const struct workflow_def *const *workflow_list(size_t *count);

/* The path of the first loaded definition with the action "webhook", or
 * NULL (the server refuses to start without a webhook key then). */
const char *workflow_first_webhook(void);

const struct workflow_state *workflow_state_find(const struct workflow_def *def, const char *name);
const struct workflow_transition *workflow_transition_find(const struct workflow_def *def,
                                                           const char *name);

/* ---- Seams ------------------------------------------------------------------ */

struct workflow_case;

/*
 * What an action on entering a state gets: the case (after the change),
 * the definition, the actor and the process's configuration.  Runs inside
 * the transition's transaction: an error rolls the whole transition back.
 */
struct workflow_action_ctx {
    struct db_conn *conn;
    struct arena *a;
    const struct kr_config *cfg; /* may be NULL (defaults) */
    const struct workflow_def *def;
    const struct workflow_case *c;
    const char *state;      /* the state entered */
    int64_t actor_id;       /* the acting account, 0 for the system */
    const char *actor;      /* "user:7", "system" */
    const char *reason;     /* the transition's reason, or NULL */
    const char *from;       /* the state left; NULL when the case was opened */
    const char *transition; /* the transition taken; NULL when opened */
};
typedef int (*workflow_action_fn)(const struct workflow_action_ctx *ctx, struct kr_error *err);

/* Register action name (1-64 of a-z, 0-9, _).  Built in: "mailbox" (a
 * message to the applicant's mailbox with a link to the status page, or
 * an e-mail to an anonymous applicant), "notify_unit" (mail to the unit's
 * heads, no personal data), "escalate" (marks the case escalated and
 * notifies like notify_unit) and "webhook" (queues a signed POST of the
 * case's new state and data to the state's "webhook" URL, src/webhook).  KR_ERR_CONFLICT when
 * registered already, KR_ERR_TOO_LARGE beyond 32 actions. */
int workflow_action_register(const char *name, workflow_action_fn fn) KR_MUST_CHECK;
bool workflow_action_known(const char *name);

/*
 * The guard evaluator: compile(form_id, text) at load returns a handle (or
 * NULL with err set: a start error); eval(handle, case data) decides.
 * form_id is the workflow's form (NULL when it names none), so that the
 * evaluator can type the answers.  Handles live as long as the
 * definitions.  src/intake sets the forms expression language
 * (src/forms/expr.h, docs/forms.md) before the workflows load.  NULL
 * restores the built-in evaluator, which understands only
 *     field == 'value'    field != 'value'    field    !field
 * (field: a top-level key of the case data, compared as text; numbers and
 * booleans compare by their JSON text; "field" alone is truthy: present,
 * not null, not false, not 0, not "").
 */
struct workflow_guard_evaluator {
    void *(*compile)(const char *form_id, const char *text, struct kr_error *err);
    bool (*eval)(const void *compiled, json_t *data);
    void (*release)(void *compiled);
};
void workflow_set_guard_evaluator(const struct workflow_guard_evaluator *ev);

/* Evaluate a guard text with the built-in evaluator (tests, docs). */
int workflow_guard_builtin_eval(const char *text, json_t *data, bool *out,
                                struct kr_error *err) KR_MUST_CHECK;

/* Public holidays: fn(y, m, d, ctx) is true for a holiday (m 1-12).  NULL
 * means weekends only (a warning is logged once when deadlines are
 * computed without a calendar). */
typedef bool (*workflow_holiday_fn)(int y, int m, int d, void *ctx);
void workflow_set_holiday_fn(workflow_holiday_fn fn, void *ctx);

/* The configuration used where a caller passes none (workflow_case_open
 * from the form server): public_url for links.  cfg must outlive every
 * later call; NULL means the defaults.  `serve` sets it at start. */
void workflow_set_config(const struct kr_config *cfg);

/* The clock of the engine and the scheduler (Unix seconds); NULL is
 * kr_now. */
void workflow_set_clock(int64_t (*now)(void));
int64_t workflow_now(void);

/*
 * The deadline of a state entered at `at` with days working days: the end
 * of the days-th working day after the day of `at` (local time, TZ),
 * skipping Saturdays, Sundays and holidays.  Returned as the Unix time of
 * the midnight that ends that day.
 */
int64_t workflow_deadline(int64_t at, unsigned days);

/* ---- Cases ------------------------------------------------------------------ */

struct workflow_case_new {
    const char *workflow;        /* definition id */
    int64_t applicant_id;        /* citizen/business account, or 0 */
    const char *applicant_email; /* required when applicant_id is 0 */
    const char *submission_ref;  /* the form server's reference, may be NULL */
    const char *data;            /* case data: a JSON object as text */
    int64_t unit_id;             /* 0: the definition's unit */
    const char *actor;           /* audit actor: "user:7", "forms", "cli" */
};

/*
 * Open a case in the definition's initial state, inside the caller's
 * transaction (or its own): number gets "YYYY-NNNNNN" (per-year counter),
 * *id the case id.  For anonymous applicants (applicant_id 0) secret gets
 * the status secret ("ABCD-EFGH-JKLM-NPQR": show it once on the receipt;
 * only its hash is stored); otherwise secret is "".  secret may be NULL
 * only when applicant_id is set.  The initial state's actions run.
 * KR_ERR_NOT_FOUND for an unknown workflow or unit, KR_ERR_INVALID for data
 * that is not a JSON object (or larger than WORKFLOW_DATA_MAX), a missing
 * or bad e-mail.  Audited ("case.open").
 */
int workflow_case_open(struct db_conn *conn, const struct workflow_case_new *in, int64_t *id,
                       char number[WORKFLOW_NUMBER_LEN], char secret[WORKFLOW_SECRET_LEN],
                       struct kr_error *err) KR_MUST_CHECK;

/* A case as read; strings in the caller's arena. */
struct workflow_case {
    int64_t id;
    const char *number;
    const char *workflow;
    const char *state;
    int64_t version;
    int64_t unit_id;
    const char *unit_name;
    int64_t applicant_id;
    const char *applicant_email;
    const char *submission_ref;
    const char *data; /* JSON text */
    int64_t assignee_id;
    const char *assignee_name; /* NULL when unassigned */
    int64_t created_at, state_entered_at, due_at, escalated_at, closed_at; /* 0 = none */
};

/* Load case id (no authorisation: callers check workflow_may_*). */
int workflow_case_get(struct db_conn *conn, struct arena *a, int64_t id, struct workflow_case *out,
                      struct kr_error *err) KR_MUST_CHECK;
int workflow_case_by_number(struct db_conn *conn, struct arena *a, const char *number,
                            struct workflow_case *out, struct kr_error *err) KR_MUST_CHECK;

/* The staff member acting (what the engine needs of struct account_user). */
struct workflow_actor {
    int64_t id;      /* account id; 0 for the system */
    unsigned roles;  /* enum account_role bits */
    int64_t unit_id; /* the staff member's unit */
    bool applicant;  /* acting as the case's applicant */
};

/* Staff may see/work a case: admin always; otherwise clerks and heads of
 * unit of the case's unit. */
bool workflow_may_view(const struct workflow_actor *who, const struct workflow_case *c);

/* The transitions actor may take from the case's state now (roles and
 * guard checked); arena array of pointers into the definition. */
int workflow_allowed(struct arena *a, const struct workflow_case *c,
                     const struct workflow_actor *who, const struct workflow_transition ***out,
                     size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* One required-field value of a transition. */
struct workflow_value {
    const char *name, *value;
};

/*
 * Take transition name on case_id, if the case is still at
 * expected_version: exactly one of several concurrent callers wins; the
 * others get KR_ERR_CONFLICT ("the case was changed by someone else in the
 * meantime; reload it").  Checks: the transition exists and leaves the
 * current state (KR_ERR_CONFLICT otherwise), the actor's role or unit
 * (KR_ERR_FORBIDDEN), the guard (KR_ERR_CONFLICT "condition not met"), the
 * required fields (KR_ERR_INVALID naming the field; values at most
 * WORKFLOW_TEXT_MAX bytes).  Then: new state, version + 1, due date of
 * the new state, the history entry (public when the state's public label
 * changes), the audit entry ("case.transition" with actor and reason), the
 * new state's actions.  *new_version may be NULL.
 */
int workflow_transition(struct db_conn *conn, const struct kr_config *cfg, int64_t case_id,
                        const char *name, int64_t expected_version,
                        const struct workflow_actor *who, const char *reason,
                        const struct workflow_value *fields, size_t field_count,
                        int64_t *new_version, struct kr_error *err) KR_MUST_CHECK;

/* Set the assignee (0 unassigns).  claim: only when unassigned (else
 * KR_ERR_CONFLICT).  The assignee must be staff of the case's unit;
 * assigning to others needs head_of_unit or admin.  Audited
 * ("case.assign"); internal history. */
int workflow_assign(struct db_conn *conn, int64_t case_id, const struct workflow_actor *who,
                    int64_t assignee_id, bool claim, struct kr_error *err) KR_MUST_CHECK;

/* An internal note (1-WORKFLOW_TEXT_MAX bytes).  Audited ("case.note"). */
int workflow_note_add(struct db_conn *conn, int64_t case_id, const struct workflow_actor *who,
                      const char *text, struct kr_error *err) KR_MUST_CHECK;

/* One entry of a case's history. */
struct workflow_event {
    int64_t at;
    const char *kind;       /* "open", "transition", "note", "assign", "escalate",
                             * "request", "upload" */
    const char *actor_name; /* NULL for the system or the applicant */
    const char *from_state, *to_state, *transition;
    const char *text;         /* reason / note / file name */
    const char *public_label; /* the public label of to_state (lang) */
    const char *internal_label;
    bool public;
};

/* The history oldest first; public_only for the applicant (no actor
 * names, no texts of internal entries).  lang "de"/"en" for labels. */
int workflow_history(struct db_conn *conn, struct arena *a, const struct workflow_case *c,
                     bool public_only, const char *lang, struct workflow_event **out, size_t *count,
                     struct kr_error *err) KR_MUST_CHECK;

/* Inbox filter; zero/NULL members do not filter. */
struct workflow_filter {
    int64_t unit_id; /* required unless admin lists all (0) */
    const char *state;
    const char *workflow;
    int64_t assignee_id; /* -1: unassigned only */
    bool overdue_only;
    bool open_only;         /* hide closed cases */
    unsigned offset, limit; /* limit 0 = 100 */
};

int workflow_inbox(struct db_conn *conn, struct arena *a, const struct workflow_filter *f,
                   struct workflow_case **out, size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* The applicant's own cases, newest first. */
int workflow_applicant_cases(struct db_conn *conn, struct arena *a, int64_t applicant_id,
                             struct workflow_case **out, size_t *count,
                             struct kr_error *err) KR_MUST_CHECK;

/* An anonymous applicant's case by number and secret.  KR_ERR_NOT_FOUND
 * for a wrong number or secret alike (constant-time comparison of the
 * hashes).  The caller rate-limits (accounts_throttle). */
int workflow_status_lookup(struct db_conn *conn, struct arena *a, const char *number,
                           const char *secret, struct workflow_case *out,
                           struct kr_error *err) KR_MUST_CHECK;

/* ---- Deadlines ----------------------------------------------------------------- */

/*
 * Mark every open case whose due date has passed (due_at <= now) and that
 * is not escalated yet: escalated_at = now, internal history entry, audit
 * ("case.escalate", actor "system"), mail to the unit's heads (case number
 * and link only, no personal data).  Each case in its own transaction;
 * several processes may run it at once (the update is conditional).
 * *escalated (may be NULL) counts them.
 */
int workflow_check_deadlines(struct db_conn *conn, const struct kr_config *cfg, int64_t now,
                             unsigned *escalated, struct kr_error *err) KR_MUST_CHECK;

/* The scheduler thread of `kreisel serve`: runs workflow_check_deadlines
 * every interval seconds with workflow_now() and its own connection from
 * pool.  Deadlines are data, so a restart loses nothing.  *out belongs to
 * the caller: workflow_scheduler_stop (NULL ok). */
struct workflow_scheduler;
int workflow_scheduler_start(const struct kr_config *cfg, struct db *pool, unsigned interval,
                             struct workflow_scheduler **out, struct kr_error *err) KR_MUST_CHECK;
void workflow_scheduler_stop(struct workflow_scheduler *s);

/* ---- Back-channel -------------------------------------------------------------- */

/* A clerk asks the applicant for a missing document: a mailbox message (or
 * e-mail) with the link to the upload page; public history entry.
 * Audited ("case.request_document"). */
int workflow_request_document(struct db_conn *conn, const struct kr_config *cfg, int64_t case_id,
                              const struct workflow_actor *who, const char *text,
                              struct kr_error *err) KR_MUST_CHECK;

/* The applicant's uploaded file (already kept in the blob store) lands in
 * the case; when the state names on_upload, that transition is taken by
 * the system.  Audited ("case.upload"). */
struct workflow_upload {
    const char *blob_hash;
    const char *filename;
    const char *content_type;
    int64_t size;
};
int workflow_document_add(struct db_conn *conn, const struct kr_config *cfg, int64_t case_id,
                          const struct workflow_upload *up, struct kr_error *err) KR_MUST_CHECK;

/* Called inside the upload's transaction when an applicant's document
 * has landed in case c (before on_upload moves the case on), e.g. to file
 * it in the case's e-file; an error rolls the upload back.  One hook,
 * set before the server starts; NULL: none. */
typedef int (*workflow_document_fn)(struct db_conn *conn, const struct workflow_case *c,
                                    const struct workflow_upload *up, struct kr_error *err);
void workflow_on_document(workflow_document_fn fn);

/* Open document requests of a case (for the applicant's page). */
int workflow_open_requests(struct db_conn *conn, struct arena *a, int64_t case_id,
                           const char ***texts, size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* ---- For other modules (notices, payments) ------------------------------------ */

/*
 * Send a message to the case's applicant inside the caller's transaction:
 * to the mailbox of an applicant with an account (signed by sender_id, or
 * by a staff member of the case's unit when 0), by e-mail to an anonymous
 * applicant.  file (may be NULL) goes along as an attachment.  A case
 * whose unit has nobody to sign is logged and left (KR_OK).
 */
int workflow_tell_applicant(struct db_conn *conn, const struct kr_config *cfg,
                            const struct workflow_case *c, int64_t sender_id, const char *subject,
                            const char *body, const struct mail_attachment *file,
                            struct kr_error *err) KR_MUST_CHECK;

/* An entry in the case's history written by another module, e.g. kind
 * "notice" with the document's name; public entries are shown to the
 * applicant.  kind: 1-16 of a-z and _. */
int workflow_case_log(struct db_conn *conn, int64_t case_id, const char *kind, const char *text,
                      bool public, struct kr_error *err) KR_MUST_CHECK;

/* True if hash is a document of some case (for blob_sweep). */
bool workflow_blob_referenced(struct db_conn *conn, const char *hash);

/* ---- Metrics ------------------------------------------------------------------- */

struct workflow_metric_row {
    const char *key; /* workflow id, "workflow/state", unit name or week */
    int64_t count;   /* cases / transitions */
    int64_t seconds; /* summed duration */
    int64_t overdue;
};

struct workflow_metrics {
    struct workflow_metric_row *per_workflow; /* lead time of closed cases */
    size_t per_workflow_count;
    struct workflow_metric_row *per_state; /* time spent per state */
    size_t per_state_count;
    struct workflow_metric_row *per_unit; /* open and overdue */
    size_t per_unit_count;
    struct workflow_metric_row *per_week; /* closed per ISO week "2026-W07" */
    size_t per_week_count;
};

/* Figures of unit_id (0: all units). */
int workflow_metrics_get(struct db_conn *conn, struct arena *a, int64_t unit_id, int64_t now,
                         struct workflow_metrics *out, struct kr_error *err) KR_MUST_CHECK;

/* The figures above for /metrics (http_metrics_source): open and overdue
 * cases per unit (gauges), lead time per workflow and time per state
 * (summaries: _sum seconds, _count cases), all units. */
int workflow_metrics_prometheus(struct db_conn *conn, struct arena *a, struct buf *out,
                                struct kr_error *err) KR_MUST_CHECK;

/* ---- Demo ---------------------------------------------------------------------- */

/* Open a few demo cases of the loaded demo workflows (kreisel seed-demo),
 * applicant_id the demo citizen (0: anonymous with a demo address). */
int workflow_seed_demo(struct db_conn *conn, const struct kr_config *cfg, int64_t applicant_id,
                       struct kr_error *err) KR_MUST_CHECK;

/* Register the built-in actions (idempotent).  workflow_load_* call it. */
void workflow_builtin_actions(void);

#endif
