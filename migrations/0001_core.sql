-- 0001_core: the foundation's tables.
--
-- Conventions (docs/database.md): times are BIGINT Unix seconds in columns
-- ending in _at; flags are INTEGER 0/1; each module prefixes its tables.

-- Organisation units of the county as a tree:
-- county (Landkreis) > department (Dezernat) > office (Amt) > section (Sachgebiet).
CREATE TABLE account_org_unit (
    id KR_ID,
    parent_id BIGINT REFERENCES account_org_unit (id),
    kind TEXT NOT NULL CHECK (kind IN ('county', 'department', 'office', 'section')),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK ((kind = 'county') = (parent_id IS NULL))
);
CREATE INDEX account_org_unit_parent ON account_org_unit (parent_id);

-- Accounts: staff now; citizens and businesses follow in the accounts issue.
CREATE TABLE account_user (
    id KR_ID,
    kind TEXT NOT NULL CHECK (kind IN ('staff', 'citizen', 'business')),
    login TEXT NOT NULL UNIQUE,
    email TEXT,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    org_unit_id BIGINT REFERENCES account_org_unit (id),
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE account_role (
    user_id BIGINT NOT NULL REFERENCES account_user (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('clerk', 'head_of_unit', 'cash_office',
                                       'records_manager', 'procurement', 'admin')),
    PRIMARY KEY (user_id, role)
);

-- Login attempts, for rate limiting by login name and by client address.
CREATE TABLE account_login_attempt (
    id KR_ID,
    login TEXT NOT NULL,
    ip TEXT NOT NULL,
    success INTEGER NOT NULL CHECK (success IN (0, 1)),
    created_at BIGINT NOT NULL
);
CREATE INDEX account_login_attempt_login ON account_login_attempt (login, created_at);
CREATE INDEX account_login_attempt_ip ON account_login_attempt (ip, created_at);

-- Server-side sessions.  The cookie holds a 256-bit random id; the table
-- holds only its SHA-256, so that a copy of the database opens no session.
CREATE TABLE account_session (
    id_hash TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    user_id BIGINT REFERENCES account_user (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX account_session_expires ON account_session (expires_at);
CREATE INDEX account_session_user ON account_session (user_id);

-- The audit log: append-only, hash-chained (docs/audit.md).  seq counts
-- 1, 2, 3, ... without gaps; audit_head holds the last seq and hash, and
-- its row lock serialises appends across processes.
CREATE TABLE audit_entry (
    seq BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_entry_object ON audit_entry (object_type, object_id);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Changing or deleting audit entries through SQL is refused; the hash chain
-- catches whoever goes around this (drops the trigger, edits the file).
-- kreisel:sqlite
CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry
BEGIN
    SELECT RAISE(ABORT, 'audit_entry is append-only');
END;
CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry
BEGIN
    SELECT RAISE(ABORT, 'audit_entry is append-only');
END;
-- kreisel:postgresql
CREATE FUNCTION audit_entry_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only';
END;
$$;
CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry
FOR EACH ROW EXECUTE FUNCTION audit_entry_refuse();
-- kreisel:both
