-- 0002: how a session's user logged in, and the level of assurance of that
-- identification (eIDAS: low, substantial, high), so that a service can
-- require e.g. an eID login.  Existing sessions were password logins.
ALTER TABLE account_session ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'password'
    CHECK (auth_method IN ('none', 'password', 'password+totp', 'oidc'));
ALTER TABLE account_session ADD COLUMN assurance TEXT NOT NULL DEFAULT 'low'
    CHECK (assurance IN ('none', 'low', 'substantial', 'high'));
