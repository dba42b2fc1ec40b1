-- Survey programmes: a survey sent to an audience on a cadence, in waves.
-- Every message to a person (invitation, reminder, reward) is a row of
-- programme_messages: the scheduler claims a row before sending and records
-- the outcome after, so a restart never sends anything twice. Times are Unix
-- seconds (`*_ts`).
ALTER TABLE contacts ADD COLUMN time_zone TEXT;
CREATE TABLE programmes (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    definition TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE waves (
    id INTEGER PRIMARY KEY,
    programme_id INTEGER NOT NULL REFERENCES programmes(id),
    label TEXT NOT NULL,
    starts_ts INTEGER NOT NULL,
    stats TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (programme_id, label)
);
ALTER TABLE invitations ADD COLUMN programme_id INTEGER REFERENCES programmes(id);
ALTER TABLE invitations ADD COLUMN wave_id INTEGER REFERENCES waves(id);
ALTER TABLE invitations ADD COLUMN channel TEXT;
ALTER TABLE invitations ADD COLUMN opened_ts INTEGER;
ALTER TABLE invitations ADD COLUMN started_ts INTEGER;
-- The named response that used it (never set for anonymous surveys).
ALTER TABLE invitations ADD COLUMN response_id INTEGER REFERENCES responses(id);
CREATE INDEX invitations_wave ON invitations(wave_id);
CREATE INDEX invitations_programme ON invitations(programme_id, used_at);
CREATE TABLE programme_messages (
    id INTEGER PRIMARY KEY,
    wave_id INTEGER NOT NULL REFERENCES waves(id),
    invitation_id INTEGER NOT NULL REFERENCES invitations(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    due_ts INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    sent_ts INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (invitation_id, kind)
);
CREATE INDEX programme_messages_due ON programme_messages(status, due_ts);
CREATE INDEX programme_messages_wave ON programme_messages(wave_id);
CREATE TABLE suppressions (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id),
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE rewards (
    id INTEGER PRIMARY KEY,
    invitation_id INTEGER NOT NULL UNIQUE REFERENCES invitations(id),
    programme_id INTEGER NOT NULL REFERENCES programmes(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    kind TEXT NOT NULL,
    code TEXT,
    points INTEGER,
    given_at TEXT NOT NULL
);
CREATE TABLE coupons (
    id INTEGER PRIMARY KEY,
    pool TEXT NOT NULL,
    code TEXT NOT NULL,
    reward_id INTEGER REFERENCES rewards(id),
    added_at TEXT NOT NULL,
    UNIQUE (pool, code)
);
CREATE INDEX coupons_free ON coupons(pool, reward_id, id);
