-- Pre-aggregated answers ("the cube"): per survey, day, slice field and value,
-- question and score, how many answers (question '' counts responses); and per
-- pair of rated dimensions the sums the CSI interval needs. Kept up to date in
-- the transaction that stores the responses (cx-store/src/cube.rs), filled
-- from the responses already stored when a database is first opened with it.
-- field '' holds the totals; the others are channel, language, region,
-- product_line, sales_team and tier.
CREATE TABLE day_counts (
    survey_id INTEGER NOT NULL,
    field TEXT NOT NULL,
    question_id TEXT NOT NULL,
    grp TEXT NOT NULL,
    day INTEGER NOT NULL,
    value INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (survey_id, field, question_id, grp, day, value)
) WITHOUT ROWID;
CREATE TABLE day_pairs (
    survey_id INTEGER NOT NULL,
    field TEXT NOT NULL,
    qx TEXT NOT NULL,
    qy TEXT NOT NULL,
    grp TEXT NOT NULL,
    day INTEGER NOT NULL,
    n INTEGER NOT NULL,
    sx INTEGER NOT NULL,
    sy INTEGER NOT NULL,
    sxy INTEGER NOT NULL,
    PRIMARY KEY (survey_id, field, qx, qy, grp, day)
) WITHOUT ROWID;
