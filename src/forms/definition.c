/*
 * definition.c - loading form definitions (the JSON files in forms/) into a struct
 * forms_set.  Two passes per file: the structure first (so that every
 * field is known), then the expressions, which may refer to any field of
 * the form.  Errors carry file and line: jansson reports the line of a
 * syntax error; for a bad value the line is where its text first occurs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "forms/forms.h"

struct forms_set {
    struct arena *a;
    struct forms_def **defs;
    size_t count, cap;
};

struct loader {
    struct forms_set *set;
    struct arena *a;
    const char *name; /* file name for messages */
    const char *text;
    struct forms_def *def;
    size_t nfields;
    const struct forms_field *group; /* scope for expressions in a group */
    char where[160];                 /* "steps[1].fields[0]" */
    const char *needle;              /* text to find the line by */
    char quoted[128];                /* "value" of the last string read */
    struct kr_error *err;
};

static const char *const type_names[] = {
    "text",   "textarea", "number",   "money", "date", "email",   "phone", "iban",    "postcode",
    "select", "radio",    "checkbox", "yesno", "file", "address", "group", "computed"};

const char *forms_type_name(enum forms_type type)
{
    return type_names[type];
}

const char *forms_tr(const struct forms_text *t, const char *lang)
{
    if (lang && strcmp(lang, "en") == 0 && t->en)
        return t->en;
    return t->de ? t->de : "";
}

/* Line (1-based) of the first occurrence of needle in text, else 1. */
static int line_of(const char *text, const char *needle)
{
    const char *p = needle && *needle ? strstr(text, needle) : NULL;
    int line = 1;
    if (!p)
        return 1;
    for (const char *q = text; q < p; q++)
        line += *q == '\n';
    return line;
}

static int bad(struct loader *l, const char *fmt, ...) KR_PRINTF(2, 3);
static int bad(struct loader *l, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kr_error_set(l->err, KR_ERR_INVALID, "%s:%d: %s%s%s", l->name,
                        line_of(l->text, l->needle), l->where, *l->where ? ": " : "", msg);
}

static const char *str(struct loader *l, json_t *o, const char *key, bool required)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            bad(l, "'%s' is missing", key);
        return NULL;
    }
    if (!json_is_string(v) || !json_string_length(v)) {
        bad(l, "'%s' must be a non-empty string", key);
        return NULL;
    }
    snprintf(l->quoted, sizeof(l->quoted), "\"%s\"", json_string_value(v));
    l->needle = l->quoted;
    return arena_strdup(l->a, json_string_value(v));
}

static int text_of(struct loader *l, json_t *o, const char *key, bool required,
                   struct forms_text *out)
{
    json_t *v = json_object_get(o, key);
    memset(out, 0, sizeof(*out));
    if (!v)
        return required ? bad(l, "'%s' is missing", key) : KR_OK;
    if (json_is_string(v)) {
        out->de = out->en = arena_strdup(l->a, json_string_value(v));
        return KR_OK;
    }
    const char *de = json_string_value(json_object_get(v, "de"));
    const char *en = json_string_value(json_object_get(v, "en"));
    if (!json_is_object(v) || !de || !*de)
        return bad(l, "'%s' needs a German text: {\"de\": \"...\", \"en\": \"...\"}", key);
    out->de = arena_strdup(l->a, de);
    out->en = en && *en ? arena_strdup(l->a, en) : out->de;
    return KR_OK;
}

static bool valid_id(const char *s, size_t max, bool dash)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == (dash ? '-' : '_')))
            return false;
    }
    return true;
}

static bool reserved(const char *id)
{
    static const char *const words[] = {"true",  "false", "null",  "and",   "or",    "not", "in",
                                        "today", "date",  "years", "count", "empty", "if"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(words[i], id) == 0)
            return true;
    return false;
}

static int int_of(struct loader *l, json_t *o, const char *key, int64_t lo, int64_t hi, bool *has,
                  int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return KR_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return bad(l, "'%s' must be an integer from %lld to %lld", key, (long long)lo,
                   (long long)hi);
    *out = json_integer_value(v);
    if (has)
        *has = true;
    return KR_OK;
}

/* min/max as the field's type understands them: numbers, money text, dates. */
static int bound_of(struct loader *l, json_t *o, const char *key, struct forms_field *f, bool *has,
                    int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return KR_OK;
    if (f->type == FORMS_MONEY || f->type == FORMS_DATE) {
        const char *s = json_string_value(v);
        int rc = f->type == FORMS_MONEY ? expr_money_parse(s, out) : expr_date_parse(s, out);
        if (rc)
            return bad(l, "'%s' must be a string like %s", key,
                       f->type == FORMS_MONEY ? "\"12.50\"" : "\"2025-08-01\"");
        *has = true;
        return KR_OK;
    }
    if (f->type != FORMS_NUMBER)
        return bad(l, "'%s' is only for number, money and date fields", key);
    return int_of(l, o, key, -1000000000000LL, 1000000000000LL, has, out);
}

static int load_options(struct loader *l, json_t *o, struct forms_field *f)
{
    json_t *opts = json_object_get(o, "options");
    bool needs = f->type == FORMS_SELECT || f->type == FORMS_RADIO || f->type == FORMS_CHECKBOX;
    if (!opts)
        return needs ? bad(l, "'options' is missing") : KR_OK;
    if (!needs)
        return bad(l, "'options' is only for select, radio and checkbox fields");
    size_t n = json_array_size(opts);
    if (!json_is_array(opts) || n == 0 || n > FORMS_MAX_OPTIONS)
        return bad(l, "'options' must be a list of 1 to %d options", FORMS_MAX_OPTIONS);
    f->options = arena_calloc(l->a, n, sizeof(*f->options));
    if (!f->options)
        return kr_error_set(l->err, KR_ERR_NOMEM, "out of memory");
    f->option_count = n;
    for (size_t i = 0; i < n; i++) {
        json_t *opt = json_array_get(opts, i);
        struct forms_option *op = &f->options[i];
        if (!(op->value = str(l, opt, "value", true)))
            return l->err->code;
        if (strlen(op->value) > 100)
            return bad(l, "option value longer than 100 bytes");
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->options[j].value, op->value) == 0)
                return bad(l, "option '%s' appears twice", op->value);
        int rc = text_of(l, opt, "label", true, &op->label);
        if (rc)
            return rc;
    }
    return KR_OK;
}

static int load_file_limits(struct loader *l, json_t *o, struct forms_field *f)
{
    json_t *acc = json_object_get(o, "accept");
    f->max_size = 10 * 1024 * 1024;
    f->max_files = 1;
    if (f->type != FORMS_FILE)
        return acc ? bad(l, "'accept' is only for file fields") : KR_OK;
    size_t n = json_array_size(acc);
    if (!json_is_array(acc) || n == 0 || n > 16)
        return bad(l, "file fields need 'accept': a list of MIME types (at most 16)");
    f->accept = arena_calloc(l->a, n, sizeof(*f->accept));
    if (!f->accept)
        return kr_error_set(l->err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(acc, i));
        if (!t || !strchr(t, '/') || strstr(t, "zip") || strstr(t, "x-tar") ||
            strstr(t, "compressed") || strstr(t, "x-7z") || strstr(t, "x-rar"))
            return bad(l, "'accept' entries are MIME types; archives are not accepted");
        f->accept[i] = arena_strdup(l->a, t);
    }
    f->accept_count = n;
    int64_t v = f->max_size, files = 1;
    int rc = int_of(l, o, "max_size", 1, 100 * 1024 * 1024, NULL, &v);
    if (rc == KR_OK)
        rc = int_of(l, o, "max_files", 1, 10, NULL, &files);
    f->max_size = v;
    f->max_files = (unsigned)files;
    return rc;
}

static int load_fields(struct loader *l, json_t *arr, struct forms_field **out, size_t *count,
                       int step, const struct forms_field *group);

static int load_type(struct loader *l, json_t *o, struct forms_field *f)
{
    const char *t = json_string_value(json_object_get(o, "type"));
    if (!t)
        return bad(l, "'type' is missing");
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strcmp(type_names[i], t) == 0) {
            f->type = (enum forms_type)i;
            return KR_OK;
        }
    return bad(l, "unknown type '%s'", t);
}

static int load_field(struct loader *l, json_t *o, struct forms_field *f, int step,
                      const struct forms_field *group)
{
    if (!json_is_object(o))
        return bad(l, "a field must be an object");
    if (!(f->id = str(l, o, "id", true)))
        return l->err->code;
    if (!valid_id(f->id, 40, false) || reserved(f->id))
        return bad(l, "field id '%s' must be a-z, 0-9, _ (starting with a letter, not a keyword)",
                   f->id);
    f->step = step;
    f->group = group;
    int rc = load_type(l, o, f);
    if (rc == KR_OK)
        rc = text_of(l, o, "label", true, &f->label);
    if (rc == KR_OK)
        rc = text_of(l, o, "help", false, &f->help);
    if (rc)
        return rc;
    json_t *req = json_object_get(o, "required");
    if (req && !json_is_boolean(req))
        return bad(l, "'required' must be true or false");
    f->required = json_is_true(req);
    int64_t len = f->type == FORMS_TEXTAREA ? 4000 : 200, rows_min = 0, rows_max = 10;
    rc = int_of(l, o, "max_length", 1, 20000, NULL, &len);
    f->max_length = (size_t)len;
    if (rc == KR_OK)
        rc = bound_of(l, o, "min", f, &f->has_min, &f->min);
    if (rc == KR_OK)
        rc = bound_of(l, o, "max", f, &f->has_max, &f->max);
    if (rc == KR_OK)
        rc = load_options(l, o, f);
    if (rc == KR_OK)
        rc = load_file_limits(l, o, f);
    if (rc)
        return rc;
    if (f->type == FORMS_GROUP) {
        if (group)
            return bad(l, "groups do not nest");
        if ((rc = int_of(l, o, "min_rows", 0, FORMS_MAX_ROWS, NULL, &rows_min)) ||
            (rc = int_of(l, o, "max_rows", 1, FORMS_MAX_ROWS, NULL, &rows_max)))
            return rc;
        if (rows_min > rows_max)
            return bad(l, "min_rows is larger than max_rows");
        f->min_rows = (unsigned)rows_min;
        f->max_rows = (unsigned)rows_max;
        json_t *cols = json_object_get(o, "fields");
        if (!json_is_array(cols) || !json_array_size(cols))
            return bad(l, "a group needs 'fields'");
        return load_fields(l, cols, &f->fields, &f->field_count, step, f);
    }
    if (f->type == FORMS_COMPUTED) {
        const char *vt = json_string_value(json_object_get(o, "value_type"));
        f->value_type = !vt || strcmp(vt, "money") == 0 ? EXPR_MONEY
                        : strcmp(vt, "number") == 0     ? EXPR_NUMBER
                        : strcmp(vt, "date") == 0       ? EXPR_DATE
                                                        : EXPR_STRING;
    }
    return KR_OK;
}

static int load_fields(struct loader *l, json_t *arr, struct forms_field **out, size_t *count,
                       int step, const struct forms_field *group)
{
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0)
        return bad(l, "'fields' must be a non-empty list");
    if (l->nfields + n > FORMS_MAX_FIELDS)
        return bad(l, "more than %d fields", FORMS_MAX_FIELDS);
    l->nfields += n;
    *out = arena_calloc(l->a, n, sizeof(**out));
    if (!*out)
        return kr_error_set(l->err, KR_ERR_NOMEM, "out of memory");
    *count = 0; /* grows as fields are complete, for the duplicate search */
    size_t wlen = strlen(l->where);
    for (size_t i = 0; i < n; i++) {
        snprintf(l->where + wlen, sizeof(l->where) - wlen, "%sfields[%zu]", wlen ? "." : "", i);
        l->needle = NULL;
        int rc = load_field(l, json_array_get(arr, i), &(*out)[i], step, group);
        if (rc)
            return rc;
        *count = i + 1;
        const char *id = (*out)[i].id;
        const struct forms_field *dup = forms_field_find(l->def, id);
        for (size_t j = 0; !dup && j < i; j++)
            if (strcmp((*out)[j].id, id) == 0)
                dup = &(*out)[j];
        if (dup && dup != &(*out)[i])
            return bad(l, "field id '%s' is used twice", id);
    }
    l->where[wlen] = '\0';
    return KR_OK;
}

/* ---- Pass two: expressions -------------------------------------------------- */

static const struct forms_field *find_in(const struct forms_field *fs, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fs[i].id, id) == 0)
            return &fs[i];
    return NULL;
}

const struct forms_field *forms_field_find(const struct forms_def *def, const char *id)
{
    for (size_t s = 0; def && s < def->step_count; s++) {
        const struct forms_step *st = &def->steps[s];
        if (!st->fields)
            continue;
        const struct forms_field *f = find_in(st->fields, st->field_count, id);
        if (f)
            return f;
        for (size_t i = 0; i < st->field_count; i++)
            if (st->fields[i].type == FORMS_GROUP &&
                (f = find_in(st->fields[i].fields, st->fields[i].field_count, id)))
                return f;
    }
    return NULL;
}

/* A name an expression may use: a top-level field, "address.part", or a
 * column of the group the expression belongs to. */
static bool known(void *ctx, const char *name)
{
    struct loader *l = ctx;
    char base[64];
    const char *dot = strchr(name, '.');
    size_t n = dot ? (size_t)(dot - name) : strlen(name);
    if (n >= sizeof(base))
        return false;
    memcpy(base, name, n);
    base[n] = '\0';
    const struct forms_field *f = NULL;
    if (l->group)
        f = find_in(l->group->fields, l->group->field_count, base);
    if (!f) {
        f = forms_field_find(l->def, base);
        if (f && f->group)
            return false; /* a column outside its group: use count(group) */
    }
    if (!f)
        return false;
    if (!dot)
        return true;
    static const char *const parts[] = {"street", "number", "postcode", "city"};
    for (size_t i = 0; f->type == FORMS_ADDRESS && i < 4; i++)
        if (strcmp(dot + 1, parts[i]) == 0)
            return true;
    return false;
}

static int expr_of(struct loader *l, json_t *o, const char *key, struct expr **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v)
        return KR_OK;
    if (!json_is_string(v))
        return bad(l, "'%s' must be an expression in a string", key);
    snprintf(l->quoted, sizeof(l->quoted), "\"%s\": \"%s\"", key, json_string_value(v));
    l->needle = l->quoted;
    struct kr_error e;
    if (expr_parse(l->a, json_string_value(v), known, l, out, &e) == KR_OK)
        return KR_OK;
    if (e.code == KR_ERR_NOMEM)
        return kr_error_set(l->err, KR_ERR_NOMEM, "out of memory");
    return bad(l, "%s: %s", key, e.message);
}

static int field_exprs(struct loader *l, json_t *o, struct forms_field *f)
{
    size_t wlen = strlen(l->where);
    snprintf(l->where + wlen, sizeof(l->where) - wlen, "%s%s", wlen ? "." : "", f->id);
    int rc = expr_of(l, o, "show_if", &f->show_if);
    if (rc == KR_OK)
        rc = expr_of(l, o, "required_if", &f->required_if);
    if (rc == KR_OK)
        rc = expr_of(l, o, "value", &f->value);
    if (rc == KR_OK && f->type == FORMS_COMPUTED && !f->value)
        rc = bad(l, "a computed field needs 'value'");
    if (rc == KR_OK && f->type != FORMS_COMPUTED && f->value)
        rc = bad(l, "'value' is only for computed fields");
    if (rc == KR_OK && f->type == FORMS_GROUP) {
        json_t *cols = json_object_get(o, "fields");
        l->group = f;
        for (size_t i = 0; rc == KR_OK && i < f->field_count; i++)
            rc = field_exprs(l, json_array_get(cols, i), &f->fields[i]);
        l->group = NULL;
    }
    l->where[wlen] = '\0';
    return rc;
}

static int load_checks(struct loader *l, json_t *st, struct forms_step *step)
{
    json_t *arr = json_object_get(st, "checks");
    size_t n = json_array_size(arr);
    if (!arr)
        return KR_OK;
    if (!json_is_array(arr) || n > 50)
        return bad(l, "'checks' must be a list of at most 50 checks");
    step->checks = arena_calloc(l->a, n ? n : 1, sizeof(*step->checks));
    if (!step->checks)
        return kr_error_set(l->err, KR_ERR_NOMEM, "out of memory");
    step->check_count = n;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(arr, i);
        struct forms_check *ck = &step->checks[i];
        const char *field = str(l, c, "field", true);
        if (!field)
            return l->err->code;
        ck->field = find_in(step->fields, step->field_count, field);
        if (!ck->field)
            return bad(l, "check names field '%s', which is not in this step", field);
        int rc = expr_of(l, c, "rule", &ck->rule);
        if (rc == KR_OK && !ck->rule)
            rc = bad(l, "a check needs 'rule'");
        if (rc == KR_OK)
            rc = text_of(l, c, "message", true, &ck->message);
        if (rc)
            return rc;
    }
    return KR_OK;
}

/* ---- Files and the form --------------------------------------------------- */

static int load_routing(struct loader *l, json_t *root, struct forms_def *def)
{
    json_t *r = json_object_get(root, "routing");
    const char *type = r ? json_string_value(json_object_get(r, "type")) : "case";
    if (!type)
        return bad(l, "'routing' needs 'type': case, email or webhook");
    if (strcmp(type, "case") == 0) {
        def->routing = FORMS_ROUTE_CASE;
        return KR_OK;
    }
    if (strcmp(type, "email") == 0)
        def->routing = FORMS_ROUTE_EMAIL;
    else if (strcmp(type, "webhook") == 0)
        def->routing = FORMS_ROUTE_WEBHOOK;
    else
        return bad(l, "unknown routing type '%s'", type);
    def->route_target = str(l, r, def->routing == FORMS_ROUTE_EMAIL ? "email" : "url", true);
    if (!def->route_target)
        return l->err->code;
    if (def->routing == FORMS_ROUTE_WEBHOOK && strncmp(def->route_target, "https://", 8) != 0 &&
        strncmp(def->route_target, "http://", 7) != 0)
        return bad(l, "webhook 'url' must be http(s)");
    if (def->routing == FORMS_ROUTE_EMAIL && !strchr(def->route_target, '@'))
        return bad(l, "routing 'email' is not an e-mail address");
    return KR_OK;
}

static int load_header(struct loader *l, json_t *root, struct forms_def *def)
{
    if (!json_is_object(root))
        return bad(l, "a form definition is a JSON object");
    if (!(def->id = str(l, root, "id", true)))
        return l->err->code;
    if (!valid_id(def->id, 60, true))
        return bad(l, "form id '%s' must be a-z, 0-9 and '-'", def->id);
    if (forms_find(l->set, def->id))
        return bad(l, "form id '%s' is used by another file", def->id);
    int rc = text_of(l, root, "title", true, &def->title);
    if (rc == KR_OK)
        rc = text_of(l, root, "intro", false, &def->intro);
    if (rc)
        return rc;
    def->unit = str(l, root, "unit", false);
    def->service = str(l, root, "service", false);
    json_t *anon = json_object_get(root, "anonymous");
    def->anonymous = !anon || json_is_true(anon);
    if (l->err->code)
        return l->err->code;
    return load_routing(l, root, def);
}

static int load_steps(struct loader *l, json_t *steps, struct forms_def *def)
{
    size_t n = json_array_size(steps);
    if (!json_is_array(steps) || n == 0 || n > FORMS_MAX_STEPS)
        return bad(l, "'steps' must be a list of 1 to %d steps", FORMS_MAX_STEPS);
    def->steps = arena_calloc(l->a, n, sizeof(*def->steps));
    if (!def->steps)
        return kr_error_set(l->err, KR_ERR_NOMEM, "out of memory");
    def->step_count = n;
    for (size_t i = 0; i < n; i++) {
        json_t *st = json_array_get(steps, i);
        struct forms_step *s = &def->steps[i];
        snprintf(l->where, sizeof(l->where), "steps[%zu]", i);
        l->needle = NULL;
        if (!json_is_object(st) || !(s->id = str(l, st, "id", true)))
            return l->err->code ? l->err->code : bad(l, "a step must be an object");
        if (!valid_id(s->id, 40, true))
            return bad(l, "step id '%s' must be a-z, 0-9 and '-'", s->id);
        for (size_t j = 0; j < i; j++)
            if (strcmp(def->steps[j].id, s->id) == 0 || strcmp(s->id, "pruefen") == 0)
                return bad(l, "step id '%s' is used twice or reserved", s->id);
        int rc = text_of(l, st, "title", true, &s->title);
        if (rc == KR_OK)
            rc = text_of(l, st, "intro", false, &s->intro);
        if (rc == KR_OK)
            rc = load_fields(l, json_object_get(st, "fields"), &s->fields, &s->field_count, (int)i,
                             NULL);
        if (rc)
            return rc;
    }
    return KR_OK;
}

static int load_exprs(struct loader *l, json_t *root, struct forms_def *def)
{
    json_t *steps = json_object_get(root, "steps");
    for (size_t i = 0; i < def->step_count; i++) {
        json_t *st = json_array_get(steps, i);
        struct forms_step *s = &def->steps[i];
        snprintf(l->where, sizeof(l->where), "steps[%zu]", i);
        int rc = expr_of(l, st, "skip_if", &s->skip_if);
        json_t *fields = json_object_get(st, "fields");
        for (size_t j = 0; rc == KR_OK && j < s->field_count; j++)
            rc = field_exprs(l, json_array_get(fields, j), &s->fields[j]);
        if (rc == KR_OK)
            rc = load_checks(l, st, s);
        if (rc)
            return rc;
    }
    l->where[0] = '\0';
    return expr_of(l, root, "fee", &def->fee);
}

int forms_set_add(struct forms_set *set, const char *name, const char *text, size_t len,
                  const struct forms_def **out, struct kr_error *err)
{
    struct loader l = {.set = set, .a = set->a, .name = name, .text = text, .err = err};
    kr_error_clear(err);
    if (len > FORMS_FILE_MAX)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "%s: larger than %d bytes", name,
                            FORMS_FILE_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return kr_error_set(err, KR_ERR_INVALID, "%s:%d: %s", name, jerr.line, jerr.text);
    struct forms_def *def = arena_zalloc(set->a, sizeof(*def));
    int rc = def ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    l.def = def;
    if (rc == KR_OK)
        rc = load_header(&l, root, def);
    if (rc == KR_OK)
        rc = load_steps(&l, json_object_get(root, "steps"), def);
    if (rc == KR_OK)
        rc = load_exprs(&l, root, def);
    json_decref(root);
    if (rc)
        return rc;
    def->path = arena_strdup(set->a, name);
    kr_sha256_hex(text, len, def->hash);
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        struct forms_def **defs = arena_calloc(set->a, cap, sizeof(*defs));
        if (!defs)
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        if (set->count)
            memcpy(defs, set->defs, set->count * sizeof(*defs));
        set->defs = defs;
        set->cap = cap;
    }
    set->defs[set->count++] = def;
    if (out)
        *out = def;
    return KR_OK;
}

int forms_set_new(struct forms_set **out, struct kr_error *err)
{
    struct forms_set *set = calloc(1, sizeof(*set));
    if (!set || !(set->a = arena_new(0))) {
        free(set);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    *out = set;
    return KR_OK;
}

void forms_set_free(struct forms_set *set)
{
    if (!set)
        return;
    arena_free(set->a);
    free(set);
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int load_file(struct forms_set *set, const char *dir, const char *file, struct kr_error *err)
{
    char path[1024];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
        return kr_error_set(err, KR_ERR_IO, "%s/%s: path too long", dir, file);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return kr_error_set(err, KR_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = malloc(FORMS_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, FORMS_FILE_MAX + 1, fp) : 0;
    int rc = !buf         ? kr_error_set(err, KR_ERR_NOMEM, "out of memory")
             : ferror(fp) ? kr_error_set(err, KR_ERR_IO, "%s: read error", path)
                          : KR_OK;
    fclose(fp);
    if (rc == KR_OK)
        rc = forms_set_add(set, path, buf, n, NULL, err);
    free(buf);
    return rc;
}

int forms_set_load(const char *dir, struct forms_set **out, struct kr_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return kr_error_set(err, KR_ERR_IO, "%s: %s", dir, strerror(errno));
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
        size_t len = strlen(e->d_name);
        if (len > 5 && e->d_name[0] != '.' && strcmp(e->d_name + len - 5, ".json") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    struct forms_set *set = NULL;
    int rc = forms_set_new(&set, err);
    for (size_t i = 0; i < n; i++)
        if (!names[i] && rc == KR_OK)
            rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc == KR_OK)
        qsort(names, n, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < n && rc == KR_OK; i++)
        rc = load_file(set, dir, names[i], err);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (rc) {
        forms_set_free(set);
        return rc;
    }
    *out = set;
    return KR_OK;
}

const struct forms_def *forms_find(const struct forms_set *set, const char *id)
{
    for (size_t i = 0; set && id && i < set->count; i++)
        if (strcmp(set->defs[i]->id, id) == 0)
            return set->defs[i];
    return NULL;
}

size_t forms_count(const struct forms_set *set)
{
    return set ? set->count : 0;
}

const struct forms_def *forms_at(const struct forms_set *set, size_t i)
{
    return set && i < set->count ? set->defs[i] : NULL;
}
