-- Appending an audit event no longer touches a shared row: a request inserts its event
-- (with a row id) in its own transaction, and a sealer later gives the unsealed events
-- their place in the hash chain (`seq`, `prev_hash`, `hash`) in id order, under the
-- `audit_head` lock that only sealers take. Signed checkpoints of the chain's head let
-- a third party verify an export; the keys that sign them stay published for good.
CREATE TABLE audit_events_sealed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq BIGINT UNIQUE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    client_id TEXT,
    ip TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT,
    hash TEXT
);
INSERT INTO audit_events_sealed (id, seq, at, kind, user_id, client_id, detail, prev_hash, hash)
    SELECT seq, seq, at, kind, user_id, client_id, detail, prev_hash, hash
    FROM audit_events ORDER BY seq;
DROP TABLE audit_events;
ALTER TABLE audit_events_sealed RENAME TO audit_events;
CREATE INDEX audit_events_user ON audit_events(user_id, id);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_unsealed ON audit_events(id) WHERE seq IS NULL;

CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL,
    at BIGINT NOT NULL,
    kid TEXT NOT NULL,
    jws TEXT NOT NULL
);

CREATE TABLE audit_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    public_jwk TEXT NOT NULL,
    private_key BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    active BOOLEAN NOT NULL
);
