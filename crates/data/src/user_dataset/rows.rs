//! The rows of a user dataset as they are read, whatever the format: text columns and a
//! checked target, turned into a [`TrainingSet`] at the end.

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
}

impl<'a> Rows<'a> {
    pub(super) fn new(path: &'a Path, mapping: ResolvedMapping, num_labels: Option<usize>) -> Self {
        let target = match mapping.target {
            None => Target::None,
            Some((TargetRole::Score, _)) => Target::Scores(Vec::new()),
            Some((TargetRole::Label, _)) => Target::Labels(Vec::new()),
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
