/* Tests of src/core/text.c: strict decoding of outside text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/text.h"

static void test_utf8_validation(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        bool valid;
    } rows[] = {
        {"", 0, true},
        {"Landkreis", 9, true},
        {"Gr\xC3\xBC\xC3\x9F"
         "e",
         6, true},                      /* Grüße */
        {"\xE2\x82\xAC", 3, true},      /* euro sign */
        {"\xF0\x9F\x98\x80", 4, true},  /* emoji */
        {"\xF4\x8F\xBF\xBF", 4, true},  /* U+10FFFF */
        {"a\0b", 3, true},              /* NUL is valid UTF-8 */
        {"\xC3", 1, false},             /* truncated */
        {"\xC0\xAF", 2, false},         /* overlong '/' */
        {"\xE0\x80\xAF", 3, false},     /* overlong */
        {"\xED\xA0\x80", 3, false},     /* surrogate */
        {"\xF4\x90\x80\x80", 4, false}, /* > U+10FFFF */
        {"\x80", 1, false},             /* lone continuation */
        {"\xFF", 1, false},
        {"M\xFCller", 7, false}, /* Latin-1 */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(text_utf8_valid(rows[i].s, rows[i].len), rows[i].valid);
}

static void test_percent_decode(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int flags;
        int rc;
        const char *out;
    } rows[] = {
        {"abc", 0, KR_OK, "abc"},
        {"a%20b", 0, KR_OK, "a b"},
        {"a+b", 0, KR_OK, "a+b"},
        {"a+b", TEXT_PLUS_IS_SPACE, KR_OK, "a b"},
        {"%C3%BC", 0, KR_OK, "\xC3\xBC"},
        {"%c3%bc", 0, KR_OK, "\xC3\xBC"},
        {"%", 0, KR_ERR_INVALID, NULL},
        {"%2", 0, KR_ERR_INVALID, NULL},
        {"%zz", 0, KR_ERR_INVALID, NULL},
        {"%G0", 0, KR_ERR_INVALID, NULL},
        {"%00", 0, KR_ERR_INVALID, NULL}, /* NUL byte */
        {"%0A", 0, KR_ERR_INVALID, NULL}, /* newline not allowed by default */
        {"%0A", TEXT_ALLOW_NEWLINES, KR_OK, "\n"},
        {"%1B", TEXT_ALLOW_NEWLINES, KR_ERR_INVALID, NULL}, /* ESC */
        {"%7F", 0, KR_ERR_INVALID, NULL},                   /* DEL */
        {"%FC", 0, KR_ERR_INVALID, NULL},                   /* Latin-1 ü */
        {"%C3", 0, KR_ERR_INVALID, NULL},                   /* truncated UTF-8 */
        {"%2e%2e%2f", 0, KR_OK, "../"},                     /* decoding is not path checking */
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *out = NULL;
        size_t len = 0;
        struct kr_error err;
        int rc =
            text_percent_decode(a, rows[i].in, strlen(rows[i].in), rows[i].flags, &out, &len, &err);
        assert_int_equal(rc, rows[i].rc);
        if (rc == KR_OK) {
            assert_string_equal(out, rows[i].out);
            assert_int_equal(len, strlen(rows[i].out));
        } else {
            assert_int_equal(err.code, rows[i].rc);
            assert_true(strlen(err.message) > 0);
        }
    }
    arena_free(a);
}

static void test_urlencoded(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    struct text_pairs p;
    struct kr_error err;
    const char *body = "name=M%C3%BCller&city=Bad+Musterstadt&&flag&note=a%0D%0Ab&name=second";
    assert_int_equal(text_parse_urlencoded(a, body, strlen(body), 10, &p, &err), KR_OK);
    assert_int_equal(p.count, 5);
    assert_string_equal(text_pairs_get(&p, "name"), "M\xC3\xBCller"); /* first wins */
    assert_string_equal(text_pairs_get(&p, "city"), "Bad Musterstadt");
    assert_string_equal(text_pairs_get(&p, "flag"), "");
    assert_string_equal(text_pairs_get(&p, "note"), "a\r\nb");
    assert_null(text_pairs_get(&p, "missing"));
    assert_string_equal(p.items[4].value, "second");

    /* Empty input has no pairs. */
    assert_int_equal(text_parse_urlencoded(a, "", 0, 10, &p, &err), KR_OK);
    assert_int_equal(p.count, 0);

    /* The input need not be NUL-terminated: only len bytes are read. */
    assert_int_equal(text_parse_urlencoded(a, "a=1&b=2XXXX", 7, 10, &p, &err), KR_OK);
    assert_int_equal(p.count, 2);
    assert_string_equal(text_pairs_get(&p, "b"), "2");

    static const struct {
        const char *in;
        int rc;
    } bad[] = {
        {"a=%ZZ", KR_ERR_INVALID},
        {"a=%FF", KR_ERR_INVALID},
        {"a%00=1", KR_ERR_INVALID},
        {"a=%0A&b%0A=1", KR_ERR_INVALID}, /* newline in a name */
        {"a=1&b=2&c=3&d=4", KR_ERR_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = text_parse_urlencoded(a, bad[i].in, strlen(bad[i].in), 3, &p, &err);
        assert_int_equal(rc, bad[i].rc);
    }
    /* The message names the field, for a useful 400 page. */
    assert_int_equal(text_parse_urlencoded(a, "good=1&street=%FF", 17, 10, &p, &err),
                     KR_ERR_INVALID);
    assert_non_null(strstr(err.message, "street"));
    arena_free(a);
}

static void test_cookies(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    const char *h = "lang=en; kreisel_session=abc123; quoted=\"x y\";empty=";
    assert_string_equal(text_cookie_get(a, h, "lang"), "en");
    assert_string_equal(text_cookie_get(a, h, "kreisel_session"), "abc123");
    assert_string_equal(text_cookie_get(a, h, "quoted"), "x y");
    assert_string_equal(text_cookie_get(a, h, "empty"), "");
    assert_null(text_cookie_get(a, h, "session")); /* no prefix match */
    assert_null(text_cookie_get(a, h, "missing"));
    assert_null(text_cookie_get(a, NULL, "lang"));
    assert_null(text_cookie_get(a, "garbage", "lang"));
    arena_free(a);
}

static void test_money(void **state)
{
    (void)state;
    char out[TEXT_MONEY_LEN];
    assert_string_equal(text_money(175000, "de", out), "1.750,00");
    assert_string_equal(text_money(175000, "en", out), "1,750.00");
    assert_string_equal(text_money(5, NULL, out), "0,05");
    assert_string_equal(text_money(-5, "de", out), "-0,05");
    assert_string_equal(text_money(99999999999, "de", out), "999.999.999,99");
    assert_string_equal(text_money(100000, "de", out), "1.000,00");
    assert_string_equal(text_money(99900, "de", out), "999,00");
    assert_string_equal(text_money(INT64_MIN, "en", out), "-92,233,720,368,547,758.08");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_validation), cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_urlencoded),      cmocka_unit_test(test_cookies),
        cmocka_unit_test(test_money),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
