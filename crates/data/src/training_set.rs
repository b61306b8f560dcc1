//! The columnar form every training dataset takes before batching: named text columns of equal
//! length plus an optional target column, whatever file or builder it came from; or, for the
//! listwise cross-encoder losses, (query, documents, labels) lists.

use std::borrow::Cow;

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
    /// A teacher's embedding per row, `[rows, dim]` row-major (MSELoss, EmbedDistillLoss).
    Vectors { values: Vec<f32>, dim: usize },
}

/// The documents and labels of a listwise training set: each row's query (the set's one text
/// column) against a list of documents, one label (a relevance grade or score) per document,
/// as sentence-transformers' listwise cross-encoder losses take them.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentLists {
    name: String,
    documents: Vec<Vec<String>>,
    labels: Vec<Vec<f32>>,
}

impl DocumentLists {
    /// The documents column's name (its role).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Each row's documents: at least one.
    pub fn documents(&self) -> &[Vec<String>] {
        &self.documents
    }

    /// Each row's labels, one per document, finite.
    pub fn labels(&self) -> &[Vec<f32>] {
        &self.labels
    }

    /// The documents of row `i`, `None` past the end.
    pub fn row_documents(&self, i: usize) -> Option<&[String]> {
        self.documents.get(i).map(Vec::as_slice)
    }

    /// The labels of row `i`, `None` past the end.
    pub fn row_labels(&self, i: usize) -> Option<&[f32]> {
        self.labels.get(i).map(Vec::as_slice)
    }
}

/// Text columns (in the order the loss consumes them) and an optional target; or a list set:
/// one text column (the queries) with [`DocumentLists`] (and [`TargetColumn::None`], the
/// labels being the lists').
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    names: Vec<String>,
    columns: Vec<Vec<String>>,
    target: TargetColumn,
    lists: Option<DocumentLists>,
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
            TargetColumn::Vectors { values, dim } => {
                if *dim == 0 || values.len() != rows.saturating_mul(*dim) {
                    return Err(invalid(format!(
                        "{} embedding values for {rows} rows of dimension {dim}",
                        values.len()
                    )));
                }
                if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                    return Err(invalid(format!(
                        "row {}: embedding value {} is not finite",
                        i / dim,
                        values[i]
                    )));
                }
            }
        }
        Ok(Self {
            names,
            columns,
            target,
            lists: None,
        })
    }

    /// (query, documents, labels) rows: `queries` is the one text column (named
    /// `query_name`), and row `i` scores `queries[i]` against `documents[i]` with `labels[i]`.
    /// Checks that the three have the same number of rows, that every row has at least one
    /// document and exactly one label per document, and that every label is finite.
    pub fn from_lists(
        query_name: impl Into<String>,
        queries: Vec<String>,
        documents_name: impl Into<String>,
        documents: Vec<Vec<String>>,
        labels: Vec<Vec<f32>>,
    ) -> Result<Self> {
        let invalid = |reason: String| Error::TrainingSet { reason };
        let rows = queries.len();
        if documents.len() != rows || labels.len() != rows {
            return Err(invalid(format!(
                "{rows} queries, {} document lists and {} label lists",
                documents.len(),
                labels.len()
            )));
        }
        for (row, (docs, row_labels)) in documents.iter().zip(&labels).enumerate() {
            if docs.is_empty() {
                return Err(invalid(format!("row {row}: no documents")));
            }
            if docs.len() != row_labels.len() {
                return Err(invalid(format!(
                    "row {row}: {} documents but {} labels",
                    docs.len(),
                    row_labels.len()
                )));
            }
            if let Some((i, v)) = row_labels.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(invalid(format!("row {row}: label {i} ({v}) is not finite")));
            }
        }
        Ok(Self {
            names: vec![query_name.into()],
            columns: vec![queries],
            target: TargetColumn::None,
            lists: Some(DocumentLists {
                name: documents_name.into(),
                documents,
                labels,
            }),
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
            lists: None,
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
            lists: None,
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
            lists: None,
        }
    }

    pub fn len(&self) -> usize {
        self.columns[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names of the text columns (a list set's: the query column alone; see
    /// [`TrainingSet::lists`] for its documents).
    pub fn column_names(&self) -> &[String] {
        &self.names
    }

    /// The text columns (a list set's: the queries alone).
    pub fn columns(&self) -> &[Vec<String>] {
        &self.columns
    }

    pub fn target(&self) -> &TargetColumn {
        &self.target
    }

    /// The documents and labels of a list set ([`TrainingSet::from_lists`]); `None` otherwise.
    pub fn lists(&self) -> Option<&DocumentLists> {
        self.lists.as_ref()
    }

    /// Every column's name, for messages: the text columns, then a list set's documents and
    /// labels (`query, documents (lists), labels (lists)`).
    pub fn describe_columns(&self) -> String {
        let mut names: Vec<String> = self.names.clone();
        if let Some(lists) = &self.lists {
            names.push(format!("{} (lists)", lists.name));
            names.push("labels (lists)".into());
        }
        names.join(", ")
    }

    /// The text columns, without names and target (and without a list set's documents).
    pub fn into_columns(self) -> Vec<Vec<String>> {
        self.columns
    }

    /// Every text of row `i`: one per column, then a list set's documents.
    pub fn row_texts(&self, i: usize) -> Vec<&str> {
        let mut texts: Vec<&str> = self.columns.iter().map(|c| c[i].as_str()).collect();
        if let Some(documents) = self.lists.as_ref().and_then(|l| l.row_documents(i)) {
            texts.extend(documents.iter().map(String::as_str));
        }
        texts
    }

    /// The values of row `i` that sentence-transformers' `NoDuplicatesBatchSampler` compares:
    /// each text column's text, and a list set's documents as one value, the whole list (as
    /// it compares `str(value)` of a list column). Labels are not compared.
    pub fn row_values(&self, i: usize) -> Vec<Cow<'_, str>> {
        let mut values: Vec<Cow<'_, str>> = self
            .columns
            .iter()
            .map(|c| Cow::Borrowed(c[i].as_str()))
            .collect();
        if let Some(documents) = self.lists.as_ref().and_then(|l| l.row_documents(i)) {
            // A JSON array: distinct lists give distinct keys, whatever their texts hold.
            let key = serde_json::to_string(documents).unwrap_or_else(|_| documents.join("\n"));
            values.push(Cow::Owned(key));
        }
        values
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
            TargetColumn::Vectors { values, dim } => values.truncate(n.saturating_mul(*dim)),
        }
        if let Some(lists) = &mut self.lists {
            lists.documents.truncate(n);
            lists.labels.truncate(n);
        }
    }

    /// Puts `prefix` before every text of text column `column` (a cross-encoder's training
    /// prompt, which sentence-transformers prepends to the first text of every pair). A column
    /// the set does not have is left alone.
    pub fn prepend_to_column(&mut self, column: usize, prefix: &str) {
        if let Some(texts) = self.columns.get_mut(column) {
            for text in texts {
                text.insert_str(0, prefix);
            }
        }
    }

    /// Leaves out the first `n` rows (all of them when there are fewer).
    pub fn skip(&mut self, n: usize) {
        let n = n.min(self.len());
        for column in &mut self.columns {
            column.drain(..n);
        }
        match &mut self.target {
            TargetColumn::None => {}
            TargetColumn::Classes { values, .. } => drop(values.drain(..n)),
            TargetColumn::Scores(values) => drop(values.drain(..n)),
            TargetColumn::Vectors { values, dim } => drop(values.drain(..n * *dim)),
        }
        if let Some(lists) = &mut self.lists {
            lists.documents.drain(..n);
            lists.labels.drain(..n);
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
        assert!(set.lists().is_none());
    }

    fn strings(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn list_sets_check_their_rows() {
        let queries = strings(&["q0", "q1"]);
        let docs = vec![strings(&["a", "b"]), strings(&["c"])];
        let set = TrainingSet::from_lists(
            "query",
            queries.clone(),
            "docs",
            docs.clone(),
            vec![vec![1.0, 0.0], vec![2.0]],
        )
        .unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.column_names(), ["query"]);
        assert_eq!(set.target(), &TargetColumn::None);
        assert_eq!(set.row_texts(0), ["q0", "a", "b"]);
        assert_eq!(set.row_values(0), ["q0", "[\"a\",\"b\"]"]);
        assert_eq!(
            set.describe_columns(),
            "query, docs (lists), labels (lists)"
        );
        let lists = set.lists().unwrap();
        assert_eq!(lists.name(), "docs");
        assert_eq!(lists.row_labels(1), Some(&[2.0f32][..]));

        let err = |docs: Vec<Vec<String>>, labels: Vec<Vec<f32>>| {
            TrainingSet::from_lists("q", queries.clone(), "d", docs, labels)
                .unwrap_err()
                .to_string()
        };
        let e = err(docs.clone(), vec![vec![1.0, 0.0], vec![2.0, 3.0]]);
        assert!(e.contains("row 1: 1 documents but 2 labels"), "{e}");
        let e = err(vec![strings(&["a"]), vec![]], vec![vec![1.0], vec![]]);
        assert!(e.contains("row 1: no documents"), "{e}");
        let e = err(docs.clone(), vec![vec![1.0, f32::INFINITY], vec![2.0]]);
        assert!(e.contains("row 0: label 1 (inf) is not finite"), "{e}");
        let e = err(docs[..1].to_vec(), vec![vec![1.0, 0.0]]);
        assert!(e.contains("2 queries, 1 document lists"), "{e}");
    }

    #[test]
    fn list_sets_truncate_their_lists() {
        let mut set = TrainingSet::from_lists(
            "q",
            strings(&["q0", "q1", "q2"]),
            "d",
            vec![strings(&["a"]), strings(&["b"]), strings(&["c"])],
            vec![vec![1.0], vec![0.0], vec![1.0]],
        )
        .unwrap();
        set.truncate(2);
        assert_eq!(set.len(), 2);
        let lists = set.lists().unwrap();
        assert_eq!(lists.documents().len(), 2);
        assert_eq!(lists.labels().len(), 2);
    }
}
