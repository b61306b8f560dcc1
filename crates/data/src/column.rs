//! Typed access to arrow column arrays: strings and numbers, and lists of them, checked once
//! per batch.
//!
//! The arrow type is matched once per record batch; the per-row loops are
//! monomorphised over the concrete array type.

use std::path::Path;

use arrow::array::{
    Array, ArrayAccessor, ArrayIter, ArrowPrimitiveType, AsArray, GenericListArray,
    OffsetSizeTrait, PrimitiveArray,
};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};

use crate::error::{Error, Result};

/// What a reader needs from a column; checked against the file schema before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    /// `Utf8`, `LargeUtf8` or `Utf8View`.
    Text,
    /// Any float or integer type.
    Number,
    /// Any integer type.
    Integer,
    /// A list (`List` or `LargeList`) of [`ColumnKind::Text`] items.
    TextList,
    /// A list (`List` or `LargeList`) of [`ColumnKind::Number`] items.
    NumberList,
}

impl ColumnKind {
    pub(crate) fn accepts(self, data_type: &DataType) -> bool {
        match self {
            Self::Text => matches!(
                data_type,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ),
            Self::Number => {
                matches!(data_type, DataType::Float32 | DataType::Float64) || data_type.is_integer()
            }
            Self::Integer => data_type.is_integer(),
            Self::TextList => list_item(data_type).is_some_and(|t| Self::Text.accepts(t)),
            Self::NumberList => list_item(data_type).is_some_and(|t| Self::Number.accepts(t)),
        }
    }

    pub(crate) fn expected(self) -> &'static str {
        match self {
            Self::Text => "a string (Utf8, LargeUtf8 or Utf8View)",
            Self::Number => "a number (float or integer)",
            Self::Integer => "an integer",
            Self::TextList => "a list of strings (list<string>)",
            Self::NumberList => "a list of numbers (list<float|double|int>)",
        }
    }
}

/// The item type of a `List` or `LargeList` type.
fn list_item(data_type: &DataType) -> Option<&DataType> {
    match data_type {
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            Some(item.data_type())
        }
        _ => None,
    }
}

/// A named column of a file: the context every per-row error needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColumnRef<'a> {
    pub(crate) path: &'a Path,
    pub(crate) name: &'a str,
}

impl ColumnRef<'_> {
    pub(crate) fn null(&self, row: usize) -> Error {
        Error::Null {
            path: self.path.to_path_buf(),
            row,
            column: self.name.to_owned(),
        }
    }

    pub(crate) fn type_error(&self, kind: ColumnKind, found: &DataType) -> Error {
        Error::ColumnType {
            path: self.path.to_path_buf(),
            column: self.name.to_owned(),
            expected: kind.expected(),
            found: found.clone(),
        }
    }
}

/// Appends the strings of `array` (rows `first_row..`) to `out`; a null is an error.
pub(crate) fn push_strings(
    array: &dyn Array,
    column: ColumnRef<'_>,
    first_row: usize,
    out: &mut Vec<String>,
) -> Result<()> {
    let mismatch = || column.type_error(ColumnKind::Text, array.data_type());
    out.reserve(array.len());
    match array.data_type() {
        DataType::Utf8 => push_str_values(
            array.as_string_opt::<i32>().ok_or_else(mismatch)?,
            column,
            first_row,
            out,
        ),
        DataType::LargeUtf8 => push_str_values(
            array.as_string_opt::<i64>().ok_or_else(mismatch)?,
            column,
            first_row,
            out,
        ),
        DataType::Utf8View => push_str_values(
            array.as_string_view_opt().ok_or_else(mismatch)?,
            column,
            first_row,
            out,
        ),
        _ => Err(mismatch()),
    }
}

fn push_str_values<'a, A>(
    array: A,
    column: ColumnRef<'_>,
    first_row: usize,
    out: &mut Vec<String>,
) -> Result<()>
where
    A: ArrayAccessor<Item = &'a str>,
{
    for (i, value) in ArrayIter::new(array).enumerate() {
        match value {
            Some(text) => out.push(text.to_owned()),
            None => return Err(column.null(first_row + i)),
        }
    }
    Ok(())
}

/// Calls `f(row, items)` for every row of a list-of-strings column; a null row is an error, a
/// null item `None`.
pub(crate) fn for_each_string_list(
    array: &dyn Array,
    column: ColumnRef<'_>,
    first_row: usize,
    mut f: impl FnMut(usize, Vec<Option<String>>) -> Result<()>,
) -> Result<()> {
    let kind = ColumnKind::TextList;
    for_each_list(array, column, first_row, kind, |row, items| {
        let mut texts = Vec::with_capacity(items.len());
        let mut push = |item: Option<&str>| texts.push(item.map(str::to_owned));
        let mismatch = || column.type_error(kind, array.data_type());
        match items.data_type() {
            DataType::Utf8 => items
                .as_string_opt::<i32>()
                .ok_or_else(mismatch)?
                .iter()
                .for_each(&mut push),
            DataType::LargeUtf8 => items
                .as_string_opt::<i64>()
                .ok_or_else(mismatch)?
                .iter()
                .for_each(&mut push),
            DataType::Utf8View => items
                .as_string_view_opt()
                .ok_or_else(mismatch)?
                .iter()
                .for_each(&mut push),
            _ => return Err(mismatch()),
        }
        f(row, texts)
    })
}

/// Calls `f(row, items)` for every row of a list-of-numbers column, widened to `f64`; a null
/// row is an error, a null item `None`.
pub(crate) fn for_each_f64_list(
    array: &dyn Array,
    column: ColumnRef<'_>,
    first_row: usize,
    mut f: impl FnMut(usize, Vec<Option<f64>>) -> Result<()>,
) -> Result<()> {
    let kind = ColumnKind::NumberList;
    for_each_list(array, column, first_row, kind, |row, items| {
        let mismatch = || column.type_error(kind, array.data_type());
        let values = match items.data_type() {
            DataType::Float32 => widen::<Float32Type>(items, f64::from),
            DataType::Float64 => widen::<Float64Type>(items, |v| v),
            DataType::Int8 => widen::<Int8Type>(items, f64::from),
            DataType::Int16 => widen::<Int16Type>(items, f64::from),
            DataType::Int32 => widen::<Int32Type>(items, f64::from),
            DataType::Int64 => widen::<Int64Type>(items, |v| v as f64),
            DataType::UInt8 => widen::<UInt8Type>(items, f64::from),
            DataType::UInt16 => widen::<UInt16Type>(items, f64::from),
            DataType::UInt32 => widen::<UInt32Type>(items, f64::from),
            DataType::UInt64 => widen::<UInt64Type>(items, |v| v as f64),
            _ => None,
        };
        f(row, values.ok_or_else(mismatch)?)
    })
}

fn widen<T: ArrowPrimitiveType>(
    items: &dyn Array,
    convert: impl Fn(T::Native) -> f64,
) -> Option<Vec<Option<f64>>> {
    let items: &PrimitiveArray<T> = items.as_primitive_opt::<T>()?;
    Some(items.iter().map(|v| v.map(&convert)).collect())
}

/// Calls `f(row, items)` with the items array of every row of a `List`, `LargeList` or
/// `FixedSizeList` column.
fn for_each_list(
    array: &dyn Array,
    column: ColumnRef<'_>,
    first_row: usize,
    kind: ColumnKind,
    f: impl FnMut(usize, &dyn Array) -> Result<()>,
) -> Result<()> {
    let mismatch = || column.type_error(kind, array.data_type());
    match array.data_type() {
        DataType::List(_) => rows_of(
            array.as_list_opt::<i32>().ok_or_else(mismatch)?,
            column,
            first_row,
            f,
        ),
        DataType::LargeList(_) => rows_of(
            array.as_list_opt::<i64>().ok_or_else(mismatch)?,
            column,
            first_row,
            f,
        ),
        // What `train-cli encode --output X.parquet` writes for embeddings.
        DataType::FixedSizeList(_, _) => {
            let list = array.as_fixed_size_list_opt().ok_or_else(mismatch)?;
            let mut f = f;
            for i in 0..list.len() {
                let row = first_row + i;
                if list.is_null(i) {
                    return Err(column.null(row));
                }
                f(row, list.value(i).as_ref())?;
            }
            Ok(())
        }
        _ => Err(mismatch()),
    }
}

fn rows_of<O: OffsetSizeTrait>(
    list: &GenericListArray<O>,
    column: ColumnRef<'_>,
    first_row: usize,
    mut f: impl FnMut(usize, &dyn Array) -> Result<()>,
) -> Result<()> {
    for i in 0..list.len() {
        let row = first_row + i;
        if list.is_null(i) {
            return Err(column.null(row));
        }
        f(row, list.value(i).as_ref())?;
    }
    Ok(())
}

/// Calls `f(row, value)` for every value of a float or integer column, widened to `f64`.
pub(crate) fn for_each_f64(
    array: &dyn Array,
    column: ColumnRef<'_>,
    first_row: usize,
    f: impl FnMut(usize, f64) -> Result<()>,
) -> Result<()> {
    let mismatch = || column.type_error(ColumnKind::Number, array.data_type());
    match array.data_type() {
        DataType::Float32 => each::<Float32Type, _>(array, column, first_row, f64::from, f),
        DataType::Float64 => each::<Float64Type, _>(array, column, first_row, |v| v, f),
        DataType::Int8 => each::<Int8Type, _>(array, column, first_row, f64::from, f),
        DataType::Int16 => each::<Int16Type, _>(array, column, first_row, f64::from, f),
        DataType::Int32 => each::<Int32Type, _>(array, column, first_row, f64::from, f),
        // Precision loss above 2^53 is irrelevant for scores.
        DataType::Int64 => each::<Int64Type, _>(array, column, first_row, |v| v as f64, f),
        DataType::UInt8 => each::<UInt8Type, _>(array, column, first_row, f64::from, f),
        DataType::UInt16 => each::<UInt16Type, _>(array, column, first_row, f64::from, f),
        DataType::UInt32 => each::<UInt32Type, _>(array, column, first_row, f64::from, f),
        DataType::UInt64 => each::<UInt64Type, _>(array, column, first_row, |v| v as f64, f),
        _ => Err(mismatch()),
    }
}

/// Calls `f(row, value)` for every value of an integer column, widened to `i64`
/// (`u64` values above `i64::MAX` saturate).
pub(crate) fn for_each_i64(
    array: &dyn Array,
    column: ColumnRef<'_>,
    first_row: usize,
    f: impl FnMut(usize, i64) -> Result<()>,
) -> Result<()> {
    let mismatch = || column.type_error(ColumnKind::Integer, array.data_type());
    match array.data_type() {
        DataType::Int8 => each::<Int8Type, _>(array, column, first_row, i64::from, f),
        DataType::Int16 => each::<Int16Type, _>(array, column, first_row, i64::from, f),
        DataType::Int32 => each::<Int32Type, _>(array, column, first_row, i64::from, f),
        DataType::Int64 => each::<Int64Type, _>(array, column, first_row, |v| v, f),
        DataType::UInt8 => each::<UInt8Type, _>(array, column, first_row, i64::from, f),
        DataType::UInt16 => each::<UInt16Type, _>(array, column, first_row, i64::from, f),
        DataType::UInt32 => each::<UInt32Type, _>(array, column, first_row, i64::from, f),
        DataType::UInt64 => each::<UInt64Type, _>(
            array,
            column,
            first_row,
            |v| i64::try_from(v).unwrap_or(i64::MAX),
            f,
        ),
        _ => Err(mismatch()),
    }
}

fn each<T: ArrowPrimitiveType, V>(
    array: &dyn Array,
    column: ColumnRef<'_>,
    first_row: usize,
    convert: impl Fn(T::Native) -> V,
    mut f: impl FnMut(usize, V) -> Result<()>,
) -> Result<()> {
    let array: &PrimitiveArray<T> = array
        .as_primitive_opt::<T>()
        .ok_or_else(|| column.type_error(ColumnKind::Number, array.data_type()))?;
    for (i, value) in array.iter().enumerate() {
        let row = first_row + i;
        match value {
            Some(value) => f(row, convert(value))?,
            None => return Err(column.null(row)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float32Array, Int64Array, LargeStringArray, StringArray, StringViewArray};

    use super::*;

    fn col() -> ColumnRef<'static> {
        ColumnRef {
            path: Path::new("f.parquet"),
            name: "c",
        }
    }

    #[test]
    fn strings_of_every_string_type() {
        let arrays: [Arc<dyn Array>; 3] = [
            Arc::new(StringArray::from(vec!["a", "b"])),
            Arc::new(LargeStringArray::from(vec!["a", "b"])),
            Arc::new(StringViewArray::from(vec!["a", "b"])),
        ];
        for array in arrays {
            let mut out = Vec::new();
            push_strings(array.as_ref(), col(), 0, &mut out).unwrap();
            assert_eq!(out, ["a", "b"]);
        }
    }

    #[test]
    fn null_row_is_absolute() {
        let array = StringArray::from(vec![Some("a"), None]);
        let err = push_strings(&array, col(), 10, &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "f.parquet: row 11, column `c`: null value");
    }

    #[test]
    fn numbers_widen() {
        let mut seen = Vec::new();
        let array = Float32Array::from(vec![1.5, 2.0]);
        for_each_f64(&array, col(), 3, |row, v| {
            seen.push((row, v));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(3, 1.5), (4, 2.0)]);

        let mut ints = Vec::new();
        for_each_i64(&Int64Array::from(vec![-1, 2]), col(), 0, |_, v| {
            ints.push(v);
            Ok(())
        })
        .unwrap();
        assert_eq!(ints, [-1, 2]);
    }

    #[test]
    fn lists_of_strings_and_numbers() {
        use arrow::array::{Int32Builder, LargeListBuilder, ListBuilder, StringBuilder};

        let mut texts = ListBuilder::new(StringBuilder::new());
        texts.values().append_value("a");
        texts.values().append_null();
        texts.append(true);
        texts.append(true);
        let texts = texts.finish();
        assert!(ColumnKind::TextList.accepts(texts.data_type()));
        assert!(!ColumnKind::NumberList.accepts(texts.data_type()));
        let mut seen = Vec::new();
        for_each_string_list(&texts, col(), 4, |row, items| {
            seen.push((row, items));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(4, vec![Some("a".into()), None]), (5, vec![])]);

        let mut numbers = LargeListBuilder::new(Int32Builder::new());
        numbers.values().append_slice(&[1, 2]);
        numbers.append(true);
        numbers.append(false);
        let numbers = numbers.finish();
        assert!(ColumnKind::NumberList.accepts(numbers.data_type()));
        let mut seen = Vec::new();
        let err = for_each_f64_list(&numbers, col(), 0, |row, items| {
            seen.push((row, items));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(seen, [(0, vec![Some(1.0), Some(2.0)])]);
        assert_eq!(err.to_string(), "f.parquet: row 1, column `c`: null value");

        let err = for_each_f64_list(&texts, col(), 0, |_, _| Ok(())).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a list of numbers (list<float|double|int>)"),
            "{err}"
        );
        let plain = StringArray::from(vec!["x"]);
        assert!(for_each_string_list(&plain, col(), 0, |_, _| Ok(())).is_err());
    }

    #[test]
    fn wrong_type_names_column_and_types() {
        let array = StringArray::from(vec!["x"]);
        let err = for_each_f64(&array, col(), 0, |_, _| Ok(())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.parquet: column `c` has type Utf8, expected a number (float or integer)"
        );
    }
}
