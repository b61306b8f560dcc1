//! sentence-transformers 6.3's cross-encoder (reranker) losses as computations over the model's
//! logits.
//!
//! A cross-encoder scores a (query, document) pair jointly, so these losses never see
//! embeddings: the caller scores the pairs a loss asks for and hands over the logits, and the loss
//! returns the scalar whose gradients flow back through them. Each loss is one type built from a
//! plain config struct whose `Default` is 6.3's constructor defaults, and all of them implement
//! [`RerankLoss`]. Values and gradients match 6.3 within 1e-5 (`tests/cross_encoder_parity.rs`).
//!
//! How the logits are laid out is the loss's [`RerankLayout`]:
//!
//! | loss | layout | logits | labels |
//! |---|---|---|---|
//! | [`BinaryCrossEntropyLoss`], [`MseLoss`] | pairs | `[batch]` or `[batch, 1]` | one score per row |
//! | [`CrossEntropyLoss`] | pairs | `[batch, num_labels]` | a class per row, or `[batch, num_labels]` probabilities |
//! | [`MarginMseLoss`] | columns | `[batch, 1 + n]`: positive, then n negatives | teacher margins |
//! | [`ListNetLoss`], [`ListMleLoss`], [`PListMleLoss`], [`LambdaLoss`], [`RankNetLoss`] | lists | `[batch, max_docs]` + documents per row | `[batch, max_docs]` |
//! | [`MultipleNegativesRankingLoss`], [`CachedMultipleNegativesRankingLoss`] | in-batch negatives | `[batch, 1 + sampled + hard]` | none |

mod activation;
mod binary_cross_entropy;
mod build;
mod cross_entropy;
mod input;
mod lambda_loss;
mod list_net;
mod margin_mse;
mod mnrl;
mod mse;
mod plist_mle;

use std::ops::Range;

use tch::Tensor;

use crate::error::Result;

pub use activation::Activation;
pub use binary_cross_entropy::{BinaryCrossEntropyConfig, BinaryCrossEntropyLoss};
pub use build::BuildRerankLoss;
pub use cross_entropy::{CrossEntropyConfig, CrossEntropyLoss};
pub use lambda_loss::{
    LambdaLoss, LambdaLossConfig, LambdaWeighting, RankNetConfig, RankNetLoss, ReductionLog,
};
pub use list_net::{ListNetConfig, ListNetLoss};
pub(crate) use margin_mse::teacher_margins;
pub use margin_mse::{MarginMseConfig, MarginMseLoss};
pub use mnrl::{
    CachedMultipleNegativesRankingConfig, CachedMultipleNegativesRankingLoss,
    MultipleNegativesRankingConfig, MultipleNegativesRankingLoss,
};
pub use mse::{MseConfig, MseLoss};
pub use plist_mle::{
    ListMleConfig, ListMleLoss, PListMleConfig, PListMleLambdaWeight, PListMleLoss, RankDiscountFn,
};

/// How a loss wants its batch scored: which (query, document) pairs, and how their logits are
/// arranged in [`RerankScores::logits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RerankLayout {
    /// One (query, document) pair per row, its logits `[batch]` or `[batch, 1]`
    /// (`[batch, num_labels]` for [`CrossEntropyLoss`]).
    Pairs,
    /// (query, positive, negative_1, …, negative_n) rows: column `c` of the `[batch, 1 + n]`
    /// logits scores the row's query against its `c`-th document.
    Columns,
    /// (query, [documents]) rows with a varying number of documents: `[batch, max_docs]` logits
    /// and labels, left-aligned, with [`RerankScores::docs_per_row`] saying how many are real.
    Lists,
    /// (query, positive, hard negatives…) rows, scored against the candidates
    /// [`RerankLoss::candidates`] picks: the positive, in-batch negatives drawn from the other
    /// rows, then the row's hard negatives.
    InBatchNegatives,
}

/// The logits of one batch (on any device; gradients flow back through them).
#[derive(Debug, Clone, Copy)]
pub struct RerankScores<'a> {
    /// Laid out as the loss's [`RerankLayout`] says.
    pub logits: &'a Tensor,
    /// For [`RerankLayout::Lists`]: the number of real documents of each row, which sit in the
    /// first columns of `logits` (whatever the other columns hold is ignored). `None`: every row
    /// has `logits.size()[1]` documents. Other layouts refuse it.
    pub docs_per_row: Option<&'a [usize]>,
}

impl<'a> RerankScores<'a> {
    /// Logits where every column is real.
    pub fn new(logits: &'a Tensor) -> Self {
        RerankScores {
            logits,
            docs_per_row: None,
        }
    }

    /// Padded lists: row `i` has `docs_per_row[i]` documents.
    pub fn lists(logits: &'a Tensor, docs_per_row: &'a [usize]) -> Self {
        RerankScores {
            logits,
            docs_per_row: Some(docs_per_row),
        }
    }
}

/// A training objective over a cross-encoder's logits.
pub trait RerankLoss: std::fmt::Debug {
    /// The sentence-transformers class name, for logs and the model card.
    fn name(&self) -> &'static str;

    /// Which pairs to score and how to lay out their logits.
    fn layout(&self) -> RerankLayout;

    /// The scalar loss. `labels` as the layout's table in the module docs says (`None` for the
    /// MNRL losses, which ignore labels as 6.3 does).
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor>;

    /// For [`RerankLayout::InBatchNegatives`]: `[batch, 1 + sampled + hard]` int64 indices (on
    /// the CPU) into the batch's candidates flattened column by column (candidate
    /// `column * batch + row`, column 0 the positives), in the order the loss wants the logits.
    /// `None` for the other layouts, whose pairs are fixed by the data.
    fn candidates(&self, _batch: usize, _candidate_columns: usize) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// How 6.3 splits the batch's `num_pairs` (query, document) pairs into model forward passes,
    /// in the order of the layout (row-major for lists, column by column otherwise). The split
    /// changes memory use and the order dropout draws its masks, never the loss. One pass of
    /// every pair unless the loss says otherwise.
    fn forward_chunks(&self, _batch: usize, num_pairs: usize) -> Vec<Range<usize>> {
        chunks(num_pairs, num_pairs)
    }

    /// Whether a training step should run it with GradCache: score every chunk of
    /// [`RerankLoss::forward_chunks`] without a graph, take the loss and its gradient with
    /// respect to the logits, then score each chunk again with a graph and back-propagate its
    /// slice of that gradient. The value and gradients are those of one pass with a graph.
    fn caches_gradients(&self) -> bool {
        false
    }
}

/// `0..total` in consecutive ranges of `size` (the last may be shorter); none when `total` is 0.
pub(crate) fn chunks(total: usize, size: usize) -> Vec<Range<usize>> {
    let size = size.max(1);
    (0..total)
        .step_by(size)
        .map(|begin| begin..(begin + size).min(total))
        .collect()
}

/// How 6.3's listwise losses split a batch's pairs into forward passes: `mini_batch_size`
/// pairs at a time; `None` (or 0, which Python reads as unset) means the number of *rows*
/// (`self.mini_batch_size or batch_size`), and a negative size every pair at once.
pub(crate) fn list_chunks(
    mini_batch_size: Option<i64>,
    batch: usize,
    num_pairs: usize,
) -> Vec<Range<usize>> {
    let size = mini_batch_size.filter(|&n| n != 0).unwrap_or(batch as i64);
    let size = usize::try_from(size)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(num_pairs);
    chunks(num_pairs, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_chunks_follow_six_three() {
        // 3 rows, 8 pairs: by default 3 pairs per pass.
        assert_eq!(list_chunks(None, 3, 8), [0..3, 3..6, 6..8]);
        assert_eq!(list_chunks(Some(0), 3, 8), [0..3, 3..6, 6..8]);
        assert_eq!(list_chunks(Some(5), 3, 8), [0..5, 5..8]);
        assert_eq!(list_chunks(Some(-1), 3, 8), vec![0..8]);
        assert_eq!(chunks(0, 4), Vec::<Range<usize>>::new());
    }
}
