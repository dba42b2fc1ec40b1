//! The inputs of the lifetime-value models from a customer summary file
//! (`customer_id, frequency, recency, T, monetary_value`), in one parallel
//! streaming pass: the distinct `(x, t_x, T)` histories with their counts for
//! BG/NBD, and `(x, m_x)` of the repeat buyers for Gamma-Gamma. Memory grows
//! with distinct histories and repeat buyers, never with the customer ids.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::{Cell, IoError, RowLoc, RowSink, ScanOptions, scan};

/// What the models need from a summary file.
#[derive(Debug, Default)]
pub struct SummaryScan {
    /// Distinct `(frequency, recency, T)` with the number of customers, sorted.
    pub tuples: Vec<((u32, f64, f64), u64)>,
    /// `(frequency, monetary value)` of customers with frequency > 0, in file order.
    pub buyers: Vec<(u32, f64)>,
    /// Customers read.
    pub customers: u64,
    /// The first row that is not a valid history (frequency a whole number
    /// ≥ 0, 0 ≤ recency ≤ T), if any.
    pub first_bad: Option<RowLoc>,
}

type TupleMap = HashMap<(u32, u64, u64), u64, foldhash::fast::FixedState>;

/// Ids in order of first appearance for the bits of distinct numbers.
#[derive(Default)]
struct Ids {
    of: HashMap<u64, u32, foldhash::fast::FixedState>,
    bits: Vec<u64>,
}

impl Ids {
    fn id(&mut self, v: f64) -> u32 {
        let bits = v.to_bits();
        let next = self.bits.len() as u32;
        let id = *self.of.entry(bits).or_insert(next);
        if id == next {
            self.bits.push(bits);
        }
        id
    }
}

/// Bits for x, the t_x id and the T id in a packed key.
const X_BITS: u32 = 24;
const ID_BITS: u32 = 20;

#[derive(Default)]
struct SummarySink {
    /// Customers without repeat purchases per T: a small table that stays in
    /// cache, for the majority of customers in most data.
    zeros: HashMap<u64, u64, foldhash::fast::FixedState>,
    /// Small ids for the distinct T and t_x values (a few hundred in most
    /// data), so a history packs into one u64 key: a smaller table, cheaper
    /// to hash and to keep in cache than one keyed by three numbers.
    t_ids: Ids,
    tx_ids: Ids,
    packed: HashMap<u64, u64, foldhash::fast::FixedState>,
    /// Histories whose ids do not fit the packing.
    tuples: TupleMap,
    /// `(line, x, m)`: a worker takes blocks in file order, so its rows come
    /// in line order.
    buyers: Vec<(u64, u32, f64)>,
    customers: u64,
    first_bad: Option<RowLoc>,
}

fn number(cell: &Cell<'_>) -> Option<f64> {
    match *cell {
        Cell::Int(v) => Some(v as f64),
        Cell::Float(x) => Some(x),
        Cell::Text(t) | Cell::DictText(_, t) | Cell::EscapedText(t) => {
            let t = t.trim_ascii();
            plain_decimal(t).or_else(|| std::str::from_utf8(t).ok()?.parse().ok())
        }
        Cell::Null | Cell::Date(_) => None,
    }
}

/// `123`, `-4.5`, `38.8571`: digits with at most one point, read exactly as
/// `str::parse` reads them. When the digits fit in 2⁵³ and there are at most
/// 22 after the point, both the integer of all digits and the power of ten are
/// exact doubles, so one division is correctly rounded (Clinger's fast path).
/// Anything else (exponents, long numbers, `inf`) is `None`, for the general
/// parser.
fn plain_decimal(t: &[u8]) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let (negative, digits) = match t.first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let mut mantissa: u64 = 0;
    let mut seen = 0usize;
    let mut point: Option<usize> = None;
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
                seen += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    if seen == 0 || mantissa > 1 << 53 {
        return None;
    }
    let after = point.map_or(0, |p| digits.len() - p - 1);
    let v = mantissa as f64 / *POW10.get(after)?;
    Some(if negative { -v } else { v })
}

impl RowSink for SummarySink {
    fn row(&mut self, cells: &[Cell<'_>], at: RowLoc) {
        if self.first_bad.is_some() {
            return;
        }
        let (Some(x), Some(recency), Some(t)) =
            (number(&cells[0]), number(&cells[1]), number(&cells[2]))
        else {
            self.first_bad = Some(at);
            return;
        };
        if !(x >= 0.0
            && x.fract() == 0.0
            && x <= f64::from(u32::MAX)
            && recency >= 0.0
            && t >= recency
            && t.is_finite())
        {
            self.first_bad = Some(at);
            return;
        }
        let x = x as u32;
        self.customers += 1;
        if x == 0 && recency == 0.0 {
            *self.zeros.entry(t.to_bits()).or_insert(0) += 1;
            return;
        }
        let (ti, txi) = (self.t_ids.id(t), self.tx_ids.id(recency));
        if x < 1 << X_BITS && ti < 1 << ID_BITS && txi < 1 << ID_BITS {
            let key = u64::from(x) << (2 * ID_BITS) | u64::from(txi) << ID_BITS | u64::from(ti);
            *self.packed.entry(key).or_insert(0) += 1;
        } else {
            *self
                .tuples
                .entry((x, recency.to_bits(), t.to_bits()))
                .or_insert(0) += 1;
        }
        if x > 0 {
            let m = cells.get(3).and_then(number).unwrap_or(0.0);
            self.buyers.push((at.line, x, m));
        }
    }
}

/// Scans a summary file for the `[frequency, recency, T]` columns and, when
/// given, the monetary column. On a bad row the result carries the first one
/// (by file position) and its other fields are incomplete.
pub fn summary_inputs(
    files: &[PathBuf],
    columns: &[String],
    options: &ScanOptions,
) -> Result<SummaryScan, IoError> {
    let sinks = scan(files, columns, options, SummarySink::default)?;
    let mut out = SummaryScan::default();
    let mut merged = TupleMap::default();
    let mut buyers = Vec::new();
    for sink in sinks {
        out.first_bad = match (out.first_bad, sink.first_bad) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        out.customers += sink.customers;
        if merged.is_empty() {
            merged = sink.tuples;
        } else {
            for (k, n) in sink.tuples {
                *merged.entry(k).or_insert(0) += n;
            }
        }
        let mask = (1u64 << ID_BITS) - 1;
        for (key, n) in sink.packed {
            let x = (key >> (2 * ID_BITS)) as u32;
            let tx = sink.tx_ids.bits[((key >> ID_BITS) & mask) as usize];
            let t = sink.t_ids.bits[(key & mask) as usize];
            *merged.entry((x, tx, t)).or_insert(0) += n;
        }
        for (t, n) in sink.zeros {
            *merged.entry((0, 0f64.to_bits(), t)).or_insert(0) += n;
        }
        buyers.push(sink.buyers);
    }
    // Which rows a worker got depends on timing; merged back into file order,
    // the buyers are the same list every run, so the fit's sums (and its last
    // digits) are too.
    out.buyers = merge_by_line(buyers);
    // Recency and T are ≥ 0, where the order of the bits is the order of the numbers.
    let mut tuples: Vec<_> = merged.into_iter().collect();
    tuples.sort_unstable_by_key(|(k, _)| *k);
    out.tuples = tuples
        .into_iter()
        .map(|((x, r, t), n)| ((x, f64::from_bits(r), f64::from_bits(t)), n))
        .collect();
    Ok(out)
}

/// Merges lists that are each in line order into one `(x, m)` list in line order.
fn merge_by_line(mut parts: Vec<Vec<(u64, u32, f64)>>) -> Vec<(u32, f64)> {
    parts.retain(|p| !p.is_empty());
    let total = parts.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    let mut next = vec![0usize; parts.len()];
    while out.len() < total {
        let mut best = usize::MAX;
        for (i, part) in parts.iter().enumerate() {
            if let Some(row) = part.get(next[i])
                && (best == usize::MAX || row.0 < parts[best][next[best]].0)
            {
                best = i;
            }
        }
        // Take the whole run that comes before the other lists' next rows.
        let limit = parts
            .iter()
            .enumerate()
            .filter(|&(i, p)| i != best && next[i] < p.len())
            .map(|(i, p)| p[next[i]].0)
            .min()
            .unwrap_or(u64::MAX);
        let part = &parts[best];
        let start = next[best];
        let end = start + part[start..].partition_point(|r| r.0 < limit);
        out.extend(part[start..end].iter().map(|&(_, x, m)| (x, m)));
        next[best] = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_lists_merge_into_line_order() {
        let parts = vec![
            vec![(2, 1, 2.0), (3, 1, 3.0), (9, 1, 9.0)],
            vec![],
            vec![(1, 1, 1.0), (4, 1, 4.0), (5, 1, 5.0), (10, 1, 10.0)],
        ];
        let merged: Vec<f64> = merge_by_line(parts).into_iter().map(|(_, m)| m).collect();
        assert_eq!(merged, vec![1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 10.0]);
    }

    #[test]
    fn plain_decimals_read_as_the_standard_parser_reads_them() {
        for t in [
            "0",
            "38.8571",
            "-4.5",
            "+12",
            "0.1",
            "123456789.123456789",
            "9007199254740993",
            "1.",
            ".5",
            "00012.3400",
        ] {
            let expected: Option<f64> = t.parse().ok();
            let got = plain_decimal(t.as_bytes()).or(expected);
            assert_eq!(got, expected, "{t}");
            if let Some(v) = plain_decimal(t.as_bytes()) {
                assert_eq!(
                    v.to_bits(),
                    t.parse::<f64>().expect("a number").to_bits(),
                    "{t}"
                );
            }
        }
        for i in 0..20_000u64 {
            let t = format!("{}.{:04}", i * 7919 % 100_003, i * 31 % 10_000);
            let v = plain_decimal(t.as_bytes()).expect("plain");
            assert_eq!(
                v.to_bits(),
                t.parse::<f64>().expect("a number").to_bits(),
                "{t}"
            );
        }
        for t in ["", "-", ".", "1e5", "1.2.3", "inf", "NaN", "12a"] {
            assert_eq!(plain_decimal(t.as_bytes()), None, "{t}");
        }
    }

    #[test]
    fn histories_are_counted_and_bad_rows_found() {
        let dir = std::env::temp_dir().join(format!("cx-io-clv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let good = dir.join("summary.csv");
        std::fs::write(
            &good,
            "customer_id,frequency,recency,T,monetary_value\na,0,0,38.86,0\nb,2,30.43,38.86,12.5\nc,2,30.43,38.86,20\nd,0,0,38.86,0\n",
        )
        .expect("write");
        let cols: Vec<String> = ["frequency", "recency", "T", "monetary_value"]
            .map(String::from)
            .to_vec();
        let s = summary_inputs(std::slice::from_ref(&good), &cols, &ScanOptions::default())
            .expect("scan");
        assert_eq!(s.customers, 4);
        assert_eq!(s.tuples, vec![((0, 0.0, 38.86), 2), ((2, 30.43, 38.86), 2)]);
        assert_eq!(s.buyers, vec![(2, 12.5), (2, 20.0)]);
        assert!(s.first_bad.is_none());
        let bad = dir.join("bad.csv");
        std::fs::write(
            &bad,
            "customer_id,frequency,recency,T\na,1,3,10\nb,1.5,3,10\nc,1,12,10\n",
        )
        .expect("write");
        let s = summary_inputs(
            std::slice::from_ref(&bad),
            &cols[..3],
            &ScanOptions::default(),
        )
        .expect("scan");
        assert_eq!(s.first_bad.map(|l| l.line), Some(3));
        std::fs::remove_dir_all(&dir).ok();
    }
}
