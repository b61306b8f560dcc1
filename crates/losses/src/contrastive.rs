//! ContrastiveLoss (Hadsell et al., 2006): pulls positive pairs together and pushes negative
//! pairs beyond a margin, `½·(y·d² + (1 − y)·relu(margin − d)²)`.

use config::ContrastiveDistance;
use tch::{Kind, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::similarity::{cosine_similarity, pairwise_distance};

const NAME: &str = "ContrastiveLoss";

#[derive(Debug, Clone)]
pub struct ContrastiveLoss {
    distance: ContrastiveDistance,
    margin: f64,
    size_average: bool,
}

impl ContrastiveLoss {
    /// `size_average`: the mean over pairs, else the sum.
    pub fn new(distance: ContrastiveDistance, margin: f64, size_average: bool) -> Self {
        ContrastiveLoss {
            distance,
            margin,
            size_average,
        }
    }
}

/// sentence-transformers' `SiameseDistanceMetric`, built on `torch.nn.functional` (whose
/// eps terms differ from `util`'s, hence not the triplet functions).
pub(crate) fn siamese_distance(
    distance: ContrastiveDistance,
    a: &Tensor,
    b: &Tensor,
) -> Result<Tensor, TchError> {
    match distance {
        ContrastiveDistance::Euclidean => pairwise_distance(a, b, 2.0),
        ContrastiveDistance::Manhattan => pairwise_distance(a, b, 1.0),
        ContrastiveDistance::CosineDistance => cosine_similarity(a, b)?.f_neg()?.f_add_scalar(1.0),
    }
}

impl Loss for ContrastiveLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Score
    }

    fn columns(&self) -> (usize, Option<usize>) {
        (2, Some(2))
    }

    /// Labels are 1 for similar and 0 for dissimilar pairs; other values weight the two terms
    /// as sentence-transformers does.
    ///
    /// # Shapes
    /// embeddings: 2 × `[batch, dim]`, scores `[batch]` → scalar
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let at = check::embeddings(NAME, embeddings, self.columns())?;
        let labels = check::scores(NAME, targets, at)?;
        let loss = || -> Result<Tensor, TchError> {
            let distances = siamese_distance(self.distance, &embeddings[0], &embeddings[1])?;
            let labels = labels.f_to_kind(Kind::Float)?;
            let similar = labels.f_mul(&distances.f_square()?)?;
            let dissimilar = labels.f_neg()?.f_add_scalar(1.0)?.f_mul(
                &distances
                    .f_neg()?
                    .f_add_scalar(self.margin)?
                    .f_relu()?
                    .f_square()?,
            )?;
            let losses = similar.f_add(&dissimilar)?.f_mul_scalar(0.5)?;
            if self.size_average {
                losses.f_mean(None::<Kind>)
            } else {
                losses.f_sum(None::<Kind>)
            }
        };
        loss().map_err(Error::torch(NAME))
    }
}
