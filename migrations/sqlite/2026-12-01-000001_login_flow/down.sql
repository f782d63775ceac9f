ALTER TABLE login_transactions DROP COLUMN stage;
