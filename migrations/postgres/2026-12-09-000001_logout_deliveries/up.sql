-- Back-channel logout notices (OIDC Back-Channel Logout 1.0) waiting to reach a service:
-- one per service and ended session, written in the transaction that ended it, retried
-- until the service answers or the attempts run out.
CREATE TABLE logout_deliveries (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    subject TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX logout_deliveries_next_at ON logout_deliveries (next_at);
