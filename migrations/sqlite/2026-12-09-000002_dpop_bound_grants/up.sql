-- The thumbprint of the DPoP key (RFC 9449) a grant's tokens are bound to: set when the
-- authorization request names one (dpop_jkt) or the first token request proves one.
ALTER TABLE grants ADD COLUMN jkt TEXT;
