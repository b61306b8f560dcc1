//! Parquet fixtures written in code for unit tests.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// Writes `columns` (all nullable) to `dir/name` with row groups of `row_group_size` rows.
pub(crate) fn write_columns(
    dir: &Path,
    name: &str,
    columns: Vec<(&str, ArrayRef)>,
    row_group_size: usize,
) -> PathBuf {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let path = dir.join(name);
    let props = WriterProperties::builder()
        .set_max_row_group_size(row_group_size)
        .build();
    let mut writer =
        ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}
