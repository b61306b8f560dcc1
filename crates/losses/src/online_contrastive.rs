//! OnlineContrastiveLoss: the contrastive loss on the hard pairs of the batch only — positives
//! farther apart than the closest negative, negatives closer than the farthest positive.

use config::ContrastiveDistance;
use tch::{Kind, TchError, Tensor};

use crate::check;
use crate::contrastive::siamese_distance;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};

const NAME: &str = "OnlineContrastiveLoss";

#[derive(Debug, Clone)]
pub struct OnlineContrastiveLoss {
    distance: ContrastiveDistance,
    margin: f64,
}

impl OnlineContrastiveLoss {
    pub fn new(distance: ContrastiveDistance, margin: f64) -> Self {
        OnlineContrastiveLoss { distance, margin }
    }
}

fn loss(distances: &Tensor, labels: &Tensor, margin: f64) -> Result<Tensor, TchError> {
    // Pairs labelled neither 0 nor 1 fall in neither set, as in sentence-transformers.
    let negatives = distances.f_masked_select(&labels.f_eq(0.0)?)?;
    let positives = distances.f_masked_select(&labels.f_eq(1.0)?)?;
    // With one set empty, the other set's mean is the threshold.
    let hard_negative_below = if positives.numel() > 0 {
        positives.f_max()?
    } else {
        negatives.f_mean(None::<Kind>)?
    };
    let hard_positive_above = if negatives.numel() > 0 {
        negatives.f_min()?
    } else {
        positives.f_mean(None::<Kind>)?
    };
    let negatives = negatives.f_masked_select(&negatives.f_lt_tensor(&hard_negative_below)?)?;
    let positives = positives.f_masked_select(&positives.f_gt_tensor(&hard_positive_above)?)?;
    let positive_loss = positives.f_square()?.f_sum(None::<Kind>)?;
    let negative_loss = negatives
        .f_neg()?
        .f_add_scalar(margin)?
        .f_relu()?
        .f_square()?
        .f_sum(None::<Kind>)?;
    positive_loss.f_add(&negative_loss)
}

impl Loss for OnlineContrastiveLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Score
    }

    fn columns(&self) -> (usize, Option<usize>) {
        (2, Some(2))
    }

    /// A sum over the selected pairs, not a mean (sentence-transformers' choice).
    ///
    /// # Shapes
    /// embeddings: 2 × `[batch, dim]`, scores (0 or 1) `[batch]` → scalar
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let at = check::embeddings(NAME, embeddings, self.columns())?;
        let labels = check::scores(NAME, targets, at)?;
        siamese_distance(self.distance, &embeddings[0], &embeddings[1])
            .and_then(|distances| loss(&distances, &labels, self.margin))
            .map_err(Error::torch(NAME))
    }
}
