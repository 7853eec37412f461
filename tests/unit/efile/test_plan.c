/* Tests of src/efile/plan.c and plan_io.c on SQLite and PostgreSQL: the
 * demo plan, inheritance, import problems with line numbers, deletion
 * rules, export and re-import. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "testdb.h"

static const struct efile_plan_item *find(const struct efile_plan_item *items, size_t n,
                                          const char *number)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].number, number) == 0)
            return &items[i];
    fail_msg("plan item %s missing", number);
    return NULL;
}

static void test_demo_plan_inherits(void **state)
{
    struct fixture f;
    struct kr_error err;
    fixture_open(state, &f, true);
    struct efile_plan_item *items;
    size_t n;
    assert_int_equal(efile_plan_list(f.conn, f.a, &items, &n, &err), KR_OK);
    assert_true(n >= 60);
    /* Tree order: 0 first, its children before 1. */
    assert_string_equal(items[0].number, "0");
    assert_string_equal(items[1].number, "00");
    assert_int_equal(items[1].depth, 1);
    /* 02.10 sets 5 years from a date and V; the unit comes from 02. */
    const struct efile_plan_item *p = find(items, n, "02.10");
    assert_int_equal(p->eff_retention_years, 5);
    assert_string_equal(p->eff_event, "date");
    assert_string_equal(p->eff_evaluation, "V");
    assert_string_equal(p->eff_unit_code, "10.1");
    /* 60.10 inherits 30 years, B and unit 63 from 60; the event from 6. */
    p = find(items, n, "60.10");
    assert_int_equal(p->retention_years, EFILE_INHERIT);
    assert_int_equal(p->eff_retention_years, 30);
    assert_string_equal(p->eff_evaluation, "B");
    assert_string_equal(p->eff_event, "closed");
    assert_string_equal(p->eff_unit_code, "63");
    assert_int_equal(find(items, n, "00.10")->eff_retention_years, EFILE_PERMANENT);
    assert_true(find(items, n, "6")->has_children);
    assert_false(find(items, n, "60.10")->has_children);
    /* The single-item path agrees with the list. */
    struct efile_plan_item one;
    assert_int_equal(efile_plan_get(f.conn, f.a, fixture_plan(&f, "60.10"), &one, &err), KR_OK);
    assert_int_equal(one.eff_retention_years, 30);
    assert_string_equal(one.eff_unit_code, "63");
    assert_int_equal(one.depth, 2);
    /* Changing the parent changes the children's effective values. */
    struct efile_plan_input in = {
        .number = "60", .parent = "6", .title = "Baugenehmigungen", .retention_years = 50};
    assert_int_equal(efile_plan_save(f.conn, "test", &in, NULL, &err), KR_OK);
    assert_int_equal(efile_plan_get(f.conn, f.a, fixture_plan(&f, "60.10"), &one, &err), KR_OK);
    assert_int_equal(one.eff_retention_years, 50);
    assert_string_equal(one.eff_unit_code, "63"); /* from 6 now */
    fixture_close(&f);
}

static const char bad_csv[] = "number;parent;title;description;retention;event;evaluation;unit\n"
                              "7;;Umwelt;;10;closed;B;70\n"
                              "70;7;Immissionsschutz;;101;;;\n"
                              "71;99;Wasserrecht;;10;;;\n"
                              "72;7;Abfall;;zehn;;;\n"
                              "73;7;Natur;;10;;X;\n"
                              "74;7;Wald;;10;;;ZZ\n"
                              "75;7\n"
                              "76;7;\"Quoted; with separator\";\"a \"\"b\"\"\";-5;;;\n";

static void test_import_problems(void **state)
{
    struct fixture f;
    struct kr_error err;
    fixture_open(state, &f, false);
    struct efile_import_result res;
    int rc =
        efile_plan_import(f.conn, f.a, "test", EFILE_CSV, bad_csv, strlen(bad_csv), &res, &err);
    assert_int_equal(rc, KR_ERR_INVALID);
    assert_int_equal(res.saved, 0);
    static const struct {
        unsigned line;
        const char *word;
    } want[] = {{3, "out of range"}, {4, "unknown plan item 99"}, {5, "not a number"},
                {6, "evaluation"},   {7, "unknown unit ZZ"},      {8, "columns"},
                {9, "out of range"}};
    assert_int_equal(res.problem_count, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < res.problem_count; i++) {
        bool found = false;
        for (size_t j = 0; j < res.problem_count; j++)
            if (res.problems[j].line == want[i].line &&
                strstr(res.problems[j].reason, want[i].word))
                found = true;
        if (!found)
            fail_msg("no problem '%s' at line %u", want[i].word, want[i].line);
    }
    /* All or nothing: not even line 2 is stored. */
    assert_int_equal(fixture_count(&f, "SELECT COUNT(*) FROM efile_plan_item"), 0);
    /* A bad header is named. */
    rc = efile_plan_import(f.conn, f.a, "test", EFILE_CSV, "a;b\n1;2\n", 8, &res, &err);
    assert_int_equal(rc, KR_ERR_INVALID);
    assert_non_null(strstr(err.message, "line 1"));
    /* JSON: item numbers, syntax errors with line. */
    static const char js[] = "{\"format\": \"kreisel-fileplan/1\", \"items\": ["
                             "{\"number\": \"1\", \"title\": \"Ordnung\", \"retention\": 10},"
                             "{\"number\": \"10\", \"parent\": \"1\", \"title\": \"X\", "
                             "\"retention\": 500}]}";
    rc = efile_plan_import(f.conn, f.a, "test", EFILE_JSON, js, strlen(js), &res, &err);
    assert_int_equal(rc, KR_ERR_INVALID);
    assert_int_equal(res.problem_count, 1);
    assert_int_equal(res.problems[0].line, 2);
    rc = efile_plan_import(f.conn, f.a, "test", EFILE_JSON, "{\n\"items\": [", 12, &res, &err);
    assert_int_equal(rc, KR_ERR_INVALID);
    assert_non_null(strstr(err.message, "line 2"));
    fixture_close(&f);
}

static void test_delete_rules(void **state)
{
    struct fixture f;
    struct kr_error err;
    fixture_open(state, &f, true);
    assert_int_equal(efile_plan_delete(f.conn, "test", fixture_plan(&f, "60"), &err),
                     KR_ERR_CONFLICT);
    int64_t leaf = fixture_plan(&f, "60.20");
    assert_int_equal(efile_plan_delete(f.conn, "test", leaf, &err), KR_OK);
    assert_int_equal(efile_plan_delete(f.conn, "test", leaf, &err), KR_ERR_NOT_FOUND);
    /* A parent below its own child is refused. */
    struct efile_plan_input in = {
        .number = "6", .parent = "60.10", .title = "Bauwesen", .retention_years = EFILE_INHERIT};
    assert_int_equal(efile_plan_save(f.conn, "test", &in, NULL, &err), KR_ERR_INVALID);
    in = (struct efile_plan_input){.number = "6..1", .title = "x", .retention_years = 1};
    assert_int_equal(efile_plan_save(f.conn, "test", &in, NULL, &err), KR_ERR_INVALID);
    fixture_close(&f);
}

static void test_export_round_trip(void **state)
{
    struct fixture f, g;
    struct kr_error err;
    fixture_open(state, &f, true);
    char *csv, *json, *csv2, *json2;
    size_t len, len2;
    assert_int_equal(efile_plan_export(f.conn, f.a, EFILE_CSV, &csv, &len, &err), KR_OK);
    assert_int_equal(efile_plan_export(f.conn, f.a, EFILE_JSON, &json, &len2, &err), KR_OK);
    fixture_open(state, &g, false);
    struct efile_import_result res;
    assert_int_equal(efile_plan_import(g.conn, g.a, "test", EFILE_JSON, json, len2, &res, &err),
                     KR_OK);
    assert_true(res.saved >= 60);
    assert_int_equal(efile_plan_export(g.conn, g.a, EFILE_CSV, &csv2, &len, &err), KR_OK);
    assert_string_equal(csv, csv2);
    /* Importing the CSV again changes nothing (items are updated). */
    assert_int_equal(
        efile_plan_import(g.conn, g.a, "test", EFILE_CSV, csv2, strlen(csv2), &res, &err), KR_OK);
    assert_int_equal(efile_plan_export(g.conn, g.a, EFILE_JSON, &json2, &len, &err), KR_OK);
    assert_string_equal(json, json2);
    fixture_close(&g);
    fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTDB_BOTH(test_demo_plan_inherits),
        TESTDB_BOTH(test_import_problems),
        TESTDB_BOTH(test_delete_rules),
        TESTDB_BOTH(test_export_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
