-- Form server (src/forms, docs/forms.md): drafts of fills in progress,
-- submissions with their files, the simple case intake record used until
-- the workflow module lands, and the webhook outbox.

CREATE TABLE forms_draft (
    id KR_ID,
    token TEXT NOT NULL UNIQUE,          -- 32 hex digits, unguessable, in URLs
    form_id TEXT NOT NULL,
    version TEXT NOT NULL,               -- SHA-256 of the definition file
    answers TEXT NOT NULL,               -- JSON object
    done BIGINT NOT NULL DEFAULT 0,      -- bit i: step i completed
    user_id BIGINT REFERENCES account_user(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX forms_draft_user ON forms_draft(user_id);
CREATE INDEX forms_draft_expires ON forms_draft(expires_at);

CREATE TABLE forms_submission (
    id KR_ID,
    number TEXT NOT NULL UNIQUE,         -- F-2025-000042-7
    token TEXT NOT NULL UNIQUE,          -- for the confirmation page
    draft_token TEXT NOT NULL UNIQUE,    -- idempotency: one submission per draft
    form_id TEXT NOT NULL,
    version TEXT NOT NULL,
    answers TEXT NOT NULL,
    fee_cents BIGINT NOT NULL DEFAULT 0,
    user_id BIGINT REFERENCES account_user(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX forms_submission_form ON forms_submission(form_id, id);

CREATE TABLE forms_file (
    id KR_ID,
    submission_id BIGINT NOT NULL REFERENCES forms_submission(id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    hash TEXT NOT NULL,
    size BIGINT NOT NULL
);
CREATE INDEX forms_file_submission ON forms_file(submission_id);
CREATE INDEX forms_file_hash ON forms_file(hash);

-- "New case" intake until the workflow module takes submissions over.
CREATE TABLE forms_case_intake (
    id KR_ID,
    submission_id BIGINT NOT NULL UNIQUE REFERENCES forms_submission(id) ON DELETE CASCADE,
    form_id TEXT NOT NULL,
    unit_code TEXT,
    state TEXT NOT NULL DEFAULT 'new',
    created_at BIGINT NOT NULL
);

CREATE TABLE forms_webhook (
    id KR_ID,
    submission_id BIGINT NOT NULL REFERENCES forms_submission(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued', -- queued, sent, failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX forms_webhook_due ON forms_webhook(state, next_at);
