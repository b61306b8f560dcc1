//! Cross-attention with its residual: queries from the hidden states, keys and values from a
//! memory (a decoder attending to its encoder's output), then `LN(x + drop(dense(context)))`,
//! as transformers' BERT layers do when `add_cross_attention` is set.

use tch::{nn, Tensor};

use super::attention::scaled_dot_product;
use super::layer_norm::LayerNorm;
use super::linear::Linear;
use super::mask::AttentionMask;
use super::token_layout::TokenLayout;
use crate::error::{Error, Result};

/// Checkpoint names relative to the layer: `crossattention.self.{query,key,value}`,
/// `crossattention.output.dense`, `crossattention.output.LayerNorm`.
const PREFIX: &str = "crossattention";

#[derive(Debug)]
pub(crate) struct CrossAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    norm: LayerNorm,
    num_heads: i64,
    head_dim: i64,
    attention_dropout: f64,
    output_dropout: f64,
}

/// Sizes of one cross-attention block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CrossAttentionConfig {
    pub hidden_size: i64,
    pub num_heads: i64,
    pub layer_norm_eps: f64,
    pub attention_dropout: f64,
    pub output_dropout: f64,
    pub init_std: f64,
}

impl CrossAttention {
    /// Variables under `p / "crossattention"` (`p` is the layer, `…encoder.layer.N`).
    pub(crate) fn new(p: &nn::Path, config: &CrossAttentionConfig) -> Self {
        let p = p / PREFIX;
        let hidden = config.hidden_size;
        let linear = |path: nn::Path| Linear::new(path, hidden, hidden, config.init_std, true);
        let attention = &p / "self";
        CrossAttention {
            query: linear(&attention / "query"),
            key: linear(&attention / "key"),
            value: linear(&attention / "value"),
            output: linear(&p / "output" / "dense"),
            norm: LayerNorm::new(&p / "output" / "LayerNorm", hidden, config.layer_norm_eps),
            num_heads: config.num_heads,
            head_dim: hidden / config.num_heads.max(1),
            attention_dropout: config.attention_dropout,
            output_dropout: config.output_dropout,
        }
    }

    /// As [`forward_t`](Self::forward_t) over the real tokens of one padded batch laid out by
    /// `layout` (one chunk): the projections, dropout and norm run on the token matrix, only
    /// the attention itself on the padded layout.
    ///
    /// # Shapes
    /// xs: `[tokens, hidden]`, memory: `[batch, memory, hidden]` → `[tokens, hidden]`
    pub(crate) fn forward_tokens(
        &self,
        xs: &Tensor,
        layout: &TokenLayout,
        memory: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let queries = layout.to_padded(&self.query.forward(xs)?)?;
        let [queries] = <[Tensor; 1]>::try_from(queries).map_err(|chunks| Error::Shape {
            context: "cross-attention over tokens takes a layout of one chunk",
            left: vec![chunks.len() as i64],
            right: vec![1],
        })?;
        let context = self.attend(&queries, memory, train)?;
        let context = layout.to_tokens(&[context])?;
        let out = super::dropout(&self.output.forward(&context)?, self.output_dropout, train)?;
        self.norm.forward(&out.f_add(xs)?)
    }

    /// # Shapes
    /// xs: `[batch, seq, hidden]`, memory: `[batch, memory, hidden]` (every memory position
    /// attended) → `[batch, seq, hidden]`
    pub(crate) fn forward_t(&self, xs: &Tensor, memory: &Tensor, train: bool) -> Result<Tensor> {
        let context = self.attend(&self.query.forward(xs)?, memory, train)?;
        let out = super::dropout(&self.output.forward(&context)?, self.output_dropout, train)?;
        self.norm.forward(&out.f_add(xs)?)
    }

    /// softmax(q·kᵀ/√d)·v over the memory, before the output projection.
    ///
    /// # Shapes
    /// queries: `[batch, seq, hidden]` (projected), memory: `[batch, memory, hidden]` →
    /// `[batch, seq, hidden]`
    fn attend(&self, queries: &Tensor, memory: &Tensor, train: bool) -> Result<Tensor> {
        let xs = queries;
        let shape_error = |t: &Tensor| Error::Shape {
            context: "cross-attention expects hidden states and memory [batch, len, hidden] \
                      of one batch and width",
            left: xs.size(),
            right: t.size(),
        };
        let (batch, seq, hidden) = xs.size3().map_err(|_| shape_error(memory))?;
        let (memory_batch, memory_len, memory_hidden) =
            memory.size3().map_err(|_| shape_error(memory))?;
        if memory_batch != batch || memory_hidden != hidden {
            return Err(shape_error(memory));
        }
        let heads = |t: Tensor, len: i64| -> Result<Tensor> {
            Ok(t.f_view([batch, len, self.num_heads, self.head_dim])?
                .f_transpose(1, 2)?)
        };
        let q = heads(xs.shallow_clone(), seq)?;
        let k = heads(self.key.forward(memory)?, memory_len)?;
        let v = heads(self.value.forward(memory)?, memory_len)?;
        let every_key = Tensor::f_ones([batch, memory_len], (tch::Kind::Int64, xs.device()))?;
        let mask = AttentionMask::padding(&every_key)?;
        let dropout = if train { self.attention_dropout } else { 0.0 };
        Ok(scaled_dot_product(&q, &k, &v, &mask, dropout)?
            .f_transpose(1, 2)?
            .f_reshape([batch, seq, hidden])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn one_memory_slot_gives_every_position_its_projected_value() {
        let vs = nn::VarStore::new(Device::Cpu);
        let config = CrossAttentionConfig {
            hidden_size: 8,
            num_heads: 2,
            layer_norm_eps: 1e-12,
            attention_dropout: 0.0,
            output_dropout: 0.0,
            init_std: 0.5,
        };
        let cross = CrossAttention::new(&vs.root(), &config);
        let xs = Tensor::randn([3, 5, 8], (Kind::Float, Device::Cpu));
        let memory = Tensor::randn([3, 1, 8], (Kind::Float, Device::Cpu));
        let out = cross.forward_t(&xs, &memory, false).unwrap();
        // A softmax over one key is 1: the context is the value, whatever the query.
        let value = cross.value.forward(&memory).unwrap();
        let projected = cross.output.forward(&value).unwrap();
        let expected = cross.norm.forward(&projected.f_add(&xs).unwrap()).unwrap();
        assert!(out.allclose(&expected, 1e-5, 1e-5, false));
        assert!(cross
            .forward_t(
                &xs,
                &Tensor::zeros([2, 1, 8], (Kind::Float, Device::Cpu)),
                false
            )
            .is_err());
        let names: Vec<String> = vs.variables().into_keys().collect();
        assert!(names.contains(&"crossattention.self.query.weight".to_string()));
        assert!(names.contains(&"crossattention.output.LayerNorm.bias".to_string()));
    }
}
