//! The losses a config can name: a tagged table (`type = "..."`) with the
//! sentence-transformers defaults. Only the data lives here; `losses::BuildLoss` turns it
//! into a loss on libtorch.

use serde::{Deserialize, Serialize};

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
    /// `hardness_mode` with `hardness_strength` > 0 adds `hardness_strength · cos` (no gradient
    /// through it, not scaled) to the logits of the negatives the mode names (Lan et al. 2025);
    /// off by default.
    MultipleNegativesRanking {
        #[serde(default = "defaults::scale")]
        scale: f64,
        #[serde(default)]
        symmetric: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hardness_mode: Option<HardnessMode>,
        #[serde(default)]
        hardness_strength: f64,
        /// In a run of several processes, score each process's anchors against the
        /// candidates of every process (all-gather, exact gradients), as with one process
        /// over the global batch; without it each process sees only its own share of the
        /// batch. No effect in one process.
        #[serde(default)]
        gather_across_devices: bool,
    },
    /// MNRL with GradCache: memory bounded by `mini_batch_size` rather than the batch size.
    /// The hardness options are MNRL's.
    CachedMultipleNegativesRanking {
        #[serde(default = "defaults::scale")]
        scale: f64,
        #[serde(default = "defaults::mini_batch_size")]
        mini_batch_size: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hardness_mode: Option<HardnessMode>,
        #[serde(default)]
        hardness_strength: f64,
        /// As for `multiple_negatives_ranking`.
        #[serde(default)]
        gather_across_devices: bool,
    },
    /// GISTEmbedLoss: MNRL-style in-batch negatives over cosine similarities divided by
    /// `temperature`, where a frozen `guide` model (a hub id or local folder) scores the same
    /// texts and every in-batch candidate it rates above the anchor's positive (less `margin`,
    /// see [`MarginStrategy`]) is left out. `contrast_anchors` / `contrast_positives` add the
    /// anchor–anchor and positive–positive similarities as further negatives. The guide is only
    /// run, never trained or saved.
    GistEmbed {
        guide: String,
        #[serde(default = "defaults::gist_temperature")]
        temperature: f64,
        #[serde(default)]
        margin_strategy: MarginStrategy,
        #[serde(default)]
        margin: f64,
        #[serde(default = "defaults::yes")]
        contrast_anchors: bool,
        #[serde(default = "defaults::yes")]
        contrast_positives: bool,
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
    /// TSDAE: a decoder reconstructs the original text (column 2) from the embedding of its
    /// damaged form (column 1) alone (DenoisingAutoEncoderLoss). The decoder is the model's
    /// own architecture (BERT or RoBERTa family) run as a causal language model with
    /// cross-attention to the embedding, sharing every weight it has in common with the model
    /// (`tie_encoder_decoder=True`, sentence-transformers' default).
    /// `tie_encoder_decoder = false` with `decoder` (a hub id or local folder of a BERT or
    /// RoBERTa checkpoint of the model's width and vocabulary) gives the decoder weights of
    /// its own, as sentence-transformers' `decoder_name_or_path`.
    DenoisingAutoEncoder {
        #[serde(default = "defaults::yes")]
        tie_encoder_decoder: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decoder: Option<String>,
    },
    /// Contrastive Tension: a copy of the model embeds column 1, the model column 2, and the
    /// dot product of each pair is scored against its 0/1 label (1: the same sentence) by
    /// binary cross-entropy (ContrastiveTensionLoss). Rows: the `contrastive_tension` pairing.
    #[serde(deserialize_with = "defaults::no_fields")]
    ContrastiveTension,
    /// Contrastive Tension with in-batch negatives: every sentence embedded by the copy and by
    /// the model, the scaled cosine similarities of all pairs classified in both directions
    /// (ContrastiveTensionLossInBatchNegatives; `scale` starts the learned logit scale). Rows:
    /// single sentences (no pairing).
    ContrastiveTensionInBatchNegatives {
        #[serde(default = "defaults::scale")]
        scale: f64,
    },
    /// MarginMSELoss, distillation from a teacher's score margins: over (query, positive,
    /// negative) rows, the mean squared error between the student's margin
    /// `sim(q, p) − sim(q, n)` (`similarity_fct`, the dot product by default) and the row's
    /// float score, the teacher's margin. The training data carries one score per row, so one
    /// negative column; `losses::MarginMseLoss::compute` also takes several with a score matrix.
    MarginMse {
        #[serde(default)]
        similarity_fct: PairwiseSimilarity,
    },
    /// MSELoss, distillation from a teacher's embeddings (the multilingual-distillation
    /// recipe): the mean squared error between each column's embedding and the row's teacher
    /// embedding (one for every column, or one per column), averaged over the columns.
    /// sentence-transformers 6.3's `MSELoss`, EmbedDistillLoss with `distance_metric="mse"`.
    #[serde(deserialize_with = "defaults::no_fields")]
    Mse,
    /// EmbedDistillLoss: as `mse`, with the distance `distance_metric` (cosine by default:
    /// `1 − cos(student, teacher)`; `l2`: the Euclidean norm of the difference; `mse`).
    EmbedDistill {
        #[serde(default)]
        distance_metric: DistillDistance,
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

/// How EmbedDistillLoss compares a student embedding with its teacher embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistillDistance {
    /// Mean squared error over every dimension of every row.
    Mse,
    /// The Euclidean norm of the difference, averaged over the rows.
    L2,
    /// `1 − cosine similarity`, averaged over the rows.
    #[default]
    Cosine,
}

impl DistillDistance {
    /// sentence-transformers' `distance_metric` string.
    pub fn name(self) -> &'static str {
        match self {
            DistillDistance::Mse => "mse",
            DistillDistance::L2 => "l2",
            DistillDistance::Cosine => "cosine",
        }
    }
}

/// Which negatives of MNRL get the hardness penalty (sentence-transformers' `hardness_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HardnessMode {
    /// Every candidate that is not the anchor's own: the other rows' positives and hard
    /// negatives (Lan et al. 2025, who use strength 9).
    InBatchNegatives,
    /// Only the anchor's own hard negatives (columns 3…), as EmbeddingGemma (strength 5).
    HardNegatives,
    /// Every candidate but the anchor's own positive.
    AllNegatives,
}

/// How GISTEmbedLoss turns the guide's anchor–positive similarity `s` into the threshold above
/// which a candidate is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarginStrategy {
    /// `s − margin`
    #[default]
    Absolute,
    /// `s − |s| · margin`
    Relative,
}

/// The similarity of aligned rows a loss scores with: the `pairwise_*` functions of
/// `sentence_transformers.util`, also accepted under those names (how 6.3's `get_config_dict`
/// reports them). Default: the dot product, MarginMSELoss's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairwiseSimilarity {
    /// `Σ a·b`
    #[default]
    #[serde(alias = "pairwise_dot_score")]
    Dot,
    /// The dot product of the L2-normalised rows.
    #[serde(alias = "pairwise_cos_sim")]
    Cosine,
    /// `−‖a − b‖₂`
    #[serde(alias = "pairwise_euclidean_sim")]
    Euclidean,
    /// `−‖a − b‖₁`
    #[serde(alias = "pairwise_manhattan_sim")]
    Manhattan,
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

pub(crate) use defaults::no_fields;

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
    pub fn gist_temperature() -> f64 {
        0.01
    }
    pub fn triplet_margin() -> f64 {
        5.0
    }
    pub fn contrastive_margin() -> f64 {
        0.5
    }
}

impl LossConfig {
    /// The `type` a config names this loss by.
    pub fn type_name(&self) -> &'static str {
        match self {
            LossConfig::Softmax { .. } => "softmax",
            LossConfig::CosineSimilarity => "cosine_similarity",
            LossConfig::CoSent { .. } => "cosent",
            LossConfig::AnglE { .. } => "angle",
            LossConfig::MultipleNegativesRanking { .. } => "multiple_negatives_ranking",
            LossConfig::CachedMultipleNegativesRanking { .. } => {
                "cached_multiple_negatives_ranking"
            }
            LossConfig::Triplet { .. } => "triplet",
            LossConfig::BatchHardTriplet { .. } => "batch_hard_triplet",
            LossConfig::BatchSemiHardTriplet { .. } => "batch_semi_hard_triplet",
            LossConfig::BatchAllTriplet { .. } => "batch_all_triplet",
            LossConfig::BatchHardSoftMarginTriplet { .. } => "batch_hard_soft_margin_triplet",
            LossConfig::Contrastive { .. } => "contrastive",
            LossConfig::OnlineContrastive { .. } => "online_contrastive",
            LossConfig::DenoisingAutoEncoder { .. } => "denoising_auto_encoder",
            LossConfig::ContrastiveTension => "contrastive_tension",
            LossConfig::ContrastiveTensionInBatchNegatives { .. } => {
                "contrastive_tension_in_batch_negatives"
            }
            LossConfig::GistEmbed { .. } => "gist_embed",
            LossConfig::MarginMse { .. } => "margin_mse",
            LossConfig::Mse => "mse",
            LossConfig::EmbedDistill { .. } => "embed_distill",
            LossConfig::Matryoshka { .. } => "matryoshka",
        }
    }
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig::MultipleNegativesRanking {
            scale: defaults::scale(),
            symmetric: false,
            hardness_mode: None,
            hardness_strength: 0.0,
            gather_across_devices: false,
        }
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
                    hardness_mode: None,
                    hardness_strength: 0.0,
                    gather_across_devices: false,
                },
            ),
            (
                r#"type = "cached_multiple_negatives_ranking""#,
                LossConfig::CachedMultipleNegativesRanking {
                    scale: 20.0,
                    mini_batch_size: 32,
                    hardness_mode: None,
                    hardness_strength: 0.0,
                    gather_across_devices: false,
                },
            ),
            (
                "type = \"gist_embed\"\nguide = \"org/guide\"",
                LossConfig::GistEmbed {
                    guide: "org/guide".into(),
                    temperature: 0.01,
                    margin_strategy: MarginStrategy::Absolute,
                    margin: 0.0,
                    contrast_anchors: true,
                    contrast_positives: true,
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
                r#"type = "denoising_auto_encoder""#,
                LossConfig::DenoisingAutoEncoder {
                    tie_encoder_decoder: true,
                    decoder: None,
                },
            ),
            (
                r#"type = "contrastive_tension""#,
                LossConfig::ContrastiveTension,
            ),
            (
                r#"type = "contrastive_tension_in_batch_negatives""#,
                LossConfig::ContrastiveTensionInBatchNegatives { scale: 20.0 },
            ),
            (
                r#"type = "margin_mse""#,
                LossConfig::MarginMse {
                    similarity_fct: PairwiseSimilarity::Dot,
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
            assert!(
                text.contains(&format!("\"{}\"", expected.type_name())),
                "{text}"
            );
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
        for (name, expected) in [
            ("dot", PairwiseSimilarity::Dot),
            ("cosine", PairwiseSimilarity::Cosine),
            ("euclidean", PairwiseSimilarity::Euclidean),
            ("manhattan", PairwiseSimilarity::Manhattan),
            // the function names sentence-transformers' get_config_dict reports
            ("pairwise_dot_score", PairwiseSimilarity::Dot),
            ("pairwise_cos_sim", PairwiseSimilarity::Cosine),
            ("pairwise_euclidean_sim", PairwiseSimilarity::Euclidean),
            ("pairwise_manhattan_sim", PairwiseSimilarity::Manhattan),
        ] {
            let config = parse(&format!(
                "type = \"margin_mse\"\nsimilarity_fct = \"{name}\""
            ))
            .unwrap();
            assert_eq!(
                config,
                LossConfig::MarginMse {
                    similarity_fct: expected
                }
            );
        }
        assert!(parse("type = \"margin_mse\"\nsimilarity_fct = \"angle\"").is_err());
        let config =
            parse("type = \"multiple_negatives_ranking\"\nscale = 50.0\nsymmetric = true").unwrap();
        assert_eq!(
            config,
            LossConfig::MultipleNegativesRanking {
                scale: 50.0,
                symmetric: true,
                hardness_mode: None,
                hardness_strength: 0.0,
                gather_across_devices: false,
            }
        );
    }

    #[test]
    fn hardness_and_gist_options_parse_and_round_trip() {
        for (mode, expected) in [
            ("in_batch_negatives", HardnessMode::InBatchNegatives),
            ("hard_negatives", HardnessMode::HardNegatives),
            ("all_negatives", HardnessMode::AllNegatives),
        ] {
            let config = parse(&format!(
                "type = \"cached_multiple_negatives_ranking\"\nhardness_mode = \"{mode}\"\n\
                 hardness_strength = 9.0"
            ))
            .unwrap();
            let expected = LossConfig::CachedMultipleNegativesRanking {
                scale: 20.0,
                mini_batch_size: 32,
                hardness_mode: Some(expected),
                hardness_strength: 9.0,
                gather_across_devices: false,
            };
            assert_eq!(config, expected);
            let saved = toml::to_string(&expected).unwrap();
            assert!(
                saved.contains(&format!("hardness_mode = \"{mode}\"")),
                "{saved}"
            );
            assert_eq!(parse(&saved).unwrap(), expected, "{saved}");
        }
        // No mode: the key is left out of the saved config, which still parses to the same.
        let saved = toml::to_string(&LossConfig::default()).unwrap();
        assert!(!saved.contains("hardness_mode"), "{saved}");
        let config = parse(
            "type = \"gist_embed\"\nguide = \"/models/guide\"\ntemperature = 0.05\n\
             margin_strategy = \"relative\"\nmargin = 0.1\ncontrast_anchors = false",
        )
        .unwrap();
        let expected = LossConfig::GistEmbed {
            guide: "/models/guide".into(),
            temperature: 0.05,
            margin_strategy: MarginStrategy::Relative,
            margin: 0.1,
            contrast_anchors: false,
            contrast_positives: true,
        };
        assert_eq!(config, expected);
        let saved = toml::to_string(&expected).unwrap();
        assert_eq!(parse(&saved).unwrap(), expected, "{saved}");
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
            "type = \"multiple_negatives_ranking\"\nhardness_mode = \"hardest\"",
            "type = \"multiple_negatives_ranking\"\nhardness_strenght = 5.0",
            // The guide is required; margin strategies are absolute or relative.
            "type = \"gist_embed\"",
            "type = \"gist_embed\"\nguide = \"g\"\nmargin_strategy = \"percent\"",
        ] {
            assert!(parse(text).is_err(), "accepted: {text}");
        }
    }
}
