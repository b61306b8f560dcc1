//! The position-wise feed-forward block: dense, activation, dense, dropout.

use tch::{nn, Tensor};

use super::linear::Linear;
use super::Activation;
use crate::error::Result;

#[derive(Debug)]
pub(crate) struct FeedForward {
    input: Linear,
    output: Linear,
    activation: Activation,
    dropout: f64,
}

impl FeedForward {
    /// `input_key` and `output_key` are the dense layers' names relative to `p`
    /// (BERT: `intermediate.dense`, `output.dense`; DistilBERT: `ffn.lin1`, `ffn.lin2`).
    pub(crate) fn new(
        p: &nn::Path,
        (input_key, output_key): (&str, &str),
        hidden: i64,
        intermediate: i64,
        activation: Activation,
        dropout: f64,
        init_std: f64,
    ) -> Self {
        FeedForward {
            input: Linear::new(
                super::sub(p, input_key),
                hidden,
                intermediate,
                init_std,
                true,
            ),
            output: Linear::new(
                super::sub(p, output_key),
                intermediate,
                hidden,
                init_std,
                true,
            ),
            activation,
            dropout,
        }
    }

    /// # Shapes
    /// xs: `[batch, seq, hidden]` → `[batch, seq, hidden]`
    pub(crate) fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let h = self.input.forward_activated(xs, Some(self.activation))?;
        super::dropout(&self.output.forward(&h)?, self.dropout, train)
    }
}
