//! Turns a configured cross-encoder loss (`config::RerankLossConfig`) into a [`RerankLoss`].

use config::{RerankActivation, RerankLossConfig};

use super::{
    Activation, BinaryCrossEntropyConfig, BinaryCrossEntropyLoss,
    CachedMultipleNegativesRankingConfig, CachedMultipleNegativesRankingLoss, CrossEntropyConfig,
    CrossEntropyLoss, MarginMseConfig, MarginMseLoss, MseConfig, MseLoss,
    MultipleNegativesRankingConfig, MultipleNegativesRankingLoss, RerankLoss,
};
use crate::error::{Error, Result};

/// Building a cross-encoder loss from its config (the config crate stays tch-free).
pub trait BuildRerankLoss {
    /// The loss for a cross-encoder with `num_labels` scores per pair: every loss but
    /// CrossEntropyLoss needs exactly one, CrossEntropyLoss at least two.
    fn build_rerank(&self, num_labels: i64) -> Result<Box<dyn RerankLoss>>;
}

fn activation(a: RerankActivation) -> Activation {
    match a {
        RerankActivation::Identity => Activation::Identity,
        RerankActivation::Sigmoid => Activation::Sigmoid,
        RerankActivation::Tanh => Activation::Tanh,
    }
}

impl BuildRerankLoss for RerankLossConfig {
    fn build_rerank(&self, num_labels: i64) -> Result<Box<dyn RerankLoss>> {
        let loss: Box<dyn RerankLoss> = match *self {
            RerankLossConfig::BinaryCrossEntropy {
                activation_fn,
                pos_weight,
            } => Box::new(BinaryCrossEntropyLoss::new(BinaryCrossEntropyConfig {
                activation: activation(activation_fn),
                pos_weight,
            })?),
            RerankLossConfig::CrossEntropy {
                activation_fn,
                label_smoothing,
            } => Box::new(CrossEntropyLoss::new(CrossEntropyConfig {
                activation: activation(activation_fn),
                label_smoothing,
            })?),
            RerankLossConfig::Mse { activation_fn } => Box::new(MseLoss::new(MseConfig {
                activation: activation(activation_fn),
            })),
            RerankLossConfig::MarginMse { activation_fn } => {
                Box::new(MarginMseLoss::new(MarginMseConfig {
                    activation: activation(activation_fn),
                }))
            }
            RerankLossConfig::MultipleNegativesRanking {
                num_negatives,
                scale,
                activation_fn,
            } => Box::new(MultipleNegativesRankingLoss::new(
                MultipleNegativesRankingConfig {
                    num_negatives: Some(num_negatives),
                    scale,
                    activation: activation(activation_fn),
                },
            )?),
            RerankLossConfig::CachedMultipleNegativesRanking {
                num_negatives,
                scale,
                activation_fn,
                mini_batch_size,
            } => Box::new(CachedMultipleNegativesRankingLoss::new(
                CachedMultipleNegativesRankingConfig {
                    num_negatives: Some(num_negatives),
                    scale,
                    activation: activation(activation_fn),
                    mini_batch_size,
                },
            )?),
        };
        let is_cross_entropy = matches!(self, RerankLossConfig::CrossEntropy { .. });
        if is_cross_entropy && num_labels < 2 {
            return Err(Error::Config(format!(
                "{}: the model scores {num_labels} label(s) per pair; a class per pair needs at \
                 least 2 (model.cross_encoder.num_labels)",
                loss.name()
            )));
        }
        if !is_cross_entropy && num_labels != 1 {
            return Err(Error::Config(format!(
                "{}: the model scores {num_labels} labels per pair; this loss takes one score \
                 per pair (model.cross_encoder.num_labels = 1)",
                loss.name()
            )));
        }
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_count_must_fit_the_loss() {
        let ce = RerankLossConfig::CrossEntropy {
            activation_fn: RerankActivation::Identity,
            label_smoothing: 0.0,
        };
        assert_eq!(ce.build_rerank(3).unwrap().name(), "CrossEntropyLoss");
        let err = ce.build_rerank(1).unwrap_err().to_string();
        assert!(err.contains("num_labels"), "{err}");
        let bce = RerankLossConfig::BinaryCrossEntropy {
            activation_fn: RerankActivation::Identity,
            pos_weight: None,
        };
        assert!(bce.build_rerank(1).is_ok());
        let err = bce.build_rerank(3).unwrap_err().to_string();
        assert!(err.contains("one score per pair"), "{err}");
        let bad = RerankLossConfig::MultipleNegativesRanking {
            num_negatives: 0,
            scale: 10.0,
            activation_fn: RerankActivation::Sigmoid,
        };
        assert!(bad.build_rerank(1).is_err());
    }
}
