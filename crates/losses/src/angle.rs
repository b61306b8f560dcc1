//! AnglELoss: CoSENT on the angle similarity `|cos + sin|`, which keeps a gradient where cosine
//! saturates (Li & Li, 2024).

use tch::{TchError, Tensor};

use crate::check;
use crate::cosent::cosent_from_similarities;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::similarity::pairwise_angle_sim;

const NAME: &str = "AnglELoss";

#[derive(Debug, Clone)]
pub struct AnglELoss {
    scale: f64,
}

impl AnglELoss {
    pub fn new(scale: f64) -> Self {
        AnglELoss { scale }
    }
}

fn loss(embeddings: &[Tensor], labels: &Tensor, scale: f64) -> Result<Tensor, TchError> {
    if embeddings.len() == 2 {
        let sims = pairwise_angle_sim(&embeddings[0], &embeddings[1])?;
        return cosent_from_similarities(&sims, labels, scale);
    }
    // An (anchor, positive, negatives…) tuple becomes pairs: the anchor with its positive keeps
    // the label, the anchor with each negative gets `1 − label`.
    let negatives = embeddings.len() as i64 - 2;
    let anchors = embeddings[0].f_repeat([negatives + 1, 1])?;
    let others = Tensor::f_cat(&embeddings[1..], 0)?;
    let labels = Tensor::f_cat(
        &[
            labels.shallow_clone(),
            labels.f_neg()?.f_add_scalar(1.0)?.f_repeat([negatives])?,
        ],
        0,
    )?;
    let sims = pairwise_angle_sim(&anchors, &others)?;
    cosent_from_similarities(&sims, &labels, scale)
}

impl Loss for AnglELoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Score
    }

    /// Pairs with scores, or (anchor, positive, negatives…) tuples.
    fn columns(&self) -> (usize, Option<usize>) {
        (2, None)
    }

    /// Tuples without scores count every positive as 1, as sentence-transformers does.
    ///
    /// # Shapes
    /// embeddings: n × `[batch, dim]`, scores `[batch]` → scalar
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let at = check::embeddings(NAME, embeddings, self.columns())?;
        let labels = match targets {
            Targets::None if embeddings.len() > 2 => {
                Tensor::f_ones([at.batch], (embeddings[0].kind(), at.device))
                    .map_err(Error::torch(NAME))?
            }
            targets => check::scores(NAME, targets, at)?,
        };
        loss(embeddings, &labels, self.scale).map_err(Error::torch(NAME))
    }
}
