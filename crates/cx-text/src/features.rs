//! Features of a piece of text for the linear sentiment models.
//!
//! Features are hashed into a fixed table (the "hashing trick", Weinberger et
//! al. 2009), so a model is one array of weights and training and analysis
//! share this one function: what the model was trained on is what it sees.
//!
//! - **Chinese** (and the Chinese side of mixed text): character 1–4-grams
//!   within a clause, with clause-start and clause-end markers; a run of Latin
//!   letters or digits counts as one unit. Four-grams see negation in context
//!   (`不太满意`, `没有问题`); word segmentation is not needed for polarity and
//!   n-grams are robust to typos and new words.
//! - **English**: words and word pairs within a clause, each word also as its
//!   five-letter prefix (a cheap stem: `disappointed`/`disappointing`), words in
//!   the scope of a negator (`not`, `never`, `n't`, …, up to three words or the
//!   clause end) marked as negated, and two real-valued features from the VADER
//!   lexicon (Hutto & Gilbert 2014; MIT): the sums of positive and negative
//!   valence, negation flipping and intensifiers boosting as VADER does.
//! - **Both**: emojis and emoticons as positive or negative tokens, `!` and
//!   `?` marks.
//!
//! Binary features are scaled by 1/√m (m = their number) so short and long
//! texts are on one scale.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::normalize::{is_clause_break, is_han};

/// A sparse feature vector: hashed indices and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureVec {
    /// Indices into the model's table (already reduced to its size).
    pub idx: Vec<u32>,
    /// One value per index.
    pub val: Vec<f32>,
}

impl FeatureVec {
    /// Empty the vector, keeping its buffers.
    pub fn clear(&mut self) {
        self.idx.clear();
        self.val.clear();
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.idx.len()
    }

    /// No features at all.
    pub fn is_empty(&self) -> bool {
        self.idx.is_empty()
    }
}

/// Which featuriser a model uses (stored in the model file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Featurizer {
    /// Character n-grams.
    Chinese,
    /// Words, pairs, prefixes, negation scope, VADER lexicon.
    English,
}

/// FxHash-style mixing, written out so hashes never change with a library.
#[derive(Clone, Copy)]
struct Hash(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hash {
    fn new(namespace: u64) -> Hash {
        Hash(namespace.wrapping_mul(K))
    }
    fn add(self, x: u64) -> Hash {
        Hash((self.0.rotate_left(5) ^ x).wrapping_mul(K))
    }
    fn add_str(mut self, s: &str) -> Hash {
        for b in s.bytes() {
            self = self.add(u64::from(b));
        }
        self.add(0xff)
    }
    fn index(self, mask: u32) -> u32 {
        // Fold the high bits in: the low bits of a multiplicative hash are weak.
        ((self.0 ^ (self.0 >> 29) ^ (self.0 >> 47)) as u32) & mask
    }
}

const NS_NGRAM: u64 = 1;
const NS_WORD: u64 = 2;
const NS_PAIR: u64 = 3;
const NS_PREFIX: u64 = 4;
const NS_NEGATED: u64 = 5;
const NS_SPECIAL: u64 = 6;

/// Unit markers for n-grams (never valid characters).
const START: u64 = 0x11_0001;
const END: u64 = 0x11_0002;
const EMO_POS: u64 = 0x11_0003;
const EMO_NEG: u64 = 0x11_0004;
const DIGITS: u64 = 0x11_0005;

/// Emojis and emoticons with a clear polarity; others are ignored.
fn emoji_polarity(c: char) -> Option<bool> {
    match c {
        '👍' | '😊' | '😀' | '😁' | '😃' | '😄' | '😍' | '🥰' | '❤' | '💯' | '👏' | '🎉' | '😘'
        | '☺' | '🙂' | '💪' | '🌟' | '⭐' | '✨' | '💖' | '💕' | '😆' | '🤩' | '😋' | '🙏'
        | '✅' | '🏆' => Some(true),
        '👎' | '😡' | '😠' | '🙄' | '😤' | '💩' | '😞' | '😢' | '😭' | '😒' | '😩' | '😫'
        | '🤬' | '😣' | '😖' | '😓' | '😑' | '🤮' | '🤢' | '💔' | '😕' | '🙁' | '☹' | '❌'
        | '😾' | '😿' | '😔' => Some(false),
        _ => None,
    }
}

/// ASCII emoticons (after normalisation), as positive or negative.
const EMOTICONS: &[(&str, bool)] = &[
    (":)", true),
    (":-)", true),
    (":d", true),
    ("^_^", true),
    ("(:", true),
    (";)", true),
    (":(", false),
    (":-(", false),
    (":/", false),
    ("-_-", false),
    ("t_t", false),
    (":'(", false),
];

/// Append the features of `text` (already normalised) to `out`.
pub fn featurize(kind: Featurizer, text: &str, bits: u8, out: &mut FeatureVec) {
    let start = out.len();
    let mask = (1u32 << bits) - 1;
    match kind {
        Featurizer::Chinese => chinese(text, mask, out),
        Featurizer::English => english(text, mask, out),
    }
    emoticons(text, mask, out);
    let binary = out.len() - start;
    if binary > 0 {
        let scale = 1.0 / (binary as f32).sqrt();
        for v in &mut out.val[start..] {
            *v *= scale;
        }
    }
    if kind == Featurizer::English {
        lexicon_features(text, mask, out);
    }
}

fn push(out: &mut FeatureVec, idx: u32) {
    out.idx.push(idx);
    out.val.push(1.0);
}

fn emoticons(text: &str, mask: u32, out: &mut FeatureVec) {
    let mut bang = false;
    let mut question = false;
    for c in text.chars() {
        match c {
            '!' | '！' => bang = true,
            '?' | '？' => question = true,
            _ => {}
        }
        if let Some(p) = emoji_polarity(c) {
            push(
                out,
                Hash::new(NS_SPECIAL)
                    .add(if p { EMO_POS } else { EMO_NEG })
                    .index(mask),
            );
        }
    }
    for (face, p) in EMOTICONS {
        if text.contains(face) {
            push(
                out,
                Hash::new(NS_SPECIAL)
                    .add(if *p { EMO_POS } else { EMO_NEG })
                    .index(mask),
            );
        }
    }
    if bang {
        push(out, Hash::new(NS_SPECIAL).add(u64::from(b'!')).index(mask));
    }
    if question {
        push(out, Hash::new(NS_SPECIAL).add(u64::from(b'?')).index(mask));
    }
}

/// The units of a Chinese clause: Han characters, Latin words and digit runs
/// (each one unit), emojis as polarity markers. Other symbols are dropped.
fn chinese_units(clause: &str, units: &mut Vec<u64>) {
    let mut word = Hash::new(NS_WORD);
    let mut in_word = false;
    let mut in_digits = false;
    for c in clause.chars() {
        if c.is_ascii_alphabetic() {
            word = if in_word {
                word.add(c as u64)
            } else {
                Hash::new(NS_WORD).add(c as u64)
            };
            in_word = true;
            in_digits = false;
            continue;
        }
        if in_word {
            units.push(word.0 | (1 << 63));
            in_word = false;
        }
        if c.is_ascii_digit() {
            if !in_digits {
                units.push(DIGITS);
            }
            in_digits = true;
            continue;
        }
        in_digits = false;
        if is_han(c) {
            units.push(c as u64);
        } else if let Some(p) = emoji_polarity(c) {
            units.push(if p { EMO_POS } else { EMO_NEG });
        }
    }
    if in_word {
        units.push(word.0 | (1 << 63));
    }
}

fn chinese(text: &str, mask: u32, out: &mut FeatureVec) {
    let mut units = Vec::with_capacity(64);
    for clause in text.split(is_clause_break) {
        units.clear();
        units.push(START);
        chinese_units(clause, &mut units);
        if units.len() == 1 {
            continue;
        }
        units.push(END);
        let n = units.len();
        for i in 0..n {
            let mut h = Hash::new(NS_NGRAM);
            for (len, unit) in units[i..n.min(i + 4)].iter().enumerate() {
                h = h.add(*unit);
                // The lone markers carry nothing.
                if len == 0 && (i == 0 || i == n - 1) {
                    continue;
                }
                push(out, h.index(mask));
            }
        }
    }
}

/// Words that negate what follows (after normalisation; `n't` forms included).
pub(crate) fn is_negator(word: &str) -> bool {
    matches!(
        word,
        "not"
            | "no"
            | "never"
            | "nothing"
            | "nobody"
            | "none"
            | "neither"
            | "nor"
            | "without"
            | "hardly"
            | "barely"
            | "cannot"
            | "cant"
            | "dont"
            | "doesnt"
            | "didnt"
            | "isnt"
            | "wasnt"
            | "arent"
            | "werent"
            | "wont"
            | "wouldnt"
            | "couldnt"
            | "shouldnt"
            | "havent"
            | "hasnt"
            | "hadnt"
            | "aint"
    ) || word.ends_with("n't")
}

/// Words that strengthen the next one (VADER's booster list, abridged).
fn booster(word: &str) -> f32 {
    match word {
        "very" | "extremely" | "really" | "so" | "super" | "totally" | "absolutely"
        | "completely" | "incredibly" | "highly" | "truly" | "too" | "most" | "utterly"
        | "especially" | "exceptionally" | "seriously" | "terribly" | "awfully" | "quite" => 0.293,
        "slightly" | "somewhat" | "barely" | "kinda" | "kind" | "sort" | "little" | "bit"
        | "marginally" | "partly" => -0.293,
        _ => 0.0,
    }
}

/// The words of an English clause: letters, digits and apostrophes.
fn words(clause: &str) -> impl Iterator<Item = &str> {
    clause
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
}

/// Apostrophes dropped, so `don't` and `dont` are one word.
pub(crate) fn plain(word: &str) -> std::borrow::Cow<'_, str> {
    if word.contains(['\'', '’']) {
        std::borrow::Cow::Owned(word.chars().filter(|c| *c != '\'' && *c != '’').collect())
    } else {
        std::borrow::Cow::Borrowed(word)
    }
}

fn english(text: &str, mask: u32, out: &mut FeatureVec) {
    for clause in text.split(is_clause_break) {
        let mut previous: Option<Hash> = None;
        let mut negated = 0u8;
        let mut any = false;
        for word in words(clause) {
            let word = plain(word);
            let word = word.as_ref();
            let h = Hash::new(NS_WORD).add_str(word);
            push(out, h.index(mask));
            if word.len() > 5 && word.is_char_boundary(5) {
                push(out, Hash::new(NS_PREFIX).add_str(&word[..5]).index(mask));
            }
            let start = previous.unwrap_or(Hash::new(NS_PAIR).add(START));
            push(out, Hash::new(NS_PAIR).add(start.0).add(h.0).index(mask));
            if negated > 0 {
                push(out, Hash::new(NS_NEGATED).add_str(word).index(mask));
                negated -= 1;
            }
            if is_negator(word) {
                negated = 3;
            }
            previous = Some(h);
            any = true;
        }
        if let Some(last) = previous.filter(|_| any) {
            push(out, Hash::new(NS_PAIR).add(last.0).add(END).index(mask));
        }
    }
}

/// The VADER valence lexicon, word → mean rating (−4…4).
fn vader() -> &'static HashMap<&'static str, f32> {
    static LEXICON: OnceLock<HashMap<&'static str, f32>> = OnceLock::new();
    LEXICON.get_or_init(|| {
        include_str!("../data/vader_lexicon.tsv")
            .lines()
            .filter_map(|line| {
                let (word, valence) = line.split_once('\t')?;
                Some((word, valence.trim().parse().ok()?))
            })
            .collect()
    })
}

/// A word's VADER valence (−4…4), apostrophes ignored; `None` when unrated.
pub fn valence(word: &str) -> Option<f32> {
    vader().get(plain(word).as_ref()).copied()
}

/// Sums of positive and negative valence over the text, VADER-style: a
/// negator within the three words before flips and damps (×−0.74), a booster
/// right before adds ±0.293 in the word's direction.
pub fn lexicon_valence(text: &str) -> (f32, f32) {
    let lexicon = vader();
    let (mut positive, mut negative) = (0.0f32, 0.0f32);
    for clause in text.split(is_clause_break) {
        let words: Vec<String> = words(clause).map(|w| plain(w).into_owned()).collect();
        for (i, word) in words.iter().enumerate() {
            let Some(&v) = lexicon.get(word.as_str()) else {
                continue;
            };
            let mut v = v;
            if i > 0 {
                let b = booster(&words[i - 1]);
                v += b * v.signum();
            }
            let window = &words[i.saturating_sub(3)..i];
            if window.iter().any(|w| is_negator(w)) {
                v *= -0.74;
            }
            if v > 0.0 {
                positive += v;
            } else {
                negative -= v;
            }
        }
    }
    (positive, negative)
}

/// Indices of the real-valued (lexicon) features in a table of `2^bits`.
pub fn real_valued_indices(bits: u8) -> [u32; 2] {
    let mask = (1u32 << bits) - 1;
    [
        Hash::new(NS_SPECIAL).add_str("lex+").index(mask),
        Hash::new(NS_SPECIAL).add_str("lex-").index(mask),
    ]
}

fn lexicon_features(text: &str, mask: u32, out: &mut FeatureVec) {
    let (positive, negative) = lexicon_valence(text);
    // VADER's own normalisation x/√(x² + 15) keeps each within 0…1.
    let norm = |x: f32| x / (x * x + 15.0).sqrt();
    out.idx
        .push(Hash::new(NS_SPECIAL).add_str("lex+").index(mask));
    out.val.push(norm(positive));
    out.idx
        .push(Hash::new(NS_SPECIAL).add_str("lex-").index(mask));
    out.val.push(norm(negative));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(kind: Featurizer, text: &str) -> FeatureVec {
        let mut out = FeatureVec::default();
        featurize(kind, text, 18, &mut out);
        out
    }

    #[test]
    fn chinese_ngrams_stay_within_clauses() {
        // 好吃 = 4 units with markers: 2 unigrams, 3 bigrams, 2 trigrams, 1 four-gram.
        let one = features(Featurizer::Chinese, "好吃");
        assert_eq!(one.len(), 2 + 3 + 2 + 1);
        let two = features(Featurizer::Chinese, "好吃，好吃");
        assert_eq!(two.len(), 2 * one.len());
        let scale = 1.0 / (two.len() as f32).sqrt();
        assert!(two.val.iter().all(|v| (*v - scale).abs() < 1e-6));
    }

    #[test]
    fn same_text_same_features_and_order_matters() {
        let a = features(Featurizer::Chinese, "不太满意");
        assert_eq!(a, features(Featurizer::Chinese, "不太满意"));
        assert_ne!(a, features(Featurizer::Chinese, "满意不太"));
    }

    #[test]
    fn english_negation_and_lexicon() {
        let (p, n) = lexicon_valence("good");
        assert!(p > 1.0 && n == 0.0);
        let (p, n) = lexicon_valence("not good");
        assert!(p == 0.0 && n > 1.0);
        let (p, _) = lexicon_valence("very good");
        assert!(p > lexicon_valence("good").0);
        let plain = features(Featurizer::English, "it is good");
        let negated = features(Featurizer::English, "it is not good");
        assert!(negated.len() > plain.len());
    }

    #[test]
    fn emojis_are_features() {
        let a = features(Featurizer::Chinese, "还行👍");
        let b = features(Featurizer::Chinese, "还行");
        assert!(a.len() > b.len());
    }
}
