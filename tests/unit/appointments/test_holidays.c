/* Tests of src/appointments/holidays.c: civil dates, Easter, the public
 * holidays of the German states against the published dates of several
 * years, and the Europe/Berlin offset around the switches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "appointments/appointments.h"

static void test_civil_round_trip(void **state)
{
    (void)state;
    assert_int_equal(appointments_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(appointments_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(appointments_weekday(0), 4); /* Thursday */
    assert_int_equal(appointments_weekday(appointments_days_from_civil(2025, 6, 2)), 1);
    for (int64_t d = -800; d < 80000; d += 7) {
        int y, m, dd;
        appointments_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(appointments_days_from_civil(y, m, dd), d);
    }
}

static void test_easter(void **state)
{
    (void)state;
    static const struct {
        int y, m, d;
    } known[] = {{1818, 3, 22}, {1943, 4, 25}, {2000, 4, 23}, {2008, 3, 23},
                 {2019, 4, 21}, {2024, 3, 31}, {2025, 4, 20}, {2026, 4, 5},
                 {2027, 3, 28}, {2038, 4, 25}, {2285, 3, 22}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        int m, d;
        appointments_easter(known[i].y, &m, &d);
        assert_int_equal(m, known[i].m);
        assert_int_equal(d, known[i].d);
    }
}

/* Published dates: state, date, name (NULL: a working day there). */
static const struct {
    const char *state;
    int y, m, d;
    const char *name;
} holidays[] = {
    {"NI", 2025, 1, 1, "Neujahr"},
    {"NI", 2025, 1, 6, NULL},
    {"BY", 2025, 1, 6, "Heilige Drei Könige"},
    {"ST", 2024, 1, 6, "Heilige Drei Könige"},
    {"NI", 2025, 4, 18, "Karfreitag"},
    {"NI", 2025, 4, 20, NULL},
    {"BB", 2025, 4, 20, "Ostersonntag"},
    {"NI", 2025, 4, 21, "Ostermontag"},
    {"HE", 2024, 4, 1, "Ostermontag"},
    {"NI", 2025, 5, 1, "Tag der Arbeit"},
    {"NI", 2025, 5, 29, "Christi Himmelfahrt"},
    {"NW", 2026, 5, 14, "Christi Himmelfahrt"},
    {"NI", 2025, 6, 9, "Pfingstmontag"},
    {"BB", 2024, 5, 19, "Pfingstsonntag"},
    {"SH", 2026, 5, 25, "Pfingstmontag"},
    {"BY", 2025, 6, 19, "Fronleichnam"},
    {"NW", 2026, 6, 4, "Fronleichnam"},
    {"NI", 2025, 6, 19, NULL},
    {"SL", 2025, 8, 15, "Mariä Himmelfahrt"},
    {"BY", 2025, 8, 15, NULL},
    {"TH", 2024, 9, 20, "Weltkindertag"},
    {"TH", 2018, 9, 20, NULL},
    {"BE", 2024, 3, 8, "Internationaler Frauentag"},
    {"BE", 2018, 3, 8, NULL},
    {"MV", 2023, 3, 8, "Internationaler Frauentag"},
    {"MV", 2022, 3, 8, NULL},
    {"BE", 2025, 5, 8, "Tag der Befreiung"},
    {"BE", 2024, 5, 8, NULL},
    {"NI", 2025, 10, 3, "Tag der Deutschen Einheit"},
    {"NI", 2025, 10, 31, "Reformationstag"},
    {"NI", 2017, 10, 31, "Reformationstag"},
    {"NI", 2016, 10, 31, NULL},
    {"BY", 2017, 10, 31, "Reformationstag"},
    {"BY", 2025, 10, 31, NULL},
    {"SN", 2016, 10, 31, "Reformationstag"},
    {"BY", 2025, 11, 1, "Allerheiligen"},
    {"NI", 2025, 11, 1, NULL},
    {"SN", 2023, 11, 22, "Buß- und Bettag"},
    {"SN", 2024, 11, 20, "Buß- und Bettag"},
    {"SN", 2025, 11, 19, "Buß- und Bettag"},
    {"BY", 2025, 11, 19, NULL},
    {"NI", 2025, 12, 24, NULL},
    {"NI", 2025, 12, 25, "1. Weihnachtstag"},
    {"HH", 2027, 12, 26, "2. Weihnachtstag"},
    {"NI", 2025, 6, 10, NULL},
    {"XX", 2025, 12, 25, NULL},
};

static void test_holidays(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(holidays) / sizeof(holidays[0]); i++) {
        const char *got =
            appointments_holiday(holidays[i].state, holidays[i].y, holidays[i].m, holidays[i].d);
        if (holidays[i].name == NULL && got != NULL)
            fail_msg("%s %d-%d-%d: unexpected holiday %s", holidays[i].state, holidays[i].y,
                     holidays[i].m, holidays[i].d, got);
        if (holidays[i].name && (!got || strcmp(got, holidays[i].name) != 0))
            fail_msg("%s %d-%d-%d: want %s, got %s", holidays[i].state, holidays[i].y,
                     holidays[i].m, holidays[i].d, holidays[i].name, got ? got : "none");
    }
}

/* Every state has 9 nationwide days plus its own: count a year. */
static void test_holiday_counts(void **state)
{
    (void)state;
    static const struct {
        const char *state;
        int count;
    } counts[] = {{"BW", 12}, {"BY", 12}, {"BE", 10}, {"BB", 12}, {"HB", 10}, {"HH", 10},
                  {"HE", 10}, {"MV", 11}, {"NI", 10}, {"NW", 11}, {"RP", 11}, {"SL", 12},
                  {"SN", 11}, {"ST", 11}, {"SH", 10}, {"TH", 11}};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        int n = 0;
        int64_t from = appointments_days_from_civil(2026, 1, 1);
        for (int64_t d = from; d < appointments_days_from_civil(2027, 1, 1); d++) {
            int y, m, dd;
            appointments_civil_from_days(d, &y, &m, &dd);
            n += appointments_holiday(counts[i].state, y, m, dd) != NULL;
        }
        if (n != counts[i].count)
            fail_msg("%s 2026: %d holidays, want %d", counts[i].state, n, counts[i].count);
    }
}

static void test_berlin_time(void **state)
{
    (void)state;
    int64_t spring = 1743296400; /* 2025-03-30T01:00:00Z */
    int64_t autumn = 1761440400; /* 2025-10-26T01:00:00Z */
    assert_int_equal(appointments_berlin_offset(spring - 1), 3600);
    assert_int_equal(appointments_berlin_offset(spring), 7200);
    assert_int_equal(appointments_berlin_offset(autumn - 1), 7200);
    assert_int_equal(appointments_berlin_offset(autumn), 3600);
    int64_t day = appointments_days_from_civil(2025, 7, 1);
    assert_int_equal(appointments_local_to_utc(day, 9 * 60), 1751353200); /* 07:00Z */
    day = appointments_days_from_civil(2025, 1, 15);
    assert_int_equal(appointments_local_to_utc(day, 9 * 60), 1736928000); /* 08:00Z */
    int64_t d2;
    int minute;
    appointments_utc_to_local(1751353200, &d2, &minute);
    assert_int_equal(d2, appointments_days_from_civil(2025, 7, 1));
    assert_int_equal(minute, 540);
    /* Every local quarter hour of two years maps back to itself, but the
     * hour that does not exist in spring. */
    for (int64_t d = appointments_days_from_civil(2025, 1, 1);
         d < appointments_days_from_civil(2027, 1, 1); d++)
        for (int m = 0; m < 1440; m += 15) {
            appointments_utc_to_local(appointments_local_to_utc(d, m), &d2, &minute);
            if (!(m >= 120 && m < 180))
                assert_true(d2 == d && minute == m);
        }
}

static void test_parse_day(void **state)
{
    (void)state;
    int64_t d;
    char out[11];
    assert_int_equal(appointments_parse_day("2025-06-03", &d), KR_OK);
    appointments_format_day(d, out);
    assert_string_equal(out, "2025-06-03");
    assert_int_equal(appointments_parse_day("2024-02-29", &d), KR_OK);
    const char *bad[] = {"2025-02-29",  "2025-04-31", "2025-13-01", "2025-6-3",   "20250603",
                         "2025-06-03x", "",           "abcd-ef-gh", "1969-12-31", "2025-00-10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(appointments_parse_day(bad[i], &d), KR_ERR_INVALID);
    assert_int_equal(appointments_parse_day(NULL, &d), KR_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_round_trip), cmocka_unit_test(test_easter),
        cmocka_unit_test(test_holidays),         cmocka_unit_test(test_holiday_counts),
        cmocka_unit_test(test_berlin_time),      cmocka_unit_test(test_parse_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
