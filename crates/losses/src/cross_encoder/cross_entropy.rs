//! CrossEntropyLoss: softmax cross-entropy over a classifier cross-encoder's `num_labels`
//! logits per (input_A, input_B) pair (NLI-style labels).

use tch::{Kind, Reduction, Tensor};

use super::input::{self, is_float, no_nan, Input};
use super::{Activation, RerankLayout, RerankLoss, RerankScores};
use crate::error::{Error, Result};

const NAME: &str = "CrossEntropyLoss";

/// 6.3's constructor arguments; of its `**kwargs` to `nn.CrossEntropyLoss` only
/// `label_smoothing` is supported (no class weights, mean reduction, and no `ignore_index`:
/// every label must be a class).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEntropyConfig {
    /// Applied to the `[batch, num_labels]` logits before the softmax.
    pub activation: Activation,
    /// In [0, 1]; 0 is plain cross-entropy.
    pub label_smoothing: f64,
}

impl Default for CrossEntropyConfig {
    fn default() -> Self {
        CrossEntropyConfig {
            activation: Activation::Identity,
            label_smoothing: 0.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CrossEntropyLoss {
    config: CrossEntropyConfig,
}

impl CrossEntropyLoss {
    pub fn new(config: CrossEntropyConfig) -> Result<Self> {
        let s = config.label_smoothing;
        if !(0.0..=1.0).contains(&s) {
            return Err(Error::Config(format!(
                "{NAME}: label_smoothing must lie in [0, 1], got {s}"
            )));
        }
        Ok(CrossEntropyLoss { config })
    }

    pub fn config(&self) -> &CrossEntropyConfig {
        &self.config
    }

    /// Integer labels as `[batch]` int64 classes in `0..num_labels`; float labels as
    /// `[batch, num_labels]` class probabilities (the two target forms of
    /// `nn.CrossEntropyLoss`).
    fn targets(&self, labels: &Tensor, logits: &Tensor) -> Result<Tensor> {
        let shape = logits.size();
        let (batch, num_labels) = (shape[0], shape[1]);
        let torch = Error::torch(NAME);
        if is_float(labels.kind()) {
            if labels.size() != shape {
                return Err(Error::Shape {
                    loss: NAME,
                    context: "class probabilities vs logits".into(),
                    left: labels.size(),
                    right: shape,
                });
            }
            no_nan(NAME, Input::Labels, labels, None)?;
            return labels
                .f_to_device(logits.device())
                .and_then(|l| l.f_to_kind(logits.kind()))
                .map_err(&torch);
        }
        // 6.3 flattens `[batch, 1]` class labels (`labels.view(-1)`).
        let size = labels.size();
        if !(size == [batch] || size == [batch, 1]) {
            return Err(Error::Shape {
                loss: NAME,
                context: "class labels vs one class per row".into(),
                left: size,
                right: vec![batch],
            });
        }
        let classes = labels
            .f_reshape([batch])
            .and_then(|l| l.f_to_kind(Kind::Int64))
            .and_then(|l| l.f_to_device(logits.device()))
            .map_err(&torch)?;
        let min = classes.f_min().and_then(|t| t.f_int64_value(&[]));
        let max = classes.f_max().and_then(|t| t.f_int64_value(&[]));
        let (min, max) = (min.map_err(&torch)?, max.map_err(&torch)?);
        if min < 0 || max >= num_labels {
            return Err(Error::Targets {
                loss: NAME,
                message: format!(
                    "class labels must lie in 0..{num_labels}, found {}",
                    if min < 0 { min } else { max }
                ),
            });
        }
        Ok(classes)
    }
}

impl RerankLoss for CrossEntropyLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::Pairs
    }

    /// # Shapes
    /// logits: `[batch, num_labels]`; labels: `[batch]` or `[batch, 1]` integer classes, or
    /// `[batch, num_labels]` float probabilities → scalar
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor> {
        input::no_docs_per_row(NAME, scores)?;
        input::check_logits(NAME, scores, 2, "[batch, num_labels]")?;
        let logits = scores.logits;
        no_nan(NAME, Input::Logits, logits, None)?;
        let labels = input::required(NAME, labels)?;
        let targets = self.targets(labels, logits)?;
        self.config
            .activation
            .apply(logits)
            .and_then(|logits| {
                logits.f_cross_entropy_loss(
                    &targets,
                    None::<Tensor>,
                    Reduction::Mean,
                    -100,
                    self.config.label_smoothing,
                )
            })
            .map_err(Error::torch(NAME))
    }
}
