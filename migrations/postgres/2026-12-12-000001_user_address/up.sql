-- The citizen's postal address, for the address claim of the address scope (OIDC Core
-- 5.1.1): a JSON object of its parts (formatted, street_address, locality, region,
-- postal_code, country), each optional; no address is NULL.
ALTER TABLE users ADD COLUMN address TEXT;
