-- Pushed authorization requests (RFC 9126) waiting for their browser: the parameters as
-- pushed, under the hash of the request_uri's handle, for a minute, used once.
CREATE TABLE pushed_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    params TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
