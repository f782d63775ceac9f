-- Grants without a citizen (client_credentials) or without a session have nothing to find
-- by either: they stay out of these indexes, and issuing one writes two index entries
-- fewer. Every query by user or session compares the column with a value, which implies
-- that it is not null, so the partial indexes still serve them.
DROP INDEX grants_user_client;
CREATE INDEX grants_user_client ON grants(user_id, client_id) WHERE user_id IS NOT NULL;
DROP INDEX grants_sid;
CREATE INDEX grants_sid ON grants(sid) WHERE sid IS NOT NULL;
