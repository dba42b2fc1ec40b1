//! Survey definitions (SPEC §4) and answers validated against them.

use serde::{Deserialize, Serialize};

use crate::survey::ces::CesDirection;
use crate::survey::scale::Scale;
use crate::value::{ScoreCell, parse_score};

/// Text in Chinese and/or English. Accepts `{"zh": …, "en": …}` or a plain string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "TextForm")]
pub struct LocalizedText {
    /// Chinese.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
    /// English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TextForm {
    Plain(String),
    Localized {
        zh: Option<String>,
        en: Option<String>,
    },
}

impl From<TextForm> for LocalizedText {
    fn from(f: TextForm) -> Self {
        match f {
            TextForm::Plain(s) => LocalizedText {
                zh: None,
                en: Some(s),
            },
            TextForm::Localized { zh, en } => LocalizedText { zh, en },
        }
    }
}

impl LocalizedText {
    /// The text in `lang` (`zh` or `en`), falling back to the other language.
    pub fn get(&self, lang: &str) -> &str {
        let (first, second) = if lang.starts_with("zh") {
            (&self.zh, &self.en)
        } else {
            (&self.en, &self.zh)
        };
        first.as_deref().or(second.as_deref()).unwrap_or("")
    }

    fn is_empty(&self) -> bool {
        self.zh.as_deref().unwrap_or("").trim().is_empty()
            && self.en.as_deref().unwrap_or("").trim().is_empty()
    }
}

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// 0–10 likelihood to recommend.
    Nps,
    /// Satisfaction, 1–5 by default.
    Csat,
    /// Customer effort, 1–7 by default.
    Ces,
    /// A rated dimension, 1–5 by default.
    Rating,
    /// Open text.
    Text,
    /// One or several of the listed options.
    Choice,
}

/// An option of a choice question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceOption {
    /// Stable id stored in answers.
    pub id: String,
    /// Label.
    pub text: LocalizedText,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// Unique within the survey; also the default column name on import.
    pub id: String,
    /// Kind.
    pub kind: QuestionKind,
    /// Question text.
    #[serde(default)]
    pub text: LocalizedText,
    /// Must be answered.
    #[serde(default)]
    pub required: bool,
    /// Points of the scale (CSAT, CES, rating): 1…scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<i32>,
    /// CES direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<CesDirection>,
    /// The rated dimension (`product_quality`, …) for rating questions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    /// Choice questions: several options may be chosen.
    #[serde(default)]
    pub multiple: bool,
    /// Choice questions: the options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ChoiceOption>,
}

/// A validated answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnswerValue {
    /// A point of the question's scale.
    Score(i64),
    /// Open text.
    Text(String),
    /// Chosen option ids.
    Choices(Vec<String>),
}

impl Question {
    /// The rating scale, for nps, csat, ces and rating questions.
    pub fn rating_scale(&self) -> Option<Scale> {
        let points = |default: i32| Scale::one_to(self.scale.unwrap_or(default)).ok();
        match self.kind {
            QuestionKind::Nps => Some(Scale::NPS),
            QuestionKind::Csat => points(5),
            QuestionKind::Ces => points(7),
            QuestionKind::Rating => points(5),
            QuestionKind::Text | QuestionKind::Choice => None,
        }
    }

    /// Reads a cell as this question's answer: `Ok(None)` when blank,
    /// `Err(reason)` when it is not a valid answer.
    pub fn parse_answer(&self, raw: &str) -> Result<Option<AnswerValue>, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if let Some(scale) = self.rating_scale() {
            return match parse_score(trimmed.as_bytes()) {
                ScoreCell::Value(v) if scale.contains(v) => Ok(Some(AnswerValue::Score(v))),
                ScoreCell::Value(v) => Err(format!("{v} is off the {scale} scale")),
                _ => Err(format!("not a whole number on the {scale} scale")),
            };
        }
        match self.kind {
            QuestionKind::Choice => {
                let mut chosen = Vec::new();
                for part in trimmed
                    .split([';', '|', '；'])
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                {
                    let option = self
                        .options
                        .iter()
                        .find(|o| {
                            o.id == part
                                || o.text.zh.as_deref() == Some(part)
                                || o.text.en.as_deref() == Some(part)
                        })
                        .ok_or_else(|| {
                            let ids: Vec<&str> =
                                self.options.iter().map(|o| o.id.as_str()).collect();
                            format!("{part:?} is not an option ({})", ids.join(", "))
                        })?;
                    chosen.push(option.id.clone());
                }
                if chosen.len() > 1 && !self.multiple {
                    return Err("only one option may be chosen".into());
                }
                Ok(Some(AnswerValue::Choices(chosen)))
            }
            _ => Ok(Some(AnswerValue::Text(trimmed.to_string()))),
        }
    }
}

/// A survey definition (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyDefinition {
    /// URL name: lowercase letters, digits and dashes.
    pub slug: String,
    /// Title.
    pub title: LocalizedText,
    /// Stores no identity (no account, contact or IP address).
    #[serde(default)]
    pub anonymous: bool,
    /// Languages offered.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// Questions, in order.
    pub questions: Vec<Question>,
}

fn default_languages() -> Vec<String> {
    vec!["zh".into(), "en".into()]
}

impl SurveyDefinition {
    /// Checks the definition; returns every problem found, each naming its place.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let slug_ok = !self.slug.is_empty()
            && self.slug.len() <= 64
            && self
                .slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !slug_ok {
            problems.push(format!(
                "slug {:?}: use 1–64 lowercase letters, digits and dashes",
                self.slug
            ));
        }
        if self.title.is_empty() {
            problems.push("title: give a zh or en title".into());
        }
        for lang in &self.languages {
            if lang != "zh" && lang != "en" {
                problems.push(format!("languages: {lang:?} is not supported (zh, en)"));
            }
        }
        if self.questions.is_empty() {
            problems.push("questions: a survey needs at least one question".into());
        }
        for (i, q) in self.questions.iter().enumerate() {
            let at = format!("questions[{i}] ({:?})", q.id);
            if q.id.trim().is_empty() {
                problems.push(format!("{at}: id is empty"));
            }
            if self.questions[..i].iter().any(|p| p.id == q.id) {
                problems.push(format!("{at}: id is used twice"));
            }
            if q.text.is_empty() {
                problems.push(format!("{at}: text is empty"));
            }
            match q.kind {
                QuestionKind::Nps if q.scale.is_some_and(|s| s != 10) => {
                    problems.push(format!("{at}: NPS is always 0–10"));
                }
                QuestionKind::Csat | QuestionKind::Ces | QuestionKind::Rating
                    if q.scale.is_some_and(|s| !(2..=10).contains(&s)) =>
                {
                    problems.push(format!("{at}: scale must be 2–10 points"));
                }
                QuestionKind::Choice if q.options.is_empty() => {
                    problems.push(format!("{at}: a choice question needs options"));
                }
                _ => {}
            }
            if q.kind == QuestionKind::Rating
                && q.dimension.as_deref().is_none_or(|d| d.trim().is_empty())
            {
                problems.push(format!(
                    "{at}: a rating question names its dimension (e.g. product_quality)"
                ));
            }
            if q.direction.is_some() && q.kind != QuestionKind::Ces {
                problems.push(format!("{at}: direction applies to CES questions only"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The question with id `id`.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// The first question of `kind`.
    pub fn first_of(&self, kind: QuestionKind) -> Option<&Question> {
        self.questions.iter().find(|q| q.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"{"slug": "delivery-2026", "title": {"zh": "交付满意度调查", "en": "Delivery survey"},
 "anonymous": false, "languages": ["zh", "en"],
 "questions": [
  {"id": "nps", "kind": "nps", "text": {"zh": "您有多大可能向朋友或同事推荐我们?", "en": "How likely are you to recommend us to a friend or colleague?"}, "required": true},
  {"id": "csat", "kind": "csat", "scale": 5, "text": {"zh": "您对我们的产品/服务满意吗?", "en": "How satisfied are you with our product/service?"}},
  {"id": "ces", "kind": "ces", "scale": 7, "direction": "higher_is_easier", "text": {"zh": "…", "en": "…"}},
  {"id": "q1", "kind": "rating", "scale": 5, "dimension": "product_quality", "text": {"zh": "产品质量", "en": "Product quality"}},
  {"id": "why", "kind": "text", "text": {"zh": "请告诉我们原因", "en": "Tell us why"}},
  {"id": "role", "kind": "choice", "multiple": false, "options": [{"id": "buyer", "text": {"zh": "采购", "en": "Buyer"}}], "text": "Your role"}
 ]}"#;

    #[test]
    fn spec_example_parses_and_validates() {
        let s: SurveyDefinition = serde_json::from_str(SPEC_EXAMPLE).expect("parses");
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.questions.len(), 6);
        assert_eq!(
            s.question("csat").and_then(Question::rating_scale),
            Some(Scale::one_to(5).expect("valid"))
        );
        assert_eq!(s.title.get("zh"), "交付满意度调查");
        assert_eq!(
            s.questions[5].text.get("zh"),
            "Your role",
            "falls back to the other language"
        );
    }

    #[test]
    fn answers_are_checked_against_the_question() {
        let s: SurveyDefinition = serde_json::from_str(SPEC_EXAMPLE).expect("parses");
        let nps = s.question("nps").expect("nps");
        assert_eq!(nps.parse_answer(" 9 "), Ok(Some(AnswerValue::Score(9))));
        assert_eq!(nps.parse_answer(""), Ok(None));
        assert!(
            nps.parse_answer("11")
                .expect_err("off scale")
                .contains("0–10")
        );
        assert!(nps.parse_answer("N/A").is_err());
        let role = s.question("role").expect("role");
        assert_eq!(
            role.parse_answer("采购"),
            Ok(Some(AnswerValue::Choices(vec!["buyer".into()])))
        );
        assert!(role.parse_answer("ceo").is_err());
        let why = s.question("why").expect("why");
        assert_eq!(
            why.parse_answer(" 太慢了 "),
            Ok(Some(AnswerValue::Text("太慢了".into())))
        );
    }

    #[test]
    fn bad_definitions_list_every_problem() {
        let mut s: SurveyDefinition = serde_json::from_str(SPEC_EXAMPLE).expect("parses");
        s.slug = "Delivery 2026".into();
        s.questions[1].id = "nps".into();
        s.questions[3].dimension = None;
        let problems = s.validate().expect_err("invalid");
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("slug"));
    }
}
