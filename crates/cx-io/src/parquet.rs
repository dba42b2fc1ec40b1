//! Parquet: row groups are shared out among the workers, each reading only the
//! requested columns.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, LargeStringArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use cx_core::period::Date;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};

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
    // Read text columns as dictionaries: Parquet usually stores them that way,
    // and it saves materialising one string per row.
    let hinted = Arc::new(Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Arc::new(Field::new(
                    f.name(),
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    f.is_nullable(),
                )),
                _ => Arc::clone(f),
            })
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    ));
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
                let (roots, positions, starts, sizes, hinted) =
                    (&roots, &positions, &starts, &sizes, &hinted);
                scope.spawn(move || -> Result<(), IoError> {
                    for rg in (w..row_groups).step_by(workers) {
                        let file = File::open(path).map_err(|e| read_error(path, e))?;
                        let options = ArrowReaderOptions::new().with_schema(Arc::clone(hinted));
                        let builder = match ParquetRecordBatchReaderBuilder::try_new_with_options(
                            file, options,
                        ) {
                            Ok(b) => b,
                            Err(_) => {
                                // A column the hint does not fit: read as stored.
                                let file = File::open(path).map_err(|e| read_error(path, e))?;
                                ParquetRecordBatchReaderBuilder::try_new(file)
                                    .map_err(|e| parquet_error(path, e))?
                            }
                        };
                        let mask =
                            ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
                        let reader = builder
                            .with_projection(mask)
                            .with_row_groups(vec![rg])
                            .with_batch_size(8 * 1024)
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

/// A typed view of one column of a batch, matched per cell without dynamic dispatch.
enum Column<'a> {
    I8(&'a PrimitiveArray<Int8Type>),
    I16(&'a PrimitiveArray<Int16Type>),
    I32(&'a PrimitiveArray<Int32Type>),
    I64(&'a PrimitiveArray<Int64Type>),
    U8(&'a PrimitiveArray<UInt8Type>),
    U16(&'a PrimitiveArray<UInt16Type>),
    U32(&'a PrimitiveArray<UInt32Type>),
    U64(&'a PrimitiveArray<UInt64Type>),
    F32(&'a PrimitiveArray<Float32Type>),
    F64(&'a PrimitiveArray<Float64Type>),
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Dict(&'a PrimitiveArray<Int32Type>, &'a StringArray),
    Date32(&'a PrimitiveArray<Date32Type>),
    /// Timestamps as i64 with units per day.
    Timestamp(&'a [i64], i64),
    Unsupported,
}

impl<'a> Column<'a> {
    fn of(array: &'a ArrayRef) -> Column<'a> {
        match array.data_type() {
            DataType::Int8 => Column::I8(array.as_primitive()),
            DataType::Int16 => Column::I16(array.as_primitive()),
            DataType::Int32 => Column::I32(array.as_primitive()),
            DataType::Int64 => Column::I64(array.as_primitive()),
            DataType::UInt8 => Column::U8(array.as_primitive()),
            DataType::UInt16 => Column::U16(array.as_primitive()),
            DataType::UInt32 => Column::U32(array.as_primitive()),
            DataType::UInt64 => Column::U64(array.as_primitive()),
            DataType::Float32 => Column::F32(array.as_primitive()),
            DataType::Float64 => Column::F64(array.as_primitive()),
            DataType::Utf8 => Column::Utf8(array.as_string()),
            DataType::LargeUtf8 => Column::LargeUtf8(array.as_string()),
            DataType::Utf8View => Column::Utf8View(array.as_string_view()),
            DataType::Date32 => Column::Date32(array.as_primitive()),
            DataType::Timestamp(unit, _) => {
                let per_day: i64 = match unit {
                    TimeUnit::Second => 86_400,
                    TimeUnit::Millisecond => 86_400_000,
                    TimeUnit::Microsecond => 86_400_000_000,
                    TimeUnit::Nanosecond => 86_400_000_000_000,
                };
                let values: &[i64] = match unit {
                    TimeUnit::Second => array.as_primitive::<TimestampSecondType>().values(),
                    TimeUnit::Millisecond => {
                        array.as_primitive::<TimestampMillisecondType>().values()
                    }
                    TimeUnit::Microsecond => {
                        array.as_primitive::<TimestampMicrosecondType>().values()
                    }
                    TimeUnit::Nanosecond => {
                        array.as_primitive::<TimestampNanosecondType>().values()
                    }
                };
                Column::Timestamp(values, per_day)
            }
            DataType::Dictionary(key, value)
                if key.as_ref() == &DataType::Int32 && value.as_ref() == &DataType::Utf8 =>
            {
                let d = array.as_dictionary::<Int32Type>();
                Column::Dict(d.keys(), d.values().as_string())
            }
            _ => Column::Unsupported,
        }
    }

    #[inline]
    fn cell(&self, i: usize) -> Cell<'a> {
        match self {
            Column::I8(a) => Cell::Int(i64::from(a.value(i))),
            Column::I16(a) => Cell::Int(i64::from(a.value(i))),
            Column::I32(a) => Cell::Int(i64::from(a.value(i))),
            Column::I64(a) => Cell::Int(a.value(i)),
            Column::U8(a) => Cell::Int(i64::from(a.value(i))),
            Column::U16(a) => Cell::Int(i64::from(a.value(i))),
            Column::U32(a) => Cell::Int(i64::from(a.value(i))),
            Column::U64(a) => match i64::try_from(a.value(i)) {
                Ok(v) => Cell::Int(v),
                Err(_) => Cell::Float(a.value(i) as f64),
            },
            Column::F32(a) => Cell::Float(f64::from(a.value(i))),
            Column::F64(a) => Cell::Float(a.value(i)),
            Column::Utf8(a) => Cell::Text(a.value(i).as_bytes()),
            Column::LargeUtf8(a) => Cell::Text(a.value(i).as_bytes()),
            Column::Utf8View(a) => Cell::Text(a.value(i).as_bytes()),
            Column::Dict(keys, values) => {
                let k = keys.value(i);
                Cell::DictText(k as u32, values.value(k as usize).as_bytes())
            }
            Column::Date32(a) => Cell::Date(Date::from_days(a.value(i))),
            Column::Timestamp(v, per_day) => {
                Cell::Date(Date::from_days(v[i].div_euclid(*per_day) as i32))
            }
            // A type no metric reads (lists, structs, …): reported as not a number.
            Column::Unsupported => Cell::Text(b"(unsupported type)"),
        }
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
    let views: Vec<Column<'_>> = arrays.iter().map(Column::of).collect();
    let nulls: Vec<Option<&NullBuffer>> = arrays.iter().map(|a| a.nulls()).collect();
    let mut cells = vec![Cell::Null; positions.len()];
    sink.new_batch();
    for i in 0..batch.num_rows() {
        for (cell, &p) in cells.iter_mut().zip(positions) {
            *cell = match nulls[p] {
                Some(n) if n.is_null(i) => Cell::Null,
                _ => views[p].cell(i),
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
