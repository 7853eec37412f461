/* Tests of src/core/config.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

static void test_defaults(void **state)
{
    (void)state;
    struct kr_config c;
    kr_config_defaults(&c);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_false(c.public_https);
    assert_int_equal(c.max_body_size, 1024 * 1024);
    assert_int_equal(c.session_idle_timeout, 30 * 60);
    assert_int_equal(c.session_lifetime, 12 * 3600);
    assert_int_equal(c.trusted_proxy_count, 0);
    assert_int_equal(c.metrics_allow_count, 2);
    assert_int_equal(c.log_level, KR_LOG_INFO);
}

static void test_values(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value;
        int rc;
    } rows[] = {
        {"listen", "0.0.0.0:80", KR_OK},
        {"listen", "[::1]:8443", KR_OK},
        {"listen", "localhost:80", KR_ERR_CONFIG}, /* an address, not a name */
        {"listen", "127.0.0.1", KR_ERR_CONFIG},
        {"listen", "127.0.0.1:70000", KR_ERR_CONFIG},
        {"listen", "[::1:80", KR_ERR_CONFIG},
        {"public_url", "https://service.landkreis-musterland.de", KR_OK},
        {"public_url", "https://example.org/path", KR_ERR_CONFIG},
        {"public_url", "ftp://example.org", KR_ERR_CONFIG},
        {"public_url", "https://", KR_ERR_CONFIG},
        {"database", "postgresql://kreisel@db/kreisel", KR_OK},
        {"database", "sqlite:/srv/kreisel/kreisel.db", KR_OK},
        {"database", "mysql://x", KR_ERR_CONFIG},
        {"max_body_size", "512k", KR_OK},
        {"max_body_size", "2M", KR_OK},
        {"max_body_size", "lots", KR_ERR_CONFIG},
        {"max_body_size", "10", KR_ERR_CONFIG}, /* below the minimum */
        {"max_body_size", "-1", KR_ERR_CONFIG},
        {"max_body_size", "99999999999g", KR_ERR_CONFIG},
        {"request_timeout", "45", KR_OK},
        {"request_timeout", "2m", KR_OK},
        {"request_timeout", "0", KR_ERR_CONFIG},
        {"request_timeout", "5 s", KR_ERR_CONFIG},
        {"session_lifetime", "7d", KR_OK},
        {"threads", "8", KR_OK},
        {"threads", "eight", KR_ERR_CONFIG},
        {"threads", "1000", KR_ERR_CONFIG},
        {"trusted_proxies", "127.0.0.1, 10.0.0.0/8 ,fd00::/8", KR_OK},
        {"trusted_proxies", "10.0.0.0/33", KR_ERR_CONFIG},
        {"trusted_proxies", "proxy.local", KR_ERR_CONFIG},
        {"log_level", "debug", KR_OK},
        {"log_level", "verbose", KR_ERR_CONFIG},
        {"data_dir", "", KR_ERR_CONFIG},
        {"no_such_key", "1", KR_ERR_CONFIG},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct kr_config c;
        struct kr_error err;
        kr_config_defaults(&c);
        int rc = kr_config_set(&c, "test", rows[i].key, rows[i].value, &err);
        if (rc != rows[i].rc)
            fail_msg("%s = %s: got %d, want %d", rows[i].key, rows[i].value, rc, rows[i].rc);
        if (rc) /* The message names source and key. */
            assert_non_null(strstr(err.message, "test: "));
    }
}

static void test_public_url_https_and_nets(void **state)
{
    (void)state;
    struct kr_config c;
    struct kr_error err;
    kr_config_defaults(&c);
    assert_int_equal(kr_config_set(&c, "t", "public_url", "https://portal.example", &err), 0);
    assert_true(c.public_https);
    assert_int_equal(kr_config_set(&c, "t", "trusted_proxies", "10.0.0.0/8, ::1", &err), 0);
    assert_int_equal(c.trusted_proxy_count, 2);
    assert_true(kr_net_contains(c.trusted_proxies, 2, "10.1.2.3"));
    assert_true(kr_net_contains(c.trusted_proxies, 2, "::ffff:10.9.9.9"));
    assert_true(kr_net_contains(c.trusted_proxies, 2, "::1"));
    assert_false(kr_net_contains(c.trusted_proxies, 2, "11.0.0.1"));
    assert_false(kr_net_contains(c.trusted_proxies, 2, "::2"));
    assert_false(kr_net_contains(c.trusted_proxies, 2, "not an ip"));
    struct kr_net n;
    assert_int_equal(kr_net_parse("192.168.0.0/23", &n), 0);
    assert_true(kr_net_contains(&n, 1, "192.168.1.200"));
    assert_false(kr_net_contains(&n, 1, "192.168.2.1"));
}

static char *write_temp(const char *text)
{
    static char path[64];
    (void)snprintf(path, sizeof(path), "/tmp/kreisel-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_file(void **state)
{
    (void)state;
    struct kr_config c;
    struct kr_error err;
    kr_config_defaults(&c);
    char *path = write_temp("# Kreisel\n\nlisten = 127.0.0.1:9000\r\n  max_body_size=2m  \n"
                            "public_url = \"https://portal.example\"\n");
    assert_int_equal(kr_config_read_file(&c, path, &err), KR_OK);
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.max_body_size, 2 * 1024 * 1024);
    assert_true(c.public_https);
    unlink(path);

    static const struct {
        const char *text;
        const char *in_message;
    } bad[] = {
        {"port = 80\n", "unknown key 'port'"},
        {"listen 127.0.0.1:80\n", ":1: expected 'key = value'"},
        {"# ok\nmax_body_size = huge\n", ":2: max_body_size: invalid size 'huge'"},
        {"threads = 4\nthreads = 8\n", ":2: threads: already set on line 1"},
        {"Listen = 1\n", "invalid key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kr_config_defaults(&c);
        path = write_temp(bad[i].text);
        assert_int_equal(kr_config_read_file(&c, path, &err), KR_ERR_CONFIG);
        if (!strstr(err.message, bad[i].in_message))
            fail_msg("message '%s' lacks '%s'", err.message, bad[i].in_message);
        unlink(path);
    }
    assert_int_equal(kr_config_read_file(&c, "/nonexistent/kreisel.conf", &err), KR_ERR_IO);
}

static void test_environment_overrides_file(void **state)
{
    (void)state;
    struct kr_config c;
    struct kr_error err;
    char *path = write_temp("listen = 127.0.0.1:9000\nlog_level = warn\n");
    setenv("KREISEL_LISTEN", "127.0.0.1:9100", 1);
    setenv("KREISEL_DATA_DIR", "/tmp/kreisel-data", 1);
    assert_int_equal(kr_config_load(&c, path, NULL, 0, &err), KR_OK);
    assert_int_equal(c.port, 9100);
    assert_int_equal(c.log_level, KR_LOG_WARN);
    /* Derived: the database lies in data_dir, threads and pool are set. */
    assert_string_equal(c.database, "sqlite:/tmp/kreisel-data/kreisel.db");
    assert_true(c.threads >= 4);
    assert_int_equal(c.db_pool_size, c.threads + 2);

    setenv("KREISEL_MAX_BODY_SIZE", "nope", 1);
    assert_int_equal(kr_config_load(&c, path, NULL, 0, &err), KR_ERR_CONFIG);
    assert_non_null(strstr(err.message, "KREISEL_MAX_BODY_SIZE"));
    unsetenv("KREISEL_MAX_BODY_SIZE");
    unsetenv("KREISEL_LISTEN");
    unsetenv("KREISEL_DATA_DIR");
    unlink(path);
}

/* Every documented key appears in the example configuration, so that the
 * file operators copy from never falls behind the code. */
static void test_example_file_documents_every_key(void **state)
{
    (void)state;
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    if (!root)
        skip();
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/kreisel.conf.example", root);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    size_t count;
    const struct kr_config_key_info *keys = kr_config_keys(&count);
    for (size_t i = 0; i < count; i++) {
        char needle[80];
        (void)snprintf(needle, sizeof(needle), "\n# %s =", keys[i].name);
        if (!strstr(text, needle))
            fail_msg("kreisel.conf.example does not document '%s'", keys[i].name);
    }
    /* And the example itself parses (all lines are comments). */
    struct kr_config c;
    struct kr_error err;
    kr_config_defaults(&c);
    assert_int_equal(kr_config_read_file(&c, path, &err), KR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_public_url_https_and_nets),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_environment_overrides_file),
        cmocka_unit_test(test_example_file_documents_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
