/* Tests of src/http/upload.c: multipart uploads through the real server
 * (libmicrohttpd in this process) with libcurl as the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "blob/blob.h"
#include "core/util.h"
#include "http/http.h"
#include "http/server.h"
#include "template/template.h"
#include "testdb.h"

struct fixture {
    struct kr_config cfg;
    struct db *db;
    struct tpl_set *tpl;
    struct http_server *server;
    struct blob_store *blobs;
    char dir[64];
    char base[64];
};

static struct fixture *fx;

/* Echo what arrived as JSON; keep the files of fields named "keep". */
static int echo(struct http_request *req, struct kr_error *err)
{
    json_t *out = json_object(), *fields = json_object(), *files = json_array();
    const struct text_pairs *form = http_form_fields(req);
    for (size_t i = 0; i < form->count; i++)
        json_object_set_new(fields, form->items[i].name, json_string(form->items[i].value));
    size_t n;
    const struct http_upload *up = http_uploads(req, &n);
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_pack("{s:s, s:s, s:s, s:b, s:I, s:s, s:b}", "field", up[i].field,
                              "filename", up[i].filename, "type", up[i].content_type, "too_large",
                              up[i].too_large, "size", (json_int_t)up[i].blob.size, "hash",
                              up[i].too_large ? "" : up[i].blob.hash, "has_path",
                              up[i].path != NULL && access(up[i].path, R_OK) == 0);
        json_array_append_new(files, f);
        if (strcmp(up[i].field, "keep") == 0 && http_upload_keep(req, i, err) != KR_OK) {
            json_decref(out);
            json_decref(fields);
            json_decref(files);
            return err->code;
        }
    }
    json_object_set_new(out, "fields", fields);
    json_object_set_new(out, "files", files);
    return http_json(req, 200, out);
}

static int setup(void **state)
{
    (void)state;
    fx = calloc(1, sizeof(*fx));
    kr_config_defaults(&fx->cfg);
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    snprintf(fx->cfg.share_dir, sizeof(fx->cfg.share_dir), "%s", root ? root : ".");
    snprintf(fx->cfg.listen_host, sizeof(fx->cfg.listen_host), "127.0.0.1");
    fx->cfg.port = 0;
    fx->cfg.threads = 2;
    fx->cfg.max_body_size = 4096;
    fx->cfg.upload_max_files = 3;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/kr-upload-XXXXXX");
    char tdir[600], ldir[600];
    snprintf(tdir, sizeof(tdir), "%s/templates", fx->cfg.share_dir);
    snprintf(ldir, sizeof(ldir), "%s/locales", fx->cfg.share_dir);
    struct kr_error err;
    struct http_upload_limits small = {.max_file = 1000, .max_total = 100000, .max_files = 0};
    if (!mkdtemp(fx->dir) || blob_store_open(fx->dir, &fx->blobs, &err) ||
        testdb_open(DB_SQLITE, &fx->db) || tpl_set_load(&fx->tpl, tdir, ldir, &err) ||
        http_server_new(&fx->server, &fx->cfg, fx->db, fx->tpl, &err) ||
        http_route_upload(fx->server, HTTP_POST, "/api/echo", echo, HTTP_ROUTE_NO_CSRF, &small,
                          &err) ||
        http_route_upload(fx->server, HTTP_POST, "/echo-form", echo, 0, &small, &err) ||
        http_route(fx->server, HTTP_POST, "/api/plain", echo, HTTP_ROUTE_NO_CSRF, &err)) {
        fprintf(stderr, "setup: %s (%s)\n", err.message, err.detail);
        return -1;
    }
    http_server_set_blobs(fx->server, fx->blobs);
    if (http_server_start(fx->server, &err)) {
        fprintf(stderr, "start: %s\n", err.message);
        return -1;
    }
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%u", http_server_port(fx->server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(fx->server);
    http_server_free(fx->server);
    blob_store_close(fx->blobs);
    tpl_set_free(fx->tpl);
    testdb_close(fx->db);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
    int rc = system(cmd);
    free(fx);
    return rc == 0 ? 0 : -1;
}

struct reply {
    long status;
    char body[8192];
    size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    size_t take = size * n;
    if (take > sizeof(r->body) - 1 - r->len)
        take = sizeof(r->body) - 1 - r->len;
    memcpy(r->body + r->len, p, take);
    r->len += take;
    r->body[r->len] = '\0';
    return size * n;
}

static json_t *perform(CURL *c, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    return json_loads(r->body, 0, NULL);
}

static void add_file(curl_mime *m, const char *field, const char *name, const void *data,
                     size_t len)
{
    curl_mimepart *p = curl_mime_addpart(m);
    curl_mime_name(p, field);
    curl_mime_filename(p, name);
    curl_mime_data(p, data, len);
    curl_mime_type(p, "application/pdf");
}

static void add_text(curl_mime *m, const char *field, const char *value)
{
    curl_mimepart *p = curl_mime_addpart(m);
    curl_mime_name(p, field);
    curl_mime_data(p, value, CURL_ZERO_TERMINATED);
}

static CURL *client(const char *path, curl_mime **mime)
{
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "%s%s", fx->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    *mime = curl_mime_init(c);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, *mime);
    return c;
}

static int count_files(const char *sub)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "find %s/%s -type f | wc -l", fx->dir, sub);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    return n;
}

static void finish(CURL *c, curl_mime *m)
{
    curl_mime_free(m);
    curl_easy_cleanup(c);
}

/* Text fields and files arrive; names are reduced to base names; hashes
 * are the SHA-256 of the bytes; only kept files stay in the store. */
static void test_fields_and_files(void **state)
{
    (void)state;
    curl_mime *m;
    CURL *c = client("/api/echo", &m);
    add_text(m, "title", "Bauantrag für Grundstück");
    add_file(m, "keep", "C:\\Users\\x\\Lageplan.pdf", "%PDF-1.4 plan", 13);
    add_file(m, "other", "../../etc/ .\x01passwd ", "root:x:0:0", 10);
    add_file(m, "empty", "", "", 0); /* a file input left empty */
    struct reply r;
    json_t *j = perform(c, &r);
    finish(c, m);
    assert_int_equal(r.status, 200);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "fields"), "title")),
                        "Bauantrag für Grundstück");
    json_t *files = json_object_get(j, "files");
    assert_int_equal(json_array_size(files), 2);
    json_t *f0 = json_array_get(files, 0), *f1 = json_array_get(files, 1);
    assert_string_equal(json_string_value(json_object_get(f0, "filename")), "Lageplan.pdf");
    assert_string_equal(json_string_value(json_object_get(f1, "filename")), "passwd");
    assert_int_equal(json_integer_value(json_object_get(f0, "size")), 13);
    assert_true(json_is_true(json_object_get(f0, "has_path")));
    char expect[65];
    kr_sha256_hex("%PDF-1.4 plan", 13, expect);
    assert_string_equal(json_string_value(json_object_get(f0, "hash")), expect);
    assert_true(blob_exists(fx->blobs, expect));
    kr_sha256_hex("root:x:0:0", 10, expect);
    assert_false(blob_exists(fx->blobs, expect)); /* not kept */
    json_decref(j);
    assert_int_equal(count_files("tmp"), 0);
}

/* A file over max_file is reported at its field; the others arrive. */
static void test_file_too_large(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'x', sizeof(big));
    curl_mime *m;
    CURL *c = client("/api/echo", &m);
    add_file(m, "keep", "big.pdf", big, sizeof(big));
    add_file(m, "small", "small.pdf", "ok", 2);
    struct reply r;
    json_t *j = perform(c, &r);
    finish(c, m);
    assert_int_equal(r.status, 400); /* keeping a too-large file is refused */
    json_decref(j);
    c = client("/api/echo", &m);
    add_file(m, "doc", "big.pdf", big, sizeof(big));
    add_file(m, "small", "small.pdf", "ok", 2);
    j = perform(c, &r);
    finish(c, m);
    assert_int_equal(r.status, 200);
    json_t *files = json_object_get(j, "files");
    assert_true(json_is_true(json_object_get(json_array_get(files, 0), "too_large")));
    assert_false(json_is_true(json_object_get(json_array_get(files, 1), "too_large")));
    json_decref(j);
    assert_int_equal(count_files("tmp"), 0);
}

/* Limits on the whole request and on the number of files: 413. */
static void test_request_limits(void **state)
{
    (void)state;
    curl_mime *m;
    CURL *c = client("/api/echo", &m);
    for (int i = 0; i < 4; i++)
        add_file(m, "f", "a.pdf", "abc", 3);
    struct reply r;
    json_t *j = perform(c, &r);
    finish(c, m);
    assert_int_equal(r.status, 413);
    json_decref(j);

    char *huge = malloc(200000);
    memset(huge, 'y', 200000);
    c = client("/api/echo", &m);
    add_file(m, "f", "a.pdf", huge, 200000);
    j = perform(c, &r);
    finish(c, m);
    free(huge);
    assert_int_equal(r.status, 413);
    json_decref(j);
    assert_int_equal(count_files("tmp"), 0);
}

/* Multipart where no upload is allowed; invalid UTF-8; CSRF still
 * checked on browser routes. */
static void test_refusals(void **state)
{
    (void)state;
    curl_mime *m;
    struct reply r;
    CURL *c = client("/api/plain", &m);
    add_file(m, "f", "a.pdf", "abc", 3);
    json_decref(perform(c, &r));
    finish(c, m);
    assert_int_equal(r.status, 400);

    c = client("/api/echo", &m);
    add_text(m, "name", "caf\xe9");
    json_decref(perform(c, &r));
    finish(c, m);
    assert_int_equal(r.status, 400);

    c = client("/echo-form", &m);
    add_text(m, "name", "x");
    add_file(m, "keep", "a.pdf", "never stored", 12);
    struct curl_slist *h = curl_slist_append(NULL, "Accept: text/html");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    json_decref(perform(c, &r));
    finish(c, m);
    curl_slist_free_all(h);
    assert_int_equal(r.status, 403);
    char expect[65];
    kr_sha256_hex("never stored", 12, expect);
    assert_false(blob_exists(fx->blobs, expect));
}

/* A body cut off in the middle: 400, no file left behind. */
static void test_truncated_body(void **state)
{
    (void)state;
    static const char body[] =
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"keep\"; filename=\"a.pdf\"\r\n"
        "Content-Type: application/pdf\r\n\r\n"
        "partial content without the closing boundary";
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "%s/api/echo", fx->base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: multipart/form-data; boundary=XyZ");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    struct reply r;
    json_decref(perform(c, &r));
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    assert_int_equal(r.status, 400);
    assert_int_equal(count_files("tmp"), 0);

    c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x");
    h = curl_slist_append(NULL, "Content-Type: multipart/form-data");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    json_decref(perform(c, &r));
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    assert_int_equal(r.status, 400); /* no boundary */
}

int main(void)
{
    if (kr_util_init() != KR_OK || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_files), cmocka_unit_test(test_file_too_large),
        cmocka_unit_test(test_request_limits),   cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_truncated_body),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
