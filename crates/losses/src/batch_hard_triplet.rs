//! BatchHardTripletLoss (Hermans et al., 2017): single texts with class labels; every anchor is
//! paired with its hardest positive (the farthest example of its label) and its hardest negative
//! (the closest example of another label), `relu(d(a, p) − d(a, n) + margin)`, averaged over
//! the anchors of the batch.
//!
//! As in sentence-transformers 6.2, an anchor without a positive counts `d(a, p) = 0`, and an
//! anchor without a negative takes `min_j d(a, j) + max_j d(a, j)` (in practice its own row's
//! farthest distance) as its negative distance; both still enter the mean.

use config::BatchTripletDistance;
use tch::{Kind, TchError, Tensor};

use crate::batch_distance::{self, anchor_negative_mask, anchor_positive_mask};
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};

const NAME: &str = "BatchHardTripletLoss";

#[derive(Debug, Clone)]
pub struct BatchHardTripletLoss {
    distance: BatchTripletDistance,
    margin: f64,
}

impl BatchHardTripletLoss {
    pub fn new(distance: BatchTripletDistance, margin: f64) -> Self {
        BatchHardTripletLoss { distance, margin }
    }
}

/// Each anchor's hardest positive and hardest negative distance, both `[batch, 1]`, from the
/// `[batch, batch]` distances.
pub(crate) fn hardest_distances(
    distances: &Tensor,
    labels: &Tensor,
) -> Result<(Tensor, Tensor), TchError> {
    let positive_mask = anchor_positive_mask(labels)?.f_to_kind(Kind::Float)?;
    let (hardest_positive, _) = positive_mask.f_mul(distances)?.f_max_dim(1, true)?;
    // Non-negatives are pushed above every distance of the row before taking the minimum.
    let not_negative = anchor_negative_mask(labels)?
        .f_to_kind(Kind::Float)?
        .f_neg()?
        .f_add_scalar(1.0)?;
    let (row_max, _) = distances.f_max_dim(1, true)?;
    let (hardest_negative, _) = distances
        .f_add(&row_max.f_mul(&not_negative)?)?
        .f_min_dim(1, true)?;
    Ok((hardest_positive, hardest_negative))
}

impl Loss for BatchHardTripletLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::ANY_CLASS
    }

    /// One text per example.
    fn columns(&self) -> (usize, Option<usize>) {
        batch_distance::COLUMNS
    }

    /// # Shapes
    /// embeddings: 1 × `[batch, dim]`, class labels (int64) `[batch]` → scalar
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let (embeddings, labels) = batch_distance::inputs(NAME, embeddings, targets)?;
        let loss = || -> Result<Tensor, TchError> {
            let distances = batch_distance::distance_matrix(self.distance, embeddings)?;
            let (positive, negative) = hardest_distances(&distances, &labels)?;
            let losses = positive.f_sub(&negative)?.f_add_scalar(self.margin)?;
            // Not relu: a loss of exactly 0 keeps its gradient, as `tl[tl < 0] = 0` does.
            losses
                .f_masked_fill(&losses.f_lt(0.0)?, 0.0)?
                .f_mean(None::<Kind>)
        };
        loss().map_err(Error::torch(NAME))
    }
}
