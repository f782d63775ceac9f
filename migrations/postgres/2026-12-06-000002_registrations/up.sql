-- Registrations for face sign-in with an identity document (online, or in person at a
-- service centre): the document's details (JSON: kind, number, country, expiry, whether
-- its machine-readable zone was checked), the score of the document's portrait against
-- the live face, and the clerk's decision with its reason.
CREATE TABLE registrations (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    document TEXT NOT NULL,
    match_score REAL,
    attempts INTEGER NOT NULL,
    locale TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    submitted_at BIGINT,
    decided_at BIGINT,
    decided_by TEXT,
    reason TEXT
);
CREATE INDEX registrations_state ON registrations(state, submitted_at);
CREATE INDEX registrations_user ON registrations(user_id, created_at);

-- What the clerk looks at and what becomes the factor, sealed with the citizen's data
-- key: the document's photo and portrait template, the live frame and template. Deleted
-- when the registration is decided, cancelled or dropped.
CREATE TABLE registration_evidence (
    registration_id TEXT PRIMARY KEY NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,
    document_template BYTEA NOT NULL,
    document_image BYTEA NOT NULL,
    live_template BYTEA,
    face_image BYTEA
);
