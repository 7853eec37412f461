/*
 * store.c - drafts, submissions and routing in the database (tables
 * forms_*, migrations/0009_forms.sql; webhooks go to src/webhook).
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "forms/forms.h"
#include "mail/mail.h"
#include "webhook/webhook.h"

#define MAX_HOOKS 8
static forms_submit_fn hooks[MAX_HOOKS];
static size_t hook_count;

int forms_on_submit(forms_submit_fn fn)
{
    if (hook_count == MAX_HOOKS)
        return KR_ERR_TOO_LARGE;
    hooks[hook_count++] = fn;
    return KR_OK;
}

static void decref(void *p)
{
    json_decref(p);
}

/* ---- Drafts ------------------------------------------------------------------- */

int forms_draft_create(struct db_conn *conn, const struct forms_def *def, int64_t user_id,
                       int64_t ttl, struct arena *a, struct forms_draft *out, struct kr_error *err)
{
    memset(out, 0, sizeof(*out));
    kr_random_hex(out->token, 16);
    out->form_id = def->id;
    out->version = def->hash;
    out->answers = json_object();
    if (!out->answers || arena_defer(a, decref, out->answers))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    out->user_id = user_id;
    out->updated_at = kr_now();
    out->expires_at = out->updated_at + ttl;
    return db_exec(
        conn,
        "INSERT INTO forms_draft (token, form_id, version, answers, done, user_id, "
        "created_at, updated_at, expires_at) VALUES ($1, $2, $3, '{}', 0, $4, $5, $5, $6)",
        DB_PARAMS(DB_TEXT(out->token), DB_TEXT(def->id), DB_TEXT(def->hash),
                  user_id ? DB_INT(user_id) : DB_NULL, DB_INT(out->updated_at),
                  DB_INT(out->expires_at)),
        NULL, err);
}

static int draft_row(struct db_stmt *st, struct arena *a, struct forms_draft *d,
                     struct kr_error *err)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->token, sizeof(d->token), "%s", db_column_text(st, 0));
    d->form_id = db_column_strdup(st, 1, a);
    d->version = db_column_strdup(st, 2, a);
    d->answers = json_loads(db_column_text(st, 3), 0, NULL);
    d->done = db_column_int64(st, 4);
    d->user_id = db_column_int64(st, 5);
    d->updated_at = db_column_int64(st, 6);
    d->expires_at = db_column_int64(st, 7);
    if (!d->answers || arena_defer(a, decref, d->answers) || !d->form_id || !d->version)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return KR_OK;
}

#define DRAFT_COLUMNS "token, form_id, version, answers, done, user_id, updated_at, expires_at"

int forms_draft_load(struct db_conn *conn, const char *token, struct arena *a,
                     struct forms_draft *out, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT " DRAFT_COLUMNS " FROM forms_draft WHERE token = $1 AND "
                      "expires_at > $2",
                      DB_PARAMS(DB_TEXT(token), DB_INT(kr_now())), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW)
        rc = draft_row(st, a, out, err);
    else if (rc == DB_DONE)
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "this draft does not exist or has expired");
    db_finish(st);
    return rc;
}

int forms_draft_save(struct db_conn *conn, const struct forms_draft *d, int64_t ttl,
                     struct kr_error *err)
{
    char *text = json_dumps(d->answers, JSON_COMPACT);
    if (!text)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int64_t now = kr_now(), changes = 0;
    int rc = db_exec(conn,
                     "UPDATE forms_draft SET answers = $2, done = $3, updated_at = $4, "
                     "expires_at = $5, user_id = COALESCE(user_id, $6) WHERE token = $1",
                     DB_PARAMS(DB_TEXT(d->token), DB_TEXT(text), DB_INT(d->done), DB_INT(now),
                               DB_INT(now + ttl), d->user_id ? DB_INT(d->user_id) : DB_NULL),
                     &changes, err);
    free(text);
    if (rc == KR_OK && changes == 0)
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "this draft does not exist any more");
    return rc;
}

int forms_draft_list(struct db_conn *conn, int64_t user_id, struct arena *a,
                     struct forms_draft **out, size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    *count = 0;
    *out = arena_calloc(a, 100, sizeof(**out));
    if (!*out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int rc = db_query(conn,
                      "SELECT " DRAFT_COLUMNS " FROM forms_draft WHERE user_id = $1 AND "
                      "expires_at > $2 ORDER BY updated_at DESC, id DESC LIMIT 100",
                      DB_PARAMS(DB_INT(user_id), DB_INT(kr_now())), &st, err);
    while (rc == KR_OK && (rc = db_step(st, err)) == DB_ROW)
        rc = draft_row(st, a, &(*out)[(*count)++], err);
    db_finish(st);
    return rc == DB_DONE ? KR_OK : rc;
}

int forms_draft_purge(struct db_conn *conn, int64_t now, int64_t *deleted, struct kr_error *err)
{
    return db_exec(conn, "DELETE FROM forms_draft WHERE expires_at <= $1", DB_PARAMS(DB_INT(now)),
                   deleted, err);
}

/* ---- Submissions ------------------------------------------------------------------ */

#define SUB_COLUMNS                                                                                \
    "id, number, token, form_id, version, answers, fee_cents, COALESCE(user_id, 0), created_at"

static int load_files(struct db_conn *conn, struct arena *a, struct forms_submission *s,
                      struct kr_error *err)
{
    struct db_stmt *st;
    struct forms_file *files = arena_calloc(a, 64, sizeof(*files));
    if (!files)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int rc = db_query(conn,
                      "SELECT field, name, content_type, hash, size FROM forms_file "
                      "WHERE submission_id = $1 ORDER BY id LIMIT 64",
                      DB_PARAMS(DB_INT(s->id)), &st, err);
    size_t n = 0;
    while (rc == KR_OK && (rc = db_step(st, err)) == DB_ROW) {
        struct forms_file *f = &files[n++];
        f->field = db_column_strdup(st, 0, a);
        f->name = db_column_strdup(st, 1, a);
        f->content_type = db_column_strdup(st, 2, a);
        snprintf(f->hash, sizeof(f->hash), "%s", db_column_text(st, 3));
        f->size = db_column_int64(st, 4);
        rc = KR_OK;
    }
    db_finish(st);
    s->files = files;
    s->file_count = n;
    return rc == DB_DONE ? KR_OK : rc;
}

static void sub_row(struct db_stmt *st, struct arena *a, struct forms_submission *s)
{
    memset(s, 0, sizeof(*s));
    s->id = db_column_int64(st, 0);
    s->number = db_column_strdup(st, 1, a);
    s->token = db_column_strdup(st, 2, a);
    s->form_id = db_column_strdup(st, 3, a);
    s->version = db_column_strdup(st, 4, a);
    s->answers = db_column_strdup(st, 5, a);
    s->fee_cents = db_column_int64(st, 6);
    s->user_id = db_column_int64(st, 7);
    s->created_at = db_column_int64(st, 8);
}

static int load_where(struct db_conn *conn, const char *sql, struct db_param p, struct arena *a,
                      struct forms_submission *out, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, sql, &p, 1, &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        sub_row(st, a, out);
        rc = out->number && out->answers ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    } else if (rc == DB_DONE) {
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such submission");
    }
    db_finish(st);
    return rc ? rc : load_files(conn, a, out, err);
}

int forms_submission_load(struct db_conn *conn, const char *token, int64_t id, struct arena *a,
                          struct forms_submission *out, struct kr_error *err)
{
    if (token)
        return load_where(conn, "SELECT " SUB_COLUMNS " FROM forms_submission WHERE token = $1",
                          DB_TEXT(token), a, out, err);
    return load_where(conn, "SELECT " SUB_COLUMNS " FROM forms_submission WHERE id = $1",
                      DB_INT(id), a, out, err);
}

int forms_submission_of_draft(struct db_conn *conn, const char *draft_token, struct arena *a,
                              char **token, struct kr_error *err)
{
    return db_query_text(conn, "SELECT token FROM forms_submission WHERE draft_token = $1",
                         DB_PARAMS(DB_TEXT(draft_token)), a, token, err);
}

int forms_submission_list(struct db_conn *conn, const char *form_id, unsigned limit,
                          struct arena *a, struct forms_submission **out, size_t *count,
                          struct kr_error *err)
{
    struct db_stmt *st;
    *count = 0;
    *out = arena_calloc(a, limit ? limit : 1, sizeof(**out));
    if (!*out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int rc = db_query(conn,
                      "SELECT " SUB_COLUMNS " FROM forms_submission WHERE form_id = $1 "
                      "ORDER BY id LIMIT $2",
                      DB_PARAMS(DB_TEXT(form_id), DB_INT(limit)), &st, err);
    while (rc == KR_OK && (rc = db_step(st, err)) == DB_ROW) {
        sub_row(st, a, &(*out)[(*count)++]);
        rc = KR_OK;
    }
    db_finish(st);
    for (size_t i = 0; rc == DB_DONE && i < *count; i++)
        if (load_files(conn, a, &(*out)[i], err))
            return err->code;
    return rc == DB_DONE ? KR_OK : rc;
}

/* "F-2025-000042-7": year, id, and a Luhn check digit over both. */
static void make_number(int64_t id, int64_t now, char *out, size_t size)
{
    char digits[40];
    int year;
    unsigned m, d;
    expr_civil_from_days(now / 86400, &year, &m, &d);
    snprintf(digits, sizeof(digits), "%04d%06lld", year, (long long)id);
    unsigned sum = 0;
    size_t n = strlen(digits);
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(digits[n - 1 - i] - '0');
        if (i % 2 == 0) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    snprintf(out, size, "F-%04d-%06lld-%u", year, (long long)id, (10 - sum % 10) % 10);
}

/* The message of an e-mail routing: where to find the submission. */
static int route_email(struct db_conn *conn, const struct forms_def *def,
                       const struct forms_submission *s, struct kr_error *err)
{
    char subject[256], fee[32];
    expr_money_format(s->fee_cents, fee, sizeof(fee));
    snprintf(subject, sizeof(subject), "Neuer Antrag %s: %s", s->number, def->title.de);
    struct buf body;
    buf_init(&body, 256 * 1024);
    buf_printf(&body,
               "Ein neuer Antrag ist eingegangen.\n\nFormular: %s (%s)\nNummer: %s\n"
               "Gebuehr: %s EUR\nVersion: %s\n\nAntworten (JSON):\n%s\n",
               def->title.de, def->id, s->number, fee, s->version, s->answers);
    int rc = buf_status(&body);
    if (rc == KR_OK) {
        struct mail_message m = {
            .to = def->route_target, .subject = subject, .text = buf_cstr(&body)};
        rc = mail_enqueue(conn, &m, NULL, err);
    } else {
        kr_error_set(err, rc, "the e-mail is too large");
    }
    buf_release(&body);
    return rc;
}

static int route(struct db_conn *conn, const struct forms_def *def,
                 const struct forms_submission *s, struct kr_error *err)
{
    switch (def->routing) {
    case FORMS_ROUTE_EMAIL: return route_email(conn, def, s, err);
    case FORMS_ROUTE_WEBHOOK: {
        json_t *body =
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "submission", s->number, "form", s->form_id,
                      "version", s->version, "fee_cents", (json_int_t)s->fee_cents, "created_at",
                      (json_int_t)s->created_at, "answers", "");
        json_t *answers = json_loads(s->answers, 0, NULL);
        char *text = NULL;
        if (body && answers) {
            json_object_set(body, "answers", answers);
            text = json_dumps(body, JSON_COMPACT);
        }
        json_decref(body);
        json_decref(answers);
        if (!text)
            return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        struct webhook_delivery d = {"forms", s->number, "form.submitted", def->route_target,
                                     text};
        int rc = webhook_enqueue(conn, &d, NULL, err);
        free(text);
        return rc;
    }
    default:
        return db_exec(conn,
                       "INSERT INTO forms_case_intake (submission_id, form_id, unit_code, "
                       "created_at) VALUES ($1, $2, $3, $4)",
                       DB_PARAMS(DB_INT(s->id), DB_TEXT(def->id),
                                 def->unit ? DB_TEXT(def->unit) : DB_NULL, DB_INT(s->created_at)),
                       NULL, err);
    }
}

static int insert_files(struct db_conn *conn, const struct forms_submission *s,
                        struct kr_error *err)
{
    for (size_t i = 0; i < s->file_count; i++) {
        const struct forms_file *f = &s->files[i];
        int rc = db_exec(conn,
                         "INSERT INTO forms_file (submission_id, field, name, content_type, "
                         "hash, size) VALUES ($1, $2, $3, $4, $5, $6)",
                         DB_PARAMS(DB_INT(s->id), DB_TEXT(f->field), DB_TEXT(f->name),
                                   DB_TEXT(f->content_type), DB_TEXT(f->hash), DB_INT(f->size)),
                         NULL, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}

/* The files of the answers (file fields hold [{name, hash, size, type}]). */
static int collect_files(const struct forms_def *def, json_t *answers, struct arena *a,
                         struct forms_submission *s)
{
    struct forms_file *files = arena_calloc(a, 64, sizeof(*files));
    size_t n = 0;
    if (!files)
        return KR_ERR_NOMEM;
    for (size_t st = 0; st < def->step_count; st++)
        for (size_t i = 0; i < def->steps[st].field_count; i++) {
            const struct forms_field *f = &def->steps[st].fields[i];
            json_t *arr = json_object_get(answers, f->id);
            for (size_t k = 0; f->type == FORMS_FILE && k < json_array_size(arr) && n < 64; k++) {
                json_t *o = json_array_get(arr, k);
                files[n].field = f->id;
                files[n].name = json_string_value(json_object_get(o, "name"));
                files[n].content_type = json_string_value(json_object_get(o, "type"));
                snprintf(files[n].hash, sizeof(files[n].hash), "%s",
                         json_string_value(json_object_get(o, "hash")));
                files[n].size = json_integer_value(json_object_get(o, "size"));
                if (files[n].name && files[n].content_type)
                    n++;
            }
        }
    s->files = files;
    s->file_count = n;
    return KR_OK;
}

/* Validate every visible step; problems in *probs. */
static int validate_all(struct forms_eval *ev, const struct forms_draft *d,
                        struct forms_problems *probs)
{
    for (size_t s = 0; s < ev->def->step_count; s++) {
        if (!forms_step_visible(ev, (int)s))
            continue;
        int rc = forms_check_step(ev, (int)s, probs);
        if (rc)
            return rc;
        if (!(d->done & ((int64_t)1 << s)))
            return KR_OK; /* a step never completed: the caller sends the user there */
    }
    return KR_OK;
}

static int write_submission(struct db_conn *conn, const struct forms_def *def,
                            const struct forms_draft *d, const struct forms_submitter *who,
                            struct arena *a, struct forms_submission *s, struct kr_error *err)
{
    int rc = db_query_int64(
        conn,
        "INSERT INTO forms_submission (number, token, draft_token, form_id, "
        "version, answers, fee_cents, user_id, created_at) VALUES ($1, $1, "
        "$2, $3, $4, $5, $6, $7, $8) RETURNING id",
        DB_PARAMS(DB_TEXT(s->token), DB_TEXT(d->token), DB_TEXT(def->id), DB_TEXT(d->version),
                  DB_TEXT(s->answers), DB_INT(s->fee_cents),
                  who->user_id ? DB_INT(who->user_id) : DB_NULL, DB_INT(s->created_at)),
        &s->id, err);
    if (rc)
        return rc;
    char number[40];
    make_number(s->id, s->created_at, number, sizeof(number));
    if (!(s->number = arena_strdup(a, number)))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    rc = db_exec(conn, "UPDATE forms_submission SET number = $2 WHERE id = $1",
                 DB_PARAMS(DB_INT(s->id), DB_TEXT(s->number)), NULL, err);
    if (rc == KR_OK)
        rc = insert_files(conn, s, err);
    if (rc == KR_OK)
        rc = route(conn, def, s, err);
    for (size_t i = 0; rc == KR_OK && i < hook_count; i++)
        rc = hooks[i](conn, s, err);
    if (rc == KR_OK)
        rc = db_exec(conn, "DELETE FROM forms_draft WHERE token = $1", DB_PARAMS(DB_TEXT(d->token)),
                     NULL, err);
    if (rc == KR_OK) {
        char id[32];
        snprintf(id, sizeof(id), "%lld", (long long)s->id);
        json_t *details = json_pack("{s:s, s:s, s:s, s:I}", "form", def->id, "number", s->number,
                                    "version", s->version, "fee_cents", (json_int_t)s->fee_cents);
        struct audit_event ev = {.actor = who->actor,
                                 .action = "form.submit",
                                 .object_type = "form_submission",
                                 .object_id = id,
                                 .details = details};
        rc = details ? audit_append(conn, &ev, NULL, err)
                     : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        json_decref(details);
    }
    return rc;
}

static int existing(struct db_conn *conn, const char *draft_token, struct arena *a,
                    struct forms_submission *out, struct kr_error *err)
{
    return load_where(conn, "SELECT " SUB_COLUMNS " FROM forms_submission WHERE draft_token = $1",
                      DB_TEXT(draft_token), a, out, err);
}

int forms_submit(struct db_conn *conn, const struct forms_def *def, const struct forms_draft *d,
                 const struct forms_submitter *who, struct forms_problems *probs, struct arena *a,
                 struct forms_submission *out, struct kr_error *err)
{
    int rc = existing(conn, d->token, a, out, err);
    if (rc != KR_ERR_NOT_FOUND)
        return rc; /* KR_OK: submitted before, the same submission again */
    kr_error_clear(err);
    struct forms_eval ev;
    forms_eval_init(&ev, def, d->answers, a);
    if ((rc = validate_all(&ev, d, probs)))
        return kr_error_set(err, rc, "out of memory");
    if (probs->count)
        return kr_error_set(err, KR_ERR_INVALID, "the answers are not complete");
    forms_clean(&ev);
    memset(out, 0, sizeof(*out));
    char token[33];
    kr_random_hex(token, 16);
    out->token = arena_strdup(a, token);
    out->form_id = def->id;
    out->version = d->version;
    out->fee_cents = forms_fee(&ev);
    out->user_id = who->user_id;
    out->created_at = kr_now();
    char *text = json_dumps(d->answers, JSON_COMPACT);
    out->answers = text ? arena_strdup(a, text) : NULL;
    free(text);
    if (!out->answers || !out->token || collect_files(def, d->answers, a, out))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if ((rc = db_begin(conn, err)))
        return rc;
    rc = write_submission(conn, def, d, who, a, out, err);
    rc = rc ? rc : db_commit(conn, err);
    if (rc == KR_OK)
        return KR_OK;
    db_rollback(conn);
    if (rc == KR_ERR_CONFLICT) { /* a concurrent retry of the same POST may have won */
        struct kr_error first = *err;
        if (existing(conn, d->token, a, out, err) == KR_OK)
            return KR_OK;
        *err = first;
    }
    return rc;
}

