//! TripletLoss: the anchor must be closer to the positive than to the negative by a margin,
//! `relu(d(a, p) − d(a, n) + margin)`, averaged over the batch.

use config::TripletDistance;
use tch::{Kind, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::similarity::{
    pairwise_cos_sim, pairwise_euclidean_distance, pairwise_manhattan_distance,
};

const NAME: &str = "TripletLoss";

#[derive(Debug, Clone)]
pub struct TripletLoss {
    distance: TripletDistance,
    margin: f64,
}

impl TripletLoss {
    pub fn new(distance: TripletDistance, margin: f64) -> Self {
        TripletLoss { distance, margin }
    }
}

/// sentence-transformers' `TripletDistanceMetric`, row by row.
fn triplet_distance(distance: TripletDistance, a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    match distance {
        TripletDistance::Euclidean => pairwise_euclidean_distance(a, b),
        TripletDistance::Manhattan => pairwise_manhattan_distance(a, b),
        TripletDistance::Cosine => pairwise_cos_sim(a, b)?.f_neg()?.f_add_scalar(1.0),
    }
}

impl Loss for TripletLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::None
    }

    /// (anchor, positive, negative)
    fn columns(&self) -> (usize, Option<usize>) {
        (3, Some(3))
    }

    /// # Shapes
    /// embeddings: 3 × `[batch, dim]` → scalar
    fn compute(&self, embeddings: &[Tensor], _targets: Targets<'_>) -> Result<Tensor> {
        check::embeddings(NAME, embeddings, self.columns())?;
        let (anchor, positive, negative) = (&embeddings[0], &embeddings[1], &embeddings[2]);
        let loss = || -> Result<Tensor, TchError> {
            let positive = triplet_distance(self.distance, anchor, positive)?;
            let negative = triplet_distance(self.distance, anchor, negative)?;
            positive
                .f_sub(&negative)?
                .f_add_scalar(self.margin)?
                .f_relu()?
                .f_mean(None::<Kind>)
        };
        loss().map_err(Error::torch(NAME))
    }
}
