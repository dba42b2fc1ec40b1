//! Clauses, contrast and concession.
//!
//! In "产品不错，但是物流太慢了" or "great product but the invoice was wrong",
//! the part after the contrast is what the customer wants heard; in "虽然贵，
//! 质量很好" or "although pricey, it is great" the conceded clause matters less.
//! `split` cuts a text into clauses (whose sentiment is also each topic's
//! own) and `roles` tells which carry the main point and which are conceded.

use crate::normalize::is_clause_break;

/// Contrast markers: the main point comes after them.
const CONTRAST: &[&str] = &[
    "但是",
    ",就是",
    "可是",
    "不过",
    "然而",
    "只是",
    "但",
    "却",
    "but",
    "however",
    "though",
    "yet",
    "except",
    "unfortunately",
    "sadly",
];

/// Concession markers: their own clause matters less.
const CONCESSION: &[&str] = &["虽然", "尽管", "虽说", "although", "even though", "despite"];

/// A clause: a byte range of the normalised text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// Rewrite double negation, which reads as a plain statement
/// (`不是不满意` → `满意`, `没有不好` → `好`).
pub fn rewrite(text: &str) -> String {
    if !(text.contains("不是不") || text.contains("没有不") || text.contains("并非不")) {
        return text.to_owned();
    }
    // "是不是不合理" is a question, not a double negation: keep it.
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((i, m)) = ["不是不", "没有不", "并非不"]
        .iter()
        .filter_map(|m| rest.find(m).map(|i| (i, *m)))
        .min()
    {
        out.push_str(&rest[..i]);
        if m == "不是不" && rest[..i].ends_with('是') {
            out.push_str(m);
        }
        rest = &rest[i + m.len()..];
    }
    out.push_str(rest);
    out
}

/// Occurrences of `marker` in `text` (byte offsets); Latin markers only as
/// whole words.
fn occurrences<'a>(text: &'a str, marker: &'a str) -> impl Iterator<Item = usize> + 'a {
    let bytes = text.as_bytes();
    let latin = marker.as_bytes()[0].is_ascii_alphabetic();
    text.match_indices(marker)
        .map(|(i, _)| i)
        .filter(move |&i| {
            if !latin {
                return true;
            }
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + marker.len());
            !before.is_some_and(|b| b.is_ascii_alphanumeric())
                && !after.is_some_and(|b| b.is_ascii_alphanumeric())
        })
}

/// Markers found in `text`: (start, end) byte ranges, sorted, not overlapping.
fn markers(text: &str, list: &[&str]) -> Vec<(usize, usize)> {
    // Every occurrence, then left to right keeping those that overlap none
    // kept before (the earlier-listed marker wins a tie at one position).
    let mut all: Vec<(usize, usize, usize)> = Vec::new();
    for (rank, marker) in list.iter().enumerate() {
        all.extend(occurrences(text, marker).map(|i| (i, rank, i + marker.len())));
    }
    all.sort_unstable();
    let mut found: Vec<(usize, usize)> = Vec::with_capacity(all.len());
    for (start, _, end) in all {
        if found.last().is_none_or(|last| last.1 <= start) {
            found.push((start, end));
        }
    }
    found
}

/// Is there any letter or Han character in `text`?
fn has_content(text: &str) -> bool {
    text.chars().any(|c| c.is_alphanumeric())
}

/// The clauses of `text`: cut at punctuation and at contrast and concession
/// markers (the markers themselves belong to no clause).
pub fn split(text: &str) -> Vec<Part> {
    let mut cuts: Vec<(usize, usize)> = text
        .char_indices()
        .filter(|(_, c)| is_clause_break(*c))
        .map(|(i, c)| (i, i + c.len_utf8()))
        .collect();
    cuts.extend(markers(text, CONTRAST));
    cuts.extend(markers(text, CONCESSION));
    cuts.sort_unstable();
    let mut parts = Vec::new();
    let mut start = 0;
    for (a, b) in cuts {
        if a >= start {
            push_part(text, start, a, &mut parts);
            start = b;
        } else {
            start = start.max(b);
        }
    }
    push_part(text, start, text.len(), &mut parts);
    parts
}

fn push_part(text: &str, start: usize, end: usize, parts: &mut Vec<Part>) {
    if start < end && has_content(&text[start..end]) {
        parts.push(Part { start, end });
    }
}

/// What a clause counts for in the whole text's sentiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An ordinary clause.
    Plain,
    /// After the last contrast marker: the main point.
    Main,
    /// Right after a concession marker: conceded, it matters less.
    Conceded,
}

/// The role of each part of `text` (as `split` cut it).
pub fn roles(text: &str, parts: &[Part]) -> Vec<Role> {
    let contrast_end = markers(text, CONTRAST).last().map(|m| m.1);
    let concessions = markers(text, CONCESSION);
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let previous_end = if i == 0 { 0 } else { parts[i - 1].end };
            // The first concession marker at or after the previous clause's end.
            let c = concessions.partition_point(|c| c.0 < previous_end);
            if concessions.get(c).is_some_and(|c| c.1 <= p.start) {
                Role::Conceded
            } else if contrast_end.is_some_and(|e| p.start >= e) {
                Role::Main
            } else {
                Role::Plain
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> Vec<&str> {
        split(text)
            .iter()
            .map(|p| text[p.start..p.end].trim())
            .collect()
    }

    #[test]
    fn splits_at_punctuation_and_contrast() {
        assert_eq!(
            parts("产品不错，但是物流太慢了"),
            ["产品不错", "物流太慢了"]
        );
        assert_eq!(
            parts("great product but the invoice was wrong."),
            ["great product", "the invoice was wrong"]
        );
        assert_eq!(parts("butter is fine"), ["butter is fine"]);
        assert!(parts("。。。").is_empty());
    }

    #[test]
    fn roles_of_parts() {
        let text = "虽然价格贵，质量很好，但是物流太慢了";
        let parts = split(text);
        assert_eq!(
            roles(text, &parts),
            [Role::Conceded, Role::Plain, Role::Main]
        );
        let text = "great support, although pricey";
        assert_eq!(roles(text, &split(text)), [Role::Plain, Role::Conceded]);
    }

    #[test]
    fn double_negation() {
        assert_eq!(rewrite("不是不满意"), "满意");
        assert_eq!(rewrite("没有不好的地方"), "好的地方");
        assert_eq!(rewrite("不满意"), "不满意");
        assert_eq!(rewrite("这样是不是不合理"), "这样是不是不合理");
    }
}
