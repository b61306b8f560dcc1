//! Contrastive Tension (Carlsson et al., 2021), sentence-transformers'
//! `ContrastiveTensionLoss` and `ContrastiveTensionLossInBatchNegatives`: two copies of the
//! model, both trained, embed the two sides of a pair. The model being trained embeds the
//! second column; a copy made when the loss is built (`model1`, its weights among the loss's own
//! parameters) embeds the first. Only the model is saved as the output.

use model::{SentenceTransformer, TokenBatch};
use tch::{nn, Kind, Reduction, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};

const NAME: &str = "ContrastiveTensionLoss";
const IN_BATCH_NAME: &str = "ContrastiveTensionLossInBatchNegatives";

/// A trainable copy of the model whose weights are registered under `p / "model1"`, so the
/// trainer optimises and checkpoints them with the loss's other parameters.
fn twin(p: &nn::Path, model: &SentenceTransformer) -> Result<SentenceTransformer> {
    let copy = model.duplicate()?;
    model::share_variables(copy.var_store(), &(p / "model1"));
    Ok(copy)
}

/// Binary cross-entropy on the dot products of (copy(s₁), model(s₂)) pairs, labelled 1 for
/// identical sentences and 0 for different ones (`BCEWithLogitsLoss(reduction="sum")`).
/// Rows: the `contrastive_tension` pairing of single sentences.
#[derive(Debug)]
pub struct ContrastiveTensionLoss {
    model1: SentenceTransformer,
}

impl ContrastiveTensionLoss {
    pub fn new(p: &nn::Path, model: &SentenceTransformer) -> Result<Self> {
        Ok(Self {
            model1: twin(p, model)?,
        })
    }
}

impl ContrastiveTensionLoss {
    /// The copy's embeddings of column 1 and the model's of column 2, as
    /// [`Loss::compute`] takes them (dropout only when `train`).
    pub fn embed(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
        train: bool,
    ) -> Result<[Tensor; 2]> {
        check::column_count(NAME, columns.len(), self.columns())?;
        embed_pair(&self.model1, model, &columns[0], &columns[1], train)
    }
}

impl Loss for ContrastiveTensionLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Score
    }

    fn columns(&self) -> (usize, Option<usize>) {
        (2, Some(2))
    }

    fn keeps_parameters_in_output(&self) -> bool {
        false
    }

    /// `embeddings[0]` from the copy, `embeddings[1]` from the model.
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let shape = check::embeddings(NAME, embeddings, self.columns())?;
        let Targets::Scores(labels) = targets else {
            return Err(Error::Targets {
                loss: NAME,
                message: "needs a 0/1 label per pair (1: the same sentence twice)".into(),
            });
        };
        if labels.size() != [shape.batch] {
            return Err(Error::Shape {
                loss: NAME,
                context: "labels vs batch".into(),
                left: labels.size(),
                right: vec![shape.batch],
            });
        }
        let torch = Error::torch(NAME);
        embeddings[0]
            .f_mul(&embeddings[1])
            .and_then(|p| p.f_sum_dim_intlist(-1, false, Kind::Float))
            .and_then(|scores| {
                scores.f_binary_cross_entropy_with_logits(
                    &labels.f_to_kind(Kind::Float)?,
                    None::<Tensor>,
                    None::<Tensor>,
                    Reduction::Sum,
                )
            })
            .map_err(torch)
    }

    fn forward_backward(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
        targets: Targets<'_>,
        grad_scale: f64,
    ) -> Result<f64> {
        let embeddings = self.embed(model, columns, true)?;
        crate::loss::backward_scaled(NAME, &self.compute(&embeddings, targets)?, grad_scale)
    }
}

/// In-batch negatives: each sentence embedded by the copy and by the model, the scaled cosine
/// similarities of all pairs scored as a classification of the matching one, in both
/// directions (`scale` becomes a learned `logit_scale = ln(scale)`). Rows: single sentences.
#[derive(Debug)]
pub struct ContrastiveTensionLossInBatchNegatives {
    model1: SentenceTransformer,
    logit_scale: Tensor,
}

impl ContrastiveTensionLossInBatchNegatives {
    pub fn new(p: &nn::Path, model: &SentenceTransformer, scale: f64) -> Result<Self> {
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(Error::Config(format!(
                "contrastive_tension_in_batch_negatives: scale must be a positive number, got \
                 {scale}"
            )));
        }
        let logit_scale = p.var("logit_scale", &[], nn::Init::Const(scale.ln()));
        Ok(Self {
            model1: twin(p, model)?,
            logit_scale,
        })
    }
}

impl ContrastiveTensionLossInBatchNegatives {
    /// The copy's and the model's embeddings of the one column, as [`Loss::compute`] takes
    /// them (dropout only when `train`).
    pub fn embed(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
        train: bool,
    ) -> Result<[Tensor; 2]> {
        check::column_count(IN_BATCH_NAME, columns.len(), self.columns())?;
        embed_pair(&self.model1, model, &columns[0], &columns[0], train)
    }
}

impl Loss for ContrastiveTensionLossInBatchNegatives {
    fn name(&self) -> &'static str {
        IN_BATCH_NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::None
    }

    fn columns(&self) -> (usize, Option<usize>) {
        // sentence-transformers embeds the first column with both models.
        (1, Some(1))
    }

    fn keeps_parameters_in_output(&self) -> bool {
        false
    }

    /// `embeddings[0]` from the copy, `embeddings[1]` from the model, of the same sentences.
    fn compute(&self, embeddings: &[Tensor], _targets: Targets<'_>) -> Result<Tensor> {
        let shape = check::embeddings(IN_BATCH_NAME, embeddings, (2, Some(2)))?;
        let torch = Error::torch(IN_BATCH_NAME);
        (|| {
            let a = crate::similarity::normalize(&embeddings[0])?;
            let b = crate::similarity::normalize(&embeddings[1])?;
            let scores =
                crate::similarity::cos_sim_normalized(&a, &b)?.f_mul(&self.logit_scale.f_exp()?)?;
            let labels = Tensor::f_arange(shape.batch, (Kind::Int64, shape.device))?;
            let rows =
                scores.f_cross_entropy_loss::<Tensor>(&labels, None, Reduction::Mean, -100, 0.0)?;
            let columns = scores.f_transpose(0, 1)?.f_cross_entropy_loss::<Tensor>(
                &labels,
                None,
                Reduction::Mean,
                -100,
                0.0,
            )?;
            rows.f_add(&columns)?.f_div_scalar(2.0)
        })()
        .map_err(torch)
    }

    fn forward_backward(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
        targets: Targets<'_>,
        grad_scale: f64,
    ) -> Result<f64> {
        let embeddings = self.embed(model, columns, true)?;
        let loss = self.compute(&embeddings, targets)?;
        crate::loss::backward_scaled(IN_BATCH_NAME, &loss, grad_scale)
    }
}

/// The copy's embeddings of `first` and the model's of `second`.
fn embed_pair(
    copy: &SentenceTransformer,
    model: &SentenceTransformer,
    first: &TokenBatch,
    second: &TokenBatch,
    train: bool,
) -> Result<[Tensor; 2]> {
    Ok([
        copy.forward_t(first, train)?,
        model.forward_t(second, train)?,
    ])
}
