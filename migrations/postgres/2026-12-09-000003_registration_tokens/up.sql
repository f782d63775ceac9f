-- Initial access tokens of dynamic client registration (RFC 7591 3): made by an operator,
-- kept only as a hash, good for a number of registrations until they expire.
CREATE TABLE registration_tokens (
    token_hash TEXT PRIMARY KEY,
    uses_left BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
