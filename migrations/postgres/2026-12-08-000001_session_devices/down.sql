ALTER TABLE browser_sessions DROP COLUMN device;
