-- The account page: an account's responses, transactions and interactions.
CREATE INDEX IF NOT EXISTS responses_account ON responses(account_id);
CREATE INDEX IF NOT EXISTS transactions_account ON transactions(account_id, day);
CREATE INDEX IF NOT EXISTS interactions_account ON interactions(account_id, date);
