DROP TABLE lockouts;
DROP TABLE user_keys;
ALTER TABLE credentials DROP COLUMN counter;
ALTER TABLE browser_sessions DROP COLUMN factors;
