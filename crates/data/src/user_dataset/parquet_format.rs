//! Parquet user datasets: string columns for texts, a numeric column for the target; a list
//! set's documents in a `list<string>` column and labels in a list-of-numbers column.

use std::path::Path;

use super::rows::Rows;
use crate::column::{
    for_each_f64, for_each_f64_list, for_each_i64, for_each_string_list, push_strings, ColumnKind,
};
use crate::column_mapping::{ColumnMapping, TargetRole};
use crate::error::{Position, Result, ValueProblem};
use crate::parquet_file::{ParquetColumns, DEFAULT_BATCH_SIZE};
use crate::training_set::TrainingSet;

/// Reads a parquet file; positions are 0-based rows, as in the crate's other parquet readers.
/// Texts must be string columns, a `score` any number column, a `label` an integer column; with
/// `labels` lists, the second text role a list of strings and `labels` a list of numbers.
pub(super) fn read(path: &Path, mapping: &ColumnMapping) -> Result<TrainingSet> {
    let (mut file, resolved) = ParquetColumns::open_with(path, DEFAULT_BATCH_SIZE, |schema| {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let is_text = |name: &str| {
            schema
                .field_with_name(name)
                .is_ok_and(|f| ColumnKind::Text.accepts(f.data_type()))
        };
        let mapping = mapping.resolve(&names, is_text)?;
        let lists = mapping.lists();
        let mut columns: Vec<(String, ColumnKind)> = mapping
            .texts
            .iter()
            .enumerate()
            .map(|(i, (_, column))| {
                let kind = if lists && i == 1 {
                    ColumnKind::TextList
                } else {
                    ColumnKind::Text
                };
                (column.clone(), kind)
            })
            .collect();
        match &mapping.target {
            Some((TargetRole::Score, column)) => columns.push((column.clone(), ColumnKind::Number)),
            Some((TargetRole::Label, column)) => {
                columns.push((column.clone(), ColumnKind::Integer));
            }
            Some((TargetRole::LabelLists | TargetRole::Embedding, column)) => {
                columns.push((column.clone(), ColumnKind::NumberList));
            }
            None => {}
        }
        Ok((columns, mapping))
    })?;
    let lists = resolved.lists();
    let text_columns: Vec<String> = resolved.texts.iter().map(|(_, c)| c.clone()).collect();
    let target = resolved.target.clone();
    let mut rows = Rows::new(path, resolved, mapping.num_labels());
    rows.reserve(file.num_rows());

    let mut list_rows = 0;
    while let Some(batch) = file.next_batch()? {
        let first_row = batch.first_row;
        for (index, name) in text_columns.iter().enumerate() {
            let column = file.column_ref(name);
            let array = batch.column(column)?;
            if lists && index == 1 {
                for_each_string_list(array, column, first_row, |row, items| {
                    let at = Position::Row(row);
                    let documents = items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| {
                            item.ok_or_else(|| rows.item_problem(at, name, i, ValueProblem::Null))
                        })
                        .collect::<Result<Vec<String>>>()?;
                    rows.push_documents(at, documents)
                })?;
                continue;
            }
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
                TargetRole::Embedding => {
                    for_each_f64_list(array, column, first_row, |row, items| {
                        let at = Position::Row(row);
                        let values = non_null(&rows, at, name, items)?;
                        rows.push_vector(at, &values)
                    })?
                }
                TargetRole::LabelLists => {
                    for_each_f64_list(array, column, first_row, |row, items| {
                        let at = Position::Row(row);
                        let labels = non_null(&rows, at, name, items)?;
                        rows.push_label_list(at, &labels)
                    })?;
                    // The rows of this batch: their documents were read above.
                    rows.check_lists_from(list_rows, Position::Row)?;
                    list_rows = first_row + batch.batch.num_rows();
                }
            }
        }
    }
    rows.finish()
}

/// A list value's numbers; a null item is an error naming the row, column and item.
fn non_null(
    rows: &Rows<'_>,
    at: Position,
    column: &str,
    items: Vec<Option<f64>>,
) -> Result<Vec<f64>> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| item.ok_or_else(|| rows.item_problem(at, column, i, ValueProblem::Null)))
        .collect()
}
