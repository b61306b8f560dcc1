//! The position-wise feed-forward block ("intermediate" + "output" in checkpoint keys).

use tch::{nn, nn::Module, Tensor};

use super::config::{Activation, BertConfig};

#[derive(Debug)]
pub struct BertFeedForward {
    intermediate: nn::Linear,
    output: nn::Linear,
    layer_norm: nn::LayerNorm,
    activation: Activation,
    dropout: f64,
}

impl BertFeedForward {
    /// `p` is the layer's path: the weights sit at `intermediate.dense` and `output.dense`.
    pub fn new(p: &nn::Path, config: &BertConfig) -> Self {
        BertFeedForward {
            intermediate: super::linear(
                p / "intermediate" / "dense",
                config.hidden_size,
                config.intermediate_size,
                config,
            ),
            output: super::linear(
                p / "output" / "dense",
                config.intermediate_size,
                config.hidden_size,
                config,
            ),
            layer_norm: super::layer_norm(p / "output" / "LayerNorm", config),
            activation: config.hidden_act,
            dropout: config.hidden_dropout_prob,
        }
    }

    /// # Shapes
    /// xs: `[batch, seq, hidden]` → `[batch, seq, hidden]`
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let h = self.intermediate.forward(xs);
        let h = match self.activation {
            Activation::Gelu => h.gelu("none"),
            Activation::GeluNew => h.gelu("tanh"),
            Activation::Relu => h.relu(),
        };
        let h = self.output.forward(&h).dropout(self.dropout, train);
        (h + xs).apply(&self.layer_norm)
    }
}
