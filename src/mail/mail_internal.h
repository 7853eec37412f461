/*
 * mail_internal.h - shared between the files of src/mail/ and the unit
 * tests; not a contract for other modules.
 */
#ifndef KR_MAIL_MAIL_INTERNAL_H
#define KR_MAIL_MAIL_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "mail/mail.h"

/* Process counters for /metrics (mail.c). */
extern atomic_uint_fast64_t mail_count_queued, mail_count_sent, mail_count_failed,
    mail_count_retries;

/* The configuration mail_enqueue uses: the one set by mail_set_config, or
 * the defaults.  Never NULL. */
const struct kr_config *mail_config(void);

/*
 * A header value as it goes on the wire: text as is when it is printable
 * ASCII without "=?" (and it is not too long), otherwise RFC 2047 encoded
 * words ("=?UTF-8?B?...?=") of at most 75 characters each, whole UTF-8
 * characters per word, joined by CRLF SPACE (folding).  text must be valid
 * UTF-8 without control characters (mail_enqueue checked that).
 */
void mail_encode_header_text(struct buf *out, const char *text);

/*
 * The value of a Content-Disposition header for an attachment:
 *   attachment; filename="name"                      (ASCII; \ and " escaped)
 *   attachment;\r\n filename*=UTF-8''Bescheid_M%C3%BCller.pdf   (else, RFC 2231)
 */
void mail_encode_disposition(struct buf *out, const char *filename);

/* text with every line ending (LF, CR, CRLF) made CRLF. */
void mail_crlf(struct buf *out, const char *text);

/* Upper estimate of the encoded message's size in bytes: headers, the
 * quoted-printable text, base64 attachments and their part headers. */
size_t mail_encoded_size(const struct mail_message *m);

/* The domain of the sender address (for Message-ID): from mail_from, else
 * the host of public_url, else "localhost.localdomain".  out holds size bytes. */
void mail_sender_domain(const struct kr_config *cfg, char *out, size_t size);

/*
 * The From header's value and the envelope sender: mail_from when set,
 * else "<county name> <noreply@DOMAIN>".  county may be NULL ("Kreisel").
 * from_header gets the display form with the name RFC 2047 encoded when
 * needed; envelope the bare address.  KR_ERR_CONFIG when mail_from is not
 * "Name <address>" or an address.
 */
int mail_sender_identity(const struct kr_config *cfg, const char *county, struct buf *from_header,
                         struct buf *envelope, struct kr_error *err) KR_MUST_CHECK;

/* mail_send_due that stops between messages (and aborts a transfer) once
 * *stop is true; stop may be NULL. */
int mail_send_due_until(struct db_conn *conn, const struct kr_config *cfg, unsigned max,
                        atomic_bool *stop, unsigned *sent, struct kr_error *err) KR_MUST_CHECK;

/* Wake the running sender a little later (after the caller's commit). */
void mail_sender_wake_soon(void);

/* The outcome of one delivery attempt (smtp.c). */
struct mail_attempt_result {
    bool sent;
    bool permanent;  /* a 5xx reply to the mail transaction */
    bool relay_down; /* not reached at all: the rest of a batch waits */
    char error[768];
};

#endif
