-- 0010_efile: the e-file (E-Akte) and its file plan (src/efile/efile.h).
--
-- The file plan (Aktenplan) is a tree of items.  retention_years,
-- retention_event, evaluation and unit_id are NULL where an item inherits
-- the value of its parent; the effective values are computed in C
-- (efile_plan_effective).  retention_years -1 means "permanent" (dauernd).
CREATE TABLE efile_plan_item (
    id KR_ID,
    parent_id BIGINT REFERENCES efile_plan_item (id),
    number TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    retention_years INTEGER CHECK (retention_years IS NULL OR retention_years BETWEEN -1 AND 100),
    retention_event TEXT CHECK (retention_event IS NULL OR retention_event IN ('closed', 'date')),
    evaluation TEXT CHECK (evaluation IS NULL OR evaluation IN ('A', 'V', 'B')),
    unit_id BIGINT REFERENCES account_org_unit (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX efile_plan_item_parent ON efile_plan_item (parent_id);

-- Running numbers of file references per plan item, unit and year.
CREATE TABLE efile_counter (
    plan_item_id BIGINT NOT NULL REFERENCES efile_plan_item (id),
    unit_id BIGINT NOT NULL REFERENCES account_org_unit (id),
    year INTEGER NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (plan_item_id, unit_id, year)
);

-- A file (Akte).  version counts changes for optimistic locking.
-- disposal_at is set when the file is closed (or its retention start date
-- is known); disposal is 'archived' or 'destroyed' once it happened.
CREATE TABLE efile_file (
    id KR_ID,
    plan_item_id BIGINT NOT NULL REFERENCES efile_plan_item (id),
    unit_id BIGINT NOT NULL REFERENCES account_org_unit (id),
    reference TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    parties TEXT NOT NULL DEFAULT '',
    case_ref TEXT,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    restricted INTEGER NOT NULL DEFAULT 0,
    legal_hold INTEGER NOT NULL DEFAULT 0,
    retention_start_at BIGINT,
    opened_at BIGINT NOT NULL,
    closed_at BIGINT,
    disposal_at BIGINT,
    disposal TEXT CHECK (disposal IS NULL OR disposal IN ('archived', 'destroyed')),
    version INTEGER NOT NULL DEFAULT 1,
    created_by BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX efile_file_plan ON efile_file (plan_item_id);
CREATE INDEX efile_file_unit ON efile_file (unit_id, status);
CREATE INDEX efile_file_disposal ON efile_file (disposal_at);

-- Named people who may see a restricted file (personnel, health).
CREATE TABLE efile_file_access (
    file_id BIGINT NOT NULL REFERENCES efile_file (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES account_user (id) ON DELETE CASCADE,
    PRIMARY KEY (file_id, user_id)
);

-- A file shared with another unit until until_at (NULL: no end).
CREATE TABLE efile_share (
    file_id BIGINT NOT NULL REFERENCES efile_file (id) ON DELETE CASCADE,
    unit_id BIGINT NOT NULL REFERENCES account_org_unit (id),
    mode TEXT NOT NULL CHECK (mode IN ('read', 'write')),
    until_at BIGINT,
    created_by BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (file_id, unit_id)
);
CREATE INDEX efile_share_unit ON efile_share (unit_id);

-- A transaction (Vorgang) inside a file.
CREATE TABLE efile_transaction (
    id KR_ID,
    file_id BIGINT NOT NULL REFERENCES efile_file (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    title TEXT NOT NULL,
    case_ref TEXT,
    created_by BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (file_id, seq)
);

-- A document; version is the optimistic-locking counter of its metadata
-- and content, current the number of its newest content version.
CREATE TABLE efile_document (
    id KR_ID,
    transaction_id BIGINT NOT NULL REFERENCES efile_transaction (id) ON DELETE CASCADE,
    file_id BIGINT NOT NULL REFERENCES efile_file (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    doc_type TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '',
    sender TEXT NOT NULL DEFAULT '',
    direction TEXT NOT NULL DEFAULT 'internal' CHECK (direction IN ('in', 'out', 'internal')),
    received_at BIGINT,
    current INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_by BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX efile_document_transaction ON efile_document (transaction_id);
CREATE INDEX efile_document_file ON efile_document (file_id);

-- A content version: the bytes are the blob named blob_hash.
CREATE TABLE efile_version (
    id KR_ID,
    document_id BIGINT NOT NULL REFERENCES efile_document (id) ON DELETE CASCADE,
    no INTEGER NOT NULL,
    blob_hash TEXT NOT NULL,
    size BIGINT NOT NULL,
    filename TEXT NOT NULL,
    media_type TEXT NOT NULL,
    text TEXT,
    created_by BIGINT REFERENCES account_user (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (document_id, no)
);
CREATE INDEX efile_version_blob ON efile_version (blob_hash);

-- The text-extraction queue: one row per version whose text is wanted.
CREATE TABLE efile_text_job (
    version_id BIGINT PRIMARY KEY REFERENCES efile_version (id) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    queued_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX efile_text_job_state ON efile_text_job (state, queued_at);

-- The search index: one row per stemmed term and document with its weight
-- (title 10, metadata 4, text 1; the best field counts).
CREATE TABLE efile_term (
    term TEXT NOT NULL,
    document_id BIGINT NOT NULL REFERENCES efile_document (id) ON DELETE CASCADE,
    weight INTEGER NOT NULL,
    PRIMARY KEY (term, document_id)
);
CREATE INDEX efile_term_document ON efile_term (document_id);
CREATE INDEX efile_term_rank ON efile_term (term, weight, document_id);

-- Disposal (Aussonderung) under four eyes: a request by one records
-- manager, executed when a second one confirms.
CREATE TABLE efile_disposal (
    id KR_ID,
    file_id BIGINT REFERENCES efile_file (id) ON DELETE SET NULL,
    action TEXT NOT NULL CHECK (action IN ('archive', 'destroy')),
    legal_basis TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'cancelled')),
    requested_by BIGINT NOT NULL REFERENCES account_user (id),
    requested_at BIGINT NOT NULL,
    confirmed_by BIGINT REFERENCES account_user (id),
    confirmed_at BIGINT,
    package_hash TEXT
);
CREATE INDEX efile_disposal_file ON efile_disposal (file_id);

-- What was destroyed, kept after the file itself is gone.
CREATE TABLE efile_deletion_record (
    id KR_ID,
    reference TEXT NOT NULL,
    title TEXT NOT NULL,
    plan_number TEXT NOT NULL,
    closed_at BIGINT,
    documents INTEGER NOT NULL,
    legal_basis TEXT NOT NULL,
    requested_by BIGINT NOT NULL,
    confirmed_by BIGINT NOT NULL,
    destroyed_at BIGINT NOT NULL
);
