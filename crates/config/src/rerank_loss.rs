//! The cross-encoder (reranker) losses a config can name, with sentence-transformers 6.3's
//! defaults. Their `type` names carry the `cross_encoder.` prefix of sentence-transformers'
//! `cross_encoder.losses` module: several share a class name with a bi-encoder loss
//! (`MultipleNegativesRankingLoss`, `MSELoss`, `MarginMSELoss`) but not its arguments or
//! defaults. `losses` builds them on libtorch.
//!
//! The listwise losses (`cross_encoder.list_net`, `list_mle`, `p_list_mle`, `lambda`,
//! `rank_net`) train on (query, documents, labels) lists: `format = "columns"` with a
//! `labels` role, e.g. `columns = "query=query,documents=docs,labels=labels"`.

use serde::{de::Error as _, Deserialize, Deserializer, Serialize};

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
    /// `ListNetLoss` on (query, documents, labels) lists: cross-entropy between the softmax
    /// of each list's labels and of its logits.
    #[serde(rename = "cross_encoder.list_net")]
    ListNet {
        #[serde(default)]
        activation_fn: RerankActivation,
        /// Pairs per forward pass; unset: `training.batch_size` pairs (6.3's `None`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mini_batch_size: Option<usize>,
    },
    /// `ListMLELoss` on (query, documents, labels) lists: the Plackett-Luce likelihood of
    /// each list's order.
    #[serde(rename = "cross_encoder.list_mle")]
    ListMle {
        #[serde(default)]
        activation_fn: RerankActivation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mini_batch_size: Option<usize>,
        /// `true`: the documents are given most relevant first (labels unread); `false`:
        /// ranked by descending label.
        #[serde(default = "defaults::yes")]
        respect_input_order: bool,
    },
    /// `PListMLELoss`: ListMLE with position weights.
    #[serde(rename = "cross_encoder.p_list_mle")]
    PListMle {
        #[serde(default)]
        lambda_weight: PListMleWeighting,
        #[serde(default)]
        activation_fn: RerankActivation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mini_batch_size: Option<usize>,
        #[serde(default = "defaults::yes")]
        respect_input_order: bool,
    },
    /// `LambdaLoss` on (query, documents, labels) lists: the pairwise logistic loss of the
    /// documents in the wrong order, weighted by `weighting_scheme`.
    #[serde(rename = "cross_encoder.lambda")]
    Lambda {
        #[serde(default)]
        weighting_scheme: LambdaWeightingScheme,
        /// NDCG@k: only pairs with a document in the model's top k count; unset: every
        /// document.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        k: Option<usize>,
        #[serde(default = "defaults::sigma")]
        sigma: f64,
        #[serde(default = "defaults::eps")]
        eps: f64,
        #[serde(default)]
        reduction_log: RerankReductionLog,
        #[serde(default)]
        activation_fn: RerankActivation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mini_batch_size: Option<usize>,
    },
    /// `RankNetLoss`: LambdaLoss without weights.
    #[serde(rename = "cross_encoder.rank_net")]
    RankNet {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        k: Option<usize>,
        #[serde(default = "defaults::sigma")]
        sigma: f64,
        #[serde(default = "defaults::eps")]
        eps: f64,
        #[serde(default)]
        reduction_log: RerankReductionLog,
        #[serde(default)]
        activation_fn: RerankActivation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mini_batch_size: Option<usize>,
    },
}

impl RerankLossConfig {
    /// Every `type` name, for messages.
    pub const TYPES: [&'static str; 11] = [
        "cross_encoder.binary_cross_entropy",
        "cross_encoder.cross_entropy",
        "cross_encoder.mse",
        "cross_encoder.margin_mse",
        "cross_encoder.multiple_negatives_ranking",
        "cross_encoder.cached_multiple_negatives_ranking",
        "cross_encoder.list_net",
        "cross_encoder.list_mle",
        "cross_encoder.p_list_mle",
        "cross_encoder.lambda",
        "cross_encoder.rank_net",
    ];

    /// The `type` a config names this loss by.
    pub fn type_name(&self) -> &'static str {
        let index = match self {
            RerankLossConfig::BinaryCrossEntropy { .. } => 0,
            RerankLossConfig::CrossEntropy { .. } => 1,
            RerankLossConfig::Mse { .. } => 2,
            RerankLossConfig::MarginMse { .. } => 3,
            RerankLossConfig::MultipleNegativesRanking { .. } => 4,
            RerankLossConfig::CachedMultipleNegativesRanking { .. } => 5,
            RerankLossConfig::ListNet { .. } => 6,
            RerankLossConfig::ListMle { .. } => 7,
            RerankLossConfig::PListMle { .. } => 8,
            RerankLossConfig::Lambda { .. } => 9,
            RerankLossConfig::RankNet { .. } => 10,
        };
        Self::TYPES[index]
    }

    /// Whether it trains on (query, documents, labels) lists.
    pub fn is_listwise(&self) -> bool {
        matches!(
            self,
            RerankLossConfig::ListNet { .. }
                | RerankLossConfig::ListMle { .. }
                | RerankLossConfig::PListMle { .. }
                | RerankLossConfig::Lambda { .. }
                | RerankLossConfig::RankNet { .. }
        )
    }

    /// Checks what serde cannot (the listwise losses' sizes and numbers); the message starts
    /// with the field, e.g. `sigma must be finite, got inf`.
    pub fn validate(&self) -> Result<(), String> {
        let mini_batch_size = |n: &Option<usize>| match n {
            Some(0) => Err("mini_batch_size must be at least 1 (leave it out for \
                            training.batch_size pairs per forward pass)"
                .to_string()),
            _ => Ok(()),
        };
        let lambda = |k: &Option<usize>, sigma: f64, eps: f64| {
            if *k == Some(0) {
                return Err(
                    "k must be at least 1 (leave it out to count every document)".to_string(),
                );
            }
            if !sigma.is_finite() {
                return Err(format!("sigma must be finite, got {sigma}"));
            }
            if !(eps.is_finite() && eps >= 0.0) {
                return Err(format!("eps must be a finite number ≥ 0, got {eps}"));
            }
            Ok(())
        };
        match self {
            RerankLossConfig::ListNet {
                mini_batch_size: n, ..
            }
            | RerankLossConfig::ListMle {
                mini_batch_size: n, ..
            }
            | RerankLossConfig::PListMle {
                mini_batch_size: n, ..
            } => mini_batch_size(n),
            RerankLossConfig::Lambda {
                weighting_scheme,
                k,
                sigma,
                eps,
                mini_batch_size: n,
                ..
            } => {
                if let LambdaWeightingScheme::NdcgLoss2Pp { mu } = weighting_scheme {
                    if !mu.is_finite() {
                        return Err(format!("weighting_scheme.mu must be finite, got {mu}"));
                    }
                }
                lambda(k, *sigma, *eps)?;
                mini_batch_size(n)
            }
            RerankLossConfig::RankNet {
                k,
                sigma,
                eps,
                mini_batch_size: n,
                ..
            } => {
                lambda(k, *sigma, *eps)?;
                mini_batch_size(n)
            }
            _ => Ok(()),
        }
    }
}

/// LambdaLoss's `weighting_scheme`: how much each pair of documents in the wrong order counts.
/// Written as a table, `{ type = "ndcg_loss2_pp", mu = 10.0 }`, or by name alone
/// (`"lambda_rank"`, or 6.3's class name such as `"NDCGLoss2Scheme"`), which takes the
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LambdaWeightingScheme {
    /// `NoWeightingScheme` (6.3's `weighting_scheme=None`): every pair weighs 1, RankNet.
    NoWeighting,
    /// `NDCGLoss1Scheme`.
    NdcgLoss1,
    /// `NDCGLoss2Scheme`.
    NdcgLoss2,
    /// `LambdaRankScheme`.
    LambdaRank,
    /// `NDCGLoss2PPScheme(mu)`: `mu` · NDCGLoss2 + LambdaRank; 6.3's default, `mu = 10`.
    NdcgLoss2Pp { mu: f64 },
}

impl Default for LambdaWeightingScheme {
    fn default() -> Self {
        LambdaWeightingScheme::NdcgLoss2Pp { mu: defaults::mu() }
    }
}

impl LambdaWeightingScheme {
    /// The names a config may give, in order.
    pub const NAMES: [&'static str; 5] = [
        "no_weighting",
        "ndcg_loss1",
        "ndcg_loss2",
        "lambda_rank",
        "ndcg_loss2_pp",
    ];
    /// 6.3's class names, in the order of [`Self::NAMES`].
    pub const CLASS_NAMES: [&'static str; 5] = [
        "NoWeightingScheme",
        "NDCGLoss1Scheme",
        "NDCGLoss2Scheme",
        "LambdaRankScheme",
        "NDCGLoss2PPScheme",
    ];

    /// A scheme by name or by 6.3's class name (bare or with its module path), with its
    /// defaults.
    pub fn from_name(name: &str) -> Result<Self, String> {
        let short = name.rsplit('.').next().unwrap_or(name);
        let index = Self::NAMES
            .iter()
            .position(|n| *n == short)
            .or_else(|| Self::CLASS_NAMES.iter().position(|n| *n == short));
        Ok(match index {
            Some(0) => LambdaWeightingScheme::NoWeighting,
            Some(1) => LambdaWeightingScheme::NdcgLoss1,
            Some(2) => LambdaWeightingScheme::NdcgLoss2,
            Some(3) => LambdaWeightingScheme::LambdaRank,
            Some(_) => LambdaWeightingScheme::default(),
            None => {
                return Err(format!(
                    "unknown weighting_scheme {name:?}; expected one of {} (or 6.3's class \
                     names {})",
                    Self::NAMES.join(", "),
                    Self::CLASS_NAMES.join(", ")
                ))
            }
        })
    }
}

/// The table form of [`LambdaWeightingScheme`], as serde reads it.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum TaggedScheme {
    NoWeighting {},
    NdcgLoss1 {},
    NdcgLoss2 {},
    LambdaRank {},
    NdcgLoss2Pp {
        #[serde(default = "defaults::mu")]
        mu: f64,
    },
}

impl<'de> Deserialize<'de> for LambdaWeightingScheme {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(deserializer)?;
        if let toml::Value::String(name) = &value {
            return LambdaWeightingScheme::from_name(name).map_err(D::Error::custom);
        }
        let tagged: TaggedScheme = value.try_into().map_err(|e: toml::de::Error| {
            D::Error::custom(format!(
                "weighting_scheme: {} (expected a name such as \"lambda_rank\" or a table \
                 such as {{ type = \"ndcg_loss2_pp\", mu = 10.0 }})",
                e.message()
            ))
        })?;
        Ok(match tagged {
            TaggedScheme::NoWeighting {} => LambdaWeightingScheme::NoWeighting,
            TaggedScheme::NdcgLoss1 {} => LambdaWeightingScheme::NdcgLoss1,
            TaggedScheme::NdcgLoss2 {} => LambdaWeightingScheme::NdcgLoss2,
            TaggedScheme::LambdaRank {} => LambdaWeightingScheme::LambdaRank,
            TaggedScheme::NdcgLoss2Pp { mu } => LambdaWeightingScheme::NdcgLoss2Pp { mu },
        })
    }
}

/// LambdaLoss's and RankNetLoss's `reduction_log`: the base of the pairwise log-likelihoods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RerankReductionLog {
    Natural,
    /// 6.3's default.
    #[default]
    Binary,
}

/// PListMLELoss's `lambda_weight`: how much each position of a list's ranking counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PListMleWeighting {
    /// `PListMLELambdaWeight()`, 6.3's default: `2^(num_docs − rank) − 1`, normalised.
    #[default]
    Exponential,
    /// `None`: every position weighs 1 (ListMLE).
    None,
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
    pub fn yes() -> bool {
        true
    }
    pub fn sigma() -> f64 {
        1.0
    }
    pub fn eps() -> f64 {
        1e-10
    }
    pub fn mu() -> f64 {
        10.0
    }
}
