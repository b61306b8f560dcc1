//! CSV and TSV user datasets: a header row, then one record per row.

use std::fs::File;
use std::path::Path;

use csv::{ErrorKind, ReaderBuilder, StringRecord, Trim};

use super::rows::Rows;
use crate::column_mapping::{ColumnMapping, TargetRole};
use crate::error::{Error, Position, Result};
use crate::training_set::TrainingSet;

/// Reads a delimited file; positions are 1-based line numbers where a record starts (the
/// header is line 1, so they match what an editor shows even with multi-line fields).
pub(super) fn read(path: &Path, mapping: &ColumnMapping, delimiter: u8) -> Result<TrainingSet> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        // A wrong field count is an error naming the line, not a silently shifted row.
        .flexible(false)
        .trim(Trim::Headers)
        .from_reader(file);
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    if header.is_empty() {
        return Err(Error::NoRows {
            path: path.to_path_buf(),
        });
    }
    let names: Vec<&str> = header.iter().collect();
    let resolved = mapping.resolve(&names, |_| true)?;
    if resolved.lists() {
        return Err(Error::ListsInTextFile {
            path: path.to_path_buf(),
        });
    }
    if let Some((TargetRole::Embedding, column)) = &resolved.target {
        return Err(Error::EmbeddingsInTextFile {
            path: path.to_path_buf(),
            column: column.clone(),
        });
    }
    let index_of = |column: &str| -> Result<usize> {
        let mut hits = names.iter().enumerate().filter(|(_, n)| **n == column);
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Ok(i),
            (Some(_), Some(_)) => Err(Error::DuplicateColumn {
                path: path.to_path_buf(),
                column: column.to_owned(),
            }),
            (None, _) => Err(Error::MissingColumn {
                path: path.to_path_buf(),
                column: column.to_owned(),
                present: names.iter().map(|n| (*n).to_owned()).collect(),
            }),
        }
    };
    let text_fields = resolved
        .texts
        .iter()
        .map(|(_, column)| index_of(column))
        .collect::<Result<Vec<_>>>()?;
    let target_field = match &resolved.target {
        Some((role, column)) => Some((*role, index_of(column)?)),
        None => None,
    };

    let mut rows = Rows::new(path, resolved, mapping.num_labels());
    let mut record = StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, e)),
        }
        let at = Position::Line(record.position().map_or(0, |p| p.line()));
        // `flexible(false)` guarantees every record has the header's field count.
        let field = |i: usize| record.get(i).unwrap_or("");
        for (index, &i) in text_fields.iter().enumerate() {
            rows.push_text(index, at, field(i))?;
        }
        match target_field {
            Some((TargetRole::Score, i)) => rows.push_score_text(at, field(i))?,
            Some((TargetRole::Label, i)) => rows.push_label_text(at, field(i))?,
            // Refused above: a delimited file holds no lists.
            Some((TargetRole::LabelLists | TargetRole::Embedding, _)) | None => {}
        }
    }
    rows.finish()
}

fn csv_error(path: &Path, error: csv::Error) -> Error {
    if let ErrorKind::UnequalLengths {
        pos,
        expected_len,
        len,
    } = error.kind()
    {
        return Error::FieldCount {
            path: path.to_path_buf(),
            at: Position::Line(pos.as_ref().map_or(0, |p| p.line())),
            expected: usize::try_from(*expected_len).unwrap_or(usize::MAX),
            found: usize::try_from(*len).unwrap_or(usize::MAX),
        };
    }
    Error::Csv {
        path: path.to_path_buf(),
        at: Position::Line(error.position().map_or(0, |p| p.line())),
        source: error,
    }
}
