//! The cross-encoder (reranker) losses a config can name, with sentence-transformers 6.3's
//! defaults. Their `type` names carry the `cross_encoder.` prefix of sentence-transformers'
//! `cross_encoder.losses` module: several share a class name with a bi-encoder loss
//! (`MultipleNegativesRankingLoss`, `MSELoss`, `MarginMSELoss`) but not its arguments or
//! defaults. `losses` builds them on libtorch.

use serde::{Deserialize, Serialize};

/// The `type` prefix of every cross-encoder loss.
pub const RERANK_LOSS_PREFIX: &str = "cross_encoder.";

/// A cross-encoder loss and its hyperparameters (`type = "cross_encoder.…"`); every field
/// defaults to sentence-transformers 6.3's constructor default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum RerankLossConfig {
    /// `BinaryCrossEntropyLoss` on (text, text, score in [0, 1]) rows.
    #[serde(rename = "cross_encoder.binary_cross_entropy")]
    BinaryCrossEntropy {
        #[serde(default)]
        activation_fn: RerankActivation,
        /// The weight of positive examples; unset weighs them as negatives.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pos_weight: Option<f64>,
    },
    /// `CrossEntropyLoss` on (text, text, class) rows; the model's `num_labels` classes.
    #[serde(rename = "cross_encoder.cross_entropy")]
    CrossEntropy {
        #[serde(default)]
        activation_fn: RerankActivation,
        /// In [0, 1]; 0 is plain cross-entropy.
        #[serde(default)]
        label_smoothing: f64,
    },
    /// `MSELoss` between the (activated) logit and a score per row (distillation from a
    /// teacher's scores).
    #[serde(rename = "cross_encoder.mse")]
    Mse {
        #[serde(default)]
        activation_fn: RerankActivation,
    },
    /// `MarginMSELoss` on (query, positive, negative) rows whose score is the teacher's
    /// margin score(query, positive) − score(query, negative).
    #[serde(rename = "cross_encoder.margin_mse")]
    MarginMse {
        #[serde(default)]
        activation_fn: RerankActivation,
    },
    /// `MultipleNegativesRankingLoss` on (query, positive, hard negatives…) rows: each query
    /// against its positive, `num_negatives` documents drawn from the other rows, and its own
    /// hard negatives.
    #[serde(rename = "cross_encoder.multiple_negatives_ranking")]
    MultipleNegativesRanking {
        #[serde(default = "defaults::num_negatives")]
        num_negatives: usize,
        #[serde(default = "defaults::scale")]
        scale: f64,
        #[serde(default = "defaults::sigmoid")]
        activation_fn: RerankActivation,
    },
    /// `CachedMultipleNegativesRankingLoss`: the same loss with GradCache, `mini_batch_size`
    /// pairs per forward pass.
    #[serde(rename = "cross_encoder.cached_multiple_negatives_ranking")]
    CachedMultipleNegativesRanking {
        #[serde(default = "defaults::num_negatives")]
        num_negatives: usize,
        #[serde(default = "defaults::scale")]
        scale: f64,
        #[serde(default = "defaults::sigmoid")]
        activation_fn: RerankActivation,
        #[serde(default = "defaults::mini_batch_size")]
        mini_batch_size: usize,
    },
}

impl RerankLossConfig {
    /// Every `type` name, for messages.
    pub const TYPES: [&'static str; 6] = [
        "cross_encoder.binary_cross_entropy",
        "cross_encoder.cross_entropy",
        "cross_encoder.mse",
        "cross_encoder.margin_mse",
        "cross_encoder.multiple_negatives_ranking",
        "cross_encoder.cached_multiple_negatives_ranking",
    ];
}

/// A cross-encoder loss's `activation_fn`, applied to the logits before the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RerankActivation {
    /// `nn.Identity()`, the default of every loss but the MNRL ones.
    #[default]
    Identity,
    /// `nn.Sigmoid()`, the MNRL losses' default.
    Sigmoid,
    Tanh,
}

mod defaults {
    use super::RerankActivation;

    pub fn num_negatives() -> usize {
        4
    }
    pub fn scale() -> f64 {
        10.0
    }
    pub fn sigmoid() -> RerankActivation {
        RerankActivation::Sigmoid
    }
    pub fn mini_batch_size() -> usize {
        32
    }
}
