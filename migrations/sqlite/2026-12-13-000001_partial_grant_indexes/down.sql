DROP INDEX grants_user_client;
CREATE INDEX grants_user_client ON grants(user_id, client_id);
DROP INDEX grants_sid;
CREATE INDEX grants_sid ON grants(sid);
