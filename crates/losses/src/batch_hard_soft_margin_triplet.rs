//! BatchHardSoftMarginTripletLoss: [`crate::BatchHardTripletLoss`]'s hardest pairs with the
//! soft margin `softplus(d(a, p) − d(a, n))` instead of a hinge, so there is no margin to set.

use config::BatchTripletDistance;
use tch::{Kind, TchError, Tensor};

use crate::batch_distance;
use crate::batch_hard_triplet::hardest_distances;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};

const NAME: &str = "BatchHardSoftMarginTripletLoss";

#[derive(Debug, Clone)]
pub struct BatchHardSoftMarginTripletLoss {
    distance: BatchTripletDistance,
}

impl BatchHardSoftMarginTripletLoss {
    pub fn new(distance: BatchTripletDistance) -> Self {
        BatchHardSoftMarginTripletLoss { distance }
    }
}

impl Loss for BatchHardSoftMarginTripletLoss {
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

    /// The mean over anchors, each with its hardest positive and negative (see
    /// [`crate::BatchHardTripletLoss`] for anchors that lack either).
    ///
    /// # Shapes
    /// embeddings: 1 × `[batch, dim]`, class labels (int64) `[batch]` → scalar
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let (embeddings, labels) = batch_distance::inputs(NAME, embeddings, targets)?;
        let loss = || -> Result<Tensor, TchError> {
            let distances = batch_distance::distance_matrix(self.distance, embeddings)?;
            let (positive, negative) = hardest_distances(&distances, &labels)?;
            // softplus with torch's defaults: beta 1, linear above 20.
            positive
                .f_sub(&negative)?
                .f_softplus()?
                .f_mean(None::<Kind>)
        };
        loss().map_err(Error::torch(NAME))
    }
}
