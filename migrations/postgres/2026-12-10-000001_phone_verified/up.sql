-- Whether the mobile number was shown to reach the citizen (a code sent to it came back):
-- the phone_number_verified claim of the phone scope.
ALTER TABLE users ADD COLUMN phone_verified BOOLEAN NOT NULL DEFAULT FALSE;
