//! Language detection for feedback: Chinese, English or a mix.
//!
//! Feedback is short and the two scripts are disjoint, so counting beats any
//! statistical model: each Han character counts as one unit and each run of
//! Latin letters as one unit (a word). A text is Chinese when at least 60% of
//! its units are Han, English when at most 20% are, and mixed in between
//! ("客服 response 太慢了" is Chinese; "The 发票 was wrong" is mixed).

use serde::{Deserialize, Serialize};

use crate::normalize::is_han;

/// The language of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Chinese (simplified or traditional).
    Zh,
    /// English.
    En,
    /// Both scripts in comparable amounts.
    Mixed,
    /// No letters at all (only digits, punctuation or emojis).
    #[serde(rename = "und")]
    Unknown,
}

impl Lang {
    /// The code used in JSON and the database (`zh`, `en`, `mixed`, `und`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
            Lang::Mixed => "mixed",
            Lang::Unknown => "und",
        }
    }

    /// Parse a code as `code` writes it (also `auto`-free forms like `zh-CN`).
    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        match code.split(['-', '_']).next().unwrap_or("") {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            "mixed" => Some(Lang::Mixed),
            "und" => Some(Lang::Unknown),
            _ => None,
        }
    }
}

/// How much of a text is Chinese: Han characters and Latin words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptCounts {
    /// Han characters.
    pub han: usize,
    /// Runs of Latin letters.
    pub latin_words: usize,
}

impl ScriptCounts {
    /// Count the units of `text`.
    pub fn of(text: &str) -> ScriptCounts {
        let mut counts = ScriptCounts::default();
        let mut in_word = false;
        for c in text.chars() {
            if c.is_ascii_alphabetic() {
                if !in_word {
                    counts.latin_words += 1;
                    in_word = true;
                }
                continue;
            }
            in_word = false;
            if is_han(c) {
                counts.han += 1;
            }
        }
        counts
    }

    /// The share of units that are Han (`None` for a text with no letters).
    pub fn han_share(self) -> Option<f64> {
        let total = self.han + self.latin_words;
        (total > 0).then(|| self.han as f64 / total as f64)
    }

    /// The language these counts indicate.
    pub fn lang(self) -> Lang {
        match self.han_share() {
            None => Lang::Unknown,
            Some(s) if s >= 0.6 => Lang::Zh,
            Some(s) if s <= 0.2 => Lang::En,
            Some(_) => Lang::Mixed,
        }
    }
}

/// Detect the language of `text`.
pub fn detect(text: &str) -> Lang {
    ScriptCounts::of(text).lang()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_language() {
        assert_eq!(detect("物流太慢了"), Lang::Zh);
        assert_eq!(detect("客服 response 太慢了"), Lang::Zh);
        assert_eq!(detect("Great product, slow delivery."), Lang::En);
        assert_eq!(detect("The 发票 was wrong"), Lang::Mixed);
        assert_eq!(detect("👍👍 100"), Lang::Unknown);
        assert_eq!(detect(""), Lang::Unknown);
    }

    #[test]
    fn codes_round_trip() {
        for lang in [Lang::Zh, Lang::En, Lang::Mixed, Lang::Unknown] {
            assert_eq!(Lang::parse(lang.code()), Some(lang));
        }
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::parse("fr"), None);
    }
}
