-- The language a citizen last signed in with: notices that others' acts cause (the help
-- desk resetting a factor, a clerk enrolling a face) are written in it.
CREATE TABLE user_languages (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    lang TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
