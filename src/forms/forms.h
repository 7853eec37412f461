/*
 * forms.h - the form server: declarative form definitions (the JSON files in forms/,
 * docs/forms.md), their server-side logic, drafts, atomic and idempotent
 * submissions with routing, and the hook other modules use to act on a
 * submission inside its transaction.
 *
 * Ownership: a struct forms_set is loaded once at start (forms_set_load)
 * and owned by the caller (main/the HTTP module) until shutdown; every
 * definition, field and parsed expression in it lives in the set's arena
 * and is read-only afterwards, so request threads share it freely.
 * Answers are jansson objects; functions that take a struct arena put
 * everything they return there.
 *
 * Answers (one JSON object per fill, keyed by field id):
 *   text, textarea, email, phone, iban, postcode, select, radio  string
 *   number                                                        integer
 *   money                                                         integer cents
 *   date                                                          "YYYY-MM-DD"
 *   yesno                                                         true/false
 *   checkbox                                                      [strings]
 *   address       {"street","number","postcode","city"}
 *   group         [{sub-field answers}, ...]
 *   file          [{"name","hash","size","type"}, ...]
 * Computed fields are never stored from input; they are evaluated.
 */
#ifndef KR_FORMS_FORMS_H
#define KR_FORMS_FORMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"
#include "forms/expr.h"

enum forms_type {
    FORMS_TEXT,
    FORMS_TEXTAREA,
    FORMS_NUMBER,
    FORMS_MONEY,
    FORMS_DATE,
    FORMS_EMAIL,
    FORMS_PHONE,
    FORMS_IBAN,
    FORMS_POSTCODE,
    FORMS_SELECT,
    FORMS_RADIO,
    FORMS_CHECKBOX,
    FORMS_YESNO,
    FORMS_FILE,
    FORMS_ADDRESS,
    FORMS_GROUP,
    FORMS_COMPUTED,
};

/* A text in both languages; en falls back to de when not given. */
struct forms_text {
    const char *de;
    const char *en;
};

struct forms_option {
    const char *value;
    struct forms_text label;
};

struct forms_field {
    const char *id;
    enum forms_type type;
    struct forms_text label, help;
    bool required;
    struct expr *required_if, *show_if;
    struct expr *value;        /* computed fields */
    enum expr_type value_type; /* computed: EXPR_NUMBER, EXPR_MONEY, ... */
    bool has_min, has_max;
    int64_t min, max;  /* number: value; money: cents; date: days; text: - */
    size_t max_length; /* text types, bytes (default 200, textarea 4000) */
    struct forms_option *options;
    size_t option_count;
    struct forms_field *fields; /* group: its columns */
    size_t field_count;
    unsigned min_rows, max_rows; /* group */
    const char **accept;         /* file: MIME types checked by content */
    size_t accept_count;
    int64_t max_size;                /* file: bytes per file */
    unsigned max_files;              /* file: files per field (default 1) */
    int step;                        /* index of its step */
    const struct forms_field *group; /* enclosing group, or NULL */
};

/* A rule that must hold, with the message shown at field. */
struct forms_check {
    struct expr *rule;
    const struct forms_field *field;
    struct forms_text message;
};

struct forms_step {
    const char *id;
    struct forms_text title, intro;
    struct expr *skip_if;
    struct forms_field *fields;
    size_t field_count;
    struct forms_check *checks;
    size_t check_count;
};

enum forms_routing { FORMS_ROUTE_CASE, FORMS_ROUTE_EMAIL, FORMS_ROUTE_WEBHOOK };

struct forms_def {
    const char *id;   /* URL slug: [a-z0-9-]{1,60} */
    const char *path; /* the file it came from */
    char hash[65];    /* SHA-256 of the file: the form version */
    struct forms_text title, intro;
    const char *unit;    /* code of the responsible org unit ("51") */
    const char *service; /* catalogue service id it belongs to, or NULL */
    enum forms_routing routing;
    const char *route_target; /* e-mail address or webhook URL */
    struct expr *fee;         /* money, or NULL for no fee */
    bool anonymous;           /* may be filled without an account */
    struct forms_step *steps;
    size_t step_count;
};

struct forms_set;

/* Limits of a definition file. */
#define FORMS_FILE_MAX (1024 * 1024)
#define FORMS_MAX_STEPS 30
#define FORMS_MAX_FIELDS 200 /* per form, group columns included */
#define FORMS_MAX_OPTIONS 300
#define FORMS_MAX_ROWS 100 /* the largest max_rows a group may declare */

/*
 * Load every .json file in dir (sorted by name).  *out belongs to the
 * caller (forms_set_free).  Errors name file and line, as
 * "forms/kita.json:42: steps[1].fields[0].show_if: column 3: unknown field
 * 'alter'" (KR_ERR_INVALID), KR_ERR_IO when a file cannot be read.
 */
int forms_set_load(const char *dir, struct forms_set **out, struct kr_error *err) KR_MUST_CHECK;

/* Load one definition from text (tests, fuzzing); name is used in
 * messages.  The definition lives in set. */
int forms_set_add(struct forms_set *set, const char *name, const char *text, size_t len,
                  const struct forms_def **out, struct kr_error *err) KR_MUST_CHECK;
int forms_set_new(struct forms_set **out, struct kr_error *err) KR_MUST_CHECK;
void forms_set_free(struct forms_set *set);

const struct forms_def *forms_find(const struct forms_set *set, const char *id);
size_t forms_count(const struct forms_set *set);
const struct forms_def *forms_at(const struct forms_set *set, size_t i);

/* The label in lang ("de"/"en"). */
const char *forms_tr(const struct forms_text *t, const char *lang);
const char *forms_type_name(enum forms_type type);

/* The field id (top-level or group column) of def, or NULL. */
const struct forms_field *forms_field_find(const struct forms_def *def, const char *id);

/* ---- Logic -------------------------------------------------------------- */

/* Evaluation context: the answers of one fill plus today. */
struct forms_eval {
    const struct forms_def *def;
    json_t *answers; /* borrowed */
    json_t *row;     /* the group row being looked at, or NULL */
    const struct forms_field *row_group;
    int64_t today; /* days since 1970-01-01 */
    struct arena *a;
    int depth; /* computed fields referring to computed fields */
};

void forms_eval_init(struct forms_eval *ev, const struct forms_def *def, json_t *answers,
                     struct arena *a);

bool forms_step_visible(struct forms_eval *ev, int step);
bool forms_field_visible(struct forms_eval *ev, const struct forms_field *f);
bool forms_field_required(struct forms_eval *ev, const struct forms_field *f);
/* Value of a field as the expressions see it (computed fields evaluated). */
void forms_value(struct forms_eval *ev, const char *name, struct expr_value *out);
/* The fee in cents (0 when the form has none or it evaluates to null). */
int64_t forms_fee(struct forms_eval *ev);

/* One problem with an answer, for the gov.uk error pattern. */
struct forms_problem {
    const char *field;               /* HTML id of the input: "born", "kids.2.name" */
    const char *code;                /* message key suffix: "required", "date", "iban", ... */
    const struct forms_check *check; /* the failed check (its message), or NULL */
    const struct forms_field *def;
};

struct forms_problems {
    struct forms_problem *items;
    size_t count, cap;
};

/* Append a problem (for checks made outside this module, e.g. uploads).
 * KR_OK or KR_ERR_NOMEM. */
int forms_problem_add(struct forms_eval *ev, struct forms_problems *probs, const char *field,
                      const char *code, const struct forms_field *def) KR_MUST_CHECK;

/*
 * Read the posted values of step from fields (the decoded form body) into
 * answers (replacing that step's answers), checking formats and limits
 * field by field.  Values of invisible fields are dropped.  Problems go to
 * *probs (arena).  Names that do not belong to the step, computed fields
 * sent as input and group row counts beyond limits are problems too
 * ("tampered").  Returns KR_OK (even with problems) or KR_ERR_NOMEM.
 */
struct text_pairs;
int forms_read_step(struct forms_eval *ev, int step, const struct text_pairs *fields,
                    struct forms_problems *probs) KR_MUST_CHECK;

/* Check a step's stored answers: required, required_if, formats and the
 * step's cross-field checks.  Problems appended to *probs. */
int forms_check_step(struct forms_eval *ev, int step, struct forms_problems *probs) KR_MUST_CHECK;

/* Remove answers of invisible fields and skipped steps (in order, so that
 * later conditions see the cleaned earlier answers). */
void forms_clean(struct forms_eval *ev);

/* An answer as people read it ("01.08.2025", "12,50 EUR", option labels,
 * "Ja"); "" for no answer.  In arena a. */
const char *forms_display(const struct forms_field *f, json_t *value, const char *lang,
                          struct arena *a);
/* A computed field's value as text, in ev's arena. */
const char *forms_computed_display(struct forms_eval *ev, const struct forms_field *f,
                                   const char *lang);
/* "12,50 EUR" (de) / "12.50 EUR" (en); out at least 40 bytes. */
void forms_money_text(int64_t cents, const char *lang, char *out, size_t size);

/* ISO 13616 IBAN check (spaces allowed; country length table for the
 * SEPA countries, mod-97).  Writes the compact upper-case form to out
 * (at least 35 bytes). */
bool forms_iban_valid(const char *in, char *out, size_t size);

/* ---- Drafts and submissions (storage) ------------------------------------ */

struct forms_draft {
    char token[33]; /* unguessable id in URLs */
    const char *form_id;
    const char *version; /* definition hash when started */
    json_t *answers;     /* owned by the arena (json_decref deferred) */
    int64_t done;        /* bit i: step i completed */
    int64_t user_id;     /* 0 for anonymous */
    int64_t updated_at, expires_at;
};

/* Create a draft (answers {}), expiring ttl seconds from now. */
int forms_draft_create(struct db_conn *conn, const struct forms_def *def, int64_t user_id,
                       int64_t ttl, struct arena *a, struct forms_draft *out,
                       struct kr_error *err) KR_MUST_CHECK;
/* Load by token; KR_ERR_NOT_FOUND when missing or expired. */
int forms_draft_load(struct db_conn *conn, const char *token, struct arena *a,
                     struct forms_draft *out, struct kr_error *err) KR_MUST_CHECK;
int forms_draft_save(struct db_conn *conn, const struct forms_draft *d, int64_t ttl,
                     struct kr_error *err) KR_MUST_CHECK;
/* A logged-in user's drafts, newest first (at most 100). */
int forms_draft_list(struct db_conn *conn, int64_t user_id, struct arena *a,
                     struct forms_draft **out, size_t *count, struct kr_error *err) KR_MUST_CHECK;
/* Delete expired drafts; *deleted gets the number. */
int forms_draft_purge(struct db_conn *conn, int64_t now, int64_t *deleted,
                      struct kr_error *err) KR_MUST_CHECK;

/* A stored file of a submission. */
struct forms_file {
    const char *field;
    const char *name;
    const char *content_type;
    char hash[65];
    int64_t size;
};

/* A submission, as the hooks and the receipt see it. */
struct forms_submission {
    int64_t id;
    const char *number; /* "F-2025-000042-7": human-readable, check digit */
    const char *token;  /* unguessable, for the confirmation page */
    const char *form_id;
    const char *version; /* definition hash */
    const char *answers; /* JSON text */
    int64_t fee_cents;
    int64_t user_id; /* 0 when anonymous */
    int64_t created_at;
    const struct forms_file *files;
    size_t file_count;
};

/*
 * Hook for other modules (workflow, payments): fn runs inside the
 * submission's transaction, after the submission row and its routing
 * record were written; an error rolls the whole submission back and the
 * citizen sees it.  Register before the server starts (not thread-safe
 * against submissions); at most 8 hooks; KR_ERR_TOO_LARGE beyond.
 */
typedef int (*forms_submit_fn)(struct db_conn *conn, const struct forms_submission *s,
                               struct kr_error *err);
int forms_on_submit(forms_submit_fn fn) KR_MUST_CHECK;

/* What the submitter is: for the audit log and the submission row. */
struct forms_submitter {
    int64_t user_id;   /* 0 for anonymous */
    const char *actor; /* "user:7" or "anonymous" */
};

/*
 * Submit the draft: validate every visible step again, clean, compute the
 * fee, store the submission, route it (case intake record, e-mail or
 * webhook outbox), run the hooks, delete the draft and write the audit
 * entry, all in one transaction.  Idempotent by the draft token: when a
 * submission for it exists, *out is that submission (KR_OK).  Problems
 * (*probs non-empty) return KR_ERR_INVALID and store nothing.  files
 * (may be NULL) are those of the answers, already in the blob store.
 * Everything in *out is in arena a.
 */
int forms_submit(struct db_conn *conn, const struct forms_def *def, const struct forms_draft *d,
                 const struct forms_submitter *who, struct forms_problems *probs, struct arena *a,
                 struct forms_submission *out, struct kr_error *err) KR_MUST_CHECK;

/* Load a submission by its public token or by id (token NULL). */
int forms_submission_load(struct db_conn *conn, const char *token, int64_t id, struct arena *a,
                          struct forms_submission *out, struct kr_error *err) KR_MUST_CHECK;

/* The public token of the submission made from draft_token (in a);
 * KR_ERR_NOT_FOUND when there is none. */
int forms_submission_of_draft(struct db_conn *conn, const char *draft_token, struct arena *a,
                              char **token, struct kr_error *err) KR_MUST_CHECK;

/* Submissions of a form, oldest first, for the export (at most limit). */
int forms_submission_list(struct db_conn *conn, const char *form_id, unsigned limit,
                          struct arena *a, struct forms_submission **out, size_t *count,
                          struct kr_error *err) KR_MUST_CHECK;

#endif
