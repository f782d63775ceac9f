-- Second factors and step-up: the factors a session has completed, a counter for
-- credentials that must not accept the same value twice (TOTP time steps), per-user data
-- keys (wrapped by the key-encryption key; deleting one crypto-shreds the user's secrets),
-- and lockouts per account (or unknown username) and factor.

ALTER TABLE browser_sessions ADD COLUMN factors TEXT NOT NULL DEFAULT '[]';
ALTER TABLE credentials ADD COLUMN counter BIGINT;

CREATE TABLE user_keys (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    wrapped BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE lockouts (
    subject TEXT NOT NULL,
    factor TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locks INTEGER NOT NULL,
    locked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (subject, factor)
);
