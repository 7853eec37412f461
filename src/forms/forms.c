/*
 * forms.c - the server-side logic of a fill: field values as expressions
 * see them, visibility, reading a step's posted values with format checks,
 * required and cross-field checks, and cleaning the answers of everything
 * that is not shown.  No HTTP, no SQL in here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/text.h"
#include "core/util.h"
#include "forms/forms.h"
#include "mail/mail.h"

void forms_eval_init(struct forms_eval *ev, const struct forms_def *def, json_t *answers,
                     struct arena *a)
{
    memset(ev, 0, sizeof(*ev));
    ev->def = def;
    ev->answers = answers;
    ev->a = a;
    ev->today = kr_now() / 86400;
}

/* ---- Values ----------------------------------------------------------------- */

static void json_to_value(struct forms_eval *ev, const struct forms_field *f, json_t *j,
                          struct expr_value *out)
{
    *out = (struct expr_value){.type = EXPR_NULL};
    if (!j || json_is_null(j))
        return;
    switch (f->type) {
    case FORMS_NUMBER:
    case FORMS_MONEY:
        if (json_is_integer(j))
            *out = (struct expr_value){.type = f->type == FORMS_NUMBER ? EXPR_NUMBER : EXPR_MONEY,
                                       .i = json_integer_value(j)};
        return;
    case FORMS_DATE: {
        int64_t d;
        if (expr_date_parse(json_string_value(j), &d) == KR_OK)
            *out = (struct expr_value){.type = EXPR_DATE, .i = d};
        return;
    }
    case FORMS_YESNO:
        if (json_is_boolean(j))
            *out = (struct expr_value){.type = EXPR_BOOL, .i = json_is_true(j)};
        return;
    case FORMS_CHECKBOX:
    case FORMS_GROUP:
    case FORMS_FILE: {
        size_t n = json_array_size(j);
        struct expr_value *items = arena_calloc(ev->a, n ? n : 1, sizeof(*items));
        if (!items)
            return;
        for (size_t i = 0; i < n && f->type == FORMS_CHECKBOX; i++) {
            const char *s = json_string_value(json_array_get(j, i));
            if (s)
                items[i] = (struct expr_value){.type = EXPR_STRING, .s = s, .n = strlen(s)};
        }
        *out = (struct expr_value){.type = EXPR_LIST, .items = items, .n = n};
        return;
    }
    default:
        if (json_is_string(j))
            *out = (struct expr_value){
                .type = EXPR_STRING, .s = json_string_value(j), .n = json_string_length(j)};
        return;
    }
}

static void lookup(void *ctx, const char *name, struct expr_value *out)
{
    forms_value(ctx, name, out);
}

static struct expr_env env_of(struct forms_eval *ev)
{
    return (struct expr_env){.lookup = lookup, .ctx = ev, .today = ev->today};
}

static const struct forms_field *column(const struct forms_field *group, const char *id)
{
    for (size_t i = 0; group && i < group->field_count; i++)
        if (strcmp(group->fields[i].id, id) == 0)
            return &group->fields[i];
    return NULL;
}

void forms_value(struct forms_eval *ev, const char *name, struct expr_value *out)
{
    char base[64];
    const char *dot = strchr(name, '.');
    size_t n = dot ? (size_t)(dot - name) : strlen(name);
    *out = (struct expr_value){.type = EXPR_NULL};
    if (n >= sizeof(base))
        return;
    memcpy(base, name, n);
    base[n] = '\0';
    const struct forms_field *f = column(ev->row_group, base);
    json_t *src = f ? ev->row : ev->answers;
    if (!f)
        f = forms_field_find(ev->def, base);
    if (!f)
        return;
    if (f->type == FORMS_COMPUTED) {
        if (ev->depth >= 8) /* a cycle of computed fields gives null */
            return;
        ev->depth++;
        struct expr_env env = env_of(ev);
        expr_eval(f->value, &env, ev->a, out);
        ev->depth--;
        return;
    }
    json_t *j = json_object_get(src, base);
    if (dot && f->type == FORMS_ADDRESS) {
        j = json_object_get(j, dot + 1);
        if (json_is_string(j))
            *out = (struct expr_value){
                .type = EXPR_STRING, .s = json_string_value(j), .n = json_string_length(j)};
        return;
    }
    json_to_value(ev, f, j, out);
}

static bool cond(struct forms_eval *ev, const struct expr *e, bool dflt)
{
    if (!e)
        return dflt;
    struct expr_env env = env_of(ev);
    return expr_true(e, &env, ev->a);
}

bool forms_step_visible(struct forms_eval *ev, int step)
{
    return !cond(ev, ev->def->steps[step].skip_if, false);
}

bool forms_field_visible(struct forms_eval *ev, const struct forms_field *f)
{
    return cond(ev, f->show_if, true);
}

bool forms_field_required(struct forms_eval *ev, const struct forms_field *f)
{
    return f->required || cond(ev, f->required_if, false);
}

int64_t forms_fee(struct forms_eval *ev)
{
    if (!ev->def->fee)
        return 0;
    struct expr_env env = env_of(ev);
    struct expr_value v;
    expr_eval(ev->def->fee, &env, ev->a, &v);
    return v.type == EXPR_MONEY && v.i > 0 ? v.i : 0;
}

/* ---- Problems ----------------------------------------------------------------- */

static int problem(struct forms_eval *ev, struct forms_problems *p, const char *field,
                   const char *code, const struct forms_check *check, const struct forms_field *def)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct forms_problem *items = arena_calloc(ev->a, cap, sizeof(*items));
        if (!items)
            return KR_ERR_NOMEM;
        if (p->count)
            memcpy(items, p->items, p->count * sizeof(*items));
        p->items = items;
        p->cap = cap;
    }
    p->items[p->count++] = (struct forms_problem){
        .field = arena_strdup(ev->a, field), .code = code, .check = check, .def = def};
    return KR_OK;
}

int forms_problem_add(struct forms_eval *ev, struct forms_problems *probs, const char *field,
                      const char *code, const struct forms_field *def)
{
    return problem(ev, probs, field, code, NULL, def);
}

/* ---- Formats -------------------------------------------------------------------- */

static const struct {
    char cc[3];
    unsigned len;
} iban_lengths[] = {
    {"AD", 24}, {"AT", 20}, {"BE", 16}, {"BG", 22}, {"CH", 21}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"EE", 20}, {"ES", 24}, {"FI", 18}, {"FR", 27}, {"GB", 22}, {"GI", 23}, {"GR", 27},
    {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IS", 26}, {"IT", 27}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"MC", 27}, {"MT", 31}, {"NL", 18}, {"NO", 15}, {"PL", 28}, {"PT", 25}, {"RO", 24},
    {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"VA", 22},
};

bool forms_iban_valid(const char *in, char *out, size_t size)
{
    char c[35];
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ')
            continue;
        if (n == sizeof(c) - 1 || !isalnum((unsigned char)*p))
            return false;
        c[n++] = (char)toupper((unsigned char)*p);
    }
    c[n] = '\0';
    if (n < 15 || !isalpha((unsigned char)c[0]) || !isalpha((unsigned char)c[1]) ||
        !isdigit((unsigned char)c[2]) || !isdigit((unsigned char)c[3]))
        return false;
    size_t k = 0;
    while (k < KR_ARRAY_LEN(iban_lengths) && strncmp(iban_lengths[k].cc, c, 2) != 0)
        k++;
    if (k == KR_ARRAY_LEN(iban_lengths) || iban_lengths[k].len != n)
        return false;
    unsigned rem = 0; /* mod 97 of the rearranged number, digit by digit */
    for (size_t i = 0; i < n; i++) {
        char ch = c[(i + 4) % n];
        if (isdigit((unsigned char)ch))
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        else
            rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
    }
    if (rem != 1)
        return false;
    snprintf(out, size, "%s", c);
    return true;
}

static bool phone_valid(const char *s)
{
    size_t digits = 0, n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (isdigit((unsigned char)s[i]))
            digits++;
        else if (!strchr("+ /-()", s[i]) || (s[i] == '+' && i != 0))
            return false;
    }
    return n <= 30 && digits >= 6;
}

static bool postcode_valid(const char *s)
{
    if (strlen(s) != 5)
        return false;
    for (int i = 0; i < 5; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* "2025-08-01" or "01.08.2025" (German input). */
static int date_input(const char *s, int64_t *days)
{
    if (expr_date_parse(s, days) == KR_OK)
        return KR_OK;
    char iso[11];
    if (strlen(s) != 10 || s[2] != '.' || s[5] != '.')
        return KR_ERR_INVALID;
    snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2s", s + 6, s + 3, s);
    return expr_date_parse(iso, days);
}

static bool is_option(const struct forms_field *f, const char *v)
{
    for (size_t i = 0; i < f->option_count; i++)
        if (strcmp(f->options[i].value, v) == 0)
            return true;
    return false;
}

/*
 * Check and convert one scalar input s (trimmed, non-empty) of field f into
 * *out (a new JSON value).  Returns NULL on success or the problem code.
 */
static const char *scalar(const struct forms_field *f, const char *s, json_t **out)
{
    int64_t v;
    char iban[40];
    *out = NULL;
    switch (f->type) {
    case FORMS_NUMBER:
        if (kr_parse_int64(s, -1000000000000LL, 1000000000000LL, &v))
            return "number";
        break;
    case FORMS_MONEY:
        if (expr_money_parse(s, &v))
            return "money";
        break;
    case FORMS_DATE:
        if (date_input(s, &v))
            return "date";
        break;
    case FORMS_EMAIL:
        if (strlen(s) > 254 || mail_address_check(s, NULL) != KR_OK)
            return "email";
        break;
    case FORMS_PHONE:
        if (!phone_valid(s))
            return "phone";
        break;
    case FORMS_IBAN:
        if (!forms_iban_valid(s, iban, sizeof(iban)))
            return "iban";
        *out = json_string(iban);
        return *out ? NULL : "nomem";
    case FORMS_POSTCODE:
        if (!postcode_valid(s))
            return "postcode";
        break;
    case FORMS_SELECT:
    case FORMS_RADIO:
    case FORMS_CHECKBOX:
        if (!is_option(f, s))
            return "option";
        break;
    case FORMS_YESNO:
        if (strcmp(s, "ja") != 0 && strcmp(s, "nein") != 0)
            return "option";
        *out = json_boolean(s[0] == 'j');
        return NULL;
    default:
        if (utf8_chars(s) > f->max_length)
            return "too_long";
        if (f->type != FORMS_TEXTAREA && strpbrk(s, "\r\n\t"))
            return "one_line";
        break;
    }
    if ((f->type == FORMS_NUMBER || f->type == FORMS_MONEY || f->type == FORMS_DATE)) {
        if (f->has_min && v < f->min)
            return "min";
        if (f->has_max && v > f->max)
            return "max";
        if (f->type == FORMS_DATE) {
            char d[16];
            expr_date_format(v, d, sizeof(d));
            *out = json_string(d);
        } else {
            *out = json_integer(v);
        }
    } else {
        *out = json_string(s);
    }
    return *out ? NULL : "nomem";
}

/* ---- Reading a step's input ------------------------------------------------------ */

struct reader {
    struct forms_eval *ev;
    const struct text_pairs *in;
    struct forms_problems *probs;
    int rc;
};

static const char *input(const struct reader *r, const char *name, struct arena *a)
{
    const char *v = text_pairs_get(r->in, name);
    if (!v)
        return NULL;
    size_t len = strlen(v);
    const char *t = text_trim(v, &len);
    return len ? arena_strndup(a, t, len) : NULL;
}

static void add_problem(struct reader *r, const char *id, const char *code,
                        const struct forms_field *f)
{
    if (r->rc == KR_OK)
        r->rc = problem(r->ev, r->probs, id, code, NULL, f);
}

/* Read field f whose inputs are named prefix + id into obj[id]. */
static void read_scalar(struct reader *r, const struct forms_field *f, const char *name,
                        json_t *obj)
{
    const char *s = input(r, name, r->ev->a);
    json_object_del(obj, f->id);
    if (!s)
        return;
    json_t *v;
    const char *code = scalar(f, s, &v);
    if (code)
        add_problem(r, name, code, f);
    else
        json_object_set_new(obj, f->id, v);
}

static void read_checkbox(struct reader *r, const struct forms_field *f, const char *name,
                          json_t *obj)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->in->count; i++) {
        if (strcmp(r->in->items[i].name, name) != 0)
            continue;
        if (!is_option(f, r->in->items[i].value)) {
            add_problem(r, name, "option", f);
            break;
        }
        json_array_append_new(arr, json_string(r->in->items[i].value));
    }
    if (json_array_size(arr))
        json_object_set_new(obj, f->id, arr);
    else {
        json_object_del(obj, f->id);
        json_decref(arr);
    }
}

static void read_address(struct reader *r, const struct forms_field *f, const char *name,
                         json_t *obj)
{
    static const char *const parts[] = {"street", "number", "postcode", "city"};
    json_t *addr = json_object();
    size_t filled = 0;
    for (size_t i = 0; addr && i < 4; i++) {
        char *pname = arena_printf(r->ev->a, "%s.%s", name, parts[i]);
        const char *s = pname ? input(r, pname, r->ev->a) : NULL;
        if (!s)
            continue;
        filled++;
        if (i == 2 && !postcode_valid(s))
            add_problem(r, pname, "postcode", f);
        else if (utf8_chars(s) > 100 || strpbrk(s, "\r\n\t"))
            add_problem(r, pname, "too_long", f);
        json_object_set_new(addr, parts[i], json_string(s));
    }
    json_object_del(obj, f->id);
    if (filled && filled < 4)
        add_problem(r, arena_printf(r->ev->a, "%s.street", name), "address", f);
    if (filled)
        json_object_set_new(obj, f->id, addr);
    else
        json_decref(addr);
}

static void read_field(struct reader *r, const struct forms_field *f, const char *name,
                       json_t *obj);

static void read_group(struct reader *r, const struct forms_field *f, json_t *obj)
{
    int64_t rows = 0;
    const char *rv = input(r, arena_printf(r->ev->a, "%s.rows", f->id), r->ev->a);
    if (rv && kr_parse_int64(rv, 0, INT64_MAX, &rows) != KR_OK)
        rows = -1;
    if (rows < 0 || rows > f->max_rows) {
        /* Never read that many rows: refuse at the group's field. */
        add_problem(r, f->id, "too_many_rows", f);
        return;
    }
    json_t *arr = json_array();
    json_t *saved_row = r->ev->row;
    const struct forms_field *saved_group = r->ev->row_group;
    for (int64_t i = 0; arr && i < rows; i++) {
        json_t *row = json_object();
        r->ev->row = row;
        r->ev->row_group = f;
        for (size_t c = 0; row && c < f->field_count; c++) {
            const struct forms_field *col = &f->fields[c];
            if (!forms_field_visible(r->ev, col))
                continue;
            char *cname = arena_printf(r->ev->a, "%s.%lld.%s", f->id, (long long)i, col->id);
            read_field(r, col, cname, row);
        }
        json_array_append_new(arr, row);
    }
    r->ev->row = saved_row;
    r->ev->row_group = saved_group;
    json_object_set_new(obj, f->id, arr);
}

static void read_field(struct reader *r, const struct forms_field *f, const char *name, json_t *obj)
{
    if (!name) {
        r->rc = KR_ERR_NOMEM;
        return;
    }
    switch (f->type) {
    case FORMS_COMPUTED:
        if (text_pairs_get(r->in, name))
            add_problem(r, name, "tampered", f); /* never taken from input */
        return;
    case FORMS_FILE: return; /* kept from the upload handler */
    case FORMS_CHECKBOX: read_checkbox(r, f, name, obj); return;
    case FORMS_ADDRESS: read_address(r, f, name, obj); return;
    case FORMS_GROUP: read_group(r, f, obj); return;
    default: read_scalar(r, f, name, obj); return;
    }
}

/* Is name an input of step (or one of the form's own hidden fields)? */
static bool expected_name(const struct forms_step *st, const char *name)
{
    static const char *const own[] = {"csrf_token", "v", "action", "shown"};
    for (size_t i = 0; i < KR_ARRAY_LEN(own); i++)
        if (strcmp(own[i], name) == 0)
            return true;
    size_t n = strcspn(name, ".");
    for (size_t i = 0; i < st->field_count; i++)
        if (strlen(st->fields[i].id) == n && strncmp(st->fields[i].id, name, n) == 0)
            return st->fields[i].type != FORMS_COMPUTED;
    return false;
}

int forms_read_step(struct forms_eval *ev, int step, const struct text_pairs *fields,
                    struct forms_problems *probs)
{
    const struct forms_step *st = &ev->def->steps[step];
    struct reader r = {.ev = ev, .in = fields, .probs = probs};
    for (size_t i = 0; i < fields->count && r.rc == KR_OK; i++)
        if (!expected_name(st, fields->items[i].name))
            add_problem(&r, st->fields[0].id, "tampered", &st->fields[0]);
    for (size_t i = 0; i < st->field_count && r.rc == KR_OK; i++) {
        const struct forms_field *f = &st->fields[i];
        if (!forms_field_visible(ev, f)) {
            json_object_del(ev->answers, f->id);
            continue;
        }
        read_field(&r, f, f->id, ev->answers);
    }
    return r.rc;
}

/* ---- Checking stored answers ---------------------------------------------------- */

static bool answered(json_t *j)
{
    if (!j || json_is_null(j))
        return false;
    if (json_is_string(j))
        return json_string_length(j) > 0;
    if (json_is_array(j))
        return json_array_size(j) > 0;
    return true;
}

static bool has_problem(const struct forms_problems *probs, const char *id)
{
    for (size_t i = 0; id && i < probs->count; i++)
        if (strcmp(probs->items[i].field, id) == 0)
            return true;
    return false;
}

static const char *input_id(struct forms_eval *ev, const struct forms_field *f, const char *name)
{
    if (f->type == FORMS_ADDRESS)
        return arena_printf(ev->a, "%s.street", name);
    return name;
}

static int check_fields(struct forms_eval *ev, const struct forms_field *fs, size_t n, json_t *obj,
                        const char *prefix, struct forms_problems *probs)
{
    for (size_t i = 0; i < n; i++) {
        const struct forms_field *f = &fs[i];
        if (f->type == FORMS_COMPUTED || !forms_field_visible(ev, f))
            continue;
        const char *name = prefix ? arena_printf(ev->a, "%s.%s", prefix, f->id) : f->id;
        json_t *v = json_object_get(obj, f->id);
        int rc = KR_OK;
        if (!name)
            return KR_ERR_NOMEM;
        const char *id = input_id(ev, f, name);
        if (!answered(v) && forms_field_required(ev, f) && !has_problem(probs, id))
            rc = problem(ev, probs, id, "required", NULL, f);
        if (rc == KR_OK && f->type == FORMS_GROUP) {
            if (json_array_size(v) < f->min_rows && answered(v))
                rc = problem(ev, probs, name, "min_rows", NULL, f);
            for (size_t r = 0; rc == KR_OK && r < json_array_size(v); r++) {
                ev->row = json_array_get(v, r);
                ev->row_group = f;
                char *rp = arena_printf(ev->a, "%s.%zu", f->id, r);
                rc = rp ? check_fields(ev, f->fields, f->field_count, json_array_get(v, r), rp,
                                       probs)
                        : KR_ERR_NOMEM;
                ev->row = NULL;
                ev->row_group = NULL;
            }
        }
        if (rc)
            return rc;
    }
    return KR_OK;
}

int forms_check_step(struct forms_eval *ev, int step, struct forms_problems *probs)
{
    const struct forms_step *st = &ev->def->steps[step];
    size_t before = probs->count;
    int rc = check_fields(ev, st->fields, st->field_count, ev->answers, NULL, probs);
    for (size_t i = 0; rc == KR_OK && i < st->check_count; i++) {
        const struct forms_check *c = &st->checks[i];
        /* A check speaks about its field's answer: nothing to say while the
         * field is hidden, empty or already wrong. */
        if (!forms_field_visible(ev, c->field) ||
            !answered(json_object_get(ev->answers, c->field->id)))
            continue;
        bool flagged = false;
        for (size_t k = before; k < probs->count; k++)
            flagged |= probs->items[k].def == c->field;
        if (!flagged && !cond(ev, c->rule, false))
            rc = problem(ev, probs, input_id(ev, c->field, c->field->id), "check", c, c->field);
    }
    return rc;
}

static void clean_fields(struct forms_eval *ev, const struct forms_field *fs, size_t n, json_t *obj,
                         bool drop_all)
{
    for (size_t i = 0; i < n; i++) {
        const struct forms_field *f = &fs[i];
        if (drop_all || f->type == FORMS_COMPUTED || !forms_field_visible(ev, f)) {
            json_object_del(obj, f->id);
            continue;
        }
        json_t *rows = json_object_get(obj, f->id);
        for (size_t r = 0; f->type == FORMS_GROUP && r < json_array_size(rows); r++) {
            ev->row = json_array_get(rows, r);
            ev->row_group = f;
            clean_fields(ev, f->fields, f->field_count, json_array_get(rows, r), false);
        }
        ev->row = NULL;
        ev->row_group = NULL;
    }
}

void forms_clean(struct forms_eval *ev)
{
    for (size_t s = 0; s < ev->def->step_count; s++) {
        const struct forms_step *st = &ev->def->steps[s];
        clean_fields(ev, st->fields, st->field_count, ev->answers, !forms_step_visible(ev, (int)s));
    }
}

/* ---- Display ------------------------------------------------------------------ */

static const char *option_label(const struct forms_field *f, const char *v, const char *lang)
{
    for (size_t i = 0; v && i < f->option_count; i++)
        if (strcmp(f->options[i].value, v) == 0)
            return forms_tr(&f->options[i].label, lang);
    return v;
}

static void money_text(int64_t cents, const char *lang, char *out, size_t size)
{
    char m[32];
    expr_money_format(cents, m, sizeof(m));
    if (strcmp(lang, "en") != 0) {
        char *dot = strchr(m, '.');
        if (dot)
            *dot = ',';
    }
    snprintf(out, size, "%s EUR", m);
}

static char *display_heap(const struct forms_field *f, json_t *v, const char *lang);

static void display_group(const struct forms_field *f, json_t *v, const char *lang, struct buf *b)
{
    for (size_t r = 0; r < json_array_size(v); r++) {
        json_t *row = json_array_get(v, r);
        buf_printf(b, "%s%zu. ", r ? "\n" : "", r + 1);
        bool first = true;
        for (size_t c = 0; c < f->field_count; c++) {
            char *t = display_heap(&f->fields[c], json_object_get(row, f->fields[c].id), lang);
            if (!t || !*t) {
                free(t);
                continue;
            }
            buf_printf(b, "%s%s: %s", first ? "" : "; ", forms_tr(&f->fields[c].label, lang), t);
            free(t);
            first = false;
        }
    }
}

static void display_value(const struct forms_field *f, json_t *v, const char *lang, struct buf *b)
{
    char tmp[64];
    bool en = strcmp(lang, "en") == 0;
    switch (f->type) {
    case FORMS_MONEY:
        money_text(json_integer_value(v), lang, tmp, sizeof(tmp));
        buf_puts(b, tmp);
        return;
    case FORMS_NUMBER: buf_printf(b, "%lld", (long long)json_integer_value(v)); return;
    case FORMS_DATE: {
        const char *s = json_string_value(v);
        if (s && strlen(s) == 10 && !en)
            buf_printf(b, "%.2s.%.2s.%.4s", s + 8, s + 5, s);
        else
            buf_puts(b, s ? s : "");
        return;
    }
    case FORMS_YESNO:
        buf_puts(b, json_is_true(v) ? (en ? "Yes" : "Ja") : (en ? "No" : "Nein"));
        return;
    case FORMS_SELECT:
    case FORMS_RADIO: buf_puts(b, option_label(f, json_string_value(v), lang)); return;
    case FORMS_CHECKBOX:
        for (size_t i = 0; i < json_array_size(v); i++)
            buf_printf(b, "%s%s", i ? ", " : "",
                       option_label(f, json_string_value(json_array_get(v, i)), lang));
        return;
    case FORMS_ADDRESS:
        buf_printf(b, "%s %s, %s %s", json_string_value(json_object_get(v, "street")) ?: "",
                   json_string_value(json_object_get(v, "number")) ?: "",
                   json_string_value(json_object_get(v, "postcode")) ?: "",
                   json_string_value(json_object_get(v, "city")) ?: "");
        return;
    case FORMS_FILE:
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *o = json_array_get(v, i);
            buf_printf(b, "%s%s (%lld Bytes)", i ? ", " : "",
                       json_string_value(json_object_get(o, "name")) ?: "",
                       (long long)json_integer_value(json_object_get(o, "size")));
        }
        return;
    case FORMS_GROUP: display_group(f, v, lang, b); return;
    default: buf_puts(b, json_string_value(v) ? json_string_value(v) : ""); return;
    }
}

static char *display_heap(const struct forms_field *f, json_t *v, const char *lang)
{
    if (!answered(v))
        return NULL;
    struct buf b;
    buf_init(&b, 64 * 1024);
    display_value(f, v, lang ? lang : "de", &b);
    return buf_detach(&b, NULL);
}

const char *forms_display(const struct forms_field *f, json_t *v, const char *lang, struct arena *a)
{
    char *s = display_heap(f, v, lang);
    if (!s)
        return "";
    char *r = arena_strdup(a, s);
    free(s);
    return r ? r : "";
}

const char *forms_computed_display(struct forms_eval *ev, const struct forms_field *f,
                                   const char *lang)
{
    struct expr_value v;
    struct expr_env env = env_of(ev);
    char tmp[64];
    expr_eval(f->value, &env, ev->a, &v);
    switch (v.type) {
    case EXPR_MONEY: money_text(v.i, lang, tmp, sizeof(tmp)); break;
    case EXPR_NUMBER: snprintf(tmp, sizeof(tmp), "%lld", (long long)v.i); break;
    case EXPR_DATE: expr_date_format(v.i, tmp, sizeof(tmp)); break;
    case EXPR_STRING: return arena_strdup(ev->a, v.s);
    case EXPR_BOOL: snprintf(tmp, sizeof(tmp), "%s", v.i ? "Ja" : "Nein"); break;
    default: return "";
    }
    return arena_strdup(ev->a, tmp);
}

void forms_money_text(int64_t cents, const char *lang, char *out, size_t size)
{
    money_text(cents, lang, out, size);
}
