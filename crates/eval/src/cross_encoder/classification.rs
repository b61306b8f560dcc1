//! Pair classification, as sentence-transformers 6.3's `CrossEncoderClassificationEvaluator`.
//!
//! With one score per pair (`num_labels = 1`) the pairs are a binary task: the best accuracy
//! and F1 over all thresholds on the score (the bi-encoder `BinaryClassificationEvaluator`'s
//! search), and scikit-learn's average precision. With several scores per pair the predicted
//! class is the argmax, and scikit-learn's macro, micro and weighted F1 are reported.

use super::{borrowed_pairs, checked_scores};
use crate::binary_classification::{best_accuracy, best_f1, Direction};
use crate::classification_metrics::average_precision;
use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::metrics::{MetricValues, NamedMetrics};
use crate::validate::check_positive;

/// The binary metrics (one score per pair; a pair is predicted 1 when `score >= threshold`).
///
/// Thresholds are computed in `f32`, as sentence-transformers computes them from the model's
/// `float32` scores, so they match bit for bit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEncoderBinaryScores {
    /// Best accuracy over all thresholds (predicting every pair 0 included).
    pub accuracy: f64,
    /// Threshold of [`Self::accuracy`].
    pub accuracy_threshold: f64,
    /// Best F1 of class 1 over all thresholds (0 when no label is 1).
    pub f1: f64,
    /// Threshold of [`Self::f1`] (0 when no label is 1).
    pub f1_threshold: f64,
    /// Precision at [`Self::f1_threshold`].
    pub precision: f64,
    /// Recall at [`Self::f1_threshold`].
    pub recall: f64,
    /// `sklearn.metrics.average_precision_score` of the labels against the scores.
    pub average_precision: f64,
}

/// scikit-learn's `f1_score` of the argmax classes with `average` macro, micro and weighted,
/// over the classes that are a label or a prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MulticlassF1 {
    /// Unweighted mean of the per-class F1.
    pub macro_f1: f64,
    /// F1 of the pooled counts: the accuracy, for one label per pair.
    pub micro_f1: f64,
    /// Mean of the per-class F1 weighted by each class's number of labels.
    pub weighted_f1: f64,
}

/// The result of [`CrossEncoderClassificationEvaluator::evaluate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CrossEncoderClassificationMetrics {
    /// One score per pair.
    Binary(CrossEncoderBinaryScores),
    /// Several scores per pair.
    Multiclass(MulticlassF1),
}

impl NamedMetrics for CrossEncoderClassificationMetrics {
    /// One score per pair: `accuracy`, `accuracy_threshold`, `f1`, `f1_threshold`,
    /// `precision`, `recall`, `average_precision`. Several: `f1_macro`, `f1_micro`,
    /// `f1_weighted`.
    fn metric_values(&self) -> MetricValues {
        let named: Vec<(&str, f64)> = match self {
            Self::Binary(s) => vec![
                ("accuracy", s.accuracy),
                ("accuracy_threshold", s.accuracy_threshold),
                ("f1", s.f1),
                ("f1_threshold", s.f1_threshold),
                ("precision", s.precision),
                ("recall", s.recall),
                ("average_precision", s.average_precision),
            ],
            Self::Multiclass(f) => vec![
                ("f1_macro", f.macro_f1),
                ("f1_micro", f.micro_f1),
                ("f1_weighted", f.weighted_f1),
            ],
        };
        named
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect()
    }

    /// `average_precision` for one score per pair, else `f1_macro`.
    fn primary_metric(&self) -> &str {
        match self {
            Self::Binary(_) => "average_precision",
            Self::Multiclass(_) => "f1_macro",
        }
    }
}

/// sentence-transformers 6.3's `CrossEncoderClassificationEvaluator` on precomputed scores.
///
/// `num_labels` is the model's: with 1 the labels are 0/1 and each pair has one score
/// (larger: more likely 1, as sentence-transformers assumes); with more, the labels are
/// classes `0..num_labels` and each pair has one score per class.
#[derive(Debug, Clone)]
pub struct CrossEncoderClassificationEvaluator {
    pairs: Vec<(String, String)>,
    labels: Vec<usize>,
    num_labels: usize,
}

impl CrossEncoderClassificationEvaluator {
    /// An evaluator of `pairs` with gold `labels`, for a model with `num_labels` outputs.
    ///
    /// Errors on no pairs, `num_labels = 0`, a labels count other than the pairs', or a label
    /// outside 0/1 (one output) or `0..num_labels` (naming its row).
    pub fn new(pairs: Vec<(String, String)>, labels: &[i64], num_labels: usize) -> Result<Self> {
        check_positive("num_labels", num_labels)?;
        if pairs.is_empty() {
            return Err(Error::EmptyInput { input: "pairs" });
        }
        if labels.len() != pairs.len() {
            return Err(Error::InputRows {
                input: "labels",
                rows: labels.len(),
                reference: "pairs",
                expected: pairs.len(),
            });
        }
        // One output is a binary task: its labels are 0 or 1.
        let classes = num_labels.max(2);
        let labels = labels
            .iter()
            .enumerate()
            .map(|(row, &label)| match usize::try_from(label) {
                Ok(class) if class < classes => Ok(class),
                _ if num_labels == 1 => Err(Error::InvalidLabel { row, label }),
                _ => Err(Error::LabelOutOfRange {
                    row,
                    label,
                    num_labels,
                }),
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            pairs,
            labels,
            num_labels,
        })
    }

    /// The pairs to score, in order.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        borrowed_pairs(&self.pairs)
    }

    pub fn num_labels(&self) -> usize {
        self.num_labels
    }

    fn zero_metrics(&self) -> CrossEncoderClassificationMetrics {
        if self.num_labels == 1 {
            CrossEncoderClassificationMetrics::Binary(CrossEncoderBinaryScores {
                accuracy: 0.0,
                accuracy_threshold: 0.0,
                f1: 0.0,
                f1_threshold: 0.0,
                precision: 0.0,
                recall: 0.0,
                average_precision: 0.0,
            })
        } else {
            CrossEncoderClassificationMetrics::Multiclass(MulticlassF1 {
                macro_f1: 0.0,
                micro_f1: 0.0,
                weighted_f1: 0.0,
            })
        }
    }

    /// Every key [`Self::evaluate`] reports, in its order, known before any evaluation.
    pub fn metric_names(&self) -> Vec<String> {
        self.zero_metrics()
            .metric_values()
            .names()
            .map(str::to_string)
            .collect()
    }

    /// The primary metric of every evaluation: `average_precision` or `f1_macro`.
    pub fn primary_metric(&self) -> String {
        self.zero_metrics().primary_metric().to_string()
    }

    /// The metrics from the model's scores of [`Self::pairs`].
    ///
    /// # Shapes
    /// scores: `[pairs, num_labels]` row-major (`[pairs]` for one label)
    ///
    /// Errors on another length or a NaN or infinite score (naming its pair's row).
    pub fn evaluate(&self, scores: &[f32]) -> Result<CrossEncoderClassificationMetrics> {
        let scores = checked_scores(scores, self.pairs.len(), self.num_labels)?;
        let metrics = if self.num_labels == 1 {
            CrossEncoderClassificationMetrics::Binary(self.binary(scores.as_slice()))
        } else {
            CrossEncoderClassificationMetrics::Multiclass(self.multiclass(scores))
        };
        tracing::debug!(
            pairs = self.pairs.len(),
            num_labels = self.num_labels,
            "cross-encoder classification evaluation"
        );
        Ok(metrics)
    }

    fn binary(&self, scores: &[f32]) -> CrossEncoderBinaryScores {
        let labels: Vec<bool> = self.labels.iter().map(|&l| l == 1).collect();
        let rows = Direction::GreaterIsSimilar.sorted_rows(scores, &labels);
        let (accuracy, accuracy_threshold) = best_accuracy(&rows, Direction::GreaterIsSimilar);
        let f1 = best_f1(&rows);
        let scores: Vec<f64> = scores.iter().map(|&s| f64::from(s)).collect();
        CrossEncoderBinaryScores {
            accuracy,
            accuracy_threshold,
            f1: f1.f1,
            f1_threshold: f1.threshold,
            precision: f1.precision,
            recall: f1.recall,
            average_precision: average_precision(&labels, &scores),
        }
    }

    fn multiclass(&self, scores: Embeddings<'_>) -> MulticlassF1 {
        let predicted: Vec<usize> = scores.iter_rows().map(argmax).collect();
        f1_scores(&self.labels, &predicted, self.num_labels)
    }
}

/// The index of the first largest of finite values (`np.argmax`), 0 for an empty row.
fn argmax(row: &[f32]) -> usize {
    let first_largest = |(best, top): (usize, f32), (i, &v): (usize, &f32)| {
        if v > top {
            (i, v)
        } else {
            (best, top)
        }
    };
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), first_largest)
        .0
}

/// scikit-learn's `f1_score(labels, predicted, average=…)` for `macro`, `micro` and
/// `weighted`, over the classes (`< classes`) that occur in either: per class
/// `F1 = 2 tp / (2 tp + fp + fn)`, never 0/0 since each such class is labelled or predicted.
fn f1_scores(labels: &[usize], predicted: &[usize], classes: usize) -> MulticlassF1 {
    // tp, labelled, predicted per class
    let mut counts = vec![[0usize; 3]; classes];
    for (&label, &guess) in labels.iter().zip(predicted) {
        if let Some(c) = counts.get_mut(label) {
            c[1] += 1;
            c[0] += usize::from(label == guess);
        }
        if let Some(c) = counts.get_mut(guess) {
            c[2] += 1;
        }
    }
    let present: Vec<[usize; 3]> = counts
        .into_iter()
        .filter(|&[_, labelled, guessed]| labelled + guessed > 0)
        .collect();
    let f1 = |[tp, labelled, guessed]: [usize; 3]| 2.0 * tp as f64 / (labelled + guessed) as f64;
    let n_present = present.len().max(1) as f64;
    let macro_f1 = present.iter().map(|&c| f1(c)).sum::<f64>() / n_present;
    let pooled = present.iter().fold([0; 3], |acc, c| {
        [acc[0] + c[0], acc[1] + c[1], acc[2] + c[2]]
    });
    let support: usize = present.iter().map(|c| c[1]).sum();
    let weighted_f1 =
        present.iter().map(|&c| f1(c) * c[1] as f64).sum::<f64>() / support.max(1) as f64;
    MulticlassF1 {
        macro_f1,
        micro_f1: f1(pooled),
        weighted_f1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("a{i}"), format!("b{i}"))).collect()
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[2.0, 1.0, 2.0]), 0);
        assert_eq!(argmax(&[-1.0]), 0);
    }

    #[test]
    fn f1_matches_scikit_learn() {
        // sklearn.metrics.f1_score([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], average=…)
        // -> macro 0.26666666666666666, micro 0.3333333333333333, weighted 0.26666666666666666
        let f = f1_scores(&[0, 1, 2, 0, 1, 2], &[0, 2, 1, 0, 0, 1], 3);
        assert!((f.macro_f1 - 0.26666666666666666).abs() < 1e-15, "{f:?}");
        assert!((f.micro_f1 - 1.0 / 3.0).abs() < 1e-15, "{f:?}");
        assert!((f.weighted_f1 - 0.26666666666666666).abs() < 1e-15, "{f:?}");
        // class 2 is neither labelled nor predicted: left out of the macro mean
        let f = f1_scores(&[0, 1], &[0, 0], 3);
        assert!((f.macro_f1 - (2.0 / 3.0) / 2.0).abs() < 1e-15, "{f:?}");
    }

    #[test]
    fn binary_keys_and_f32_thresholds() {
        let e = CrossEncoderClassificationEvaluator::new(pairs(3), &[1, 0, 1], 1).unwrap();
        assert_eq!(e.pairs()[1], ("a1", "b1"));
        let m = e.evaluate(&[0.9, 0.2, 0.7]).unwrap();
        let CrossEncoderClassificationMetrics::Binary(s) = m else {
            panic!("{m:?}")
        };
        assert_eq!((s.accuracy, s.f1, s.average_precision), (1.0, 1.0, 1.0));
        // the f32 midpoint of 0.7 and 0.2, as numpy computes it
        assert_eq!(s.accuracy_threshold, f64::from((0.7f32 + 0.2f32) / 2.0));
        assert_eq!(m.primary_metric(), "average_precision");
        assert_eq!(
            e.metric_names(),
            [
                "accuracy",
                "accuracy_threshold",
                "f1",
                "f1_threshold",
                "precision",
                "recall",
                "average_precision"
            ]
        );
    }

    #[test]
    fn multiclass_keys() {
        let e = CrossEncoderClassificationEvaluator::new(pairs(2), &[2, 0], 3).unwrap();
        let m = e.evaluate(&[0.0, 0.1, 0.9, 0.5, 0.5, 0.1]).unwrap();
        assert_eq!(m.primary_metric(), "f1_macro");
        let v = m.metric_values();
        assert_eq!(
            v.names().collect::<Vec<_>>(),
            ["f1_macro", "f1_micro", "f1_weighted"]
        );
        assert_eq!(v.get("f1_micro"), Some(1.0));
    }

    #[test]
    fn bad_inputs_are_errors_naming_them() {
        let err = CrossEncoderClassificationEvaluator::new(pairs(2), &[0, 2], 1)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "labels has 2 at row 1, expected 0 or 1");
        let err = CrossEncoderClassificationEvaluator::new(pairs(2), &[-1, 0], 3)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "labels has -1 at row 0, expected a class in 0..3");
        let err = CrossEncoderClassificationEvaluator::new(pairs(2), &[0], 3)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "labels has 1 rows but pairs has 2");
        let err = CrossEncoderClassificationEvaluator::new(vec![], &[], 1)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "pairs is empty");
        let err = CrossEncoderClassificationEvaluator::new(pairs(1), &[0], 0)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "config key num_labels must be positive, got 0");

        let e = CrossEncoderClassificationEvaluator::new(pairs(2), &[0, 2], 3).unwrap();
        let err = e.evaluate(&[0.0; 5]).unwrap_err().to_string();
        assert_eq!(
            err,
            "scores has 5 values but 2 pairs with 3 score(s) each need 6"
        );
        let err = e
            .evaluate(&[0.0, 0.0, 0.0, 0.0, f32::NAN, 0.0])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "scores has a non-finite value NaN at row 1");
    }
}
