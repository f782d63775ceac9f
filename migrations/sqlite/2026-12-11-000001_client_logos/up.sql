-- Clients' logos (RFC 7591 logo_uri): fetched once from the client, checked and re-encoded
-- as PNG, and served from here, so that a citizen's browser loads nothing from a client's
-- server while signing in.
CREATE TABLE client_logos (
    client_id TEXT PRIMARY KEY,
    png BLOB NOT NULL,
    fetched_at BIGINT NOT NULL
);
