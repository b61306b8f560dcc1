use serde::{Deserialize, Serialize};
use tch::nn;

use crate::error::{Error, Result};
use crate::loss::Loss;

/// A loss and its hyperparameters, as a tagged TOML/JSON table (`type = "..."`); every field
/// defaults to the sentence-transformers default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossConfig {
    /// A linear classifier on `[u; v; |u−v|]` (SoftmaxLoss), trained with cross-entropy.
    Softmax {
        #[serde(default = "defaults::num_labels")]
        num_labels: usize,
        #[serde(default = "defaults::yes")]
        concatenation_sent_rep: bool,
        #[serde(default = "defaults::yes")]
        concatenation_sent_difference: bool,
        #[serde(default)]
        concatenation_sent_multiplication: bool,
    },
    /// MSE between cos(u, v) and the score (CosineSimilarityLoss).
    CosineSimilarity,
    CoSent {
        #[serde(default = "defaults::scale")]
        scale: f64,
    },
    #[serde(rename = "angle")]
    AnglE {
        #[serde(default = "defaults::scale")]
        scale: f64,
    },
    /// In-batch negatives over scaled cosine; columns after the second are hard negatives.
    /// `symmetric` adds the positive→anchor direction (MultipleNegativesSymmetricRankingLoss).
    MultipleNegativesRanking {
        #[serde(default = "defaults::scale")]
        scale: f64,
        #[serde(default)]
        symmetric: bool,
    },
    /// MNRL with GradCache: memory bounded by `mini_batch_size` rather than the batch size.
    CachedMultipleNegativesRanking {
        #[serde(default = "defaults::scale")]
        scale: f64,
        #[serde(default = "defaults::mini_batch_size")]
        mini_batch_size: usize,
    },
    Triplet {
        #[serde(default)]
        distance: TripletDistance,
        #[serde(default = "defaults::triplet_margin")]
        margin: f64,
    },
    Contrastive {
        #[serde(default)]
        distance: ContrastiveDistance,
        #[serde(default = "defaults::contrastive_margin")]
        margin: f64,
        #[serde(default = "defaults::yes")]
        size_average: bool,
    },
    OnlineContrastive {
        #[serde(default)]
        distance: ContrastiveDistance,
        #[serde(default = "defaults::contrastive_margin")]
        margin: f64,
    },
    /// Applies `loss` to the embeddings truncated to each of `dims` (weights default to 1).
    Matryoshka {
        loss: Box<LossConfig>,
        dims: Vec<i64>,
        #[serde(default)]
        weights: Option<Vec<f64>>,
    },
}

/// TripletLoss's distance (sentence-transformers `TripletDistanceMetric`; default euclidean).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripletDistance {
    #[default]
    Euclidean,
    Cosine,
    Manhattan,
}

/// The contrastive losses' distance (`SiameseDistanceMetric`; default cosine distance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContrastiveDistance {
    #[default]
    CosineDistance,
    Euclidean,
    Manhattan,
}

mod defaults {
    pub fn num_labels() -> usize {
        3
    }
    pub fn yes() -> bool {
        true
    }
    pub fn scale() -> f64 {
        20.0
    }
    pub fn mini_batch_size() -> usize {
        32
    }
    pub fn triplet_margin() -> f64 {
        5.0
    }
    pub fn contrastive_margin() -> f64 {
        0.5
    }
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig::MultipleNegativesRanking {
            scale: defaults::scale(),
            symmetric: false,
        }
    }
}

impl LossConfig {
    /// Builds the loss for a model whose embeddings have `embedding_dim` values. Trainable loss
    /// parameters (SoftmaxLoss's classifier) are created under `p`, so the caller's var store
    /// owns, optimises and saves them.
    pub fn build(&self, p: &nn::Path, embedding_dim: i64) -> Result<Box<dyn Loss>> {
        let _ = (p, embedding_dim);
        Err(Error::Config(format!("{self:?} is not implemented yet")))
    }
}
