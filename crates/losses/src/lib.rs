//! The sentence-transformers loss family on libtorch.
//!
//! Every loss implements [`Loss`]: it receives the batch's embeddings, one `[batch, dim]`
//! tensor per text column (anchor, positive, negatives…), plus class labels or scores, so the
//! trainer treats them all alike. Configs are the tagged [`LossConfig`] enum with the
//! sentence-transformers defaults (serde data in the tch-free `config` crate), built with
//! [`BuildLoss`]. Values and gradients match sentence-transformers 6.2 (see `tests/parity.rs`),
//! and 6.3 for MNRL's hardness weighting and GISTEmbedLoss (`tests/gist_hardness_parity.rs`)
//! and MarginMSELoss (`tests/margin_mse_parity.rs`).

mod angle;
mod batch_all_triplet;
mod batch_distance;
mod batch_hard_soft_margin_triplet;
mod batch_hard_triplet;
mod batch_semi_hard_triplet;
mod build;
mod cached_mnrl;
mod check;
mod contrastive;
mod contrastive_tension;
mod cosent;
mod cosine_similarity;
pub mod cross_encoder;
mod denoising_auto_encoder;
mod embed_distill;
mod error;
pub mod gather;
mod gist_embed;
mod loss;
mod margin_mse;
mod matryoshka;
mod mnrl;
mod online_contrastive;
mod similarity;
mod softmax;
mod triplet;

/// libtorch's generator is global to the process: unit tests that seed it or draw from it
/// hold this lock, or a test's seeded draws interleave with another's.
#[cfg(test)]
pub(crate) fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub use angle::AnglELoss;
pub use batch_all_triplet::BatchAllTripletLoss;
pub use batch_hard_soft_margin_triplet::BatchHardSoftMarginTripletLoss;
pub use batch_hard_triplet::BatchHardTripletLoss;
pub use batch_semi_hard_triplet::BatchSemiHardTripletLoss;
pub use build::BuildLoss;
pub use cached_mnrl::CachedMultipleNegativesRankingLoss;
// The configs moved to the tch-free config crate; re-exported so `losses::LossConfig` still works.
pub use config::{
    BatchTripletDistance, ContrastiveDistance, DistillDistance, HardnessMode, LossConfig,
    MarginStrategy, PairwiseSimilarity, TripletDistance,
};
pub use contrastive::ContrastiveLoss;
pub use contrastive_tension::{ContrastiveTensionLoss, ContrastiveTensionLossInBatchNegatives};
pub use cosent::CoSentLoss;
pub use cosine_similarity::CosineSimilarityLoss;
pub use denoising_auto_encoder::DenoisingAutoEncoderLoss;
pub use embed_distill::EmbedDistillLoss;
pub use error::{Error, Result};
pub use gist_embed::{GistEmbedLoss, GistSettings};
pub use loss::{Loss, TargetKind, Targets};
pub use margin_mse::MarginMseLoss;
pub use matryoshka::MatryoshkaLoss;
pub use mnrl::{Hardness, MultipleNegativesRankingLoss};
pub use online_contrastive::OnlineContrastiveLoss;
pub use softmax::{Concatenation, PairClassifier, SoftmaxLoss};
pub use triplet::TripletLoss;
