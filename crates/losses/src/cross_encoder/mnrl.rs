//! The cross-encoder MultipleNegativesRankingLoss and its GradCache form: each query must pick
//! its positive among the positive, `num_negatives` documents of other rows (in-batch
//! negatives, drawn at random) and its own hard negatives, by softmax cross-entropy over the
//! scaled, activated logits of those pairs.
//!
//! Unlike the bi-encoder loss, a negative is not free: each in-batch negative is one more
//! (query, document) pair through the model. So the loss picks the pairs
//! ([`RerankLoss::candidates`]) and the caller scores them.

use std::ops::Range;

use tch::{Device, Kind, Reduction, TchError, Tensor};

use super::input::{self, no_nan, Input};
use super::{chunks, Activation, RerankLayout, RerankLoss, RerankScores};
use crate::error::{Error, Result};

const NAME: &str = "MultipleNegativesRankingLoss";
const CACHED_NAME: &str = "CachedMultipleNegativesRankingLoss";

/// 6.3's constructor arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultipleNegativesRankingConfig {
    /// In-batch negatives per query, drawn without replacement from the other rows' positives
    /// and hard negatives. `None`, or at least as many as there are, takes every one of them
    /// (in batch order, unsampled).
    pub num_negatives: Option<usize>,
    /// The activated logits are multiplied by it; 0 leaves them unscaled (6.3's
    /// `if self.scale:`).
    pub scale: f64,
    /// Applied to the logits before scaling; 6.3's `activation_fn=None` is
    /// [`Activation::Identity`].
    pub activation: Activation,
}

impl Default for MultipleNegativesRankingConfig {
    fn default() -> Self {
        MultipleNegativesRankingConfig {
            num_negatives: Some(4),
            scale: 10.0,
            activation: Activation::Sigmoid,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MultipleNegativesRankingLoss {
    config: MultipleNegativesRankingConfig,
}

impl MultipleNegativesRankingLoss {
    /// Refuses `num_negatives = Some(0)` (6.3's `torch.multinomial` fails on it) and a scale
    /// that is not finite.
    pub fn new(config: MultipleNegativesRankingConfig) -> Result<Self> {
        validate(NAME, &config)?;
        Ok(MultipleNegativesRankingLoss { config })
    }

    pub fn config(&self) -> &MultipleNegativesRankingConfig {
        &self.config
    }

    /// 6.3's `get_in_batch_negatives`: `[batch, n]` int64 indices on the CPU into the batch's
    /// candidates flattened column by column (candidate `column * batch + row`), never one of
    /// the row's own. Drawn with `torch.multinomial` on the global libtorch generator, as 6.3
    /// draws them, so the same seed gives the same negatives.
    pub fn in_batch_negatives(&self, batch: usize, candidate_columns: usize) -> Result<Tensor> {
        self.sample(batch, candidate_columns)
            .map_err(Error::torch(NAME))
    }

    fn sample(&self, batch: usize, candidate_columns: usize) -> Result<Tensor, TchError> {
        let (batch, columns) = (batch as i64, candidate_columns as i64);
        let options = (Kind::Bool, Device::Cpu);
        // Row i may not pick candidate j when j % batch == i: its own positive and negatives.
        let others = Tensor::f_eye(batch, options)?
            .f_repeat([1, columns])?
            .f_logical_not()?;
        let available = batch * columns - columns;
        match self.config.num_negatives {
            Some(n) if (n as i64) < available => others
                .f_to_kind(Kind::Float)?
                .f_multinomial(n as i64, false),
            _ => Tensor::f_arange(batch * columns, (Kind::Int64, Device::Cpu))?
                .f_repeat([batch, 1])?
                .f_masked_select(&others)?
                .f_reshape([batch, available]),
        }
    }

    /// The loss of `[batch, 1 + k]` logits whose column 0 is each row's positive.
    fn loss(&self, name: &'static str, scores: &RerankScores<'_>) -> Result<Tensor> {
        input::no_docs_per_row(name, scores)?;
        input::check_logits(name, scores, 2, "[batch, 1 + negatives]")?;
        let logits = scores.logits;
        if logits.size()[1] == 0 {
            return Err(Error::Shape {
                loss: name,
                context: "logits vs at least the positive's column".into(),
                left: logits.size(),
                right: vec![logits.size()[0], 1],
            });
        }
        no_nan(name, Input::Logits, logits, None)?;
        self.cross_entropy(logits).map_err(Error::torch(name))
    }

    fn cross_entropy(&self, logits: &Tensor) -> Result<Tensor, TchError> {
        let mut logits = self.config.activation.apply(logits)?;
        if self.config.scale != 0.0 {
            logits = logits.f_mul_scalar(self.config.scale)?;
        }
        let positives = Tensor::f_zeros([logits.size()[0]], (Kind::Int64, logits.device()))?;
        logits.f_cross_entropy_loss(&positives, None::<Tensor>, Reduction::Mean, -100, 0.0)
    }

    fn candidate_matrix(&self, batch: usize, candidate_columns: usize) -> Result<Tensor> {
        if batch == 0 || candidate_columns == 0 {
            return Err(Error::Columns {
                loss: NAME,
                expected: "a row and a positive column at least".into(),
                found: batch.min(candidate_columns),
            });
        }
        let sampled = self.in_batch_negatives(batch, candidate_columns)?;
        with_own_candidates(&sampled, batch as i64, candidate_columns as i64)
            .map_err(Error::torch(NAME))
    }
}

/// `[positive, sampled…, hard negatives…]` per row, from the sampled in-batch negatives.
fn with_own_candidates(sampled: &Tensor, batch: i64, columns: i64) -> Result<Tensor, TchError> {
    let rows = Tensor::f_arange(batch, (Kind::Int64, Device::Cpu))?.f_unsqueeze(1)?;
    // Candidate `column * batch + row`: the row's positive, then its hard negatives.
    let own = Tensor::f_arange(columns, (Kind::Int64, Device::Cpu))?
        .f_mul_scalar(batch)?
        .f_unsqueeze(0)?
        .f_add(&rows)?;
    let positive = own.f_narrow(1, 0, 1)?;
    let hard = own.f_narrow(1, 1, columns - 1)?;
    Tensor::f_cat(&[&positive, sampled, &hard], 1)
}

fn validate(name: &'static str, config: &MultipleNegativesRankingConfig) -> Result<()> {
    if config.num_negatives == Some(0) {
        return Err(Error::Config(format!(
            "{name}: num_negatives must be at least 1, or None for every in-batch negative"
        )));
    }
    if !config.scale.is_finite() {
        return Err(Error::Config(format!(
            "{name}: scale must be finite, got {}",
            config.scale
        )));
    }
    Ok(())
}

impl RerankLoss for MultipleNegativesRankingLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::InBatchNegatives
    }

    /// Cross-entropy with the positive (column 0) as the target class. Labels are ignored, as
    /// in 6.3.
    ///
    /// # Shapes
    /// logits: `[batch, 1 + sampled + hard]` in [`RerankLoss::candidates`]'s order → scalar
    fn compute(&self, scores: &RerankScores<'_>, _labels: Option<&Tensor>) -> Result<Tensor> {
        self.loss(NAME, scores)
    }

    /// Column 0 each row's positive, then [`Self::in_batch_negatives`], then the row's hard
    /// negatives: the order 6.3 scores them in.
    fn candidates(&self, batch: usize, candidate_columns: usize) -> Result<Option<Tensor>> {
        self.candidate_matrix(batch, candidate_columns).map(Some)
    }

    /// One forward pass per column of the candidate matrix, as 6.3 does.
    fn forward_chunks(&self, batch: usize, num_pairs: usize) -> Vec<Range<usize>> {
        chunks(num_pairs, batch)
    }
}

/// 6.3's `CachedMultipleNegativesRankingLoss` constructor arguments (`show_progress_bar` is the
/// trainer's business).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CachedMultipleNegativesRankingConfig {
    pub num_negatives: Option<usize>,
    pub scale: f64,
    pub activation: Activation,
    /// Pairs per forward pass, over all of the batch's pairs flattened column by column.
    pub mini_batch_size: usize,
}

impl Default for CachedMultipleNegativesRankingConfig {
    fn default() -> Self {
        let plain = MultipleNegativesRankingConfig::default();
        CachedMultipleNegativesRankingConfig {
            num_negatives: plain.num_negatives,
            scale: plain.scale,
            activation: plain.activation,
            mini_batch_size: 32,
        }
    }
}

/// CachedMultipleNegativesRankingLoss: the same loss, computed with GradCache (Gao et al. 2021)
/// so that many pairs fit through the model. A training step:
/// 1. score every pair of the [`RerankLoss::candidates`] matrix without a graph, in the
///    [`RerankLoss::forward_chunks`] of `mini_batch_size` pairs, flattened column by column;
/// 2. [`Self::loss_and_logit_grads`] on those logits: the loss and d loss / d each logit;
/// 3. score each chunk again with a graph (replaying its dropout masks) and back-propagate its
///    slice of the cached gradient (times the outer gradient scale).
///
/// The loss value and every parameter's gradient are those of
/// [`MultipleNegativesRankingLoss`] on the same pairs.
#[derive(Debug, Clone)]
pub struct CachedMultipleNegativesRankingLoss {
    mnrl: MultipleNegativesRankingLoss,
    config: CachedMultipleNegativesRankingConfig,
}

impl CachedMultipleNegativesRankingLoss {
    /// As [`MultipleNegativesRankingLoss::new`], and refuses a `mini_batch_size` of 0.
    pub fn new(config: CachedMultipleNegativesRankingConfig) -> Result<Self> {
        let plain = MultipleNegativesRankingConfig {
            num_negatives: config.num_negatives,
            scale: config.scale,
            activation: config.activation,
        };
        validate(CACHED_NAME, &plain)?;
        if config.mini_batch_size == 0 {
            return Err(Error::Config(format!(
                "{CACHED_NAME}: mini_batch_size must be at least 1"
            )));
        }
        Ok(CachedMultipleNegativesRankingLoss {
            mnrl: MultipleNegativesRankingLoss { config: plain },
            config,
        })
    }

    pub fn config(&self) -> &CachedMultipleNegativesRankingConfig {
        &self.config
    }

    /// As [`MultipleNegativesRankingLoss::in_batch_negatives`].
    pub fn in_batch_negatives(&self, batch: usize, candidate_columns: usize) -> Result<Tensor> {
        self.mnrl.in_batch_negatives(batch, candidate_columns)
    }

    /// Stage 2: the loss of logits computed without a graph, and d loss / d each of them
    /// (`[batch, 1 + k]`, the logits' layout), from a detached copy: the caller back-propagates
    /// the gradient through a second, graph-keeping pass of the model.
    pub fn loss_and_logit_grads(&self, logits: &Tensor) -> Result<(f64, Tensor)> {
        let torch = Error::torch(CACHED_NAME);
        let leaf = logits
            .f_detach()
            .and_then(|l| l.f_set_requires_grad(true))
            .map_err(&torch)?;
        let loss = self.mnrl.loss(CACHED_NAME, &RerankScores::new(&leaf))?;
        let value = loss.f_double_value(&[]).map_err(&torch)?;
        let mut grads = Tensor::f_run_backward(&[&loss], &[&leaf], false, false).map_err(&torch)?;
        let grad = grads.pop().ok_or_else(|| Error::Torch {
            loss: CACHED_NAME,
            source: TchError::Torch("no gradient for the logits".into()),
        })?;
        Ok((value, grad))
    }
}

impl RerankLoss for CachedMultipleNegativesRankingLoss {
    fn name(&self) -> &'static str {
        CACHED_NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::InBatchNegatives
    }

    /// With the whole batch's graph at hand this is [`MultipleNegativesRankingLoss`]: the same
    /// value and gradients as the cached steps.
    ///
    /// # Shapes
    /// logits: `[batch, 1 + sampled + hard]` in [`RerankLoss::candidates`]'s order → scalar
    fn compute(&self, scores: &RerankScores<'_>, _labels: Option<&Tensor>) -> Result<Tensor> {
        self.mnrl.loss(CACHED_NAME, scores)
    }

    fn candidates(&self, batch: usize, candidate_columns: usize) -> Result<Option<Tensor>> {
        self.mnrl.candidates(batch, candidate_columns)
    }

    /// `mini_batch_size` pairs at a time over the candidate matrix flattened column by column
    /// (all positives, then each in-batch negative column, then each hard-negative column).
    fn forward_chunks(&self, _batch: usize, num_pairs: usize) -> Vec<Range<usize>> {
        chunks(num_pairs, self.config.mini_batch_size)
    }

    fn caches_gradients(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_other_candidate_when_not_sampling() {
        let loss = MultipleNegativesRankingLoss::new(MultipleNegativesRankingConfig {
            num_negatives: None,
            ..Default::default()
        })
        .unwrap();
        let candidates = loss.candidates(3, 2).unwrap().unwrap();
        let rows: Vec<Vec<i64>> = (0..3)
            .map(|i| Vec::<i64>::try_from(&candidates.get(i)).unwrap())
            .collect();
        assert_eq!(
            rows,
            [
                vec![0, 1, 2, 4, 5, 3],
                vec![1, 0, 2, 3, 5, 4],
                vec![2, 0, 1, 3, 4, 5]
            ]
        );
    }

    #[test]
    fn a_batch_of_one_has_no_in_batch_negatives() {
        let loss = MultipleNegativesRankingLoss::new(Default::default()).unwrap();
        let candidates = loss.candidates(1, 3).unwrap().unwrap();
        assert_eq!(
            Vec::<i64>::try_from(&candidates.view([-1])).unwrap(),
            [0, 1, 2]
        );
    }
}
