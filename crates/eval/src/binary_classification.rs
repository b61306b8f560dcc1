//! Pair classification evaluation, as sentence-transformers' `BinaryClassificationEvaluator`.
//!
//! Each pair is scored by a similarity (cosine, dot) or a distance (euclidean, manhattan);
//! the evaluator reports the best accuracy and F1 over all thresholds on that score, the
//! thresholds themselves, and scikit-learn's average precision and Matthews correlation.

use serde::{Deserialize, Serialize};

use crate::classification_metrics::{average_precision, matthews_corrcoef};
use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::metrics::{MetricValues, NamedMetrics};
use crate::similarity::SimilarityFunction;
use crate::validate::{check_aligned, check_functions};

/// The similarity functions to evaluate, as the evaluator's `similarity_fn_names`.
///
/// Defaults to cosine: sentence-transformers 6.2 uses the model's `similarity_fn_name` when
/// the list is not given, cosine for nearly all models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BinaryClassificationConfig {
    pub similarity_fn_names: Vec<SimilarityFunction>,
}

impl Default for BinaryClassificationConfig {
    fn default() -> Self {
        Self {
            similarity_fn_names: vec![SimilarityFunction::Cosine],
        }
    }
}

/// The metrics of one similarity function.
///
/// Thresholds are on the score sentence-transformers thresholds: the similarity for cosine
/// and dot (a pair is predicted similar when `score >= threshold`), the positive distance for
/// euclidean and manhattan (similar when `distance <= threshold`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryClassificationScores {
    pub function: SimilarityFunction,
    /// Best accuracy over all thresholds (predicting every pair dissimilar included).
    pub accuracy: f64,
    /// Threshold of [`Self::accuracy`].
    pub accuracy_threshold: f64,
    /// Best F1 of the "similar" class over all thresholds (0 when no label is 1).
    pub f1: f64,
    /// Threshold of [`Self::f1`] (0 when no label is 1).
    pub f1_threshold: f64,
    /// Precision at [`Self::f1_threshold`].
    pub precision: f64,
    /// Recall at [`Self::f1_threshold`].
    pub recall: f64,
    /// `sklearn.metrics.average_precision_score` of the labels against the similarity.
    pub ap: f64,
    /// `sklearn.metrics.matthews_corrcoef` of the labels and the predictions at
    /// [`Self::f1_threshold`].
    pub mcc: f64,
}

impl BinaryClassificationScores {
    /// `(metric name, value)` in sentence-transformers' order.
    fn named(&self) -> [(&'static str, f64); 8] {
        [
            ("accuracy", self.accuracy),
            ("accuracy_threshold", self.accuracy_threshold),
            ("f1", self.f1),
            ("f1_threshold", self.f1_threshold),
            ("precision", self.precision),
            ("recall", self.recall),
            ("ap", self.ap),
            ("mcc", self.mcc),
        ]
    }
}

/// The result of [`BinaryClassificationEvaluator::evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryClassificationMetrics {
    /// One entry per function, in the config's order.
    pub scores: Vec<BinaryClassificationScores>,
}

impl NamedMetrics for BinaryClassificationMetrics {
    /// `{function}_{metric}` for metrics `accuracy`, `accuracy_threshold`, `f1`,
    /// `f1_threshold`, `precision`, `recall`, `ap`, `mcc`; with more than one function also
    /// `max_{metric}`, the largest value of each over the functions (thresholds included, as
    /// sentence-transformers does).
    fn metric_values(&self) -> MetricValues {
        let mut values = MetricValues::new();
        for scores in &self.scores {
            for (metric, value) in scores.named() {
                values.push(format!("{}_{metric}", scores.function.name()), value);
            }
        }
        if self.scores.len() > 1 {
            let mut columns = self.scores.iter().map(BinaryClassificationScores::named);
            if let Some(first) = columns.next() {
                let max = columns.fold(first, |mut acc, row| {
                    for ((_, a), (_, v)) in acc.iter_mut().zip(row) {
                        *a = a.max(v);
                    }
                    acc
                });
                for (metric, value) in max {
                    values.push(format!("max_{metric}"), value);
                }
            }
        }
        values
    }

    /// `max_ap` with more than one function, else `{function}_ap`.
    fn primary_metric(&self) -> &str {
        match self.scores.as_slice() {
            [one] => match one.function {
                SimilarityFunction::Cosine => "cosine_ap",
                SimilarityFunction::Euclidean => "euclidean_ap",
                SimilarityFunction::Manhattan => "manhattan_ap",
                SimilarityFunction::Dot => "dot_ap",
            },
            _ => "max_ap",
        }
    }
}

/// sentence-transformers' `BinaryClassificationEvaluator` on precomputed embeddings.
///
/// **Thresholds.** Pairs are sorted by score, most similar first; a threshold is tried after
/// each group of equal scores, and a strictly better value replaces the best so far (so the
/// first, most similar, threshold wins ties). A threshold between two groups is their
/// midpoint, or the group's own score when the midpoint rounds onto the next group; after the
/// last group it is the last score. Accuracy starts from "every pair dissimilar" (the
/// fraction of 0 labels) with the threshold one `f64` step beyond the most similar score.
/// sentence-transformers computes scores and thresholds in `f32`, so its thresholds differ
/// from these by `f32` rounding (about `1e-7` relative).
#[derive(Debug, Clone)]
pub struct BinaryClassificationEvaluator {
    labels: Vec<bool>,
    config: BinaryClassificationConfig,
}

impl BinaryClassificationEvaluator {
    /// An evaluator for pairs with gold `labels` (1: similar, 0: dissimilar).
    ///
    /// Errors on no labels, a label other than 0 or 1 (naming its row), or an invalid
    /// `similarity_fn_names` (empty or with repeats).
    pub fn new(labels: &[i64], config: BinaryClassificationConfig) -> Result<Self> {
        check_functions("similarity_fn_names", &config.similarity_fn_names)?;
        if labels.is_empty() {
            return Err(Error::EmptyInput { input: "labels" });
        }
        let labels = labels
            .iter()
            .enumerate()
            .map(|(row, &label)| match label {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(Error::InvalidLabel { row, label }),
            })
            .collect::<Result<_>>()?;
        Ok(Self { labels, config })
    }

    /// The metrics of zero scores: their keys and primary metric are those of every
    /// evaluation.
    fn zero_metrics(&self) -> BinaryClassificationMetrics {
        let zero = |function| BinaryClassificationScores {
            function,
            accuracy: 0.0,
            accuracy_threshold: 0.0,
            f1: 0.0,
            f1_threshold: 0.0,
            precision: 0.0,
            recall: 0.0,
            ap: 0.0,
            mcc: 0.0,
        };
        BinaryClassificationMetrics {
            scores: self
                .config
                .similarity_fn_names
                .iter()
                .map(|&f| zero(f))
                .collect(),
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

    /// The primary metric of every evaluation (`max_ap` or `{function}_ap`).
    pub fn primary_metric(&self) -> String {
        self.zero_metrics().primary_metric().to_string()
    }

    /// Scores pair `i` (`embeddings1[i]`, `embeddings2[i]`) under each function and finds the
    /// metrics.
    ///
    /// # Shapes
    /// embeddings1, embeddings2: `[labels.len(), dim]`
    ///
    /// Errors on other row counts, differing dims, or NaN/infinite values (naming the input
    /// and row).
    pub fn evaluate(
        &self,
        embeddings1: Embeddings<'_>,
        embeddings2: Embeddings<'_>,
    ) -> Result<BinaryClassificationMetrics> {
        if embeddings1.rows() != self.labels.len() {
            return Err(Error::InputRows {
                input: "embeddings1",
                rows: embeddings1.rows(),
                reference: "labels",
                expected: self.labels.len(),
            });
        }
        check_aligned(&[("embeddings1", embeddings1), ("embeddings2", embeddings2)])?;
        let scores = self
            .config
            .similarity_fn_names
            .iter()
            .map(|&function| {
                let similarities = function.paired(embeddings1, embeddings2)?;
                Ok(self.function_scores(function, &similarities))
            })
            .collect::<Result<_>>()?;
        Ok(BinaryClassificationMetrics { scores })
    }

    /// The metrics of one function from its pair similarities (larger: more similar).
    fn function_scores(
        &self,
        function: SimilarityFunction,
        similarities: &[f64],
    ) -> BinaryClassificationScores {
        let direction = Direction::of(function);
        // cosine and dot are thresholded as similarities, the others as positive distances
        let scores: Vec<f64> = similarities
            .iter()
            .map(|&s| direction.score_of(s) + 0.0)
            .collect();
        let rows = direction.sorted_rows(&scores, &self.labels);
        let (accuracy, accuracy_threshold) = best_accuracy(&rows, direction);
        let f1 = best_f1(&rows);
        let predicted: Vec<bool> = scores
            .iter()
            .map(|&s| direction.is_similar(s, f1.threshold))
            .collect();
        BinaryClassificationScores {
            function,
            accuracy,
            accuracy_threshold,
            f1: f1.f1,
            f1_threshold: f1.threshold,
            precision: f1.precision,
            recall: f1.recall,
            ap: average_precision(&self.labels, similarities),
            mcc: matthews_corrcoef(&self.labels, &predicted),
        }
    }
}

/// The type thresholds are computed in: sentence-transformers takes midpoints and `nextafter`
/// in the dtype of the scores it thresholds (`f64` here for similarities, `f32` for a
/// cross-encoder's scores, whose thresholds then match bit for bit).
pub(crate) trait ThresholdScore: Copy + PartialEq {
    /// `(self + next) / 2`, rounded to this type.
    fn midpoint(self, next: Self) -> Self;
    /// numpy's `nextafter(self, +inf)` (`up`) or `nextafter(self, -inf)`, in this type.
    fn step(self, up: bool) -> Self;
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering;
    fn to_f64(self) -> f64;
}

/// Implements [`ThresholdScore`] for a float type with IEEE arithmetic in that type.
macro_rules! threshold_score {
    ($float:ty) => {
        impl ThresholdScore for $float {
            fn midpoint(self, next: Self) -> Self {
                (self + next) / 2.0
            }

            /// Finite `self` only (an infinity is returned as is).
            fn step(self, up: bool) -> Self {
                if !self.is_finite() {
                    return self;
                }
                if self == 0.0 {
                    let tiny = <$float>::from_bits(1);
                    return if up { tiny } else { -tiny };
                }
                let bits = self.to_bits();
                let away_from_zero = (self > 0.0) == up;
                <$float>::from_bits(if away_from_zero { bits + 1 } else { bits - 1 })
            }

            fn total_cmp(&self, other: &Self) -> std::cmp::Ordering {
                <$float>::total_cmp(self, other)
            }

            fn to_f64(self) -> f64 {
                f64::from(self)
            }
        }
    };
}

threshold_score!(f64);
threshold_score!(f32);

/// Whether a larger score means more similar (similarities) or less (distances).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Direction {
    GreaterIsSimilar,
    SmallerIsSimilar,
}

impl Direction {
    fn of(function: SimilarityFunction) -> Self {
        match function {
            SimilarityFunction::Cosine | SimilarityFunction::Dot => Self::GreaterIsSimilar,
            SimilarityFunction::Euclidean | SimilarityFunction::Manhattan => Self::SmallerIsSimilar,
        }
    }

    /// The thresholded score of a similarity: itself, or the positive distance.
    fn score_of(self, similarity: f64) -> f64 {
        match self {
            Self::GreaterIsSimilar => similarity,
            Self::SmallerIsSimilar => -similarity,
        }
    }

    fn is_similar(self, score: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterIsSimilar => score >= threshold,
            Self::SmallerIsSimilar => score <= threshold,
        }
    }

    /// `(score, label)` pairs, most similar first.
    pub(crate) fn sorted_rows<S: ThresholdScore>(
        self,
        scores: &[S],
        labels: &[bool],
    ) -> Vec<(S, bool)> {
        let mut rows: Vec<(S, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
        match self {
            Self::GreaterIsSimilar => rows.sort_by(|a, b| b.0.total_cmp(&a.0)),
            Self::SmallerIsSimilar => rows.sort_by(|a, b| a.0.total_cmp(&b.0)),
        }
        rows
    }

    /// The next value (in the score's type) beyond `score` on the dissimilar side's opposite:
    /// a threshold that predicts every pair dissimilar.
    fn beyond_most_similar<S: ThresholdScore>(self, score: S) -> S {
        score.step(self == Self::GreaterIsSimilar)
    }
}

/// The threshold after the group of equal scores ending at `i` (`rows` sorted most similar
/// first): the midpoint to the next group, or the score itself when the midpoint rounds onto
/// the next group or there is none.
fn threshold_after<S: ThresholdScore>(rows: &[(S, bool)], i: usize) -> S {
    let score = rows[i].0;
    match rows.get(i + 1) {
        Some(&(next, _)) => {
            let mid = score.midpoint(next);
            if mid == next {
                score
            } else {
                mid
            }
        }
        None => score,
    }
}

/// Whether the group of equal scores containing `rows[i]` ends at `i`.
fn ends_group<S: ThresholdScore>(rows: &[(S, bool)], i: usize) -> bool {
    rows.get(i + 1).is_none_or(|next| next.0 != rows[i].0)
}

/// sentence-transformers' `find_best_acc_and_threshold`: `(accuracy, threshold)`.
pub(crate) fn best_accuracy<S: ThresholdScore>(
    rows: &[(S, bool)],
    direction: Direction,
) -> (f64, f64) {
    let n = rows.len() as f64;
    let mut remaining_negatives = rows.iter().filter(|r| !r.1).count();
    let mut positives_so_far = 0usize;
    let mut best = (
        remaining_negatives as f64 / n,
        rows.first()
            .map_or(-1.0, |r| direction.beyond_most_similar(r.0).to_f64()),
    );
    for (i, &(_, label)) in rows.iter().enumerate() {
        if label {
            positives_so_far += 1;
        } else {
            remaining_negatives -= 1;
        }
        if !ends_group(rows, i) {
            continue;
        }
        let accuracy = (positives_so_far + remaining_negatives) as f64 / n;
        if accuracy > best.0 {
            best = (accuracy, threshold_after(rows, i).to_f64());
        }
    }
    best
}

/// The best F1 and where it is reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BestF1 {
    pub(crate) f1: f64,
    pub(crate) precision: f64,
    pub(crate) recall: f64,
    pub(crate) threshold: f64,
}

/// sentence-transformers' `find_best_f1_and_threshold`.
pub(crate) fn best_f1<S: ThresholdScore>(rows: &[(S, bool)]) -> BestF1 {
    let total_positives = rows.iter().filter(|r| r.1).count();
    let mut best = BestF1 {
        f1: 0.0,
        precision: 0.0,
        recall: 0.0,
        threshold: 0.0,
    };
    let mut correct = 0usize;
    for (i, &(_, label)) in rows.iter().enumerate() {
        correct += usize::from(label);
        if !ends_group(rows, i) || correct == 0 {
            continue;
        }
        let precision = correct as f64 / (i + 1) as f64;
        let recall = correct as f64 / total_positives as f64;
        let f1 = 2.0 * precision * recall / (precision + recall);
        if f1 > best.f1 {
            best = BestF1 {
                f1,
                precision,
                recall,
                threshold: threshold_after(rows, i).to_f64(),
            };
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(data: &[f32], dim: usize) -> Embeddings<'_> {
        Embeddings::new(data, data.len() / dim, dim).unwrap()
    }

    /// numpy's `nextafter(x, +inf)` (`up`) or `nextafter(x, -inf)`.
    fn next_after(x: f64, up: bool) -> f64 {
        x.step(up)
    }

    fn rows(pairs: &[(f64, u8)]) -> Vec<(f64, bool)> {
        pairs.iter().map(|&(s, l)| (s, l == 1)).collect()
    }

    #[test]
    fn accuracy_threshold_is_a_midpoint_between_groups() {
        // sorted most similar first: 0.9 (1), 0.8 (1), 0.5 (0), 0.2 (1)
        let r = rows(&[(0.9, 1), (0.8, 1), (0.5, 0), (0.2, 1)]);
        let (acc, threshold) = best_accuracy(&r, Direction::GreaterIsSimilar);
        assert_eq!(acc, 0.75);
        assert_eq!(threshold, (0.8 + 0.5) / 2.0);
        // all negatives: nothing beats "all dissimilar", one step above the top score
        let r = rows(&[(0.9, 0), (0.1, 0)]);
        assert_eq!(
            best_accuracy(&r, Direction::GreaterIsSimilar),
            (1.0, next_after(0.9, true))
        );
        let r = rows(&[(0.5, 0), (0.5, 1)]);
        assert_eq!(best_accuracy(&r, Direction::GreaterIsSimilar).0, 0.5);
    }

    #[test]
    fn f1_counts_tied_scores_together() {
        let r = rows(&[(0.9, 1), (0.7, 0), (0.7, 1), (0.1, 0)]);
        let best = best_f1(&r);
        // after 0.9: p = 1, r = 1/2, f1 = 2/3; after the 0.7 group: p = 2/3, r = 1, f1 = 0.8
        assert!((best.f1 - 0.8).abs() < 1e-15, "{best:?}");
        assert_eq!(best.threshold, (0.7 + 0.1) / 2.0);
        assert_eq!(best_f1(&rows(&[(0.5, 0)])).f1, 0.0);
    }

    #[test]
    fn next_after_steps_one_ulp() {
        assert!(next_after(1.0, true) > 1.0);
        assert_eq!(next_after(1.0, true), 1.0 + f64::EPSILON);
        assert!(next_after(-2.0, false) < -2.0);
        assert!(next_after(0.5, false) < 0.5);
        assert!(next_after(0.0, false) < 0.0);
        assert_eq!(1.0f32.step(true), 1.0 + f32::EPSILON);
        assert_eq!((-1.0f32).step(true), -1.0 + f32::EPSILON / 2.0);
    }

    #[test]
    fn keys_and_primary_metric() {
        let e1 = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let e2 = [1.0, 0.1, 1.0, 0.0, 0.5, 1.0];
        let one = BinaryClassificationEvaluator::new(&[1, 0, 1], Default::default())
            .unwrap()
            .evaluate(emb(&e1, 2), emb(&e2, 2))
            .unwrap();
        assert_eq!(one.primary_metric(), "cosine_ap");
        let values = one.metric_values();
        let names: Vec<&str> = values.names().collect();
        assert_eq!(
            names,
            [
                "cosine_accuracy",
                "cosine_accuracy_threshold",
                "cosine_f1",
                "cosine_f1_threshold",
                "cosine_precision",
                "cosine_recall",
                "cosine_ap",
                "cosine_mcc"
            ]
        );
        let config = BinaryClassificationConfig {
            similarity_fn_names: SimilarityFunction::ALL.to_vec(),
        };
        let all = BinaryClassificationEvaluator::new(&[1, 0, 1], config)
            .unwrap()
            .evaluate(emb(&e1, 2), emb(&e2, 2))
            .unwrap();
        assert_eq!(all.primary_metric(), "max_ap");
        let values = all.metric_values();
        assert_eq!(values.len(), 5 * 8);
        let max_ap = all.scores.iter().map(|s| s.ap).fold(f64::MIN, f64::max);
        assert_eq!(values.get("max_ap"), Some(max_ap));
        assert_eq!(
            values.get("cosine_mcc"),
            one.metric_values().get("cosine_mcc")
        );
    }

    #[test]
    fn distances_are_thresholded_from_below() {
        // distances 0 (label 1), 1 (label 1), 3 (label 0): similar when distance <= 2
        let e1 = [0.0, 0.0, 0.0];
        let e2 = [0.0, 1.0, 3.0];
        let config = BinaryClassificationConfig {
            similarity_fn_names: vec![SimilarityFunction::Manhattan],
        };
        let m = BinaryClassificationEvaluator::new(&[1, 1, 0], config)
            .unwrap()
            .evaluate(emb(&e1, 1), emb(&e2, 1))
            .unwrap();
        let s = m.scores[0];
        assert_eq!((s.accuracy, s.accuracy_threshold), (1.0, 2.0));
        assert_eq!((s.f1, s.f1_threshold, s.ap, s.mcc), (1.0, 2.0, 1.0, 1.0));
    }

    #[test]
    fn bad_inputs_are_errors_naming_them() {
        let err = BinaryClassificationEvaluator::new(&[0, 1, 2], Default::default())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "labels has 2 at row 2, expected 0 or 1");
        let err = BinaryClassificationEvaluator::new(&[], Default::default())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "labels is empty");
        let config = BinaryClassificationConfig {
            similarity_fn_names: vec![],
        };
        assert!(BinaryClassificationEvaluator::new(&[0], config).is_err());

        let evaluator = BinaryClassificationEvaluator::new(&[0, 1], Default::default()).unwrap();
        let err = evaluator
            .evaluate(emb(&[0.0; 6], 2), emb(&[0.0; 4], 2))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "embeddings1 has 3 rows but labels has 2");
        let err = evaluator
            .evaluate(emb(&[0.0; 4], 2), emb(&[0.0; 6], 3))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "embeddings2 has dim 3 but embeddings1 has dim 2");
        let err = evaluator
            .evaluate(emb(&[0.0, 1.0, f32::NAN, 0.0], 2), emb(&[0.0; 4], 2))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "embeddings1 has a non-finite value NaN at row 1");
    }
}
