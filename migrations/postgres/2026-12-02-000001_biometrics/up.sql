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
