/* test_definition.c - loading form definitions: a valid form, and start
 * errors with file, line and message for every kind of mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "forms/forms.h"

static const char good[] =
    "{\n"
    "  \"id\": \"test-form\",\n"
    "  \"title\": {\"de\": \"Test\", \"en\": \"Test EN\"},\n"
    "  \"unit\": \"51\",\n"
    "  \"fee\": \"12.50 * copies\",\n"
    "  \"steps\": [\n"
    "    {\"id\": \"one\", \"title\": \"Eins\", \"fields\": [\n"
    "      {\"id\": \"copies\", \"type\": \"number\", \"label\": \"Anzahl\", \"min\": 1, "
    "\"max\": 10, \"required\": true},\n"
    "      {\"id\": \"start\", \"type\": \"date\", \"label\": \"Beginn\"},\n"
    "      {\"id\": \"end\", \"type\": \"date\", \"label\": \"Ende\", "
    "\"show_if\": \"not empty(start)\"},\n"
    "      {\"id\": \"addr\", \"type\": \"address\", \"label\": \"Anschrift\"},\n"
    "      {\"id\": \"kids\", \"type\": \"group\", \"label\": \"Kinder\", \"max_rows\": 3, "
    "\"fields\": [\n"
    "        {\"id\": \"kname\", \"type\": \"text\", \"label\": \"Name\", \"required\": true},\n"
    "        {\"id\": \"kage\", \"type\": \"number\", \"label\": \"Alter\", "
    "\"show_if\": \"kname != 'x'\"}\n"
    "      ]},\n"
    "      {\"id\": \"total\", \"type\": \"computed\", \"label\": \"Summe\", "
    "\"value\": \"12.50 * copies\"}\n"
    "    ], \"checks\": [{\"field\": \"end\", \"rule\": \"end > start\", "
    "\"message\": \"Ende nach Beginn\"}]},\n"
    "    {\"id\": \"two\", \"title\": \"Zwei\", \"skip_if\": \"copies > 5 and "
    "addr.city == 'X'\", \"fields\": [\n"
    "      {\"id\": \"kind\", \"type\": \"radio\", \"label\": \"Art\", \"options\": [\n"
    "        {\"value\": \"a\", \"label\": \"A\"}, {\"value\": \"b\", \"label\": {\"de\": "
    "\"B\"}}]}\n"
    "    ]}\n"
    "  ]\n"
    "}\n";

static void test_good(void **state)
{
    (void)state;
    struct forms_set *set;
    struct kr_error err;
    const struct forms_def *def;
    assert_int_equal(forms_set_new(&set, &err), KR_OK);
    int rc = forms_set_add(set, "good.json", good, strlen(good), &def, &err);
    if (rc)
        fail_msg("%s", err.message);
    assert_string_equal(def->id, "test-form");
    assert_int_equal(def->step_count, 2);
    assert_int_equal(def->steps[0].field_count, 6);
    assert_string_equal(forms_tr(&def->title, "en"), "Test EN");
    assert_string_equal(forms_tr(&def->steps[1].fields[0].options[1].label, "en"), "B");
    assert_int_equal(strlen(def->hash), 64);
    assert_ptr_equal(forms_find(set, "test-form"), def);
    assert_non_null(forms_field_find(def, "kage"));
    assert_int_equal(forms_field_find(def, "kage")->group->max_rows, 3);
    /* The same id twice is refused. */
    assert_int_equal(forms_set_add(set, "again.json", good, strlen(good), NULL, &err),
                     KR_ERR_INVALID);
    assert_non_null(strstr(err.message, "used by another file"));
    forms_set_free(set);
}

/* Replace the first occurrence of from in good by to and load it. */
static void expect_error(const char *from, const char *to, const char *message)
{
    char text[8192];
    const char *p = strstr(good, from);
    if (!p)
        fail_msg("not in the text: %s", from);
    snprintf(text, sizeof(text), "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
    struct forms_set *set;
    struct kr_error err;
    assert_int_equal(forms_set_new(&set, &err), KR_OK);
    int rc = forms_set_add(set, "f.json", text, strlen(text), NULL, &err);
    if (rc != KR_ERR_INVALID || strcmp(err.message, message) != 0)
        fail_msg("%s -> %s: rc %d '%s'", from, to, rc, rc ? err.message : "");
    forms_set_free(set);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("\"show_if\": \"not empty(start)\"", "\"show_if\": \"not empty(strat)\"",
                 "f.json:10: steps[0].end: show_if: column 11: unknown field 'strat'");
    expect_error("\"fee\": \"12.50 * copies\"", "\"fee\": \"12.50 * \"",
                 "f.json:5: fee: column 9: unexpected end of expression");
    expect_error("\"kname != 'x'\"", "\"kname != \"",
                 "f.json:14: steps[0].kids.kage: show_if: column 10: unexpected end of "
                 "expression");
    expect_error("\"type\": \"number\", \"label\": \"Anzahl\"", "\"type\": \"numbr\"",
                 "f.json:8: steps[0].fields[0]: unknown type 'numbr'");
    expect_error("\"id\": \"start\"", "\"id\": \"copies\"",
                 "f.json:8: steps[0].fields[1]: field id 'copies' is used twice");
    expect_error("\"id\": \"start\"", "\"id\": \"Start\"",
                 "f.json:9: steps[0].fields[1]: field id 'Start' must be a-z, 0-9, _ (starting "
                 "with a letter, not a keyword)");
    expect_error("\"title\": {\"de\": \"Test\", \"en\": \"Test EN\"},\n", "",
                 "f.json:2: 'title' is missing");
    expect_error("\"steps\": [", "\"steps\": [,", "f.json:6: unexpected token near ','");
    expect_error("\"value\": \"12.50 * copies\"", "\"value\": \"kname\"",
                 "f.json:16: steps[0].total: value: column 1: unknown field 'kname'");
    expect_error("\"field\": \"end\"", "\"field\": \"kind\"",
                 "f.json:17: steps[0]: check names field 'kind', which is not in this step");
}

static void test_errors2(void **state)
{
    (void)state;
    expect_error("\"min\": 1, \"max\": 10", "\"min\": \"eins\"",
                 "f.json:8: steps[0].fields[0]: 'min' must be an integer from -1000000000000 to "
                 "1000000000000");
    expect_error("\"max_rows\": 3", "\"max_rows\": 10000",
                 "f.json:12: steps[0].fields[4]: 'max_rows' must be an integer from 1 to 100");
    expect_error("\"label\": \"Anzahl\"", "\"label\": \"Anzahl\", \"options\": []",
                 "f.json:8: steps[0].fields[0]: 'options' is only for select, radio and checkbox "
                 "fields");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_errors2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
