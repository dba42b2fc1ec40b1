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
type ShortKey = [u8; 24];

fn short_key(bytes: &[u8]) -> Option<ShortKey> {
    (bytes.len() < 24).then(|| {
        let mut k = [0u8; 24];
        k[0] = bytes.len() as u8;
        k[1..=bytes.len()].copy_from_slice(bytes);
        k
    })
}

fn short_bytes(k: &ShortKey) -> &[u8] {
    &k[1..=usize::from(k[0])]
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
    let sinks = scan_with_progress(files, &cols, options, || TotalsSink::new(as_of), progress)?;
    let mut merged: CustomerMap<(i32, u64, i64)> = CustomerMap::default();
    let mut out = TotalsScan::default();
    for mut sink in sinks {
        sink.flush();
        out.rejected += sink.rejected + sink.overflowed;
        out.examples.extend(sink.examples);
        let short = sink
            .parts
            .into_iter()
            .flatten()
            .map(|(k, v)| (short_bytes(&k).to_vec(), v));
        for (k, (day, n, spend)) in short.chain(sink.map) {
            let e = merged.entry(k).or_insert((day, 0, 0));
            e.0 = e.0.max(day);
            e.1 += n;
            e.2 = e.2.saturating_add(spend);
        }
    }
    out.examples.sort_unstable();
    out.examples.truncate(5);
    out.totals = merged
        .into_iter()
        .map(|(k, (day, orders, spend))| CustomerTotals {
            customer: String::from_utf8_lossy(&k).into_owned(),
            last: Date::from_days(day),
            orders,
            spend: spend as f64 / 100.0,
        })
        .collect();
    out.totals.sort_by(|a, b| a.customer.cmp(&b.customer));
    Ok(out)
}
