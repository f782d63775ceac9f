DROP TABLE audit_keys;
DROP TABLE audit_checkpoints;
CREATE TABLE audit_events_chained (
    seq BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    client_id TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_events_chained SELECT seq, at, kind, user_id, client_id, detail, prev_hash, hash
    FROM audit_events WHERE seq IS NOT NULL ORDER BY seq;
DROP TABLE audit_events;
ALTER TABLE audit_events_chained RENAME TO audit_events;
CREATE INDEX audit_events_user ON audit_events(user_id, seq);
