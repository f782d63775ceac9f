DROP TABLE capture_challenges;
DROP TABLE biometric_consents;
