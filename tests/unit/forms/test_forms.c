/* test_forms.c - the logic of a fill (reading posted steps, formats,
 * required_if, cross-field checks, cleaning, fees, IBAN) and the storage
 * (drafts, atomic and idempotent submission with routing, hooks, purge,
 * webhook signature), on SQLite and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/text.h"
#include "core/util.h"
#include "forms/forms.h"
#include "testdb.h"

static const char def_text[] =
    "{\"id\": \"t\", \"title\": \"T\", \"fee\": \"12.50 * copies\", \"steps\": [\n"
    " {\"id\": \"a\", \"title\": \"A\", \"fields\": [\n"
    "  {\"id\": \"copies\", \"type\": \"number\", \"label\": \"N\", \"required\": true, \"min\": 1,"
    " \"max\": 10},\n"
    "  {\"id\": \"start\", \"type\": \"date\", \"label\": \"S\"},\n"
    "  {\"id\": \"end\", \"type\": \"date\", \"label\": \"E\"},\n"
    "  {\"id\": \"iban\", \"type\": \"iban\", \"label\": \"I\"},\n"
    "  {\"id\": \"mail\", \"type\": \"email\", \"label\": \"M\", \"required_if\": \"copies > "
    "5\"},\n"
    "  {\"id\": \"kind\", \"type\": \"checkbox\", \"label\": \"K\", \"options\": [\n"
    "    {\"value\": \"x\", \"label\": \"X\"}, {\"value\": \"y\", \"label\": \"Y\"}]},\n"
    "  {\"id\": \"price\", \"type\": \"money\", \"label\": \"P\", \"max\": \"100.00\"},\n"
    "  {\"id\": \"total\", \"type\": \"computed\", \"label\": \"T\", \"value\": \"price * "
    "copies\"},\n"
    "  {\"id\": \"rows\", \"type\": \"group\", \"label\": \"R\", \"max_rows\": 2, \"fields\": [\n"
    "    {\"id\": \"who\", \"type\": \"text\", \"label\": \"W\", \"required\": true}]}\n"
    " ], \"checks\": [{\"field\": \"end\", \"rule\": \"end > start\", \"message\": \"after\"}]},\n"
    " {\"id\": \"b\", \"title\": \"B\", \"skip_if\": \"copies == 1\", \"fields\": [\n"
    "  {\"id\": \"note\", \"type\": \"textarea\", \"label\": \"Note\", \"required\": true}]}\n"
    "]}\n";

struct fx {
    struct forms_set *set;
    const struct forms_def *def;
    struct arena *a;
};

static void fx_open(struct fx *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(forms_set_new(&f->set, &err), KR_OK);
    int rc = forms_set_add(f->set, "t.json", def_text, strlen(def_text), &f->def, &err);
    if (rc)
        fail_msg("%s", err.message);
    f->a = arena_new(0);
}

static void fx_close(struct fx *f)
{
    arena_free(f->a);
    forms_set_free(f->set);
}

/* Read "a=1&b=2" as step s of a fresh fill into answers; problems out. */
static void read_body(struct fx *f, json_t *answers, int s, const char *body,
                      struct forms_problems *probs)
{
    struct text_pairs in;
    struct kr_error err;
    assert_int_equal(text_parse_urlencoded(f->a, body, strlen(body), 1000, &in, &err), KR_OK);
    struct forms_eval ev;
    forms_eval_init(&ev, f->def, answers, f->a);
    memset(probs, 0, sizeof(*probs));
    assert_int_equal(forms_read_step(&ev, s, &in, probs), KR_OK);
    assert_int_equal(forms_check_step(&ev, s, probs), KR_OK);
}

static bool has(const struct forms_problems *p, const char *field, const char *code)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->items[i].field, field) == 0 && strcmp(p->items[i].code, code) == 0)
            return true;
    return false;
}

static void test_read_and_check(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    json_t *ans = json_object();
    struct forms_problems p;
    read_body(&f, ans, 0,
              "copies=7&start=2025-08-01&end=01.08.2025&iban=DE89+3704+0044+0532+0130+00"
              "&kind=x&kind=y&price=12,5&rows.rows=1&rows.0.who=Tom",
              &p);
    assert_true(has(&p, "mail", "required")); /* required_if copies > 5 */
    assert_true(has(&p, "end", "check"));     /* end not after start */
    assert_int_equal(p.count, 2);
    assert_string_equal(json_string_value(json_object_get(ans, "iban")), "DE89370400440532013000");
    assert_int_equal(json_integer_value(json_object_get(ans, "price")), 1250);
    assert_int_equal(json_array_size(json_object_get(ans, "kind")), 2);
    struct forms_eval ev;
    forms_eval_init(&ev, f.def, ans, f.a);
    assert_int_equal(forms_fee(&ev), 8750);
    struct expr_value v;
    forms_value(&ev, "total", &v);
    assert_int_equal(v.type, EXPR_MONEY);
    assert_int_equal(v.i, 8750);

    json_t *ans2 = json_object();
    read_body(&f, ans2, 0,
              "copies=eleven&start=2025-02-30&iban=DE89370400440532013001&mail=x@&kind=z"
              "&price=100.01&rows.rows=10000",
              &p);
    static const char *const want[][2] = {
        {"copies", "number"}, {"start", "date"}, {"iban", "iban"},          {"mail", "email"},
        {"kind", "option"},   {"price", "max"},  {"rows", "too_many_rows"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!has(&p, want[i][0], want[i][1]))
            fail_msg("missing problem %s/%s", want[i][0], want[i][1]);
    read_body(&f, ans2, 0, "copies=0&total=5&evil=1", &p);
    assert_true(has(&p, "copies", "min"));
    assert_true(has(&p, "total", "tampered"));
    read_body(&f, ans2, 0, "copies=1&rows.rows=1&rows.0.who=", &p);
    assert_true(has(&p, "rows.0.who", "required"));
    read_body(&f, ans2, 0, "copies=1&mail=a%0Ab@example.org", &p);
    assert_true(has(&p, "mail", "email"));
    json_decref(ans);
    json_decref(ans2);
    fx_close(&f);
}

static void test_skip_and_clean(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    json_t *ans = json_pack("{s:i, s:s, s:s}", "copies", 1, "note", "old", "total", "x");
    struct forms_eval ev;
    forms_eval_init(&ev, f.def, ans, f.a);
    assert_false(forms_step_visible(&ev, 1));
    forms_clean(&ev);
    assert_null(json_object_get(ans, "note"));  /* skipped step */
    assert_null(json_object_get(ans, "total")); /* computed, never stored */
    json_object_set_new(ans, "copies", json_integer(2));
    assert_true(forms_step_visible(&ev, 1));
    json_decref(ans);
    fx_close(&f);
}

static void test_iban(void **state)
{
    (void)state;
    char out[40];
    static const char *const good[] = {"DE89370400440532013000", "de89 3704 0044 0532 0130 00",
                                       "GB82WEST12345698765432", "AT611904300234573201",
                                       "NL91ABNA0417164300"};
    static const char *const bad[] = {"DE89370400440532013001",
                                      "DE8937040044053201300",
                                      "XX89370400440532013000",
                                      "DE89-3704",
                                      "",
                                      "DE"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(forms_iban_valid(good[i], out, sizeof(out)));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(forms_iban_valid(bad[i], out, sizeof(out)));
}

static int hook_calls;
static int64_t hook_fee;

static int hook(struct db_conn *conn, const struct forms_submission *s, struct kr_error *err)
{
    (void)conn;
    hook_calls++;
    hook_fee = s->fee_cents;
    if (strstr(s->answers, "\"fail\""))
        return kr_error_set(err, KR_ERR_CONFLICT, "hook refused");
    return KR_OK;
}

static int64_t count(struct db_conn *conn, const char *sql)
{
    int64_t n = -1;
    struct kr_error err;
    assert_int_equal(db_query_int64(conn, sql, NULL, 0, &n, &err), KR_OK);
    return n;
}

static void test_submit(void **state)
{
    struct fx f;
    fx_open(&f);
    struct db *db;
    struct db_conn *conn;
    struct kr_error err;
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &db), KR_OK);
    assert_int_equal(db_acquire(db, &conn, &err), KR_OK);
    static bool registered;
    if (!registered) {
        assert_int_equal(forms_on_submit(hook), KR_OK);
        registered = true;
    }
    hook_calls = 0;
    struct forms_draft d, d2;
    assert_int_equal(forms_draft_create(conn, f.def, 0, 3600, f.a, &d, &err), KR_OK);
    assert_int_equal(strlen(d.token), 32);
    struct forms_submitter who = {.user_id = 0, .actor = "anonymous"};
    struct forms_problems p = {0};
    struct forms_submission s, s2;
    /* Incomplete: nothing stored. */
    assert_int_equal(forms_submit(conn, f.def, &d, &who, &p, f.a, &s, &err), KR_ERR_INVALID);
    assert_true(p.count > 0);
    assert_int_equal(count(conn, "SELECT COUNT(*) FROM forms_submission"), 0);
    json_object_set_new(d.answers, "copies", json_integer(3));
    json_object_set_new(d.answers, "note", json_string("hello"));
    d.done = 3;
    assert_int_equal(forms_draft_save(conn, &d, 3600, &err), KR_OK);
    assert_int_equal(forms_draft_load(conn, d.token, f.a, &d2, &err), KR_OK);
    assert_int_equal(json_integer_value(json_object_get(d2.answers, "copies")), 3);
    memset(&p, 0, sizeof(p));
    assert_int_equal(forms_submit(conn, f.def, &d2, &who, &p, f.a, &s, &err), KR_OK);
    assert_int_equal(s.fee_cents, 3750);
    assert_int_equal(hook_calls, 1);
    assert_int_equal(hook_fee, 3750);
    assert_non_null(strstr(s.number, "F-"));
    assert_string_equal(s.version, f.def->hash);
    /* Again (a retried POST): the same submission, no second one. */
    assert_int_equal(forms_submit(conn, f.def, &d2, &who, &p, f.a, &s2, &err), KR_OK);
    assert_string_equal(s2.number, s.number);
    assert_int_equal(count(conn, "SELECT COUNT(*) FROM forms_submission"), 1);
    assert_int_equal(count(conn, "SELECT COUNT(*) FROM forms_case_intake"), 1);
    assert_int_equal(count(conn, "SELECT COUNT(*) FROM forms_draft"), 0);
    assert_int_equal(count(conn, "SELECT COUNT(*) FROM audit_entry WHERE action = 'form.submit'"),
                     1);
    assert_int_equal(forms_draft_load(conn, d.token, f.a, &d2, &err), KR_ERR_NOT_FOUND);
    /* A hook that fails rolls everything back. */
    struct forms_draft d3;
    assert_int_equal(forms_draft_create(conn, f.def, 0, 3600, f.a, &d3, &err), KR_OK);
    json_object_set_new(d3.answers, "copies", json_integer(1));
    json_object_set_new(d3.answers, "iban", json_string("fail"));
    d3.done = 1;
    assert_int_equal(forms_submit(conn, f.def, &d3, &who, &p, f.a, &s2, &err), KR_ERR_CONFLICT);
    assert_int_equal(count(conn, "SELECT COUNT(*) FROM forms_submission"), 1);
    assert_int_equal(count(conn, "SELECT COUNT(*) FROM forms_case_intake"), 1);
    /* Load back, list, purge. */
    assert_int_equal(forms_submission_load(conn, s.token, 0, f.a, &s2, &err), KR_OK);
    assert_int_equal(s2.fee_cents, 3750);
    struct forms_submission *list;
    size_t n;
    assert_int_equal(forms_submission_list(conn, "t", 10, f.a, &list, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    int64_t purged = 0;
    assert_int_equal(forms_draft_purge(conn, kr_now() + 7200, &purged, &err), KR_OK);
    assert_int_equal(purged, 1);
    db_release(conn);
    testdb_close(db);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_and_check),
        cmocka_unit_test(test_skip_and_clean),
        cmocka_unit_test(test_iban),
        TESTDB_BOTH(test_submit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
