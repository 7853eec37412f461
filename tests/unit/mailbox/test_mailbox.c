/* Tests of src/mailbox/mailbox.c on SQLite and PostgreSQL: sending with
 * files and the notification, who sees what, read receipts, replies,
 * archive, and the export section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "accounts/accounts.h"
#include "accounts/export.h"
#include "core/config.h"
#include "core/util.h"
#include "mailbox/mailbox.h"
#include "testdb.h"

static const char password[] = "Sonnenblume-Kreis-77";

struct fixture {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
    struct kr_config cfg;
    int64_t unit, other_unit, clerk, erika, max;
};

static int64_t citizen(struct fixture *f, const char *email)
{
    struct kr_error err;
    struct account_registration r = {email, "Erika", password, NULL};
    int64_t id, existing, confirmed;
    char token[ACCOUNT_TOKEN_LEN];
    assert_int_equal(accounts_register(f->conn, &r, &id, &existing, token, &err), KR_OK);
    assert_int_equal(accounts_confirm(f->conn, token, &confirmed, &err), KR_OK);
    return id;
}

static void open_fixture(void **state, struct fixture *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
    f->a = arena_new(0);
    kr_config_defaults(&f->cfg);
    int64_t county;
    assert_int_equal(accounts_org_unit_add(f->conn, "test", 0, "county", "LK", "Landkreis",
                                           "County", &county, &err),
                     KR_OK);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", county, "department", "D2", "Dezernat",
                                           "Department", &f->other_unit, &err),
                     KR_OK);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", f->other_unit, "office", "36",
                                           "Straßenverkehrsamt", "Road Traffic", &f->unit, &err),
                     KR_OK);
    struct account_new_user clerk = {.kind = "staff",
                                     .login = "k.clerk",
                                     .display_name = "Clerk",
                                     .password = password,
                                     .org_unit_id = f->unit,
                                     .roles = ACCOUNT_ROLE_CLERK};
    assert_int_equal(accounts_user_add(f->conn, "test", &clerk, &f->clerk, &err), KR_OK);
    f->erika = citizen(f, "erika@example.org");
    f->max = citizen(f, "max@example.org");
}

static void close_fixture(struct fixture *f)
{
    arena_free(f->a);
    db_release(f->conn);
    testdb_close(f->db);
}

static int64_t count(struct fixture *f, const char *sql)
{
    int64_t n = -1;
    struct kr_error err;
    assert_int_equal(db_query_int64(f->conn, sql, NULL, 0, &n, &err), KR_OK);
    return n;
}

static const char pdf[] = "%PDF-1.4\n% Bescheid\n%%EOF\n";

static int64_t send_to(struct fixture *f, int64_t account, const char *subject)
{
    struct kr_error err;
    struct mailbox_file file = {"Bescheid 2026-0042.pdf", "application/pdf", pdf, sizeof(pdf) - 1};
    struct mailbox_new m = {account,        f->clerk, f->unit, subject, "Anbei Ihr Bescheid.",
                            "36-2026-0042", &file,    1};
    int64_t id;
    assert_int_equal(mailbox_send(f->conn, &f->cfg, &m, &id, &err), KR_OK);
    return id;
}

static void test_send_and_refuse(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    send_to(&f, f.erika, "Ihr Bescheid");
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mailbox_file"), 1);
    /* The notification: to the address, without the message's content. */
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message WHERE recipient = "
                               "'erika@example.org' AND body NOT LIKE '%Bescheid%' "
                               "AND subject NOT LIKE '%Bescheid%'"),
                     1);
    struct mailbox_file bad_file = {"../etc/passwd", "text/plain", "x", 1};
    struct mailbox_file empty = {"a.pdf", "application/pdf", "", 0};
    const struct mailbox_new bad[] = {
        {f.erika, f.clerk, f.unit, "", "Text", NULL, NULL, 0},
        {f.erika, f.clerk, f.unit, "Zeile\nzwei", "Text", NULL, NULL, 0},
        {f.erika, f.clerk, f.unit, "Betreff", "", NULL, NULL, 0},
        {f.erika, f.clerk, f.unit, "Betreff", "Text", NULL, &bad_file, 1},
        {f.erika, f.clerk, f.unit, "Betreff", "Text", NULL, &empty, 1},
        {f.clerk, f.clerk, f.unit, "Betreff", "Text", NULL, NULL, 0}, /* staff: no mailbox */
        {999999, f.clerk, f.unit, "Betreff", "Text", NULL, NULL, 0},
    };
    static const int want[] = {KR_ERR_INVALID,   KR_ERR_INVALID,   KR_ERR_INVALID,  KR_ERR_INVALID,
                               KR_ERR_TOO_LARGE, KR_ERR_NOT_FOUND, KR_ERR_NOT_FOUND};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = mailbox_send(f.conn, &f.cfg, &bad[i], NULL, &err);
        if (rc != want[i])
            fail_msg("row %zu: %d, want %d (%s)", i, rc, want[i], err.message);
    }
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mailbox_message"), 1);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mail_message"), 1);
    close_fixture(&f);
}

static void test_read_reply_archive(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = send_to(&f, f.erika, "Ihr Bescheid");
    struct mailbox_message *list;
    size_t n;
    int64_t unread;
    assert_int_equal(
        mailbox_list(f.conn, f.a, f.erika, MAILBOX_INBOX, 0, 50, &list, &n, &unread, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(unread, 1);
    assert_string_equal(list[0].sender_name, "Straßenverkehrsamt");
    /* Staff reading is not the recipient reading. */
    struct mailbox_message m;
    assert_int_equal(mailbox_unit_open(f.conn, f.a, f.unit, id, &m, &err), KR_OK);
    assert_int_equal(m.read_at, 0);
    assert_int_equal(mailbox_open(f.conn, f.a, f.erika, id, &m, &err), KR_OK);
    assert_true(m.read_at > 0);
    assert_string_equal(m.body, "Anbei Ihr Bescheid.");
    assert_int_equal(m.file_count, 1);
    assert_int_equal(mailbox_open(f.conn, f.a, f.erika, id, &m, &err), KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = 'mailbox.read'"),
                     1);
    assert_int_equal(mailbox_unit_open(f.conn, f.a, f.unit, id, &m, &err), KR_OK);
    assert_true(m.read_at > 0); /* the read receipt */

    int64_t reply;
    assert_int_equal(mailbox_reply(f.conn, f.erika, id, "", &reply, &err), KR_ERR_INVALID);
    assert_int_equal(mailbox_reply(f.conn, f.max, id, "Fremd", &reply, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(mailbox_reply(f.conn, f.erika, id, "Danke!", &reply, &err), KR_OK);
    assert_int_equal(mailbox_unit_open(f.conn, f.a, f.unit, reply, &m, &err), KR_OK);
    assert_string_equal(m.subject, "Re: Ihr Bescheid");
    assert_string_equal(m.case_ref, "36-2026-0042");
    assert_string_equal(m.direction, "out");
    /* Replying to a reply is not possible (only to messages received). */
    assert_int_equal(mailbox_reply(f.conn, f.erika, reply, "x", NULL, &err), KR_ERR_NOT_FOUND);

    assert_int_equal(mailbox_archive(f.conn, f.max, id, true, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(mailbox_archive(f.conn, f.erika, id, true, &err), KR_OK);
    assert_int_equal(
        mailbox_list(f.conn, f.a, f.erika, MAILBOX_INBOX, 0, 50, &list, &n, &unread, &err), KR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(
        mailbox_list(f.conn, f.a, f.erika, MAILBOX_ARCHIVE, 0, 50, &list, &n, &unread, &err),
        KR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(
        mailbox_list(f.conn, f.a, f.erika, MAILBOX_SENT, 0, 50, &list, &n, &unread, &err), KR_OK);
    assert_int_equal(n, 1);
    close_fixture(&f);
}

static void test_who_sees_what(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = send_to(&f, f.erika, "Ihr Bescheid");
    struct mailbox_message m;
    assert_int_equal(mailbox_open(f.conn, f.a, f.max, id, &m, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(mailbox_unit_open(f.conn, f.a, f.other_unit, id, &m, &err), KR_ERR_NOT_FOUND);
    struct mailbox_file file;
    int64_t file_id = count(&f, "SELECT MIN(id) FROM mailbox_file");
    assert_int_equal(mailbox_file_get(f.conn, f.a, f.erika, 0, id, file_id, &file, &err), KR_OK);
    assert_int_equal(file.len, sizeof(pdf) - 1);
    assert_memory_equal(file.data, pdf, file.len);
    assert_int_equal(mailbox_file_get(f.conn, f.a, 0, f.unit, id, file_id, &file, &err), KR_OK);
    assert_int_equal(mailbox_file_get(f.conn, f.a, f.max, 0, id, file_id, &file, &err),
                     KR_ERR_NOT_FOUND);
    assert_int_equal(mailbox_file_get(f.conn, f.a, 0, f.other_unit, id, file_id, &file, &err),
                     KR_ERR_NOT_FOUND);
    /* The right file id with another message's id is not found either. */
    int64_t other = send_to(&f, f.max, "Anderer");
    assert_int_equal(mailbox_file_get(f.conn, f.a, f.max, 0, other, file_id, &file, &err),
                     KR_ERR_NOT_FOUND);
    /* Deleting the account deletes its mailbox. */
    assert_int_equal(accounts_delete(f.conn, f.erika, password, &err), KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mailbox_message"), 1);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM mailbox_file"), 1);
    close_fixture(&f);
}

static void test_export(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    send_to(&f, f.erika, "Ihr Bescheid");
    send_to(&f, f.max, "Nicht für Erika");
    assert_int_equal(accounts_export_register("mailbox", mailbox_export), KR_OK);
    void *zip;
    size_t len;
    assert_int_equal(accounts_export_zip(f.conn, f.a, f.erika, &zip, &len, &err), KR_OK);
    struct archive *ar = archive_read_new();
    assert_int_equal(archive_read_support_format_zip(ar), ARCHIVE_OK);
    assert_int_equal(archive_read_open_memory(ar, zip, len), ARCHIVE_OK);
    struct archive_entry *e;
    bool account = false, messages = false, pdf_found = false;
    static char buf[65536];
    while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        la_ssize_t n = archive_read_data(ar, buf, sizeof(buf) - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        if (strcmp(name, "konto.json") == 0)
            account = strstr(buf, "erika@example.org") && !strstr(buf, "max@example.org");
        else if (strcmp(name, "postfach/nachrichten.json") == 0)
            messages = strstr(buf, "Ihr Bescheid") && !strstr(buf, "Nicht für Erika");
        else if (strstr(name, "Bescheid 2026-0042.pdf"))
            pdf_found = (size_t)n == sizeof(pdf) - 1 && memcmp(buf, pdf, (size_t)n) == 0;
    }
    archive_read_free(ar);
    assert_true(account);
    assert_true(messages);
    assert_true(pdf_found);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTDB_BOTH(test_send_and_refuse),
        TESTDB_BOTH(test_read_reply_archive),
        TESTDB_BOTH(test_who_sees_what),
        TESTDB_BOTH(test_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
