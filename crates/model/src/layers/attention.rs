//! Multi-head self-attention: query/key/value projections, scaled dot-product attention under
//! an [`AttentionMask`] (which may carry an additive position bias), output projection.

use tch::{nn, Tensor};

use super::linear::Linear;
use super::mask::AttentionMask;
use super::token_layout::TokenLayout;
use crate::error::{Error, Result};

/// Checkpoint names of the four projections, relative to the layer
/// (BERT: `attention.self.query`, …, `attention.output.dense`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttentionKeys {
    pub query: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    pub output: &'static str,
}

#[derive(Debug)]
pub(crate) struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    num_heads: i64,
    head_dim: i64,
    dropout: f64,
}

impl SelfAttention {
    /// `hidden` must be a multiple of `num_heads` (configs check it on load).
    pub(crate) fn new(
        p: &nn::Path,
        keys: &AttentionKeys,
        hidden: i64,
        num_heads: i64,
        dropout: f64,
        init_std: f64,
    ) -> Self {
        let linear = |name: &str| Linear::new(super::sub(p, name), hidden, hidden, init_std, true);
        SelfAttention {
            query: linear(keys.query),
            key: linear(keys.key),
            value: linear(keys.value),
            output: linear(keys.output),
            num_heads,
            head_dim: hidden / num_heads.max(1),
            dropout,
        }
    }

    /// The output projection of the attended values (no residual, no dropout after it).
    ///
    /// # Shapes
    /// xs: `[batch, seq, hidden]`, mask: see [`AttentionMask`] → `[batch, seq, hidden]`
    pub(crate) fn forward_t(
        &self,
        xs: &Tensor,
        mask: &AttentionMask,
        train: bool,
    ) -> Result<Tensor> {
        let (batch, seq, hidden) = xs.size3().map_err(|_| Error::Shape {
            context: "self-attention expects hidden states [batch, seq, hidden]",
            left: xs.size(),
            right: vec![],
        })?;
        let heads = |t: Tensor| -> Result<Tensor> {
            Ok(t.f_view([batch, seq, self.num_heads, self.head_dim])?
                .f_transpose(1, 2)?)
        };
        let q = heads(self.query.forward(xs)?)?;
        let k = heads(self.key.forward(xs)?)?;
        let v = heads(self.value.forward(xs)?)?;
        let dropout = if train { self.dropout } else { 0.0 };
        let context = scaled_dot_product(&q, &k, &v, mask, dropout)?;
        let context = context.f_transpose(1, 2)?.f_reshape([batch, seq, hidden])?;
        self.output.forward(&context)
    }

    /// As [`forward_t`](Self::forward_t) over the real tokens of several chunks at once: the
    /// projections run over the token matrix (q, k and v as one product), attention chunk by
    /// chunk under each chunk's mask.
    ///
    /// # Shapes
    /// xs: `[tokens, hidden]`, one mask per chunk of `layout` → `[tokens, hidden]`
    pub(crate) fn forward_tokens(
        &self,
        xs: &Tensor,
        layout: &TokenLayout,
        masks: &[AttentionMask],
        train: bool,
    ) -> Result<Tensor> {
        if masks.len() != layout.chunks() {
            return Err(Error::Shape {
                context: "one attention mask per chunk",
                left: vec![masks.len() as i64],
                right: vec![layout.chunks() as i64],
            });
        }
        let (heads, head_dim) = (self.num_heads, self.head_dim);
        let qkv = Linear::forward_fused(xs, &[&self.query, &self.key, &self.value])?;
        let dropout = if train { self.dropout } else { 0.0 };
        let contexts = layout
            .to_padded(&qkv)?
            .iter()
            .zip(masks)
            .map(|(chunk, mask)| {
                let (batch, seq, _) = chunk.size3()?;
                let parts = chunk
                    .f_view([batch, seq, 3, heads, head_dim])?
                    .f_permute([2, 0, 3, 1, 4])?;
                let (q, k, v) = (
                    parts.f_select(0, 0)?,
                    parts.f_select(0, 1)?,
                    parts.f_select(0, 2)?,
                );
                let context = scaled_dot_product(&q, &k, &v, mask, dropout)?;
                Ok(context
                    .f_transpose(1, 2)?
                    .f_reshape([batch, seq, heads * head_dim])?)
            })
            .collect::<Result<Vec<_>>>()?;
        self.output.forward(&layout.to_tokens(&contexts)?)
    }
}

/// softmax(q·kᵀ/√d + mask)·v with attention-probability dropout `dropout` (while training:
/// [`torch_ext::attention_dropout`], whose CPU masks are drawn on every thread).
///
/// # Shapes
/// q, k, v: `[batch, heads, seq, head_dim]` → `[batch, heads, seq, head_dim]`
pub(crate) fn scaled_dot_product(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &AttentionMask,
    dropout: f64,
) -> Result<Tensor> {
    if dropout > 0.0 {
        return Ok(torch_ext::attention_dropout(
            q,
            k,
            v,
            Some(mask.as_tensor()),
            dropout,
        )?);
    }
    Ok(Tensor::f_scaled_dot_product_attention(
        q,
        k,
        v,
        Some(mask.as_tensor()),
        0.0,
        false,
        None,
        false,
    )?)
}
