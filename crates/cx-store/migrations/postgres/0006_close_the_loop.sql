-- Closing the loop: follow-up tasks opened by rules, their history, outgoing
-- webhooks with a delivery log, and the company's settings (scorecard, rules).
-- Times are Unix seconds (`*_ts`) beside the RFC 3339 text the pages show.
ALTER TABLE tasks ADD COLUMN contact_id BIGINT REFERENCES contacts(id);
ALTER TABLE tasks ADD COLUMN dedupe_key TEXT;
ALTER TABLE tasks ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE tasks ADD COLUMN team TEXT;
ALTER TABLE tasks ADD COLUMN created_ts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN due_ts BIGINT;
ALTER TABLE tasks ADD COLUMN first_action_ts BIGINT;
ALTER TABLE tasks ADD COLUMN resolved_ts BIGINT;
ALTER TABLE tasks ADD COLUMN escalated_ts BIGINT;
ALTER TABLE tasks ADD COLUMN resolution TEXT;
ALTER TABLE tasks ADD COLUMN resurvey_invitation_id BIGINT REFERENCES invitations(id);
CREATE UNIQUE INDEX tasks_dedupe ON tasks(dedupe_key);
CREATE INDEX tasks_status ON tasks(status, due_ts);
CREATE INDEX tasks_account ON tasks(account_id);
CREATE TABLE task_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    author TEXT NOT NULL,
    status TEXT,
    note TEXT
);
CREATE INDEX task_events_task ON task_events(task_id, id);
CREATE TABLE webhooks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL
);
CREATE TABLE deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    next_ts BIGINT NOT NULL,
    last_code BIGINT,
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
