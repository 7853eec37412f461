/* test_expr.c - the form expression language: parsing, errors with
 * columns, evaluation of every operator and type, null semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "forms/expr.h"

/* A fixed set of fields for the lookups of the tests. */
static const struct expr_value kinds_items[] = {
    {.type = EXPR_STRING, .s = "krippe", .n = 6},
    {.type = EXPR_STRING, .s = "hort", .n = 4},
};

static void lookup(void *ctx, const char *name, struct expr_value *out)
{
    (void)ctx;
    int64_t d;
    if (strcmp(name, "copies") == 0)
        *out = (struct expr_value){.type = EXPR_NUMBER, .i = 3};
    else if (strcmp(name, "price") == 0)
        *out = (struct expr_value){.type = EXPR_MONEY, .i = 1250};
    else if (strcmp(name, "name") == 0)
        *out = (struct expr_value){.type = EXPR_STRING, .s = "Anna", .n = 4};
    else if (strcmp(name, "born") == 0 && expr_date_parse("2020-08-15", &d) == KR_OK)
        *out = (struct expr_value){.type = EXPR_DATE, .i = d};
    else if (strcmp(name, "start") == 0 && expr_date_parse("2025-08-01", &d) == KR_OK)
        *out = (struct expr_value){.type = EXPR_DATE, .i = d};
    else if (strcmp(name, "kinds") == 0)
        *out = (struct expr_value){.type = EXPR_LIST, .items = kinds_items, .n = 2};
    else if (strcmp(name, "agree") == 0)
        *out = (struct expr_value){.type = EXPR_BOOL, .i = 1};
    else if (strcmp(name, "addr.city") == 0)
        *out = (struct expr_value){.type = EXPR_STRING, .s = "Musterstadt", .n = 11};
    else
        *out = (struct expr_value){.type = EXPR_NULL};
}

static bool known(void *ctx, const char *name)
{
    (void)ctx;
    static const char *const names[] = {"copies", "price", "name",        "born",     "start",
                                        "kinds",  "agree", "empty_field", "addr.city"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static void eval_text(const char *text, struct expr_value *out, struct arena *a)
{
    struct kr_error err;
    struct expr *e = NULL;
    int rc = expr_parse(a, text, known, NULL, &e, &err);
    if (rc != KR_OK)
        fail_msg("%s: %s", text, err.message);
    int64_t today;
    assert_int_equal(expr_date_parse("2025-03-10", &today), KR_OK);
    struct expr_env env = {.lookup = lookup, .today = today};
    expr_eval(e, &env, a, out);
}

struct case_ {
    const char *text;
    enum expr_type type;
    int64_t i;
};

static void test_values(void **state)
{
    (void)state;
    static const struct case_ cases[] = {
        {"1 + 2 * 3", EXPR_NUMBER, 7},
        {"(1 + 2) * 3", EXPR_NUMBER, 9},
        {"12.50 * copies", EXPR_MONEY, 3750},
        {"copies * 12.5", EXPR_MONEY, 3750},
        {"price + 0.05", EXPR_MONEY, 1255},
        {"price / 3", EXPR_MONEY, 417},
        {"10.00 / 4", EXPR_MONEY, 250},
        {"0.05 / 2", EXPR_MONEY, 3}, /* half away from zero */
        {"-0.05 / 2", EXPR_MONEY, -3},
        {"price / 6.25", EXPR_NUMBER, 2},
        {"7 / 2", EXPR_NUMBER, 3},
        {"7 % 4", EXPR_NUMBER, 3},
        {"-copies", EXPR_NUMBER, -3},
        {"--3", EXPR_NUMBER, 3},
        {"copies == 3", EXPR_BOOL, 1},
        {"copies != 3", EXPR_BOOL, 0},
        {"copies >= 3 and copies < 4", EXPR_BOOL, 1},
        {"copies > 3 or name == \"Anna\"", EXPR_BOOL, 1},
        {"not agree", EXPR_BOOL, 0},
        {"not not agree", EXPR_BOOL, 1},
        {"'hort' in kinds", EXPR_BOOL, 1},
        {"'kita' in kinds", EXPR_BOOL, 0},
        {"'kita' not in kinds", EXPR_BOOL, 1},
        {"copies in [1, 2, 3]", EXPR_BOOL, 1},
        {"\"nn\" in name", EXPR_BOOL, 1},
        {"start > born", EXPR_BOOL, 1},
        {"start - born", EXPR_NUMBER, 1812},
        {"start + 30 > date(\"2025-08-30\")", EXPR_BOOL, 1},
        {"start + 30 == date(\"2025-08-31\")", EXPR_BOOL, 1},
        {"start - 1 == date(\"2025-07-31\")", EXPR_BOOL, 1},
        {"years(born, start)", EXPR_NUMBER, 4},
        {"years(born, date('2025-08-15'))", EXPR_NUMBER, 5},
        {"years(born, today())", EXPR_NUMBER, 4},
        {"today() == date('2025-03-10')", EXPR_BOOL, 1},
        {"count(kinds)", EXPR_NUMBER, 2},
        {"count(name)", EXPR_NUMBER, 4},
        {"count(empty_field)", EXPR_NUMBER, 0},
        {"empty(empty_field)", EXPR_BOOL, 1},
        {"empty(name)", EXPR_BOOL, 0},
        {"addr.city == 'Musterstadt'", EXPR_BOOL, 1},
        {"'Anna' < 'Bert'", EXPR_BOOL, 1},
        {"true and false", EXPR_BOOL, 0},
        {"empty_field == null", EXPR_BOOL, 1},
        /* Null and type mismatches. */
        {"empty_field + 1", EXPR_NULL, 0},
        {"empty_field > 1", EXPR_BOOL, 0},
        {"empty_field < 1", EXPR_BOOL, 0},
        {"copies + price", EXPR_NULL, 0},
        {"price * price", EXPR_NULL, 0},
        {"name + 1", EXPR_NULL, 0},
        {"1 / 0", EXPR_NULL, 0},
        {"price / 0", EXPR_NULL, 0},
        {"9223372036854775807 + 1", EXPR_NULL, 0},
        {"9223372036854775807 * 2", EXPR_NULL, 0},
        {"born + start", EXPR_NULL, 0},
        {"date('2025-02-30')", EXPR_NULL, 0 /* never reached: checked at parse */},
        {"copies > '3'", EXPR_BOOL, 0},
        {"1 or true", EXPR_BOOL, 1},
        {"if(copies > 2, 10.00, 5.00) + 0.50", EXPR_MONEY, 1050},
        {"if(empty_field, 1, 2)", EXPR_NUMBER, 2},
        {"if(agree, if(copies == 3, 'a', 'b'), 'c') == 'a'", EXPR_BOOL, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strstr(cases[i].text, "02-30"))
            continue;
        struct arena *a = arena_new(0);
        struct expr_value v;
        eval_text(cases[i].text, &v, a);
        if (v.type != cases[i].type || (v.type != EXPR_NULL && v.i != cases[i].i))
            fail_msg("%s: got type %d value %lld", cases[i].text, v.type, (long long)v.i);
        arena_free(a);
    }
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"copys > 1", "column 1: unknown field 'copys'"},
        {"copies >", "column 9: unexpected end of expression"},
        {"copies > > 1", "column 10: unexpected token"},
        {"(copies", "column 8: expected ')'"},
        {"copies 3", "column 8: unexpected text after the expression"},
        {"'abc", "column 1: unterminated string"},
        {"1 < 2 < 3", "column 7: comparisons do not chain: use 'and'"},
        {"foo(1)", "column 1: unknown function 'foo'"},
        {"years(born)", "column 1: wrong number of arguments to 'years'"},
        {"date('2025-02-30')", "column 1: date() needs \"YYYY-MM-DD\""},
        {"1.234", "column 1: number out of range or with more than two decimals"},
        {"99999999999999999999", "column 1: number out of range or with more than two decimals"},
        {"copies # 2", "column 8: unexpected character '#'"},
        {"x not 3", "column 1: unknown field 'x'"},
        {"copies not 3", "column 12: expected 'in' after 'not'"},
        {"copies.", "column 1: malformed field name 'copies.'"},
        {"", "column 1: unexpected end of expression"},
        {"[1, 2", "column 6: expected ']'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arena *a = arena_new(0);
        struct kr_error err;
        struct expr *e = NULL;
        int rc = expr_parse(a, cases[i].text, known, NULL, &e, &err);
        if (rc != KR_ERR_INVALID || strcmp(err.message, cases[i].message) != 0)
            fail_msg("%s: rc %d '%s'", cases[i].text, rc, rc ? err.message : "");
        arena_free(a);
    }
}

static void test_limits(void **state)
{
    (void)state;
    char deep[300];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i < 100; i++)
        deep[n++] = ')';
    deep[n] = '\0';
    struct arena *a = arena_new(0);
    struct kr_error err;
    struct expr *e;
    assert_int_equal(expr_parse(a, deep, NULL, NULL, &e, &err), KR_ERR_INVALID);
    assert_non_null(strstr(err.message, "nested too deeply"));
    char nots[400] = "";
    for (int i = 0; i < 90; i++)
        strncat(nots, "not ", sizeof(nots) - strlen(nots) - 1);
    strncat(nots, "true", sizeof(nots) - strlen(nots) - 1);
    assert_int_equal(expr_parse(a, nots, NULL, NULL, &e, &err), KR_ERR_INVALID);
    static char big[EXPR_MAX_LEN + 10];
    memset(big, '1', sizeof(big) - 1);
    assert_int_equal(expr_parse(a, big, NULL, NULL, &e, &err), KR_ERR_INVALID);
    arena_free(a);
}

static void test_dates_money(void **state)
{
    (void)state;
    int64_t d, c;
    char buf[32];
    assert_int_equal(expr_date_parse("1970-01-01", &d), KR_OK);
    assert_int_equal(d, 0);
    assert_int_equal(expr_date_parse("2024-02-29", &d), KR_OK);
    expr_date_format(d, buf, sizeof(buf));
    assert_string_equal(buf, "2024-02-29");
    assert_int_equal(expr_date_parse("2025-02-29", &d), KR_ERR_INVALID);
    assert_int_equal(expr_date_parse("2025-13-01", &d), KR_ERR_INVALID);
    assert_int_equal(expr_date_parse("2025-1-01", &d), KR_ERR_INVALID);
    assert_int_equal(expr_date_parse("0999-01-01", &d), KR_ERR_INVALID);
    assert_int_equal(expr_date_parse("2025-01-01x", &d), KR_ERR_INVALID);
    for (int64_t z = -800000; z < 3000000; z += 997) {
        int y;
        unsigned m, dd;
        expr_civil_from_days(z, &y, &m, &dd);
        assert_int_equal(expr_days_from_civil(y, m, dd), z);
    }
    assert_int_equal(expr_money_parse("12,5", &c), KR_OK);
    assert_int_equal(c, 1250);
    assert_int_equal(expr_money_parse("-0.05", &c), KR_OK);
    assert_int_equal(c, -5);
    assert_int_equal(expr_money_parse("7", &c), KR_OK);
    assert_int_equal(c, 700);
    assert_int_equal(expr_money_parse("1.234", &c), KR_ERR_INVALID);
    assert_int_equal(expr_money_parse("1.234,56", &c), KR_ERR_INVALID);
    assert_int_equal(expr_money_parse("12.", &c), KR_ERR_INVALID);
    assert_int_equal(expr_money_parse("", &c), KR_ERR_INVALID);
    assert_int_equal(expr_money_parse("1e5", &c), KR_ERR_INVALID);
    assert_int_equal(expr_money_parse("99999999999999", &c), KR_ERR_INVALID);
    expr_money_format(-5, buf, sizeof(buf));
    assert_string_equal(buf, "-0.05");
    expr_money_format(123456, buf, sizeof(buf));
    assert_string_equal(buf, "1234.56");
}

static void collect(void *ctx, const char *name)
{
    size_t *n = ctx;
    (void)name;
    (*n)++;
}

static void test_refs(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    struct kr_error err;
    struct expr *e;
    assert_int_equal(expr_parse(a, "copies > 1 and name in kinds or years(born, start) > 3", known,
                                NULL, &e, &err),
                     KR_OK);
    size_t n = 0;
    expr_refs(e, collect, &n);
    assert_int_equal(n, 5);
    assert_string_equal(expr_text(e), "copies > 1 and name in kinds or years(born, start) > 3");
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_dates_money),
        cmocka_unit_test(test_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
