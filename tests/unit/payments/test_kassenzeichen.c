/* Tests of src/payments/kassenzeichen.c: ISO 7064 MOD 97-10 check digits,
 * typed Kassenzeichen, scanning remittance texts, exact amounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "payments/payments.h"

static void test_mod97(void **state)
{
    (void)state;
    /* The IBAN example of ISO 13616 uses the same scheme:
     * DE89 3704 0044 0532 0130 00 -> 3704004405320130001314 (+00) check 89. */
    assert_int_equal(payments_mod97_check("3704004405320130001314", 22), 89);
    assert_int_equal(payments_mod97_check("12a", 3), -1);
    assert_int_equal(payments_mod97_check("", 0), -1);
    char kz[PAYMENTS_KZ_SIZE];
    payments_kz_make(2026, 142, kz);
    assert_int_equal(strlen(kz), 12);
    assert_memory_equal(kz, "2026000142", 10);
    /* The whole number is 1 mod 97. */
    unsigned rem = 0;
    for (int i = 0; i < 12; i++)
        rem = (rem * 10 + (unsigned)(kz[i] - '0')) % 97;
    assert_int_equal(rem, 1);
}

static void test_normalise(void **state)
{
    (void)state;
    char kz[PAYMENTS_KZ_SIZE], formatted[16], typed[40], out[PAYMENTS_KZ_SIZE];
    payments_kz_make(2026, 4711, kz);
    payments_kz_format(kz, formatted);
    assert_int_equal(strlen(formatted), 14);
    const char *forms[] = {"%s", "KZ %s", "kz%s", "  kz: %s"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(typed, sizeof(typed), forms[i], formatted);
        assert_int_equal(payments_kz_normalise(typed, out), KR_OK);
        assert_string_equal(out, kz);
    }
    snprintf(typed, sizeof(typed), "%.4s-%.4s-%.4s", kz, kz + 4, kz + 8);
    assert_int_equal(payments_kz_normalise(typed, out), KR_OK);
    /* Every single-digit typo and every swap of neighbours is detected. */
    for (int i = 0; i < 12; i++) {
        for (char d = '0'; d <= '9'; d++) {
            if (d == kz[i])
                continue;
            char bad[PAYMENTS_KZ_SIZE];
            memcpy(bad, kz, sizeof(bad));
            bad[i] = d;
            assert_int_equal(payments_kz_normalise(bad, out), KR_ERR_INVALID);
        }
        if (i < 11 && kz[i] != kz[i + 1]) {
            char bad[PAYMENTS_KZ_SIZE];
            memcpy(bad, kz, sizeof(bad));
            bad[i] = kz[i + 1];
            bad[i + 1] = kz[i];
            assert_int_equal(payments_kz_normalise(bad, out), KR_ERR_INVALID);
        }
    }
    assert_int_equal(payments_kz_normalise("", out), KR_ERR_INVALID);
    assert_int_equal(payments_kz_normalise("KZ", out), KR_ERR_INVALID);
    assert_int_equal(payments_kz_normalise("2026000047111", out), KR_ERR_INVALID);
    assert_int_equal(payments_kz_normalise(NULL, out), KR_ERR_INVALID);
}

static void test_scan(void **state)
{
    (void)state;
    char kz[PAYMENTS_KZ_SIZE], other[PAYMENTS_KZ_SIZE], text[200];
    payments_kz_make(2026, 142, kz);
    payments_kz_make(2025, 999999, other);
    char found[4][PAYMENTS_KZ_SIZE];
    snprintf(text, sizeof(text), "Gebuehr kz %.4s %.4s-%.4s danke", kz, kz + 4, kz + 8);
    assert_int_equal(payments_kz_scan(text, strlen(text), found, 4), 1);
    assert_string_equal(found[0], kz);
    snprintf(text, sizeof(text), "RG 123456 KZ%s und %s", other, kz);
    assert_int_equal(payments_kz_scan(text, strlen(text), found, 4), 2);
    assert_string_equal(found[0], other);
    assert_string_equal(found[1], kz);
    /* Inside a longer number it is not a Kassenzeichen. */
    snprintf(text, sizeof(text), "9%s", kz);
    assert_int_equal(payments_kz_scan(text, strlen(text), found, 4), 0);
    snprintf(text, sizeof(text), "%.11s", kz);
    assert_int_equal(payments_kz_scan(text, strlen(text), found, 4), 0);
    char typo[PAYMENTS_KZ_SIZE];
    memcpy(typo, kz, sizeof(typo));
    typo[5] = typo[5] == '9' ? '8' : (char)(typo[5] + 1);
    assert_int_equal(payments_kz_scan(typo, strlen(typo), found, 4), 0);
}

static void test_amounts(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool comma;
        int64_t cents; /* -1: invalid */
    } cases[] = {
        {"12", false, 1200},
        {"12.5", false, 1250},
        {"12.50", false, 1250},
        {"0.01", false, 1},
        {"999999999.99", false, 99999999999LL},
        {"1000000000.00", false, -1},
        {"12.345", false, -1},
        {"-1.00", false, -1},
        {"0", false, -1},
        {"0.00", false, -1},
        {"", false, -1},
        {"1,50", false, -1},
        {"1,50", true, 150},
        {"12,", true, 1200},
        {"12.", false, -1},
        {" 1", false, -1},
        {"1e3", false, -1},
        {"1.5.0", false, -1},
        {"99999999999999", false, -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = 0;
        struct kr_error err;
        int rc = payments_amount_parse(cases[i].text, strlen(cases[i].text), cases[i].comma, false,
                                       &v, &err);
        if (cases[i].cents < 0) {
            assert_int_equal(rc, KR_ERR_INVALID);
        } else {
            assert_int_equal(rc, KR_OK);
            assert_int_equal(v, cases[i].cents);
        }
    }
    char out[32];
    payments_amount_format(1280, out, sizeof(out));
    assert_string_equal(out, "12.80");
    payments_amount_format(-5, out, sizeof(out));
    assert_string_equal(out, "-0.05");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mod97),
        cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_amounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
