-- The server: invitations (one token per contact, one response per token) and
-- login sessions. Tokens are stored as SHA-256 hashes, never in clear.
CREATE TABLE invitations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survey_id BIGINT NOT NULL REFERENCES surveys(id),
    contact_id BIGINT NOT NULL REFERENCES contacts(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_day BIGINT NOT NULL,
    used_at TEXT
);
CREATE INDEX invitations_contact ON invitations(contact_id, created_day);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX responses_contact ON responses(contact_id);
