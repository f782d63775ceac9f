DROP TABLE biometric_consents;
