//! MultipleNegativesRankingLoss (InfoNCE with in-batch negatives): each anchor must pick its own
//! positive among every candidate of the batch — all positives and all hard negatives.

use tch::{Kind, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::similarity::{cos_sim_normalized, normalize};

const NAME: &str = "MultipleNegativesRankingLoss";
const SYMMETRIC_NAME: &str = "MultipleNegativesSymmetricRankingLoss";

#[derive(Debug, Clone)]
pub struct MultipleNegativesRankingLoss {
    scale: f64,
    symmetric: bool,
}

impl MultipleNegativesRankingLoss {
    /// `symmetric` adds the positive → anchor direction with its own softmax, averaged with the
    /// anchor → candidate one: sentence-transformers' MultipleNegativesSymmetricRankingLoss
    /// (`directions=("query_to_doc", "doc_to_query")`, `partition_mode="per_direction"`).
    pub fn new(scale: f64, symmetric: bool) -> Self {
        MultipleNegativesRankingLoss { scale, symmetric }
    }
}

/// The batch's embeddings, normalised once and shared by every chunk of anchors.
pub(crate) struct Candidates {
    /// `[batch, dim]`
    pub anchors: Tensor,
    /// `[batch * (columns − 1), dim]`: positives first, then each hard-negative column
    pub all: Tensor,
    pub batch: i64,
}

impl Candidates {
    pub fn new(embeddings: &[Tensor]) -> Result<Self, TchError> {
        let anchors = normalize(&embeddings[0])?;
        let all = normalize(&Tensor::f_cat(&embeddings[1..], 0)?)?;
        let batch = anchors.size()[0];
        Ok(Candidates {
            anchors,
            all,
            batch,
        })
    }

    /// The loss terms of anchors `begin..begin + len`, summed and divided by the whole batch, so
    /// that the chunks of a batch add up to its mean (how the cached loss splits the work).
    pub fn chunk_loss(
        &self,
        begin: i64,
        len: i64,
        scale: f64,
        symmetric: bool,
    ) -> Result<Tensor, TchError> {
        let anchors = self.anchors.f_narrow(0, begin, len)?;
        // [len, batch * (columns − 1)]
        let to_candidates = cos_sim_normalized(&anchors, &self.all)?.f_mul_scalar(scale)?;
        let positive = to_candidates.f_narrow(1, begin, len)?.f_diagonal(0, 0, 1)?;
        let mut log_z = to_candidates.f_logsumexp([1], false)?;
        if symmetric {
            // Each positive against every anchor of the batch; hard negatives take no part.
            let positives = self.all.f_narrow(0, begin, len)?;
            let to_anchors = cos_sim_normalized(&positives, &self.anchors)?.f_mul_scalar(scale)?;
            log_z = log_z
                .f_add(&to_anchors.f_logsumexp([1], false)?)?
                .f_div_scalar(2.0)?;
        }
        let per_anchor = log_z.f_sub(&positive)?;
        let mean = per_anchor.f_mean(None::<Kind>)?;
        if len == self.batch {
            Ok(mean)
        } else {
            mean.f_mul_scalar(len as f64 / self.batch as f64)
        }
    }
}

impl Loss for MultipleNegativesRankingLoss {
    fn name(&self) -> &'static str {
        if self.symmetric {
            SYMMETRIC_NAME
        } else {
            NAME
        }
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::None
    }

    /// (anchor, positive, hard negatives…)
    fn columns(&self) -> (usize, Option<usize>) {
        (2, None)
    }

    /// Targets are ignored, as in sentence-transformers.
    ///
    /// # Shapes
    /// embeddings: n ≥ 2 × `[batch, dim]` → scalar
    fn compute(&self, embeddings: &[Tensor], _targets: Targets<'_>) -> Result<Tensor> {
        let name = self.name();
        let at = check::embeddings(name, embeddings, self.columns())?;
        if at.batch == 0 {
            return Err(Error::Shape {
                loss: name,
                context: "an empty batch vs at least one anchor".into(),
                left: embeddings[0].size(),
                right: vec![1, at.dim],
            });
        }
        Candidates::new(embeddings)
            .and_then(|c| c.chunk_loss(0, at.batch, self.scale, self.symmetric))
            .map_err(Error::torch(name))
    }
}
