use serde::{Deserialize, Serialize};
use tch::nn;

use crate::angle::AnglELoss;
use crate::batch_all_triplet::BatchAllTripletLoss;
use crate::batch_hard_soft_margin_triplet::BatchHardSoftMarginTripletLoss;
use crate::batch_hard_triplet::BatchHardTripletLoss;
use crate::batch_semi_hard_triplet::BatchSemiHardTripletLoss;
use crate::cached_mnrl::CachedMultipleNegativesRankingLoss;
use crate::contrastive::ContrastiveLoss;
use crate::cosent::CoSentLoss;
use crate::cosine_similarity::CosineSimilarityLoss;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::matryoshka::MatryoshkaLoss;
use crate::mnrl::MultipleNegativesRankingLoss;
use crate::online_contrastive::OnlineContrastiveLoss;
use crate::softmax::{Concatenation, SoftmaxLoss};
use crate::triplet::TripletLoss;

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
    #[serde(deserialize_with = "defaults::no_fields")]
    CosineSimilarity,
    /// CoSENT ranking of pair similarities by their gold scores (`type = "cosent"`).
    #[serde(rename = "cosent")]
    CoSent {
        #[serde(default = "defaults::scale")]
        scale: f64,
    },
    /// CoSENT on the AnglE similarity (`type = "angle"`).
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
    /// `relu(d(a, p) − d(a, n) + margin)` over (anchor, positive, negative) triplets.
    Triplet {
        #[serde(default)]
        distance: TripletDistance,
        #[serde(default = "defaults::triplet_margin")]
        margin: f64,
    },
    /// Single texts with class labels: for every anchor, its farthest same-label example against
    /// its closest other-label one, `relu(d(a, p) − d(a, n) + margin)` averaged over anchors.
    BatchHardTriplet {
        #[serde(default)]
        distance: BatchTripletDistance,
        #[serde(default = "defaults::triplet_margin")]
        margin: f64,
    },
    /// Single texts with class labels: each (anchor, positive) pair against its semi-hard
    /// negative (the closest one farther than the positive, else the farthest one).
    BatchSemiHardTriplet {
        #[serde(default)]
        distance: BatchTripletDistance,
        #[serde(default = "defaults::triplet_margin")]
        margin: f64,
    },
    /// Single texts with class labels: every valid (anchor, positive, negative) triplet of the
    /// batch, averaged over those with a positive loss.
    BatchAllTriplet {
        #[serde(default)]
        distance: BatchTripletDistance,
        #[serde(default = "defaults::triplet_margin")]
        margin: f64,
    },
    /// [`LossConfig::BatchHardTriplet`] with `softplus(d(a, p) − d(a, n))` instead of a margin.
    BatchHardSoftMarginTriplet {
        #[serde(default)]
        distance: BatchTripletDistance,
    },
    /// Contrastive loss on pairs labelled 1 (similar) or 0 (dissimilar).
    Contrastive {
        #[serde(default)]
        distance: ContrastiveDistance,
        #[serde(default = "defaults::contrastive_margin")]
        margin: f64,
        #[serde(default = "defaults::yes")]
        size_average: bool,
    },
    /// The contrastive loss on the batch's hard positive and hard negative pairs only.
    OnlineContrastive {
        #[serde(default)]
        distance: ContrastiveDistance,
        #[serde(default = "defaults::contrastive_margin")]
        margin: f64,
    },
    /// Applies `loss` to the embeddings truncated to each of `dims` and re-normalised, as
    /// sentence-transformers does (weights default to 1). Cannot wrap the cached MNRL.
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

/// The batch triplet losses' distance matrix (sentence-transformers
/// `BatchHardTripletLossDistanceFunction`; default euclidean, also accepted under its function
/// names `euclidean_distance` and the misspelt alias `eucledian_distance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchTripletDistance {
    #[default]
    #[serde(alias = "euclidean_distance", alias = "eucledian_distance")]
    Euclidean,
    /// `1 − cos(a, b)`
    CosineDistance,
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
    use serde::{Deserialize, Deserializer};

    /// serde ignores extra keys beside the tag of a unit variant, even with
    /// `deny_unknown_fields`; reading them as an empty struct rejects them.
    pub fn no_fields<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct NoFields {}
        NoFields::deserialize(deserializer).map(|NoFields {}| ())
    }

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
            LossConfig::MultipleNegativesRanking { scale, symmetric } => {
                Box::new(MultipleNegativesRankingLoss::new(
                    positive("multiple_negatives_ranking", scale)?,
                    symmetric,
                ))
            }
            LossConfig::CachedMultipleNegativesRanking {
                scale,
                mini_batch_size,
            } => Box::new(CachedMultipleNegativesRankingLoss::new(
                positive("cached_multiple_negatives_ranking", scale)?,
                mini_batch_size,
            )?),
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
            LossConfig::Matryoshka {
                ref loss,
                ref dims,
                ref weights,
            } => {
                match **loss {
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

    fn parse(text: &str) -> Result<LossConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn every_variant_parses_with_sentence_transformers_defaults() {
        let cases = [
            (
                r#"type = "softmax""#,
                LossConfig::Softmax {
                    num_labels: 3,
                    concatenation_sent_rep: true,
                    concatenation_sent_difference: true,
                    concatenation_sent_multiplication: false,
                },
            ),
            (
                r#"type = "cosine_similarity""#,
                LossConfig::CosineSimilarity,
            ),
            (r#"type = "cosent""#, LossConfig::CoSent { scale: 20.0 }),
            (r#"type = "angle""#, LossConfig::AnglE { scale: 20.0 }),
            (
                r#"type = "multiple_negatives_ranking""#,
                LossConfig::MultipleNegativesRanking {
                    scale: 20.0,
                    symmetric: false,
                },
            ),
            (
                r#"type = "cached_multiple_negatives_ranking""#,
                LossConfig::CachedMultipleNegativesRanking {
                    scale: 20.0,
                    mini_batch_size: 32,
                },
            ),
            (
                r#"type = "triplet""#,
                LossConfig::Triplet {
                    distance: TripletDistance::Euclidean,
                    margin: 5.0,
                },
            ),
            (
                r#"type = "batch_hard_triplet""#,
                LossConfig::BatchHardTriplet {
                    distance: BatchTripletDistance::Euclidean,
                    margin: 5.0,
                },
            ),
            (
                r#"type = "batch_semi_hard_triplet""#,
                LossConfig::BatchSemiHardTriplet {
                    distance: BatchTripletDistance::Euclidean,
                    margin: 5.0,
                },
            ),
            (
                r#"type = "batch_all_triplet""#,
                LossConfig::BatchAllTriplet {
                    distance: BatchTripletDistance::Euclidean,
                    margin: 5.0,
                },
            ),
            (
                r#"type = "batch_hard_soft_margin_triplet""#,
                LossConfig::BatchHardSoftMarginTriplet {
                    distance: BatchTripletDistance::Euclidean,
                },
            ),
            (
                r#"type = "contrastive""#,
                LossConfig::Contrastive {
                    distance: ContrastiveDistance::CosineDistance,
                    margin: 0.5,
                    size_average: true,
                },
            ),
            (
                r#"type = "online_contrastive""#,
                LossConfig::OnlineContrastive {
                    distance: ContrastiveDistance::CosineDistance,
                    margin: 0.5,
                },
            ),
            (
                "type = \"matryoshka\"\ndims = [32, 16]\n[loss]\ntype = \"cosent\"",
                LossConfig::Matryoshka {
                    loss: Box::new(LossConfig::CoSent { scale: 20.0 }),
                    dims: vec![32, 16],
                    weights: None,
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap(), expected, "{text}");
            // The trainer saves the resolved config next to its output.
            let saved = toml::to_string(&expected).unwrap();
            assert_eq!(parse(&saved).unwrap(), expected, "{saved}");
        }
        assert_eq!(
            LossConfig::default(),
            parse(r#"type = "multiple_negatives_ranking""#).unwrap()
        );
    }

    #[test]
    fn explicit_values_override_defaults() {
        let config = parse("type = \"triplet\"\ndistance = \"manhattan\"\nmargin = 1.5").unwrap();
        assert_eq!(
            config,
            LossConfig::Triplet {
                distance: TripletDistance::Manhattan,
                margin: 1.5
            }
        );
        for (name, expected) in [
            ("cosine_distance", BatchTripletDistance::CosineDistance),
            ("euclidean", BatchTripletDistance::Euclidean),
            // sentence-transformers' function name and its misspelt alias
            ("euclidean_distance", BatchTripletDistance::Euclidean),
            ("eucledian_distance", BatchTripletDistance::Euclidean),
        ] {
            let config = parse(&format!(
                "type = \"batch_all_triplet\"\ndistance = \"{name}\"\nmargin = 0.25"
            ))
            .unwrap();
            assert_eq!(
                config,
                LossConfig::BatchAllTriplet {
                    distance: expected,
                    margin: 0.25
                }
            );
        }
        let config =
            parse("type = \"multiple_negatives_ranking\"\nscale = 50.0\nsymmetric = true").unwrap();
        assert_eq!(
            config,
            LossConfig::MultipleNegativesRanking {
                scale: 50.0,
                symmetric: true
            }
        );
    }

    #[test]
    fn unknown_keys_and_types_are_rejected() {
        for text in [
            "type = \"multiple_negatives_ranking\"\nscael = 20.0",
            "type = \"cosine_similarity\"\nscale = 20.0",
            "type = \"softmax\"\nnum_label = 3",
            "type = \"matryoshka\"\ndims = [8]\n[loss]\ntype = \"cosent\"\nmargin = 1.0",
            "type = \"multiple_negative_ranking\"",
            "type = \"triplet\"\ndistance = \"chebyshev\"",
            // The batch losses have no manhattan distance; the soft margin has no margin.
            "type = \"batch_hard_triplet\"\ndistance = \"manhattan\"",
            "type = \"batch_hard_soft_margin_triplet\"\nmargin = 1.0",
            "type = \"batch_semi_hard_triplet\"\nmargni = 1.0",
        ] {
            assert!(parse(text).is_err(), "accepted: {text}");
        }
    }

    #[test]
    fn build_rejects_what_sentence_transformers_rejects() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let p = vs.root();
        let cached = LossConfig::CachedMultipleNegativesRanking {
            scale: 20.0,
            mini_batch_size: 8,
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
