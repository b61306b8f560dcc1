//! MultipleNegativesRankingLoss (InfoNCE with in-batch negatives): each anchor must pick its own
//! positive among every candidate of the batch — all positives and all hard negatives —
//! optionally with sentence-transformers 6.3's hardness weighting of the negatives.

use config::HardnessMode;
use tch::{Kind, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::gather::{RowGather, RowLayout};
use crate::loss::{Loss, TargetKind, Targets};
use crate::similarity::{cos_sim_normalized, normalize};

const NAME: &str = "MultipleNegativesRankingLoss";
const SYMMETRIC_NAME: &str = "MultipleNegativesSymmetricRankingLoss";

/// Hardness weighting (Lan et al. 2025, Eq. 5): `strength · cos(anchor, candidate)`, with no
/// gradient through it and not multiplied by the scale, is added to the logit of every negative
/// that `mode` names, so that the negatives already close to the anchor weigh more in the
/// softmax. The anchor's own positive is never penalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardness {
    pub mode: HardnessMode,
    /// `hardness_strength`, the `alpha` of the paper; ≥ 0.
    pub strength: f64,
}

#[derive(Debug, Clone)]
pub struct MultipleNegativesRankingLoss {
    scale: f64,
    symmetric: bool,
    hardness: Option<Hardness>,
    gather_across_devices: bool,
    /// Set by [`Loss::distribute`] when `gather_across_devices` is on.
    gather: Option<RowGather>,
}

impl MultipleNegativesRankingLoss {
    /// `symmetric` adds the positive → anchor direction with its own softmax, averaged with the
    /// anchor → candidate one: sentence-transformers' MultipleNegativesSymmetricRankingLoss
    /// (`directions=("query_to_doc", "doc_to_query")`, `partition_mode="per_direction"`).
    pub fn new(scale: f64, symmetric: bool) -> Self {
        MultipleNegativesRankingLoss {
            scale,
            symmetric,
            hardness: None,
            gather_across_devices: false,
            gather: None,
        }
    }

    /// With `on`, a data-parallel run (see [`Loss::distribute`]) scores each process's anchors
    /// against the candidates of all processes, exactly as one process over the global batch.
    pub fn gathering_across_devices(self, on: bool) -> Self {
        MultipleNegativesRankingLoss {
            gather_across_devices: on,
            ..self
        }
    }

    pub(crate) fn set_gather(&mut self, gather: &RowGather) {
        if self.gather_across_devices {
            self.gather = Some(gather.clone());
        }
    }

    pub(crate) fn gather(&self) -> Option<&RowGather> {
        self.gather.as_ref()
    }

    /// The same loss with the anchor → candidate logits penalised as `hardness` says (the
    /// positive → anchor direction of the symmetric loss never is, as in sentence-transformers).
    /// A strength that is not positive penalises nothing (configs with a negative or non-finite
    /// one are refused by [`BuildLoss`](crate::BuildLoss)).
    pub fn with_hardness(self, hardness: Option<Hardness>) -> Self {
        MultipleNegativesRankingLoss {
            hardness: hardness.filter(|h| h.strength > 0.0),
            ..self
        }
    }
}

/// The batch's embeddings, normalised once and shared by every chunk of anchors. In a
/// gathering data-parallel run the candidates are every process's (see [`crate::gather`]) and
/// the anchors this process's own.
pub(crate) struct Candidates {
    /// `[batch, dim]`: this process's anchors
    pub anchors: Tensor,
    /// `[total * (columns − 1), dim]`: positives first, then each hard-negative column
    pub all: Tensor,
    /// `[total, dim]`: the anchors the symmetric direction scores positives against
    pub all_anchors: Tensor,
    pub batch: i64,
    /// Rows of the (gathered) batch and where this process's rows start in it.
    pub total: i64,
    pub offset: i64,
}

impl Candidates {
    pub fn new(
        embeddings: &[Tensor],
        gather: Option<&RowGather>,
        symmetric: bool,
    ) -> Result<Self, TchError> {
        let anchors = normalize(&embeddings[0])?;
        let batch = anchors.size()[0];
        let Some(gather) = gather else {
            let all = normalize(&Tensor::f_cat(&embeddings[1..], 0)?)?;
            return Ok(Candidates {
                all_anchors: anchors.shallow_clone(),
                anchors,
                all,
                batch,
                total: batch,
                offset: 0,
            });
        };
        let layout = gather.layout(batch, anchors.device())?;
        // Each column gathered on its own keeps the single-process layout.
        let columns = embeddings[1..]
            .iter()
            .map(|column| gather.gather(&normalize(column)?))
            .collect::<Result<Vec<_>, _>>()?;
        let all_anchors = if symmetric {
            gather.gather(&anchors)?
        } else {
            anchors.shallow_clone()
        };
        Ok(Candidates {
            anchors,
            all: Tensor::f_cat(&columns, 0)?,
            all_anchors,
            batch,
            total: layout.total,
            offset: layout.offset,
        })
    }

    /// Candidates already gathered (and detached) by the caller: `all` holds every process's
    /// rows of each candidate column laid out as `layout`, not yet normalised.
    pub fn gathered(anchors: &Tensor, all: &Tensor, layout: &RowLayout) -> Result<Self, TchError> {
        let anchors = normalize(anchors)?;
        Ok(Candidates {
            all_anchors: anchors.shallow_clone(),
            batch: anchors.size()[0],
            anchors,
            all: normalize(all)?,
            total: layout.total,
            offset: layout.offset,
        })
    }

    /// The loss terms of anchors `begin..begin + len`, summed and divided by the whole batch, so
    /// that the chunks of a batch add up to its mean (how the cached loss splits the work).
    pub fn chunk_loss(
        &self,
        begin: i64,
        len: i64,
        loss: &MultipleNegativesRankingLoss,
    ) -> Result<Tensor, TchError> {
        let anchors = self.anchors.f_narrow(0, begin, len)?;
        // [len, batch * (columns − 1)]
        let cos = cos_sim_normalized(&anchors, &self.all)?;
        let mut to_candidates = cos.f_mul_scalar(loss.scale)?;
        if let Some(hardness) = loss.hardness {
            // sentence-transformers adds the penalty after scaling: cos · scale + strength · cos.
            to_candidates = to_candidates.f_add(&self.penalty(&cos, begin, hardness)?)?;
        }
        let positive = to_candidates
            .f_narrow(1, self.offset + begin, len)?
            .f_diagonal(0, 0, 1)?;
        let mut log_z = to_candidates.f_logsumexp([1], false)?;
        if loss.symmetric {
            // Each positive against every anchor of the batch; hard negatives take no part.
            let positives = self.all.f_narrow(0, self.offset + begin, len)?;
            let to_anchors =
                cos_sim_normalized(&positives, &self.all_anchors)?.f_mul_scalar(loss.scale)?;
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

    /// `strength · cos` (detached) where `hardness.mode` penalises, 0 elsewhere.
    ///
    /// # Shapes
    /// cos: `[len, batch · (columns − 1)]`, the cosines of anchors `begin..begin + len` → the same
    fn penalty(&self, cos: &Tensor, begin: i64, hardness: Hardness) -> Result<Tensor, TchError> {
        let (len, width) = cos.size2()?;
        let device = cos.device();
        let candidates = Tensor::f_arange(width, (Kind::Int64, device))?;
        let first = self.offset + begin;
        let anchors =
            Tensor::f_arange_start(first, first + len, (Kind::Int64, device))?.f_unsqueeze(1)?;
        // Candidate j belongs to anchor j mod total: its positive (j < total) or one of its
        // hard negatives.
        let own = candidates
            .f_remainder(self.total)?
            .f_unsqueeze(0)?
            .f_eq_tensor(&anchors)?;
        let positives = candidates.f_lt(self.total)?.f_unsqueeze(0)?;
        let spared = match hardness.mode {
            HardnessMode::InBatchNegatives => own,
            HardnessMode::HardNegatives => own.f_logical_not()?.f_logical_or(&positives)?,
            HardnessMode::AllNegatives => own.f_logical_and(&positives)?,
        };
        cos.f_detach()?
            .f_mul_scalar(hardness.strength)?
            .f_masked_fill(&spared, 0.0)
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

    fn distribute(&mut self, gather: &RowGather) {
        self.set_gather(gather);
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
        Candidates::new(embeddings, self.gather.as_ref(), self.symmetric)
            .and_then(|c| c.chunk_loss(0, at.batch, self))
            .map_err(Error::torch(name))
    }
}
