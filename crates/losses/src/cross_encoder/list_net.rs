//! ListNetLoss: cross-entropy between the softmax of each row's labels and the softmax of its
//! logits (the "top one" probabilities of Cao et al. 2007), over (query, [documents]) rows.

use std::ops::Range;

use tch::{Kind, Reduction, Tensor};

use super::input::Lists;
use super::{list_chunks, Activation, RerankLayout, RerankLoss, RerankScores};
use crate::error::{Error, Result};

const NAME: &str = "ListNetLoss";

/// 6.3 fills a row's missing documents with this logit: their softmax weight is 0.
const PAD_LOGIT: f64 = -1e16;

/// 6.3's constructor arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListNetConfig {
    /// Applied to the documents' logits before the softmax.
    pub activation: Activation,
    /// Pairs per forward pass ([`RerankLoss::forward_chunks`]); the loss does not depend on it.
    pub mini_batch_size: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ListNetLoss {
    config: ListNetConfig,
}

impl ListNetLoss {
    pub fn new(config: ListNetConfig) -> Self {
        ListNetLoss { config }
    }

    pub fn config(&self) -> &ListNetConfig {
        &self.config
    }
}

impl RerankLoss for ListNetLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn layout(&self) -> RerankLayout {
        RerankLayout::Lists
    }

    /// The mean over rows of `−Σ softmax(labels) · log_softmax(logits)`, padding excluded.
    ///
    /// # Shapes
    /// logits, labels: `[batch, max_docs]`, with `docs_per_row` → scalar
    fn compute(&self, scores: &RerankScores<'_>, labels: Option<&Tensor>) -> Result<Tensor> {
        let lists = Lists::new(NAME, scores, labels, self.config.activation)?;
        let logits = lists.padded_logits(NAME, PAD_LOGIT)?;
        // The labels are -inf at padding: a target probability of 0 there.
        lists
            .labels
            .f_softmax(1, None::<Kind>)
            .and_then(|targets| {
                logits.f_cross_entropy_loss(&targets, None::<Tensor>, Reduction::Mean, -100, 0.0)
            })
            .map_err(Error::torch(NAME))
    }

    fn forward_chunks(&self, batch: usize, num_pairs: usize) -> Vec<Range<usize>> {
        list_chunks(self.config.mini_batch_size, batch, num_pairs)
    }
}
