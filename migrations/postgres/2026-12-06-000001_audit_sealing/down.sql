DROP TABLE audit_keys;
DROP TABLE audit_checkpoints;
DELETE FROM audit_events WHERE seq IS NULL;
DROP INDEX audit_events_unsealed;
DROP INDEX audit_events_at;
DROP INDEX audit_events_user;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_seq_key;
ALTER TABLE audit_events DROP COLUMN id, DROP COLUMN ip,
    ALTER COLUMN seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL, ADD PRIMARY KEY (seq);
CREATE INDEX audit_events_user ON audit_events(user_id, seq);
