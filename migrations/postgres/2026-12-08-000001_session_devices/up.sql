-- Where each browser session was signed in (browser, system and client address, as JSON),
-- shown to the citizen beside their sessions.
ALTER TABLE browser_sessions ADD COLUMN device TEXT;
