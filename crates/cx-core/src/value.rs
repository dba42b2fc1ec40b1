//! Reading one answer cell as written in an export.

/// What a cell holds, for a rating question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreCell {
    /// Empty or whitespace: not an answer.
    Blank,
    /// An integer (`7`, ` 7 `, `7.0`, `+7`).
    Value(i64),
    /// Anything else (`N/A`, `4.5`, `seven`): excluded and reported.
    Invalid,
}

/// Parses a rating cell. Integral decimals such as `7.0` count as `7`;
/// fractional ones (`4.5`) are not points of any scale and are invalid.
pub fn parse_score(raw: &[u8]) -> ScoreCell {
    let s = raw.trim_ascii();
    if s.is_empty() {
        return ScoreCell::Blank;
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(i) => (&digits[..i], &digits[i + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    if int_part.is_empty() || int_part.len() > 15 || !frac.iter().all(|&b| b == b'0') {
        return ScoreCell::Invalid;
    }
    let mut v = 0_i64;
    for &b in int_part {
        if !b.is_ascii_digit() {
            return ScoreCell::Invalid;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    ScoreCell::Value(if negative { -v } else { v })
}

/// Reads a float cell from a typed source (JSON, Parquet) as a score.
pub fn score_from_f64(x: f64) -> ScoreCell {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        ScoreCell::Value(x as i64)
    } else {
        ScoreCell::Invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(parse_score(b""), ScoreCell::Blank);
        assert_eq!(parse_score(b"  "), ScoreCell::Blank);
        assert_eq!(parse_score(b"7"), ScoreCell::Value(7));
        assert_eq!(parse_score(b" 10 "), ScoreCell::Value(10));
        assert_eq!(parse_score(b"7.0"), ScoreCell::Value(7));
        assert_eq!(parse_score(b"+3"), ScoreCell::Value(3));
        assert_eq!(parse_score(b"-1"), ScoreCell::Value(-1));
        for bad in [&b"4.5"[..], b"N/A", b"seven", b".5", b"-", b"1e3", b"7 7"] {
            assert_eq!(
                parse_score(bad),
                ScoreCell::Invalid,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(score_from_f64(4.0), ScoreCell::Value(4));
        assert_eq!(score_from_f64(4.5), ScoreCell::Invalid);
        assert_eq!(score_from_f64(f64::NAN), ScoreCell::Invalid);
    }
}
