//! Multi-head self-attention with its output projection, residual and LayerNorm.

use tch::{nn, nn::Module, Tensor};

use super::config::BertConfig;

#[derive(Debug)]
pub struct BertAttention {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    output: nn::Linear,
    layer_norm: nn::LayerNorm,
    num_heads: i64,
    head_dim: i64,
    attention_dropout: f64,
    hidden_dropout: f64,
}

impl BertAttention {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let attn = &p / "self";
        let out = &p / "output";
        BertAttention {
            query: super::linear(
                &attn / "query",
                config.hidden_size,
                config.hidden_size,
                config,
            ),
            key: super::linear(
                &attn / "key",
                config.hidden_size,
                config.hidden_size,
                config,
            ),
            value: super::linear(
                &attn / "value",
                config.hidden_size,
                config.hidden_size,
                config,
            ),
            output: super::linear(
                &out / "dense",
                config.hidden_size,
                config.hidden_size,
                config,
            ),
            layer_norm: super::layer_norm(&out / "LayerNorm", config),
            num_heads: config.num_attention_heads,
            head_dim: config.head_dim(),
            attention_dropout: config.attention_probs_dropout_prob,
            hidden_dropout: config.hidden_dropout_prob,
        }
    }

    /// # Shapes
    /// xs: `[batch, seq, hidden]`, mask: `[batch, 1, 1, seq]` (bool, true = attend)
    /// → `[batch, seq, hidden]`
    pub fn forward_t(&self, xs: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let (batch, seq, hidden) = xs.size3().unwrap_or((0, 0, 0));
        let heads = |t: Tensor| {
            t.view([batch, seq, self.num_heads, self.head_dim])
                .transpose(1, 2)
        };
        let q = heads(self.query.forward(xs));
        let k = heads(self.key.forward(xs));
        let v = heads(self.value.forward(xs));
        let dropout = if train { self.attention_dropout } else { 0.0 };
        let context = Tensor::scaled_dot_product_attention(
            &q,
            &k,
            &v,
            Some(mask),
            dropout,
            false,
            None,
            false,
        );
        let context = context.transpose(1, 2).reshape([batch, seq, hidden]);
        let projected = self
            .output
            .forward(&context)
            .dropout(self.hidden_dropout, train);
        (projected + xs).apply(&self.layer_norm)
    }
}
