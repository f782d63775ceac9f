-- Appending an audit event no longer touches a shared row: a request inserts its event
-- (with a row id) in its own transaction, and a sealer later gives the unsealed events
-- their place in the hash chain (`seq`, `prev_hash`, `hash`) in id order, under the
-- `audit_head` lock that only sealers take. Signed checkpoints of the chain's head let
-- a third party verify an export; the keys that sign them stay published for good.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD COLUMN id BIGINT;
UPDATE audit_events SET id = seq;
CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
SELECT setval('audit_events_id_seq', COALESCE((SELECT MAX(id) FROM audit_events), 0) + 1, false);
ALTER TABLE audit_events
    ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq'),
    ALTER COLUMN id SET NOT NULL,
    ADD PRIMARY KEY (id),
    ALTER COLUMN seq DROP NOT NULL,
    ALTER COLUMN prev_hash DROP NOT NULL,
    ALTER COLUMN hash DROP NOT NULL,
    ADD CONSTRAINT audit_events_seq_key UNIQUE (seq),
    ADD COLUMN ip TEXT;
DROP INDEX audit_events_user;
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
    private_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    active BOOLEAN NOT NULL
);
