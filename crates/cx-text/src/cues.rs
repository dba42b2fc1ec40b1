//! Cues that a comment or a clause holds no judgement, whatever its words
//! would otherwise suggest to a model trained on reviews.
//!
//! Survey comments are not reviews: a good share are no-opinion answers
//! ("无", "N/A", "no comment"), hedges ("还行", "一般般", "it's ok"), questions
//! and requests ("请问发票在哪里下载？", "can you add PayPal?"). The review
//! corpora the models learn from have almost none of these, and score them
//! as if they were complaints. These lists damp such clauses toward neutral;
//! the damping factors are calibrated with the neutral band (`Calibration`).

use crate::normalize::is_clause_break;

/// Whole answers that say there is nothing to say.
const NO_OPINION: &[&str] = &[
    "无",
    "没有",
    "暂无",
    "没",
    "无意见",
    "没有意见",
    "暂无意见",
    "没意见",
    "没啥说的",
    "没什么说的",
    "没什么好说的",
    "没什么",
    "没有了",
    "没了",
    "无评价",
    "暂无评价",
    "不清楚",
    "不知道",
    "同上",
    "略",
    "n/a",
    "na",
    "none",
    "nothing",
    "no",
    "nope",
    "nil",
    "null",
    "no comment",
    "no comments",
    "nothing further",
    "nothing to add",
    "nothing else",
    "nothing more",
    "nothing to report",
    "not applicable",
    "same as last year",
    "same as before",
    "idk",
    "dunno",
    "-",
    "/",
    ".",
    "ok",
    "okay",
];

/// Hedges: a clause with one of these is lukewarm.
const HEDGES: &[&str] = &[
    "一般",
    "还行",
    "还可以",
    "还好",
    "凑合",
    "马马虎虎",
    "中规中矩",
    "不好不坏",
    "说不上好",
    "说不上坏",
    "无功无过",
    "过得去",
    "差不多",
    "就那样",
    "没什么特别",
    "没什么感觉",
    "一般般",
    "还凑合",
    "so so",
    "so-so",
    "soso",
    "meh",
    "it's ok",
    "its ok",
    "it's okay",
    "it's fine",
    "it is ok",
    "it's alright",
    "average",
    "nothing special",
    "neither good nor bad",
    "no strong feelings",
    "not bad not great",
    "mixed feelings",
    "fair enough",
    "decent enough",
    "does what it says",
];

/// Openings of questions and requests.
const REQUESTS: &[&str] = &[
    "请问",
    "请",
    "麻烦",
    "能否",
    "能不能",
    "可否",
    "可不可以",
    "是否可以",
    "是否能",
    "希望",
    "建议",
    "有没有",
    "怎么",
    "如何",
    "哪里",
    "什么时候",
    "想问",
    "想确认",
    "想了解",
    "求",
    "下次请",
    "please",
    "pls",
    "plz",
    "can you",
    "could you",
    "would you",
    "can we",
    "could we",
    "can i",
    "could i",
    "how do",
    "how can",
    "how to",
    "where can",
    "where is",
    "where do",
    "is there",
    "are there",
    "do you",
    "does it",
    "does the",
    "will you",
    "will there",
    "when will",
    "any plans",
    "would be nice",
    "would be great",
    "it would help",
    "would love",
    "i wish",
    "wish",
    "suggest",
    "we need",
    "we'd like",
    "i'd like",
    "what is",
    "what's",
    "why is",
    "who",
];

/// How a clause reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    /// An ordinary statement.
    Plain,
    /// Lukewarm.
    Hedge,
    /// A question or a request.
    Request,
}

fn trimmed(text: &str) -> &str {
    text.trim_matches(|c: char| {
        c.is_whitespace() || is_clause_break(c) || matches!(c, '吧' | '啊' | '了' | '呢' | '哈')
    })
}

/// Is the whole (normalised) text a no-opinion answer, or empty?
pub fn no_opinion(text: &str) -> bool {
    let t = trimmed(text);
    t.is_empty()
        || (!t.chars().any(char::is_alphanumeric) && t.is_ascii())
        || NO_OPINION.contains(&t)
}

fn starts_with_word(text: &str, word: &str) -> bool {
    text.strip_prefix(word).is_some_and(|rest| {
        !word.as_bytes()[0].is_ascii_alphabetic()
            || !rest.starts_with(|c: char| c.is_ascii_alphanumeric())
    })
}

fn contains_word(text: &str, word: &str) -> bool {
    if !word.as_bytes()[0].is_ascii_alphabetic() {
        return text.contains(word);
    }
    let bytes = text.as_bytes();
    text.match_indices(word).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + word.len());
        !before.is_some_and(|b| b.is_ascii_alphanumeric())
            && !after.is_some_and(|b| b.is_ascii_alphanumeric())
    })
}

/// The cue of one clause (normalised). `question` says whether the clause
/// ended with a question mark in the text.
pub fn cue(clause: &str, question: bool) -> Cue {
    let t = trimmed(clause);
    if HEDGES.iter().any(|h| contains_word(t, h)) {
        return Cue::Hedge;
    }
    if question || t.ends_with('吗') || REQUESTS.iter().any(|r| starts_with_word(t, r)) {
        return Cue::Request;
    }
    Cue::Plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_opinion_answers() {
        for t in [
            "无",
            "N/A",
            "n/a",
            "none",
            "No comment.",
            "没啥说的",
            "  ",
            "/",
            "同上。",
            "没有了",
        ] {
            assert!(no_opinion(&crate::normalize::normalize(t)), "{t}");
        }
        for t in ["很好", "no problems at all", "没有问题", "👍"] {
            assert!(!no_opinion(&crate::normalize::normalize(t)), "{t}");
        }
    }

    #[test]
    fn hedges_and_requests() {
        assert_eq!(cue("一般般吧", false), Cue::Hedge);
        assert_eq!(cue("it's ok", false), Cue::Hedge);
        assert_eq!(cue("请问电子发票在哪里下载", true), Cue::Request);
        assert_eq!(cue("能不能发顺丰", false), Cue::Request);
        assert_eq!(
            cue("can you add paypal as a payment option", false),
            Cue::Request
        );
        assert_eq!(cue("物流太慢了", false), Cue::Plain);
        // "who" as a word, not inside "whole".
        assert_eq!(cue("whole order was wrong", false), Cue::Plain);
        assert_eq!(cue("支持吗", false), Cue::Request);
    }
}
