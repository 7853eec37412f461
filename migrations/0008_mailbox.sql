-- 0008_mailbox: the service account's mailbox (src/mailbox/mailbox.h).
--
-- direction 'in' is a message of the administration to the account, 'out'
-- the account holder's reply to the unit.  read_at is the first time the
-- recipient opened it (the sender's read receipt).  Messages go with the
-- account (ON DELETE CASCADE): the county's own copy of a notice lives in
-- the e-file, not here.
CREATE TABLE mailbox_message (
    id KR_ID,
    account_id BIGINT NOT NULL REFERENCES account_user (id) ON DELETE CASCADE,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    unit_id BIGINT NOT NULL REFERENCES account_org_unit (id),
    sender_id BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    reply_to BIGINT REFERENCES mailbox_message (id) ON DELETE SET NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    case_ref TEXT,
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    archived_at BIGINT
);
CREATE INDEX mailbox_message_account ON mailbox_message (account_id, created_at);
CREATE INDEX mailbox_message_unit ON mailbox_message (unit_id, created_at);

CREATE TABLE mailbox_file (
    id KR_ID,
    message_id BIGINT NOT NULL REFERENCES mailbox_message (id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    data KR_BLOB NOT NULL
);
CREATE INDEX mailbox_file_message ON mailbox_file (message_id);
