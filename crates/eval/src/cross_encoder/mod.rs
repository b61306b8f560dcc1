//! Cross-encoder (reranker) evaluation, as sentence-transformers 6.3's cross-encoder
//! evaluators, without a model.
//!
//! A sentence-transformers cross-encoder evaluator calls `model.predict(pairs)` once and then
//! computes its metrics from the scores. Each evaluator here is split the same way:
//! `pairs()` lists the (text, text) pairs to score, in the order the Python evaluator builds
//! them, and `evaluate(scores)` takes one score per pair (`num_labels` per pair for
//! classification) and reports the metrics under sentence-transformers' key names
//! ([`NamedMetrics`](crate::NamedMetrics)):
//! - [`CrossEncoderRerankingEvaluator`]: MAP, MRR@k and NDCG@k of reranked candidate lists,
//!   and of the given order when the samples carry ranked `documents`;
//! - [`CrossEncoderClassificationEvaluator`]: best-threshold accuracy and F1, precision,
//!   recall and average precision of one score per pair, or macro, micro and weighted F1 of
//!   the argmax over several;
//! - [`CrossEncoderCorrelationEvaluator`]: Pearson and Spearman correlations with gold scores.

mod classification;
mod correlation;
mod fusion;
mod reranking;

pub use classification::{
    CrossEncoderBinaryScores, CrossEncoderClassificationEvaluator,
    CrossEncoderClassificationMetrics, MulticlassF1,
};
pub use correlation::CrossEncoderCorrelationEvaluator;
pub use fusion::{check_first_stage_weight, fuse_first_stage};
pub use reranking::{
    Candidates, CrossEncoderRerankingConfig, CrossEncoderRerankingEvaluator,
    CrossEncoderRerankingMetrics, RankingScores, RerankingSample,
};

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};

/// `scores` as a `[pairs, per_pair]` matrix, after checking its length and that every score
/// is finite (errors name the pair's row).
fn checked_scores(scores: &[f32], pairs: usize, per_pair: usize) -> Result<Embeddings<'_>> {
    let expected = pairs as u128 * per_pair as u128;
    if scores.len() as u128 != expected {
        return Err(Error::ScoreCount {
            len: scores.len(),
            pairs,
            per_pair,
            expected,
        });
    }
    let matrix = Embeddings::new(scores, pairs, per_pair)?;
    matrix.check_finite("scores")?;
    Ok(matrix)
}

/// Borrowed `(first, second)` text pairs.
fn borrowed_pairs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}
