-- 0004_mail: the outgoing mail queue (src/mail/mail.h, docs/mail.md).
--
-- One row per message.  The parts are stored, not the encoded message: the
-- sender builds the MIME text with libcurl on every attempt from the same
-- parts, with the Date (created_at) and Message-ID fixed at enqueue time.
-- Once a message is sent or failed and older than mail_purge_after, the
-- personal data (recipient, subject, body, attachments) is removed and
-- purged_at set; the row stays as a record.
CREATE TABLE mail_message (
    id KR_ID,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    recipient TEXT,
    subject TEXT,
    body TEXT,
    rfc_message_id TEXT NOT NULL UNIQUE,
    size_bytes BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    finished_at BIGINT,
    last_error TEXT,
    purged_at BIGINT,
    CHECK ((status = 'queued') = (finished_at IS NULL)),
    CHECK (purged_at IS NULL OR status <> 'queued')
);
CREATE INDEX mail_message_due ON mail_message (status, next_attempt_at);
CREATE INDEX mail_message_finished ON mail_message (finished_at);

CREATE TABLE mail_attachment (
    mail_id BIGINT NOT NULL REFERENCES mail_message (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data KR_BLOB NOT NULL,
    PRIMARY KEY (mail_id, position)
);
