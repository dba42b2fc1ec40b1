//! Calendar dates as survey exports write them, reporting periods
//! (day, ISO week, month, quarter, year), and the time filter that assigns a
//! response to the period it is reported in — or to the comparison period
//! that `--compare previous` needs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// A calendar date (proleptic Gregorian), stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    /// The date `year-month-day`, if it exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i32 {
        self.0
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days(days: i32) -> Date {
        Date(days)
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// Appends `YYYY-MM-DD` (the text of `Display`) to `out` without the
    /// formatting machinery: imports write one per row.
    pub fn push_iso(self, out: &mut String) {
        let (y, m, d) = self.ymd();
        if !(0..=9999).contains(&y) {
            use std::fmt::Write;
            let _ = write!(out, "{self}");
            return;
        }
        let digit = |v: u32| char::from(b'0' + (v % 10) as u8);
        let y = y as u32;
        for c in [
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            '-',
            digit(m / 10),
            digit(m),
            '-',
            digit(d / 10),
            digit(d),
        ] {
            out.push(c);
        }
    }

    /// The date `n` days later (earlier when negative).
    pub fn add_days(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// ISO weekday, Monday = 1 … Sunday = 7.
    pub fn iso_weekday(self) -> u32 {
        // 1970-01-01 was a Thursday.
        ((self.0 + 3).rem_euclid(7) + 1) as u32
    }

    /// ISO 8601 week-numbering year and week.
    pub fn iso_week(self) -> (i32, u32) {
        // The week belongs to the year that holds its Thursday.
        let thursday = self.add_days(4 - self.iso_weekday() as i32);
        let (year, _, _) = thursday.ymd();
        let jan1 = Date(days_from_civil(year, 1, 1));
        (year, ((thursday.0 - jan1.0) / 7 + 1) as u32)
    }

    /// Parses the date forms found in survey and CRM exports: `2026-03-01`,
    /// `2026/3/1`, `2026.3.1`, `2026年3月1日`, `20260301`, each optionally followed
    /// by a time (`2026-03-01 14:02:03`, `2026-03-01T14:02:03Z`). The calendar
    /// date is taken as written; a time or offset does not move it.
    pub fn parse(text: &str) -> Option<Date> {
        parse_date_bytes(text.as_bytes())
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a date")))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// Parses a date from raw bytes; see [`Date::parse`].
pub fn parse_date_bytes(s: &[u8]) -> Option<Date> {
    let s = s.trim_ascii();
    let mut pos = 0;
    let year = digits(s, &mut pos, 4, 4)?;
    if pos == s.len() {
        return None;
    }
    if s[pos].is_ascii_digit() {
        // Compact 20260301.
        let month = digits(s, &mut pos, 2, 2)?;
        let day = digits(s, &mut pos, 2, 2)?;
        return finish(s, pos, year, month, day);
    }
    const NIAN: &[u8] = "年".as_bytes();
    const YUE: &[u8] = "月".as_bytes();
    const RI: &[u8] = "日".as_bytes();
    let chinese = s[pos..].starts_with(NIAN);
    let sep = if chinese {
        pos += NIAN.len();
        None
    } else {
        let c = s[pos];
        if !matches!(c, b'-' | b'/' | b'.') {
            return None;
        }
        pos += 1;
        Some(c)
    };
    let month = digits(s, &mut pos, 1, 2)?;
    match sep {
        Some(c) if s.get(pos) == Some(&c) => pos += 1,
        None if s[pos..].starts_with(YUE) => pos += YUE.len(),
        _ => return None,
    }
    let day = digits(s, &mut pos, 1, 2)?;
    if chinese && s[pos..].starts_with(RI) {
        pos += RI.len();
    }
    finish(s, pos, year, month, day)
}

fn finish(s: &[u8], pos: usize, year: u32, month: u32, day: u32) -> Option<Date> {
    // Whatever follows must be a time part.
    match s.get(pos) {
        None | Some(b' ' | b'T' | b't') => Date::from_ymd(year as i32, month, day),
        _ => None,
    }
}

fn digits(s: &[u8], pos: &mut usize, min: usize, max: usize) -> Option<u32> {
    let start = *pos;
    let mut v = 0_u32;
    while *pos < s.len() && *pos - start < max && s[*pos].is_ascii_digit() {
        v = v * 10 + u32::from(s[*pos] - b'0');
        *pos += 1;
    }
    (*pos - start >= min).then_some(v)
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 (Hinnant, "chrono-compatible low-level date algorithms").
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Length of the reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Calendar day.
    Day,
    /// ISO 8601 week (Monday to Sunday).
    Week,
    /// Calendar month.
    Month,
    /// Calendar quarter.
    Quarter,
    /// Calendar year.
    Year,
}

impl Interval {
    /// Parses `day|week|month|quarter|year` (also 日/周/月/季度/年).
    pub fn parse(text: &str) -> Result<Interval, CoreError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "day" | "daily" | "日" | "天" => Interval::Day,
            "week" | "weekly" | "周" => Interval::Week,
            "month" | "monthly" | "月" => Interval::Month,
            "quarter" | "quarterly" | "季度" | "季" => Interval::Quarter,
            "year" | "yearly" | "annual" | "年" => Interval::Year,
            _ => return Err(CoreError::UnknownInterval(text.to_string())),
        })
    }
}

/// One reporting period. Periods of one interval sort chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A day.
    Day(Date),
    /// An ISO week: (ISO year, week 1–53).
    Week(i32, u32),
    /// A month: (year, 1–12).
    Month(i32, u32),
    /// A quarter: (year, 1–4).
    Quarter(i32, u32),
    /// A year.
    Year(i32),
}

impl Period {
    /// The period of `interval` that contains `date`.
    pub fn of(date: Date, interval: Interval) -> Period {
        let (y, m, _) = date.ymd();
        match interval {
            Interval::Day => Period::Day(date),
            Interval::Week => {
                let (wy, w) = date.iso_week();
                Period::Week(wy, w)
            }
            Interval::Month => Period::Month(y, m),
            Interval::Quarter => Period::Quarter(y, (m - 1) / 3 + 1),
            Interval::Year => Period::Year(y),
        }
    }

    /// The period immediately before this one.
    pub fn previous(self) -> Period {
        match self {
            Period::Day(d) => Period::Day(d.add_days(-1)),
            Period::Week(y, w) => {
                let monday = iso_week_monday(y, w);
                let (py, pw) = monday.add_days(-7).iso_week();
                Period::Week(py, pw)
            }
            Period::Month(y, 1) => Period::Month(y - 1, 12),
            Period::Month(y, m) => Period::Month(y, m - 1),
            Period::Quarter(y, 1) => Period::Quarter(y - 1, 4),
            Period::Quarter(y, q) => Period::Quarter(y, q - 1),
            Period::Year(y) => Period::Year(y - 1),
        }
    }
}

fn iso_week_monday(year: i32, week: u32) -> Date {
    // January 4th is always in week 1.
    let jan4 = Date(days_from_civil(year, 1, 4));
    jan4.add_days(1 - jan4.iso_weekday() as i32 + 7 * (week as i32 - 1))
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Day(d) => write!(f, "{d}"),
            Period::Week(y, w) => write!(f, "{y:04}-W{w:02}"),
            Period::Month(y, m) => write!(f, "{y:04}-{m:02}"),
            Period::Quarter(y, q) => write!(f, "{y:04}-Q{q}"),
            Period::Year(y) => write!(f, "{y:04}"),
        }
    }
}

/// Where a response lands in time: its reporting period (if grouped by
/// period), and whether it is only there to be compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket {
    /// The reporting period; `None` when not grouped by time.
    pub period: Option<Period>,
    /// Outside `--from`/`--to`, read only as the comparison for `--compare previous`.
    pub reference: bool,
}

impl Bucket {
    /// The bucket of every response when no time grouping or filter applies.
    pub const ALL: Bucket = Bucket {
        period: None,
        reference: false,
    };
}

/// `--interval`, `--from`, `--to` and `--compare previous`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeFilter {
    interval: Option<Interval>,
    from: Option<Date>,
    to: Option<Date>,
    compare_previous: bool,
}

impl TimeFilter {
    /// Validates the combination. `--compare previous` needs periods
    /// (`interval`) or a closed window (`from` and `to`).
    pub fn new(
        interval: Option<Interval>,
        from: Option<Date>,
        to: Option<Date>,
        compare_previous: bool,
    ) -> Result<TimeFilter, CoreError> {
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(CoreError::EmptyWindow {
                from: f.to_string(),
                to: t.to_string(),
            });
        }
        if compare_previous && interval.is_none() && (from.is_none() || to.is_none()) {
            return Err(CoreError::CompareNeedsPeriods);
        }
        Ok(TimeFilter {
            interval,
            from,
            to,
            compare_previous,
        })
    }

    /// Whether any time column is needed at all.
    pub fn needs_dates(&self) -> bool {
        self.interval.is_some() || self.from.is_some() || self.to.is_some()
    }

    /// The reporting window `[from, to]` (either end open).
    pub fn window(&self) -> (Option<Date>, Option<Date>) {
        (self.from, self.to)
    }

    /// The grouping interval.
    pub fn interval(&self) -> Option<Interval> {
        self.interval
    }

    /// Whether `--compare previous` was asked for.
    pub fn compare_previous(&self) -> bool {
        self.compare_previous
    }

    /// The comparison window `[from − len, from − 1]` used without `--interval`.
    pub fn previous_window(&self) -> Option<(Date, Date)> {
        match (self.interval, self.from, self.to, self.compare_previous) {
            (None, Some(f), Some(t), true) => {
                let len = t.days() - f.days() + 1;
                Some((f.add_days(-len), f.add_days(-1)))
            }
            _ => None,
        }
    }

    /// The bucket of a response dated `date`, or `None` when it falls outside
    /// both the reporting range and the comparison period.
    pub fn bucket(&self, date: Date) -> Option<Bucket> {
        let after_from = self.from.is_none_or(|f| date >= f);
        let before_to = self.to.is_none_or(|t| date <= t);
        if after_from && before_to {
            return Some(Bucket {
                period: self.interval.map(|i| Period::of(date, i)),
                reference: false,
            });
        }
        if !self.compare_previous || !before_to {
            return None;
        }
        match (self.interval, self.from) {
            (Some(i), Some(f)) => {
                let p = Period::of(date, i);
                (p == Period::of(f, i).previous()).then_some(Bucket {
                    period: Some(p),
                    reference: true,
                })
            }
            (None, _) => {
                let (lo, hi) = self.previous_window()?;
                (date >= lo && date <= hi).then_some(Bucket {
                    period: None,
                    reference: true,
                })
            }
            (Some(_), None) => None,
        }
    }
}

/// A Unix time (seconds, UTC) as RFC 3339 with seconds: `2026-03-01T08:05:09Z`.
pub fn format_timestamp(secs: i64) -> String {
    let date = Date::from_days(secs.div_euclid(86_400) as i32);
    let s = secs.rem_euclid(86_400);
    format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// Reads an RFC 3339 time (`2026-03-01T08:05:09Z`, `…+08:00`, a space instead
/// of `T`, fractions of a second ignored) or a bare date (midnight UTC) as Unix
/// seconds. Unlike [`Date::parse`], an offset *does* move the instant.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    let date = Date::parse(t.get(..10)?)?;
    let mut secs = i64::from(date.days()) * 86_400;
    let rest = &t[10..];
    if rest.is_empty() {
        return Some(secs);
    }
    let rest = rest.strip_prefix(['T', ' '])?;
    let b = rest.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    if !rest.is_char_boundary(8) {
        return None;
    }
    let num = |s: &str| s.parse::<u32>().ok().map(i64::from);
    let (h, m, sec) = (num(&rest[0..2])?, num(&rest[3..5])?, num(&rest[6..8])?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    secs += h * 3600 + m * 60 + sec;
    let mut zone = &rest[8..];
    if let Some(frac) = zone.strip_prefix('.') {
        zone = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    match zone {
        "" | "Z" | "z" => Some(secs),
        _ => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = zone[1..].replace(':', "");
            if z.len() != 4 || !z.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (zh, zm) = (num(&z[0..2])?, num(&z[2..4])?);
            Some(secs - sign * (zh * 3600 + zm * 60))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).expect("valid date")
    }

    #[test]
    fn parses_export_date_forms() {
        for text in [
            "2026-03-01",
            "2026/3/1",
            "2026/03/01",
            "2026.3.1",
            "2026年3月1日",
            "2026年03月01日 08:00",
            "2026-03-01 14:02:03",
            "2026-03-01T14:02:03Z",
            "2026-03-01T23:59:59+08:00",
            " 2026-03-01 ",
            "20260301",
        ] {
            assert_eq!(Date::parse(text), Some(d(2026, 3, 1)), "{text}");
        }
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "03/01/2026",
            "2026-3",
            "",
            "N/A",
            "2026-03-01x",
            "2026/3-1",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert_eq!(Date::parse("2024-02-29"), Some(d(2024, 2, 29)));
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 19_000, 20_513, 2_000_000] {
            let (y, m, dd) = Date::from_days(days).ymd();
            assert_eq!(d(y, m, dd).days(), days);
        }
        assert_eq!(d(1970, 1, 1).days(), 0);
        assert_eq!(d(2026, 3, 1).to_string(), "2026-03-01");
    }

    #[test]
    fn iso_weeks() {
        assert_eq!(d(2026, 1, 1).iso_week(), (2026, 1)); // Thursday
        assert_eq!(d(2021, 1, 3).iso_week(), (2020, 53));
        assert_eq!(d(2024, 12, 30).iso_week(), (2025, 1));
        assert_eq!(Period::Week(2021, 1).previous(), Period::Week(2020, 53));
        assert_eq!(Period::Week(2026, 10).previous(), Period::Week(2026, 9));
        assert_eq!(
            Period::of(d(2026, 3, 1), Interval::Week).to_string(),
            "2026-W09"
        );
    }

    #[test]
    fn period_labels_and_previous() {
        let date = d(2026, 3, 1);
        assert_eq!(Period::of(date, Interval::Day).to_string(), "2026-03-01");
        assert_eq!(Period::of(date, Interval::Month).to_string(), "2026-03");
        assert_eq!(Period::of(date, Interval::Quarter).to_string(), "2026-Q1");
        assert_eq!(Period::of(date, Interval::Year).to_string(), "2026");
        assert_eq!(
            Period::Quarter(2026, 1).previous(),
            Period::Quarter(2025, 4)
        );
        assert_eq!(Period::Month(2026, 1).previous(), Period::Month(2025, 12));
        assert_eq!(
            Period::Day(d(2026, 3, 1)).previous(),
            Period::Day(d(2026, 2, 28))
        );
    }

    #[test]
    fn time_filter_buckets() {
        let f = TimeFilter::new(
            Some(Interval::Quarter),
            Some(d(2026, 1, 1)),
            Some(d(2026, 6, 30)),
            true,
        )
        .expect("valid");
        assert_eq!(
            f.bucket(d(2026, 2, 1)),
            Some(Bucket {
                period: Some(Period::Quarter(2026, 1)),
                reference: false
            })
        );
        // The quarter before --from is read for comparison only.
        assert_eq!(
            f.bucket(d(2025, 11, 1)),
            Some(Bucket {
                period: Some(Period::Quarter(2025, 4)),
                reference: true
            })
        );
        assert_eq!(f.bucket(d(2025, 8, 1)), None);
        assert_eq!(f.bucket(d(2026, 7, 1)), None);

        let w =
            TimeFilter::new(None, Some(d(2026, 3, 1)), Some(d(2026, 3, 31)), true).expect("valid");
        assert_eq!(w.previous_window(), Some((d(2026, 1, 29), d(2026, 2, 28))));
        assert_eq!(
            w.bucket(d(2026, 2, 1)),
            Some(Bucket {
                period: None,
                reference: true
            })
        );
        assert_eq!(w.bucket(d(2026, 1, 28)), None);

        assert!(TimeFilter::new(None, None, None, true).is_err());
        assert!(TimeFilter::new(None, Some(d(2026, 2, 1)), Some(d(2026, 1, 1)), false).is_err());
    }

    #[test]
    fn timestamps_round_trip_and_offsets_move_the_instant() {
        let t = parse_timestamp("2026-03-01T08:05:09Z").expect("utc");
        assert_eq!(format_timestamp(t), "2026-03-01T08:05:09Z");
        assert_eq!(parse_timestamp("2026-03-01T16:05:09+08:00"), Some(t));
        assert_eq!(parse_timestamp("2026-03-01 08:05:09.123Z"), Some(t));
        assert_eq!(
            parse_timestamp("2026-03-01"),
            Some(t - 8 * 3600 - 5 * 60 - 9)
        );
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59Z");
        for bad in [
            "",
            "2026-03-01T25:00:00Z",
            "2026-03-01T08:05",
            "2026-03-01T08:05:09+8",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
