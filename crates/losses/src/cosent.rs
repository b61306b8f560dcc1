//! CoSENTLoss: for every pair of pairs whose gold scores are ordered, penalises predicted
//! similarities in the opposite order — `log(1 + Σ exp(s·(cos_j − cos_i)))` over
//! `label_i > label_j`.

use tch::{Kind, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::similarity::pairwise_cos_sim;

const NAME: &str = "CoSENTLoss";

#[derive(Debug, Clone)]
pub struct CoSentLoss {
    scale: f64,
}

impl CoSentLoss {
    pub fn new(scale: f64) -> Self {
        CoSentLoss { scale }
    }
}

/// The CoSENT objective on predicted similarities `[n]` and gold labels `[n]`, as
/// sentence-transformers 6 computes it: sorting by label and a suffix log-cum-sum-exp give each
/// pair's sum over strictly higher labels in O(n log n) instead of the n × n matrix, and the
/// zero prepended to the log-sum-exp is the `1 +`.
pub(crate) fn cosent_from_similarities(
    similarities: &Tensor,
    labels: &Tensor,
    scale: f64,
) -> Result<Tensor, TchError> {
    let similarities = match similarities.kind() {
        Kind::Half | Kind::BFloat16 => similarities.f_to_kind(Kind::Float)?,
        _ => similarities.shallow_clone(),
    };
    let scores = similarities.f_mul_scalar(scale)?;
    let (labels, order) = labels.f_sort(0, false)?;
    let scores = scores.f_index_select(0, &order)?;
    // Ties share a start index, so a pair never competes with pairs of an equal label.
    let higher_label_start =
        labels.f_searchsorted(&labels, false, true, "right", None::<Tensor>)?;
    let suffix = scores
        .f_neg()?
        .f_flip([0])?
        .f_logcumsumexp(0)?
        .f_flip([0])?;
    let none_higher = Tensor::f_full([1], f64::NEG_INFINITY, (scores.kind(), scores.device()))?;
    let suffix = Tensor::f_cat(&[suffix, none_higher], 0)?;
    let scores = scores.f_add(&suffix.f_index_select(0, &higher_label_start)?)?;
    let zero = Tensor::f_zeros([1], (scores.kind(), scores.device()))?;
    Tensor::f_cat(&[zero, scores], 0)?.f_logsumexp([0], false)
}

impl Loss for CoSentLoss {
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
        pairwise_cos_sim(&embeddings[0], &embeddings[1])
            .and_then(|sims| cosent_from_similarities(&sims, &scores, self.scale))
            .map_err(Error::torch(NAME))
    }
}
