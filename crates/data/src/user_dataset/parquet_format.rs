//! Parquet user datasets: string columns for texts, a numeric column for the target.

use std::path::Path;

use super::rows::Rows;
use crate::column::{for_each_f64, for_each_i64, push_strings, ColumnKind};
use crate::column_mapping::{ColumnMapping, TargetRole};
use crate::error::{Position, Result};
use crate::parquet_file::{ParquetColumns, DEFAULT_BATCH_SIZE};
use crate::training_set::TrainingSet;

/// Reads a parquet file; positions are 0-based rows, as in the crate's other parquet readers.
/// Texts must be string columns, a `score` any number column, a `label` an integer column.
pub(super) fn read(path: &Path, mapping: &ColumnMapping) -> Result<TrainingSet> {
    let (mut file, resolved) = ParquetColumns::open_with(path, DEFAULT_BATCH_SIZE, |schema| {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let is_text = |name: &str| {
            schema
                .field_with_name(name)
                .is_ok_and(|f| ColumnKind::Text.accepts(f.data_type()))
        };
        let mapping = mapping.resolve(&names, is_text)?;
        let mut columns: Vec<(String, ColumnKind)> = mapping
            .texts
            .iter()
            .map(|(_, column)| (column.clone(), ColumnKind::Text))
            .collect();
        match &mapping.target {
            Some((TargetRole::Score, column)) => columns.push((column.clone(), ColumnKind::Number)),
            Some((TargetRole::Label, column)) => {
                columns.push((column.clone(), ColumnKind::Integer));
            }
            None => {}
        }
        Ok((columns, mapping))
    })?;
    let text_columns: Vec<String> = resolved.texts.iter().map(|(_, c)| c.clone()).collect();
    let target = resolved.target.clone();
    let mut rows = Rows::new(path, resolved, mapping.num_labels());
    rows.reserve(file.num_rows());

    while let Some(batch) = file.next_batch()? {
        let first_row = batch.first_row;
        for (index, name) in text_columns.iter().enumerate() {
            let column = file.column_ref(name);
            let array = batch.column(column)?;
            let Some(texts) = rows.texts_mut(index) else {
                continue;
            };
            let from = texts.len();
            push_strings(array, column, first_row, texts)?;
            rows.check_texts_from(index, from, Position::Row)?;
        }
        if let Some((role, name)) = &target {
            let column = file.column_ref(name);
            let array = batch.column(column)?;
            match role {
                TargetRole::Score => for_each_f64(array, column, first_row, |row, value| {
                    rows.push_score(Position::Row(row), value)
                })?,
                TargetRole::Label => for_each_i64(array, column, first_row, |row, value| {
                    rows.push_label(Position::Row(row), value)
                })?,
            }
        }
    }
    rows.finish()
}
