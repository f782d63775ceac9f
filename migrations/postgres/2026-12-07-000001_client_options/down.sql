DROP TABLE token_denials;
ALTER TABLE grants DROP COLUMN subject;
ALTER TABLE clients DROP COLUMN options;
