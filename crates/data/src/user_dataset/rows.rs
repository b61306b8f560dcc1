//! The rows of a user dataset as they are read, whatever the format: text columns and a
//! checked target (or a query column with checked document and label lists), turned into a
//! [`TrainingSet`] at the end.

use std::path::Path;

use crate::column_mapping::{ResolvedMapping, TargetRole};
use crate::error::{Error, Position, Result, ValueProblem};
use crate::training_set::{TargetColumn, TrainingSet};

/// Accumulates checked values column by column.
pub(super) struct Rows<'a> {
    path: &'a Path,
    mapping: ResolvedMapping,
    texts: Vec<Vec<String>>,
    target: Target,
    num_labels: Option<usize>,
}

enum Target {
    None,
    Scores(Vec<f32>),
    Labels(Vec<i64>),
    /// A teacher's embedding per row, row-major; `dim` is the first row's length.
    Vectors {
        values: Vec<f32>,
        dim: Option<usize>,
    },
    /// Text role 1's document lists and the target's label lists.
    Lists {
        documents: Vec<Vec<String>>,
        labels: Vec<Vec<f32>>,
    },
}

impl<'a> Rows<'a> {
    pub(super) fn new(path: &'a Path, mapping: ResolvedMapping, num_labels: Option<usize>) -> Self {
        let target = match mapping.target {
            None => Target::None,
            Some((TargetRole::Score, _)) => Target::Scores(Vec::new()),
            Some((TargetRole::Label, _)) => Target::Labels(Vec::new()),
            Some((TargetRole::Embedding, _)) => Target::Vectors {
                values: Vec::new(),
                dim: None,
            },
            Some((TargetRole::LabelLists, _)) => Target::Lists {
                documents: Vec::new(),
                labels: Vec::new(),
            },
        };
        Self {
            path,
            texts: vec![Vec::new(); mapping.texts.len()],
            mapping,
            target,
            num_labels,
        }
    }

    pub(super) fn reserve(&mut self, rows: usize) {
        for column in &mut self.texts {
            column.reserve(rows);
        }
    }

    /// The error for the value of `column` at `at`.
    pub(super) fn problem(&self, at: Position, column: &str, problem: ValueProblem) -> Error {
        Error::Value {
            path: self.path.to_path_buf(),
            at,
            column: column.to_owned(),
            problem,
        }
    }

    /// The file column of text role `index`.
    fn text_column(&self, index: usize) -> &str {
        self.mapping
            .texts
            .get(index)
            .map_or("", |(_, column)| column.as_str())
    }

    fn target_column(&self) -> &str {
        self.mapping
            .target
            .as_ref()
            .map_or("", |(_, column)| column.as_str())
    }

    /// Appends the text of role `index`; an empty text is an error.
    pub(super) fn push_text(&mut self, index: usize, at: Position, text: &str) -> Result<()> {
        if text.is_empty() {
            return Err(self.problem(at, self.text_column(index), ValueProblem::Empty));
        }
        if let Some(column) = self.texts.get_mut(index) {
            column.push(text.to_owned());
        }
        Ok(())
    }

    /// The column of text role `index`, for readers that fill it in bulk; they check
    /// emptiness with [`Rows::check_texts_from`].
    pub(super) fn texts_mut(&mut self, index: usize) -> Option<&mut Vec<String>> {
        self.texts.get_mut(index)
    }

    /// Checks that the texts of role `index` from position `from` on are non-empty;
    /// `position(i)` places the `i`th value.
    pub(super) fn check_texts_from(
        &self,
        index: usize,
        from: usize,
        position: impl Fn(usize) -> Position,
    ) -> Result<()> {
        let Some(column) = self.texts.get(index) else {
            return Ok(());
        };
        match column.iter().skip(from).position(String::is_empty) {
            Some(i) => Err(self.problem(
                position(from + i),
                self.text_column(index),
                ValueProblem::Empty,
            )),
            None => Ok(()),
        }
    }

    /// The error for item `index` of the list value of `column` at `at`.
    pub(super) fn item_problem(
        &self,
        at: Position,
        column: &str,
        index: usize,
        problem: ValueProblem,
    ) -> Error {
        self.problem(
            at,
            column,
            ValueProblem::Item {
                index,
                problem: Box::new(problem),
            },
        )
    }

    /// The file column of a list set's documents (text role 1).
    pub(super) fn documents_column(&self) -> &str {
        self.text_column(1)
    }

    /// Appends a list row's documents: at least one, none empty.
    pub(super) fn push_documents(&mut self, at: Position, documents: Vec<String>) -> Result<()> {
        let column = self.documents_column();
        if documents.is_empty() {
            return Err(self.problem(at, column, ValueProblem::EmptyList));
        }
        if let Some(index) = documents.iter().position(String::is_empty) {
            return Err(self.item_problem(at, column, index, ValueProblem::Empty));
        }
        if let Target::Lists { documents: all, .. } = &mut self.target {
            all.push(documents);
        }
        Ok(())
    }

    /// Appends a list row's labels; NaN, infinities and values beyond `f32` are errors.
    pub(super) fn push_label_list(&mut self, at: Position, values: &[f64]) -> Result<()> {
        let mut labels = Vec::with_capacity(values.len());
        for (index, &value) in values.iter().enumerate() {
            let narrowed = value as f32;
            if !narrowed.is_finite() {
                return Err(self.item_problem(
                    at,
                    self.target_column(),
                    index,
                    ValueProblem::NonFiniteLabel { value },
                ));
            }
            labels.push(narrowed);
        }
        if let Target::Lists { labels: all, .. } = &mut self.target {
            all.push(labels);
        }
        Ok(())
    }

    /// Checks that the list rows from position `from` on have one label per document;
    /// `position(i)` places the `i`th row.
    pub(super) fn check_lists_from(
        &self,
        from: usize,
        position: impl Fn(usize) -> Position,
    ) -> Result<()> {
        let Target::Lists { documents, labels } = &self.target else {
            return Ok(());
        };
        let rows = documents.iter().zip(labels).enumerate().skip(from);
        match rows.into_iter().find(|(_, (d, l))| d.len() != l.len()) {
            Some((i, (d, l))) => Err(Error::ListLength {
                path: self.path.to_path_buf(),
                at: position(i),
                documents_column: self.documents_column().to_owned(),
                labels_column: self.target_column().to_owned(),
                documents: d.len(),
                labels: l.len(),
            }),
            None => Ok(()),
        }
    }

    /// Checks the list row appended last, which sits at `at`.
    pub(super) fn check_last_list(&self, at: Position) -> Result<()> {
        let Target::Lists { documents, .. } = &self.target else {
            return Ok(());
        };
        self.check_lists_from(documents.len().saturating_sub(1), |_| at)
    }

    /// Appends a row's teacher embedding: at least one number, every one finite as `f32`, as
    /// many as the first row's.
    pub(super) fn push_vector(&mut self, at: Position, values: &[f64]) -> Result<()> {
        let column = self.target_column().to_owned();
        if values.is_empty() {
            return Err(self.problem(at, &column, ValueProblem::EmptyEmbedding));
        }
        if let Some(index) = values.iter().position(|v| !(*v as f32).is_finite()) {
            return Err(self.item_problem(
                at,
                &column,
                index,
                ValueProblem::NonFiniteEmbedding {
                    value: values[index],
                },
            ));
        }
        let found = values.len();
        let expected = match &self.target {
            Target::Vectors { dim: Some(dim), .. } => Some(*dim),
            _ => None,
        };
        if let Some(expected) = expected.filter(|&d| d != found) {
            return Err(self.problem(
                at,
                &column,
                ValueProblem::EmbeddingLength { expected, found },
            ));
        }
        if let Target::Vectors { values: all, dim } = &mut self.target {
            all.extend(values.iter().map(|&v| v as f32));
            *dim = Some(found);
        }
        Ok(())
    }

    /// Appends a score given as text (CSV/TSV).
    pub(super) fn push_score_text(&mut self, at: Position, text: &str) -> Result<()> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(self.problem(at, self.target_column(), ValueProblem::Empty));
        }
        let value = trimmed.parse::<f64>().map_err(|_| {
            self.problem(
                at,
                self.target_column(),
                ValueProblem::NotANumber {
                    text: trimmed.to_owned(),
                },
            )
        })?;
        self.push_score(at, value)
    }

    /// Appends a score; NaN, infinities and values beyond `f32` are errors.
    pub(super) fn push_score(&mut self, at: Position, value: f64) -> Result<()> {
        let narrowed = value as f32;
        if !narrowed.is_finite() {
            return Err(self.problem(
                at,
                self.target_column(),
                ValueProblem::NonFiniteScore { value },
            ));
        }
        if let Target::Scores(scores) = &mut self.target {
            scores.push(narrowed);
        }
        Ok(())
    }

    /// Appends a label given as text (CSV/TSV): an integer, or a float with no fractional
    /// part (`1.0`, as pandas writes integer columns that held a NaN).
    pub(super) fn push_label_text(&mut self, at: Position, text: &str) -> Result<()> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(self.problem(at, self.target_column(), ValueProblem::Empty));
        }
        let value = trimmed
            .parse::<i64>()
            .ok()
            .or_else(|| trimmed.parse::<f64>().ok().and_then(integral));
        match value {
            Some(value) => self.push_label(at, value),
            None => Err(self.problem(
                at,
                self.target_column(),
                ValueProblem::NotAnInteger {
                    text: trimmed.to_owned(),
                },
            )),
        }
    }

    /// Appends a class label: non-negative, and below `num_labels` when that is given.
    pub(super) fn push_label(&mut self, at: Position, value: i64) -> Result<()> {
        if value < 0 {
            return Err(self.problem(
                at,
                self.target_column(),
                ValueProblem::NegativeLabel { value },
            ));
        }
        if let Some(num_labels) = self.num_labels {
            if usize::try_from(value).map_or(true, |v| v >= num_labels) {
                return Err(self.problem(
                    at,
                    self.target_column(),
                    ValueProblem::LabelOutOfRange { value, num_labels },
                ));
            }
        }
        if let Target::Labels(labels) = &mut self.target {
            labels.push(value);
        }
        Ok(())
    }

    /// The training set, named after the roles; no rows is an error.
    pub(super) fn finish(self) -> Result<TrainingSet> {
        if self.texts.first().is_none_or(Vec::is_empty) {
            return Err(Error::NoRows {
                path: self.path.to_path_buf(),
            });
        }
        let target = match self.target {
            Target::None => TargetColumn::None,
            Target::Scores(values) => TargetColumn::Scores(values),
            Target::Labels(values) => {
                let largest = values.iter().copied().max().unwrap_or(0);
                let num_labels = self
                    .num_labels
                    .unwrap_or_else(|| usize::try_from(largest).map_or(usize::MAX, |l| l + 1));
                TargetColumn::Classes { values, num_labels }
            }
            Target::Vectors { values, dim } => TargetColumn::Vectors {
                values,
                dim: dim.unwrap_or(0),
            },
            Target::Lists { documents, labels } => {
                let mut names = self.mapping.texts.into_iter().map(|(role, _)| role);
                let mut texts = self.texts.into_iter();
                let query = names.next().unwrap_or_default();
                let documents_name = names.next().unwrap_or_default();
                return TrainingSet::from_lists(
                    query,
                    texts.next().unwrap_or_default(),
                    documents_name,
                    documents,
                    labels,
                );
            }
        };
        let names = self
            .mapping
            .texts
            .into_iter()
            .map(|(role, _)| role)
            .collect();
        TrainingSet::new(names, self.texts, target)
    }
}

/// `value` as an integer if it is one exactly (and fits `i64`).
pub(super) fn integral(value: f64) -> Option<i64> {
    let in_range = (-9.007_199_254_740_992e15..=9.007_199_254_740_992e15).contains(&value);
    (value.fract() == 0.0 && in_range).then_some(value as i64)
}
