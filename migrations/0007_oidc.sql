-- 0007_oidc: login through an external identity provider over OpenID
-- Connect (the state's service account, BundID).  docs/oidc.md.

-- Logins started and not yet finished: one row per redirect to the
-- provider.  The browser carries only state; its SHA-256 is the key here,
-- so a copy of the database cannot finish a login.  A row is taken (deleted)
-- by the callback whether it succeeds or not: single use.  It is bound to
-- the SHA-256 of the browser's session id, so that a callback in another
-- browser (login CSRF, a stolen redirect) finds nothing.
CREATE TABLE oidc_pending (
    state_hash TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    return_path TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_pending_expires ON oidc_pending (expires_at);

-- Which account an identity of a provider belongs to: (iss, sub) is the
-- identity (OpenID Connect Core 5.7: sub is unique only per issuer).
CREATE TABLE oidc_identity (
    id KR_ID,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES account_user (id) ON DELETE CASCADE,
    email TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    created_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    last_acr TEXT,
    UNIQUE (issuer, subject)
);
CREATE INDEX oidc_identity_user ON oidc_identity (user_id);
