-- The SHA-256 thumbprint (x5t#S256) of a TLS client certificate (RFC 8705 3): on a grant,
-- the one its next access tokens are bound to (set by the token requests of a client
-- registered with tls_client_certificate_bound_access_tokens); on an access token, the one
-- it was bound to when issued, which later token requests do not change.
ALTER TABLE grants ADD COLUMN x5t TEXT;
ALTER TABLE access_tokens ADD COLUMN x5t TEXT;
-- Likewise the DPoP key (RFC 9449) an access token was bound to when issued; the tokens
-- issued before keep their grant's.
ALTER TABLE access_tokens ADD COLUMN jkt TEXT;
UPDATE access_tokens SET jkt = (SELECT jkt FROM grants WHERE grants.id = access_tokens.grant_id);
