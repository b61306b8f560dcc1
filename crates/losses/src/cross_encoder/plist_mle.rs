//! PListMLELoss and ListMLELoss: the negative Plackett-Luce log-likelihood of each row's
//! documents in their relevance order (Xia et al. 2008), position-weighted for PListMLE (Lan et
//! al. 2014), over (query, [documents]) rows.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use tch::{Kind, TchError, Tensor};

use super::input::Lists;
use super::{list_chunks, Activation, RerankLayout, RerankLoss, RerankScores};
use crate::error::{Error, Result};

const NAME: &str = "PListMLELoss";
const LIST_MLE_NAME: &str = "ListMLELoss";

/// 6.3 fills a row's missing documents with this logit (they are masked out after).
const PAD_LOGIT: f64 = 1e-16;
/// 6.3's `self.eps`, added to the sum of a row's position weights before dividing by it.
const EPS: f64 = 1e-10;

/// A custom `rank_discount_fn`: given the `[batch, max_docs]` bool mask of real documents,
/// the weight of each position (6.3 calls it with the unsorted mask).
pub type RankDiscountFn = Arc<dyn Fn(&Tensor) -> Result<Tensor, TchError> + Send + Sync>;

/// `PListMLELambdaWeight`: how much each position of a row's ranking counts. The weights of a
/// row are normalised to sum to 1.
#[derive(Clone, Default)]
pub enum PListMleLambdaWeight {
    /// `PListMLELambdaWeight()`: `2^(num_docs − rank) − 1` for ranks 1…num_docs, so the last
    /// document's choice (which has no alternative) weighs 0. Rows of more than 127 documents
    /// are rescaled by 2^−(num_docs − 127), which the normalisation cancels.
    #[default]
    Exponential,
    /// `PListMLELambdaWeight(rank_discount_fn=f)`.
    Custom(RankDiscountFn),
}

impl fmt::Debug for PListMleLambdaWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PListMleLambdaWeight::Exponential => f.write_str("Exponential"),
            PListMleLambdaWeight::Custom(_) => f.write_str("Custom(rank_discount_fn)"),
        }
    }
}

/// Custom weights are equal when they are the same function.
impl PartialEq for PListMleLambdaWeight {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PListMleLambdaWeight::Exponential, PListMleLambdaWeight::Exponential) => true,
            (PListMleLambdaWeight::Custom(a), PListMleLambdaWeight::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl PListMleLambdaWeight {
    /// `[batch, max_docs]` weights, 0 at padding.
    fn weights(&self, mask: &Tensor) -> Result<Tensor, TchError> {
        match self {
            PListMleLambdaWeight::Custom(f) => f(mask),
            PListMleLambdaWeight::Exponential => {
                let num_docs = mask.f_sum_dim_intlist(1, true, None::<Kind>)?;
                let ranks =
                    Tensor::f_arange_start(1, mask.size()[1] + 1, (Kind::Int64, mask.device()))?
                        .f_expand_as(mask)?;
                // Keeps 2^exponent within float32 for long rows; the normalisation undoes it.
                let scale = num_docs.f_sub_scalar(127i64)?.f_clamp_min(0i64)?;
                let exponent = num_docs.f_sub(&ranks)?.f_sub(&scale)?;
                Tensor::f_pow_scalar(2.0, &exponent)?
                    .f_sub(&Tensor::f_pow_scalar(2.0, &scale.f_neg()?)?)?
                    .f_mul(mask)
            }
        }
    }
}

/// 6.3's constructor arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct PListMleConfig {
    /// `None` is ListMLE.
    pub lambda_weight: Option<PListMleLambdaWeight>,
    /// Applied to the documents' logits first.
    pub activation: Activation,
    /// Pairs per forward pass ([`RerankLoss::forward_chunks`]); the loss does not depend on it.
    pub mini_batch_size: Option<i64>,
    /// `true`: the documents are given most relevant first and the labels are not read (but
    /// must still be given, as in 6.3). `false`: rank them by descending label, ties in the
    /// order libtorch's (unstable) sort leaves them, as 6.3 does.
    pub respect_input_order: bool,
}

impl Default for PListMleConfig {
    fn default() -> Self {
        PListMleConfig {
            lambda_weight: Some(PListMleLambdaWeight::Exponential),
            activation: Activation::Identity,
            mini_batch_size: None,
            respect_input_order: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PListMleLoss {
    config: PListMleConfig,
}

impl PListMleLoss {
    pub fn new(config: PListMleConfig) -> Self {
        PListMleLoss { config }
    }

    pub fn config(&self) -> &PListMleConfig {
        &self.config
    }

    fn loss(
        &self,
        name: &'static str,
        scores: &RerankScores<'_>,
        labels: Option<&Tensor>,
    ) -> Result<Tensor> {
        let lists = Lists::new(name, scores, labels, self.config.activation)?;
        let logits = lists.padded_logits(name, PAD_LOGIT)?;
        let device = logits.device();
        let torch = Error::torch(name);
        let per_row = self.per_row(&lists, logits).map_err(&torch)?;
        let any_nonzero = per_row
            .f_ne(0.0)
            .and_then(|t| t.f_any())
            .and_then(|t| t.f_int64_value(&[]))
            .map_err(&torch)?;
        if any_nonzero == 0 {
            // 6.3 returns a fresh `torch.tensor(0.0, requires_grad=True)`: no gradient reaches
            // the logits (every row has one document, or every weight is 0).
            return Tensor::f_scalar_tensor(0.0, (Kind::Float, device))
                .and_then(|t| t.f_set_requires_grad(true))
                .map_err(&torch);
        }
        per_row.f_mean(None::<Kind>).map_err(&torch)
    }

    /// Each row's (weighted) negative log-likelihood, `[batch]`.
    fn per_row(&self, lists: &Lists, logits: Tensor) -> Result<Tensor, TchError> {
        let (logits, mask) = if self.config.respect_input_order {
            (logits, lists.mask.shallow_clone())
        } else {
            let (_, order) = lists.labels.f_sort(1, true)?;
            (
                logits.f_gather(1, &order, false)?,
                lists.mask.f_gather(1, &order, false)?,
            )
        };
        let padding = mask.f_logical_not()?;
        // log Σ_{j ≥ i} exp(logit_j) for every position i: the Plackett-Luce normaliser of
        // choosing document i among those not yet placed.
        let log_normalizers = logits
            .f_masked_fill(&padding, f64::from(f32::MIN))?
            .f_flip([1])?
            .f_logcumsumexp(1)?
            .f_flip([1])?;
        let mut log_probs = logits.f_sub(&log_normalizers)?;
        if let Some(weight) = &self.config.lambda_weight {
            // On the unsorted mask, as 6.3 does.
            let weights = weight.weights(&lists.mask)?;
            let total = weights
                .f_sum_dim_intlist(1, true, None::<Kind>)?
                .f_add_scalar(EPS)?;
            log_probs = log_probs.f_mul(&weights.f_div(&total)?)?;
        }
        log_probs
            .f_masked_fill(&padding, 0.0)?
            .f_sum_dim_intlist(1, false, None::<Kind>)?
            .f_neg()
    }
}

impl RerankLoss for PListMleLoss {
    /// `PListMLELoss` even without weights (6.3's class is the same; [`ListMleLoss`] is
    /// `ListMLELoss`).
    fn name(&self) -> &'static str {
        NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::Lists
    }

    /// The mean over rows of the (weighted) negative log-likelihood of the row's order.
    ///
    /// # Shapes
    /// logits, labels: `[batch, max_docs]`, with `docs_per_row` → scalar
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor> {
        self.loss(NAME, scores, labels)
    }

    fn forward_chunks(&self, batch: usize, num_pairs: usize) -> Vec<Range<usize>> {
        list_chunks(self.config.mini_batch_size, batch, num_pairs)
    }
}

/// 6.3's `ListMLELoss` constructor arguments: PListMLE without position weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListMleConfig {
    pub activation: Activation,
    pub mini_batch_size: Option<i64>,
    pub respect_input_order: bool,
}

impl Default for ListMleConfig {
    fn default() -> Self {
        ListMleConfig {
            activation: Activation::Identity,
            mini_batch_size: None,
            respect_input_order: true,
        }
    }
}

/// ListMLELoss: [`PListMleLoss`] with `lambda_weight = None`.
#[derive(Debug, Clone)]
pub struct ListMleLoss {
    inner: PListMleLoss,
    config: ListMleConfig,
}

impl ListMleLoss {
    pub fn new(config: ListMleConfig) -> Self {
        ListMleLoss {
            inner: PListMleLoss::new(PListMleConfig {
                lambda_weight: None,
                activation: config.activation,
                mini_batch_size: config.mini_batch_size,
                respect_input_order: config.respect_input_order,
            }),
            config,
        }
    }

    pub fn config(&self) -> &ListMleConfig {
        &self.config
    }
}

impl RerankLoss for ListMleLoss {
    fn name(&self) -> &'static str {
        LIST_MLE_NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::Lists
    }

    /// # Shapes
    /// logits, labels: `[batch, max_docs]`, with `docs_per_row` → scalar
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor> {
        self.inner.loss(LIST_MLE_NAME, scores, labels)
    }

    fn forward_chunks(&self, batch: usize, num_pairs: usize) -> Vec<Range<usize>> {
        self.inner.forward_chunks(batch, num_pairs)
    }
}
