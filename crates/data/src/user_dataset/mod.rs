//! Users' own training data: CSV, TSV, JSONL or parquet files, whose columns a
//! [`ColumnMapping`] assigns to roles, read into a [`TrainingSet`].
//!
//! Errors name the file, the place ([`Position`]: 0-based row for parquet, 1-based line for
//! the text formats) and the column. Text values must be non-empty: in CSV/TSV an empty
//! field is how a missing value looks, and an empty sentence is no training signal anyway.

mod csv_format;
mod jsonl_format;
mod parquet_format;
mod rows;

use std::path::Path;

use crate::column_mapping::ColumnMapping;
use crate::error::{Error, Result};
use crate::training_set::TrainingSet;

#[cfg(doc)]
use crate::error::Position;

/// A file format of user datasets, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetFormat {
    /// `.csv`: comma-separated, header row required, `"`-quoted fields may hold commas,
    /// quotes (doubled) and newlines.
    Csv,
    /// `.tsv`: as CSV, tab-separated.
    Tsv,
    /// `.jsonl` or `.ndjson`: one JSON object per line; blank lines are skipped.
    Jsonl,
    /// `.parquet`.
    Parquet,
}

impl DatasetFormat {
    /// The format named by `path`'s extension (case-insensitive), if it is one we read.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Self::Csv),
            "tsv" => Some(Self::Tsv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            "parquet" => Some(Self::Parquet),
            _ => None,
        }
    }
}

/// Reads a user dataset, choosing the format by extension (see [`DatasetFormat`]).
///
/// Text roles become the training set's columns, named after the roles; a `score` role
/// becomes [`crate::TargetColumn::Scores`] (finite numbers), a `label` role
/// [`crate::TargetColumn::Classes`] (non-negative integers; `num_labels` from the mapping or
/// the largest label + 1). A file without data rows is an error.
pub fn read_user_dataset(path: impl AsRef<Path>, mapping: &ColumnMapping) -> Result<TrainingSet> {
    let path = path.as_ref();
    let format = DatasetFormat::from_path(path).ok_or_else(|| Error::UnsupportedFormat {
        path: path.to_path_buf(),
    })?;
    let set = match format {
        DatasetFormat::Csv => csv_format::read(path, mapping, b',')?,
        DatasetFormat::Tsv => csv_format::read(path, mapping, b'\t')?,
        DatasetFormat::Jsonl => jsonl_format::read(path, mapping)?,
        DatasetFormat::Parquet => parquet_format::read(path, mapping)?,
    };
    tracing::debug!(
        path = %path.display(),
        ?format,
        rows = set.len(),
        columns = ?set.column_names(),
        "read user dataset"
    );
    Ok(set)
}
