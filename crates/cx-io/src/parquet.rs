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
    Array, ArrayRef, BooleanArray, LargeStringArray, PrimitiveArray, RecordBatch, StringArray,
    StringViewArray,
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

/// The top-level column names of a Parquet file.
pub(crate) fn names(path: &Path) -> Result<Vec<String>, IoError> {
    let file = File::open(path).map_err(|e| read_error(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(path, e))?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
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
                // pandas categoricals arrive as dictionary<int8|int16, string>.
                DataType::Dictionary(_, v)
                    if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8) =>
                {
                    Arc::new(Field::new(
                        f.name(),
                        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                        f.is_nullable(),
                    ))
                }
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
    /// A dictionary with other key types: keys normalised once per batch.
    AnyDict(Vec<usize>, &'a StringArray),
    Bool(&'a BooleanArray),
    Date32(&'a PrimitiveArray<Date32Type>),
    /// Timestamps as i64, with units per day and the zone's offset in units.
    Timestamp(&'a [i64], i64, i64),
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
            DataType::Timestamp(unit, zone) => {
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
                // Local calendar date as written: shift instants by the zone's offset.
                let offset =
                    zone.as_deref().and_then(zone_offset_seconds).unwrap_or(0) * (per_day / 86_400);
                Column::Timestamp(values, per_day, offset)
            }
            DataType::Dictionary(key, value)
                if key.as_ref() == &DataType::Int32 && value.as_ref() == &DataType::Utf8 =>
            {
                let d = array.as_dictionary::<Int32Type>();
                Column::Dict(d.keys(), d.values().as_string())
            }
            DataType::Dictionary(_, value) if value.as_ref() == &DataType::Utf8 => {
                match array.as_any_dictionary_opt() {
                    Some(d) => Column::AnyDict(d.normalized_keys(), d.values().as_string()),
                    None => Column::Unsupported,
                }
            }
            DataType::Boolean => Column::Bool(array.as_boolean()),
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
            Column::AnyDict(keys, values) => {
                Cell::DictText(keys[i] as u32, values.value(keys[i]).as_bytes())
            }
            Column::Bool(a) => Cell::Text(if a.value(i) { b"true" } else { b"false" }),
            Column::Date32(a) => Cell::Date(Date::from_days(a.value(i))),
            Column::Timestamp(v, per_day, offset) => {
                Cell::Date(Date::from_days((v[i] + offset).div_euclid(*per_day) as i32))
            }
            // A type no metric reads (lists, structs, …): reported as not a number.
            Column::Unsupported => Cell::Text(b"(unsupported type)"),
        }
    }
}

/// The UTC offset of a Parquet/Arrow time zone: fixed offsets (`+08:00`,
/// `-0500`, `UTC`) and the common zones without daylight saving time. Zones with
/// daylight saving time fall back to UTC (no time-zone database is shipped).
fn zone_offset_seconds(zone: &str) -> Option<i64> {
    let z = zone.trim();
    let fixed = |text: &str| -> Option<i64> {
        let (sign, rest) = match text.as_bytes().first()? {
            b'+' => (1, &text[1..]),
            b'-' => (-1, &text[1..]),
            _ => return None,
        };
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        let (h, m) = match digits.len() {
            2 => (digits.parse::<i64>().ok()?, 0),
            4 => (
                digits[..2].parse::<i64>().ok()?,
                digits[2..].parse::<i64>().ok()?,
            ),
            _ => return None,
        };
        Some(sign * (h * 3600 + m * 60))
    };
    if let Some(s) = fixed(z) {
        return Some(s);
    }
    let hours: f64 = match z {
        "UTC" | "Z" | "Etc/UTC" | "GMT" => 0.0,
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "PRC" | "Asia/Hong_Kong"
        | "Asia/Macau" | "Asia/Taipei" | "Asia/Singapore" | "Asia/Kuala_Lumpur" | "Asia/Manila"
        | "Australia/Perth" => 8.0,
        "Asia/Tokyo" | "Asia/Seoul" => 9.0,
        "Asia/Bangkok" | "Asia/Jakarta" | "Asia/Ho_Chi_Minh" => 7.0,
        "Asia/Kolkata" | "Asia/Calcutta" => 5.5,
        "Asia/Dubai" => 4.0,
        _ => return None,
    };
    Some((hours * 3600.0) as i64)
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

#[cfg(test)]
mod tests {
    use super::zone_offset_seconds;

    #[test]
    fn zone_offsets() {
        assert_eq!(zone_offset_seconds("+08:00"), Some(8 * 3600));
        assert_eq!(zone_offset_seconds("-0530"), Some(-(5 * 3600 + 30 * 60)));
        assert_eq!(zone_offset_seconds("Asia/Shanghai"), Some(8 * 3600));
        assert_eq!(zone_offset_seconds("UTC"), Some(0));
        assert_eq!(zone_offset_seconds("America/New_York"), None);
    }
}
