/*
 * guards.c - workflow guards in the forms expression language (see
 * intake.h): parsed once when the workflows load, evaluated on the case
 * data typed by the workflow's form (dates, money, yes/no, lists), the
 * same language and the same values as the form's own conditions.
 */
#include <string.h>

#include <jansson.h>

#include "core/util.h"
#include "forms/expr.h"
#include "forms/forms.h"
#include "forms/forms_http.h"
#include "intake/intake_internal.h"

/* A compiled guard owns its arena. */
struct guard {
    struct arena *a;
    struct expr *e;
    const char *form_id; /* NULL: the case data is typed by its JSON */
};

static void *guard_compile(const char *form_id, const char *text, struct kr_error *err)
{
    struct arena *a = arena_new(0);
    struct guard *g = a ? arena_zalloc(a, sizeof(*g)) : NULL;
    if (!g) {
        arena_free(a);
        kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        return NULL;
    }
    g->a = a;
    g->form_id = form_id ? arena_strdup(a, form_id) : NULL;
    /* Field names are checked against the form by intake_check, once the
     * forms are loaded. */
    if (expr_parse(a, text, NULL, NULL, &g->e, err) != KR_OK || (form_id && !g->form_id)) {
        arena_free(a);
        return NULL;
    }
    return g;
}

static void guard_release(void *compiled)
{
    struct guard *g = compiled;
    if (g)
        arena_free(g->a);
}

/* Without a form: JSON numbers are numbers, "YYYY-MM-DD" strings dates,
 * lists of strings lists. */
static void json_lookup(void *ctx, const char *name, struct expr_value *out)
{
    json_t *v = json_object_get(ctx, name);
    *out = (struct expr_value){.type = EXPR_NULL};
    int64_t days;
    if (json_is_integer(v))
        *out = (struct expr_value){.type = EXPR_NUMBER, .i = json_integer_value(v)};
    else if (json_is_boolean(v))
        *out = (struct expr_value){.type = EXPR_BOOL, .i = json_is_true(v)};
    else if (json_is_string(v) && expr_date_parse(json_string_value(v), &days) == KR_OK)
        *out = (struct expr_value){.type = EXPR_DATE, .i = days};
    else if (json_is_string(v))
        *out = (struct expr_value){
            .type = EXPR_STRING, .s = json_string_value(v), .n = json_string_length(v)};
}

static void form_lookup(void *ctx, const char *name, struct expr_value *out)
{
    forms_value(ctx, name, out);
}

static bool guard_eval(const void *compiled, json_t *data)
{
    const struct guard *g = compiled;
    const struct forms_def *def = g->form_id ? forms_find(forms_http_set(), g->form_id) : NULL;
    struct arena *a = arena_new(0);
    if (!a)
        return false;
    struct forms_eval ev;
    struct expr_env env = {json_lookup, data, kr_now() / 86400};
    if (def) {
        forms_eval_init(&ev, def, data, a);
        env = (struct expr_env){form_lookup, &ev, ev.today};
    }
    bool ok = expr_true(g->e, &env, a);
    arena_free(a);
    return ok;
}

static const struct workflow_guard_evaluator evaluator = {guard_compile, guard_eval, guard_release};

void intake_guards_use(void)
{
    workflow_set_guard_evaluator(&evaluator);
}

struct ref_check {
    const struct forms_def *form;
    const char *bad;
};

static void check_ref(void *ctx, const char *name)
{
    struct ref_check *x = ctx;
    char base[64];
    size_t n = strcspn(name, ".");
    if (n >= sizeof(base))
        n = sizeof(base) - 1;
    memcpy(base, name, n);
    base[n] = '\0';
    if (!x->bad && !forms_field_find(x->form, base))
        x->bad = name;
}

int intake_guards_check(const struct workflow_def *def, const struct forms_def *form,
                        struct kr_error *err)
{
    for (size_t i = 0; form && i < def->transition_count; i++) {
        const struct workflow_transition *t = &def->transitions[i];
        const struct guard *g = t->guard_compiled;
        struct ref_check x = {form, NULL};
        if (g && t->guard_ev == &evaluator)
            expr_refs(g->e, check_ref, &x);
        if (x.bad)
            return kr_error_set(err, KR_ERR_CONFIG,
                                "%s: transition \"%s\": guard: unknown field '%s' of form %s",
                                def->path, t->name, x.bad, def->form);
    }
    return KR_OK;
}
