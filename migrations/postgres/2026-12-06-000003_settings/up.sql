-- Settings administrators change at run time (the policy), as JSON, with a version that
-- every instance watches to pick up a change made through another.
CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
