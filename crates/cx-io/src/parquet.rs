//! Parquet: row groups are shared out among the workers, each reading only the
//! requested columns.

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use cx_core::period::Date;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{Cell, IoError, RowLoc, RowSink, read_error, resolve_columns};

fn parquet_error(path: &Path, e: impl std::fmt::Display) -> IoError {
    IoError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Scans one Parquet file into `sinks`.
pub(crate) fn scan_file<S: RowSink>(
    path: &Path,
    file_index: u32,
    columns: &[String],
    sinks: &mut [S],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), IoError> {
    let file = File::open(path).map_err(|e| read_error(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(path, e))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let indices = resolve_columns(path, columns, &names)?;
    let metadata = builder.metadata().clone();
    let row_groups = metadata.num_row_groups();
    let mut starts = Vec::with_capacity(row_groups);
    let mut sizes = Vec::with_capacity(row_groups);
    let mut offset = 0_u64;
    for rg in metadata.row_groups() {
        starts.push(offset);
        offset += rg.num_rows() as u64;
        sizes.push(rg.compressed_size() as u64);
    }
    // Distinct top-level columns to read, and where each request finds its column.
    let mut roots: Vec<usize> = indices.clone();
    roots.sort_unstable();
    roots.dedup();
    let positions: Vec<usize> = indices
        .iter()
        .map(|i| roots.binary_search(i).unwrap_or_default())
        .collect();

    let workers = sinks.len();
    std::thread::scope(|scope| -> Result<(), IoError> {
        let handles: Vec<_> = sinks
            .iter_mut()
            .enumerate()
            .map(|(w, sink)| {
                let (roots, positions, starts, sizes) = (&roots, &positions, &starts, &sizes);
                scope.spawn(move || -> Result<(), IoError> {
                    for rg in (w..row_groups).step_by(workers) {
                        let file = File::open(path).map_err(|e| read_error(path, e))?;
                        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                            .map_err(|e| parquet_error(path, e))?;
                        let mask =
                            ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
                        let reader = builder
                            .with_projection(mask)
                            .with_row_groups(vec![rg])
                            .with_batch_size(64 * 1024)
                            .build()
                            .map_err(|e| parquet_error(path, e))?;
                        let mut row = starts[rg];
                        for batch in reader {
                            let batch = batch.map_err(|e| parquet_error(path, e))?;
                            feed(&batch, positions, file_index, row, sink);
                            row += batch.num_rows() as u64;
                        }
                        progress(sizes[rg]);
                    }
                    Ok(())
                })
            })
            .collect();
        let mut first = None;
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(parquet_error(path, "worker panicked")));
            if let (Err(e), None) = (r, &first) {
                first = Some(e);
            }
        }
        first.map_or(Ok(()), Err)
    })
}

/// A typed view of one column of a batch.
enum Column<'a> {
    Int(Box<dyn Fn(usize) -> i64 + 'a>),
    Float(Box<dyn Fn(usize) -> f64 + 'a>),
    Text(Box<dyn Fn(usize) -> &'a [u8] + 'a>),
    Date(Box<dyn Fn(usize) -> Date + 'a>),
    Unsupported,
}

fn column_view(array: &ArrayRef) -> Column<'_> {
    macro_rules! int {
        ($t:ty) => {{
            let a = array.as_primitive::<$t>();
            Column::Int(Box::new(move |i| a.value(i) as i64))
        }};
    }
    match array.data_type() {
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float32 => {
            let a = array.as_primitive::<Float32Type>();
            Column::Float(Box::new(move |i| f64::from(a.value(i))))
        }
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            Column::Float(Box::new(move |i| a.value(i)))
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            Column::Text(Box::new(move |i| a.value(i).as_bytes()))
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            Column::Text(Box::new(move |i| a.value(i).as_bytes()))
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            Column::Text(Box::new(move |i| a.value(i).as_bytes()))
        }
        DataType::Date32 => {
            let a = array.as_primitive::<Date32Type>();
            Column::Date(Box::new(move |i| Date::from_days(a.value(i))))
        }
        DataType::Timestamp(unit, _) => {
            macro_rules! ts {
                ($t:ty, $per_day:expr) => {{
                    let a = array.as_primitive::<$t>();
                    Column::Date(Box::new(move |i| {
                        Date::from_days(a.value(i).div_euclid($per_day) as i32)
                    }))
                }};
            }
            match unit {
                TimeUnit::Second => ts!(TimestampSecondType, 86_400),
                TimeUnit::Millisecond => ts!(TimestampMillisecondType, 86_400_000),
                TimeUnit::Microsecond => ts!(TimestampMicrosecondType, 86_400_000_000),
                TimeUnit::Nanosecond => ts!(TimestampNanosecondType, 86_400_000_000_000),
            }
        }
        DataType::Dictionary(key, value)
            if key.as_ref() == &DataType::Int32 && value.as_ref() == &DataType::Utf8 =>
        {
            let d = array.as_dictionary::<Int32Type>();
            let values = d.values().as_string::<i32>();
            let keys = d.keys();
            Column::Text(Box::new(move |i| {
                values.value(keys.value(i) as usize).as_bytes()
            }))
        }
        _ => Column::Unsupported,
    }
}

fn feed<S: RowSink>(
    batch: &RecordBatch,
    positions: &[usize],
    file: u32,
    first_row: u64,
    sink: &mut S,
) {
    let arrays = batch.columns();
    let views: Vec<Column<'_>> = arrays.iter().map(column_view).collect();
    let mut cells = vec![Cell::Null; positions.len()];
    for i in 0..batch.num_rows() {
        for (cell, &p) in cells.iter_mut().zip(positions) {
            *cell = if arrays[p].is_null(i) {
                Cell::Null
            } else {
                match &views[p] {
                    Column::Int(f) => Cell::Int(f(i)),
                    Column::Float(f) => Cell::Float(f(i)),
                    Column::Text(f) => Cell::Text(f(i)),
                    Column::Date(f) => Cell::Date(f(i)),
                    // A type no metric reads (lists, structs, …): reported as not a number.
                    Column::Unsupported => Cell::Text(b"(unsupported type)"),
                }
            };
        }
        sink.row(
            &cells,
            RowLoc {
                file,
                line: first_row + i as u64 + 1,
            },
        );
    }
}
