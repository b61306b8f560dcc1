//! MSELoss: the squared error between the (activated) logit of each (query, document) pair and
//! a target score, typically a teacher cross-encoder's (distillation).

use tch::{Reduction, Tensor};

use super::input::{labels_per_row, pair_logits};
use super::{Activation, RerankLayout, RerankLoss, RerankScores};
use crate::error::{Error, Result};

const NAME: &str = "MSELoss";

/// 6.3's constructor arguments (its `**kwargs` to `nn.MSELoss` are not supported: the reduction
/// is the mean).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MseConfig {
    /// Applied to the logits before comparing them with the labels (a `Sigmoid` for a teacher
    /// whose scores are probabilities).
    pub activation: Activation,
}

#[derive(Debug, Clone)]
pub struct MseLoss {
    config: MseConfig,
}

impl MseLoss {
    pub fn new(config: MseConfig) -> Self {
        MseLoss { config }
    }

    pub fn config(&self) -> &MseConfig {
        &self.config
    }
}

impl RerankLoss for MseLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::Pairs
    }

    /// # Shapes
    /// logits: `[batch]` or `[batch, 1]`; labels: `batch` target scores → scalar
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor> {
        let logits = pair_logits(NAME, scores)?;
        let (batch, kind, device) = (logits.size()[0], logits.kind(), logits.device());
        let labels = labels_per_row(NAME, labels, batch, kind, device)?;
        self.config
            .activation
            .apply(&logits)
            .and_then(|logits| logits.f_mse_loss(&labels, Reduction::Mean))
            .map_err(Error::torch(NAME))
    }
}
