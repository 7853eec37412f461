/* Tests of src/blob/blob.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "blob/blob.h"
#include "core/util.h"

struct fixture {
    char dir[64];
    struct blob_store *store;
};

static int count_files(const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "find %s -type f | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    return n;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/kr-blob-XXXXXX");
    if (!mkdtemp(f->dir) || blob_store_open(f->dir, &f->store, NULL) != KR_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    blob_store_close(f->store);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void test_hash_valid(void **state)
{
    (void)state;
    char h[65];
    memset(h, 'a', 64);
    h[64] = '\0';
    assert_true(blob_hash_valid(h));
    h[3] = 'A';
    assert_false(blob_hash_valid(h));
    h[3] = '/';
    assert_false(blob_hash_valid(h));
    assert_false(blob_hash_valid("../../etc/passwd"));
    assert_false(blob_hash_valid(""));
    assert_false(blob_hash_valid(NULL));
}

/* The name is the SHA-256 of the content, as sha256sum computes it. */
static void test_put_read_known_hash(void **state)
{
    struct fixture *f = *state;
    struct kr_error err;
    struct blob_info info;
    assert_int_equal(blob_put(f->store, "abc", 3, &info, &err), KR_OK);
    assert_string_equal(info.hash,
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(info.size, 3);
    assert_true(blob_exists(f->store, info.hash));
    struct arena *a = arena_new(0);
    unsigned char *data;
    size_t len;
    assert_int_equal(blob_read(f->store, a, info.hash, 100, &data, &len, &err), KR_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "abc", 3);
    assert_int_equal(blob_read(f->store, a, info.hash, 2, &data, &len, &err), KR_ERR_TOO_LARGE);
    assert_int_equal(blob_verify(f->store, info.hash, &err), KR_OK);
    /* The same content twice is one file. */
    assert_int_equal(blob_put(f->store, "abc", 3, &info, &err), KR_OK);
    assert_int_equal(count_files(f->dir), 1);
    arena_free(a);
}

/* Streaming in chunks gives the same name as one buffer; abort leaves
 * nothing; the limit is enforced. */
static void test_stream_abort_limit(void **state)
{
    struct fixture *f = *state;
    struct kr_error err;
    enum { N = 300000 };
    unsigned char *buf = malloc(N);
    for (size_t i = 0; i < N; i++)
        buf[i] = (unsigned char)(i * 7 + i / 251);
    struct blob_writer *w;
    struct blob_info streamed, whole;
    assert_int_equal(blob_writer_begin(f->store, N, &w, &err), KR_OK);
    for (size_t off = 0; off < N; off += 4096) {
        size_t n = N - off < 4096 ? N - off : 4096;
        assert_int_equal(blob_writer_write(w, buf + off, n, &err), KR_OK);
    }
    assert_int_equal(blob_writer_finish(w, &streamed, &err), KR_OK);
    assert_false(blob_exists(f->store, streamed.hash)); /* not before commit */
    assert_int_equal(access(blob_writer_path(w), R_OK), 0);
    assert_int_equal(blob_writer_commit(w, &err), KR_OK);
    assert_true(blob_exists(f->store, streamed.hash));
    char expect[65];
    kr_sha256_hex(buf, N, expect);
    assert_string_equal(streamed.hash, expect);
    assert_int_equal(blob_put(f->store, buf, N, &whole, &err), KR_OK);
    assert_string_equal(whole.hash, streamed.hash);

    assert_int_equal(blob_writer_begin(f->store, 10, &w, &err), KR_OK);
    assert_int_equal(blob_writer_write(w, buf, 8, &err), KR_OK);
    assert_int_equal(blob_writer_write(w, buf, 8, &err), KR_ERR_TOO_LARGE);
    blob_writer_abort(w);
    assert_int_equal(blob_writer_begin(f->store, 100, &w, &err), KR_OK);
    assert_int_equal(blob_writer_write(w, "x", 1, &err), KR_OK);
    blob_writer_abort(w);
    assert_int_equal(count_files(f->dir), 1); /* no temporary file left */
    free(buf);
}

static void test_invalid_and_missing(void **state)
{
    struct fixture *f = *state;
    struct kr_error err;
    int fd;
    int64_t size;
    assert_int_equal(blob_open(f->store, "../x", &fd, &size, &err), KR_ERR_INVALID);
    char h[65];
    memset(h, '0', 64);
    h[64] = '\0';
    assert_int_equal(blob_open(f->store, h, &fd, &size, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(blob_verify(f->store, h, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(blob_delete(f->store, h, &err), KR_OK);
    assert_int_equal(blob_delete(f->store, "nope", &err), KR_ERR_INVALID);
}

/* A damaged file is detected by verify. */
static void test_verify_detects_damage(void **state)
{
    struct fixture *f = *state;
    struct kr_error err;
    struct blob_info info;
    assert_int_equal(blob_put(f->store, "hello", 5, &info, &err), KR_OK);
    char path[256];
    snprintf(path, sizeof(path), "%s/%.2s/%.2s/%s", f->dir, info.hash, info.hash + 2, info.hash);
    assert_int_equal(chmod(path, 0640), 0);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("HELLO", fp);
    fclose(fp);
    assert_int_equal(blob_verify(f->store, info.hash, &err), KR_ERR_INTEGRITY);
}

static bool keep_hello(void *ctx, const char *hash)
{
    return strcmp(hash, (const char *)ctx) == 0;
}

/* Sweep deletes old unreferenced blobs and temporary files, keeps the rest. */
static void test_sweep(void **state)
{
    struct fixture *f = *state;
    struct kr_error err;
    struct blob_info a, b;
    assert_int_equal(blob_put(f->store, "hello", 5, &a, &err), KR_OK);
    assert_int_equal(blob_put(f->store, "world", 5, &b, &err), KR_OK);
    struct blob_writer *w;
    assert_int_equal(blob_writer_begin(f->store, 10, &w, &err), KR_OK);
    int64_t removed = -1;
    /* Too young: nothing goes. */
    assert_int_equal(blob_sweep(f->store, 3600, keep_hello, a.hash, &removed, &err), KR_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(blob_sweep(f->store, -10, keep_hello, a.hash, &removed, &err), KR_OK);
    assert_int_equal(removed, 2); /* "world" and the temporary file */
    assert_true(blob_exists(f->store, a.hash));
    assert_false(blob_exists(f->store, b.hash));
    blob_writer_abort(w);
}

/* A fresh machine: the data directory and its parents do not exist yet. */
static void test_open_creates_directories(void **state)
{
    struct fixture *f = *state;
    char nested[300];
    snprintf(nested, sizeof(nested), "%s/var/data/blobs", f->dir);
    struct blob_store *s = NULL;
    struct kr_error err;
    assert_int_equal(blob_store_open(nested, &s, &err), KR_OK);
    struct blob_info info;
    assert_int_equal(blob_put(s, "abc", 3, &info, &err), KR_OK);
    assert_true(blob_exists(s, info.hash));
    blob_store_close(s);
    /* A path below a file cannot be made: a clear error naming it. */
    char below[320];
    snprintf(below, sizeof(below), "%s/file", f->dir);
    FILE *fp = fopen(below, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(nested, sizeof(nested), "%s/file/blobs", f->dir);
    assert_int_equal(blob_store_open(nested, &s, &err), KR_ERR_IO);
    assert_non_null(strstr(err.message, "/file/blobs"));
}

int main(void)
{
    if (kr_util_init() != KR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_valid),
        cmocka_unit_test_setup_teardown(test_put_read_known_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_abort_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_detects_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_creates_directories, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
