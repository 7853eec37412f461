-- 0013_workflow: cases worked through declarative workflows
-- (src/workflow/workflow.h, docs/workflow.md).
--
-- version is the optimistic lock: a transition updates the row only
-- WHERE version = the version the clerk saw.  Deadlines are data (due_at),
-- so that the scheduler finds them again after a restart.  data is the
-- case data as JSON text.  secret_hash is the SHA-256 of an anonymous
-- applicant's status secret; the secret itself is never stored.
CREATE TABLE workflow_counter (
    year INTEGER PRIMARY KEY,
    last_value BIGINT NOT NULL
);

CREATE TABLE workflow_case (
    id KR_ID,
    number TEXT NOT NULL UNIQUE,
    workflow TEXT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    unit_id BIGINT NOT NULL REFERENCES account_org_unit (id),
    applicant_id BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    applicant_email TEXT,
    submission_ref TEXT,
    data TEXT NOT NULL,
    secret_hash TEXT,
    assignee_id BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    state_entered_at BIGINT NOT NULL,
    due_at BIGINT,
    escalated_at BIGINT,
    closed_at BIGINT
);
CREATE INDEX workflow_case_unit ON workflow_case (unit_id, state);
CREATE INDEX workflow_case_applicant ON workflow_case (applicant_id);
CREATE INDEX workflow_case_due ON workflow_case (due_at);

-- kind: open, transition, note, assign, escalate, request, upload.
-- public = 1 entries are shown to the applicant (without actor or text
-- unless the kind is public by nature, e.g. a document request).
CREATE TABLE workflow_history (
    id KR_ID,
    case_id BIGINT NOT NULL REFERENCES workflow_case (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor_id BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    transition TEXT,
    from_state TEXT,
    to_state TEXT,
    text TEXT,
    fields TEXT,
    public INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX workflow_history_case ON workflow_history (case_id, id);

CREATE TABLE workflow_request (
    id KR_ID,
    case_id BIGINT NOT NULL REFERENCES workflow_case (id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    fulfilled_at BIGINT
);
CREATE INDEX workflow_request_case ON workflow_request (case_id);

CREATE TABLE workflow_document (
    id KR_ID,
    case_id BIGINT NOT NULL REFERENCES workflow_case (id) ON DELETE CASCADE,
    blob_hash TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL
);
CREATE INDEX workflow_document_case ON workflow_document (case_id);
CREATE INDEX workflow_document_blob ON workflow_document (blob_hash);
