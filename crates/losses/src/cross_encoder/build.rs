//! Turns a configured cross-encoder loss (`config::RerankLossConfig`) into a [`RerankLoss`].

use config::{
    LambdaWeightingScheme, PListMleWeighting, RerankActivation, RerankLossConfig,
    RerankReductionLog,
};

use super::{
    Activation, BinaryCrossEntropyConfig, BinaryCrossEntropyLoss,
    CachedMultipleNegativesRankingConfig, CachedMultipleNegativesRankingLoss, CrossEntropyConfig,
    CrossEntropyLoss, LambdaLoss, LambdaLossConfig, LambdaWeighting, ListMleConfig, ListMleLoss,
    ListNetConfig, ListNetLoss, MarginMseConfig, MarginMseLoss, MseConfig, MseLoss,
    MultipleNegativesRankingConfig, MultipleNegativesRankingLoss, PListMleConfig,
    PListMleLambdaWeight, PListMleLoss, RankNetConfig, RankNetLoss, ReductionLog, RerankLoss,
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

fn weighting(scheme: LambdaWeightingScheme) -> LambdaWeighting {
    match scheme {
        LambdaWeightingScheme::NoWeighting => LambdaWeighting::NoWeighting,
        LambdaWeightingScheme::NdcgLoss1 => LambdaWeighting::NdcgLoss1,
        LambdaWeightingScheme::NdcgLoss2 => LambdaWeighting::NdcgLoss2,
        LambdaWeightingScheme::LambdaRank => LambdaWeighting::LambdaRank,
        LambdaWeightingScheme::NdcgLoss2Pp { mu } => LambdaWeighting::NdcgLoss2PlusPlus { mu },
    }
}

fn reduction_log(log: RerankReductionLog) -> ReductionLog {
    match log {
        RerankReductionLog::Natural => ReductionLog::Natural,
        RerankReductionLog::Binary => ReductionLog::Binary,
    }
}

/// A configured pair count per forward pass (at least 1; the config refuses 0) as 6.3's
/// `mini_batch_size`.
fn pairs_per_pass(mini_batch_size: Option<usize>) -> Option<i64> {
    mini_batch_size.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
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
            RerankLossConfig::ListNet {
                activation_fn,
                mini_batch_size,
            } => Box::new(ListNetLoss::new(ListNetConfig {
                activation: activation(activation_fn),
                mini_batch_size: pairs_per_pass(mini_batch_size),
            })),
            RerankLossConfig::ListMle {
                activation_fn,
                mini_batch_size,
                respect_input_order,
            } => Box::new(ListMleLoss::new(ListMleConfig {
                activation: activation(activation_fn),
                mini_batch_size: pairs_per_pass(mini_batch_size),
                respect_input_order,
            })),
            RerankLossConfig::PListMle {
                lambda_weight,
                activation_fn,
                mini_batch_size,
                respect_input_order,
            } => Box::new(PListMleLoss::new(PListMleConfig {
                lambda_weight: match lambda_weight {
                    PListMleWeighting::Exponential => Some(PListMleLambdaWeight::Exponential),
                    PListMleWeighting::None => None,
                },
                activation: activation(activation_fn),
                mini_batch_size: pairs_per_pass(mini_batch_size),
                respect_input_order,
            })),
            RerankLossConfig::Lambda {
                weighting_scheme,
                k,
                sigma,
                eps,
                reduction_log: log,
                activation_fn,
                mini_batch_size,
            } => Box::new(LambdaLoss::new(LambdaLossConfig {
                weighting_scheme: weighting(weighting_scheme),
                k,
                sigma,
                eps,
                reduction_log: reduction_log(log),
                activation: activation(activation_fn),
                mini_batch_size: pairs_per_pass(mini_batch_size),
            })?),
            RerankLossConfig::RankNet {
                k,
                sigma,
                eps,
                reduction_log: log,
                activation_fn,
                mini_batch_size,
            } => Box::new(RankNetLoss::new(RankNetConfig {
                k,
                sigma,
                eps,
                reduction_log: reduction_log(log),
                activation: activation(activation_fn),
                mini_batch_size: pairs_per_pass(mini_batch_size),
            })?),
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

    #[test]
    fn listwise_configs_build_their_losses() {
        use super::super::RerankLayout;
        let lambda = RerankLossConfig::Lambda {
            weighting_scheme: LambdaWeightingScheme::default(),
            k: None,
            sigma: 1.0,
            eps: 1e-10,
            reduction_log: RerankReductionLog::Binary,
            activation_fn: RerankActivation::Identity,
            mini_batch_size: Some(5),
        };
        let rank_net = RerankLossConfig::RankNet {
            k: Some(3),
            sigma: 1.0,
            eps: 1e-10,
            reduction_log: RerankReductionLog::Natural,
            activation_fn: RerankActivation::Identity,
            mini_batch_size: None,
        };
        let cases = [
            (
                RerankLossConfig::ListNet {
                    activation_fn: RerankActivation::Identity,
                    mini_batch_size: None,
                },
                "ListNetLoss",
            ),
            (
                RerankLossConfig::ListMle {
                    activation_fn: RerankActivation::Sigmoid,
                    mini_batch_size: None,
                    respect_input_order: false,
                },
                "ListMLELoss",
            ),
            (
                RerankLossConfig::PListMle {
                    lambda_weight: PListMleWeighting::Exponential,
                    activation_fn: RerankActivation::Identity,
                    mini_batch_size: None,
                    respect_input_order: true,
                },
                "PListMLELoss",
            ),
            (lambda.clone(), "LambdaLoss"),
            (rank_net, "RankNetLoss"),
        ];
        for (config, name) in cases {
            let loss = config.build_rerank(1).unwrap();
            assert_eq!(loss.name(), name);
            assert_eq!(loss.layout(), RerankLayout::Lists);
            assert!(config.build_rerank(2).is_err(), "{name}");
        }
        // mini_batch_size pairs per pass; unset: one row count of pairs.
        let loss = lambda.build_rerank(1).unwrap();
        assert_eq!(loss.forward_chunks(3, 12), [0..5, 5..10, 10..12]);
        let err = RerankLossConfig::Lambda {
            weighting_scheme: LambdaWeightingScheme::default(),
            k: None,
            sigma: f64::NAN,
            eps: 1e-10,
            reduction_log: RerankReductionLog::Binary,
            activation_fn: RerankActivation::Identity,
            mini_batch_size: None,
        }
        .build_rerank(1)
        .unwrap_err()
        .to_string();
        assert!(err.contains("sigma"), "{err}");
    }
}
