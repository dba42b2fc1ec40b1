//! # cx-text
//!
//! Feedback text analytics for cxscore, in Chinese and English, offline: the
//! language of a comment, its sentiment (positive / neutral / negative and a
//! score in −1…1), the CX topics it talks about with each topic's own
//! sentiment, and key phrases of what went wrong ("main problems").
//!
//! ```
//! use cx_text::{Analyzer, Polarity};
//!
//! let analyzer = Analyzer::builtin();
//! let a = analyzer.analyze("产品质量不错，但是物流太慢了");
//! assert_eq!(a.lang.code(), "zh");
//! assert_eq!(a.sentiment, Polarity::Negative);
//! let topics: Vec<_> = a.topics.iter().map(|t| (t.topic.as_str(), t.sentiment)).collect();
//! assert_eq!(topics, [("product_quality", Polarity::Positive), ("delivery", Polarity::Negative)]);
//! ```
//!
//! How it works:
//! - the text is normalised (`normalize`) and its language found by counting
//!   scripts (`lang`);
//! - two linear models (`model`), one per language, trained by
//!   `train/train.sh` on labelled reviews (see `train/README.md`), score the
//!   text from hashed features (`features`): character n-grams for Chinese;
//!   words, pairs, negation scope and the VADER lexicon for English; mixed
//!   text blends both by its share of Han characters;
//! - contrast (`但是`, `不过`, `but`, `however`, …) and concession (`虽然`,
//!   `although`) cut the text into clauses (`clause`); each topic is judged on
//!   its own clause, and the overall score is the whole text's (the models
//!   learned how contrast reads from whole reviews);
//! - topics are keywords (`topics`), each scored on its own clause;
//! - neutral is a score close to zero; the thresholds were calibrated on the
//!   calibration half of the hand-labelled survey comments (`train/data/`).

pub mod clause;
pub mod cues;
pub mod features;
pub mod lang;
pub mod lexicon;
pub mod model;
pub mod normalize;
pub mod phrases;
pub mod summary;
pub mod topics;
pub mod train;

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

pub use lang::Lang;
use model::{LinearModel, sigmoid};
pub use topics::{TopicConfig, TopicMatcher};

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A model file that cannot be read.
    #[error("text model: {0}")]
    Model(String),
    /// A topic configuration that cannot be used.
    #[error("topic configuration: {0}")]
    Config(String),
}

/// Positive, neutral or negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Polarity {
    /// Praise.
    Positive,
    /// Neither, or balanced.
    Neutral,
    /// Complaint.
    Negative,
}

impl Polarity {
    /// `positive`, `neutral` or `negative`.
    pub fn as_str(self) -> &'static str {
        match self {
            Polarity::Positive => "positive",
            Polarity::Neutral => "neutral",
            Polarity::Negative => "negative",
        }
    }

    /// As a number: −1 negative, 0 neutral, 1 positive (how the store and the
    /// metrics count it).
    pub fn value(self) -> i64 {
        match self {
            Polarity::Negative => -1,
            Polarity::Neutral => 0,
            Polarity::Positive => 1,
        }
    }

    /// Parse what `as_str` writes.
    pub fn parse(text: &str) -> Option<Polarity> {
        match text {
            "positive" => Some(Polarity::Positive),
            "neutral" => Some(Polarity::Neutral),
            "negative" => Some(Polarity::Negative),
            _ => None,
        }
    }

    /// The polarity of a score in −1…1 with a neutral band of ±`threshold`.
    pub fn of_score(score: f32, threshold: f32) -> Polarity {
        if score >= threshold {
            Polarity::Positive
        } else if score <= -threshold {
            Polarity::Negative
        } else {
            Polarity::Neutral
        }
    }
}

/// A topic mentioned in a text, with that topic's own sentiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicSentiment {
    /// The topic id (`delivery`, `price`, …).
    pub topic: String,
    /// The sentiment of what is said about it.
    pub sentiment: Polarity,
    /// Its score in −1…1.
    pub score: f32,
}

/// The analysis of one text (SPEC §2, `cxscore text analyze`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The language.
    pub lang: Lang,
    /// The overall sentiment.
    pub sentiment: Polarity,
    /// The overall score in −1…1 (2·P(positive) − 1).
    pub score: f32,
    /// Topics in order of first mention, each once.
    pub topics: Vec<TopicSentiment>,
    /// Key phrases of the negative parts (nouns and noun-like words), for
    /// "main problems"; empty when nothing negative was said.
    pub phrases: Vec<String>,
}

/// Calibrated constants of the analyzer, written by the training run
/// (`model/calibration.json`; `train/README.md` says how they are found).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Chinese texts scoring within ±this are neutral.
    pub neutral_zh: f32,
    /// English texts scoring within ±this are neutral.
    pub neutral_en: f32,
    /// A topic's own clause scoring within ±this is neutral about it.
    pub topic_neutral: f32,
    /// Weight of the clauses after a contrast (others weigh 1, conceded ones ½).
    pub contrast: f32,
    /// Share of the whole-text logit in the overall logit (the rest is the
    /// weighted mean of the clauses' logits).
    pub whole: f32,
    /// Factor on the logit of a hedging clause (`还行`, `it's ok`).
    pub hedge: f32,
    /// Factor on the logit of a question or request.
    pub request: f32,
    /// Logit added per praise phrase, subtracted per complaint (`lexicon`).
    pub lexicon: f32,
}

static CALIBRATION: &str = include_str!("../model/calibration.json");

impl Default for Calibration {
    /// The shipped calibration.
    fn default() -> Calibration {
        #[allow(clippy::expect_used)]
        serde_json::from_str(CALIBRATION).expect("the shipped calibration parses (tested)")
    }
}

/// The analyzer: models, topic matcher and calibration. Cheap to clone
/// (the models are shared).
#[derive(Debug, Clone)]
pub struct Analyzer {
    zh: Arc<LinearModel>,
    en: Arc<LinearModel>,
    topics: Arc<TopicMatcher>,
    calibration: Calibration,
    forced: Option<Lang>,
}

static ZH_MODEL: &[u8] = include_bytes!("../model/zh.bin");
static EN_MODEL: &[u8] = include_bytes!("../model/en.bin");

impl Analyzer {
    /// The built-in models and taxonomy (loaded once per process).
    pub fn builtin() -> Analyzer {
        static BUILTIN: OnceLock<Analyzer> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                #[allow(clippy::expect_used)]
                let load = |bytes| {
                    Arc::new(
                        LinearModel::from_bytes(bytes)
                            .expect("the built-in model is valid (tested)"),
                    )
                };
                #[allow(clippy::expect_used)]
                let topics = TopicMatcher::new(&TopicConfig::default())
                    .expect("the built-in taxonomy builds (tested)");
                Analyzer {
                    zh: load(ZH_MODEL),
                    en: load(EN_MODEL),
                    topics: Arc::new(topics),
                    calibration: Calibration::default(),
                    forced: None,
                }
            })
            .clone()
    }

    /// Models of your own (e.g. freshly trained) with the built-in taxonomy.
    pub fn with_models(zh: LinearModel, en: LinearModel) -> Analyzer {
        Analyzer {
            zh: Arc::new(zh),
            en: Arc::new(en),
            ..Analyzer::builtin()
        }
    }

    /// Extend the taxonomy with a configuration.
    pub fn with_topics(mut self, config: &TopicConfig) -> Result<Analyzer, TextError> {
        self.topics = Arc::new(TopicMatcher::new(config)?);
        Ok(self)
    }

    /// Use these constants instead of the calibrated ones.
    pub fn with_calibration(mut self, calibration: Calibration) -> Analyzer {
        self.calibration = calibration;
        self
    }

    /// Treat every text as this language (`None`: detect).
    pub fn with_lang(mut self, lang: Option<Lang>) -> Analyzer {
        self.forced = lang;
        self
    }

    /// The topic ids this analyzer knows.
    pub fn topic_ids(&self) -> &[String] {
        self.topics.topics()
    }

    /// Analyse one text.
    pub fn analyze(&self, text: &str) -> Analysis {
        let mut scratch = Scratch::default();
        self.analyze_with(text, &mut scratch)
    }

    /// Analyse one text, reusing buffers (for loops over many texts).
    pub fn analyze_with(&self, text: &str, scratch: &mut Scratch) -> Analysis {
        let norm = clause::rewrite(&normalize::normalize(text));
        let counts = lang::ScriptCounts::of(&norm);
        let lang = self.forced.unwrap_or_else(|| counts.lang());
        let han_share = match lang {
            Lang::Zh => 1.0,
            Lang::En => 0.0,
            Lang::Mixed => counts.han_share().unwrap_or(0.5) as f32,
            Lang::Unknown => 0.5,
        };
        let cal = &self.calibration;
        let neutral = han_share * cal.neutral_zh + (1.0 - han_share) * cal.neutral_en;
        if cues::no_opinion(&norm) {
            return Analysis {
                lang,
                sentiment: Polarity::Neutral,
                score: 0.0,
                topics: Vec::new(),
                phrases: Vec::new(),
            };
        }

        // Each clause's cue (damping factor), role (weight) and lexicon balance;
        // its logit only when something needs it (`clause_logit`).
        let parts = clause::split(&norm);
        let roles = clause::roles(&norm, &parts);
        let mut clauses: Vec<ClauseFacts> = Vec::with_capacity(parts.len());
        let (mut weights, mut damping, mut lexical) = (0.0f32, 0.0f32, 0.0f32);
        for (part, role) in parts.iter().zip(&roles) {
            let text = &norm[part.start..part.end];
            let question = norm[part.end..].starts_with('?');
            let balance = lexicon::balance(text);
            let factor = match cues::cue(text, question) {
                cues::Cue::Plain => 1.0,
                cues::Cue::Hedge => cal.hedge,
                // A question that complains ("怎么还没发货？") is a complaint.
                cues::Cue::Request if balance < 0.0 => 1.0,
                cues::Cue::Request => cal.request,
            };
            let weight = match role {
                clause::Role::Plain => 1.0,
                clause::Role::Main => cal.contrast,
                clause::Role::Conceded => 0.5,
            };
            weights += weight;
            damping += weight * factor;
            lexical += balance;
            clauses.push(ClauseFacts {
                factor,
                weight,
                balance,
                logit: None,
            });
        }
        let whole_model = self.logit(&norm, han_share, scratch);
        // One clause spanning the text: its logit is the whole text's.
        if let [only] = clauses.as_mut_slice() {
            only.logit = Some(only.factor * (whole_model + cal.lexicon * only.balance));
        }
        let logit = if weights > 0.0 {
            let whole = (whole_model + cal.lexicon * lexical) * damping / weights;
            if cal.whole >= 1.0 {
                whole
            } else {
                let mut sum = 0.0;
                for i in 0..clauses.len() {
                    sum += clauses[i].weight
                        * self.clause_logit(&norm, &parts, &mut clauses, i, han_share, scratch);
                }
                cal.whole * whole + (1.0 - cal.whole) * sum / weights
            }
        } else {
            // Emojis or symbols only.
            whole_model
        };
        let score = 2.0 * sigmoid(logit) - 1.0;
        let sentiment = Polarity::of_score(score, neutral);

        // Each topic is scored on the clauses that mention it.
        let mut mentions = std::mem::take(&mut scratch.mentions);
        self.topics.find(&norm, &mut mentions);
        let mut topics: Vec<(usize, f32, usize)> = Vec::new();
        for mention in &mentions {
            // Parts are in text order: the first that ends after the mention's start.
            let i = parts.partition_point(|p| p.end <= mention.start);
            if parts.get(i).is_none_or(|p| p.start > mention.start) {
                continue;
            }
            let l = self.clause_logit(&norm, &parts, &mut clauses, i, han_share, scratch);
            match topics.iter_mut().find(|t| t.0 == mention.topic) {
                Some(t) => {
                    t.1 += l;
                    t.2 += 1;
                }
                None => topics.push((mention.topic, l, 1)),
            }
        }
        scratch.mentions = mentions;
        let topics = topics
            .into_iter()
            .map(|(topic, sum, n)| {
                let score = 2.0 * sigmoid(sum / n as f32) - 1.0;
                TopicSentiment {
                    topic: self.topics.topics()[topic].clone(),
                    sentiment: Polarity::of_score(score, cal.topic_neutral),
                    score,
                }
            })
            .collect();
        let mut negative_parts: Vec<&str> = Vec::new();
        if sentiment == Polarity::Negative {
            for (i, p) in parts.iter().enumerate() {
                let l = self.clause_logit(&norm, &parts, &mut clauses, i, han_share, scratch);
                if 2.0 * sigmoid(l) - 1.0 <= -cal.topic_neutral {
                    negative_parts.push(&norm[p.start..p.end]);
                    // Enough for a handful of key phrases, however long the text.
                    if negative_parts.len() >= 12 {
                        break;
                    }
                }
            }
        }
        let phrases = phrases::key_phrases(&negative_parts);
        Analysis {
            lang,
            sentiment,
            score,
            topics,
            phrases,
        }
    }

    /// Clause `i`'s logit (damped by its cue, lexicon added), computed once.
    fn clause_logit(
        &self,
        norm: &str,
        parts: &[clause::Part],
        clauses: &mut [ClauseFacts],
        i: usize,
        han_share: f32,
        scratch: &mut Scratch,
    ) -> f32 {
        if let Some(l) = clauses[i].logit {
            return l;
        }
        let c = &clauses[i];
        let model = self.logit(&norm[parts[i].start..parts[i].end], han_share, scratch);
        let l = c.factor * (model + self.calibration.lexicon * c.balance);
        clauses[i].logit = Some(l);
        l
    }

    fn logit(&self, text: &str, han_share: f32, scratch: &mut Scratch) -> f32 {
        let mut sum = 0.0;
        if han_share > 0.0 {
            self.zh.features(text, &mut scratch.features);
            sum += han_share * self.zh.logit_of(&scratch.features);
        }
        if han_share < 1.0 {
            self.en.features(text, &mut scratch.features);
            sum += (1.0 - han_share) * self.en.logit_of(&scratch.features);
        }
        sum
    }
}

/// What the analysis knows of one clause.
#[derive(Debug, Clone, Copy)]
struct ClauseFacts {
    /// Damping by its cue (hedge, request).
    factor: f32,
    /// Weight by its role (main point, conceded).
    weight: f32,
    /// Praise minus complaints (`lexicon::balance`).
    balance: f32,
    /// Its logit, once computed.
    logit: Option<f32>,
}

/// Reusable buffers for `Analyzer::analyze_with`.
#[derive(Debug, Default)]
pub struct Scratch {
    features: features::FeatureVec,
    mentions: Vec<topics::Mention>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polarity_from_score() {
        assert_eq!(Polarity::of_score(0.5, 0.3), Polarity::Positive);
        assert_eq!(Polarity::of_score(0.3, 0.3), Polarity::Positive);
        assert_eq!(Polarity::of_score(0.1, 0.3), Polarity::Neutral);
        assert_eq!(Polarity::of_score(-0.31, 0.3), Polarity::Negative);
        for p in [Polarity::Positive, Polarity::Neutral, Polarity::Negative] {
            assert_eq!(Polarity::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn builtin_models_load() {
        let _ = Calibration::default();
        let a = Analyzer::builtin();
        assert_eq!(a.zh.bits, 20);
        assert!(a.topic_ids().len() >= 10);
    }
}
