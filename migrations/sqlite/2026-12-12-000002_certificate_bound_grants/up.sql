-- The SHA-256 thumbprint (x5t#S256) of the TLS client certificate a grant's access tokens
-- are bound to (RFC 8705 3): set by the token request of a client registered with
-- tls_client_certificate_bound_access_tokens.
ALTER TABLE grants ADD COLUMN x5t TEXT;
