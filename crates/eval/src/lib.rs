//! Evaluation of sentence embeddings on plain `f32` buffers (no tensor dependency).
//!
//! [`evaluate_sts`] is sentence-transformers' `EmbeddingSimilarityEvaluator`: Pearson and
//! Spearman correlations of cosine, euclidean, manhattan and dot similarities with gold scores.

mod correlation;
mod embeddings;
mod error;
mod rank;
mod similarity;
mod sts;

pub use correlation::{pearson, spearman};
pub use embeddings::Embeddings;
pub use error::{Error, Result};
pub use rank::average_ranks;
pub use similarity::SimilarityFunction;
pub use sts::{evaluate_sts, normalize_sts_scores, Correlations, StsMetrics};
