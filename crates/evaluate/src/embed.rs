//! Encoding the texts an evaluator scores, and reading its rows' columns.

use data::{TargetColumn, TrainingSet};
use model::{EmbeddingMatrix, EncodeOptions, SentenceTransformer};

use crate::error::{Error, Result};

/// Embeds `texts` in inference mode, unnormalised (each evaluator's similarity decides).
pub fn encode<S: AsRef<str> + Sync>(
    model: &SentenceTransformer,
    texts: &[S],
    batch_size: usize,
) -> Result<EmbeddingMatrix> {
    let options = EncodeOptions {
        batch_size,
        normalize: false,
        show_progress: false,
        ..Default::default()
    };
    Ok(model.encode(texts, &options)?)
}

/// Borrows an encoded matrix as `eval`'s embeddings.
pub fn view(m: &EmbeddingMatrix) -> Result<eval::Embeddings<'_>> {
    let rows = m.data.len().checked_div(m.dim).unwrap_or(0);
    Ok(eval::Embeddings::new(&m.data, rows, m.dim)?)
}

/// The text columns of `set`, which must have exactly `n` of them.
pub fn text_columns<'s>(
    set: &'s TrainingSet,
    n: usize,
    evaluator: &str,
) -> Result<&'s [Vec<String>]> {
    let columns = set.columns();
    if columns.len() != n {
        return Err(Error::Dataset(format!(
            "evaluator {evaluator} needs {n} text columns, but its data has {} ({})",
            columns.len(),
            set.column_names().join(", ")
        )));
    }
    Ok(columns)
}

/// 0/1 labels of `set` (class labels, or scores that are exactly 0 or 1), naming the first
/// row that is neither.
pub fn binary_labels(set: &TrainingSet, evaluator: &str) -> Result<Option<Vec<i64>>> {
    let as_label = |row: usize, value: f64| {
        if value == 0.0 || value == 1.0 {
            Ok(value as i64)
        } else {
            Err(Error::Dataset(format!(
                "evaluator {evaluator} needs 0/1 labels, but row {row} has {value}"
            )))
        }
    };
    Ok(match set.target() {
        TargetColumn::None | TargetColumn::Vectors { .. } => None,
        TargetColumn::Classes { values, .. } => Some(
            values
                .iter()
                .enumerate()
                .map(|(row, &v)| as_label(row, v as f64))
                .collect::<Result<_>>()?,
        ),
        TargetColumn::Scores(values) => Some(
            values
                .iter()
                .enumerate()
                .map(|(row, &v)| as_label(row, f64::from(v)))
                .collect::<Result<_>>()?,
        ),
    })
}
