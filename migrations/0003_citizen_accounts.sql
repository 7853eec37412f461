-- 0003: citizen and business accounts (Servicekonto): confirmed e-mail,
-- single-use tokens for confirmation, password reset and e-mail change,
-- TOTP second factor with recovery codes, companies with members.

-- A citizen logs in with the e-mail address (stored lower-case); it is
-- theirs once confirmed.  totp_secret is the base32 secret of an enabled
-- second factor, totp_pending one being set up, totp_last_step the last
-- accepted time step (a code works only once).
ALTER TABLE account_user ADD COLUMN email_verified_at BIGINT;
ALTER TABLE account_user ADD COLUMN totp_secret TEXT;
ALTER TABLE account_user ADD COLUMN totp_pending TEXT;
ALTER TABLE account_user ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX account_user_citizen_email ON account_user (email) WHERE kind <> 'staff';

-- Tokens sent by e-mail; only their SHA-256 is stored.  Single use
-- (used_at), expiring.  new_email: the address for purpose 'email', the
-- invited address for 'invite'; business_id: the company of an 'invite'
-- (user_id is then the owner who invited).
CREATE TABLE account_token (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES account_user (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('confirm', 'reset', 'email', 'invite')),
    new_email TEXT,
    business_id BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX account_token_user ON account_token (user_id, purpose);

-- Recovery codes for a lost second factor: SHA-256 of each, single use.
CREATE TABLE account_recovery_code (
    user_id BIGINT NOT NULL REFERENCES account_user (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A company (business account) and the accounts acting for it.
CREATE TABLE account_business (
    id KR_ID,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE account_business_member (
    business_id BIGINT NOT NULL REFERENCES account_business (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES account_user (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (business_id, user_id)
);
CREATE INDEX account_business_member_user ON account_business_member (user_id);

-- Between password and second factor: the session waits for the code.
ALTER TABLE account_session ADD COLUMN pending_user_id BIGINT
    REFERENCES account_user (id) ON DELETE CASCADE;
