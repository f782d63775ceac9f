-- Administrative roles of an account (administrator, clerk, auditor) for the Admin API.
-- A citizen's account has none; one row per role held.
CREATE TABLE admin_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role)
);
