-- Transactions of no known account (a CRM export imported before, or without,
-- its accounts) are never looked up by account: every query on this index asks
-- for one account or for account_id IS NOT NULL. Left out, a big import of
-- them no longer rewrites the index at random places batch after batch (1M
-- such rows into SQLite: the index was most of the write time).
DROP INDEX IF EXISTS transactions_account;
CREATE INDEX transactions_account ON transactions(account_id, day) WHERE account_id IS NOT NULL;
