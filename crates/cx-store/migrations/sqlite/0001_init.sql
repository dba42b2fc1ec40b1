-- cxscore schema, SQLite. Dates are ISO text (YYYY-MM-DD); `*_day` columns hold
-- days since 1970-01-01 so that periods are computed the same way on every backend.
CREATE TABLE surveys (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    anonymous INTEGER NOT NULL DEFAULT 0,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    industry TEXT,
    region TEXT,
    tier TEXT,
    sales_team TEXT,
    owner TEXT,
    since TEXT,
    until TEXT
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    role TEXT,
    influence REAL NOT NULL,
    email TEXT,
    phone TEXT
);
CREATE INDEX contacts_account ON contacts(account_id);
CREATE TABLE responses (
    id INTEGER PRIMARY KEY,
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    dedupe_key TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    submitted_day INTEGER NOT NULL,
    channel TEXT NOT NULL,
    language TEXT,
    account_id INTEGER REFERENCES accounts(id),
    contact_id INTEGER REFERENCES contacts(id),
    metadata TEXT NOT NULL DEFAULT '{}',
    UNIQUE (survey_id, dedupe_key)
);
CREATE TABLE answers (
    response_id INTEGER NOT NULL REFERENCES responses(id) ON DELETE CASCADE,
    question_id TEXT NOT NULL,
    value_int INTEGER,
    value_text TEXT,
    PRIMARY KEY (response_id, question_id)
);
CREATE INDEX answers_question ON answers(question_id, response_id);
CREATE TABLE transactions (
    id INTEGER PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    external_id TEXT,
    customer TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts(id),
    date TEXT NOT NULL,
    day INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    product_line TEXT
);
CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    customer TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts(id),
    kind TEXT NOT NULL,
    date TEXT NOT NULL,
    note TEXT
);
CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    customer TEXT,
    account_id INTEGER REFERENCES accounts(id),
    source TEXT NOT NULL,
    date TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE assessments (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    period TEXT NOT NULL,
    satisfaction INTEGER,
    loyalty INTEGER,
    engagement INTEGER,
    information_transfer INTEGER,
    daily_guidance INTEGER,
    project_support INTEGER,
    competitive_preference INTEGER,
    UNIQUE (contact_id, period)
);
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES accounts(id),
    response_id INTEGER REFERENCES responses(id),
    title TEXT NOT NULL,
    owner TEXT,
    due TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
