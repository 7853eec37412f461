/*
 * forms_http.c - the citizen's pages of the form server (/formulare/...):
 * form list, start, one page per step (server-side logic, no JavaScript
 * needed), summary, submission, confirmation with receipt, drafts; and the
 * office's export (/verwaltung/formulare/...).
 *
 * URLs: /formulare/:form/:draft/:step where draft is the draft's
 * unguessable token and step a step id or "pruefen" (the summary).
 */
#include "forms/forms_http.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "accounts/accounts.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "forms/receipt.h"
#include "forms/upload.h"
#include "http/http.h"
#include "mail/mail.h"
#include "pdf/pdf.h"
#include "webhook/webhook.h"

static struct {
    struct forms_set *set;
    int64_t ttl;
    char clamd[KR_CONFIG_PATH_MAX];
    struct db *db;
    pthread_t worker;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

const struct forms_set *forms_http_set(void)
{
    return g.set;
}

/* ---- Helpers ------------------------------------------------------------------------ */

static const struct forms_def *def_of(struct http_request *req, struct kr_error *err)
{
    const struct forms_def *def = forms_find(g.set, http_param(req, "form"));
    if (!def)
        kr_error_set(err, KR_ERR_NOT_FOUND, "there is no such form");
    return def;
}

static int step_index(const struct forms_def *def, const char *id)
{
    for (size_t i = 0; id && i < def->step_count; i++)
        if (strcmp(def->steps[i].id, id) == 0)
            return (int)i;
    return -1;
}

static bool step_done(const struct forms_draft *d, int s)
{
    return (d->done >> s) & 1;
}

/* The first visible step not yet completed, or -1 when all are done. */
static int first_open_step(struct forms_eval *ev, const struct forms_draft *d)
{
    for (size_t s = 0; s < ev->def->step_count; s++)
        if (forms_step_visible(ev, (int)s) && !step_done(d, (int)s))
            return (int)s;
    return -1;
}

static int next_visible(struct forms_eval *ev, int from, int dir)
{
    for (int s = from + dir; s >= 0 && s < (int)ev->def->step_count; s += dir)
        if (forms_step_visible(ev, s))
            return s;
    return -1;
}

static char *step_url(struct http_request *req, const struct forms_def *def,
                      const struct forms_draft *d, int s)
{
    return arena_printf(http_arena(req), "/formulare/%s/%s/%s", def->id, d->token,
                        s < 0 ? "pruefen" : def->steps[s].id);
}

/* Load the draft of the URL and check that this browser may use it: a
 * draft of an account belongs to that account only. */
static int draft_of(struct http_request *req, const struct forms_def *def, struct db_conn **conn,
                    struct forms_draft *d, struct kr_error *err)
{
    const char *token = http_param(req, "draft");
    if (!token || strlen(token) != 32)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this draft does not exist or has expired");
    int rc = http_db(req, conn, err);
    if (rc == KR_OK)
        rc = forms_draft_load(*conn, token, http_arena(req), d, err);
    if (rc)
        return rc;
    const struct account_user *u = http_user(req);
    if (strcmp(d->form_id, def->id) != 0 || (d->user_id && (!u || u->id != d->user_id)))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this draft does not exist or has expired");
    return KR_OK;
}

static const char *message(struct http_request *req, const struct forms_problem *p)
{
    if (p->check)
        return forms_tr(&p->check->message, http_lang(req));
    char key[64];
    snprintf(key, sizeof(key), "forms.error.%s", p->code);
    return http_message(req, key);
}

static json_t *errors_json(struct http_request *req, const struct forms_problems *probs)
{
    json_t *arr = json_array();
    for (size_t i = 0; probs && i < probs->count; i++) {
        const struct forms_problem *p = &probs->items[i];
        const char *label = p->def ? forms_tr(&p->def->label, http_lang(req)) : "";
        char *text = arena_printf(http_arena(req), "%s: %s", label, message(req, p));
        json_array_append_new(
            arr, json_pack("{s:s, s:s?, s:b}", "field", p->field, "message", text, "link", 1));
    }
    return arr;
}

/* ---- Field contexts for the step template ------------------------------------------ */

struct view {
    struct http_request *req;
    struct forms_eval *ev;
    const struct text_pairs *posted; /* re-show what was sent when it had problems */
    const struct forms_problems *probs;
    const char *lang;
};

static const char *field_error(struct view *v, const char *name)
{
    for (size_t i = 0; v->probs && i < v->probs->count; i++)
        if (strcmp(v->probs->items[i].field, name) == 0)
            return message(v->req, &v->probs->items[i]);
    return NULL;
}

/* The text to show in an input: what was posted, else the stored answer. */
static const char *shown(struct view *v, const struct forms_field *f, const char *name,
                         json_t *answer)
{
    if (v->posted)
        return text_pairs_get(v->posted, name) ? text_pairs_get(v->posted, name) : "";
    if (!answer)
        return "";
    char tmp[64];
    if (f->type == FORMS_MONEY) {
        expr_money_format(json_integer_value(answer), tmp, sizeof(tmp));
        return arena_strdup(http_arena(v->req), tmp);
    }
    if (json_is_integer(answer))
        return arena_printf(http_arena(v->req), "%lld", (long long)json_integer_value(answer));
    return json_string_value(answer) ? json_string_value(answer) : "";
}

static bool chosen(struct view *v, const char *name, json_t *answer, const char *value)
{
    if (v->posted) {
        for (size_t i = 0; i < v->posted->count; i++)
            if (strcmp(v->posted->items[i].name, name) == 0 &&
                strcmp(v->posted->items[i].value, value) == 0)
                return true;
        return false;
    }
    if (json_is_boolean(answer))
        return (json_is_true(answer) && strcmp(value, "ja") == 0) ||
               (json_is_false(answer) && strcmp(value, "nein") == 0);
    if (json_is_string(answer))
        return strcmp(json_string_value(answer), value) == 0;
    for (size_t i = 0; i < json_array_size(answer); i++)
        if (strcmp(json_string_value(json_array_get(answer, i)) ?: "", value) == 0)
            return true;
    return false;
}

static json_t *options_json(struct view *v, const struct forms_field *f, const char *name,
                            json_t *answer)
{
    json_t *arr = json_array();
    if (f->type == FORMS_YESNO) {
        const char *vals[] = {"ja", "nein"};
        for (int i = 0; i < 2; i++)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:b}", "value", vals[i], "label",
                               http_message(v->req, i ? "forms.no" : "forms.yes"), "id",
                               i ? arena_printf(http_arena(v->req), "%s-nein", name) : name,
                               "checked", chosen(v, name, answer, vals[i])));
        return arr;
    }
    for (size_t i = 0; i < f->option_count; i++) {
        const char *id = i ? arena_printf(http_arena(v->req), "%s-%zu", name, i) : name;
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:s, s:b}", "value", f->options[i].value,
                                        "label", forms_tr(&f->options[i].label, v->lang), "id", id,
                                        "checked", chosen(v, name, answer, f->options[i].value)));
    }
    return arr;
}

static json_t *field_json(struct view *v, const struct forms_field *f, const char *name,
                          json_t *obj);

static json_t *group_json(struct view *v, const struct forms_field *f, json_t *answer)
{
    int64_t rows = (int64_t)json_array_size(answer);
    if (v->posted) {
        const char *r =
            text_pairs_get(v->posted, arena_printf(http_arena(v->req), "%s.rows", f->id));
        if (!r || kr_parse_int64(r, 0, f->max_rows, &rows))
            rows = 0;
    }
    if (rows < f->min_rows)
        rows = f->min_rows;
    json_t *arr = json_array();
    for (int64_t r = 0; r < rows; r++) {
        json_t *row = json_array_get(answer, (size_t)r);
        json_t *cells = json_array();
        v->ev->row = row;
        v->ev->row_group = f;
        for (size_t c = 0; c < f->field_count; c++) {
            char *cname = arena_printf(http_arena(v->req), "%s.%lld.%s", f->id, (long long)r,
                                       f->fields[c].id);
            json_array_append_new(cells, field_json(v, &f->fields[c], cname, row));
        }
        v->ev->row = NULL;
        v->ev->row_group = NULL;
        json_array_append_new(arr, json_pack("{s:o, s:I, s:I, s:s}", "cells", cells, "number",
                                             (json_int_t)(r + 1), "index", (json_int_t)r, "group",
                                             f->id));
    }
    return json_pack("{s:o, s:I, s:b, s:b}", "rows", arr, "count", (json_int_t)rows, "can_add",
                     rows<f->max_rows, "can_remove", rows> f->min_rows);
}

static const char *input_type(const struct forms_field *f)
{
    switch (f->type) {
    case FORMS_EMAIL: return "email";
    case FORMS_PHONE: return "tel";
    case FORMS_DATE: return "date";
    default: return "text";
    }
}

static const char *input_mode(const struct forms_field *f)
{
    switch (f->type) {
    case FORMS_NUMBER:
    case FORMS_POSTCODE: return "numeric";
    case FORMS_MONEY: return "decimal";
    default: return NULL;
    }
}

static const char *autocomplete(const struct forms_field *f)
{
    switch (f->type) {
    case FORMS_EMAIL: return "email";
    case FORMS_PHONE: return "tel";
    case FORMS_POSTCODE: return "postal-code";
    default: return NULL;
    }
}

static void address_json(struct view *v, const char *name, json_t *answer, json_t *o)
{
    static const char *const parts[] = {"street", "number", "postcode", "city"};
    static const char *const ac[] = {"address-line1", "off", "postal-code", "address-level2"};
    json_t *arr = json_array();
    for (int i = 0; i < 4; i++) {
        char *pname = arena_printf(http_arena(v->req), "%s.%s", name, parts[i]);
        char key[40];
        snprintf(key, sizeof(key), "forms.address.%s", parts[i]);
        const char *val = v->posted ? text_pairs_get(v->posted, pname)
                                    : json_string_value(json_object_get(answer, parts[i]));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "name", pname, "label",
                                             http_message(v->req, key), "value", val ? val : "",
                                             "autocomplete", ac[i]));
    }
    json_object_set_new(o, "parts", arr);
}

static json_t *field_json(struct view *v, const struct forms_field *f, const char *name,
                          json_t *obj)
{
    json_t *answer = json_object_get(obj, f->id);
    const char *error = field_error(
        v, f->type == FORMS_ADDRESS ? arena_printf(http_arena(v->req), "%s.street", name) : name);
    bool visible = forms_field_visible(v->ev, f);
    json_t *o = json_pack("{s:s, s:s, s:s?, s:b, s:s?, s:b}", "name", name, "label",
                          forms_tr(&f->label, v->lang), "help",
                          f->help.de ? forms_tr(&f->help, v->lang) : NULL, "required",
                          forms_field_required(v->ev, f), "error", error, "visible", visible);
    if (!o || !visible)
        return o;
    /* Every key the field template reads is set here, so that a column of
     * a group never sees its group's values through the outward lookup. */
    char flag[32];
    for (int t = FORMS_TEXT; t <= FORMS_COMPUTED; t++) {
        snprintf(flag, sizeof(flag), "t_%s", forms_type_name((enum forms_type)t));
        json_object_set_new(o, flag, json_boolean(t == (int)f->type));
    }
    static const char *const unset[] = {"t_input", "options", "parts", "group", "files", "value"};
    for (size_t i = 0; i < KR_ARRAY_LEN(unset); i++)
        json_object_set_new(o, unset[i], json_null());
    switch (f->type) {
    case FORMS_SELECT:
    case FORMS_RADIO:
    case FORMS_CHECKBOX:
    case FORMS_YESNO:
        json_object_set_new(o, "options", options_json(v, f, name, answer));
        json_object_set_new(o, "choices", json_true());
        break;
    case FORMS_ADDRESS: address_json(v, name, answer, o); break;
    case FORMS_GROUP: json_object_set_new(o, "group", group_json(v, f, answer)); break;
    case FORMS_COMPUTED:
        json_object_set_new(o, "value", json_string(forms_computed_display(v->ev, f, v->lang)));
        break;
    case FORMS_FILE: {
        json_t *files = json_array();
        for (size_t i = 0; i < json_array_size(answer); i++)
            json_array_append(files, json_object_get(json_array_get(answer, i), "name"));
        json_object_set_new(o, "files", files);
        json_object_set_new(o, "accept", json_string(f->accept[0]));
        break;
    }
    case FORMS_TEXTAREA:
        json_object_set_new(o, "value", json_string(shown(v, f, name, answer)));
        json_object_set_new(o, "max_length", json_integer((json_int_t)f->max_length));
        break;
    default:
        json_object_set_new(o, "t_input", json_true());
        json_object_set_new(o, "value", json_string(shown(v, f, name, answer)));
        json_object_set_new(o, "input_type", json_string(input_type(f)));
        json_object_set_new(o, "inputmode",
                            input_mode(f) ? json_string(input_mode(f)) : json_null());
        json_object_set_new(o, "autocomplete",
                            autocomplete(f) ? json_string(autocomplete(f)) : json_null());
        break;
    }
    return o;
}

static json_t *step_ctx(struct http_request *req, const struct forms_def *def,
                        const struct forms_draft *d, struct forms_eval *ev, int s,
                        const struct text_pairs *posted, const struct forms_problems *probs)
{
    struct view v = {
        .req = req, .ev = ev, .posted = posted, .probs = probs, .lang = http_lang(req)};
    const struct forms_step *st = &def->steps[s];
    json_t *fields = json_array();
    bool multipart = false;
    for (size_t i = 0; i < st->field_count; i++) {
        json_array_append_new(fields,
                              field_json(&v, &st->fields[i], st->fields[i].id, ev->answers));
        multipart |= st->fields[i].type == FORMS_FILE;
    }
    int n = 0, pos = 0;
    for (size_t i = 0; i < def->step_count; i++)
        if (forms_step_visible(ev, (int)i)) {
            n++;
            if ((int)i <= s)
                pos = n;
        }
    int prev = next_visible(ev, s, -1);
    return json_pack("{s:s, s:s, s:s?, s:o, s:s, s:s, s:s, s:i, s:i, s:b, s:o, s:b}", "form_title",
                     forms_tr(&def->title, v.lang), "step_title", forms_tr(&st->title, v.lang),
                     "step_intro", st->intro.de ? forms_tr(&st->intro, v.lang) : NULL, "fields",
                     fields, "action", step_url(req, def, d, s), "version", def->hash, "back_url",
                     prev < 0 ? arena_printf(http_arena(req), "/formulare/%s", def->id)
                              : step_url(req, def, d, prev),
                     "step_number", pos, "step_total", n, "multipart", multipart, "errors",
                     errors_json(req, probs), "has_errors", probs && probs->count > 0);
}

/* ---- Pages ---------------------------------------------------------------------------- */

static int list_page(struct http_request *req, struct kr_error *err)
{
    (void)err;
    json_t *forms = json_array();
    const char *lang = http_lang(req);
    for (size_t i = 0; i < forms_count(g.set); i++) {
        const struct forms_def *d = forms_at(g.set, i);
        json_array_append_new(forms, json_pack("{s:s, s:s, s:s?}", "id", d->id, "title",
                                               forms_tr(&d->title, lang), "intro",
                                               d->intro.de ? forms_tr(&d->intro, lang) : NULL));
    }
    return http_render(req, 200, "forms/list", json_pack("{s:o}", "forms", forms));
}

static int start_page(struct http_request *req, struct kr_error *err)
{
    const struct forms_def *def = def_of(req, err);
    if (!def)
        return err->code;
    int rc = http_session_ensure(req, err);
    if (rc)
        return rc;
    const char *lang = http_lang(req);
    json_t *steps = json_array();
    for (size_t i = 0; i < def->step_count; i++)
        json_array_append_new(steps, json_string(forms_tr(&def->steps[i].title, lang)));
    return http_render(req, 200, "forms/start",
                       json_pack("{s:s, s:s, s:s?, s:o, s:b, s:b}", "id", def->id, "title",
                                 forms_tr(&def->title, lang), "intro",
                                 def->intro.de ? forms_tr(&def->intro, lang) : NULL, "steps", steps,
                                 "needs_login", !def->anonymous && !http_user(req), "logged_in",
                                 http_user(req) != NULL));
}

static int start(struct http_request *req, struct kr_error *err)
{
    const struct forms_def *def = def_of(req, err);
    if (!def)
        return err->code;
    const struct account_user *u = http_user(req);
    if (!def->anonymous && !u)
        return kr_error_set(err, KR_ERR_UNAUTHENTICATED, "please log in to fill this form");
    struct db_conn *conn;
    struct forms_draft d;
    int rc = http_db(req, &conn, err);
    if (rc == KR_OK)
        rc = forms_draft_create(conn, def, u ? u->id : 0, g.ttl, http_arena(req), &d, err);
    if (rc)
        return rc;
    return http_redirect(req, 303, step_url(req, def, &d, 0));
}

/* Send the browser to the step it must fill first, when it asked for a later one. */
static int guard_step(struct http_request *req, const struct forms_def *def,
                      const struct forms_draft *d, struct forms_eval *ev, int s, bool *redirected)
{
    int open = first_open_step(ev, d);
    *redirected = false;
    if (s >= 0 && !forms_step_visible(ev, s)) {
        *redirected = true;
        return http_redirect(req, 303, step_url(req, def, d, open));
    }
    if (open >= 0 && (s < 0 || s > open)) {
        *redirected = true;
        return http_redirect(req, 303, step_url(req, def, d, open));
    }
    return KR_OK;
}

static int show_step(struct http_request *req, const struct forms_def *def,
                     const struct forms_draft *d, int s, const struct text_pairs *posted,
                     const struct forms_problems *probs)
{
    struct forms_eval ev;
    forms_eval_init(&ev, def, d->answers, http_arena(req));
    json_t *ctx = step_ctx(req, def, d, &ev, s, posted, probs);
    return http_render(req, probs && probs->count ? 400 : 200, "forms/step", ctx);
}

static int summary_ctx(struct http_request *req, const struct forms_def *def,
                       const struct forms_draft *d, const struct forms_problems *probs)
{
    struct forms_eval ev;
    forms_eval_init(&ev, def, d->answers, http_arena(req));
    const char *lang = http_lang(req);
    json_t *steps = json_array();
    for (size_t s = 0; s < def->step_count; s++) {
        if (!forms_step_visible(&ev, (int)s))
            continue;
        json_t *rows = json_array();
        const struct forms_step *st = &def->steps[s];
        for (size_t i = 0; i < st->field_count; i++) {
            const struct forms_field *f = &st->fields[i];
            if (!forms_field_visible(&ev, f))
                continue;
            const char *val =
                f->type == FORMS_COMPUTED
                    ? forms_computed_display(&ev, f, lang)
                    : forms_display(f, json_object_get(d->answers, f->id), lang, http_arena(req));
            json_array_append_new(
                rows, json_pack("{s:s, s:s}", "label", forms_tr(&f->label, lang), "value", val));
        }
        json_array_append_new(steps,
                              json_pack("{s:s, s:o, s:s}", "title", forms_tr(&st->title, lang),
                                        "rows", rows, "change_url", step_url(req, def, d, (int)s)));
    }
    int64_t fee = forms_fee(&ev);
    char fee_text[48];
    forms_money_text(fee, lang, fee_text, sizeof(fee_text));
    int last = next_visible(&ev, (int)def->step_count, -1);
    json_t *ctx =
        json_pack("{s:s, s:o, s:s, s:s, s:s?, s:s, s:o, s:b, s:b}", "form_title",
                  forms_tr(&def->title, lang), "steps", steps, "action", step_url(req, def, d, -1),
                  "version", def->hash, "fee", fee ? fee_text : NULL, "back_url",
                  step_url(req, def, d, last), "errors", errors_json(req, probs), "has_errors",
                  probs && probs->count > 0, "anonymous", d->user_id == 0);
    return http_render(req, probs && probs->count ? 400 : 200, "forms/summary", ctx);
}

static int step_page(struct http_request *req, struct kr_error *err)
{
    const struct forms_def *def = def_of(req, err);
    struct db_conn *conn;
    struct forms_draft d;
    if (!def)
        return err->code;
    int rc = draft_of(req, def, &conn, &d, err);
    if (rc == KR_OK)
        rc = http_session_ensure(req, err);
    if (rc)
        return rc;
    const char *sid = http_param(req, "step");
    int s = strcmp(sid, "pruefen") == 0 ? -1 : step_index(def, sid);
    if (s < 0 && strcmp(sid, "pruefen") != 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this form has no such step");
    struct forms_eval ev;
    forms_eval_init(&ev, def, d.answers, http_arena(req));
    bool redirected;
    rc = guard_step(req, def, &d, &ev, s, &redirected);
    if (rc || redirected)
        return rc;
    return s < 0 ? summary_ctx(req, def, &d, NULL) : show_step(req, def, &d, s, NULL, NULL);
}

/* Add or remove a row of a group without JavaScript: the posted row count
 * changes and the page is shown again with what was typed. */
static int row_action(struct http_request *req, const struct forms_def *def,
                      const struct forms_draft *d, int s, const char *action)
{
    char group[64];
    long long row = -1;
    bool add = strncmp(action, "add:", 4) == 0;
    if (add)
        snprintf(group, sizeof(group), "%s", action + 4);
    else if (sscanf(action, "remove:%63[a-z0-9_]:%lld", group, &row) != 2)
        return KR_ERR_INVALID;
    const struct forms_field *f = forms_field_find(def, group);
    if (!f || f->type != FORMS_GROUP || f->step != s)
        return KR_ERR_INVALID;
    const struct text_pairs *in = http_form_fields(req);
    struct forms_draft copy = *d;
    struct forms_problems probs = {0};
    struct forms_eval ev;
    forms_eval_init(&ev, def, d->answers, http_arena(req));
    if (forms_read_step(&ev, s, in, &probs) != KR_OK)
        return KR_ERR_NOMEM;
    json_t *rows = json_object_get(d->answers, f->id);
    if (!json_is_array(rows)) {
        rows = json_array();
        json_object_set_new(d->answers, f->id, rows);
    }
    if (add && json_array_size(rows) < f->max_rows)
        json_array_append_new(rows, json_object());
    else if (!add && row >= 0 && (size_t)row < json_array_size(rows))
        json_array_remove(rows, (size_t)row);
    copy.answers = d->answers;
    return show_step(req, def, &copy, s, NULL, NULL);
}

static int save_page(struct http_request *req, const struct forms_def *def,
                     const struct forms_draft *d)
{
    char *url = arena_printf(http_arena(req), "%s/formulare/%s/%s/%s", http_config(req)->public_url,
                             def->id, d->token, def->steps[0].id);
    return http_render(
        req, 200, "forms/saved",
        json_pack("{s:s, s:s, s:s, s:b, s:s}", "form_title", forms_tr(&def->title, http_lang(req)),
                  "resume_url", url, "action",
                  arena_printf(http_arena(req), "/formulare/%s/%s/link", def->id, d->token),
                  "anonymous", d->user_id == 0, "version", def->hash));
}

static int check_version(const struct forms_def *def, struct http_request *req,
                         const struct forms_draft *d, struct kr_error *err)
{
    const char *v = http_form(req, "v");
    if (!v || strcmp(v, def->hash) != 0)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "the form was changed or the page was altered; please open the "
                            "form again");
    if (strcmp(d->version, def->hash) != 0)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "this form was changed since you started; please start again");
    return KR_OK;
}

#define MAX_UPLOADS 32

static int upload_problem(struct forms_eval *ev, struct forms_problems *probs,
                          const struct forms_field *f, const char *code)
{
    return forms_problem_add(ev, probs, f->id, code, f);
}

/* Check one uploaded file against its field; NULL when it may be kept,
 * else the problem code. */
static const char *check_upload(struct http_request *req, const struct http_upload *up,
                                const struct forms_field *f, char *mime, size_t size)
{
    struct kr_error err;
    if (up->too_large || up->blob.size > f->max_size || !up->path)
        return "file_size";
    if (forms_sniff(up->path, mime, size, &err) != KR_OK)
        return "file_type";
    bool ok = false;
    for (size_t k = 0; k < f->accept_count; k++)
        ok |= strcmp(f->accept[k], mime) == 0;
    if (!ok)
        return "file_type";
    if (!g.clamd[0])
        return NULL;
    bool infected = false;
    char sig[128] = "";
    if (forms_clamd_scan(g.clamd, up->path, &infected, sig, sizeof(sig), &err) != KR_OK) {
        kr_log(KR_LOG_WARN, "forms_scan_failed", "%s (%s)", err.message, err.detail);
        return "scan";
    }
    if (infected) {
        kr_log(KR_LOG_WARN, "forms_virus_found", "request %s: %s in an upload",
               http_request_id(req), sig);
        return "virus";
    }
    return NULL;
}

/*
 * The files sent with a step: each is checked (size, type by content,
 * virus scan) and listed in the answers of its field, replacing the files
 * sent before; keep[] gets the upload indexes to commit to the blob store
 * once the step is stored.
 */
static int read_uploads(struct http_request *req, const struct forms_def *def, int s,
                        struct forms_eval *ev, struct forms_problems *probs, size_t *keep,
                        size_t *nkeep)
{
    size_t n;
    const struct http_upload *up = http_uploads(req, &n);
    json_t *fresh = json_object();
    int rc = KR_OK;
    *nkeep = 0;
    for (size_t i = 0; i < n && rc == KR_OK; i++) {
        const struct forms_field *f = forms_field_find(def, up[i].field);
        if (!f || f->type != FORMS_FILE || f->step != s || f->group || i >= MAX_UPLOADS) {
            rc = upload_problem(ev, probs, &def->steps[s].fields[0], "tampered");
            continue;
        }
        json_t *arr = json_object_get(fresh, f->id);
        if (!arr)
            json_object_set_new(fresh, f->id, arr = json_array());
        char mime[128];
        const char *code = json_array_size(arr) >= f->max_files
                               ? "file_count"
                               : check_upload(req, &up[i], f, mime, sizeof(mime));
        if (code) {
            rc = upload_problem(ev, probs, f, code);
            continue;
        }
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s}", "name",
                                             up[i].filename[0] ? up[i].filename : "datei", "hash",
                                             up[i].blob.hash, "size", (json_int_t)up[i].blob.size,
                                             "type", mime));
        keep[(*nkeep)++] = i;
    }
    const char *key;
    json_t *arr;
    json_object_foreach(fresh, key, arr) json_object_set(ev->answers, key, arr);
    json_decref(fresh);
    return rc;
}

static int keep_uploads(struct http_request *req, const size_t *keep, size_t n,
                        struct kr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = http_upload_keep(req, keep[i], err);
        if (rc)
            return rc;
    }
    return KR_OK;
}

/*
 * Without JavaScript a question that depends on an answer of the same page
 * appears only after the page was sent.  The page lists the fields it
 * showed (hidden "shown" inputs); a visible field that was not shown is
 * not an error yet: drop its "required" problems and report that the page
 * must be shown again.
 */
static bool reveal(struct http_request *req, const struct forms_def *def, int s,
                   struct forms_eval *ev, struct forms_problems *probs)
{
    const struct text_pairs *in = http_form_fields(req);
    bool any = false;
    const struct forms_step *st = &def->steps[s];
    for (size_t i = 0; i < st->field_count; i++) {
        const struct forms_field *f = &st->fields[i];
        bool shown = false;
        for (size_t k = 0; k < in->count && !shown; k++)
            shown =
                strcmp(in->items[k].name, "shown") == 0 && strcmp(in->items[k].value, f->id) == 0;
        if (shown || f->type == FORMS_COMPUTED || !forms_field_visible(ev, f))
            continue;
        any = true;
        size_t k = 0;
        for (size_t j = 0; j < probs->count; j++)
            if (!(probs->items[j].def == f && strcmp(probs->items[j].code, "required") == 0))
                probs->items[k++] = probs->items[j];
        probs->count = k;
    }
    return any;
}

static int post_step(struct http_request *req, const struct forms_def *def, struct db_conn *conn,
                     struct forms_draft *d, int s, struct kr_error *err)
{
    const char *action = http_form(req, "action");
    action = action ? action : "next";
    if (strncmp(action, "add:", 4) == 0 || strncmp(action, "remove:", 7) == 0) {
        int rc = row_action(req, def, d, s, action);
        return rc == KR_ERR_INVALID ? kr_error_set(err, rc, "unknown row action") : rc;
    }
    struct forms_eval ev;
    struct forms_problems probs = {0};
    forms_eval_init(&ev, def, d->answers, http_arena(req));
    json_t *before = json_deep_copy(d->answers);
    size_t keep[MAX_UPLOADS], nkeep = 0;
    int rc = read_uploads(req, def, s, &ev, &probs, keep, &nkeep);
    if (rc == KR_OK)
        rc = forms_read_step(&ev, s, http_form_fields(req), &probs);
    if (rc == KR_OK && strcmp(action, "save") != 0)
        rc = forms_check_step(&ev, s, &probs);
    if (rc) {
        json_decref(before);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    bool revealed = reveal(req, def, s, &ev, &probs);
    if (probs.count || revealed) {
        /* Nothing of this POST is stored; the page shows what was sent
         * (visibility follows the answers just sent; files not kept are
         * not listed). */
        for (size_t i = 0; i < def->steps[s].field_count; i++) {
            const struct forms_field *f = &def->steps[s].fields[i];
            json_t *old = json_object_get(before, f->id);
            if (f->type == FORMS_FILE && old)
                json_object_set(d->answers, f->id, old);
            else if (f->type == FORMS_FILE)
                json_object_del(d->answers, f->id);
        }
        json_decref(before);
        return show_step(req, def, d, s, http_form_fields(req), &probs);
    }
    json_decref(before);
    if (strcmp(action, "save") != 0)
        d->done |= (int64_t)1 << s;
    const struct account_user *u = http_user(req);
    if (!d->user_id && u)
        d->user_id = u->id;
    if ((rc = keep_uploads(req, keep, nkeep, err)) || (rc = forms_draft_save(conn, d, g.ttl, err)))
        return rc;
    if (strcmp(action, "save") == 0)
        return save_page(req, def, d);
    int next = next_visible(&ev, s, 1);
    if (next >= 0 && step_done(d, next) && first_open_step(&ev, d) < 0)
        next = -1; /* coming back from the summary: return there */
    return http_redirect(req, 303, step_url(req, def, d, next));
}

static int submit(struct http_request *req, const struct forms_def *def, struct db_conn *conn,
                  const struct forms_draft *d, struct kr_error *err)
{
    const struct account_user *u = http_user(req);
    struct forms_submitter who = {.user_id = u ? u->id : d->user_id};
    who.actor = who.user_id ? arena_printf(http_arena(req), "user:%lld", (long long)who.user_id)
                            : "anonymous";
    struct forms_problems probs = {0};
    struct forms_submission sub;
    int rc = forms_submit(conn, def, d, &who, &probs, http_arena(req), &sub, err);
    if (rc == KR_ERR_INVALID && probs.count)
        return summary_ctx(req, def, d, &probs);
    if (rc)
        return rc;
    return http_redirect(req, 303,
                         arena_printf(http_arena(req), "/formulare/eingang/%s", sub.token));
}

static int step_post(struct http_request *req, struct kr_error *err)
{
    const struct forms_def *def = def_of(req, err);
    struct db_conn *conn;
    struct forms_draft d;
    if (!def)
        return err->code;
    int rc = draft_of(req, def, &conn, &d, err);
    if (rc == KR_ERR_NOT_FOUND && strcmp(http_param(req, "step"), "pruefen") == 0) {
        /* A retried submit after the draft became a submission. */
        char *token = NULL;
        struct kr_error e2;
        if (http_db(req, &conn, &e2) == KR_OK &&
            forms_submission_of_draft(conn, http_param(req, "draft"), http_arena(req), &token,
                                      &e2) == KR_OK)
            return http_redirect(req, 303,
                                 arena_printf(http_arena(req), "/formulare/eingang/%s", token));
    }
    if (rc == KR_OK)
        rc = check_version(def, req, &d, err);
    if (rc)
        return rc;
    const char *sid = http_param(req, "step");
    int s = strcmp(sid, "pruefen") == 0 ? -1 : step_index(def, sid);
    if (s < 0 && strcmp(sid, "pruefen") != 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this form has no such step");
    struct forms_eval ev;
    forms_eval_init(&ev, def, d.answers, http_arena(req));
    bool redirected;
    rc = guard_step(req, def, &d, &ev, s, &redirected);
    if (rc || redirected)
        return rc;
    return s < 0 ? submit(req, def, conn, &d, err) : post_step(req, def, conn, &d, s, err);
}

/* Anonymous drafts: the resume link by e-mail. */
static int send_link(struct http_request *req, struct kr_error *err)
{
    const struct forms_def *def = def_of(req, err);
    struct db_conn *conn;
    struct forms_draft d;
    if (!def)
        return err->code;
    int rc = draft_of(req, def, &conn, &d, err);
    if (rc)
        return rc;
    const char *to = http_form(req, "email");
    if (!to || mail_address_check(to, NULL) != KR_OK) {
        json_t *ctx = json_pack(
            "{s:s, s:s, s:s, s:b, s:s, s:s}", "form_title", forms_tr(&def->title, http_lang(req)),
            "resume_url", "", "action",
            arena_printf(http_arena(req), "/formulare/%s/%s/link", def->id, d.token), "anonymous",
            1, "email_error", http_message(req, "forms.error.email"), "email", to ? to : "");
        return http_render(req, 400, "forms/saved", ctx);
    }
    char *url = arena_printf(http_arena(req), "%s/formulare/%s/%s/%s", http_config(req)->public_url,
                             def->id, d.token, def->steps[0].id);
    char *text;
    rc = http_render_string(
        req, "forms/mail/resume",
        json_pack("{s:s, s:s}", "form_title", forms_tr(&def->title, http_lang(req)), "url", url),
        &text, err);
    if (rc)
        return rc;
    struct mail_message m = {
        .to = to, .subject = http_message(req, "forms.saved.mail_subject"), .text = text};
    if ((rc = mail_enqueue(conn, &m, NULL, err)))
        return rc;
    return http_render(
        req, 200, "forms/link_sent",
        json_pack("{s:s, s:s}", "form_title", forms_tr(&def->title, http_lang(req)), "email", to));
}

static int drafts_page(struct http_request *req, struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    struct db_conn *conn;
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    struct forms_draft *list;
    size_t n = 0;
    if (rc == KR_OK)
        rc = forms_draft_list(conn, http_user(req)->id, http_arena(req), &list, &n, err);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct forms_def *def = forms_find(g.set, list[i].form_id);
        if (!def)
            continue;
        char when[32];
        kr_time_format_local(list[i].updated_at, when, sizeof(when));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "title",
                                             forms_tr(&def->title, http_lang(req)), "url",
                                             step_url(req, def, &list[i], 0), "updated", when));
    }
    return http_render(
        req, 200, "forms/drafts",
        json_pack("{s:o, s:b}", "drafts", arr, "has_drafts", json_array_size(arr) > 0));
}

static int done_page(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct forms_submission sub;
    const char *token = http_param(req, "token");
    int rc = token && strlen(token) == 32
                 ? http_db(req, &conn, err)
                 : kr_error_set(err, KR_ERR_NOT_FOUND, "no such submission");
    if (rc == KR_OK)
        rc = forms_submission_load(conn, token, 0, http_arena(req), &sub, err);
    if (rc)
        return rc;
    const struct forms_def *def = forms_find(g.set, sub.form_id);
    char when[32], fee[48];
    kr_time_format_local(sub.created_at, when, sizeof(when));
    forms_money_text(sub.fee_cents, http_lang(req), fee, sizeof(fee));
    return http_render(
        req, 200, "forms/done",
        json_pack("{s:s, s:s, s:s, s:s?, s:s}", "form_title",
                  def ? forms_tr(&def->title, http_lang(req)) : sub.form_id, "number", sub.number,
                  "time", when, "fee", sub.fee_cents ? fee : NULL, "receipt_url",
                  arena_printf(http_arena(req), "/formulare/eingang/%s/quittung.pdf", sub.token)));
}

static int send_pdf(struct http_request *req, struct buf *pdf, const char *name,
                    struct kr_error *err)
{
    if (buf_status(pdf) != KR_OK) {
        buf_release(pdf);
        return kr_error_set(err, KR_ERR_INTERNAL, "the PDF could not be made");
    }
    char disp[160];
    snprintf(disp, sizeof(disp), "inline; filename=\"%s\"", name);
    http_set_header(req, "Content-Disposition", disp);
    int rc = http_send(req, 200, "application/pdf", pdf->data, pdf->len);
    buf_release(pdf);
    return rc;
}

static int receipt_pdf(struct http_request *req, struct kr_error *err)
{
    struct db_conn *conn;
    struct forms_submission sub;
    const char *token = http_param(req, "token");
    int rc = token && strlen(token) == 32
                 ? http_db(req, &conn, err)
                 : kr_error_set(err, KR_ERR_NOT_FOUND, "no such submission");
    if (rc == KR_OK)
        rc = forms_submission_load(conn, token, 0, http_arena(req), &sub, err);
    if (rc)
        return rc;
    const struct forms_def *def = forms_find(g.set, sub.form_id);
    if (!def)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the form of this submission is gone");
    struct buf pdf;
    rc = forms_receipt(def, &sub, http_county_name(req), http_lang(req), &pdf, err);
    if (rc)
        return rc;
    return send_pdf(req, &pdf, "quittung.pdf", err);
}

static int blank_pdf(struct http_request *req, struct kr_error *err)
{
    const struct forms_def *def = def_of(req, err);
    if (!def)
        return err->code;
    struct buf pdf;
    int rc = forms_blank(def, http_county_name(req), http_lang(req), &pdf, err);
    if (rc)
        return rc;
    return send_pdf(req, &pdf, "formular.pdf", err);
}

/* ---- The office's export ----------------------------------------------------------------- */

#define EXPORT_MAX 10000

/* Staff of the form's unit (clerk or head), or an administrator. */
static int office(struct http_request *req, const struct forms_def *def, struct db_conn **conn,
                  struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    const struct account_user *u = http_user(req);
    if (strcmp(u->kind, "staff") != 0)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only staff may export submissions");
    if ((rc = http_db(req, conn, err)))
        return rc;
    if (u->roles & ACCOUNT_ROLE_ADMIN)
        return KR_OK;
    struct account_org_unit unit;
    struct kr_error e2;
    if (u->org_unit_id && def->unit &&
        accounts_org_unit_find(*conn, http_arena(req), def->unit, &unit, &e2) == KR_OK &&
        unit.id == u->org_unit_id && (u->roles & (ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_HEAD_OF_UNIT)))
        return KR_OK;
    return kr_error_set(err, KR_ERR_FORBIDDEN, "only staff of the responsible unit may export");
}

static void csv_cell(struct buf *b, const char *s, bool last)
{
    /* Cells that a spreadsheet would run as a formula get a leading quote. */
    buf_putc(b, '"');
    if (s && strchr("=+-@\t\r", s[0]) && s[0])
        buf_putc(b, '\'');
    for (; s && *s; s++) {
        if (*s == '"')
            buf_putc(b, '"');
        buf_putc(b, *s);
    }
    buf_puts(b, last ? "\"\r\n" : "\";");
}

static int export_csv(struct http_request *req, const struct forms_def *def,
                      const struct forms_submission *subs, size_t n, struct kr_error *err)
{
    struct buf b;
    buf_init(&b, 64 * 1024 * 1024);
    const char *head[] = {"Nummer", "Eingang", "Version", "Gebuehr"};
    for (int i = 0; i < 4; i++)
        csv_cell(&b, head[i], false);
    for (size_t s = 0; s < def->step_count; s++)
        for (size_t i = 0; i < def->steps[s].field_count; i++)
            csv_cell(&b, def->steps[s].fields[i].id,
                     s == def->step_count - 1 && i == def->steps[s].field_count - 1);
    for (size_t k = 0; k < n; k++) {
        json_t *answers = json_loads(subs[k].answers, 0, NULL);
        char when[32], fee[32];
        kr_time_format_rfc3339(subs[k].created_at, when, sizeof(when));
        expr_money_format(subs[k].fee_cents, fee, sizeof(fee));
        csv_cell(&b, subs[k].number, false);
        csv_cell(&b, when, false);
        csv_cell(&b, subs[k].version, false);
        csv_cell(&b, fee, false);
        for (size_t s = 0; s < def->step_count; s++)
            for (size_t i = 0; i < def->steps[s].field_count; i++) {
                const struct forms_field *f = &def->steps[s].fields[i];
                csv_cell(&b,
                         forms_display(f, json_object_get(answers, f->id), "de", http_arena(req)),
                         s == def->step_count - 1 && i == def->steps[s].field_count - 1);
            }
        json_decref(answers);
    }
    if (buf_status(&b)) {
        buf_release(&b);
        return kr_error_set(err, KR_ERR_TOO_LARGE, "the export is too large");
    }
    char disp[128];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s.csv\"", def->id);
    http_set_header(req, "Content-Disposition", disp);
    int rc = http_send(req, 200, "text/csv; charset=utf-8", b.data, b.len);
    buf_release(&b);
    return rc;
}

static int export(struct http_request *req, const char *fmt, struct kr_error *err)
{
    const struct forms_def *def = def_of(req, err);
    struct db_conn *conn;
    if (!def)
        return err->code;
    int rc = office(req, def, &conn, err);
    struct forms_submission *subs;
    size_t n = 0;
    if (rc == KR_OK)
        rc = forms_submission_list(conn, def->id, EXPORT_MAX, http_arena(req), &subs, &n, err);
    if (rc)
        return rc;
    if (strcmp(fmt, "csv") == 0)
        return export_csv(req, def, subs, n, err);
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++) {
        json_t *files = json_array();
        for (size_t i = 0; i < subs[k].file_count; i++)
            json_array_append_new(
                files,
                json_pack("{s:s, s:s, s:s, s:s, s:I}", "field", subs[k].files[i].field, "name",
                          subs[k].files[i].name, "type", subs[k].files[i].content_type, "sha256",
                          subs[k].files[i].hash, "size", (json_int_t)subs[k].files[i].size));
        char when[32];
        kr_time_format_rfc3339(subs[k].created_at, when, sizeof(when));
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "number", subs[k].number,
                                        "created_at", when, "version", subs[k].version, "fee_cents",
                                        (json_int_t)subs[k].fee_cents, "answers",
                                        json_loads(subs[k].answers, 0, NULL), "files", files));
    }
    return http_json(req, 200, json_pack("{s:s, s:o}", "form", def->id, "submissions", arr));
}

static int export_json(struct http_request *req, struct kr_error *err)
{
    return export(req, "json", err);
}

static int export_csv_page(struct http_request *req, struct kr_error *err)
{
    return export(req, "csv", err);
}

/* ---- Worker: expired drafts ------------------------------------- */

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g.lock);
    while (!g.stop) {
        pthread_mutex_unlock(&g.lock);
        struct db_conn *conn;
        struct kr_error err;
        if (db_acquire(g.db, &conn, &err) == KR_OK) {
            int64_t purged = 0;
            if (forms_draft_purge(conn, kr_now(), &purged, &err))
                kr_log(KR_LOG_WARN, "forms_purge", "%s", err.message);
            else if (purged)
                kr_log(KR_LOG_INFO, "forms_drafts_purged", "%lld expired drafts deleted",
                       (long long)purged);
            db_release(conn);
        }
        pthread_mutex_lock(&g.lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        if (!g.stop)
            pthread_cond_timedwait(&g.wake, &g.lock, &ts);
    }
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

/* ---- Routes ---------------------------------------------------------------------------- */

int forms_http_routes(struct http_server *server, const struct kr_config *cfg, struct db *db,
                      struct kr_error *err)
{
    char dir[KR_CONFIG_PATH_MAX + 16];
    if (cfg->forms_dir[0])
        snprintf(dir, sizeof(dir), "%s", cfg->forms_dir);
    else
        snprintf(dir, sizeof(dir), "%s/forms", cfg->share_dir);
    int rc = forms_set_load(dir, &g.set, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < forms_count(g.set); i++)
        if (forms_at(g.set, i)->routing == FORMS_ROUTE_WEBHOOK && !webhook_secret_of(cfg)[0])
            return kr_error_set(err, KR_ERR_CONFIG,
                                "%s: routed to a webhook, but webhook_secret is not set",
                                forms_at(g.set, i)->path);
    g.ttl = cfg->forms_draft_ttl;
    g.db = db;
    snprintf(g.clamd, sizeof(g.clamd), "%s", cfg->forms_clamd_socket);
    static const struct {
        unsigned m;
        const char *path;
        http_handler h;
    } routes[] = {
        {HTTP_GET, "/formulare", list_page},
        {HTTP_GET, "/formulare/entwuerfe", drafts_page},
        {HTTP_GET, "/formulare/eingang/:token", done_page},
        {HTTP_GET, "/formulare/eingang/:token/quittung.pdf", receipt_pdf},
        {HTTP_GET, "/formulare/:form", start_page},
        {HTTP_POST, "/formulare/:form", start},
        {HTTP_GET, "/formulare/:form/leer.pdf", blank_pdf},
        {HTTP_GET, "/formulare/:form/:draft/:step", step_page},
        {HTTP_POST, "/formulare/:form/:draft/link", send_link},
        {HTTP_GET, "/verwaltung/formulare/:form/einreichungen.json", export_json},
        {HTTP_GET, "/verwaltung/formulare/:form/einreichungen.csv", export_csv_page},
    };
    for (size_t i = 0; rc == KR_OK && i < KR_ARRAY_LEN(routes); i++)
        rc = http_route(server, routes[i].m, routes[i].path, routes[i].h, 0, err);
    /* Steps with file fields post multipart/form-data; the others urlencoded. */
    struct http_upload_limits limits = {.max_files = 16};
    if (rc == KR_OK)
        rc = http_route_upload(server, HTTP_POST, "/formulare/:form/:draft/:step", step_post, 0,
                               &limits, err);
    if (rc == KR_OK)
        rc = forms_magic_init(err);
    if (rc == KR_OK && pthread_create(&g.worker, NULL, worker, NULL) != 0)
        rc = kr_error_set(err, KR_ERR_INTERNAL, "cannot start the forms worker");
    g.running = rc == KR_OK;
    return rc;
}

void forms_http_shutdown(void)
{
    if (g.running) {
        pthread_mutex_lock(&g.lock);
        g.stop = true;
        pthread_cond_signal(&g.wake);
        pthread_mutex_unlock(&g.lock);
        pthread_join(g.worker, NULL);
        g.running = false;
    }
    forms_set_free(g.set);
    g.set = NULL;
    forms_magic_release();
}
