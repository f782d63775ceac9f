-- Resource servers (the APIs behind relying parties) may introspect tokens issued to any
-- client; every other client only its own.
ALTER TABLE clients ADD COLUMN resource_server BOOLEAN NOT NULL DEFAULT FALSE;
