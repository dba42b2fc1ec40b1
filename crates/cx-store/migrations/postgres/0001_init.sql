-- cxscore schema, PostgreSQL. Dates are ISO text (YYYY-MM-DD); `*_day` columns hold
-- days since 1970-01-01 so that periods are computed the same way on every backend.
CREATE TABLE surveys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    anonymous BOOLEAN NOT NULL DEFAULT FALSE,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id TEXT COLLATE "C" NOT NULL UNIQUE,
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
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id TEXT COLLATE "C" NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    role TEXT,
    influence DOUBLE PRECISION NOT NULL,
    email TEXT,
    phone TEXT
);
CREATE INDEX contacts_account ON contacts(account_id);
CREATE TABLE responses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survey_id BIGINT NOT NULL REFERENCES surveys(id),
    dedupe_key TEXT COLLATE "C" NOT NULL,
    submitted_at TEXT NOT NULL,
    submitted_day BIGINT NOT NULL,
    channel TEXT NOT NULL,
    language TEXT,
    account_id BIGINT REFERENCES accounts(id),
    contact_id BIGINT REFERENCES contacts(id),
    metadata JSONB NOT NULL DEFAULT '{}',
    UNIQUE (survey_id, dedupe_key)
);
CREATE TABLE answers (
    response_id BIGINT NOT NULL REFERENCES responses(id) ON DELETE CASCADE,
    question_id TEXT NOT NULL,
    value_int BIGINT,
    value_text TEXT,
    PRIMARY KEY (response_id, question_id)
);
CREATE INDEX answers_question ON answers(question_id, response_id);
CREATE TABLE transactions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key TEXT COLLATE "C" NOT NULL UNIQUE,
    external_id TEXT,
    customer TEXT NOT NULL,
    account_id BIGINT REFERENCES accounts(id),
    date TEXT NOT NULL,
    day BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    product_line TEXT
);
CREATE TABLE interactions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key TEXT COLLATE "C" NOT NULL UNIQUE,
    customer TEXT NOT NULL,
    account_id BIGINT REFERENCES accounts(id),
    kind TEXT NOT NULL,
    date TEXT NOT NULL,
    note TEXT
);
CREATE TABLE feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key TEXT COLLATE "C" NOT NULL UNIQUE,
    customer TEXT,
    account_id BIGINT REFERENCES accounts(id),
    source TEXT NOT NULL,
    date TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE assessments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts(id),
    period TEXT NOT NULL,
    satisfaction BIGINT,
    loyalty BIGINT,
    engagement BIGINT,
    information_transfer BIGINT,
    daily_guidance BIGINT,
    project_support BIGINT,
    competitive_preference BIGINT,
    UNIQUE (contact_id, period)
);
CREATE TABLE tasks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT REFERENCES accounts(id),
    response_id BIGINT REFERENCES responses(id),
    title TEXT NOT NULL,
    owner TEXT,
    due TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL
);
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE api_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
