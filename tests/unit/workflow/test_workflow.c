/* Tests of src/workflow: definition errors with file and line, the
 * interim guard evaluator, working days, and on SQLite and PostgreSQL:
 * opening cases, transitions with optimistic locking (two threads on two
 * connections), authorisation, history, audit, escalation, back-channel. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "accounts/accounts.h"
#include "core/util.h"
#include "intake/intake.h"
#include "intake/intake_internal.h"
#include "notice/notice.h"
#include "payments/payments.h"
#include "workflow/workflow_internal.h"
#include "testdb.h"
#include "workflow/workflow.h"

/* A small valid definition; tests break it in one place each. */
static const char good[] =
    "{\n"
    "  \"id\": \"kita\",\n"
    "  \"form\": \"kita-anmeldung\",\n"
    "  \"title\": {\"de\": \"Kita\", \"en\": \"Day care\"},\n"
    "  \"unit\": \"51.1\",\n"
    "  \"initial\": \"received\",\n"
    "  \"states\": [\n"
    "    {\"name\": \"received\", \"public\": {\"de\": \"Eingegangen\", \"en\": \"Received\"},\n"
    "     \"internal\": \"Eingang\", \"deadline_days\": 2, \"on_enter\": [\"mailbox\"]},\n"
    "    {\"name\": \"missing\", \"public\": \"In Prüfung\", \"on_upload\": \"docs_in\"},\n"
    "    {\"name\": \"checked\", \"public\": \"In Prüfung\", \"internal\": \"Geprüft\"},\n"
    "    {\"name\": \"offered\", \"public\": \"Platz angeboten\", \"on_enter\": [\"mailbox\"]},\n"
    "    {\"name\": \"closed\", \"public\": \"Abgeschlossen\", \"final\": true}\n"
    "  ],\n"
    "  \"transitions\": [\n"
    "    {\"name\": \"check\", \"label\": \"Prüfen\", \"from\": \"received\",\n"
    "     \"to\": \"checked\", \"roles\": [\"clerk\"]},\n"
    "    {\"name\": \"ask\", \"label\": \"Nachfordern\", \"from\": [\"received\"],\n"
    "     \"to\": \"missing\", \"roles\": [\"clerk\"]},\n"
    "    {\"name\": \"docs_in\", \"label\": \"Eingegangen\", \"from\": \"missing\",\n"
    "     \"to\": \"checked\", \"roles\": [\"system\"]},\n"
    "    {\"name\": \"offer\", \"label\": \"Platz anbieten\", \"from\": \"checked\",\n"
    "     \"to\": \"offered\", \"roles\": [\"clerk\"], \"guard\": \"care == 'full'\"},\n"
    "    {\"name\": \"reject\", \"label\": \"Ablehnen\", \"from\": [\"checked\", \"offered\"],\n"
    "     \"to\": \"closed\", \"roles\": [\"head_of_unit\"],\n"
    "     \"fields\": [{\"name\": \"reason\", \"label\": \"Begründung\"}]},\n"
    "    {\"name\": \"accept\", \"label\": \"Annehmen\", \"from\": \"offered\",\n"
    "     \"to\": \"closed\", \"roles\": [\"applicant\", \"clerk\"]}\n"
    "  ]\n"
    "}\n";

/* Replace the first occurrence of from in good by to. */
static char *variant(const char *from, const char *to)
{
    static char buf[8192];
    const char *p = strstr(good, from);
    assert_non_null(p);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
    return buf;
}

static void test_definition_errors(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *message;
    } cases[] = {
        {"\"id\": \"kita\",", "\"id\": \"kita\"", "kita.json:3: "},
        {"\"to\": \"offered\"", "\"to\": \"offerd\"",
         "kita.json:23: transition \"offer\": unknown target state \"offerd\""},
        {"[\"head_of_unit\"]", "[\"boss\"]",
         "kita.json:25: transition \"reject\": unknown role \"boss\""},
        {"\"on_enter\": [\"mailbox\"]}", "\"on_enter\": [\"fax\"]}",
         "kita.json:9: state \"received\": unknown action \"fax\""},
        {"\"initial\": \"received\",", "", "kita.json:1: missing initial state"},
        {"\"initial\": \"received\"", "\"initial\": \"nowhere\"",
         "kita.json:6: unknown initial state \"nowhere\""},
        {"\"to\": \"offered\"", "\"to\": \"checked\"",
         "kita.json:12: state \"offered\" cannot be reached"},
        {"\"from\": \"received\",\n     \"to\": \"checked\"",
         "\"from\": \"recieved\",\n     \"to\": \"checked\"",
         "kita.json:16: transition \"check\": unknown state \"recieved\""},
        {"care == 'full'", "care = 'full'", "kita.json:23: transition \"offer\": guard"},
        {"\"on_upload\": \"docs_in\"", "\"on_upload\": \"check\"",
         "state \"missing\": \"on_upload\""},
        {"\"on_upload\": \"docs_in\"", "\"on_upload\": \"docs_in\", \"on_paid\": \"ask\"",
         "state \"missing\": \"on_paid\" must name a transition from it"},
        {"\"internal\": \"Geprüft\"", "\"internal\": \"Geprüft\", \"notice\": \"ok\"",
         "state \"checked\": the action \"notice\" and the key \"notice\""},
        {"\"internal\": \"Geprüft\"", "\"internal\": \"Geprüft\", \"notice\": \"A/B\"",
         "state \"checked\": bad notice template name"},
        {"\"internal\": \"Geprüft\"",
         "\"internal\": \"Geprüft\", \"webhook\": \"https://fv.example.org/in\"",
         "state \"checked\": the action \"webhook\" and the key \"webhook\""},
        {"\"internal\": \"Geprüft\"",
         "\"internal\": \"Geprüft\", \"on_enter\": [\"webhook\"], \"webhook\": "
         "\"ftp://fv.example.org/in\"",
         "kita.json:11: state \"checked\": webhook URL must be http:// or https://"},
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        const char *text = variant(cases[i].from, cases[i].to);
        struct workflow_def *d = NULL;
        struct kr_error err;
        kr_error_clear(&err);
        int rc = workflow_def_parse(a, "kita.json", text, strlen(text), &d, &err);
        if (rc != KR_ERR_CONFIG || !strstr(err.message, cases[i].message))
            fail_msg("case %zu: rc %d, message \"%s\", want \"%s\"", i, rc, err.message,
                     cases[i].message);
    }
    struct workflow_def *d = NULL;
    struct kr_error err;
    assert_int_equal(workflow_def_parse(a, "kita.json", good, strlen(good), &d, &err), KR_OK);
    assert_int_equal(d->state_count, 5);
    assert_int_equal(d->transition_count, 6);
    assert_string_equal(d->states[0].public_en, "Received");
    assert_true(d->transitions[5].applicant);
    for (size_t i = 0; i < d->transition_count; i++)
        if (d->transitions[i].guard_compiled)
            free(d->transitions[i].guard_compiled);
    arena_free(a);
}

static void test_guards(void **state)
{
    (void)state;
    json_t *data = json_pack("{s:s, s:i, s:b, s:s, s:n}", "care", "full", "children", 2, "sibling",
                             1, "empty", "", "nothing");
    static const struct {
        const char *guard;
        bool want;
    } cases[] = {
        {"care == 'full'", true},
        {"care == \"half\"", false},
        {"care != 'half'", true},
        {"children == 2", true},
        {"children == '3'", false},
        {"sibling", true},
        {"!sibling", false},
        {"empty", false},
        {"!empty", true},
        {"nothing", false},
        {"absent", false},
        {"absent != 'x'", true},
        {" sibling == true ", true},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        bool got;
        struct kr_error err;
        assert_int_equal(workflow_guard_builtin_eval(cases[i].guard, data, &got, &err), KR_OK);
        if (got != cases[i].want)
            fail_msg("guard %s gave %d", cases[i].guard, got);
    }
    static const char *const bad[] = {"", "a ==", "a == 'x", "a > 1", "a == 'x' && b", "== 'x'"};
    for (size_t i = 0; i < KR_ARRAY_LEN(bad); i++) {
        bool got;
        struct kr_error err;
        if (workflow_guard_builtin_eval(bad[i], data, &got, &err) != KR_ERR_INVALID)
            fail_msg("guard \"%s\" was accepted", bad[i]);
    }
    json_decref(data);
}

/* Fixed holidays for the tests: 3 Oct 2025 (Friday) and 25/26 Dec 2025. */
static bool holidays(int y, int m, int d, void *ctx)
{
    (void)ctx;
    return y == 2025 && ((m == 10 && d == 3) || (m == 12 && (d == 25 || d == 26)));
}

static int64_t local_time(int y, int m, int d, int h)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = h, .tm_isdst = -1};
    return (int64_t)mktime(&tm);
}

static void test_working_days(void **state)
{
    (void)state;
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    workflow_set_holiday_fn(holidays, NULL);
    static const struct {
        int y, m, d, h;
        unsigned days;
        int ey, em, ed; /* the last working day */
    } cases[] = {
        {2025, 10, 1, 9, 1, 2025, 10, 2},    /* Wed + 1 = Thu */
        {2025, 10, 2, 9, 1, 2025, 10, 6},    /* Thu + 1: Fri holiday, weekend -> Mon */
        {2025, 10, 24, 23, 5, 2025, 10, 31}, /* over the DST change */
        {2025, 12, 23, 9, 3, 2025, 12, 30},  /* Christmas */
        {2025, 10, 4, 9, 1, 2025, 10, 6},    /* from a Saturday */
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        int64_t due = workflow_deadline(local_time(cases[i].y, cases[i].m, cases[i].d, cases[i].h),
                                        cases[i].days);
        int64_t want = local_time(cases[i].ey, cases[i].em, cases[i].ed + 1, 0);
        if (due != want)
            fail_msg("case %zu: due %lld, want %lld", i, (long long)due, (long long)want);
    }
    workflow_set_holiday_fn(NULL, NULL);
    /* Without a calendar: weekends only, 3 Oct counts as a working day. */
    assert_int_equal(workflow_deadline(local_time(2025, 10, 2, 9), 1), local_time(2025, 10, 4, 0));
}

/* The shipped demo definitions load. */
/* The forms expression language as the guard evaluator (src/intake):
 * without a form the case data is typed by its JSON. */
static void test_expression_guards(void **state)
{
    (void)state;
    intake_guards_use();
    struct kr_error err;
    void *g = workflow_guard_compile(
        NULL, "age >= 18 and born < date(\"2010-01-01\") and kind in ['a', 'b'] and ok", &err);
    assert_non_null(g);
    json_t *d =
        json_pack("{s:i, s:s, s:s, s:b}", "age", 20, "born", "2005-01-01", "kind", "b", "ok", 1);
    assert_true(workflow_guard_eval(g, d));
    json_object_set_new(d, "age", json_integer(17));
    assert_false(workflow_guard_eval(g, d));
    json_object_set_new(d, "age", json_integer(18));
    json_object_set_new(d, "born", json_string("2012-05-01"));
    assert_false(workflow_guard_eval(g, d));
    json_object_del(d, "born"); /* unanswered: null, the condition is false */
    assert_false(workflow_guard_eval(g, d));
    workflow_guard_release(g);
    json_decref(d);
    kr_error_clear(&err);
    assert_null(workflow_guard_compile(NULL, "age >=", &err));
    assert_non_null(strstr(err.message, "column"));
    workflow_set_guard_evaluator(NULL);
}

static void test_shipped_workflows(void **state)
{
    (void)state;
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/workflows", root ? root : ".");
    struct kr_error err;
    kr_error_clear(&err);
    workflow_unload();
    /* The shipped workflows name the notices and the e-file actions. */
    static struct kr_config cfg;
    kr_config_defaults(&cfg);
    snprintf(cfg.share_dir, sizeof(cfg.share_dir), "%s", root ? root : ".");
    if (intake_actions_register(&cfg, NULL, &err) != KR_OK)
        fail_msg("%s", err.message);
    assert_non_null(notice_find("genehmigung"));
    if (workflow_load_dir(dir, &err) != KR_OK)
        fail_msg("%s", err.message);
    size_t n;
    (void)workflow_list(&n);
    assert_int_equal(n, 5);
    /* Each shipped workflow follows one of the shipped forms (forms/). */
    static const char *const forms[] = {"kita-platz", "schule-schuelerbefoerderung",
                                        "bau-baugenehmigung", "kfz-wunschkennzeichen",
                                        "fischerei-fischereischein"};
    for (size_t i = 0; i < KR_ARRAY_LEN(forms); i++)
        assert_non_null(workflow_find_for_form(forms[i]));
    /* A broken file stops the whole load and keeps what was loaded. */
    char bad[] = "/tmp/kr-wf-XXXXXX";
    assert_non_null(mkdtemp(bad));
    char path[256];
    snprintf(path, sizeof(path), "%s/broken.json", bad);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\n  \"id\": \"x\",\n  \"title\": \"X\"\n  \"initial\": \"a\"\n}\n", f);
    fclose(f);
    assert_int_equal(workflow_load_dir(bad, &err), KR_ERR_CONFIG);
    assert_non_null(strstr(err.message, "broken.json:4:"));
    assert_non_null(workflow_find("kita-anmeldung"));
    unlink(path);
    rmdir(bad);
    workflow_unload();
    notice_unload();
    workflow_set_guard_evaluator(NULL); /* the other tests use the built-in one */
}

/* ---- Database tests ---------------------------------------------------------------- */

static const char password[] = "Sonnenblume-Kreis-77";
static int64_t fake_now;
static int64_t test_clock(void)
{
    return fake_now;
}

struct fixture {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
    struct kr_config cfg;
    int64_t unit, other_unit, clerk, clerk2, head, outsider, erika;
};

static int64_t staff(struct fixture *f, const char *login, int64_t unit, unsigned roles)
{
    struct kr_error err;
    struct account_new_user u = {.kind = "staff",
                                 .login = login,
                                 .display_name = login,
                                 .email = "head@example.org",
                                 .password = password,
                                 .org_unit_id = unit,
                                 .roles = roles};
    int64_t id;
    assert_int_equal(accounts_user_add(f->conn, "test", &u, &id, &err), KR_OK);
    return id;
}

static void open_fixture(void **state, struct fixture *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
    f->a = arena_new(0);
    kr_config_defaults(&f->cfg);
    int64_t county;
    assert_int_equal(accounts_org_unit_add(f->conn, "test", 0, "county", "LK", "Landkreis",
                                           "County", &county, &err),
                     KR_OK);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", county, "office", "51.1", "Kita",
                                           "Day care", &f->unit, &err),
                     KR_OK);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", county, "office", "36", "Verkehr",
                                           "Traffic", &f->other_unit, &err),
                     KR_OK);
    f->clerk = staff(f, "k.one", f->unit, ACCOUNT_ROLE_CLERK);
    f->clerk2 = staff(f, "k.two", f->unit, ACCOUNT_ROLE_CLERK);
    f->head = staff(f, "h.head", f->unit, ACCOUNT_ROLE_HEAD_OF_UNIT);
    f->outsider = staff(f, "k.other", f->other_unit, ACCOUNT_ROLE_CLERK);
    struct account_registration r = {"erika@example.org", "Erika", password, NULL};
    int64_t existing, confirmed;
    char token[ACCOUNT_TOKEN_LEN];
    assert_int_equal(accounts_register(f->conn, &r, &f->erika, &existing, token, &err), KR_OK);
    assert_int_equal(accounts_confirm(f->conn, token, &confirmed, &err), KR_OK);
    workflow_unload();
    assert_int_equal(workflow_load_text("kita.json", good, &err), KR_OK);
    fake_now = local_time(2025, 10, 1, 9);
    workflow_set_clock(test_clock);
    workflow_set_holiday_fn(holidays, NULL);
}

static void close_fixture(struct fixture *f)
{
    workflow_unload();
    workflow_set_clock(NULL);
    arena_free(f->a);
    db_release(f->conn);
    testdb_close(f->db);
}

static int64_t count(struct fixture *f, const char *sql, int64_t id)
{
    int64_t n = -1;
    struct kr_error err;
    assert_int_equal(db_query_int64(f->conn, sql, DB_PARAMS(DB_INT(id)), &n, &err), KR_OK);
    return n;
}

static int64_t open_case(struct fixture *f, int64_t applicant, const char *data, char *number,
                         char *secret)
{
    struct kr_error err;
    struct workflow_case_new in = {.workflow = "kita",
                                   .applicant_id = applicant,
                                   .applicant_email = applicant ? NULL : "anon@example.org",
                                   .submission_ref = "S-1",
                                   .data = data,
                                   .actor = "forms"};
    int64_t id;
    int rc = workflow_case_open(f->conn, &in, &id, number, secret, &err);
    if (rc)
        fail_msg("open: %s", err.message);
    return id;
}

static void test_open_and_status(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    char number[WORKFLOW_NUMBER_LEN], secret[WORKFLOW_SECRET_LEN], n2[WORKFLOW_NUMBER_LEN];
    int64_t id = open_case(&f, f.erika, "{\"care\": \"full\"}", number, secret);
    assert_string_equal(number, "2025-000001");
    assert_string_equal(secret, "");
    int64_t anon = open_case(&f, 0, "{}", n2, secret);
    assert_string_equal(n2, "2025-000002");
    assert_int_equal(strlen(secret), 19);
    /* The mailbox action sent the account a message; the anonymous one got
     * an e-mail instead. */
    assert_int_equal(
        count(&f, "SELECT COUNT(*) FROM mailbox_message WHERE account_id = $1", f.erika), 1);
    assert_int_equal(count(&f,
                           "SELECT COUNT(*) FROM audit_entry WHERE action = 'case.open' AND "
                           "object_id = CAST($1 AS TEXT)",
                           anon),
                     1);
    struct workflow_case c;
    struct kr_error err;
    assert_int_equal(workflow_status_lookup(f.conn, f.a, n2, secret, &c, &err), KR_OK);
    assert_int_equal(c.id, anon);
    char lower[WORKFLOW_SECRET_LEN];
    for (size_t i = 0; i <= strlen(secret); i++)
        lower[i] = (char)(secret[i] >= 'A' && secret[i] <= 'Z' ? secret[i] + 32 : secret[i]);
    assert_int_equal(workflow_status_lookup(f.conn, f.a, n2, lower, &c, &err), KR_OK);
    assert_int_equal(workflow_status_lookup(f.conn, f.a, n2, "AAAA-BBBB-CCCC-DDDD", &c, &err),
                     KR_ERR_NOT_FOUND);
    assert_int_equal(workflow_status_lookup(f.conn, f.a, number, "", &c, &err), KR_ERR_NOT_FOUND);
    /* Bad input stores nothing. */
    struct workflow_case_new bad = {.workflow = "kita", .applicant_id = f.erika, .data = "[1]"};
    assert_int_equal(workflow_case_open(f.conn, &bad, &id, number, NULL, &err), KR_ERR_INVALID);
    bad.workflow = "nope";
    assert_int_equal(workflow_case_open(f.conn, &bad, &id, number, NULL, &err), KR_ERR_NOT_FOUND);
    struct workflow_case_new noemail = {.workflow = "kita", .data = "{}"};
    assert_int_equal(workflow_case_open(f.conn, &noemail, &id, number, secret, &err),
                     KR_ERR_INVALID);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM workflow_case WHERE id > $1", 0), 2);
    /* Due: 2 working days after Wed 1 Oct; Fri 3 Oct is a holiday -> Mon 6 Oct ends. */
    assert_int_equal(workflow_case_get(f.conn, f.a, anon, &c, &err), KR_OK);
    assert_int_equal(c.due_at, local_time(2025, 10, 7, 0));
    close_fixture(&f);
}

/* The action "request_payment": entering the state bills the case. */
static void test_request_payment(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    snprintf(f.cfg.share_dir, sizeof(f.cfg.share_dir), "%s", root ? root : ".");
    assert_int_equal(intake_actions_register(&f.cfg, NULL, &err), KR_OK);
    workflow_unload();
    const char *billed = variant("\"public\": \"Platz angeboten\", \"on_enter\": [\"mailbox\"]",
                                 "\"public\": \"Platz angeboten\", \"on_enter\": "
                                 "[\"mailbox\", \"request_payment\"], \"payment\": "
                                 "{\"amount\": \"25.50\", \"purpose\": \"Platzgebühr\"}");
    if (workflow_load_text("kita.json", billed, &err) != KR_OK)
        fail_msg("%s", err.message);
    char number[WORKFLOW_NUMBER_LEN];
    int64_t id =
        open_case(&f, f.erika, "{\"care\": \"full\", \"name\": \"Erika M.\"}", number, NULL);
    struct workflow_actor clerk = {f.clerk, ACCOUNT_ROLE_CLERK, f.unit, false};
    int64_t v = 0;
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "check", 1, &clerk, NULL, NULL, 0, &v, &err),
        KR_OK);
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "offer", v, &clerk, NULL, NULL, 0, &v, &err),
        KR_OK);
    struct payments_receivable *rs;
    size_t n;
    assert_int_equal(payments_receivables_of_case(f.conn, f.a, number, &rs, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rs[0].amount_cents, 2550);
    assert_int_equal(rs[0].debtor_account_id, f.erika);
    assert_string_equal(rs[0].debtor_name, "Erika M.");
    assert_string_equal(rs[0].purpose, "Platzgebühr");
    /* The applicant was told, with the payment page. */
    assert_int_equal(count(&f,
                           "SELECT COUNT(*) FROM mailbox_message WHERE account_id = $1 AND "
                           "body LIKE '%/zahlung/%'",
                           f.erika),
                     1);
    /* The action and its key go together; amounts are checked at load. */
    struct arena *a = arena_new(0);
    struct workflow_def *d;
    const char *bad = variant("\"public\": \"Platz angeboten\", \"on_enter\": [\"mailbox\"]",
                              "\"public\": \"Platz angeboten\", \"on_enter\": "
                              "[\"request_payment\"], \"payment\": {\"amount\": \"-3\", "
                              "\"purpose\": \"x\"}");
    assert_int_equal(workflow_def_parse(a, "kita.json", bad, strlen(bad), &d, &err), KR_ERR_CONFIG);
    assert_non_null(strstr(err.message, "\"payment\": amount like"));
    arena_free(a);
    close_fixture(&f);
    workflow_set_guard_evaluator(NULL);
}

/* The action "webhook": entering the state queues the signed POST of the
 * case's state and data in the transition's transaction. */
static void test_webhook_action(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    workflow_unload();
    const char *hooked = variant("\"public\": \"Platz angeboten\", \"on_enter\": [\"mailbox\"]",
                                 "\"public\": \"Platz angeboten\", \"on_enter\": "
                                 "[\"mailbox\", \"webhook\"], \"webhook\": "
                                 "\"https://fachverfahren.example.org/kita\"");
    if (workflow_load_text("kita.json", hooked, &err) != KR_OK)
        fail_msg("%s", err.message);
    assert_string_equal(workflow_first_webhook(), "kita.json");
    char number[WORKFLOW_NUMBER_LEN];
    int64_t id = open_case(&f, f.erika, "{\"care\": \"full\", \"child\": \"Mia\"}", number,
                           NULL);
    struct workflow_actor clerk = {f.clerk, ACCOUNT_ROLE_CLERK, f.unit, false};
    int64_t v = 0;
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "check", 1, &clerk, NULL, NULL, 0, &v, &err),
        KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM webhook_outbox WHERE id > $1", 0), 0);
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "offer", v, &clerk, NULL, NULL, 0, &v, &err),
        KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM webhook_outbox WHERE id > $1", 0), 1);
    char *body = NULL;
    assert_int_equal(db_query_text(f.conn,
                                   "SELECT body FROM webhook_outbox WHERE ref = $1 AND "
                                   "source = 'workflow' AND event = 'case.state' AND "
                                   "url = 'https://fachverfahren.example.org/kita'",
                                   DB_PARAMS(DB_TEXT(number)), f.a, &body, &err),
                     KR_OK);
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "case")), number);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "offered");
    assert_string_equal(json_string_value(json_object_get(j, "from")), "checked");
    assert_string_equal(json_string_value(json_object_get(j, "transition")), "offer");
    assert_string_equal(json_string_value(json_object_get(j, "public")), "Platz angeboten");
    assert_string_equal(json_string_value(json_object_get(j, "form")), "kita-anmeldung");
    char actor[32];
    snprintf(actor, sizeof(actor), "user:%lld", (long long)f.clerk);
    assert_string_equal(json_string_value(json_object_get(j, "actor")), actor);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), v);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "data"), "child")), "Mia");
    json_decref(j);
    /* A transition that fails (stale version) queues nothing. */
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "accept", 1, &clerk, NULL, NULL, 0, NULL, &err),
        KR_ERR_CONFLICT);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM webhook_outbox WHERE id > $1", 0), 1);
    close_fixture(&f);
}

static void test_transitions(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    char number[WORKFLOW_NUMBER_LEN];
    int64_t id = open_case(&f, f.erika, "{\"care\": \"half\"}", number, NULL);
    struct workflow_actor clerk = {f.clerk, ACCOUNT_ROLE_CLERK, f.unit, false};
    struct workflow_actor head = {f.head, ACCOUNT_ROLE_HEAD_OF_UNIT, f.unit, false};
    struct workflow_actor outsider = {f.outsider, ACCOUNT_ROLE_CLERK, f.other_unit, false};
    struct workflow_actor applicant = {f.erika, 0, 0, true};
    struct kr_error err;
    int64_t v = 0;
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "check", 1, &outsider, NULL, NULL, 0, &v, &err),
        KR_ERR_NOT_FOUND);
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "check", 1, &head, NULL, NULL, 0, &v, &err),
        KR_ERR_FORBIDDEN);
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "check", 1, &applicant, NULL, NULL, 0, &v, &err),
        KR_ERR_FORBIDDEN);
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "offer", 1, &clerk, NULL, NULL, 0, &v, &err),
        KR_ERR_CONFLICT);
    struct workflow_actor stranger = {f.clerk, 0, 0, true}; /* not the case's applicant */
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "check", 1, &stranger, NULL, NULL, 0, &v, &err),
        KR_ERR_NOT_FOUND);
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "check", 1, &clerk, "ok", NULL, 0, &v, &err),
        KR_OK);
    assert_int_equal(v, 2);
    /* A stale version loses. */
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "reject", 1, &head, "x", NULL, 0, &v, &err),
        KR_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "changed by someone else"));
    /* Guard: care is "half", offer needs "full". */
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "offer", 2, &clerk, NULL, NULL, 0, &v, &err),
        KR_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "condition"));
    struct workflow_case c;
    const struct workflow_transition **allowed;
    size_t n;
    assert_int_equal(workflow_case_get(f.conn, f.a, id, &c, &err), KR_OK);
    assert_int_equal(workflow_allowed(f.a, &c, &head, &allowed, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(allowed[0]->name, "reject");
    assert_int_equal(workflow_allowed(f.a, &c, &clerk, &allowed, &n, &err), KR_OK);
    assert_int_equal(n, 0);
    /* Required reason. */
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "reject", 2, &head, "  ", NULL, 0, &v, &err),
        KR_ERR_INVALID);
    struct workflow_value reason = {"reason", "Kein Bedarf nachgewiesen"};
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "reject", 2, &head, NULL, &reason, 1, &v, &err),
        KR_OK);
    assert_int_equal(workflow_case_get(f.conn, f.a, id, &c, &err), KR_OK);
    assert_string_equal(c.state, "closed");
    assert_true(c.closed_at > 0);
    assert_int_equal(c.due_at, 0);
    /* History: public view has states but no reasons or names. */
    struct workflow_event *ev;
    assert_int_equal(workflow_history(f.conn, f.a, &c, true, "en", &ev, &n, &err), KR_OK);
    assert_int_equal(n, 3); /* open, check (public label changes), reject */
    assert_string_equal(ev[0].public_label, "Received");
    assert_null(ev[2].text);
    assert_null(ev[2].actor_name);
    assert_int_equal(workflow_history(f.conn, f.a, &c, false, "de", &ev, &n, &err), KR_OK);
    assert_string_equal(ev[2].text, "Kein Bedarf nachgewiesen");
    assert_string_equal(ev[2].actor_name, "h.head");
    assert_string_equal(ev[1].internal_label, "Geprüft");
    assert_int_equal(count(&f,
                           "SELECT COUNT(*) FROM audit_entry WHERE action = 'case.transition' "
                           "AND object_id = CAST($1 AS TEXT)",
                           id),
                     2);
    close_fixture(&f);
}

struct racer {
    struct db *db;
    const struct kr_config *cfg;
    int64_t id;
    struct workflow_actor who;
    pthread_barrier_t *start;
    int rc;
    char message[KR_ERROR_MESSAGE_MAX];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct db_conn *conn;
    struct kr_error err;
    kr_error_clear(&err);
    r->rc = db_acquire(r->db, &conn, &err);
    pthread_barrier_wait(r->start);
    if (r->rc == KR_OK) {
        r->rc = workflow_transition(conn, r->cfg, r->id, "check", 1, &r->who, "race", NULL, 0, NULL,
                                    &err);
        db_release(conn);
    }
    snprintf(r->message, sizeof(r->message), "%s", err.message);
    return NULL;
}

static void test_concurrent_clerks(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    for (int round = 0; round < 5; round++) {
        char number[WORKFLOW_NUMBER_LEN];
        int64_t id = open_case(&f, f.erika, "{}", number, NULL);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 2);
        struct racer r[2] = {
            {f.db, &f.cfg, id, {f.clerk, ACCOUNT_ROLE_CLERK, f.unit, false}, &start, 0, ""},
            {f.db, &f.cfg, id, {f.clerk2, ACCOUNT_ROLE_CLERK, f.unit, false}, &start, 0, ""},
        };
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, race, &r[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&start);
        int ok = (r[0].rc == KR_OK) + (r[1].rc == KR_OK);
        int conflict = (r[0].rc == KR_ERR_CONFLICT) + (r[1].rc == KR_ERR_CONFLICT);
        if (ok != 1 || conflict != 1)
            fail_msg("round %d: rc %d (%s) and %d (%s)", round, r[0].rc, r[0].message, r[1].rc,
                     r[1].message);
        assert_int_equal(count(&f, "SELECT version FROM workflow_case WHERE id = $1", id), 2);
        assert_int_equal(count(&f,
                               "SELECT COUNT(*) FROM workflow_history WHERE case_id = $1 "
                               "AND kind = 'transition'",
                               id),
                         1);
    }
    close_fixture(&f);
}

static void test_assign_and_escalate(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    char number[WORKFLOW_NUMBER_LEN];
    int64_t id = open_case(&f, f.erika, "{}", number, NULL);
    struct workflow_actor clerk = {f.clerk, ACCOUNT_ROLE_CLERK, f.unit, false};
    struct workflow_actor clerk2 = {f.clerk2, ACCOUNT_ROLE_CLERK, f.unit, false};
    struct workflow_actor head = {f.head, ACCOUNT_ROLE_HEAD_OF_UNIT, f.unit, false};
    struct kr_error err;
    assert_int_equal(workflow_assign(f.conn, id, &clerk, 0, true, &err), KR_OK);
    assert_int_equal(workflow_assign(f.conn, id, &clerk2, 0, true, &err), KR_ERR_CONFLICT);
    assert_int_equal(workflow_assign(f.conn, id, &clerk2, f.clerk2, false, &err), KR_ERR_FORBIDDEN);
    assert_int_equal(workflow_assign(f.conn, id, &head, f.outsider, false, &err), KR_ERR_INVALID);
    assert_int_equal(workflow_assign(f.conn, id, &head, f.clerk2, false, &err), KR_OK);
    assert_int_equal(workflow_note_add(f.conn, id, &clerk2, "Rückruf vereinbart", &err), KR_OK);
    assert_int_equal(workflow_note_add(f.conn, id, &clerk2, "", &err), KR_ERR_INVALID);
    struct workflow_filter filt = {.unit_id = f.unit, .assignee_id = f.clerk2};
    struct workflow_case *list;
    size_t n;
    assert_int_equal(workflow_inbox(f.conn, f.a, &filt, &list, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].assignee_name, "k.two");
    filt.overdue_only = true;
    assert_int_equal(workflow_inbox(f.conn, f.a, &filt, &list, &n, &err), KR_OK);
    assert_int_equal(n, 0);
    /* The clock passes the due date (end of Mon 6 Oct): escalated once. */
    unsigned esc = 0;
    assert_int_equal(
        workflow_check_deadlines(f.conn, &f.cfg, local_time(2025, 10, 6, 23), &esc, &err), KR_OK);
    assert_int_equal(esc, 0);
    fake_now = local_time(2025, 10, 7, 0);
    assert_int_equal(workflow_check_deadlines(f.conn, &f.cfg, fake_now, &esc, &err), KR_OK);
    assert_int_equal(esc, 1);
    assert_int_equal(workflow_check_deadlines(f.conn, &f.cfg, fake_now + 60, &esc, &err), KR_OK);
    assert_int_equal(esc, 0);
    assert_int_equal(workflow_inbox(f.conn, f.a, &filt, &list, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_true(list[0].escalated_at > 0);
    /* The head of unit got a mail without personal data. */
    assert_int_equal(count(&f,
                           "SELECT COUNT(*) FROM mail_message WHERE recipient = "
                           "'head@example.org' AND id > $1",
                           0),
                     1);
    assert_int_equal(count(&f,
                           "SELECT COUNT(*) FROM audit_entry WHERE action = 'case.escalate' "
                           "AND object_id = CAST($1 AS TEXT)",
                           id),
                     1);
    struct workflow_metrics m;
    assert_int_equal(workflow_metrics_get(f.conn, f.a, f.unit, fake_now, &m, &err), KR_OK);
    assert_int_equal(m.per_unit_count, 1);
    assert_int_equal(m.per_unit[0].count, 1);
    assert_int_equal(m.per_unit[0].overdue, 1);
    close_fixture(&f);
}

static void test_back_channel(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    char number[WORKFLOW_NUMBER_LEN];
    int64_t id = open_case(&f, f.erika, "{}", number, NULL);
    struct workflow_actor clerk = {f.clerk, ACCOUNT_ROLE_CLERK, f.unit, false};
    struct kr_error err;
    assert_int_equal(
        workflow_transition(f.conn, &f.cfg, id, "ask", 1, &clerk, NULL, NULL, 0, NULL, &err),
        KR_OK);
    assert_int_equal(workflow_request_document(f.conn, &f.cfg, id, &clerk,
                                               "Bitte die Geburtsurkunde nachreichen.", &err),
                     KR_OK);
    const char **texts;
    size_t n;
    assert_int_equal(workflow_open_requests(f.conn, f.a, id, &texts, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    char hash[65];
    kr_sha256_hex("pdf", 3, hash);
    struct workflow_upload up = {hash, "urkunde.pdf", "application/pdf", 3};
    assert_int_equal(workflow_document_add(f.conn, &f.cfg, id, &up, &err), KR_OK);
    struct workflow_case c;
    assert_int_equal(workflow_case_get(f.conn, f.a, id, &c, &err), KR_OK);
    assert_string_equal(c.state, "checked"); /* on_upload took docs_in */
    assert_int_equal(workflow_open_requests(f.conn, f.a, id, &texts, &n, &err), KR_OK);
    assert_int_equal(n, 0);
    assert_true(workflow_blob_referenced(f.conn, hash));
    assert_int_equal(
        count(&f, "SELECT COUNT(*) FROM mailbox_message WHERE account_id = $1", f.erika),
        2); /* received + the request */
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definition_errors),
        cmocka_unit_test(test_guards),
        cmocka_unit_test(test_working_days),
        cmocka_unit_test(test_shipped_workflows),
        cmocka_unit_test(test_expression_guards),
        TESTDB_BOTH(test_open_and_status),
        TESTDB_BOTH(test_transitions),
        TESTDB_BOTH(test_concurrent_clerks),
        TESTDB_BOTH(test_assign_and_escalate),
        TESTDB_BOTH(test_back_channel),
        TESTDB_BOTH(test_request_payment),
        TESTDB_BOTH(test_webhook_action),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
