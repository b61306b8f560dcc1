//! MarginMSELoss: the squared error between the student's margins
//! `logit(query, positive) − logit(query, negative_i)` and a teacher's, over
//! (query, positive, negative_1, …, negative_n) rows.

use std::ops::Range;

use tch::{Reduction, Tensor};

use super::input::{self, no_nan, Input};
use super::{chunks, Activation, RerankLayout, RerankLoss, RerankScores};
use crate::error::{Error, Result};

const NAME: &str = "MarginMSELoss";

/// 6.3's constructor arguments (its `**kwargs` to `nn.MSELoss` are not supported: the reduction
/// is the mean).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MarginMseConfig {
    /// Applied to every pair's logit before the margins are taken.
    pub activation: Activation,
}

#[derive(Debug, Clone)]
pub struct MarginMseLoss {
    config: MarginMseConfig,
}

impl MarginMseLoss {
    pub fn new(config: MarginMseConfig) -> Self {
        MarginMseLoss { config }
    }

    pub fn config(&self) -> &MarginMseConfig {
        &self.config
    }
}

/// The teacher margins as `[batch, negatives]`, from the label forms 6.3 accepts (its
/// bi-encoder and cross-encoder MarginMSELoss alike), tried in its order: `[batch, negatives +
/// 1]` scores (the positive's first) become `score_p − score_n_i`; `[batch]` is one margin per
/// row (one negative); `[batch, negatives]` are the margins.
pub(crate) fn teacher_margins(
    loss: &'static str,
    labels: &Tensor,
    batch: i64,
    negatives: i64,
) -> Result<Tensor> {
    let torch = Error::torch(loss);
    let size = labels.size();
    let margins = if size == [batch, negatives + 1] {
        let positive = labels.f_narrow(1, 0, 1).map_err(&torch)?;
        let rest = labels.f_narrow(1, 1, negatives).map_err(&torch)?;
        positive.f_sub(&rest).map_err(&torch)?
    } else if size == [batch] {
        labels.f_unsqueeze(1).map_err(&torch)?
    } else {
        labels.shallow_clone()
    };
    if margins.size() != [batch, negatives] {
        return Err(Error::Shape {
            loss,
            context: format!(
                "teacher labels vs [batch, {negatives}] margins or [batch, {}] scores{}",
                negatives + 1,
                if negatives == 1 {
                    " or [batch] margins"
                } else {
                    ""
                }
            ),
            left: size,
            right: vec![batch, negatives],
        });
    }
    Ok(margins)
}

impl RerankLoss for MarginMseLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::Columns
    }

    /// # Shapes
    /// logits: `[batch, 1 + n]`, n ≥ 1 (positive first); labels: `[batch, n]` margins,
    /// `[batch, 1 + n]` scores, or `[batch]` margins when n = 1 → scalar
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor> {
        input::no_docs_per_row(NAME, scores)?;
        input::check_logits(NAME, scores, 2, "[batch, 1 + negatives]")?;
        let logits = scores.logits;
        let (batch, columns) = (logits.size()[0], logits.size()[1]);
        if columns < 2 {
            return Err(Error::Shape {
                loss: NAME,
                context: "logits vs a positive and at least one negative per row".into(),
                left: logits.size(),
                right: vec![batch, 2],
            });
        }
        no_nan(NAME, Input::Logits, logits, None)?;
        let labels = input::required(NAME, labels)?;
        no_nan(NAME, Input::Labels, labels, None)?;
        let margins = teacher_margins(NAME, labels, batch, columns - 1)?;
        let torch = Error::torch(NAME);
        let margins = margins
            .f_to_device(logits.device())
            .and_then(|m| m.f_to_kind(logits.kind()))
            .map_err(&torch)?;
        self.config
            .activation
            .apply(logits)
            .and_then(|logits| {
                let positive = logits.f_narrow(1, 0, 1)?;
                let negatives = logits.f_narrow(1, 1, columns - 1)?;
                positive
                    .f_sub(&negatives)?
                    .f_mse_loss(&margins, Reduction::Mean)
            })
            .map_err(&torch)
    }

    /// One forward pass per column (the positives, then each negative column), as 6.3 does.
    fn forward_chunks(&self, batch: usize, num_pairs: usize) -> Vec<Range<usize>> {
        chunks(num_pairs, batch)
    }
}
