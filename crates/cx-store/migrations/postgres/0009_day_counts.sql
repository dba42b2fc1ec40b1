-- Pre-aggregated answers ("the cube"): per survey, day, slice field and value,
-- question and score, how many answers (question '' counts responses); and per
-- pair of rated dimensions the sums the CSI interval needs. Kept up to date in
-- the transaction that stores the responses (cx-store/src/cube.rs), filled
-- from the responses already stored when a database is first opened with it.
-- field '' holds the totals; the others are channel, language, region,
-- product_line, sales_team and tier.
CREATE TABLE day_counts (
    survey_id BIGINT NOT NULL,
    field TEXT NOT NULL,
    question_id TEXT NOT NULL,
    grp TEXT NOT NULL,
    day BIGINT NOT NULL,
    value BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (survey_id, field, question_id, grp, day, value)
);
CREATE TABLE day_pairs (
    survey_id BIGINT NOT NULL,
    field TEXT NOT NULL,
    qx TEXT NOT NULL,
    qy TEXT NOT NULL,
    grp TEXT NOT NULL,
    day BIGINT NOT NULL,
    n BIGINT NOT NULL,
    sx BIGINT NOT NULL,
    sy BIGINT NOT NULL,
    sxy BIGINT NOT NULL,
    PRIMARY KEY (survey_id, field, qx, qy, grp, day)
);
