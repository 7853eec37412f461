/* Tests of src/http/router.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

/* Handlers are only compared by address. */
static int h_home(struct http_request *r, struct kr_error *e)
{
    (void)r;
    (void)e;
    return 0;
}
static int h_new(struct http_request *r, struct kr_error *e)
{
    (void)r;
    (void)e;
    return 0;
}
static int h_show(struct http_request *r, struct kr_error *e)
{
    (void)r;
    (void)e;
    return 0;
}
static int h_edit(struct http_request *r, struct kr_error *e)
{
    (void)r;
    (void)e;
    return 0;
}
static int h_static(struct http_request *r, struct kr_error *e)
{
    (void)r;
    (void)e;
    return 0;
}
static int h_favicon(struct http_request *r, struct kr_error *e)
{
    (void)r;
    (void)e;
    return 0;
}

static struct router *table(void)
{
    struct router *r = router_new();
    struct kr_error err;
    assert_non_null(r);
    /* Registration order must not matter for which route wins: the
     * generic ones come first on purpose. */
    assert_int_equal(router_add(r, HTTP_GET, "/static/*path", h_static, 0, &err), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/cases/:id", h_show, 0, &err), 0);
    assert_int_equal(router_add(r, HTTP_POST, "/cases/:id", h_edit, 0, &err), 0);
    assert_int_equal(router_add(r, HTTP_GET | HTTP_POST, "/cases/new", h_new, 0, &err), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/", h_home, 0, &err), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/static/favicon.svg", h_favicon, 0, &err), 0);
    return r;
}

static void test_matching(void **state)
{
    (void)state;
    static const struct {
        unsigned method;
        const char *segments[6];
        size_t n;
        enum router_result result;
        http_handler handler;
        const char *param, *value;
        unsigned allowed;
    } rows[] = {
        {HTTP_GET, {0}, 0, ROUTER_FOUND, h_home, NULL, NULL, 0},
        {HTTP_HEAD, {0}, 0, ROUTER_FOUND, h_home, NULL, NULL, 0},
        {HTTP_GET, {"cases", "new"}, 2, ROUTER_FOUND, h_new, NULL, NULL, 0},
        {HTTP_POST, {"cases", "new"}, 2, ROUTER_FOUND, h_new, NULL, NULL, 0},
        {HTTP_GET, {"cases", "17"}, 2, ROUTER_FOUND, h_show, "id", "17", 0},
        {HTTP_POST, {"cases", "17"}, 2, ROUTER_FOUND, h_edit, "id", "17", 0},
        {HTTP_GET,
         {"cases", "Bescheid Müller"},
         2,
         ROUTER_FOUND,
         h_show,
         "id",
         "Bescheid Müller",
         0},
        {HTTP_DELETE,
         {"cases", "17"},
         2,
         ROUTER_METHOD_NOT_ALLOWED,
         NULL,
         NULL,
         NULL,
         HTTP_GET | HTTP_HEAD | HTTP_POST},
        {HTTP_GET, {"cases"}, 1, ROUTER_NOT_FOUND, NULL, NULL, NULL, 0},
        {HTTP_GET, {"cases", "17", "x"}, 3, ROUTER_NOT_FOUND, NULL, NULL, NULL, 0},
        {HTTP_GET, {"static", "favicon.svg"}, 2, ROUTER_FOUND, h_favicon, NULL, NULL, 0},
        {HTTP_GET,
         {"static", "css", "kreisel.css"},
         3,
         ROUTER_FOUND,
         h_static,
         "path",
         "css/kreisel.css",
         0},
        {HTTP_GET, {"static"}, 1, ROUTER_NOT_FOUND, NULL, NULL, NULL, 0},
        {HTTP_POST,
         {"static", "x"},
         2,
         ROUTER_METHOD_NOT_ALLOWED,
         NULL,
         NULL,
         NULL,
         HTTP_GET | HTTP_HEAD},
        {HTTP_GET, {""}, 1, ROUTER_NOT_FOUND, NULL, NULL, NULL, 0},
    };
    struct router *r = table();
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct router_match m;
        unsigned allowed;
        char *segs[6]; /* decoded segments are arena strings in the server too */
        for (size_t k = 0; k < rows[i].n; k++)
            segs[k] = arena_strdup(a, rows[i].segments[k]);
        enum router_result res = router_match(r, rows[i].method, segs, rows[i].n, a, &m, &allowed);
        if (res != rows[i].result)
            fail_msg("row %zu: result %d, want %d", i, res, rows[i].result);
        if (res == ROUTER_FOUND) {
            assert_ptr_equal(m.route->handler, rows[i].handler);
            if (rows[i].param) {
                assert_int_equal(m.param_count, 1);
                assert_string_equal(m.param_names[0], rows[i].param);
                assert_string_equal(m.param_values[0], rows[i].value);
            } else {
                assert_int_equal(m.param_count, 0);
            }
        }
        if (res == ROUTER_METHOD_NOT_ALLOWED)
            assert_int_equal(allowed, rows[i].allowed);
    }
    arena_free(a);
    router_free(r);
}

static void test_bad_patterns(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "relative",
        "/trailing/",
        "/a//b",
        "/:",
        "/:Id",
        "/*rest/x",
        "/a/../b",
        "/a/./b",
        "/sp ace",
        "/q?x",
        "/%41",
        "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q",
    };
    struct router *r = router_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kr_error err;
        if (router_add(r, HTTP_GET, bad[i], h_home, 0, &err) != KR_ERR_INVALID)
            fail_msg("pattern '%s' accepted", bad[i]);
    }
    assert_int_equal(router_count(r), 0);
    router_free(r);
}

static void test_duplicates_and_indexes(void **state)
{
    (void)state;
    struct router *r = table();
    struct kr_error err;
    assert_int_equal(router_add(r, HTTP_GET, "/cases/:id", h_show, 0, &err), KR_ERR_CONFLICT);
    /* HEAD comes with GET, so it conflicts too. */
    assert_int_equal(router_add(r, HTTP_HEAD, "/", h_home, 0, &err), KR_ERR_CONFLICT);
    assert_int_equal(router_add(r, HTTP_DELETE, "/cases/:id", h_edit, 0, &err), KR_OK);
    for (size_t i = 0; i < router_count(r); i++)
        assert_int_equal(router_route(r, i)->index, i);
    assert_null(router_route(r, router_count(r)));
    router_free(r);
}

static void test_allow_header(void **state)
{
    (void)state;
    char out[80];
    router_allow_header(HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_OPTIONS, out, sizeof(out));
    assert_string_equal(out, "GET, HEAD, POST, OPTIONS");
    router_allow_header(HTTP_DELETE, out, sizeof(out));
    assert_string_equal(out, "DELETE");
    router_allow_header(HTTP_GET | HTTP_HEAD | HTTP_POST, out, 10); /* truncates cleanly */
    assert_string_equal(out, "GET, HEAD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_duplicates_and_indexes),
        cmocka_unit_test(test_allow_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
