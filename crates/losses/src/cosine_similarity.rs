//! CosineSimilarityLoss: regresses cos(u, v) onto the gold score with mean squared error.

use tch::{Reduction, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::similarity::cosine_similarity;

const NAME: &str = "CosineSimilarityLoss";

#[derive(Debug, Clone, Default)]
pub struct CosineSimilarityLoss;

impl CosineSimilarityLoss {
    pub fn new() -> Self {
        CosineSimilarityLoss
    }
}

fn loss(u: &Tensor, v: &Tensor, scores: &Tensor) -> Result<Tensor, TchError> {
    let cosine = cosine_similarity(u, v)?;
    // sentence-transformers casts the labels with `.float()`, whatever the embeddings' dtype.
    let scores = scores.f_to_kind(tch::Kind::Float)?;
    cosine.f_mse_loss(&scores, Reduction::Mean)
}

impl Loss for CosineSimilarityLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Score
    }

    fn columns(&self) -> (usize, Option<usize>) {
        (2, Some(2))
    }

    /// # Shapes
    /// embeddings: 2 × `[batch, dim]`, scores `[batch]` → scalar
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let at = check::embeddings(NAME, embeddings, self.columns())?;
        let scores = check::scores(NAME, targets, at)?;
        loss(&embeddings[0], &embeddings[1], &scores).map_err(Error::torch(NAME))
    }
}
