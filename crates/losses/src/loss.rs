use model::{SentenceTransformer, TokenBatch};
use tch::Tensor;

use crate::check;
use crate::error::{Error, Result};

/// What a loss needs besides the texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// In-batch negatives or triplets: the columns are the supervision.
    None,
    /// An int64 class per row in `0..num_labels` (SoftmaxLoss); [`TargetKind::ANY_CLASS`] for
    /// losses that only compare labels with each other.
    Class { num_labels: usize },
    /// A float similarity score per row (CosineSimilarityLoss, CoSENT, AnglE; 0/1 pair labels for
    /// the contrastive losses).
    Score,
    /// A teacher's embedding per row (MSELoss, EmbedDistillLoss).
    Vector,
}

impl TargetKind {
    /// Integer class labels of any number of classes: the batch triplet losses, which only ask
    /// whether two labels are equal.
    pub const ANY_CLASS: TargetKind = TargetKind::Class {
        num_labels: usize::MAX,
    };
}

/// The supervision of one batch, on the same device as the embeddings.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    None,
    /// `[batch]` int64
    Classes(&'a Tensor),
    /// `[batch]` float
    Scores(&'a Tensor),
    /// A teacher's embeddings: `[batch, dim]` (one per row, every column's target) or
    /// `[batch, columns, dim]` (one per column).
    Vectors(&'a Tensor),
}

/// A training objective over sentence embeddings.
pub trait Loss: std::fmt::Debug {
    /// The sentence-transformers class name, for logs and the model card.
    fn name(&self) -> &'static str;

    /// What the batch must carry besides its text columns.
    fn target_kind(&self) -> TargetKind;

    /// The label classifier a loss trains beside the model (SoftmaxLoss's), if any.
    fn pair_classifier(&self) -> Option<crate::softmax::PairClassifier> {
        None
    }

    /// Whether the loss's own parameters belong in the trained model's output folder
    /// (SoftmaxLoss's classifier: yes, as sentence-transformers users keep it; TSDAE's
    /// decoder: no, it is only a training device and stays in checkpoints).
    fn keeps_parameters_in_output(&self) -> bool {
        true
    }

    /// Hands the loss the process group of a data-parallel run. Losses configured with
    /// `gather_across_devices` keep it and score against every process's batch; the others
    /// ignore it.
    fn distribute(&mut self, _gather: &crate::gather::RowGather) {}

    /// How many text columns the loss accepts: `(min, max)`, `max = None` for any number
    /// (MNRL with any number of hard-negative columns).
    fn columns(&self) -> (usize, Option<usize>);

    /// The scalar loss from per-column embeddings `[batch, dim]` (gradients flow back through
    /// them).
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor>;

    /// One training step: embeds every column, computes the loss and back-propagates
    /// `loss * grad_scale` into the model's (and the loss's own) parameters. Returns the
    /// unscaled loss value. Losses that must control how the model is run (GradCache) override it.
    fn forward_backward(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
        targets: Targets<'_>,
        grad_scale: f64,
    ) -> Result<f64> {
        check::column_count(self.name(), columns.len(), self.columns())?;
        // Length-packed: the same embeddings as one forward per column, with far less padding.
        let embeddings = model.forward_columns_t(columns, true)?;
        backward_scaled(
            self.name(),
            &self.compute(&embeddings, targets)?,
            grad_scale,
        )
    }
}

/// Back-propagates `loss * grad_scale` and returns the unscaled value: the end of every
/// training step.
pub(crate) fn backward_scaled(name: &'static str, loss: &Tensor, grad_scale: f64) -> Result<f64> {
    let torch = Error::torch(name);
    let value = loss.f_double_value(&[]).map_err(&torch)?;
    loss.f_mul_scalar(grad_scale)
        .and_then(|scaled| scaled.f_backward())
        .map_err(&torch)?;
    Ok(value)
}
