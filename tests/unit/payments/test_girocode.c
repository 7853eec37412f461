/* Tests of src/payments/girocode.c: IBAN checks, the EPC069-12 payload,
 * and every generated code (PNG, SVG, drawn on a cairo context) decoded
 * with a real decoder (zbarimg from Debian's zbar-tools) and compared
 * field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <cmocka.h>

#include "payments/payments.h"

static void test_iban(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out; /* out NULL: invalid */
    } cases[] = {
        {"DE89370400440532013000", "DE89370400440532013000"},
        {"de89 3704 0044 0532 0130 00", "DE89370400440532013000"},
        {"DE02120300000000202051", "DE02120300000000202051"},
        {"AT611904300234573201", "AT611904300234573201"},
        {"DE88370400440532013000", NULL}, /* check digits */
        {"DE89370400440532013001", NULL}, /* typo */
        {"DE8937040044053201300", NULL},  /* length */
        {"DE89-3704-0044-0532-0130-00", NULL},
        {"", NULL},
        {"1234567890123456", NULL},
        {"DE89370400440532013000DE89370400440532013000", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[35];
        struct kr_error err;
        int rc = payments_iban_check(cases[i].in, out, &err);
        if (cases[i].out) {
            assert_int_equal(rc, KR_OK);
            assert_string_equal(out, cases[i].out);
        } else {
            assert_int_equal(rc, KR_ERR_INVALID);
        }
    }
}

static void test_payload(void **state)
{
    (void)state;
    char out[PAYMENTS_GIROCODE_MAX + 1];
    struct kr_error err;
    struct payments_girocode g = {"BYLADEM1001", "Landkreis Musterland", "DE02120300000000202051",
                                  1280, "202600000142"};
    assert_int_equal(payments_girocode_payload(&g, out, sizeof(out), &err), KR_OK);
    assert_string_equal(out, "BCD\n002\n1\nSCT\nBYLADEM1001\nLandkreis Musterland\n"
                             "DE02120300000000202051\nEUR12.80\n\n\n202600000142");
    struct payments_girocode bad[] = {g, g, g, g, g, g, g};
    bad[0].amount_cents = 0;
    bad[1].amount_cents = PAYMENTS_AMOUNT_MAX + 1;
    bad[2].iban = "DE02120300000000202052";
    bad[3].name = "";
    bad[4].bic = "BYLA";
    bad[5].name =
        "Ein sehr langer Name, der mehr als siebzig Zeichen hat, wie es die EPC verbietet";
    bad[6].remittance = "Zeile\nzwei";
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(payments_girocode_payload(&bad[i], out, sizeof(out), &err),
                         KR_ERR_INVALID);
    unsigned char *png;
    size_t len;
    struct arena *a = arena_new(0);
    assert_int_equal(payments_girocode_png(&bad[1], 4, a, &png, &len, &err), KR_ERR_INVALID);
    arena_free(a);
}

/* Decode the image at path with zbarimg; the text without the newline. */
static char *zbar_decode(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "zbarimg --raw -q -Sbinary '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char text[1024];
    size_t n = fread(text, 1, sizeof(text) - 1, p);
    int status = pclose(p);
    assert_int_equal(status, 0);
    text[n] = '\0';
    if (n > 0 && text[n - 1] == '\n')
        text[n - 1] = '\0';
    return text;
}

/* Split the decoded text into its lines and compare the fields. */
static void compare_fields(const char *decoded, const struct payments_girocode *g)
{
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", decoded);
    const char *field[12] = {0};
    char *p = copy;
    for (int i = 0; i < 12 && p; i++) {
        field[i] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    char amount[32], iban[35];
    struct kr_error err;
    assert_int_equal(payments_iban_check(g->iban, iban, &err), KR_OK);
    payments_amount_format(g->amount_cents, amount, sizeof(amount));
    assert_string_equal(field[0], "BCD");
    assert_string_equal(field[1], "002");
    assert_string_equal(field[2], "1");
    assert_string_equal(field[3], "SCT");
    assert_string_equal(field[4], g->bic ? g->bic : "");
    assert_string_equal(field[5], g->name);
    assert_string_equal(field[6], iban);
    assert_string_equal(field[7] + 3, amount);
    assert_string_equal(field[10], g->remittance);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Rasterise our SVG's "Mx yh1v1h-1z" squares, so that zbarimg reads what
 * the SVG says. */
static void svg_to_png(const char *svg, const char *path)
{
    int side = 0;
    assert_int_equal(sscanf(strstr(svg, "viewBox=\"0 0 "), "viewBox=\"0 0 %d", &side), 1);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, side * 4, side * 4);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (const char *p = strstr(svg, " d=\""); (p = strchr(p, 'M'));) {
        int x, y;
        assert_int_equal(sscanf(p, "M%d %d", &x, &y), 2);
        cairo_rectangle(cr, x * 4, y * 4, 4, 4);
        p++;
    }
    cairo_fill(cr);
    cairo_destroy(cr);
    assert_int_equal(cairo_surface_write_to_png(s, path), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
}

static void test_decode_all(void **state)
{
    (void)state;
    static const struct payments_girocode codes[] = {
        {"BYLADEM1001", "Landkreis Musterland", "DE02120300000000202051", 1280, "202600000142"},
        {NULL, "Kreiskasse Musterland", "DE89370400440532013000", 1, "202600000045"},
        {"", "Landkreis Müßterland – Kasse", "DE02120300000000202051", PAYMENTS_AMOUNT_MAX,
         "KZ 2026 0000 0142 Gebühr Führungszeugnis"},
        {"COBADEFFXXX", "Stadtkasse", "AT611904300234573201", 99,
         "Verwarnungsgeld 202600999934 und ein längerer Text bis nah an 140 Bytes, "
         "damit auch große Codes gelesen werden können: ÄÖÜäöüß"},
    };
    char dir[] = "/tmp/kr-girocode-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct arena *a = arena_new(0);
    struct kr_error err;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char path[128];
        unsigned char *png;
        size_t len;
        assert_int_equal(payments_girocode_png(&codes[i], 4, a, &png, &len, &err), KR_OK);
        snprintf(path, sizeof(path), "%s/code%zu.png", dir, i);
        write_file(path, png, len);
        compare_fields(zbar_decode(path), &codes[i]);
        unlink(path);

        char *svg;
        assert_int_equal(payments_girocode_svg(&codes[i], a, &svg, &len, &err), KR_OK);
        assert_int_equal(strncmp(svg, "<svg ", 5), 0);
        snprintf(path, sizeof(path), "%s/svg%zu.png", dir, i);
        svg_to_png(svg, path);
        compare_fields(zbar_decode(path), &codes[i]);
        unlink(path);

        /* Drawn onto a page at an offset, among other things. */
        cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 600, 500);
        cairo_t *cr = cairo_create(s);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_paint(cr);
        assert_int_equal(payments_girocode_draw(cr, 250, 120, 300, &codes[i], &err), KR_OK);
        cairo_destroy(cr);
        snprintf(path, sizeof(path), "%s/page%zu.png", dir, i);
        assert_int_equal(cairo_surface_write_to_png(s, path), CAIRO_STATUS_SUCCESS);
        cairo_surface_destroy(s);
        compare_fields(zbar_decode(path), &codes[i]);
        unlink(path);
    }
    rmdir(dir);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iban),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_decode_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
