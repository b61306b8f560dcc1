//! Correlation with gold scores, as sentence-transformers 6.3's
//! `CrossEncoderCorrelationEvaluator`: `scipy.stats.pearsonr` and `spearmanr` of the gold
//! scores and the model's scores.

use super::{borrowed_pairs, checked_scores};
use crate::correlation::{pearson_named, spearman_named};
use crate::error::{Error, Result};
use crate::metrics::{MetricValues, NamedMetrics};
use crate::sts::Correlations;

const GOLD: &str = "gold scores";

impl NamedMetrics for Correlations {
    /// `pearson`, `spearman`.
    fn metric_values(&self) -> MetricValues {
        [
            ("pearson".to_string(), self.pearson),
            ("spearman".to_string(), self.spearman),
        ]
        .into_iter()
        .collect()
    }

    /// `spearman`.
    fn primary_metric(&self) -> &str {
        "spearman"
    }
}

/// sentence-transformers 6.3's `CrossEncoderCorrelationEvaluator` on precomputed scores.
#[derive(Debug, Clone)]
pub struct CrossEncoderCorrelationEvaluator {
    pairs: Vec<(String, String)>,
    gold: Vec<f64>,
}

impl CrossEncoderCorrelationEvaluator {
    /// An evaluator of `pairs` with a gold score each.
    ///
    /// Errors on fewer than 2 pairs, a gold count other than the pairs', or a NaN or
    /// infinite gold score (naming its row).
    pub fn new(pairs: Vec<(String, String)>, gold: Vec<f64>) -> Result<Self> {
        if gold.len() != pairs.len() {
            return Err(Error::InputRows {
                input: GOLD,
                rows: gold.len(),
                reference: "pairs",
                expected: pairs.len(),
            });
        }
        if pairs.len() < 2 {
            return Err(Error::TooFew {
                statistic: "a correlation",
                n: pairs.len(),
            });
        }
        if let Some(row) = gold.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                input: GOLD,
                row,
                value: gold[row],
            });
        }
        Ok(Self { pairs, gold })
    }

    /// The pairs to score, in order.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        borrowed_pairs(&self.pairs)
    }

    /// `pearson`, `spearman`: the keys of every evaluation.
    pub fn metric_names(&self) -> Vec<String> {
        vec!["pearson".to_string(), "spearman".to_string()]
    }

    /// `spearman`.
    pub fn primary_metric(&self) -> String {
        "spearman".to_string()
    }

    /// Pearson and Spearman correlations of the gold scores with the model's scores of
    /// [`Self::pairs`] (in `f64`, as scipy computes them).
    ///
    /// # Shapes
    /// scores: `[pairs]`
    ///
    /// Errors on another length, a NaN or infinite score (naming its row), or constant
    /// scores (where scipy returns NaN).
    pub fn evaluate(&self, scores: &[f32]) -> Result<Correlations> {
        let scores = checked_scores(scores, self.pairs.len(), 1)?.as_slice();
        let scores: Vec<f64> = scores.iter().map(|&s| f64::from(s)).collect();
        let correlations = Correlations {
            pearson: pearson_named(&self.gold, GOLD, &scores, "scores")?,
            spearman: spearman_named(&self.gold, GOLD, &scores, "scores")?,
        };
        tracing::debug!(
            pairs = self.pairs.len(),
            spearman = correlations.spearman,
            "cross-encoder correlation evaluation"
        );
        Ok(correlations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("a{i}"), format!("b{i}"))).collect()
    }

    #[test]
    fn correlations_and_keys() {
        let e = CrossEncoderCorrelationEvaluator::new(pairs(4), vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let c = e.evaluate(&[0.1, 0.2, 0.3, 0.9]).unwrap();
        assert_eq!(c.spearman, 1.0);
        assert!(c.pearson > 0.8 && c.pearson < 1.0);
        assert_eq!(c.primary_metric(), e.primary_metric());
        let names: Vec<String> = c.metric_values().names().map(String::from).collect();
        assert_eq!(names, e.metric_names());
    }

    #[test]
    fn bad_inputs_are_errors_naming_them() {
        let err = CrossEncoderCorrelationEvaluator::new(pairs(3), vec![0.0, 1.0])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "gold scores has 2 rows but pairs has 3");
        let err = CrossEncoderCorrelationEvaluator::new(pairs(1), vec![0.0])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "a correlation needs at least 2 values, got 1");
        let err = CrossEncoderCorrelationEvaluator::new(pairs(2), vec![0.0, f64::NAN])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "gold scores has a non-finite value NaN at row 1");

        let e = CrossEncoderCorrelationEvaluator::new(pairs(3), vec![0.0, 1.0, 2.0]).unwrap();
        let err = e.evaluate(&[0.5, 0.5, 0.5]).unwrap_err().to_string();
        assert!(err.contains("scores has zero variance"), "{err}");
        let err = e.evaluate(&[0.5, 0.1]).unwrap_err().to_string();
        assert_eq!(
            err,
            "scores has 2 values but 3 pairs with 1 score(s) each need 3"
        );
    }
}
