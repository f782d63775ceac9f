-- How a biometric consent was given, when not online by the citizen alone: in person at a
-- service centre before a clerk (who), and a guardian's consent for a minor (JSON).
ALTER TABLE biometric_consents ADD COLUMN circumstances TEXT;
