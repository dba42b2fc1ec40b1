//! Per-customer purchase totals from transaction files in one parallel
//! streaming pass (the RFM input): last purchase date, number of purchases and
//! spend per customer. Memory grows with customers, not rows.

use std::path::PathBuf;

use cx_core::customer::rfm::CustomerTotals;
use cx_core::model::customer::parse_amount;

use crate::import::parse_import_timestamp;
use cx_core::period::Date;
use std::collections::HashMap;

type CustomerMap<V> = HashMap<Vec<u8>, V, foldhash::fast::FixedState>;

/// Customer ids up to 23 bytes are stored inline (length byte + bytes) so a
/// lookup touches one cache line, not a table slot plus a heap string: with a
/// million customers the pointer chase was over half the time.
/// Hashed as three 64-bit words: cheaper than hashing 24 bytes as a slice
/// (length prefix, then the long-input path), and it is hashed twice per row.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShortKey([u8; 24]);

impl std::hash::Hash for ShortKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for word in self.0.chunks_exact(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            state.write_u64(u64::from_le_bytes(w));
        }
    }
}

fn short_key(bytes: &[u8]) -> Option<ShortKey> {
    (bytes.len() < 24).then(|| {
        let mut k = [0u8; 24];
        k[0] = bytes.len() as u8;
        k[1..=bytes.len()].copy_from_slice(bytes);
        ShortKey(k)
    })
}

fn short_bytes(k: &ShortKey) -> &[u8] {
    &k.0[1..=usize::from(k.0[0])]
}

use crate::{Cell, IoError, RowLoc, RowSink, ScanOptions, scan_with_progress};

/// Totals plus the rows that could not be read.
#[derive(Debug, Default)]
pub struct TotalsScan {
    /// One entry per customer.
    pub totals: Vec<CustomerTotals>,
    /// Rows left out (no customer, unreadable date or amount), with the first few lines.
    pub rejected: u64,
    /// The first rejected rows: (file index, line).
    pub examples: Vec<RowLoc>,
}

/// Partitions of the short-key table (by the key hash's top byte).
const PARTS: usize = 256;
/// Rows buffered per worker before they are added to the partition tables.
const FLUSH_ROWS: usize = 1 << 21;

type Totals = (i32, u64, i64);

/// Rows are first appended to per-partition buffers and then added to the
/// partition's table one partition at a time, so that the table being updated
/// (1/256 of the customers) stays in cache: with a million customers, updating
/// one big table row by row was a cache miss per row.
struct TotalsSink {
    /// Purchases after this date are ignored (`--as-of`).
    as_of: Option<Date>,
    hasher: foldhash::fast::FixedState,
    parts: Vec<HashMap<ShortKey, Totals, foldhash::fast::FixedState>>,
    buffers: Vec<Vec<(ShortKey, i32, i64)>>,
    buffered: usize,
    /// Sums that would overflow, found when buffers are added.
    overflowed: u64,
    map: CustomerMap<Totals>,
    key: Vec<u8>,
    rejected: u64,
    examples: Vec<RowLoc>,
}

impl TotalsSink {
    fn new(as_of: Option<Date>) -> TotalsSink {
        TotalsSink {
            as_of,
            hasher: foldhash::fast::FixedState::default(),
            parts: (0..PARTS).map(|_| HashMap::default()).collect(),
            buffers: (0..PARTS).map(|_| Vec::new()).collect(),
            buffered: 0,
            overflowed: 0,
            map: CustomerMap::default(),
            key: Vec::new(),
            rejected: 0,
            examples: Vec::new(),
        }
    }

    /// Adds the buffered rows to their partitions' tables.
    fn flush(&mut self) {
        for (buffer, table) in self.buffers.iter_mut().zip(self.parts.iter_mut()) {
            for (key, day, value) in buffer.drain(..) {
                let e = table.entry(key).or_insert((day, 0, 0));
                match e.2.checked_add(value) {
                    Some(sum) => {
                        e.0 = e.0.max(day);
                        e.1 += 1;
                        e.2 = sum;
                    }
                    None => self.overflowed += 1,
                }
            }
        }
        self.buffered = 0;
    }

    fn reject(&mut self, at: RowLoc) {
        self.rejected += 1;
        if self.examples.len() < 5 {
            self.examples.push(at);
        }
    }
}

/// An amount in cents, read exactly as `cxscore import` reads it.
fn amount_cents(cell: &Cell<'_>) -> Option<i64> {
    match *cell {
        Cell::Int(v) => v.checked_mul(100),
        Cell::Float(x) if x.is_finite() && x.abs() < 9e13 => Some((x * 100.0).round() as i64),
        Cell::Text(t) | Cell::DictText(_, t) | Cell::EscapedText(t) => {
            parse_amount(std::str::from_utf8(t).ok()?)
        }
        _ => None,
    }
}

/// A date, read as `cxscore import` reads it (Excel serials included).
fn date_of(cell: &Cell<'_>) -> Option<Date> {
    match *cell {
        Cell::Int(v) => parse_import_timestamp(&v.to_string()).map(|d| d.0),
        Cell::Float(x) => parse_import_timestamp(&x.to_string()).map(|d| d.0),
        Cell::Date(d) => Some(d),
        Cell::Text(t) | Cell::DictText(_, t) | Cell::EscapedText(t) => cell
            .date()
            .ok()
            .flatten()
            .or_else(|| parse_import_timestamp(std::str::from_utf8(t).ok()?).map(|d| d.0)),
        Cell::Null => None,
    }
}

impl RowSink for TotalsSink {
    fn row(&mut self, cells: &[Cell<'_>], at: RowLoc) {
        self.key.clear();
        cells[0].write_text(&mut self.key);
        let Some(date) = date_of(&cells[1]) else {
            return self.reject(at);
        };
        if self.as_of.is_some_and(|a| date > a) {
            return;
        }
        // Whole cents: sums are exact (overflow is refused, not wrapped) and do
        // not depend on how the file was split among threads.
        let Some(value) = amount_cents(&cells[2]) else {
            return self.reject(at);
        };
        if self.key.is_empty() {
            return self.reject(at);
        }
        let day = date.days();
        if let Some(k) = short_key(&self.key) {
            use std::hash::BuildHasher;
            let part = (self.hasher.hash_one(k) >> 56) as usize % PARTS;
            self.buffers[part].push((k, day, value));
            self.buffered += 1;
            if self.buffered >= FLUSH_ROWS {
                self.flush();
            }
            return;
        }
        let entry = self.map.entry(self.key.clone()).or_insert((day, 0, 0));
        match entry.2.checked_add(value) {
            Some(sum) => {
                entry.0 = entry.0.max(day);
                entry.1 += 1;
                entry.2 = sum;
            }
            // A total beyond ±92 quadrillion cents is not a real customer.
            None => self.reject(at),
        }
    }
}

type PartTable = HashMap<ShortKey, Totals, foldhash::fast::FixedState>;

fn add_totals(e: &mut Totals, v: Totals) {
    e.0 = e.0.max(v.0);
    e.1 += v.1;
    e.2 = e.2.saturating_add(v.2);
}

fn totals(id: &[u8], (day, orders, spend): Totals) -> CustomerTotals {
    CustomerTotals {
        customer: String::from_utf8_lossy(id).into_owned(),
        last: Date::from_days(day),
        orders,
        spend: spend as f64 / 100.0,
    }
}

/// A short id's bytes zero-padded, then its length: compared as two
/// big-endian integers this is exactly the order of the ids' bytes (a prefix
/// sorts first, as the length breaks the tie the padding leaves).
type SortKey = (u128, u64);

fn sort_key(k: &ShortKey) -> SortKey {
    let k = &k.0;
    let mut head = [0u8; 16];
    head.copy_from_slice(&k[1..17]);
    let mut tail = [0u8; 8];
    tail[..7].copy_from_slice(&k[17..24]);
    tail[7] = k[0];
    (u128::from_be_bytes(head), u64::from_be_bytes(tail))
}

/// Merges lists each sorted by key into one list of their values in key order.
fn merge_sorted(runs: Vec<Vec<(SortKey, CustomerTotals)>>) -> Vec<CustomerTotals> {
    let total = runs.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    let mut runs: Vec<std::iter::Peekable<std::vec::IntoIter<(SortKey, CustomerTotals)>>> =
        runs.into_iter().map(|r| r.into_iter().peekable()).collect();
    loop {
        let mut best: Option<(usize, SortKey)> = None;
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some((k, _)) = run.peek()
                && best.is_none_or(|(_, b)| *k < b)
            {
                best = Some((i, *k));
            }
        }
        let Some((i, _)) = best else { break };
        if let Some((_, v)) = runs[i].next() {
            out.push(v);
        }
    }
    out
}

/// Scans `files` for `(customer, date, amount)` columns and totals them per
/// customer, ignoring purchases after `as_of`.
pub fn customer_totals(
    files: &[PathBuf],
    columns: [&str; 3],
    as_of: Option<Date>,
    options: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<TotalsScan, IoError> {
    let cols: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    let mut sinks = scan_with_progress(files, &cols, options, || TotalsSink::new(as_of), progress)?;
    let mut out = TotalsScan::default();
    // Partition i of every worker holds the same share of the short ids (the
    // same hash picks it), so partitions merge independently, on every core,
    // each small enough to stay in cache.
    let mut columns: Vec<Vec<PartTable>> = (0..PARTS).map(|_| Vec::new()).collect();
    let mut long: CustomerMap<Totals> = CustomerMap::default();
    for sink in &mut sinks {
        sink.flush();
        out.rejected += sink.rejected + sink.overflowed;
        out.examples.extend(sink.examples.iter().copied());
        for (i, part) in std::mem::take(&mut sink.parts).into_iter().enumerate() {
            columns[i].push(part);
        }
        for (k, v) in std::mem::take(&mut sink.map) {
            add_totals(long.entry(k).or_insert((v.0, 0, 0)), v);
        }
    }
    out.examples.sort_unstable();
    out.examples.truncate(5);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let per_thread = PARTS.div_ceil(threads);
    let sorted_runs: Vec<Vec<(SortKey, CustomerTotals)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = columns
            .chunks_mut(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    let mut rows = Vec::new();
                    for tables in chunk.iter_mut() {
                        let mut tables = std::mem::take(tables);
                        tables.sort_by_key(|t| std::cmp::Reverse(t.len()));
                        let mut tables = tables.into_iter();
                        let mut merged = tables.next().unwrap_or_default();
                        for table in tables {
                            for (k, v) in table {
                                add_totals(merged.entry(k).or_insert((v.0, 0, 0)), v);
                            }
                        }
                        rows.extend(
                            merged
                                .into_iter()
                                .map(|(k, v)| (sort_key(&k), totals(short_bytes(&k), v))),
                        );
                    }
                    rows.sort_unstable_by_key(|(k, _)| *k);
                    rows
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a merging thread panicked"))
            .collect()
    });
    out.totals = merge_sorted(sorted_runs);
    if !long.is_empty() {
        // Ids over 23 bytes (rare): into the same order, by their bytes.
        out.totals
            .extend(long.into_iter().map(|(k, v)| totals(&k, v)));
        out.totals.sort_by(|a, b| a.customer.cmp(&b.customer));
    }
    Ok(out)
}
