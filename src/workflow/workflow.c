/*
 * workflow.c - the engine: seams (actions, guards, holidays, clock),
 * opening cases, transitions with optimistic locking, assignment, notes.
 */
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/accounts.h"
#include "core/log.h"
#include "core/text.h"
#include "core/util.h"
#include "workflow/workflow_internal.h"

/* ---- Actions ---------------------------------------------------------------- */

#define MAX_ACTIONS 32

static struct {
    char name[WORKFLOW_ID_MAX + 1];
    workflow_action_fn fn;
} actions[MAX_ACTIONS];
static size_t action_count;

workflow_action_fn workflow_action_lookup(const char *name)
{
    for (size_t i = 0; i < action_count; i++)
        if (strcmp(actions[i].name, name) == 0)
            return actions[i].fn;
    return NULL;
}

bool workflow_action_known(const char *name)
{
    return workflow_action_lookup(name) != NULL;
}

int workflow_action_register(const char *name, workflow_action_fn fn)
{
    size_t len = name ? strlen(name) : 0;
    if (!fn || len == 0 || len > WORKFLOW_ID_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
        return KR_ERR_INVALID;
    if (workflow_action_lookup(name))
        return KR_ERR_CONFLICT;
    if (action_count == MAX_ACTIONS)
        return KR_ERR_TOO_LARGE;
    memcpy(actions[action_count].name, name, len + 1);
    actions[action_count++].fn = fn;
    return KR_OK;
}

int workflow_run_actions(const struct workflow_action_ctx *ctx, struct kr_error *err)
{
    const struct workflow_state *st = workflow_state_find(ctx->def, ctx->state);
    for (size_t i = 0; st && i < st->action_count; i++) {
        workflow_action_fn fn = workflow_action_lookup(st->actions[i]);
        if (!fn)
            return kr_error_set(err, KR_ERR_INTERNAL, "action %s is not registered",
                                st->actions[i]);
        int rc = fn(ctx, err);
        if (rc) {
            kr_error_prefix(err, "action %s", st->actions[i]);
            return rc;
        }
    }
    return KR_OK;
}

/* ---- Guards: the interim built-in evaluator ------------------------------------- */

enum guard_op { GUARD_TRUTHY, GUARD_FALSY, GUARD_EQ, GUARD_NE };

struct guard {
    enum guard_op op;
    char field[WORKFLOW_ID_MAX + 1];
    char value[256];
};

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int parse_field(const char **s, char out[WORKFLOW_ID_MAX + 1], struct kr_error *err)
{
    size_t n = 0;
    while (isalnum((unsigned char)(*s)[n]) || (*s)[n] == '_' || (*s)[n] == '-')
        n++;
    if (n == 0 || n > WORKFLOW_ID_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "expected a field name at \"%.20s\"", *s);
    memcpy(out, *s, n);
    out[n] = '\0';
    *s += n;
    return KR_OK;
}

static int parse_value(const char *s, char out[256], struct kr_error *err)
{
    size_t n;
    if (*s == '\'' || *s == '"') {
        const char *end = strchr(s + 1, *s);
        if (!end || *skip_space(end + 1))
            return kr_error_set(err, KR_ERR_INVALID, "unterminated text or trailing input");
        n = (size_t)(end - s - 1);
        s++;
    } else {
        n = strcspn(s, " \t");
        if (n == 0 || *skip_space(s + n))
            return kr_error_set(err, KR_ERR_INVALID, "expected one value after the operator");
    }
    if (n >= 256)
        return kr_error_set(err, KR_ERR_INVALID, "value too long");
    memcpy(out, s, n);
    out[n] = '\0';
    return KR_OK;
}

static void *builtin_compile(const char *form_id, const char *text, struct kr_error *err)
{
    (void)form_id;
    struct guard g = {GUARD_TRUTHY, "", ""};
    const char *s = skip_space(text);
    if (*s == '!' && s[1] != '=') {
        g.op = GUARD_FALSY;
        s = skip_space(s + 1);
    }
    if (parse_field(&s, g.field, err))
        return NULL;
    s = skip_space(s);
    if (g.op == GUARD_TRUTHY && (strncmp(s, "==", 2) == 0 || strncmp(s, "!=", 2) == 0)) {
        g.op = s[0] == '=' ? GUARD_EQ : GUARD_NE;
        if (parse_value(skip_space(s + 2), g.value, err))
            return NULL;
    } else if (*s) {
        kr_error_set(err, KR_ERR_INVALID,
                     "the interim evaluator understands only field == 'v', field != 'v', "
                     "field and !field");
        return NULL;
    }
    struct guard *out = malloc(sizeof(*out));
    if (out)
        *out = g;
    else
        kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return out;
}

/* The JSON value as text for comparisons; NULL for absent/null. */
static const char *value_text(const json_t *v, char buf[64])
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, 64, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, 64, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_real(v))
        snprintf(buf, 64, "%g", json_real_value(v));
    else
        return NULL;
    return buf;
}

static bool builtin_eval(const void *compiled, json_t *data)
{
    const struct guard *g = compiled;
    const json_t *v = json_object_get(data, g->field);
    char buf[64];
    const char *t = value_text(v, buf);
    bool truthy = t && *t && strcmp(t, "false") != 0 && strcmp(t, "0") != 0;
    switch (g->op) {
    case GUARD_TRUTHY: return truthy;
    case GUARD_FALSY: return !truthy;
    case GUARD_EQ: return t && strcmp(t, g->value) == 0;
    case GUARD_NE: return !t || strcmp(t, g->value) != 0;
    }
    return false;
}

static const struct workflow_guard_evaluator builtin_guards = {builtin_compile, builtin_eval, free};
static const struct workflow_guard_evaluator *guards = &builtin_guards;

void workflow_set_guard_evaluator(const struct workflow_guard_evaluator *ev)
{
    guards = ev ? ev : &builtin_guards;
}

const struct workflow_guard_evaluator *workflow_guard_current(void)
{
    return guards;
}

void *workflow_guard_compile(const char *form_id, const char *text, struct kr_error *err)
{
    return guards->compile(form_id, text, err);
}

bool workflow_guard_eval(const void *compiled, json_t *data)
{
    return guards->eval(compiled, data);
}

void workflow_guard_release(void *compiled)
{
    if (guards->release)
        guards->release(compiled);
}

int workflow_guard_builtin_eval(const char *text, json_t *data, bool *out, struct kr_error *err)
{
    void *g = builtin_compile(NULL, text, err);
    if (!g)
        return err ? err->code : KR_ERR_INVALID;
    *out = builtin_eval(g, data);
    free(g);
    return KR_OK;
}

/* ---- Clock and working days ------------------------------------------------------ */

static const struct kr_config *module_cfg;
static struct kr_config default_cfg;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void init_default_cfg(void)
{
    kr_config_defaults(&default_cfg);
}

void workflow_set_config(const struct kr_config *cfg)
{
    module_cfg = cfg;
}

const struct kr_config *workflow_config(const struct kr_config *cfg)
{
    if (cfg)
        return cfg;
    if (module_cfg)
        return module_cfg;
    pthread_once(&default_once, init_default_cfg);
    return &default_cfg;
}

static int64_t (*clock_fn)(void);
static workflow_holiday_fn holiday_fn;
static void *holiday_ctx;
static atomic_bool warned_no_calendar;

void workflow_set_clock(int64_t (*now)(void))
{
    clock_fn = now;
}

int64_t workflow_now(void)
{
    return clock_fn ? clock_fn() : kr_now();
}

void workflow_set_holiday_fn(workflow_holiday_fn fn, void *ctx)
{
    holiday_fn = fn;
    holiday_ctx = ctx;
}

static bool working_day(const struct tm *tm)
{
    if (tm->tm_wday == 0 || tm->tm_wday == 6)
        return false;
    return !(holiday_fn &&
             holiday_fn(tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, holiday_ctx));
}

int64_t workflow_deadline(int64_t at, unsigned days)
{
    if (!holiday_fn && !atomic_exchange(&warned_no_calendar, true))
        kr_log(KR_LOG_WARN, "workflow_no_holidays",
               "deadlines count weekends only: no public holiday calendar is set");
    time_t t = (time_t)at;
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = 12; /* noon: day steps never trip over a DST change */
    tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    for (unsigned n = 0; n < days;) {
        tm.tm_mday++;
        (void)mktime(&tm);
        if (working_day(&tm))
            n++;
    }
    tm.tm_mday++;
    tm.tm_hour = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

/* ---- Shared helpers ------------------------------------------------------------- */

void workflow_actor_name(int64_t id, char out[32])
{
    if (id > 0)
        snprintf(out, 32, "user:%" PRId64, id);
    else
        snprintf(out, 32, "system");
}

int workflow_audit(struct db_conn *conn, const char *actor, const char *action, int64_t case_id,
                   json_t *details, struct kr_error *err)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, case_id);
    struct audit_event ev = {actor, action, "case", id, details};
    int rc = audit_append(conn, &ev, NULL, err);
    json_decref(details);
    return rc;
}

int workflow_history_add(struct db_conn *conn, const struct workflow_hist *h, struct kr_error *err)
{
    return db_exec(conn,
                   "INSERT INTO workflow_history (case_id, at, kind, actor_id, transition, "
                   "from_state, to_state, text, fields, public) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                   DB_PARAMS(DB_INT(h->case_id), DB_INT(h->at), DB_TEXT(h->kind),
                             h->actor_id > 0 ? DB_INT(h->actor_id) : DB_NULL,
                             DB_TEXT(h->transition), DB_TEXT(h->from_state), DB_TEXT(h->to_state),
                             DB_TEXT(h->text), DB_TEXT(h->fields), DB_INT(h->public ? 1 : 0)),
                   NULL, err);
}

/* ---- Opening a case -------------------------------------------------------------- */

struct open_tx {
    const struct workflow_case_new *in;
    const struct workflow_def *def;
    int64_t unit_id;
    const char *email;
    char *number, *secret;
    int64_t id;
};

/* "ABCD-EFGH-JKLM-NPQR" from an alphabet without 0/O, 1/I/L. */
static void make_secret(char out[WORKFLOW_SECRET_LEN])
{
    static const char alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    /* Rejection sampling: bytes from 248 on would favour the first eight
     * letters (256 = 8 * 31 + 8). */
    const unsigned limit = 256 - 256 % (sizeof(alphabet) - 1);
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        unsigned char r;
        do
            kr_random_bytes(&r, 1);
        while (r >= limit);
        if (i && i % 4 == 0)
            out[o++] = '-';
        out[o++] = alphabet[r % (sizeof(alphabet) - 1)];
    }
    out[o] = '\0';
}

/* SHA-256 hex of the secret with dashes and spaces dropped, upper case. */
void workflow_secret_hash(const char *secret, char out[65]);
void workflow_secret_hash(const char *secret, char out[65])
{
    char norm[64];
    size_t n = 0;
    for (const char *p = secret; *p && n < sizeof(norm) - 1; p++)
        if (*p != '-' && *p != ' ')
            norm[n++] = (char)toupper((unsigned char)*p);
    kr_sha256_hex(norm, n, out);
}

static int next_number(struct db_conn *conn, int64_t now, char *number, struct kr_error *err)
{
    time_t t = (time_t)now;
    struct tm tm;
    localtime_r(&t, &tm);
    int year = tm.tm_year + 1900;
    int64_t n;
    int rc = db_query_int64(conn,
                            "INSERT INTO workflow_counter (year, last_value) VALUES ($1, 1) "
                            "ON CONFLICT (year) DO UPDATE SET last_value = "
                            "workflow_counter.last_value + 1 RETURNING last_value",
                            DB_PARAMS(DB_INT(year)), &n, err);
    if (rc == KR_OK)
        snprintf(number, WORKFLOW_NUMBER_LEN, "%04d-%06" PRId64, year, n);
    return rc;
}

static int open_insert(struct db_conn *conn, struct open_tx *o, int64_t now, struct kr_error *err)
{
    const struct workflow_state *init = workflow_state_find(o->def, o->def->initial);
    char hash[65] = "";
    if (o->in->applicant_id == 0) {
        make_secret(o->secret);
        workflow_secret_hash(o->secret, hash);
    } else if (o->secret) {
        o->secret[0] = '\0';
    }
    int rc = next_number(conn, now, o->number, err);
    if (rc == KR_OK)
        rc = db_query_int64(
            conn,
            "INSERT INTO workflow_case (number, workflow, state, version, unit_id, applicant_id, "
            "applicant_email, submission_ref, data, secret_hash, created_at, state_entered_at, "
            "due_at) VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, $10, $11) RETURNING id",
            DB_PARAMS(DB_TEXT(o->number), DB_TEXT(o->def->id), DB_TEXT(init->name),
                      DB_INT(o->unit_id),
                      o->in->applicant_id ? DB_INT(o->in->applicant_id) : DB_NULL,
                      DB_TEXT(o->email), DB_TEXT(o->in->submission_ref), DB_TEXT(o->in->data),
                      hash[0] ? DB_TEXT(hash) : DB_NULL, DB_INT(now),
                      init->deadline_days ? DB_INT(workflow_deadline(now, init->deadline_days))
                                          : DB_NULL),
            &o->id, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such applicant or unit");
    return rc;
}

static int open_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct open_tx *o = arg;
    int64_t now = workflow_now();
    int rc = open_insert(conn, o, now, err);
    struct workflow_hist h = {
        .case_id = o->id, .at = now, .kind = "open", .to_state = o->def->initial, .public = true};
    if (rc == KR_OK)
        rc = workflow_history_add(conn, &h, err);
    if (rc == KR_OK)
        rc = workflow_audit(conn, o->in->actor ? o->in->actor : "system", "case.open", o->id,
                            json_pack("{s:s, s:s, s:I, s:s?, s:b}", "number", o->number, "workflow",
                                      o->def->id, "unit", (json_int_t)o->unit_id, "submission",
                                      o->in->submission_ref, "anonymous", o->in->applicant_id == 0),
                            err);
    if (rc)
        return rc;
    struct arena *a = arena_new(0);
    struct workflow_case c;
    rc = a ? workflow_case_get(conn, a, o->id, &c, err) : kr_error_set(err, KR_ERR_NOMEM, "oom");
    struct workflow_action_ctx ctx = {.conn = conn,
                                      .a = a,
                                      .def = o->def,
                                      .c = &c,
                                      .state = o->def->initial,
                                      .actor = "system"};
    if (rc == KR_OK)
        rc = workflow_run_actions(&ctx, err);
    arena_free(a);
    return rc;
}

static int open_check(const struct workflow_case_new *in, struct open_tx *o, char *email_buf,
                      struct kr_error *err)
{
    if (!in->data || strlen(in->data) > WORKFLOW_DATA_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "data: a JSON object of at most %d bytes",
                            WORKFLOW_DATA_MAX);
    json_t *data = json_loads(in->data, JSON_REJECT_DUPLICATES, NULL);
    bool object = json_is_object(data);
    json_decref(data);
    if (!object)
        return kr_error_set(err, KR_ERR_INVALID, "data: not a JSON object");
    if (in->applicant_id == 0 && !o->secret)
        return kr_error_set(err, KR_ERR_INVALID, "secret: required for anonymous applicants");
    if (in->applicant_email && *in->applicant_email) {
        int rc = accounts_normalise_email(in->applicant_email, email_buf, err);
        if (rc)
            return kr_error_set(err, KR_ERR_INVALID, "applicant_email: not a valid address");
        o->email = email_buf;
    } else if (in->applicant_id == 0) {
        return kr_error_set(err, KR_ERR_INVALID, "applicant_email: required without an account");
    }
    return KR_OK;
}

static int open_unit(struct db_conn *conn, struct open_tx *o, struct kr_error *err)
{
    if (o->in->unit_id > 0 || !o->def->unit) {
        o->unit_id = o->in->unit_id;
        return o->unit_id > 0 ? KR_OK : kr_error_set(err, KR_ERR_INVALID, "unit: required");
    }
    struct arena *a = arena_new(0);
    struct account_org_unit u;
    int rc = a ? accounts_org_unit_find(conn, a, o->def->unit, &u, err) : KR_ERR_NOMEM;
    if (rc == KR_OK)
        o->unit_id = u.id;
    else if (rc == KR_ERR_NOT_FOUND)
        kr_error_set(err, KR_ERR_NOT_FOUND, "workflow %s: no org unit %s", o->def->id,
                     o->def->unit);
    arena_free(a);
    return rc;
}

int workflow_case_open(struct db_conn *conn, const struct workflow_case_new *in, int64_t *id,
                       char number[WORKFLOW_NUMBER_LEN], char secret[WORKFLOW_SECRET_LEN],
                       struct kr_error *err)
{
    char email[255];
    struct open_tx o = {
        .in = in, .def = workflow_find(in->workflow), .number = number, .secret = secret};
    if (!o.def)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no workflow %s",
                            in->workflow ? in->workflow : "");
    int rc = open_check(in, &o, email, err);
    if (rc == KR_OK)
        rc = open_unit(conn, &o, err);
    if (rc == KR_OK)
        rc = db_transact(conn, open_tx, &o, err);
    if (rc == KR_OK && id)
        *id = o.id;
    return rc;
}

/* ---- Authorisation ----------------------------------------------------------------- */

bool workflow_may_view(const struct workflow_actor *who, const struct workflow_case *c)
{
    if (who->roles & ACCOUNT_ROLE_ADMIN)
        return true;
    return (who->roles & (ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_HEAD_OF_UNIT)) &&
           who->unit_id == c->unit_id && c->unit_id > 0;
}

static bool leaves(const struct workflow_transition *t, const char *state)
{
    for (size_t i = 0; i < t->from_count; i++)
        if (strcmp(t->from[i], state) == 0)
            return true;
    return false;
}

/* May who take t on c (roles only; the guard is checked apart)? */
static bool may_take(const struct workflow_actor *who, const struct workflow_transition *t,
                     const struct workflow_case *c)
{
    if (who->applicant)
        return t->applicant;
    if (who->id == 0)
        return t->system;
    return (t->roles & who->roles) && workflow_may_view(who, c);
}

static bool guard_ok(const struct workflow_transition *t, const struct workflow_case *c)
{
    if (!t->guard_compiled)
        return true;
    json_t *data = json_loads(c->data, 0, NULL);
    bool ok = data && t->guard_ev->eval(t->guard_compiled, data);
    json_decref(data);
    return ok;
}

int workflow_allowed(struct arena *a, const struct workflow_case *c,
                     const struct workflow_actor *who, const struct workflow_transition ***out,
                     size_t *count, struct kr_error *err)
{
    const struct workflow_def *def = workflow_find(c->workflow);
    *count = 0;
    *out = NULL;
    if (!def)
        return KR_OK;
    *out = arena_calloc(a, def->transition_count + 1, sizeof(**out));
    if (!*out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < def->transition_count; i++) {
        const struct workflow_transition *t = &def->transitions[i];
        if (leaves(t, c->state) && may_take(who, t, c) && guard_ok(t, c))
            (*out)[(*count)++] = t;
    }
    return KR_OK;
}

/* ---- Transitions ---------------------------------------------------------------- */

struct transition_tx {
    const struct kr_config *cfg;
    int64_t case_id;
    const char *name;
    int64_t expected;
    const struct workflow_actor *who;
    const char *reason;
    const struct workflow_value *fields;
    size_t field_count;
    struct arena *a;
    int64_t new_version;
};

static const char *field_value(const struct transition_tx *x, const char *name)
{
    for (size_t i = 0; i < x->field_count; i++)
        if (x->fields[i].name && strcmp(x->fields[i].name, name) == 0)
            return x->fields[i].value;
    if (strcmp(name, "reason") == 0)
        return x->reason;
    return NULL;
}

/* The required fields as a JSON object (stolen by the caller). */
static int collect_fields(const struct transition_tx *x, const struct workflow_transition *t,
                          json_t **out, struct kr_error *err)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < t->field_count; i++) {
        const char *v = field_value(x, t->fields[i].name);
        size_t len = v ? strlen(v) : 0;
        while (len && isspace((unsigned char)v[len - 1]))
            len--;
        if (len > WORKFLOW_TEXT_MAX || (v && !text_utf8_valid(v, len))) {
            json_decref(o);
            return kr_error_set(err, KR_ERR_INVALID, "%s: at most %d bytes of text",
                                t->fields[i].name, WORKFLOW_TEXT_MAX);
        }
        if (len == 0 && t->fields[i].required) {
            json_decref(o);
            return kr_error_set(err, KR_ERR_INVALID, "%s: required", t->fields[i].name);
        }
        if (len)
            json_object_set_new(o, t->fields[i].name, json_stringn(v, len));
    }
    if (!o)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    *out = o;
    return KR_OK;
}

static int transition_check(const struct transition_tx *x, const struct workflow_case *c,
                            const struct workflow_def *def, const struct workflow_transition *t,
                            struct kr_error *err)
{
    if (!def)
        return kr_error_set(err, KR_ERR_CONFLICT, "the workflow %s is not loaded", c->workflow);
    if (!x->who->applicant && x->who->id > 0 && !workflow_may_view(x->who, c))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
    if (x->who->applicant && x->who->id > 0 && c->applicant_id != x->who->id)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
    if (c->version != x->expected)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "case %s was changed by someone else in the meantime (now in state "
                            "\"%s\"); reload it and decide again",
                            c->number, c->state);
    if (!t || !leaves(t, c->state))
        return kr_error_set(err, KR_ERR_CONFLICT, "transition %s is not possible in state %s",
                            x->name, c->state);
    if (!may_take(x->who, t, c))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "your role may not take transition %s", t->name);
    if (!guard_ok(t, c))
        return kr_error_set(err, KR_ERR_CONFLICT, "transition %s: condition not met (%s)", t->name,
                            t->guard);
    return KR_OK;
}

static int transition_update(struct db_conn *conn, const struct workflow_case *c,
                             const struct workflow_state *to, int64_t expected, int64_t now,
                             struct kr_error *err)
{
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE workflow_case SET state = $1, version = version + 1, "
                     "state_entered_at = $2, due_at = $3, escalated_at = NULL, closed_at = $4 "
                     "WHERE id = $5 AND version = $6",
                     DB_PARAMS(DB_TEXT(to->name), DB_INT(now),
                               to->deadline_days && !to->final
                                   ? DB_INT(workflow_deadline(now, to->deadline_days))
                                   : DB_NULL,
                               to->final ? DB_INT(now) : DB_NULL, DB_INT(c->id), DB_INT(expected)),
                     &changed, err);
    if (rc == KR_OK && changed != 1)
        rc = kr_error_set(err, KR_ERR_CONFLICT,
                          "case %s was changed by someone else in the meantime; reload it and "
                          "decide again",
                          c->number);
    return rc;
}

static int transition_record(struct db_conn *conn, const struct transition_tx *x,
                             const struct workflow_case *c, const struct workflow_def *def,
                             const struct workflow_transition *t, json_t *fields, int64_t now,
                             struct kr_error *err)
{
    const struct workflow_state *from = workflow_state_find(def, c->state);
    const struct workflow_state *to = workflow_state_find(def, t->to);
    char *ftext = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
    const char *reason = json_string_value(json_object_get(fields, "reason"));
    if (!reason)
        reason = x->reason;
    struct workflow_hist h = {.case_id = c->id,
                              .at = now,
                              .actor_id = x->who->id,
                              .kind = "transition",
                              .transition = t->name,
                              .from_state = c->state,
                              .to_state = t->to,
                              .text = reason,
                              .fields = ftext,
                              .public = !from || strcmp(from->public_de, to->public_de) != 0};
    int rc = ftext ? workflow_history_add(conn, &h, err) : kr_error_set(err, KR_ERR_NOMEM, "oom");
    free(ftext);
    char actor[32];
    workflow_actor_name(x->who->id, actor);
    if (x->who->applicant)
        snprintf(actor, sizeof(actor), "applicant");
    if (rc == KR_OK)
        rc = workflow_audit(conn, actor, "case.transition", c->id,
                            json_pack("{s:s, s:s, s:s, s:s, s:s?, s:O, s:I}", "number", c->number,
                                      "transition", t->name, "from", c->state, "to", t->to,
                                      "reason", reason, "fields", fields, "version",
                                      (json_int_t)(c->version + 1)),
                            err);
    return rc;
}

static int transition_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct transition_tx *x = arg;
    struct workflow_case c;
    int rc = workflow_case_get(conn, x->a, x->case_id, &c, err);
    if (rc)
        return rc;
    const struct workflow_def *def = workflow_find(c.workflow);
    const struct workflow_transition *t = workflow_transition_find(def, x->name);
    json_t *fields = NULL;
    rc = transition_check(x, &c, def, t, err);
    if (rc == KR_OK)
        rc = collect_fields(x, t, &fields, err);
    int64_t now = workflow_now();
    if (rc == KR_OK)
        rc = transition_update(conn, &c, workflow_state_find(def, t->to), x->expected, now, err);
    if (rc == KR_OK)
        rc = transition_record(conn, x, &c, def, t, fields, now, err);
    json_decref(fields);
    struct workflow_case after;
    if (rc == KR_OK)
        rc = workflow_case_get(conn, x->a, x->case_id, &after, err);
    char actor[32];
    workflow_actor_name(x->who->id, actor);
    /* The notice quotes the reason: the caller's, else the field "reason". */
    const char *reason = x->reason;
    for (size_t i = 0; !reason && i < x->field_count; i++)
        if (strcmp(x->fields[i].name, "reason") == 0 && x->fields[i].value[0])
            reason = x->fields[i].value;
    struct workflow_action_ctx ctx = {.conn = conn,
                                      .a = x->a,
                                      .cfg = x->cfg,
                                      .def = def,
                                      .c = &after,
                                      .state = t ? t->to : NULL,
                                      .actor_id = x->who->applicant ? 0 : x->who->id,
                                      .actor = actor,
                                      .reason = reason,
                                      .from = c.state,
                                      .transition = t ? t->name : NULL};
    if (rc == KR_OK)
        rc = workflow_run_actions(&ctx, err);
    if (rc == KR_OK)
        x->new_version = after.version;
    return rc;
}

int workflow_transition(struct db_conn *conn, const struct kr_config *cfg, int64_t case_id,
                        const char *name, int64_t expected_version,
                        const struct workflow_actor *who, const char *reason,
                        const struct workflow_value *fields, size_t field_count,
                        int64_t *new_version, struct kr_error *err)
{
    if (!name || !who)
        return kr_error_set(err, KR_ERR_INVALID, "transition: name required");
    struct transition_tx x = {cfg,    case_id, name,        expected_version, who,
                              reason, fields,  field_count, arena_new(0),     0};
    if (!x.a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int rc = db_transact(conn, transition_tx, &x, err);
    if (rc == KR_OK && new_version)
        *new_version = x.new_version;
    arena_free(x.a);
    return rc;
}

/* ---- Assignment and notes ----------------------------------------------------------- */

struct assign_tx {
    int64_t case_id;
    const struct workflow_actor *who;
    int64_t assignee;
    bool claim;
    const char *note;
};

static int assign_check(struct db_conn *conn, struct arena *a, const struct assign_tx *x,
                        const struct workflow_case *c, struct kr_error *err)
{
    if (!workflow_may_view(x->who, c))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
    if (x->claim && c->assignee_id != 0)
        return kr_error_set(err, KR_ERR_CONFLICT, "case %s is claimed by %s already", c->number,
                            c->assignee_name ? c->assignee_name : "someone");
    bool lead = x->who->roles & (ACCOUNT_ROLE_HEAD_OF_UNIT | ACCOUNT_ROLE_ADMIN);
    bool own = c->assignee_id == 0 || c->assignee_id == x->who->id;
    bool release = x->assignee == 0 && c->assignee_id == x->who->id;
    if (!lead && !release && (x->assignee != x->who->id || !own))
        return kr_error_set(err, KR_ERR_FORBIDDEN,
                            "only the head of unit assigns to others or takes over a case");
    if (x->assignee == 0)
        return KR_OK;
    struct account_user u;
    int rc = accounts_user_get(conn, a, x->assignee, &u, err);
    if (rc == KR_OK && (strcmp(u.kind, "staff") != 0 || u.org_unit_id != c->unit_id))
        rc = kr_error_set(err, KR_ERR_INVALID, "assignee: not staff of the case's unit");
    return rc == KR_ERR_NOT_FOUND ? kr_error_set(err, KR_ERR_INVALID, "assignee: no such account")
                                  : rc;
}

static int assign_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct assign_tx *x = arg;
    struct arena *a = arena_new(0);
    struct workflow_case c;
    int rc = a ? workflow_case_get(conn, a, x->case_id, &c, err) : KR_ERR_NOMEM;
    if (rc == KR_OK)
        rc = assign_check(conn, a, x, &c, err);
    int64_t changed = 0;
    if (rc == KR_OK)
        rc = db_exec(
            conn,
            "UPDATE workflow_case SET assignee_id = $1 WHERE id = $2 AND "
            "($3 = 0 OR assignee_id IS NULL)",
            DB_PARAMS(x->assignee ? DB_INT(x->assignee) : DB_NULL, DB_INT(c.id), DB_INT(x->claim)),
            &changed, err);
    if (rc == KR_OK && changed != 1)
        rc = kr_error_set(err, KR_ERR_CONFLICT, "case %s was claimed meanwhile", c.number);
    char target[24];
    snprintf(target, sizeof(target), "%" PRId64, x->assignee);
    struct workflow_hist h = {.case_id = x->case_id,
                              .at = workflow_now(),
                              .actor_id = x->who->id,
                              .kind = "assign",
                              .text = target};
    if (rc == KR_OK)
        rc = workflow_history_add(conn, &h, err);
    char actor[32];
    workflow_actor_name(x->who->id, actor);
    if (rc == KR_OK)
        rc = workflow_audit(
            conn, actor, x->claim ? "case.claim" : "case.assign", x->case_id,
            json_pack("{s:s, s:I}", "number", c.number, "assignee", (json_int_t)x->assignee), err);
    arena_free(a);
    return rc;
}

int workflow_assign(struct db_conn *conn, int64_t case_id, const struct workflow_actor *who,
                    int64_t assignee_id, bool claim, struct kr_error *err)
{
    struct assign_tx x = {case_id, who, claim ? who->id : assignee_id, claim, NULL};
    return db_transact(conn, assign_tx, &x, err);
}

static int note_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct assign_tx *x = arg;
    struct arena *a = arena_new(0);
    struct workflow_case c;
    int rc = a ? workflow_case_get(conn, a, x->case_id, &c, err) : KR_ERR_NOMEM;
    if (rc == KR_OK && !workflow_may_view(x->who, &c))
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such case");
    struct workflow_hist h = {.case_id = x->case_id,
                              .at = workflow_now(),
                              .actor_id = x->who->id,
                              .kind = "note",
                              .text = x->note};
    if (rc == KR_OK)
        rc = workflow_history_add(conn, &h, err);
    char actor[32];
    workflow_actor_name(x->who->id, actor);
    if (rc == KR_OK)
        rc = workflow_audit(conn, actor, "case.note", x->case_id,
                            json_pack("{s:s}", "number", c.number), err);
    arena_free(a);
    return rc;
}

int workflow_note_add(struct db_conn *conn, int64_t case_id, const struct workflow_actor *who,
                      const char *text, struct kr_error *err)
{
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > WORKFLOW_TEXT_MAX || !text_utf8_valid(text, len))
        return kr_error_set(err, KR_ERR_INVALID, "note: 1 to %d bytes of text", WORKFLOW_TEXT_MAX);
    struct assign_tx x = {case_id, who, 0, false, text};
    return db_transact(conn, note_tx, &x, err);
}
