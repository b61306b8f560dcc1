//! Paired similarity functions, as sentence-transformers' `SimilarityFunction`.

use serde::{Deserialize, Serialize};

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};

/// `torch.nn.functional.normalize`'s default `eps`: norms below it are clamped to it.
const NORMALIZE_EPS: f64 = 1e-12;

/// How two embeddings are compared; larger always means more similar.
///
/// Mirrors sentence-transformers' `pairwise_cos_sim`, `pairwise_euclidean_sim`,
/// `pairwise_manhattan_sim` and `pairwise_dot_score`, computed in `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimilarityFunction {
    /// Cosine similarity; a zero vector has similarity 0 to everything.
    Cosine,
    /// Negative euclidean (L2) distance.
    Euclidean,
    /// Negative manhattan (L1) distance.
    Manhattan,
    /// Dot product.
    Dot,
}

impl SimilarityFunction {
    /// All four functions, in the order sentence-transformers reports them.
    pub const ALL: [Self; 4] = [Self::Cosine, Self::Euclidean, Self::Manhattan, Self::Dot];

    /// The name used in metric keys (`spearman_cosine`, …), as in sentence-transformers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::Euclidean => "euclidean",
            Self::Manhattan => "manhattan",
            Self::Dot => "dot",
        }
    }

    /// Similarity of row `i` of `a` with row `i` of `b`, for every `i`.
    ///
    /// # Shapes
    /// a, b: `[n, dim]` → `[n]`
    pub fn paired(self, a: Embeddings<'_>, b: Embeddings<'_>) -> Result<Vec<f64>> {
        if a.rows() != b.rows() {
            return Err(Error::RowMismatch {
                embeddings1: a.rows(),
                embeddings2: b.rows(),
            });
        }
        if a.dim() != b.dim() {
            return Err(Error::DimMismatch {
                embeddings1: a.dim(),
                embeddings2: b.dim(),
            });
        }
        Ok(a.iter_rows()
            .zip(b.iter_rows())
            .map(|(u, v)| self.pair(u, v))
            .collect())
    }

    /// The rows of the flat `[rows, dim]` buffer `data` in `f64`, unit-normalised for cosine
    /// (norms clamped to `1e-12` as `torch.nn.functional.normalize`), ready for
    /// [`Self::score_prepared`].
    ///
    /// # Shapes
    /// data: `[rows * dim]` → `[rows * dim]`
    pub(crate) fn prepare(self, data: &[f32], dim: usize) -> Vec<f64> {
        let mut out: Vec<f64> = data.iter().map(|&v| f64::from(v)).collect();
        if self == Self::Cosine && dim > 0 {
            for row in out.chunks_exact_mut(dim) {
                let norm = row
                    .iter()
                    .map(|v| v.powi(2))
                    .sum::<f64>()
                    .sqrt()
                    .max(NORMALIZE_EPS);
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        out
    }

    /// Similarity of two rows made by [`Self::prepare`]: bit for bit the similarity of the
    /// original rows, except that `-0.0` becomes `0.0` (so that ties compare equal in every
    /// ordering).
    pub(crate) fn score_prepared(self, u: &[f64], v: &[f64]) -> f64 {
        let pairs = || u.iter().zip(v);
        let score = match self {
            Self::Cosine | Self::Dot => pairs().map(|(a, b)| a * b).sum::<f64>(),
            Self::Euclidean => -pairs().map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt(),
            Self::Manhattan => -pairs().map(|(a, b)| (a - b).abs()).sum::<f64>(),
        };
        score + 0.0
    }

    /// Similarity of two equally long vectors, accumulated in `f64`.
    fn pair(self, u: &[f32], v: &[f32]) -> f64 {
        let pairs = || u.iter().zip(v).map(|(&a, &b)| (f64::from(a), f64::from(b)));
        match self {
            Self::Cosine => {
                let norm = |w: &[f32]| {
                    w.iter()
                        .map(|&a| f64::from(a).powi(2))
                        .sum::<f64>()
                        .sqrt()
                        .max(NORMALIZE_EPS)
                };
                let (nu, nv) = (norm(u), norm(v));
                pairs().map(|(a, b)| (a / nu) * (b / nv)).sum()
            }
            Self::Euclidean => -pairs().map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt(),
            Self::Manhattan => -pairs().map(|(a, b)| (a - b).abs()).sum::<f64>(),
            Self::Dot => pairs().map(|(a, b)| a * b).sum(),
        }
    }
}

impl std::fmt::Display for SimilarityFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paired(f: SimilarityFunction, a: &[f32], b: &[f32]) -> Vec<f64> {
        let dim = 2;
        let a = Embeddings::new(a, a.len() / dim, dim).unwrap();
        let b = Embeddings::new(b, b.len() / dim, dim).unwrap();
        f.paired(a, b).unwrap()
    }

    #[test]
    fn known_values() {
        let a = [3.0, 4.0, 0.0, 0.0];
        let b = [4.0, 3.0, 1.0, 0.0];
        let cos = paired(SimilarityFunction::Cosine, &a, &b);
        assert!((cos[0] - 0.96).abs() < 1e-15, "{cos:?}");
        assert_eq!(cos[1], 0.0, "a zero vector has cosine 0");
        assert_eq!(
            paired(SimilarityFunction::Euclidean, &a, &b),
            [-(2.0f64).sqrt(), -1.0]
        );
        assert_eq!(paired(SimilarityFunction::Manhattan, &a, &b), [-2.0, -1.0]);
        assert_eq!(paired(SimilarityFunction::Dot, &a, &b), [24.0, 0.0]);
    }

    #[test]
    fn mismatches_name_both_sides() {
        let a = Embeddings::new(&[0.0; 4], 2, 2).unwrap();
        let b = Embeddings::new(&[0.0; 6], 2, 3).unwrap();
        let c = Embeddings::new(&[0.0; 6], 3, 2).unwrap();
        let err = SimilarityFunction::Dot
            .paired(a, b)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("embeddings1 has dim 2, embeddings2 has dim 3"),
            "{err}"
        );
        let err = SimilarityFunction::Dot
            .paired(a, c)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("embeddings1 has 2 rows, embeddings2 has 3 rows"),
            "{err}"
        );
    }

    #[test]
    fn prepared_scores_equal_paired_scores() {
        let a = [3.0, -4.0, 0.0, 0.0, 0.1, 2.5];
        let b = [4.0, 3.0, 1.0, 0.0, -7.0, 0.25];
        for f in SimilarityFunction::ALL {
            let (pa, pb) = (f.prepare(&a, 2), f.prepare(&b, 2));
            let prepared: Vec<f64> = pa
                .chunks_exact(2)
                .zip(pb.chunks_exact(2))
                .map(|(u, v)| f.score_prepared(u, v))
                .collect();
            let expected: Vec<f64> = paired(f, &a, &b).iter().map(|s| s + 0.0).collect();
            assert_eq!(prepared, expected, "{f}");
        }
    }

    #[test]
    fn serde_names_match_metric_keys() {
        for f in SimilarityFunction::ALL {
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.name())
            );
        }
    }
}
