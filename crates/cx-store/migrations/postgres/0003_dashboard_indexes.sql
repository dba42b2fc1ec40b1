-- Dashboard speed: responses by survey and day answer the per-day counts from the
-- index alone; answers by question carry their score, so counting scores needs no
-- trip to the answers table.
CREATE INDEX IF NOT EXISTS responses_survey_day ON responses(survey_id, submitted_day);
DROP INDEX IF EXISTS answers_question;
CREATE INDEX answers_question ON answers(question_id, response_id, value_int);
