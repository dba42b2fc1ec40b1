-- Improvement actions: what a team does to move a metric (faster delivery to
-- lift the delivery_speed rating in 华东), from when, and so the metric's change
-- since can be reported against the period before.
CREATE TABLE actions (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    survey TEXT NOT NULL,
    metric TEXT NOT NULL,
    filters TEXT NOT NULL DEFAULT '[]',
    owner TEXT,
    started_on TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL
);
