//! The columnar form every training dataset takes before batching: named text columns of equal
//! length plus an optional target column, whatever file or builder it came from.

use crate::error::{Error, Result};
use crate::nli_builders::{LabelledPair, Triplet};
use crate::scored_pair::ScoredPair;

/// The supervision column of a training set.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetColumn {
    /// Only the texts (triplets, (anchor, positive) pairs for in-batch negatives).
    None,
    /// A class index per row, each in `0..num_labels`.
    Classes { values: Vec<i64>, num_labels: usize },
    /// A float score per row (similarity, or a 0/1 pair label).
    Scores(Vec<f32>),
}

/// Text columns (in the order the loss consumes them) and an optional target.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    names: Vec<String>,
    columns: Vec<Vec<String>>,
    target: TargetColumn,
}

impl TrainingSet {
    /// Checks that every column (and the target) has the same number of rows, that there is at
    /// least one text column, and that class labels lie in range.
    pub fn new(
        names: Vec<String>,
        columns: Vec<Vec<String>>,
        target: TargetColumn,
    ) -> Result<Self> {
        let invalid = |reason: String| Error::TrainingSet { reason };
        if columns.is_empty() || names.len() != columns.len() {
            return Err(invalid(format!(
                "{} column names for {} text columns (need at least one text column)",
                names.len(),
                columns.len()
            )));
        }
        let rows = columns[0].len();
        for (name, column) in names.iter().zip(&columns) {
            if column.len() != rows {
                return Err(invalid(format!(
                    "column `{name}` has {} rows, column `{}` has {rows}",
                    column.len(),
                    names[0]
                )));
            }
        }
        match &target {
            TargetColumn::None => {}
            TargetColumn::Classes { values, num_labels } => {
                if values.len() != rows {
                    return Err(invalid(format!("{} labels for {rows} rows", values.len())));
                }
                if let Some((row, v)) = values
                    .iter()
                    .enumerate()
                    .find(|(_, v)| **v < 0 || **v as usize >= *num_labels)
                {
                    return Err(invalid(format!(
                        "row {row}: label {v} is outside 0..{num_labels}"
                    )));
                }
            }
            TargetColumn::Scores(values) => {
                if values.len() != rows {
                    return Err(invalid(format!("{} scores for {rows} rows", values.len())));
                }
                if let Some((row, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(invalid(format!("row {row}: score {v} is not finite")));
                }
            }
        }
        Ok(Self {
            names,
            columns,
            target,
        })
    }

    /// (anchor, positive, negative) columns, no target.
    pub fn from_triplets(triplets: &[Triplet]) -> Self {
        let pick = |f: fn(&Triplet) -> &String| triplets.iter().map(|t| f(t).clone()).collect();
        Self {
            names: vec!["anchor".into(), "positive".into(), "negative".into()],
            columns: vec![
                pick(|t| &t.anchor),
                pick(|t| &t.positive),
                pick(|t| &t.negative),
            ],
            target: TargetColumn::None,
        }
    }

    /// (sentence1, sentence2) with NLI class labels (3 classes).
    pub fn from_labelled_pairs(pairs: &[LabelledPair]) -> Self {
        Self {
            names: vec!["sentence1".into(), "sentence2".into()],
            columns: vec![
                pairs.iter().map(|p| p.sentence1.clone()).collect(),
                pairs.iter().map(|p| p.sentence2.clone()).collect(),
            ],
            target: TargetColumn::Classes {
                values: pairs.iter().map(|p| p.label as i64).collect(),
                num_labels: 3,
            },
        }
    }

    /// (sentence1, sentence2) with float scores.
    pub fn from_scored_pairs(pairs: &[ScoredPair]) -> Self {
        Self {
            names: vec!["sentence1".into(), "sentence2".into()],
            columns: vec![
                pairs.iter().map(|p| p.sentence1.clone()).collect(),
                pairs.iter().map(|p| p.sentence2.clone()).collect(),
            ],
            target: TargetColumn::Scores(pairs.iter().map(|p| p.score).collect()),
        }
    }

    pub fn len(&self) -> usize {
        self.columns[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn column_names(&self) -> &[String] {
        &self.names
    }

    pub fn columns(&self) -> &[Vec<String>] {
        &self.columns
    }

    pub fn target(&self) -> &TargetColumn {
        &self.target
    }

    /// The text columns, without names and target.
    pub fn into_columns(self) -> Vec<Vec<String>> {
        self.columns
    }

    /// The texts of row `i`, one per column (what the no-duplicates sampler compares).
    pub fn row_texts(&self, i: usize) -> Vec<&str> {
        self.columns.iter().map(|c| c[i].as_str()).collect()
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        for column in &mut self.columns {
            column.truncate(n);
        }
        match &mut self.target {
            TargetColumn::None => {}
            TargetColumn::Classes { values, .. } => values.truncate(n),
            TargetColumn::Scores(values) => values.truncate(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_ragged_columns_and_bad_targets() {
        let cols = vec![vec!["a".to_string(), "b".into()], vec!["c".to_string()]];
        let err = TrainingSet::new(vec!["x".into(), "y".into()], cols, TargetColumn::None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("column `y` has 1 rows"), "{err}");

        let cols = vec![vec!["a".to_string(), "b".into()]];
        let classes = TargetColumn::Classes {
            values: vec![0, 3],
            num_labels: 3,
        };
        let err = TrainingSet::new(vec!["x".into()], cols.clone(), classes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 1: label 3 is outside 0..3"), "{err}");

        let scores = TargetColumn::Scores(vec![0.5, f32::NAN]);
        let err = TrainingSet::new(vec!["x".into()], cols, scores)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 1: score NaN"), "{err}");
    }

    #[test]
    fn builders_map_columns_in_order() {
        let t = Triplet {
            anchor: "a".into(),
            positive: "p".into(),
            negative: "n".into(),
        };
        let mut set = TrainingSet::from_triplets(&[t.clone(), t]);
        assert_eq!(set.column_names(), ["anchor", "positive", "negative"]);
        assert_eq!(set.row_texts(1), ["a", "p", "n"]);
        set.truncate(1);
        assert_eq!(set.len(), 1);
    }
}
