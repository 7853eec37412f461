/*
 * test_notice.c - notice templates: placeholder checks at load (file and
 * line), the data fields a template uses, and rendering with and without
 * a payment (the PDF read back with pdftotext when it is installed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "notice/notice.h"
#include "pdf/pdf.h"

static const char good[] =
    "{\n"
    "  \"title\": \"Bescheid: {{workflow}}\",\n"
    "  \"subject\": \"Antrag {{case.number}}\",\n"
    "  \"body\": [\"Für {{data.child}} ab {{ data.start }}.\", \"Grund: {{reason}}\"],\n"
    "  \"rows\": [[\"Gebühr\", \"{{fee}}\"], [\"Kassenzeichen\", \"{{kassenzeichen}}\"]],\n"
    "  \"legal_remedy\": \"Widerspruch beim {{county}}.\"\n"
    "}\n";

static void expect_error(const char *text, const char *message)
{
    struct kr_error err;
    kr_error_clear(&err);
    int rc = notice_load_text("t", "notices/t.json", text, strlen(text), &err);
    if (rc != KR_ERR_CONFIG || !strstr(err.message, message))
        fail_msg("rc %d, message \"%s\", want \"%s\"", rc, err.message, message);
}

static char *replace(const char *from, const char *to)
{
    static char buf[4096];
    const char *p = strstr(good, from);
    assert_non_null(p);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
    return buf;
}

static void test_load_errors(void **state)
{
    (void)state;
    expect_error(replace("{{reason}}", "{{grund}}"),
                 "notices/t.json:4: unknown placeholder {{grund}}");
    expect_error(replace("{{fee}}", "{{fee}"), "notices/t.json:5: \"value\": unbalanced");
    expect_error(replace("{{county}}", "{{data.}}"), "unknown placeholder {{data.}}");
    expect_error(replace("\"legal_remedy\"", "\"remedy\""), "\"legal_remedy\" must be a text");
    expect_error(replace("[[\"Gebühr\", \"{{fee}}\"], ", "[[\"Gebühr\"], "),
                 "every row is [\"label\", \"value\"]");
    expect_error(replace("\"body\": [", "\"body\": [1, "), "\"body\" must be a text");
    expect_error("{\"title\": ", "notices/t.json:1: ");
    assert_null(notice_find("t"));
}

static int collect(void *ctx, const char *field, struct kr_error *err)
{
    (void)err;
    char *seen = ctx;
    size_t n = strlen(seen);
    snprintf(seen + n, 256 - n, "%s;", field);
    return KR_OK;
}

static const char *field(void *ctx, const char *name, struct arena *a)
{
    (void)ctx;
    if (strcmp(name, "child") == 0)
        return "Mia Muster";
    return strcmp(name, "start") == 0 ? arena_strdup(a, "01.08.2026") : NULL;
}

/* The PDF's text, or NULL without pdftotext. */
static char *pdf_text(const struct buf *pdf)
{
    char path[] = "/tmp/kr-notice-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    fwrite(buf_cstr(pdf), 1, pdf->len, f);
    fclose(f);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "pdftotext %s - 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    static char text[16384];
    size_t n = p ? fread(text, 1, sizeof(text) - 1, p) : 0;
    int rc = p ? pclose(p) : -1;
    unlink(path);
    text[n] = '\0';
    return rc == 0 && n ? text : NULL;
}

static void test_render(void **state)
{
    (void)state;
    struct kr_error err;
    assert_int_equal(notice_load_text("t", "notices/t.json", good, strlen(good), &err), KR_OK);
    const struct notice_template *t = notice_find("t");
    assert_non_null(t);
    char seen[256] = "";
    assert_int_equal(notice_each_field(t, collect, seen, &err), KR_OK);
    assert_string_equal(seen, "child;start;");
    struct notice_payment pay = {
        12800,        "202600000407", 1798675200, "Landkreis Musterland", "DE02120300000000202051",
        "BYLADEM1001"};
    struct notice_input in = {.county = "Landkreis Musterland",
                              .number = "2026-000007",
                              .opened_at = 1795000000,
                              .now = 1796000000,
                              .workflow = "Wunschkennzeichen",
                              .unit = "Zulassungsstelle",
                              .payment = &pay,
                              .field = field};
    struct arena *a = arena_new(0);
    struct buf pdf;
    const char *subject = NULL;
    assert_int_equal(notice_render(t, &in, a, &pdf, &subject, &err), KR_OK);
    assert_string_equal(subject, "Antrag 2026-000007");
    assert_memory_equal(buf_cstr(&pdf), "%PDF", 4);
    const char *text = pdf_text(&pdf);
    if (text) {
        const char *want[] = {"Bescheid: Wunschkennzeichen",
                              "Für Mia Muster ab 01.08.2026.",
                              "Grund: –",
                              "128,00 EUR",
                              "2026 0000 0407",
                              "Zahlungshinweise",
                              "Rechtsbehelfsbelehrung",
                              "Widerspruch beim Landkreis Musterland."};
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
            if (!strstr(text, want[i]))
                fail_msg("\"%s\" not in the notice:\n%s", want[i], text);
    } else {
        print_message("pdftotext missing: the notice's text was not read back\n");
    }
    buf_release(&pdf);
    /* Nothing to pay: no payment section, the fee placeholders are "–". */
    in.payment = NULL;
    assert_int_equal(notice_render(t, &in, a, &pdf, &subject, &err), KR_OK);
    text = pdf_text(&pdf);
    if (text)
        assert_null(strstr(text, "Zahlungshinweise"));
    buf_release(&pdf);
    /* An IBAN the GiroCode refuses fails the notice, not silently. */
    pay.iban = "DE00120300000000202051";
    in.payment = &pay;
    assert_int_equal(notice_render(t, &in, a, &pdf, &subject, &err), KR_ERR_INVALID);
    buf_release(&pdf);
    arena_free(a);
    notice_unload();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_render),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pdf_shutdown();
    return rc;
}
