/*
 * expr.h - the small expression language of form definitions.
 *
 * Expressions decide show_if, required_if, skip_if, cross-field checks and
 * computed fields.  They are parsed once when the forms are loaded (a
 * syntax error or an unknown field stops the start) and evaluated on the
 * server for every request.  The full grammar is in docs/forms.md:
 *
 *   or  and  not  == != < <= > >=  in  not in  + - * / %  unary -
 *   literals: 12 (number), 12.50 (money, cents), "text" 'text', true,
 *   false, null, [list, ...], date("2025-08-01")
 *   field references: name, address.postcode
 *   functions: today(), date(s), years(from, to), count(x), empty(x),
 *   if(condition, then, else)
 *
 * Values are typed: null (unanswered), bool, number (int64), money (int64
 * cents; never floating point), date (days since 1970-01-01), string and
 * list.  Arithmetic that overflows, divides by zero or mixes types it
 * does not define gives null; null compares unequal to everything but
 * null, and is false where a condition is expected.
 *
 * Memory: a parsed struct expr lives in the arena given to expr_parse
 * (the forms' long-lived arena); evaluation only reads it, so any number
 * of threads may evaluate the same expression at once.  Values produced
 * by evaluation that need memory (list literals) come from the arena
 * given to expr_eval.
 */
#ifndef KR_FORMS_EXPR_H
#define KR_FORMS_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"

#define EXPR_MAX_LEN 4096 /* bytes of expression text */
#define EXPR_MAX_DEPTH 48 /* nesting of operators and parentheses */

enum expr_type {
    EXPR_NULL,
    EXPR_BOOL,
    EXPR_NUMBER,
    EXPR_MONEY,
    EXPR_DATE,
    EXPR_STRING,
    EXPR_LIST,
};

struct expr_value {
    enum expr_type type;
    int64_t i;                      /* bool 0/1, number, cents, days */
    const char *s;                  /* string (NUL-terminated, UTF-8) */
    size_t n;                       /* string length / list length */
    const struct expr_value *items; /* list items */
};

struct expr;

/*
 * Name resolution at parse time: return true when name (a field reference
 * such as "copies" or "address.city") is known.  ctx is the caller's.
 */
typedef bool (*expr_known_fn)(void *ctx, const char *name);

/*
 * Parse text (NUL-terminated, at most EXPR_MAX_LEN bytes) into *out in
 * arena a.  known (may be NULL: every name is accepted) checks each field
 * reference.  KR_ERR_INVALID with a message naming the column ("column 7:
 * unknown field 'copys'"), KR_ERR_NOMEM.
 */
int expr_parse(struct arena *a, const char *text, expr_known_fn known, void *ctx, struct expr **out,
               struct kr_error *err) KR_MUST_CHECK;

/* The text the expression was parsed from. */
const char *expr_text(const struct expr *e);

/* Call fn(ctx, name) for each field the expression refers to. */
void expr_refs(const struct expr *e, void (*fn)(void *ctx, const char *name), void *ctx);

/* Where evaluation finds field values and today's date. */
struct expr_env {
    /* Fill *out with the value of field name (EXPR_NULL when unanswered);
     * memory of strings/lists must outlive the evaluation. */
    void (*lookup)(void *ctx, const char *name, struct expr_value *out);
    void *ctx;
    int64_t today; /* days since 1970-01-01 */
};

/* Evaluate e.  Never fails: errors inside give EXPR_NULL (see above); an
 * arena allocation failure gives EXPR_NULL too. */
void expr_eval(const struct expr *e, const struct expr_env *env, struct arena *a,
               struct expr_value *out);

/* Evaluate as a condition: true only for bool true (null and every other
 * type are false). */
bool expr_true(const struct expr *e, const struct expr_env *env, struct arena *a);

/* ---- Helpers shared with the form code ---------------------------------- */

/* Days since 1970-01-01 of a civil date, and back.  expr_date_parse
 * accepts exactly "YYYY-MM-DD" with a real calendar date in years
 * 1000-9999 and returns KR_OK or KR_ERR_INVALID. */
int64_t expr_days_from_civil(int y, unsigned m, unsigned d);
void expr_civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d);
int expr_date_parse(const char *s, int64_t *days) KR_MUST_CHECK;

/* "YYYY-MM-DD" of days into out (at least 11 bytes). */
void expr_date_format(int64_t days, char *out, size_t size);

/* Parse a money amount "12", "12.5", "12,50", "-3.05", "1.234,56" is NOT
 * accepted (no grouping): at most two decimals, '.' or ',' as the
 * separator, |amount| below 10^13 EUR.  *cents gets the amount. */
int expr_money_parse(const char *s, int64_t *cents) KR_MUST_CHECK;

/* "12.50" (dot, always two decimals, '-' when negative) into out. */
void expr_money_format(int64_t cents, char *out, size_t size);

#endif
