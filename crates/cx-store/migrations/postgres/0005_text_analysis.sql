-- Text analysis (cx-text) of open-text answers and feedback items, computed
-- when a row is stored and by `cxscore text reanalyze`: the language, the
-- polarity (-1 negative, 0 neutral, 1 positive), the score in -1..1 and the
-- topics as JSON ([{"topic": "delivery", "sentiment": "negative", "score": -0.8}]).
ALTER TABLE answers ADD COLUMN sentiment SMALLINT;
ALTER TABLE answers ADD COLUMN sentiment_score REAL;
ALTER TABLE answers ADD COLUMN topics TEXT;
ALTER TABLE feedback ADD COLUMN lang TEXT;
ALTER TABLE feedback ADD COLUMN sentiment SMALLINT;
ALTER TABLE feedback ADD COLUMN sentiment_score REAL;
ALTER TABLE feedback ADD COLUMN topics TEXT;
