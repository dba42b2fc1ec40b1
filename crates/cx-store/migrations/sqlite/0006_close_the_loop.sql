-- Closing the loop: follow-up tasks opened by rules, their history, outgoing
-- webhooks with a delivery log, and the company's settings (scorecard, rules).
-- Times are Unix seconds (`*_ts`) beside the RFC 3339 text the pages show.
ALTER TABLE tasks ADD COLUMN contact_id INTEGER REFERENCES contacts(id);
ALTER TABLE tasks ADD COLUMN dedupe_key TEXT;
ALTER TABLE tasks ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE tasks ADD COLUMN team TEXT;
ALTER TABLE tasks ADD COLUMN created_ts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN due_ts INTEGER;
ALTER TABLE tasks ADD COLUMN first_action_ts INTEGER;
ALTER TABLE tasks ADD COLUMN resolved_ts INTEGER;
ALTER TABLE tasks ADD COLUMN escalated_ts INTEGER;
ALTER TABLE tasks ADD COLUMN resolution TEXT;
ALTER TABLE tasks ADD COLUMN resurvey_invitation_id INTEGER REFERENCES invitations(id);
CREATE UNIQUE INDEX tasks_dedupe ON tasks(dedupe_key);
CREATE INDEX tasks_status ON tasks(status, due_ts);
CREATE INDEX tasks_account ON tasks(account_id);
CREATE TABLE task_events (
    id INTEGER PRIMARY KEY,
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    author TEXT NOT NULL,
    status TEXT,
    note TEXT
);
CREATE INDEX task_events_task ON task_events(task_id, id);
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ts INTEGER NOT NULL,
    last_code INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX deliveries_due ON deliveries(status, next_ts);
CREATE INDEX deliveries_webhook ON deliveries(webhook_id, id);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
