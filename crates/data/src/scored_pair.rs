//! Sentence pairs with a similarity score (GLUE STS-B and alike).

use std::path::Path;

use crate::column::{for_each_f64, push_strings, ColumnKind, ColumnRef};
use crate::error::{Error, Result};
use crate::parquet_file::{ParquetColumns, DEFAULT_BATCH_SIZE};

/// Two sentences and their gold similarity score (STS-B: 0 to 5).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPair {
    pub sentence1: String,
    pub sentence2: String,
    pub score: f32,
}

/// Column names of a scored-pair parquet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoredPairColumns<'a> {
    pub sentence1: &'a str,
    pub sentence2: &'a str,
    pub score: &'a str,
}

impl ScoredPairColumns<'static> {
    /// GLUE STS-B: `sentence1`, `sentence2`, `label`.
    pub const GLUE: Self = Self {
        sentence1: "sentence1",
        sentence2: "sentence2",
        score: "label",
    };
}

impl Default for ScoredPairColumns<'static> {
    fn default() -> Self {
        Self::GLUE
    }
}

/// Reads every row of a parquet file as a [`ScoredPair`].
///
/// Sentence columns may be `Utf8`, `LargeUtf8` or `Utf8View`; the score column any
/// float or integer type. Nulls, NaN/infinite scores and negative scores (GLUE marks
/// test rows without gold score with -1) are errors naming file, row and column.
pub fn read_scored_pairs(
    path: impl AsRef<Path>,
    columns: &ScoredPairColumns<'_>,
) -> Result<Vec<ScoredPair>> {
    read_scored_pairs_batched(path.as_ref(), columns, DEFAULT_BATCH_SIZE)
}

pub(crate) fn read_scored_pairs_batched(
    path: &Path,
    columns: &ScoredPairColumns<'_>,
    batch_size: usize,
) -> Result<Vec<ScoredPair>> {
    let mut file = ParquetColumns::open(
        path,
        &[
            (columns.sentence1, ColumnKind::Text),
            (columns.sentence2, ColumnKind::Text),
            (columns.score, ColumnKind::Number),
        ],
        batch_size,
    )?;
    let rows = file.num_rows();
    let (mut first, mut second, mut scores) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    while let Some(batch) = file.next_batch()? {
        let s1 = file.column_ref(columns.sentence1);
        let s2 = file.column_ref(columns.sentence2);
        let score = file.column_ref(columns.score);
        push_strings(batch.column(s1)?, s1, batch.first_row, &mut first)?;
        push_strings(batch.column(s2)?, s2, batch.first_row, &mut second)?;
        for_each_f64(
            batch.column(score)?,
            score,
            batch.first_row,
            |row, value| {
                scores.push(checked_score(score, row, value)?);
                Ok(())
            },
        )?;
    }
    let pairs: Vec<ScoredPair> = first
        .into_iter()
        .zip(second)
        .zip(scores)
        .map(|((sentence1, sentence2), score)| ScoredPair {
            sentence1,
            sentence2,
            score,
        })
        .collect();
    tracing::debug!(path = %file.path().display(), rows = pairs.len(), "read scored pairs");
    Ok(pairs)
}

fn checked_score(column: ColumnRef<'_>, row: usize, value: f64) -> Result<f32> {
    // `as` saturates to infinity for values beyond f32, caught below.
    let score = value as f32;
    if !score.is_finite() {
        return Err(Error::NonFiniteScore {
            path: column.path.to_path_buf(),
            row,
            column: column.name.to_owned(),
            value,
        });
    }
    if score < 0.0 {
        return Err(Error::NoGoldScore {
            path: column.path.to_path_buf(),
            row,
            column: column.name.to_owned(),
            value,
        });
    }
    Ok(score)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float32Array, StringArray};

    use super::*;
    use crate::test_support::write_columns;

    #[test]
    fn row_numbers_count_across_small_batches() {
        let dir = tempfile::tempdir().unwrap();
        let n = 11;
        let text: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        let mut scores: Vec<f32> = (0..n).map(|i| i as f32 / 4.0).collect();
        let ok = write_columns(
            dir.path(),
            "ok.parquet",
            vec![
                ("sentence1", Arc::new(StringArray::from(text.clone())) as _),
                ("sentence2", Arc::new(StringArray::from(text.clone())) as _),
                ("label", Arc::new(Float32Array::from(scores.clone())) as _),
            ],
            3,
        );
        let pairs = read_scored_pairs_batched(&ok, &ScoredPairColumns::GLUE, 2).unwrap();
        assert_eq!(pairs.len(), n);
        assert_eq!(pairs[9].sentence1, "s9");
        assert_eq!(pairs[9].score, 2.25);

        scores[7] = f32::NAN;
        let bad = write_columns(
            dir.path(),
            "nan.parquet",
            vec![
                ("sentence1", Arc::new(StringArray::from(text.clone())) as _),
                ("sentence2", Arc::new(StringArray::from(text)) as _),
                ("label", Arc::new(Float32Array::from(scores)) as _),
            ],
            3,
        );
        let err = read_scored_pairs_batched(&bad, &ScoredPairColumns::GLUE, 2).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("nan.parquet: row 7, column `label`"),
            "{message}"
        );
        assert!(message.contains("not finite"), "{message}");
    }

    #[test]
    fn score_beyond_f32_is_not_finite() {
        let column = ColumnRef {
            path: Path::new("f.parquet"),
            name: "label",
        };
        assert!(matches!(
            checked_score(column, 0, 1e300),
            Err(Error::NonFiniteScore { .. })
        ));
        assert!(matches!(
            checked_score(column, 0, -1.0),
            Err(Error::NoGoldScore { .. })
        ));
        assert_eq!(checked_score(column, 0, 0.0).unwrap(), 0.0);
    }
}
