-- Challenges handed to a browser between the two halves of a factor (WebAuthn options,
-- later one-time codes sent by SMS or e-mail): the server-side state, single use.
CREATE TABLE challenges (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Certificates mapped by e-mail address find their account through this index.
CREATE INDEX users_email_lower ON users (lower(email));

-- Fixed-window counters for rate limits (attempts per client address, codes sent per
-- recipient), shared by every instance on the database.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    count INTEGER NOT NULL
);

-- A phone number for one-time codes by SMS.
ALTER TABLE users ADD COLUMN phone TEXT;
