//! Key phrases of complaints: the things a negative clause is about.
//!
//! Chinese clauses are segmented and part-of-speech tagged by jieba-rs (its
//! built-in dictionary); nouns and verbal nouns of two or more characters are
//! kept (`物流`, `发票`, `包装`). English clauses keep words of three or more
//! letters that are neither stop words nor sentiment words (the VADER lexicon),
//! which leaves mostly nouns (`invoice`, `driver`, `refund`). Counted over many
//! comments these are the "main problems" (`main_problems`).

use std::collections::HashMap;
use std::sync::OnceLock;

use jieba_rs::Jieba;

use crate::features::valence;
use crate::normalize::is_han;

/// At most this many phrases per text.
const MAX_PHRASES: usize = 6;

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

const STOP: &[&str] = &[
    "the", "and", "was", "were", "are", "has", "have", "had", "for", "with", "that", "this",
    "they", "them", "their", "there", "then", "than", "what", "when", "which", "who", "our",
    "your", "you", "its", "it's", "not", "but", "too", "very", "just", "also", "been", "being",
    "from", "into", "again", "still", "even", "ever", "any", "all", "some", "more", "much", "many",
    "one", "two", "would", "could", "should", "will", "can", "did", "does", "doing", "get", "got",
    "took", "take", "make", "made", "about", "after", "before", "because", "over", "only",
    "really", "every", "time", "times", "thing", "things", "lot", "way", "how", "why", "where",
    "here", "out", "off", "let", "such", "each", "other", "another", "same", "like", "yet",
    "never", "nothing", "dont", "don't", "didn't", "didnt", "isn't", "isnt", "wasn't", "wasnt",
    "we're", "i'm", "i've", "him", "her", "his", "she", "he's", "she's", "us", "me", "my", "we",
    "high", "low", "slow", "fast", "big", "small", "long", "short", "late", "early", "wrong",
    "same", "always", "script", "i", "a", "an", "is", "be",
];

fn is_stop(word: &str) -> bool {
    STOP.contains(&word)
}

/// Key phrases of these (normalised) clauses, in order of first appearance.
pub fn key_phrases(parts: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let keep = |word: &str, out: &mut Vec<String>| {
        if out.len() < MAX_PHRASES && !out.iter().any(|w| w == word) {
            out.push(word.to_owned());
        }
    };
    for part in parts {
        if out.len() >= MAX_PHRASES {
            break;
        }
        if part.chars().any(is_han) {
            for tag in jieba().tag(part, true) {
                let han = tag.word.chars().filter(|c| is_han(*c)).count();
                let noun = tag.tag.starts_with('n') || tag.tag == "vn";
                if noun && han >= 2 && han == tag.word.chars().count() {
                    keep(tag.word, &mut out);
                }
            }
        }
        for word in part.split(|c: char| !(c.is_ascii_alphabetic() || c == '\'' || c == '-')) {
            let word = word.trim_matches(|c| c == '\'' || c == '-');
            if word.len() >= 3 && !is_stop(word) && valence(word).is_none_or(|v| v == 0.0) {
                keep(word, &mut out);
            }
        }
    }
    out
}

/// A main problem: a key phrase and how many negative texts name it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    /// The phrase.
    pub phrase: String,
    /// Negative texts that contain it.
    pub count: u64,
    /// The topic it is most often mentioned with, if any.
    pub topic: Option<String>,
}

/// Count phrases over analyses; the `limit` most frequent, ties by phrase.
pub fn main_problems<'a>(
    analyses: impl IntoIterator<Item = &'a crate::Analysis>,
    limit: usize,
) -> Vec<Problem> {
    let mut counts: HashMap<&str, (u64, HashMap<&str, u64>)> = HashMap::new();
    for analysis in analyses {
        for phrase in &analysis.phrases {
            let entry = counts.entry(phrase).or_default();
            entry.0 += 1;
            for topic in analysis
                .topics
                .iter()
                .filter(|t| t.sentiment == crate::Polarity::Negative)
            {
                *entry.1.entry(&topic.topic).or_default() += 1;
            }
        }
    }
    let mut problems: Vec<Problem> = counts
        .into_iter()
        .map(|(phrase, (count, topics))| Problem {
            phrase: phrase.to_owned(),
            count,
            topic: topics
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|t| t.0.to_owned()),
        })
        .collect();
    problems.sort_by(|a, b| b.count.cmp(&a.count).then(a.phrase.cmp(&b.phrase)));
    problems.truncate(limit);
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nouns_of_complaints() {
        let phrases = key_phrases(&["物流太慢了", "发票开错了"]);
        assert!(phrases.contains(&"物流".to_owned()), "{phrases:?}");
        assert!(phrases.contains(&"发票".to_owned()), "{phrases:?}");
        let phrases = key_phrases(&["the invoice was wrong and the driver was rude"]);
        assert!(phrases.contains(&"invoice".to_owned()), "{phrases:?}");
        assert!(phrases.contains(&"driver".to_owned()), "{phrases:?}");
        assert!(!phrases.contains(&"the".to_owned()), "{phrases:?}");
        assert!(!phrases.contains(&"rude".to_owned()));
    }
}
