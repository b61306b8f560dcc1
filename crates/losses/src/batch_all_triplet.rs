//! BatchAllTripletLoss: single texts with class labels; every valid triplet of the batch (anchor
//! and positive share a label, the negative has another) contributes
//! `relu(d(a, p) − d(a, n) + margin)`, and the sum is divided by the number of triplets whose
//! loss is above 1e-16 (plus 1e-16), so easy triplets do not dilute the mean and a batch without
//! any active triplet has loss 0.

use config::BatchTripletDistance;
use tch::{Kind, TchError, Tensor};

use crate::batch_distance::{self, anchor_positive_mask};
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};

const NAME: &str = "BatchAllTripletLoss";

#[derive(Debug, Clone)]
pub struct BatchAllTripletLoss {
    distance: BatchTripletDistance,
    margin: f64,
}

impl BatchAllTripletLoss {
    pub fn new(distance: BatchTripletDistance, margin: f64) -> Self {
        BatchAllTripletLoss { distance, margin }
    }
}

fn loss(distances: &Tensor, labels: &Tensor, margin: f64) -> Result<Tensor, TchError> {
    // One row per (anchor, positive) pair, one column per candidate negative: [pairs, batch].
    let pairs = anchor_positive_mask(labels)?.f_nonzero_numpy()?;
    let (anchors, positives) = match pairs.as_slice() {
        [anchors, positives] => (anchors, positives),
        _ => {
            return Err(TchError::Shape(
                "nonzero of a matrix gave no index pair".into(),
            ))
        }
    };
    let positive = distances
        .f_index(&[Some(anchors), Some(positives)])?
        .f_unsqueeze(1)?;
    let losses = positive
        .f_sub(&distances.f_index(&[Some(anchors)])?)?
        .f_add_scalar(margin)?;
    let negative = labels
        .f_index(&[Some(anchors)])?
        .f_unsqueeze(1)?
        .f_ne_tensor(&labels.f_unsqueeze(0)?)?;
    let losses = negative.f_to_kind(Kind::Float)?.f_mul(&losses)?;
    let losses = losses.f_masked_fill(&losses.f_lt(0.0)?, 0.0)?;
    let active = losses.f_gt(1e-16)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
    losses
        .f_sum(None::<Kind>)?
        .f_div_scalar(active as f64 + 1e-16)
}

impl Loss for BatchAllTripletLoss {
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
        batch_distance::distance_matrix(self.distance, embeddings)
            .and_then(|distances| loss(&distances, &labels, self.margin))
            .map_err(Error::torch(NAME))
    }
}
