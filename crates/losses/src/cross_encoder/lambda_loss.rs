//! LambdaLoss (Wang et al. 2018) and RankNetLoss (Burges et al. 2005), its unweighted case:
//! a weighted pairwise logistic loss over the document pairs of each (query, [documents]) row
//! whose labels are in the wrong order, with weights that bound NDCG.

use std::f64::consts::LN_2;
use std::ops::Range;

use tch::{Kind, TchError, Tensor};

use super::input::Lists;
use super::{list_chunks, Activation, RerankLayout, RerankLoss, RerankScores};
use crate::error::{Error, Result};

const NAME: &str = "LambdaLoss";
const RANK_NET_NAME: &str = "RankNetLoss";

/// 6.3 fills a row's missing documents with this logit, so they sort last.
const PAD_LOGIT: f64 = -1e16;
/// 6.3 clamps the logit differences to ±1e8 before the log-sigmoid.
const MAX_DIFF: f64 = 1e8;

/// 6.3's `weighting_scheme`: the weight of each pair `(i, j)` of positions in the row ranked by
/// the model, from the normalised gains `G = (2^label − 1) / maxDCG` and the discounts
/// `D_i = log2(1 + i)` of those positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LambdaWeighting {
    /// `NoWeightingScheme`: every pair weighs 1 (RankNet).
    NoWeighting,
    /// `NDCGLoss1Scheme`: `G_i / D_i`. Unlike the others it also counts the pairs whose labels
    /// are tied or in order (and each document with itself), as 6.3 does.
    NdcgLoss1,
    /// `NDCGLoss2Scheme`: `|1/D_{|i−j|} − 1/D_{|i−j|+1}| · |G_i − G_j|`.
    NdcgLoss2,
    /// `LambdaRankScheme`: `|1/D_i − 1/D_j| · |G_i − G_j|`.
    LambdaRank,
    /// `NDCGLoss2PPScheme(mu)`: `mu · NDCGLoss2 + LambdaRank`; 6.3's default, `mu = 10`.
    NdcgLoss2PlusPlus { mu: f64 },
}

impl Default for LambdaWeighting {
    fn default() -> Self {
        LambdaWeighting::NdcgLoss2PlusPlus { mu: 10.0 }
    }
}

impl LambdaWeighting {
    /// Parses 6.3's class name, bare or full (`sentence_transformers.cross_encoder.losses.
    /// lambda_loss.NDCGLoss2PPScheme`, as `get_config_dict` writes it); `NDCGLoss2PPScheme`
    /// gets its default `mu = 10`.
    pub fn from_name(name: &str) -> Result<Self> {
        let short = name.rsplit('.').next().unwrap_or(name);
        Ok(match short {
            "NoWeightingScheme" => LambdaWeighting::NoWeighting,
            "NDCGLoss1Scheme" => LambdaWeighting::NdcgLoss1,
            "NDCGLoss2Scheme" => LambdaWeighting::NdcgLoss2,
            "LambdaRankScheme" => LambdaWeighting::LambdaRank,
            "NDCGLoss2PPScheme" => LambdaWeighting::default(),
            _ => {
                return Err(Error::Config(format!(
                    "{NAME}: unknown weighting_scheme {name:?}; expected NoWeightingScheme, \
                     NDCGLoss1Scheme, NDCGLoss2Scheme, LambdaRankScheme or NDCGLoss2PPScheme"
                )))
            }
        })
    }

    /// 6.3's class name.
    pub fn class_name(self) -> &'static str {
        match self {
            LambdaWeighting::NoWeighting => "NoWeightingScheme",
            LambdaWeighting::NdcgLoss1 => "NDCGLoss1Scheme",
            LambdaWeighting::NdcgLoss2 => "NDCGLoss2Scheme",
            LambdaWeighting::LambdaRank => "LambdaRankScheme",
            LambdaWeighting::NdcgLoss2PlusPlus { .. } => "NDCGLoss2PPScheme",
        }
    }

    /// The pair weights, broadcastable to `[batch, n, n]`; `None` for all ones.
    ///
    /// # Shapes
    /// gain: `[batch, n]`, discount: `[1, n]`
    fn weights(self, gain: &Tensor, discount: &Tensor) -> Result<Option<Tensor>, TchError> {
        Ok(Some(match self {
            LambdaWeighting::NoWeighting => return Ok(None),
            LambdaWeighting::NdcgLoss1 => gain.f_div(discount)?.f_unsqueeze(2)?,
            LambdaWeighting::NdcgLoss2 => ndcg_loss2(gain, discount)?,
            LambdaWeighting::LambdaRank => lambda_rank(gain, discount)?,
            LambdaWeighting::NdcgLoss2PlusPlus { mu } => ndcg_loss2(gain, discount)?
                .f_mul_scalar(mu)?
                .f_add(&lambda_rank(gain, discount)?)?,
        }))
    }
}

/// `|G_i − G_j|`, `[batch, n, n]`.
fn gain_gaps(gain: &Tensor) -> Result<Tensor, TchError> {
    gain.f_unsqueeze(2)?.f_sub(&gain.f_unsqueeze(1)?)?.f_abs()
}

fn ndcg_loss2(gain: &Tensor, discount: &Tensor) -> Result<Tensor, TchError> {
    let n = gain.size()[1];
    let device = gain.device();
    let positions = Tensor::f_arange_start(1, n + 1, (Kind::Int64, device))?;
    // |i − j|
    let gaps = positions
        .f_unsqueeze(1)?
        .f_sub(&positions.f_unsqueeze(0)?)?
        .f_abs()?;
    let discount = discount.f_select(0, 0)?;
    let at = |index: &Tensor| -> Result<Tensor, TchError> {
        discount
            .f_index_select(0, &index.f_reshape([-1])?)?
            .f_reshape([n, n])?
            .f_abs()?
            .f_pow_tensor_scalar(-1.0)
    };
    // 6.3 reads `discount[0, gaps - 1]`, which wraps to the last discount on the diagonal; the
    // diagonal is zeroed right after, so only the wrap itself needs reproducing.
    let before = at(&gaps.f_sub_scalar(1i64)?.f_remainder(n)?)?;
    let deltas = before.f_sub(&at(&gaps)?)?.f_abs()?;
    let diagonal = Tensor::f_eye(n, (Kind::Bool, device))?;
    deltas
        .f_masked_fill(&diagonal, 0.0)?
        .f_unsqueeze(0)?
        .f_mul(&gain_gaps(gain)?)
}

fn lambda_rank(gain: &Tensor, discount: &Tensor) -> Result<Tensor, TchError> {
    let inverse = |t: Tensor| t.f_pow_tensor_scalar(-1.0);
    inverse(discount.f_unsqueeze(2)?)?
        .f_sub(&inverse(discount.f_unsqueeze(1)?)?)?
        .f_abs()?
        .f_mul(&gain_gaps(gain)?)
}

/// `reduction_log`: the base of the logarithm of the pairwise probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReductionLog {
    /// `"natural"`
    Natural,
    /// `"binary"`, 6.3's default: the natural-log loss divided by ln 2.
    #[default]
    Binary,
}

impl ReductionLog {
    /// `"natural"` or `"binary"`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "natural" => Ok(ReductionLog::Natural),
            "binary" => Ok(ReductionLog::Binary),
            _ => Err(Error::Config(format!(
                "{NAME}: unknown reduction_log {name:?}; expected \"natural\" or \"binary\""
            ))),
        }
    }
}

/// 6.3's constructor arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LambdaLossConfig {
    /// 6.3's `weighting_scheme=None` is [`LambdaWeighting::NoWeighting`].
    pub weighting_scheme: LambdaWeighting,
    /// NDCG@k: only pairs with at least one document in the model's top k count, and the
    /// ideal DCG sums the top k labels. `None` (and `Some(0)`, which Python reads as unset):
    /// every document.
    pub k: Option<usize>,
    /// The logit differences are multiplied by it inside the log-sigmoid.
    pub sigma: f64,
    /// The floor of a row's ideal DCG (rows whose labels are all ≤ 0 have 0).
    pub eps: f64,
    pub reduction_log: ReductionLog,
    /// Applied to the documents' logits first.
    pub activation: Activation,
    /// Pairs per forward pass ([`RerankLoss::forward_chunks`]); the loss does not depend on it.
    pub mini_batch_size: Option<i64>,
}

impl Default for LambdaLossConfig {
    fn default() -> Self {
        LambdaLossConfig {
            weighting_scheme: LambdaWeighting::default(),
            k: None,
            sigma: 1.0,
            eps: 1e-10,
            reduction_log: ReductionLog::Binary,
            activation: Activation::Identity,
            mini_batch_size: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LambdaLoss {
    config: LambdaLossConfig,
}

impl LambdaLoss {
    /// Refuses a non-finite `sigma` or `mu`, and an `eps` that is negative or not finite.
    pub fn new(config: LambdaLossConfig) -> Result<Self> {
        validate(NAME, &config)?;
        Ok(LambdaLoss { config })
    }

    pub fn config(&self) -> &LambdaLossConfig {
        &self.config
    }

    fn loss(&self, lists: &Lists) -> Result<Tensor, TchError> {
        let config = &self.config;
        let n = lists.max_docs;
        let device = lists.logits.device();
        let logits = lists.logits.f_masked_fill(&lists.padding, PAD_LOGIT)?;
        // libtorch's (unstable) sort, as 6.3 calls it: tied logits keep the order it leaves them.
        let (logits_sorted, order) = logits.f_sort(-1, true)?;
        let (ideal, _) = lists.labels.f_sort(-1, true)?;
        // The labels in the model's order; -inf at padding, which sorts last.
        let labels = lists.labels.f_gather(1, &order, false)?;
        let label_gaps = labels.f_unsqueeze(2)?.f_sub(&labels.f_unsqueeze(1)?)?;
        // Pairs of real documents (a padded one makes the gap infinite or NaN) …
        let mut pairs = label_gaps.f_isfinite()?;
        if config.weighting_scheme != LambdaWeighting::NdcgLoss1 {
            // … whose first document is the more relevant.
            pairs = pairs.f_logical_and(&label_gaps.f_gt(0.0)?)?;
        }
        let k = match config.k {
            Some(k) if k > 0 => i64::try_from(k).unwrap_or(i64::MAX),
            _ => n,
        };
        // Pairs with either document in the top k (LambdaLoss paper, Eq. 18).
        let top = Tensor::f_arange(n, (Kind::Int64, device))?.f_lt(k)?;
        let at_k = top.f_unsqueeze(1)?.f_logical_or(&top.f_unsqueeze(0)?)?;
        let pairs = pairs.f_logical_and(&at_k)?;

        // Gains and discounts count negative labels (and padding) as 0.
        let labels = labels.f_clamp_min(0.0)?;
        let ideal = ideal.f_clamp_min(0.0)?;
        let discount = Tensor::f_arange_start(1, n + 1, (Kind::Int64, device))?
            .f_to_kind(Kind::Float)?
            .f_add_scalar(1.0)?
            .f_log2()?
            .f_unsqueeze(0)?;
        let gains = |labels: &Tensor| -> Result<Tensor, TchError> {
            Tensor::f_pow_scalar(2i64, labels)?.f_sub_scalar(1i64)
        };
        let max_dcg = gains(&ideal)?
            .f_div(&discount)?
            .f_narrow(1, 0, k.min(n))?
            .f_sum_dim_intlist(-1, false, None::<Kind>)?
            .f_clamp_min(config.eps)?;
        let gain = gains(&labels)?.f_div(&max_dcg.f_unsqueeze(1)?)?;
        let weights = config.weighting_scheme.weights(&gain, &discount)?;

        let diffs = logits_sorted
            .f_unsqueeze(2)?
            .f_sub(&logits_sorted.f_unsqueeze(1)?)?
            .f_clamp(-MAX_DIFF, MAX_DIFF)?;
        // inf − inf between infinite logits.
        let diffs = diffs.f_masked_fill(&diffs.f_isnan()?, 0.0)?;
        let mut losses = diffs.f_mul_scalar(config.sigma)?.f_log_sigmoid()?;
        if let Some(weights) = weights {
            losses = weights.f_mul(&losses)?;
        }
        if config.reduction_log == ReductionLog::Binary {
            losses = losses.f_div_scalar(LN_2)?;
        }
        // The mean over the counted pairs, whatever their weight.
        let counted = losses.f_masked_select(&pairs)?;
        let count = counted.numel().max(1);
        counted
            .f_sum(None::<Kind>)?
            .f_neg()?
            .f_div_scalar(count as f64)
    }

    fn compute_as(
        &self,
        name: &'static str,
        scores: &RerankScores<'_>,
        labels: Option<&Tensor>,
    ) -> Result<Tensor> {
        let lists = Lists::new(name, scores, labels, self.config.activation)?;
        self.loss(&lists).map_err(Error::torch(name))
    }
}

fn validate(name: &'static str, config: &LambdaLossConfig) -> Result<()> {
    if !config.sigma.is_finite() {
        return Err(Error::Config(format!(
            "{name}: sigma must be finite, got {}",
            config.sigma
        )));
    }
    if !(config.eps.is_finite() && config.eps >= 0.0) {
        return Err(Error::Config(format!(
            "{name}: eps must be a finite number ≥ 0, got {}",
            config.eps
        )));
    }
    if let LambdaWeighting::NdcgLoss2PlusPlus { mu } = config.weighting_scheme {
        if !mu.is_finite() {
            return Err(Error::Config(format!(
                "{name}: NDCGLoss2PPScheme's mu must be finite, got {mu}"
            )));
        }
    }
    Ok(())
}

impl RerankLoss for LambdaLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::Lists
    }

    /// `−Σ w_ij · log σ(sigma · (s_i − s_j)) / #pairs` (divided by ln 2 for binary logs) over
    /// the counted pairs `(i, j)` of positions in the model's ranking.
    ///
    /// # Shapes
    /// logits, labels: `[batch, max_docs]`, with `docs_per_row` → scalar
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor> {
        self.compute_as(NAME, scores, labels)
    }

    fn forward_chunks(&self, batch: usize, num_pairs: usize) -> Vec<Range<usize>> {
        list_chunks(self.config.mini_batch_size, batch, num_pairs)
    }
}

/// 6.3's `RankNetLoss` constructor arguments: LambdaLoss's without the weighting scheme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankNetConfig {
    pub k: Option<usize>,
    pub sigma: f64,
    pub eps: f64,
    pub reduction_log: ReductionLog,
    pub activation: Activation,
    pub mini_batch_size: Option<i64>,
}

impl Default for RankNetConfig {
    fn default() -> Self {
        let lambda = LambdaLossConfig::default();
        RankNetConfig {
            k: lambda.k,
            sigma: lambda.sigma,
            eps: lambda.eps,
            reduction_log: lambda.reduction_log,
            activation: lambda.activation,
            mini_batch_size: lambda.mini_batch_size,
        }
    }
}

/// RankNetLoss: [`LambdaLoss`] with [`LambdaWeighting::NoWeighting`].
#[derive(Debug, Clone)]
pub struct RankNetLoss {
    inner: LambdaLoss,
    config: RankNetConfig,
}

impl RankNetLoss {
    pub fn new(config: RankNetConfig) -> Result<Self> {
        let lambda = LambdaLossConfig {
            weighting_scheme: LambdaWeighting::NoWeighting,
            k: config.k,
            sigma: config.sigma,
            eps: config.eps,
            reduction_log: config.reduction_log,
            activation: config.activation,
            mini_batch_size: config.mini_batch_size,
        };
        validate(RANK_NET_NAME, &lambda)?;
        Ok(RankNetLoss {
            inner: LambdaLoss { config: lambda },
            config,
        })
    }

    pub fn config(&self) -> &RankNetConfig {
        &self.config
    }
}

impl RerankLoss for RankNetLoss {
    fn name(&self) -> &'static str {
        RANK_NET_NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::Lists
    }

    /// # Shapes
    /// logits, labels: `[batch, max_docs]`, with `docs_per_row` → scalar
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor> {
        self.inner.compute_as(RANK_NET_NAME, scores, labels)
    }

    fn forward_chunks(&self, batch: usize, num_pairs: usize) -> Vec<Range<usize>> {
        self.inner.forward_chunks(batch, num_pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_parse_by_class_name() {
        for scheme in [
            LambdaWeighting::NoWeighting,
            LambdaWeighting::NdcgLoss1,
            LambdaWeighting::NdcgLoss2,
            LambdaWeighting::LambdaRank,
            LambdaWeighting::default(),
        ] {
            let full = format!(
                "sentence_transformers.cross_encoder.losses.lambda_loss.{}",
                scheme.class_name()
            );
            assert_eq!(LambdaWeighting::from_name(&full).unwrap(), scheme);
        }
        let err = LambdaWeighting::from_name("NDCGLoss3Scheme")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown weighting_scheme \"NDCGLoss3Scheme\""),
            "{err}"
        );
        assert!(ReductionLog::from_name("ten").is_err());
    }
}
