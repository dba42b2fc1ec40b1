//! Text normalisation shared by training and analysis, so a model sees at run
//! time exactly what it saw when it was trained.
//!
//! Full-width ASCII (`ＡＢＣ！，`) becomes ASCII, ASCII letters are lower-cased,
//! runs of three or more of the same Latin letter shrink to two (`soooo` →
//! `soo`, a common way of typing emphasis), and any run of white space becomes
//! one space. Chinese characters, emojis and everything else stay as written.

/// Is `c` a CJK ideograph (the Unified Ideographs blocks and their extension A)?
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// Is `c` a character that ends a clause (sentence punctuation in both scripts,
/// and the line break)?
pub fn is_clause_break(c: char) -> bool {
    matches!(
        c,
        '.' | ','
            | ';'
            | '!'
            | '?'
            | ':'
            | '\n'
            | '\r'
            | '。'
            | '，'
            | '、'
            | '；'
            | '！'
            | '？'
            | '：'
            | '…'
            | '~'
            | '～'
            | '('
            | ')'
            | '（'
            | '）'
            | '【'
            | '】'
    )
}

/// Normalise a text (see the module docs).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last: Option<char> = None;
    let mut run = 0usize;
    let mut space = false;
    for c in text.chars() {
        let c = match c {
            // Full-width forms U+FF01..U+FF5E map onto ASCII 0x21..0x7E (，
            // becomes a comma, ！ an exclamation mark); the ideographic space
            // onto a space.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            // Byte-order marks and zero-width spaces inside exported cells.
            '\u{FEFF}' | '\u{200B}' => continue,
            _ => c,
        };
        let c = c.to_ascii_lowercase();
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space {
            if !out.is_empty() {
                out.push(' ');
            }
            space = false;
            last = None;
        }
        if Some(c) == last {
            run += 1;
            if run >= 2 && c.is_ascii_alphabetic() {
                continue;
            }
        } else {
            run = 0;
        }
        last = Some(c);
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_width_case_runs_and_space() {
        assert_eq!(
            normalize("  ＧＯＯＤ！！  Soooo   good  "),
            "good!! soo good"
        );
        assert_eq!(normalize("好好好，很棒。"), "好好好,很棒。");
        assert_eq!(normalize("ｔｅｓｔ\u{3000}ok"), "test ok");
    }

    #[test]
    fn han_and_breaks() {
        assert!(is_han('好'));
        assert!(!is_han('a'));
        assert!(is_clause_break('，'));
        assert!(is_clause_break('!'));
        assert!(!is_clause_break('好'));
    }
}
