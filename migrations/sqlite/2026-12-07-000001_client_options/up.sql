-- Client settings of the protocol that do not need a column of their own (a JSON object,
-- read and written whole by `store::clients`): the access-token format (opaque, or JWT
-- per RFC 9068), the subject type (public or pairwise, OIDC Core 8) and the sector of
-- pairwise subjects. Clients registered before keep their behaviour: opaque tokens and
-- public subjects, so that no portal sees its users' `sub` change.
ALTER TABLE clients ADD COLUMN options TEXT NOT NULL DEFAULT '{}';

-- The subject a grant's client saw for its person, fixed when the grant was made.
ALTER TABLE grants ADD COLUMN subject TEXT;

-- Revoked JWT access tokens, by token, grant or client: such tokens are checked without a
-- database read, and every instance reads the denials recorded since its last look once a
-- second.
CREATE TABLE token_denials (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX token_denials_created_at ON token_denials (created_at);
