//! Semantic textual similarity evaluation, as sentence-transformers'
//! `EmbeddingSimilarityEvaluator` with all four similarity functions.

use serde::{Deserialize, Serialize};

use crate::correlation::{pearson_named, spearman_named};
use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::similarity::SimilarityFunction;

/// Pearson and Spearman correlations of each similarity function with the gold scores.
///
/// Serialises to exactly the keys sentence-transformers reports (without its `name` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StsMetrics {
    pub pearson_cosine: f64,
    pub spearman_cosine: f64,
    pub pearson_euclidean: f64,
    pub spearman_euclidean: f64,
    pub pearson_manhattan: f64,
    pub spearman_manhattan: f64,
    pub pearson_dot: f64,
    pub spearman_dot: f64,
}

/// A Pearson/Spearman pair for one similarity function.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Correlations {
    pub pearson: f64,
    pub spearman: f64,
}

impl StsMetrics {
    /// The correlations of one similarity function.
    pub fn get(&self, function: SimilarityFunction) -> Correlations {
        let (pearson, spearman) = match function {
            SimilarityFunction::Cosine => (self.pearson_cosine, self.spearman_cosine),
            SimilarityFunction::Euclidean => (self.pearson_euclidean, self.spearman_euclidean),
            SimilarityFunction::Manhattan => (self.pearson_manhattan, self.spearman_manhattan),
            SimilarityFunction::Dot => (self.pearson_dot, self.spearman_dot),
        };
        Correlations { pearson, spearman }
    }

    /// A table for people: one row per similarity function, Pearson and Spearman to 4 decimals.
    pub fn to_table(&self) -> String {
        self.to_string()
    }
}

impl crate::metrics::NamedMetrics for StsMetrics {
    fn metric_values(&self) -> crate::metrics::MetricValues {
        let mut values = crate::metrics::MetricValues::new();
        for function in SimilarityFunction::ALL {
            let c = self.get(function);
            values.push(format!("pearson_{}", function.name()), c.pearson);
            values.push(format!("spearman_{}", function.name()), c.spearman);
        }
        values
    }

    /// sentence-transformers' choice when the model's similarity function is cosine.
    fn primary_metric(&self) -> &str {
        "spearman_cosine"
    }
}

impl std::fmt::Display for StsMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{:<10} {:>8} {:>8}", "similarity", "pearson", "spearman")?;
        for function in SimilarityFunction::ALL {
            let c = self.get(function);
            writeln!(
                f,
                "{:<10} {:>8.4} {:>8.4}",
                function.name(),
                c.pearson,
                c.spearman
            )?;
        }
        Ok(())
    }
}

/// Evaluates paired embeddings against gold similarity scores, like sentence-transformers'
/// `EmbeddingSimilarityEvaluator(..., similarity_fn_names=["cosine", "euclidean", "manhattan",
/// "dot"])`: the similarity of each pair under each [`SimilarityFunction`] (in `f64`), then
/// Pearson and Spearman correlations (as `scipy.stats`) against `scores`.
///
/// Scores are used as given; see [`normalize_sts_scores`] for STS-B's `score / 5`.
///
/// # Shapes
/// embeddings1, embeddings2: `[n, dim]`; scores: `[n]`; `n >= 2`
///
/// Errors on mismatched `n` or `dim`, on NaN or infinite values (naming the input and row),
/// and when a correlation is undefined, e.g. constant scores or similarities (naming the metric).
pub fn evaluate_sts(
    embeddings1: Embeddings<'_>,
    embeddings2: Embeddings<'_>,
    scores: &[f64],
) -> Result<StsMetrics> {
    validate_sts_inputs(embeddings1, embeddings2, scores)?;
    let n = scores.len();
    let mut out = [Correlations {
        pearson: 0.0,
        spearman: 0.0,
    }; 4];
    let functions = SimilarityFunction::ALL.into_iter().zip(METRIC_KEYS);
    for ((function, (pearson_key, spearman_key)), slot) in functions.zip(&mut out) {
        let similarities = function.paired(embeddings1, embeddings2)?;
        let input = similarity_input_name(function);
        let wrap = |metric| {
            move |source| Error::Metric {
                metric,
                source: Box::new(source),
            }
        };
        *slot = Correlations {
            pearson: pearson_named(&similarities, input, scores, "scores")
                .map_err(wrap(pearson_key))?,
            spearman: spearman_named(&similarities, input, scores, "scores")
                .map_err(wrap(spearman_key))?,
        };
    }
    let [cosine, euclidean, manhattan, dot] = out;
    let metrics = StsMetrics {
        pearson_cosine: cosine.pearson,
        spearman_cosine: cosine.spearman,
        pearson_euclidean: euclidean.pearson,
        spearman_euclidean: euclidean.spearman,
        pearson_manhattan: manhattan.pearson,
        spearman_manhattan: manhattan.spearman,
        pearson_dot: dot.pearson,
        spearman_dot: dot.spearman,
    };
    tracing::debug!(
        n,
        dim = embeddings1.dim(),
        spearman_cosine = metrics.spearman_cosine,
        "sts evaluation"
    );
    Ok(metrics)
}

/// The input checks of [`evaluate_sts`]: `n` pairs and `n` scores, `n >= 2`, equal dims and
/// finite values (errors naming the input and row).
pub(crate) fn validate_sts_inputs(
    embeddings1: Embeddings<'_>,
    embeddings2: Embeddings<'_>,
    scores: &[f64],
) -> Result<()> {
    let n = scores.len();
    if embeddings1.rows() != n || embeddings2.rows() != n {
        return Err(Error::PairCount {
            embeddings1: embeddings1.rows(),
            embeddings2: embeddings2.rows(),
            scores: n,
        });
    }
    if n < 2 {
        return Err(Error::TooFewPairs { n });
    }
    if embeddings1.dim() != embeddings2.dim() {
        return Err(Error::DimMismatch {
            embeddings1: embeddings1.dim(),
            embeddings2: embeddings2.dim(),
        });
    }
    if let Some(row) = scores.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            input: "scores",
            row,
            value: scores[row],
        });
    }
    embeddings1.check_finite("embeddings1")?;
    embeddings2.check_finite("embeddings2")?;
    Ok(())
}

/// Gold scores divided by `max` (STS-B: `max = 5.0`, as sentence-transformers' examples do).
///
/// Errors when `max` is not positive and finite, or on a NaN or infinite score (naming its row).
pub fn normalize_sts_scores(raw: &[f32], max: f64) -> Result<Vec<f64>> {
    if !(max.is_finite() && max > 0.0) {
        return Err(Error::InvalidMaxScore { max });
    }
    raw.iter()
        .enumerate()
        .map(|(row, &score)| {
            let score = f64::from(score);
            if score.is_finite() {
                Ok(score / max)
            } else {
                Err(Error::NonFinite {
                    input: "raw scores",
                    row,
                    value: score,
                })
            }
        })
        .collect()
}

/// Metric keys `(pearson, spearman)` of each function, in [`SimilarityFunction::ALL`] order.
const METRIC_KEYS: [(&str, &str); 4] = [
    ("pearson_cosine", "spearman_cosine"),
    ("pearson_euclidean", "spearman_euclidean"),
    ("pearson_manhattan", "spearman_manhattan"),
    ("pearson_dot", "spearman_dot"),
];

fn similarity_input_name(function: SimilarityFunction) -> &'static str {
    match function {
        SimilarityFunction::Cosine => "cosine similarities",
        SimilarityFunction::Euclidean => "euclidean similarities",
        SimilarityFunction::Manhattan => "manhattan similarities",
        SimilarityFunction::Dot => "dot similarities",
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    const A: [f32; 6] = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
    const B: [f32; 6] = [1.0, 0.1, 1.0, 0.0, 0.5, 1.0];

    fn emb(data: &[f32], rows: usize) -> Embeddings<'_> {
        Embeddings::new(data, rows, data.len() / rows).unwrap()
    }

    #[test]
    fn json_has_exactly_the_eight_keys() {
        let m = evaluate_sts(emb(&A, 3), emb(&B, 3), &[1.0, 0.0, 0.5]).unwrap();
        let json = serde_json::to_value(m).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        let mut expected: Vec<_> = METRIC_KEYS.iter().flat_map(|(p, s)| [*p, *s]).collect();
        expected.sort();
        assert_eq!(keys, expected);
        let back: StsMetrics = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn table_has_a_row_per_function_with_four_decimals() {
        let m = StsMetrics {
            pearson_cosine: 0.81234,
            spearman_cosine: 0.8,
            pearson_euclidean: -0.5,
            spearman_euclidean: 0.0,
            pearson_manhattan: 1.0,
            spearman_manhattan: 0.25,
            pearson_dot: 0.123456,
            spearman_dot: -1.0,
        };
        let expected = "\
similarity  pearson spearman
cosine       0.8123   0.8000
euclidean   -0.5000   0.0000
manhattan    1.0000   0.2500
dot          0.1235  -1.0000
";
        assert_eq!(m.to_table(), expected);
    }

    #[test]
    fn length_mismatch_names_all_three_lengths() {
        let err = evaluate_sts(emb(&A, 3), emb(&B[..4], 2), &[1.0, 0.0, 0.5])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("embeddings1 has 3 rows, embeddings2 has 2 rows, scores has 3 values"),
            "{err}"
        );
    }

    #[test]
    fn dim_mismatch_names_both_dims() {
        let err = evaluate_sts(emb(&A, 3), emb(&B, 2), &[1.0, 0.0]).unwrap_err();
        assert!(matches!(err, Error::PairCount { .. }), "{err}");
        let err = evaluate_sts(emb(&A, 2), emb(&B, 3), &[1.0, 0.0]).unwrap_err();
        assert!(matches!(err, Error::PairCount { .. }), "{err}");
        let err = evaluate_sts(emb(&A, 3), emb(&B[..3], 3), &[1.0, 0.0, 0.5])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("embeddings1 has dim 2, embeddings2 has dim 1"),
            "{err}"
        );
    }

    #[test]
    fn one_pair_is_too_few() {
        let err = evaluate_sts(emb(&A[..2], 1), emb(&B[..2], 1), &[1.0])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "sts evaluation needs at least 2 pairs, got 1");
    }

    #[test]
    fn non_finite_names_input_and_row() {
        let err = evaluate_sts(emb(&A, 3), emb(&B, 3), &[1.0, f64::NAN, 0.5])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scores has a non-finite value NaN at row 1"),
            "{err}"
        );
        let mut b = B;
        b[5] = f32::NAN;
        let err = evaluate_sts(emb(&A, 3), emb(&b, 3), &[1.0, 0.0, 0.5])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("embeddings2 has a non-finite value NaN at row 2"),
            "{err}"
        );
    }

    #[test]
    fn constant_scores_name_the_metric_and_input() {
        let err = evaluate_sts(emb(&A, 3), emb(&B, 3), &[0.5; 3]).unwrap_err();
        assert_eq!(err.to_string(), "cannot compute pearson_cosine");
        let source = err.source().unwrap().to_string();
        assert!(
            source.starts_with("pearson is undefined for constant input"),
            "{source}"
        );
        assert!(source.contains("scores has zero variance"), "{source}");
    }

    #[test]
    fn constant_similarities_name_the_metric() {
        // Every pair is identical, so every cosine similarity is 1.
        let a = [1.0, 0.0, 2.0, 0.0, 3.0, 0.0];
        let err = evaluate_sts(emb(&a, 3), emb(&a, 3), &[1.0, 0.0, 0.5]).unwrap_err();
        assert_eq!(err.to_string(), "cannot compute pearson_cosine");
        let source = err.source().unwrap().to_string();
        assert!(
            source.contains("cosine similarities has zero variance"),
            "{source}"
        );
    }

    #[test]
    fn normalize_divides_by_max() {
        assert_eq!(
            normalize_sts_scores(&[5.0, 2.5, 0.0], 5.0).unwrap(),
            [1.0, 0.5, 0.0]
        );
        let err = normalize_sts_scores(&[1.0], 0.0).unwrap_err().to_string();
        assert_eq!(err, "max score must be positive and finite, got 0");
        let err = normalize_sts_scores(&[1.0, f32::INFINITY], 5.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("raw scores has a non-finite value inf at row 1"),
            "{err}"
        );
    }
}
