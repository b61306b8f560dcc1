//! Natural language inference pairs (GLUE MNLI, SNLI).

use std::fmt;
use std::path::Path;

use crate::column::{for_each_i64, push_strings, ColumnKind, ColumnRef};
use crate::error::{Error, Result};
use crate::parquet_file::{ParquetColumns, DEFAULT_BATCH_SIZE};

/// The three NLI classes, numbered as in GLUE and SNLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum NliLabel {
    Entailment = 0,
    Neutral = 1,
    Contradiction = 2,
}

impl NliLabel {
    /// All labels, in class-index order.
    pub const ALL: [Self; 3] = [Self::Entailment, Self::Neutral, Self::Contradiction];

    /// The label with dataset id `id` (0, 1 or 2).
    pub fn from_id(id: i64) -> Option<Self> {
        match id {
            0 => Some(Self::Entailment),
            1 => Some(Self::Neutral),
            2 => Some(Self::Contradiction),
            _ => None,
        }
    }

    /// The class index (0, 1 or 2), e.g. for a softmax loss target.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lowercase name, as in the datasets' label names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Entailment => "entailment",
            Self::Neutral => "neutral",
            Self::Contradiction => "contradiction",
        }
    }
}

impl fmt::Display for NliLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A premise, a hypothesis and their gold relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NliPair {
    pub premise: String,
    pub hypothesis: String,
    pub label: NliLabel,
}

/// Column names of an NLI parquet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NliColumns<'a> {
    pub premise: &'a str,
    pub hypothesis: &'a str,
    pub label: &'a str,
}

impl NliColumns<'static> {
    /// GLUE MNLI and SNLI: `premise`, `hypothesis`, `label`.
    pub const GLUE: Self = Self {
        premise: "premise",
        hypothesis: "hypothesis",
        label: "label",
    };
}

impl Default for NliColumns<'static> {
    fn default() -> Self {
        Self::GLUE
    }
}

/// What to do with rows labelled -1 (no gold label, as in SNLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnlabeledRows {
    /// Fail on the first such row.
    #[default]
    Reject,
    /// Leave such rows out and count them in [`NliPairs::skipped_unlabeled`].
    Skip,
}

/// The pairs read from an NLI file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NliPairs {
    pub pairs: Vec<NliPair>,
    /// Rows labelled -1 left out under [`UnlabeledRows::Skip`].
    pub skipped_unlabeled: usize,
}

/// Reads every row of a parquet file as an [`NliPair`].
///
/// Text columns may be `Utf8`, `LargeUtf8` or `Utf8View`; the label column any integer
/// type. Label -1 is handled as `unlabeled` says; any other label outside 0..=2 and
/// nulls are errors naming file, row and column.
pub fn read_nli_pairs(
    path: impl AsRef<Path>,
    columns: &NliColumns<'_>,
    unlabeled: UnlabeledRows,
) -> Result<NliPairs> {
    read_nli_pairs_batched(path.as_ref(), columns, unlabeled, DEFAULT_BATCH_SIZE)
}

pub(crate) fn read_nli_pairs_batched(
    path: &Path,
    columns: &NliColumns<'_>,
    unlabeled: UnlabeledRows,
    batch_size: usize,
) -> Result<NliPairs> {
    let mut file = ParquetColumns::open(
        path,
        &[
            (columns.premise, ColumnKind::Text),
            (columns.hypothesis, ColumnKind::Text),
            (columns.label, ColumnKind::Integer),
        ],
        batch_size,
    )?;
    let rows = file.num_rows();
    let (mut premises, mut hypotheses, mut labels) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    while let Some(batch) = file.next_batch()? {
        let premise = file.column_ref(columns.premise);
        let hypothesis = file.column_ref(columns.hypothesis);
        let label = file.column_ref(columns.label);
        push_strings(
            batch.column(premise)?,
            premise,
            batch.first_row,
            &mut premises,
        )?;
        push_strings(
            batch.column(hypothesis)?,
            hypothesis,
            batch.first_row,
            &mut hypotheses,
        )?;
        for_each_i64(batch.column(label)?, label, batch.first_row, |row, id| {
            labels.push(checked_label(label, row, id, unlabeled)?);
            Ok(())
        })?;
    }
    let skipped_unlabeled = labels.iter().filter(|label| label.is_none()).count();
    let pairs: Vec<NliPair> = premises
        .into_iter()
        .zip(hypotheses)
        .zip(labels)
        .filter_map(|((premise, hypothesis), label)| {
            label.map(|label| NliPair {
                premise,
                hypothesis,
                label,
            })
        })
        .collect();
    tracing::debug!(path = %file.path().display(), rows = pairs.len(), "read nli pairs");
    if skipped_unlabeled > 0 {
        tracing::info!(
            path = %file.path().display(),
            skipped_unlabeled,
            "skipped nli rows without gold label"
        );
    }
    Ok(NliPairs {
        pairs,
        skipped_unlabeled,
    })
}

/// `Some(label)`, `None` for a row to skip, or an error.
fn checked_label(
    column: ColumnRef<'_>,
    row: usize,
    id: i64,
    unlabeled: UnlabeledRows,
) -> Result<Option<NliLabel>> {
    if let Some(label) = NliLabel::from_id(id) {
        return Ok(Some(label));
    }
    match (id, unlabeled) {
        (-1, UnlabeledRows::Skip) => Ok(None),
        (-1, UnlabeledRows::Reject) => Err(Error::UnlabeledNliRow {
            path: column.path.to_path_buf(),
            row,
            column: column.name.to_owned(),
        }),
        (value, _) => Err(Error::InvalidNliLabel {
            path: column.path.to_path_buf(),
            row,
            column: column.name.to_owned(),
            value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;
    use crate::test_support::write_columns;

    #[test]
    fn label_ids_round_trip() {
        for label in NliLabel::ALL {
            assert_eq!(NliLabel::from_id(label.index() as i64), Some(label));
        }
        assert_eq!(NliLabel::from_id(3), None);
        assert_eq!(NliLabel::Contradiction.to_string(), "contradiction");
    }

    #[test]
    fn skips_unlabeled_rows_across_small_batches() {
        let dir = tempfile::tempdir().unwrap();
        let ids = [0, -1, 1, 2, -1, 0, 1];
        let text: Vec<String> = (0..ids.len()).map(|i| format!("t{i}")).collect();
        let path = write_columns(
            dir.path(),
            "snli.parquet",
            vec![
                ("premise", Arc::new(StringArray::from(text.clone())) as _),
                ("hypothesis", Arc::new(StringArray::from(text)) as _),
                ("label", Arc::new(Int64Array::from(ids.to_vec())) as _),
            ],
            2,
        );
        let read =
            read_nli_pairs_batched(&path, &NliColumns::GLUE, UnlabeledRows::Skip, 3).unwrap();
        assert_eq!(read.skipped_unlabeled, 2);
        let premises: Vec<&str> = read.pairs.iter().map(|p| p.premise.as_str()).collect();
        assert_eq!(premises, ["t0", "t2", "t3", "t5", "t6"]);
        assert_eq!(read.pairs[2].label, NliLabel::Contradiction);

        let err = read_nli_pairs_batched(&path, &NliColumns::GLUE, UnlabeledRows::Reject, 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("snli.parquet: row 1, column `label`"), "{err}");
    }
}
