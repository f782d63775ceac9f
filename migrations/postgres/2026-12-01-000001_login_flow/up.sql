-- The login transaction as a stored state machine: `stage` is the step the transaction
-- waits for (JSON of `login::flow::Stage`), so that a form posted for another step is
-- refused. Transactions in progress hold requests of the old form: they are dropped.
DELETE FROM login_transactions;
ALTER TABLE login_transactions ADD COLUMN stage TEXT;
