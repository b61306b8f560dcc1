//! Turns a configured loss (`config::LossConfig`, serde data only) into a loss on libtorch.

use config::{HardnessMode, LossConfig};
use model::SentenceTransformer;
use tch::nn;

use crate::angle::AnglELoss;
use crate::batch_all_triplet::BatchAllTripletLoss;
use crate::batch_hard_soft_margin_triplet::BatchHardSoftMarginTripletLoss;
use crate::batch_hard_triplet::BatchHardTripletLoss;
use crate::batch_semi_hard_triplet::BatchSemiHardTripletLoss;
use crate::cached_mnrl::CachedMultipleNegativesRankingLoss;
use crate::contrastive::ContrastiveLoss;
use crate::contrastive_tension::{ContrastiveTensionLoss, ContrastiveTensionLossInBatchNegatives};
use crate::cosent::CoSentLoss;
use crate::cosine_similarity::CosineSimilarityLoss;
use crate::denoising_auto_encoder::DenoisingAutoEncoderLoss;
use crate::embed_distill::EmbedDistillLoss;
use crate::error::{Error, Result};
use crate::gist_embed::{GistEmbedLoss, GistSettings};
use crate::loss::Loss;
use crate::margin_mse::MarginMseLoss;
use crate::matryoshka::MatryoshkaLoss;
use crate::mnrl::{Hardness, MultipleNegativesRankingLoss};
use crate::online_contrastive::OnlineContrastiveLoss;
use crate::softmax::{Concatenation, SoftmaxLoss};
use crate::triplet::TripletLoss;

/// Building a loss from its config. A trait rather than a function so `config.build(p, dim)`
/// reads as it did when `LossConfig` lived in this crate; the config crate stays tch-free.
pub trait BuildLoss {
    /// Builds the loss for a model whose embeddings have `embedding_dim` values. Trainable loss
    /// parameters (SoftmaxLoss's classifier) are created under `p`, so the caller's var store
    /// owns, optimises and saves them.
    fn build(&self, p: &nn::Path, embedding_dim: i64) -> Result<Box<dyn Loss>>;

    /// Builds the loss for training `model`: as [`build`](Self::build), and also the losses
    /// that need the model itself (TSDAE's decoder runs the model's own weights) or another
    /// model beside it (GIST's guide, loaded from the local folder `guide` names onto the
    /// model's device).
    fn build_for_model(&self, p: &nn::Path, model: &SentenceTransformer) -> Result<Box<dyn Loss>>;
}

impl BuildLoss for LossConfig {
    fn build_for_model(&self, p: &nn::Path, model: &SentenceTransformer) -> Result<Box<dyn Loss>> {
        match self {
            LossConfig::DenoisingAutoEncoder {
                tie_encoder_decoder,
                decoder,
            } => {
                Ok(Box::new(match (tie_encoder_decoder, decoder) {
                    (true, None) => DenoisingAutoEncoderLoss::tied(p, model)?,
                    (false, Some(dir)) => {
                        DenoisingAutoEncoderLoss::untied(p, model, std::path::Path::new(dir))?
                    }
                    // sentence-transformers warns and ignores the decoder; a config that names
                    // one surely meant to use it.
                    (true, Some(dir)) => {
                        return Err(Error::Config(format!(
                            "denoising_auto_encoder: decoder = {dir:?} is used only with \
                         tie_encoder_decoder = false (a tied decoder is the model itself)"
                        )))
                    }
                    (false, None) => return Err(Error::Config(
                        "denoising_auto_encoder: tie_encoder_decoder = false needs decoder, the \
                         hub id or folder of the decoder's checkpoint"
                            .into(),
                    )),
                }))
            }
            LossConfig::ContrastiveTension => Ok(Box::new(ContrastiveTensionLoss::new(p, model)?)),
            LossConfig::ContrastiveTensionInBatchNegatives { scale } => Ok(Box::new(
                ContrastiveTensionLossInBatchNegatives::new(p, model, *scale)?,
            )),
            LossConfig::GistEmbed {
                guide,
                temperature,
                margin_strategy,
                margin,
                contrast_anchors,
                contrast_positives,
            } => Ok(Box::new(GistEmbedLoss::load(
                model,
                std::path::Path::new(guide),
                GistSettings {
                    temperature: *temperature,
                    margin_strategy: *margin_strategy,
                    margin: *margin,
                    contrast_anchors: *contrast_anchors,
                    contrast_positives: *contrast_positives,
                },
            )?)),
            other => other.build(p, model.embedding_dimension()),
        }
    }

    fn build(&self, p: &nn::Path, embedding_dim: i64) -> Result<Box<dyn Loss>> {
        if embedding_dim < 1 {
            return Err(Error::Config(format!(
                "the embedding dimension must be positive, got {embedding_dim}"
            )));
        }
        let positive = |what: &str, scale: f64| {
            if scale > 0.0 && scale.is_finite() {
                Ok(scale)
            } else {
                Err(Error::Config(format!(
                    "{what}: scale must be a positive number, got {scale}"
                )))
            }
        };
        // sentence-transformers rejects a negative strength whether or not a mode is set (and
        // ignores the strength without one); NaN and infinity are rejected here too.
        let hardness = |what: &str, mode: Option<HardnessMode>, strength: f64| {
            if !(strength >= 0.0 && strength.is_finite()) {
                return Err(Error::Config(format!(
                    "{what}: hardness_strength must be a finite number ≥ 0, got {strength}"
                )));
            }
            if let Some(mode) = mode.filter(|_| strength == 0.0) {
                tracing::warn!(
                    loss = what,
                    ?mode,
                    "hardness_mode is set but hardness_strength is 0, so hardness weighting has \
                     no effect: set hardness_strength to a positive value to enable it"
                );
            }
            Ok(mode.map(|mode| Hardness { mode, strength }))
        };
        // A margin may be negative (sentence-transformers accepts it), but not NaN or infinite.
        let finite = |what: &str, margin: f64| {
            if margin.is_finite() {
                Ok(margin)
            } else {
                Err(Error::Config(format!(
                    "{what}: margin must be a finite number, got {margin}"
                )))
            }
        };
        Ok(match *self {
            LossConfig::Softmax {
                num_labels,
                concatenation_sent_rep,
                concatenation_sent_difference,
                concatenation_sent_multiplication,
            } => Box::new(SoftmaxLoss::new(
                p,
                embedding_dim,
                num_labels,
                Concatenation {
                    sent_rep: concatenation_sent_rep,
                    sent_difference: concatenation_sent_difference,
                    sent_multiplication: concatenation_sent_multiplication,
                },
            )?),
            LossConfig::CosineSimilarity => Box::new(CosineSimilarityLoss::new()),
            LossConfig::CoSent { scale } => Box::new(CoSentLoss::new(positive("cosent", scale)?)),
            LossConfig::AnglE { scale } => Box::new(AnglELoss::new(positive("angle", scale)?)),
            LossConfig::MultipleNegativesRanking {
                scale,
                symmetric,
                hardness_mode,
                hardness_strength,
                gather_across_devices,
            } => {
                let what = "multiple_negatives_ranking";
                Box::new(
                    MultipleNegativesRankingLoss::new(positive(what, scale)?, symmetric)
                        .with_hardness(hardness(what, hardness_mode, hardness_strength)?)
                        .gathering_across_devices(gather_across_devices),
                )
            }
            LossConfig::CachedMultipleNegativesRanking {
                scale,
                mini_batch_size,
                hardness_mode,
                hardness_strength,
                gather_across_devices,
            } => {
                let what = "cached_multiple_negatives_ranking";
                let loss = CachedMultipleNegativesRankingLoss::new(
                    positive(what, scale)?,
                    mini_batch_size,
                )?;
                Box::new(
                    loss.with_hardness(hardness(what, hardness_mode, hardness_strength)?)
                        .gathering_across_devices(gather_across_devices),
                )
            }
            LossConfig::Triplet { distance, margin } => {
                Box::new(TripletLoss::new(distance, margin))
            }
            LossConfig::BatchHardTriplet { distance, margin } => Box::new(
                BatchHardTripletLoss::new(distance, finite("batch_hard_triplet", margin)?),
            ),
            LossConfig::BatchSemiHardTriplet { distance, margin } => Box::new(
                BatchSemiHardTripletLoss::new(distance, finite("batch_semi_hard_triplet", margin)?),
            ),
            LossConfig::BatchAllTriplet { distance, margin } => Box::new(BatchAllTripletLoss::new(
                distance,
                finite("batch_all_triplet", margin)?,
            )),
            LossConfig::BatchHardSoftMarginTriplet { distance } => {
                Box::new(BatchHardSoftMarginTripletLoss::new(distance))
            }
            LossConfig::Contrastive {
                distance,
                margin,
                size_average,
            } => Box::new(ContrastiveLoss::new(distance, margin, size_average)),
            LossConfig::OnlineContrastive { distance, margin } => {
                Box::new(OnlineContrastiveLoss::new(distance, margin))
            }
            LossConfig::MarginMse { similarity_fct } => {
                Box::new(MarginMseLoss::new(similarity_fct))
            }
            LossConfig::Mse => Box::new(EmbedDistillLoss::mse()),
            LossConfig::EmbedDistill { distance_metric } => {
                Box::new(EmbedDistillLoss::new(distance_metric))
            }
            LossConfig::DenoisingAutoEncoder { .. }
            | LossConfig::ContrastiveTension
            | LossConfig::ContrastiveTensionInBatchNegatives { .. }
            | LossConfig::GistEmbed { .. } => {
                return Err(Error::Config(format!(
                    "{} is built from the model itself (a decoder on its weights, a copy of \
                     it, or a guide model beside it): build it with build_for_model",
                    self.type_name()
                )))
            }
            LossConfig::Matryoshka {
                ref loss,
                ref dims,
                ref weights,
            } => {
                match **loss {
                    // The reconstruction loss reads token ids, not embeddings to truncate.
                    LossConfig::DenoisingAutoEncoder { .. }
                    | LossConfig::ContrastiveTension
                    | LossConfig::ContrastiveTensionInBatchNegatives { .. }
                    | LossConfig::GistEmbed { .. } => {
                        return Err(Error::Config(format!(
                            "matryoshka cannot wrap {}: it runs the model (or a copy, or a \
                             guide) itself",
                            loss.type_name()
                        )))
                    }
                    // Its graph is cut at the embeddings, so the truncation could not be
                    // back-propagated through; sentence-transformers needs a special decorator.
                    LossConfig::CachedMultipleNegativesRanking { .. } => {
                        return Err(Error::Config(
                            "matryoshka cannot wrap cached_multiple_negatives_ranking: use \
                             multiple_negatives_ranking inside matryoshka"
                                .into(),
                        ))
                    }
                    LossConfig::Matryoshka { .. } => {
                        return Err(Error::Config("matryoshka cannot wrap matryoshka".into()))
                    }
                    // The classifier takes the full embedding; sentence-transformers would fail
                    // with a shape error at the first smaller dimension.
                    LossConfig::Softmax { .. } if dims.iter().any(|&d| d != embedding_dim) => {
                        return Err(Error::Config(format!(
                            "matryoshka cannot wrap softmax with dims {dims:?}: its classifier \
                             takes the full embedding dimension {embedding_dim}"
                        )))
                    }
                    _ => {}
                }
                let inner = loss.build(p, embedding_dim)?;
                Box::new(MatryoshkaLoss::new(
                    inner,
                    dims,
                    weights.as_deref(),
                    embedding_dim,
                )?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::BatchTripletDistance;

    #[test]
    fn build_rejects_what_sentence_transformers_rejects() {
        let _rng = crate::rng_lock();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let p = vs.root();
        let cached = LossConfig::CachedMultipleNegativesRanking {
            scale: 20.0,
            mini_batch_size: 8,
            hardness_mode: None,
            hardness_strength: 0.0,
            gather_across_devices: false,
        };
        let matryoshka =
            |loss: LossConfig, dims: Vec<i64>, weights: Option<Vec<f64>>| LossConfig::Matryoshka {
                loss: Box::new(loss),
                dims,
                weights,
            };
        let bad = [
            matryoshka(cached, vec![8], None),
            matryoshka(LossConfig::default(), vec![], None),
            matryoshka(LossConfig::default(), vec![32], None),
            matryoshka(LossConfig::default(), vec![8, 0], None),
            matryoshka(LossConfig::default(), vec![8, 4], Some(vec![1.0])),
            matryoshka(
                LossConfig::Softmax {
                    num_labels: 3,
                    concatenation_sent_rep: true,
                    concatenation_sent_difference: true,
                    concatenation_sent_multiplication: false,
                },
                vec![16, 8],
                None,
            ),
            LossConfig::Softmax {
                num_labels: 3,
                concatenation_sent_rep: false,
                concatenation_sent_difference: false,
                concatenation_sent_multiplication: false,
            },
            LossConfig::CoSent { scale: 0.0 },
            LossConfig::BatchHardTriplet {
                distance: BatchTripletDistance::Euclidean,
                margin: f64::NAN,
            },
            LossConfig::BatchAllTriplet {
                distance: BatchTripletDistance::CosineDistance,
                margin: f64::INFINITY,
            },
            LossConfig::CachedMultipleNegativesRanking {
                scale: 20.0,
                mini_batch_size: 0,
                hardness_mode: None,
                hardness_strength: 0.0,
                gather_across_devices: false,
            },
        ];
        for config in bad {
            assert!(
                matches!(config.build(&p, 16), Err(Error::Config(_))),
                "accepted {config:?}"
            );
        }
    }

    #[test]
    fn softmax_classifier_lives_under_the_given_path() {
        let _rng = crate::rng_lock();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let loss = LossConfig::Softmax {
            num_labels: 3,
            concatenation_sent_rep: true,
            concatenation_sent_difference: true,
            concatenation_sent_multiplication: false,
        }
        .build(&(vs.root() / "loss"), 16)
        .unwrap();
        assert_eq!(loss.name(), "SoftmaxLoss");
        let vars = vs.variables();
        assert_eq!(vars["loss.classifier.weight"].size(), vec![3, 48]);
        assert_eq!(vars["loss.classifier.bias"].size(), vec![3]);
    }
}
