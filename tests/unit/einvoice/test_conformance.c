/*
 * Conformance of src/einvoice against the official verdicts in
 * ../shared/xrechnung (see its README.md): for every invoice the
 * accept/reject verdict must equal verdicts-kosit.tsv, and for every invoice
 * whose scenario matched, the set of fatal rule ids must equal the fatal
 * column of verdicts.tsv.  Prints how many agree and lists disagreements;
 * fails when agreement drops below what has been reached (a regression).
 *
 * The directory is $KREISEL_XRECHNUNG_DIR, else SOURCE_ROOT/../shared/
 * xrechnung; without it the test is skipped and says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "einvoice/einvoice.h"

/* Reached so far; raise when the implementation improves. */
#define MIN_VERDICT_AGREEMENT 498
#define MIN_FATAL_AGREEMENT 463
#define INVOICES 498

static char dir[1024];

static bool find_dir(void)
{
    const char *env = getenv("KREISEL_XRECHNUNG_DIR");
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    if (env && *env)
        snprintf(dir, sizeof(dir), "%s", env);
    else
        snprintf(dir, sizeof(dir), "%s/../shared/xrechnung", root ? root : ".");
    char probe[1200];
    snprintf(probe, sizeof(probe), "%s/verdicts-kosit.tsv", dir);
    FILE *f = fopen(probe, "r");
    if (f)
        fclose(f);
    return f != NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data)
        data[n] = '\0';
    *len = (size_t)n;
    return data;
}

/* Column col (0-based) of the line of verdicts.tsv that starts with file. */
static bool tsv_field(const char *tsv, const char *file, int col, char *out, size_t size)
{
    size_t flen = strlen(file);
    for (const char *line = tsv; line && *line;) {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, file, flen) == 0 && line[flen] == '\t') {
            const char *p = line;
            for (int i = 0; i < col && p; i++) {
                p = strchr(p, '\t');
                p = p ? p + 1 : NULL;
            }
            if (!p)
                return false;
            size_t n = strcspn(p, "\t\n");
            snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
            return true;
        }
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

/* Our fatal rule ids (by the rule set's flag, not the scenario's level),
 * without XSD, sorted in byte order, space-separated, "-" for none. */
static void our_fatal(const struct einvoice_report *r, char *out, size_t size)
{
    const char *ids[512];
    size_t n = 0;
    for (size_t i = 0; i < r->count && n < 512; i++) {
        const struct einvoice_finding *f = &r->findings[i];
        if (f->flag != EINVOICE_FATAL || !strcmp(f->rule, "XSD") || !strcmp(f->rule, "SCENARIO"))
            continue;
        bool dup = false;
        for (size_t k = 0; k < n; k++)
            dup = dup || !strcmp(ids[k], f->rule);
        if (!dup)
            ids[n++] = f->rule;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(ids[k - 1], ids[k]) > 0; k--) {
            const char *t = ids[k];
            ids[k] = ids[k - 1];
            ids[k - 1] = t;
        }
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len +=
            (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s", i ? " " : "", ids[i]);
    if (n == 0)
        snprintf(out, size, "-");
}

struct tally {
    int files, verdict_ok, matched, fatal_ok;
};

static void check_one(struct einvoice_validator *v, const char *verdicts, const char *line,
                      struct tally *t)
{
    char file[256], scenario[32], assessment[32];
    if (sscanf(line, "%255[^\t]\t%*[^\t]\t%31[^\t]\t%*[^\t]\t%31[^\t]", file, scenario,
               assessment) != 3)
        return;
    char path[1600];
    snprintf(path, sizeof(path), "%s/invoices/%s", dir, file);
    size_t len;
    char *data = slurp(path, &len);
    assert_non_null(data);
    struct arena *a = arena_new(0);
    struct einvoice_report *r;
    struct kr_error err;
    assert_int_equal(einvoice_validate(v, a, data, len, &r, &err), KR_OK);
    t->files++;
    const char *ours = r->verdict == EINVOICE_ACCEPT ? "accept" : "reject";
    if (strcmp(ours, assessment) == 0)
        t->verdict_ok++;
    else
        printf("verdict  %s: ours %s (%s), KoSIT %s (%s)\n", file, ours,
               einvoice_scenario_name(r->scenario), assessment, scenario);
    if (strcmp(scenario, "none") != 0) {
        char want[2048], got[2048];
        t->matched++;
        assert_true(tsv_field(verdicts, file, 3, want, sizeof(want)));
        our_fatal(r, got, sizeof(got));
        if (strcmp(want, got) == 0)
            t->fatal_ok++;
        else
            printf("fatal    %s: ours [%s], reference [%s]\n", file, got, want);
    }
    arena_free(a);
    free(data);
}

static void test_conformance(void **state)
{
    (void)state;
    if (!find_dir()) {
        printf("SKIPPED: %s not found (set KREISEL_XRECHNUNG_DIR)\n", dir);
        skip();
    }
    char path[1200];
    size_t len;
    snprintf(path, sizeof(path), "%s/verdicts-kosit.tsv", dir);
    char *kosit = slurp(path, &len);
    snprintf(path, sizeof(path), "%s/verdicts.tsv", dir);
    char *verdicts = slurp(path, &len);
    assert_non_null(kosit);
    assert_non_null(verdicts);
    snprintf(path, sizeof(path), "%s/schemas", dir);
    struct einvoice_validator *v;
    struct kr_error err;
    assert_int_equal(einvoice_validator_new(path, &v, &err), KR_OK);
    struct tally t = {0};
    const char *line = strchr(kosit, '\n');
    while (line && line[1]) {
        check_one(v, verdicts, line + 1, &t);
        line = strchr(line + 1, '\n');
    }
    printf("e-invoice conformance: verdict agreement %d/%d, fatal-rule-set agreement %d/%d\n",
           t.verdict_ok, t.files, t.fatal_ok, t.matched);
    einvoice_validator_free(v);
    free(kosit);
    free(verdicts);
    assert_int_equal(t.files, INVOICES);
    assert_true(t.verdict_ok >= MIN_VERDICT_AGREEMENT);
    assert_true(t.fatal_ok >= MIN_FATAL_AGREEMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
