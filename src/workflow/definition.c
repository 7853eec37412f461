/*
 * definition.c - workflow definitions: parse, validate, registry.
 *
 * jansson reports the line of a syntax error but not where a value came
 * from, so semantic errors look the offending name up in the text: the
 * first occurrence of "name" (with its quotes) after the place of the
 * enclosing state or transition.  That points at the right line for every
 * definition written one name per line, as docs/workflow.md shows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "core/log.h"
#include "core/util.h"
#include "payments/payments.h"
#include "webhook/webhook.h"
#include "workflow/workflow_internal.h"

/* ---- Locating names in the text ------------------------------------------------ */

struct src {
    const char *path;
    const char *text;
    size_t len;
};

/* Offset just after the first "needle" at or after from, or from when
 * absent. */
static size_t offset_of(const struct src *s, const char *needle, size_t from)
{
    size_t n = strlen(needle);
    for (size_t i = from; i + n + 2 <= s->len; i++) {
        if (s->text[i] == '"' && memcmp(s->text + i + 1, needle, n) == 0 &&
            s->text[i + 1 + n] == '"')
            return i + n + 2;
    }
    return from;
}

static int line_at(const struct src *s, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && i < s->len; i++)
        if (s->text[i] == '\n')
            line++;
    return line;
}

/* Error at the line of needle (searched from `from`). */
static int fail_at(const struct src *s, size_t from, const char *needle, struct kr_error *err,
                   const char *fmt, ...) KR_PRINTF(5, 6);
static int fail_at(const struct src *s, size_t from, const char *needle, struct kr_error *err,
                   const char *fmt, ...)
{
    size_t off = needle ? offset_of(s, needle, from) : from;
    char msg[KR_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kr_error_set(err, KR_ERR_CONFIG, "%s:%d: %s", s->path, line_at(s, off), msg);
}

/* ---- Parsing ------------------------------------------------------------------- */

struct parser {
    struct src s;
    struct arena *a;
    struct workflow_def *def;
    struct kr_error *err;
};

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > WORKFLOW_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Optional string member; NULL when absent.  Non-strings are errors. */
static int get_str(struct parser *p, const json_t *o, const char *key, size_t at, bool required,
                   const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v) {
        if (required)
            return fail_at(&p->s, at, NULL, p->err, "missing \"%s\"", key);
        return KR_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1000)
        return fail_at(&p->s, at, key, p->err, "\"%s\" must be a non-empty string", key);
    *out = arena_strdup(p->a, json_string_value(v));
    return *out ? KR_OK : kr_error_set(p->err, KR_ERR_NOMEM, "out of memory");
}

/* A label: a string, or {"de": ..., "en": ...} (en defaults to de). */
static int get_label(struct parser *p, const json_t *o, const char *key, size_t at, bool required,
                     const char **de, const char **en)
{
    json_t *v = json_object_get(o, key);
    *de = *en = NULL;
    if (!v && !required)
        return KR_OK;
    if (json_is_string(v)) {
        int rc = get_str(p, o, key, at, true, de);
        *en = *de;
        return rc;
    }
    if (!json_is_object(v))
        return fail_at(&p->s, at, v ? key : NULL, p->err,
                       "\"%s\" must be a text or an object with \"de\" and \"en\"", key);
    int rc = get_str(p, v, "de", at, true, de);
    if (rc == KR_OK)
        rc = get_str(p, v, "en", at, false, en);
    if (rc == KR_OK && !*en)
        *en = *de;
    return rc;
}

static int parse_actions(struct parser *p, struct workflow_state *st, const json_t *o, size_t at)
{
    json_t *arr = json_object_get(o, "on_enter");
    if (!arr)
        return KR_OK;
    if (!json_is_array(arr) || json_array_size(arr) > WORKFLOW_MAX_ACTIONS)
        return fail_at(&p->s, at, "on_enter", p->err,
                       "\"on_enter\" must be a list of at most %d action names",
                       WORKFLOW_MAX_ACTIONS);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *name = json_string_value(v);
        if (!name || !name_ok(name))
            return fail_at(&p->s, at, "on_enter", p->err, "state \"%s\": bad action name",
                           st->name);
        if (!workflow_action_known(name))
            return fail_at(&p->s, at, name, p->err, "state \"%s\": unknown action \"%s\"", st->name,
                           name);
        st->actions[st->action_count++] = arena_strdup(p->a, name);
    }
    return KR_OK;
}

/* "payment": {"amount": "25.00", "purpose": "Gebühr ..."} for the action
 * "request_payment". */
static int parse_payment(struct parser *p, const json_t *o, size_t at, struct workflow_state *st)
{
    const json_t *pay = json_object_get(o, "payment");
    if (!pay)
        return KR_OK;
    const char *amount = NULL;
    int rc = json_is_object(pay) ? get_str(p, pay, "amount", at, true, &amount)
                                 : fail_at(&p->s, at, "payment", p->err,
                                           "\"payment\" must be {\"amount\", \"purpose\"}");
    if (rc == KR_OK)
        rc = get_str(p, pay, "purpose", at, true, &st->payment_purpose);
    struct kr_error perr;
    if (rc == KR_OK && (payments_amount_parse(amount, strlen(amount), false, false,
                                              &st->payment_cents, &perr) != KR_OK ||
                        strlen(st->payment_purpose) > 140))
        rc = fail_at(&p->s, at, "payment", p->err,
                     "\"payment\": amount like \"25.00\" (0.01 to 999999999.99), purpose of "
                     "1-140 bytes");
    return rc;
}

static int parse_state(struct parser *p, const json_t *o, struct workflow_state *st)
{
    if (!json_is_object(o))
        return fail_at(&p->s, offset_of(&p->s, "states", 0), NULL, p->err,
                       "every state must be an object");
    const char *name = json_string_value(json_object_get(o, "name"));
    size_t at = offset_of(&p->s, "states", 0);
    if (!name || !name_ok(name))
        return fail_at(&p->s, at, NULL, p->err,
                       "a state needs a \"name\" of 1-64 of a-z, 0-9, _ and -");
    at = offset_of(&p->s, name, at);
    st->name = arena_strdup(p->a, name);
    int rc = get_label(p, o, "public", at, true, &st->public_de, &st->public_en);
    if (rc == KR_OK)
        rc = get_str(p, o, "internal", at, false, &st->internal);
    if (rc == KR_OK && !st->internal)
        st->internal = st->public_de;
    if (rc == KR_OK)
        rc = get_str(p, o, "on_upload", at, false, &st->on_upload);
    if (rc == KR_OK)
        rc = get_str(p, o, "on_paid", at, false, &st->on_paid);
    if (rc == KR_OK)
        rc = get_str(p, o, "notice", at, false, &st->notice);
    if (rc == KR_OK)
        rc = get_str(p, o, "webhook", at, false, &st->webhook);
    struct kr_error uerr;
    if (rc == KR_OK && st->webhook && webhook_url_check(st->webhook, &uerr) != KR_OK)
        rc = fail_at(&p->s, at, "webhook", p->err, "state \"%s\": %s", name, uerr.message);
    if (rc == KR_OK)
        rc = parse_payment(p, o, at, st);
    if (rc == KR_OK && st->notice && !name_ok(st->notice))
        rc = fail_at(&p->s, at, "notice", p->err, "state \"%s\": bad notice template name", name);
    json_t *d = json_object_get(o, "deadline_days");
    if (rc == KR_OK && d &&
        (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > 365))
        rc = fail_at(&p->s, at, "deadline_days", p->err,
                     "state \"%s\": \"deadline_days\" must be 0-365 working days", name);
    if (rc == KR_OK && d)
        st->deadline_days = (unsigned)json_integer_value(d);
    json_t *f = json_object_get(o, "final");
    if (rc == KR_OK && f && !json_is_boolean(f))
        rc = fail_at(&p->s, at, "final", p->err, "state \"%s\": \"final\" must be true or false",
                     name);
    st->final = json_is_true(f);
    if (rc == KR_OK)
        rc = parse_actions(p, st, o, at);
    return rc;
}

static int parse_roles(struct parser *p, struct workflow_transition *t, const json_t *o, size_t at)
{
    json_t *arr = json_object_get(o, "roles");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fail_at(&p->s, at, arr ? "roles" : NULL, p->err,
                       "transition \"%s\": \"roles\" must be a non-empty list", t->name);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *name = json_string_value(v);
        enum account_role role;
        if (name && strcmp(name, "applicant") == 0)
            t->applicant = true;
        else if (name && strcmp(name, "system") == 0)
            t->system = true;
        else if (name && account_role_parse(name, &role) == KR_OK)
            t->roles |= (unsigned)role;
        else
            return fail_at(&p->s, at, name ? name : "roles", p->err,
                           "transition \"%s\": unknown role \"%s\"", t->name,
                           name ? name : "(not a text)");
    }
    return KR_OK;
}

static int parse_fields(struct parser *p, struct workflow_transition *t, const json_t *o, size_t at)
{
    json_t *arr = json_object_get(o, "fields");
    if (!arr)
        return KR_OK;
    if (!json_is_array(arr) || json_array_size(arr) > WORKFLOW_MAX_FIELDS)
        return fail_at(&p->s, at, "fields", p->err,
                       "transition \"%s\": \"fields\" must be a list of at most %d", t->name,
                       WORKFLOW_MAX_FIELDS);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        struct workflow_field *f = &t->fields[t->field_count];
        int rc = json_is_object(v)
                     ? get_str(p, v, "name", at, true, &f->name)
                     : fail_at(&p->s, at, "fields", p->err,
                               "transition \"%s\": a field must be an object", t->name);
        if (rc == KR_OK && !name_ok(f->name))
            rc = fail_at(&p->s, at, f->name, p->err, "transition \"%s\": bad field name", t->name);
        if (rc == KR_OK)
            rc = get_label(p, v, "label", at, true, &f->label_de, &f->label_en);
        if (rc)
            return rc;
        f->required = !json_is_false(json_object_get(v, "required"));
        t->field_count++;
    }
    return KR_OK;
}

static int parse_from(struct parser *p, struct workflow_transition *t, const json_t *o, size_t at)
{
    json_t *from = json_object_get(o, "from");
    if (json_is_string(from)) {
        t->from = arena_alloc(p->a, sizeof(char *));
        if (!t->from)
            return kr_error_set(p->err, KR_ERR_NOMEM, "out of memory");
        t->from[0] = arena_strdup(p->a, json_string_value(from));
        t->from_count = 1;
        return KR_OK;
    }
    if (!json_is_array(from) || json_array_size(from) == 0 ||
        json_array_size(from) > WORKFLOW_MAX_STATES)
        return fail_at(&p->s, at, from ? "from" : NULL, p->err,
                       "transition \"%s\": \"from\" must be a state or a list of states", t->name);
    t->from = arena_calloc(p->a, json_array_size(from), sizeof(char *));
    if (!t->from)
        return kr_error_set(p->err, KR_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(from, i, v)
    {
        if (!json_is_string(v))
            return fail_at(&p->s, at, "from", p->err, "transition \"%s\": bad \"from\"", t->name);
        t->from[t->from_count++] = arena_strdup(p->a, json_string_value(v));
    }
    return KR_OK;
}

static int parse_transition(struct parser *p, const json_t *o, struct workflow_transition *t,
                            size_t *at_out)
{
    size_t at = offset_of(&p->s, "transitions", 0);
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!json_is_object(o) || !name || !name_ok(name))
        return fail_at(&p->s, at, NULL, p->err,
                       "a transition needs a \"name\" of 1-64 of a-z, 0-9, _ and -");
    at = offset_of(&p->s, name, at);
    *at_out = at;
    t->name = arena_strdup(p->a, name);
    int rc = get_label(p, o, "label", at, true, &t->label_de, &t->label_en);
    if (rc == KR_OK)
        rc = parse_from(p, t, o, at);
    if (rc == KR_OK)
        rc = get_str(p, o, "to", at, true, &t->to);
    if (rc == KR_OK)
        rc = parse_roles(p, t, o, at);
    if (rc == KR_OK)
        rc = parse_fields(p, t, o, at);
    if (rc == KR_OK)
        rc = get_str(p, o, "guard", at, false, &t->guard);
    if (rc == KR_OK && t->guard) {
        struct kr_error gerr;
        kr_error_clear(&gerr);
        t->guard_ev = workflow_guard_current();
        t->guard_compiled = t->guard_ev->compile(p->def->form, t->guard, &gerr);
        if (!t->guard_compiled)
            rc = fail_at(&p->s, at, "guard", p->err, "transition \"%s\": guard: %s", t->name,
                         gerr.message);
    }
    return rc;
}

/* ---- Validation ---------------------------------------------------------------- */

static int state_index(const struct workflow_def *d, const char *name)
{
    for (size_t i = 0; i < d->state_count; i++)
        if (strcmp(d->states[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int check_names(struct parser *p, size_t *tat)
{
    struct workflow_def *d = p->def;
    size_t sat = offset_of(&p->s, "states", 0);
    for (size_t i = 0; i < d->state_count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->states[i].name, d->states[j].name) == 0)
                return fail_at(&p->s, offset_of(&p->s, d->states[j].name, sat) + 1,
                               d->states[i].name, p->err, "state \"%s\" is defined twice",
                               d->states[i].name);
    for (size_t i = 0; i < d->transition_count; i++) {
        const struct workflow_transition *t = &d->transitions[i];
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->name, d->transitions[j].name) == 0)
                return fail_at(&p->s, tat[i] - 1, NULL, p->err,
                               "transition \"%s\" is defined twice", t->name);
        for (size_t k = 0; k < t->from_count; k++)
            if (state_index(d, t->from[k]) < 0)
                return fail_at(&p->s, tat[i], t->from[k], p->err,
                               "transition \"%s\": unknown state \"%s\" in \"from\"", t->name,
                               t->from[k]);
        if (state_index(d, t->to) < 0)
            return fail_at(&p->s, tat[i], t->to, p->err,
                           "transition \"%s\": unknown target state \"%s\"", t->name, t->to);
    }
    return KR_OK;
}

/* on_upload and on_paid name a transition that leaves the state and that
 * the system may take. */
static int check_system_move(struct parser *p, const struct workflow_state *st, const char *key,
                             const char *name)
{
    const struct workflow_transition *t = workflow_transition_find(p->def, name);
    bool leaves = false;
    for (size_t k = 0; t && k < t->from_count; k++)
        leaves |= strcmp(t->from[k], st->name) == 0;
    if (t && leaves && t->system)
        return KR_OK;
    return fail_at(&p->s, offset_of(&p->s, key, 0), name, p->err,
                   "state \"%s\": \"%s\" must name a transition from it with role \"system\"",
                   st->name, key);
}

/* The state-level keys that depend on the rest: on_upload, on_paid, and
 * the action "notice", which needs a "notice" template name. */
static int check_state_refs(struct parser *p)
{
    struct workflow_def *d = p->def;
    int rc = KR_OK;
    for (size_t i = 0; rc == KR_OK && i < d->state_count; i++) {
        const struct workflow_state *st = &d->states[i];
        if (st->on_upload)
            rc = check_system_move(p, st, "on_upload", st->on_upload);
        if (rc == KR_OK && st->on_paid)
            rc = check_system_move(p, st, "on_paid", st->on_paid);
        bool notice_action = false;
        for (size_t k = 0; k < st->action_count; k++)
            notice_action |= strcmp(st->actions[k], "notice") == 0;
        bool pay_action = false;
        for (size_t k = 0; k < st->action_count; k++)
            pay_action |= strcmp(st->actions[k], "request_payment") == 0;
        if (rc == KR_OK && pay_action != (st->payment_purpose != NULL))
            rc = fail_at(&p->s, offset_of(&p->s, st->name, 0), st->name, p->err,
                         "state \"%s\": the action \"request_payment\" and the key "
                         "\"payment\" go together",
                         st->name);
        bool hook_action = false;
        for (size_t k = 0; k < st->action_count; k++)
            hook_action |= strcmp(st->actions[k], "webhook") == 0;
        if (rc == KR_OK && hook_action != (st->webhook != NULL))
            rc = fail_at(&p->s, offset_of(&p->s, st->name, 0), st->name, p->err,
                         "state \"%s\": the action \"webhook\" and the key \"webhook\" (the "
                         "URL) go together",
                         st->name);
        if (rc == KR_OK && notice_action != (st->notice != NULL))
            rc = fail_at(&p->s, offset_of(&p->s, st->name, 0), st->name, p->err,
                         "state \"%s\": the action \"notice\" and the key \"notice\" (the "
                         "template) go together",
                         st->name);
    }
    return rc;
}

/* Every state must be reachable from the initial one. */
static int check_reachable(struct parser *p)
{
    struct workflow_def *d = p->def;
    bool seen[WORKFLOW_MAX_STATES] = {false};
    int queue[WORKFLOW_MAX_STATES], head = 0, tail = 0;
    int start = state_index(d, d->initial);
    seen[start] = true;
    queue[tail++] = start;
    while (head < tail) {
        const char *cur = d->states[queue[head++]].name;
        for (size_t i = 0; i < d->transition_count; i++) {
            const struct workflow_transition *t = &d->transitions[i];
            bool from = false;
            for (size_t k = 0; k < t->from_count; k++)
                from |= strcmp(t->from[k], cur) == 0;
            int to = state_index(d, t->to);
            if (from && !seen[to]) {
                seen[to] = true;
                queue[tail++] = to;
            }
        }
    }
    size_t sat = offset_of(&p->s, "states", 0);
    for (size_t i = 0; i < d->state_count; i++)
        if (!seen[i])
            return fail_at(&p->s, sat, d->states[i].name, p->err,
                           "state \"%s\" cannot be reached from the initial state \"%s\"",
                           d->states[i].name, d->initial);
    return KR_OK;
}

static int parse_states(struct parser *p, const json_t *root)
{
    json_t *states = json_object_get(root, "states");
    if (!json_is_array(states) || json_array_size(states) == 0 ||
        json_array_size(states) > WORKFLOW_MAX_STATES)
        return fail_at(&p->s, offset_of(&p->s, "states", 0), NULL, p->err,
                       "\"states\" must be a list of 1-%d states", WORKFLOW_MAX_STATES);
    p->def->states = arena_calloc(p->a, json_array_size(states), sizeof(struct workflow_state));
    if (!p->def->states)
        return kr_error_set(p->err, KR_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(states, i, v)
    {
        int rc = parse_state(p, v, &p->def->states[i]);
        if (rc)
            return rc;
        p->def->state_count++;
    }
    return KR_OK;
}

static int parse_transitions(struct parser *p, const json_t *root, size_t **tat)
{
    json_t *arr = json_object_get(root, "transitions");
    if (!json_is_array(arr) || json_array_size(arr) > WORKFLOW_MAX_TRANSITIONS)
        return fail_at(&p->s, offset_of(&p->s, "transitions", 0), NULL, p->err,
                       "\"transitions\" must be a list of at most %d transitions",
                       WORKFLOW_MAX_TRANSITIONS);
    size_t n = json_array_size(arr);
    p->def->transitions = arena_calloc(p->a, n + 1, sizeof(struct workflow_transition));
    *tat = arena_calloc(p->a, n + 1, sizeof(size_t));
    if (!p->def->transitions || !*tat)
        return kr_error_set(p->err, KR_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        int rc = parse_transition(p, v, &p->def->transitions[i], &(*tat)[i]);
        if (rc)
            return rc;
        p->def->transition_count++;
    }
    return KR_OK;
}

static void release_guards(const struct workflow_def *d);

static int parse_head(struct parser *p, const json_t *root)
{
    struct workflow_def *d = p->def;
    int rc = get_str(p, root, "id", 0, true, &d->id);
    if (rc == KR_OK && !name_ok(d->id))
        rc = fail_at(&p->s, 0, d->id, p->err, "bad workflow id \"%s\"", d->id);
    if (rc == KR_OK)
        rc = get_str(p, root, "form", 0, false, &d->form);
    if (rc == KR_OK)
        rc = get_label(p, root, "title", 0, true, &d->title_de, &d->title_en);
    if (rc == KR_OK)
        rc = get_str(p, root, "unit", 0, false, &d->unit);
    if (rc == KR_OK)
        rc = get_str(p, root, "plan", 0, false, &d->plan);
    if (rc == KR_OK)
        rc = get_str(p, root, "initial", 0, false, &d->initial);
    if (rc == KR_OK && !d->initial)
        rc = fail_at(&p->s, 0, NULL, p->err, "missing initial state (\"initial\")");
    return rc;
}

int workflow_def_parse(struct arena *a, const char *path, const char *text, size_t len,
                       struct workflow_def **out, struct kr_error *err)
{
    workflow_builtin_actions();
    struct parser p = {{path, text, len}, a, NULL, err};
    if (len > WORKFLOW_DEFINITION_MAX)
        return kr_error_set(err, KR_ERR_CONFIG, "%s: larger than %d bytes", path,
                            WORKFLOW_DEFINITION_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return kr_error_set(err, KR_ERR_CONFIG, "%s:%d: %s", path, jerr.line, jerr.text);
    p.def = arena_zalloc(a, sizeof(*p.def));
    size_t *tat = NULL;
    int rc = p.def ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc == KR_OK && !json_is_object(root))
        rc = kr_error_set(err, KR_ERR_CONFIG, "%s:1: a definition is a JSON object", path);
    if (rc == KR_OK)
        rc = parse_head(&p, root);
    if (rc == KR_OK)
        rc = parse_states(&p, root);
    if (rc == KR_OK)
        rc = parse_transitions(&p, root, &tat);
    if (rc == KR_OK && state_index(p.def, p.def->initial) < 0)
        rc = fail_at(&p.s, 0, "initial", err, "unknown initial state \"%s\"", p.def->initial);
    if (rc == KR_OK)
        rc = check_names(&p, tat);
    if (rc == KR_OK)
        rc = check_state_refs(&p);
    if (rc == KR_OK)
        rc = check_reachable(&p);
    json_decref(root);
    if (rc == KR_OK) {
        p.def->path = arena_strdup(a, path);
        *out = p.def;
    } else if (p.def) {
        release_guards(p.def); /* the arena does not own compiled guards */
    }
    return rc;
}

/* ---- Registry ------------------------------------------------------------------ */

#define MAX_DEFS 64

static struct {
    struct arena *arena;
    const struct workflow_def *defs[MAX_DEFS];
    size_t count;
} registry;

static void release_guards(const struct workflow_def *d)
{
    for (size_t i = 0; i < d->transition_count; i++)
        if (d->transitions[i].guard_compiled)
            d->transitions[i].guard_ev->release(d->transitions[i].guard_compiled);
}

void workflow_unload(void)
{
    for (size_t i = 0; i < registry.count; i++)
        release_guards(registry.defs[i]);
    arena_free(registry.arena);
    memset(&registry, 0, sizeof(registry));
}

static int add_def(struct arena *a, const struct workflow_def **defs, size_t *count,
                   const char *path, const char *text, size_t len, struct kr_error *err)
{
    struct workflow_def *d;
    int rc = workflow_def_parse(a, path, text, len, &d, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < *count; i++)
        if (strcmp(defs[i]->id, d->id) == 0 ||
            (d->form && defs[i]->form && strcmp(defs[i]->form, d->form) == 0)) {
            release_guards(d);
            return kr_error_set(err, KR_ERR_CONFIG, "%s: workflow or form id also used by %s", path,
                                defs[i]->path);
        }
    if (*count == MAX_DEFS) {
        release_guards(d);
        return kr_error_set(err, KR_ERR_CONFIG, "%s: more than %d workflows", path, MAX_DEFS);
    }
    defs[(*count)++] = d;
    return KR_OK;
}

int workflow_load_text(const char *path, const char *text, struct kr_error *err)
{
    if (!registry.arena && !(registry.arena = arena_new(0)))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return add_def(registry.arena, registry.defs, &registry.count, path, text, strlen(text), err);
}

int workflow_load_dir(const char *dir, struct kr_error *err)
{
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    const struct workflow_def *defs[MAX_DEFS];
    size_t count = 0, n = 0;
    char **names = NULL;
    int rc = kr_list_dir(a, dir, ".json", MAX_DEFS, true, &names, &n, err);
    if (rc == KR_ERR_TOO_LARGE)
        rc = KR_ERR_CONFIG;
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        char *text = NULL;
        size_t len = 0;
        rc = kr_read_file(names[i], WORKFLOW_DEFINITION_MAX, &text, &len, err);
        if (rc == KR_ERR_TOO_LARGE)
            rc = KR_ERR_CONFIG;
        if (rc == KR_OK) {
            rc = add_def(a, defs, &count, names[i], text, len, err);
            free(text);
        }
    }
    if (rc) {
        for (size_t i = 0; i < count; i++)
            release_guards(defs[i]);
        arena_free(a);
        return rc;
    }
    workflow_unload();
    registry.arena = a;
    memcpy(registry.defs, defs, count * sizeof(defs[0]));
    registry.count = count;
    kr_log(KR_LOG_INFO, "workflows_loaded", "%zu workflow definitions from %s", count, dir);
    return KR_OK;
}

const struct workflow_def *workflow_find(const char *id)
{
    for (size_t i = 0; id && i < registry.count; i++)
        if (strcmp(registry.defs[i]->id, id) == 0)
            return registry.defs[i];
    return NULL;
}

const struct workflow_def *workflow_find_for_form(const char *form_id)
{
    for (size_t i = 0; form_id && i < registry.count; i++)
        if (registry.defs[i]->form && strcmp(registry.defs[i]->form, form_id) == 0)
            return registry.defs[i];
    return NULL;
}

const struct workflow_def *const *workflow_list(size_t *count)
{
    *count = registry.count;
    return registry.defs;
}

const char *workflow_first_webhook(void)
{
    for (size_t i = 0; i < registry.count; i++)
        for (size_t k = 0; k < registry.defs[i]->state_count; k++)
            if (registry.defs[i]->states[k].webhook)
                return registry.defs[i]->path;
    return NULL;
}

const struct workflow_state *workflow_state_find(const struct workflow_def *def, const char *name)
{
    for (size_t i = 0; def && name && i < def->state_count; i++)
        if (strcmp(def->states[i].name, name) == 0)
            return &def->states[i];
    return NULL;
}

const struct workflow_transition *workflow_transition_find(const struct workflow_def *def,
                                                           const char *name)
{
    for (size_t i = 0; def && name && i < def->transition_count; i++)
        if (strcmp(def->transitions[i].name, name) == 0)
            return &def->transitions[i];
    return NULL;
}
