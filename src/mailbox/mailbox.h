/*
 * mailbox.h - the service account's mailbox (Postfach): messages from the
 * administration to a citizen or business account (subject, text,
 * attachments such as notices as PDF, the case they belong to), replies
 * from the account holder, read receipts and an archive.
 *
 * Who may see what:
 *   - the account holder: every message of their account;
 *   - staff: the messages their unit sent or received (a unit's clerks
 *     share the conversations of their cases); administrators see none
 *     (the mailbox is not an IT matter).
 * Everything else is KR_ERR_NOT_FOUND: an id that is not yours does not
 * exist for you, so ids cannot be probed.
 *
 * A new message to an account queues a notification e-mail that carries
 * no personal content, only a link to the portal (mail module), in the
 * same transaction.  Every state change is audited.  Domain code: takes a
 * database connection, returns data in the caller's arena.
 */
#ifndef KR_MAILBOX_MAILBOX_H
#define KR_MAILBOX_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/error.h"
#include "db/db.h"

#define MAILBOX_SUBJECT_MAX 200
#define MAILBOX_BODY_MAX (32 * 1024)
#define MAILBOX_ATTACHMENTS_MAX 10
#define MAILBOX_ATTACHMENT_MAX (10 * 1024 * 1024)
#define MAILBOX_CASE_REF_MAX 64

struct mailbox_file {
    const char *filename;     /* shown and offered for download */
    const char *content_type; /* e.g. "application/pdf" */
    const void *data;
    size_t len;
};

struct mailbox_new {
    int64_t account_id;   /* the citizen or business account */
    int64_t sender_id;    /* the staff account that sends */
    int64_t unit_id;      /* the sending org unit (replies go back to it) */
    const char *subject;  /* 1-200 bytes, one line */
    const char *body;     /* 1 byte to 32 KiB of UTF-8 */
    const char *case_ref; /* case number shown to the applicant, or NULL */
    const struct mailbox_file *files;
    size_t file_count;
};

/*
 * Send a message to an account and queue the notification e-mail to the
 * account's confirmed address (cfg gives the portal's address for the
 * link).  Joins the caller's transaction.  KR_ERR_INVALID names the field;
 * KR_ERR_NOT_FOUND when the account is not a citizen or business account.
 * Audited ("mailbox.send").
 */
int mailbox_send(struct db_conn *conn, const struct kr_config *cfg, const struct mailbox_new *m,
                 int64_t *id, struct kr_error *err) KR_MUST_CHECK;

struct mailbox_attachment_info {
    int64_t id;
    const char *filename, *content_type;
    int64_t size;
};

struct mailbox_message {
    int64_t id;
    int64_t account_id;
    const char *direction;                 /* "in" (to the account) or "out" (its reply) */
    const char *subject, *body, *case_ref; /* case_ref may be NULL */
    const char *sender_name;               /* unit name for "in", the account's for "out" */
    int64_t unit_id;
    int64_t reply_to;                         /* 0 when not a reply */
    int64_t created_at, read_at, archived_at; /* 0 when not */
    struct mailbox_attachment_info *files;
    size_t file_count;
};

enum mailbox_folder { MAILBOX_INBOX, MAILBOX_ARCHIVE, MAILBOX_SENT };

/* The account's messages in folder, newest first, without bodies and
 * files; at most limit from offset.  *unread counts the inbox's unread. */
int mailbox_list(struct db_conn *conn, struct arena *a, int64_t account_id,
                 enum mailbox_folder folder, unsigned offset, unsigned limit,
                 struct mailbox_message **out, size_t *count, int64_t *unread,
                 struct kr_error *err) KR_MUST_CHECK;

/* One message of the account with body and file list.  Opening an "in"
 * message the first time sets read_at (the sender's read receipt,
 * audited "mailbox.read"). */
int mailbox_open(struct db_conn *conn, struct arena *a, int64_t account_id, int64_t id,
                 struct mailbox_message *out, struct kr_error *err) KR_MUST_CHECK;

/* Reply to message id of the account: a new "out" message to the unit
 * that sent it, with the same case.  Audited ("mailbox.reply"). */
int mailbox_reply(struct db_conn *conn, int64_t account_id, int64_t id, const char *body,
                  int64_t *reply_id, struct kr_error *err) KR_MUST_CHECK;

/* Move a message of the account to or from the archive. */
int mailbox_archive(struct db_conn *conn, int64_t account_id, int64_t id, bool archived,
                    struct kr_error *err) KR_MUST_CHECK;

/* A file of a message the viewer may see: the account holder (account_id
 * set) or staff of unit_id (account_id 0).  Data in a. */
int mailbox_file_get(struct db_conn *conn, struct arena *a, int64_t account_id, int64_t unit_id,
                     int64_t message_id, int64_t file_id, struct mailbox_file *out,
                     struct kr_error *err) KR_MUST_CHECK;

/* Staff: the conversations of unit_id (sent messages with their read
 * receipts, and replies), newest first. */
int mailbox_unit_list(struct db_conn *conn, struct arena *a, int64_t unit_id, unsigned offset,
                      unsigned limit, struct mailbox_message **out, size_t *count,
                      struct kr_error *err) KR_MUST_CHECK;

/* Staff: one message of unit_id with body and files (no read receipt is
 * set: staff reading is not the recipient reading). */
int mailbox_unit_open(struct db_conn *conn, struct arena *a, int64_t unit_id, int64_t id,
                      struct mailbox_message *out, struct kr_error *err) KR_MUST_CHECK;

/* The data export section (accounts/export.h) for the account's mailbox. */
struct export_sink;
int mailbox_export(struct db_conn *conn, struct arena *a, int64_t account_id,
                   struct export_sink *sink, struct kr_error *err);

#endif
