ALTER TABLE users DROP COLUMN phone;
DROP TABLE rate_limits;
DROP INDEX users_email_lower;
DROP TABLE challenges;
