-- Append-only audit log. Each event's hash covers the previous event's hash, so removing
-- or altering an event breaks the chain (`idp audit verify`). `audit_head` holds the last
-- sequence number and hash; appends update it first, which serialises them across
-- instances.
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    client_id TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_user ON audit_events(user_id, seq);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
