ALTER TABLE biometric_consents DROP COLUMN circumstances;
