//! BatchSemiHardTripletLoss (Schroff et al., 2015, FaceNet): single texts with class labels;
//! every (anchor, positive) pair meets its semi-hard negative, the closest other-label example
//! *farther* than the positive, or, when there is none, the anchor's farthest negative. The
//! hinge `relu(d(a, p) − d(a, n) + margin)` is averaged over the (anchor, positive) pairs.
//!
//! As in sentence-transformers 6.2: an anchor with no negative at all takes the smallest
//! distance of its row as its negative (so its pairs still count), and a batch without any
//! positive pair has loss 0.

use config::BatchTripletDistance;
use tch::{Kind, TchError, Tensor};

use crate::batch_distance::{self, same_label};
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};

const NAME: &str = "BatchSemiHardTripletLoss";

#[derive(Debug, Clone)]
pub struct BatchSemiHardTripletLoss {
    distance: BatchTripletDistance,
    margin: f64,
}

impl BatchSemiHardTripletLoss {
    pub fn new(distance: BatchTripletDistance, margin: f64) -> Self {
        BatchSemiHardTripletLoss { distance, margin }
    }
}

/// `[batch, 1]`: the largest `data` of each row where `mask` holds (the row's minimum when it
/// holds nowhere), computed as sentence-transformers' `_masked_maximum` does.
fn masked_maximum(data: &Tensor, mask: &Tensor) -> Result<Tensor, TchError> {
    let (row_min, _) = data.f_min_dim(1, true)?;
    let (max, _) = data.f_sub(&row_min)?.f_mul(mask)?.f_max_dim(1, true)?;
    max.f_add(&row_min)
}

fn loss(distances: &Tensor, labels: &Tensor, margin: f64) -> Result<Tensor, TchError> {
    let batch = labels.size()[0];
    let same = same_label(labels)?;
    // Each row's negative distances in increasing order, +inf (sorted last) elsewhere.
    let (sorted, _) = distances
        .f_masked_fill(&same, f64::INFINITY)?
        .f_sort_stable(true, 1, false)?;
    // The first negative strictly farther than d(a, p), for every (a, p); +inf if none.
    let positions = distances.f_detach()?.f_contiguous()?.f_searchsorted(
        &sorted.f_detach()?.f_contiguous()?,
        false,
        true,
        "right",
        None::<Tensor>,
    )?;
    let farther = sorted.f_gather(1, &positions.f_clamp_max(batch - 1)?, false)?;
    let farthest = masked_maximum(distances, &same.f_logical_not()?)?;
    let negative = farther.f_where_self(&farther.f_isfinite()?, &farthest)?;
    let losses = distances.f_sub(&negative)?.f_add_scalar(margin)?;
    let positive_mask = same
        .f_to_kind(Kind::Float)?
        .f_sub(&Tensor::f_eye(batch, (Kind::Float, labels.device()))?)?;
    let pairs = positive_mask.f_sum(None::<Kind>)?;
    // `torch.max(x, tensor([0.0]))`: ties send half the gradient each way, unlike relu.
    let zero = Tensor::f_zeros([1], (Kind::Float, labels.device()))?;
    losses
        .f_mul(&positive_mask)?
        .f_maximum(&zero)?
        .f_sum(None::<Kind>)?
        .f_div(&pairs.f_clamp_min(1e-16)?)
}

impl Loss for BatchSemiHardTripletLoss {
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
