-- A citizen's consent to keep a biometric template for signing in: which text they agreed
-- to (its version), for what, when, and when they withdrew it. Kept after withdrawal, as
-- the record of what was agreed; the template itself is a credential row.
CREATE TABLE biometric_consents (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    modality TEXT NOT NULL,
    text_version TEXT NOT NULL,
    purpose TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    withdrawn_at BIGINT
);
CREATE INDEX biometric_consents_user ON biometric_consents(user_id, modality);

-- A face capture asked for and not yet answered: its cue, single use. Held by an account
-- (enrolment, step-up) or by a login transaction (sign-in without a username), so not tied
-- to the users table.
CREATE TABLE capture_challenges (
    id TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    purpose TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX capture_challenges_holder ON capture_challenges(holder, purpose);
