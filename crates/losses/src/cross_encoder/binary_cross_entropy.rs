//! BinaryCrossEntropyLoss: `BCEWithLogitsLoss` on one logit per (query, document) pair, against
//! 1/0 relevance or a score in [0, 1].

use tch::{Reduction, Tensor};

use super::input::{labels_per_row, pair_logits};
use super::{Activation, RerankLayout, RerankLoss, RerankScores};
use crate::error::{Error, Result};

const NAME: &str = "BinaryCrossEntropyLoss";

/// 6.3's constructor arguments (its `**kwargs` to `BCEWithLogitsLoss` are not supported: the
/// reduction is the mean).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryCrossEntropyConfig {
    /// Applied to the logits before `BCEWithLogitsLoss`, which applies its own sigmoid: a
    /// `Sigmoid` here squashes twice, exactly as 6.3 does.
    pub activation: Activation,
    /// The weight of positive examples (`pos_weight=torch.tensor(w)`); `None` weighs them as
    /// negatives.
    pub pos_weight: Option<f64>,
}

impl Default for BinaryCrossEntropyConfig {
    fn default() -> Self {
        BinaryCrossEntropyConfig {
            activation: Activation::Identity,
            pos_weight: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BinaryCrossEntropyLoss {
    config: BinaryCrossEntropyConfig,
}

impl BinaryCrossEntropyLoss {
    /// Refuses a `pos_weight` that is not a positive finite number (6.3 would take it and
    /// train towards nonsense).
    pub fn new(config: BinaryCrossEntropyConfig) -> Result<Self> {
        if let Some(w) = config.pos_weight {
            if !(w.is_finite() && w > 0.0) {
                return Err(Error::Config(format!(
                    "{NAME}: pos_weight must be a positive finite number, got {w}"
                )));
            }
        }
        Ok(BinaryCrossEntropyLoss { config })
    }

    pub fn config(&self) -> &BinaryCrossEntropyConfig {
        &self.config
    }
}

impl RerankLoss for BinaryCrossEntropyLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::Pairs
    }

    /// # Shapes
    /// logits: `[batch]` or `[batch, 1]`; labels: `batch` values in [0, 1] → scalar
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor> {
        let logits = pair_logits(NAME, scores)?;
        let (batch, kind, device) = (logits.size()[0], logits.kind(), logits.device());
        let labels = labels_per_row(NAME, labels, batch, kind, device)?;
        let torch = Error::torch(NAME);
        let pos_weight = self
            .config
            .pos_weight
            .map(|w| Tensor::f_scalar_tensor(w, (kind, device)))
            .transpose()
            .map_err(&torch)?;
        self.config
            .activation
            .apply(&logits)
            .and_then(|logits| {
                logits.f_binary_cross_entropy_with_logits(
                    &labels,
                    None::<Tensor>,
                    pos_weight,
                    Reduction::Mean,
                )
            })
            .map_err(&torch)
    }
}
