//! Self-attention with rotary position embeddings, as the pre-norm architectures compute it:
//! query/key/value projections (fused, as ModernBERT's `Wqkv`, or separate, as Qwen3's),
//! optional per-head RMSNorm on queries and keys before the rotation (Qwen3), grouped-query
//! attention (fewer key/value heads than query heads), and the output projection.

use tch::{nn, Tensor};

use super::attention::scaled_dot_product;
use super::linear::Linear;
use super::mask::AttentionMask;
use super::rms_norm::RmsNorm;
use super::rotary::RotaryAngles;
use super::token_layout::TokenLayout;
use crate::error::{Error, Result};

/// Checkpoint names relative to the layer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RotaryAttentionKeys {
    /// One projection whose output is `[q | k | v]` (ModernBERT: `attn.Wqkv`, `attn.Wo`).
    Fused {
        qkv: &'static str,
        output: &'static str,
    },
    /// Qwen3: `self_attn.{q,k,v,o}_proj`, with `q_norm`/`k_norm` when given.
    Separate {
        query: &'static str,
        key: &'static str,
        value: &'static str,
        output: &'static str,
        query_norm: Option<&'static str>,
        key_norm: Option<&'static str>,
    },
}

/// Sizes of one attention block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RotaryAttentionConfig {
    pub hidden: i64,
    pub num_heads: i64,
    pub num_kv_heads: i64,
    pub head_dim: i64,
    pub bias: bool,
    /// On the attention probabilities.
    pub attention_dropout: f64,
    /// On the output projection (ModernBERT's `out_drop`).
    pub output_dropout: f64,
    /// Epsilon of the per-head query/key norms.
    pub norm_eps: f64,
    pub init_std: f64,
}

#[derive(Debug)]
enum Projections {
    Fused(Linear),
    Separate { q: Linear, k: Linear, v: Linear },
}

#[derive(Debug)]
pub(crate) struct RotaryAttention {
    projections: Projections,
    query_key_norms: Option<(RmsNorm, RmsNorm)>,
    output: Linear,
    config: RotaryAttentionConfig,
}

impl RotaryAttention {
    /// `num_heads` must be a multiple of `num_kv_heads` (configs check it on load).
    pub(crate) fn new(p: &nn::Path, keys: &RotaryAttentionKeys, c: &RotaryAttentionConfig) -> Self {
        let linear =
            |name: &str, i: i64, o: i64| Linear::new(super::sub(p, name), i, o, c.init_std, c.bias);
        let (q_size, kv_size) = (c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim);
        let (projections, query_key_norms, output) = match *keys {
            RotaryAttentionKeys::Fused { qkv, output } => (
                Projections::Fused(linear(qkv, c.hidden, 3 * q_size)),
                None,
                output,
            ),
            RotaryAttentionKeys::Separate {
                query,
                key,
                value,
                output,
                query_norm,
                key_norm,
            } => {
                let norm = |name: &str| RmsNorm::new(super::sub(p, name), c.head_dim, c.norm_eps);
                (
                    Projections::Separate {
                        q: linear(query, c.hidden, q_size),
                        k: linear(key, c.hidden, kv_size),
                        v: linear(value, c.hidden, kv_size),
                    },
                    query_norm.zip(key_norm).map(|(q, k)| (norm(q), norm(k))),
                    output,
                )
            }
        };
        RotaryAttention {
            projections,
            query_key_norms,
            output: linear(output, q_size, c.hidden),
            config: *c,
        }
    }

    /// The output projection of the attended values (no residual).
    ///
    /// # Shapes
    /// xs: `[batch, seq, hidden]`, angles: `[1 or batch, seq, head_dim]`, mask: see
    /// [`AttentionMask`] → `[batch, seq, hidden]`
    pub(crate) fn forward_t(
        &self,
        xs: &Tensor,
        angles: &RotaryAngles,
        mask: &AttentionMask,
        train: bool,
    ) -> Result<Tensor> {
        // Checked here so a wrong rank is named as the hidden states', not as a split's.
        xs.size3().map_err(|_| Error::Shape {
            context: "rotary self-attention expects hidden states [batch, seq, hidden]",
            left: xs.size(),
            right: vec![],
        })?;
        // Inference calls this once per batch: Qwen3's three products read their weights in
        // place, where fusing them would copy every layer's q/k/v weights on each call.
        let (q, k, v) = match &self.projections {
            Projections::Fused(qkv) => self.split_qkv(&qkv.forward(xs)?)?,
            Projections::Separate { q, k, v } => (q.forward(xs)?, k.forward(xs)?, v.forward(xs)?),
        };
        let context = self.attend(&q, &k, &v, angles, mask, train)?;
        self.output_t(&context, train)
    }

    /// As [`forward_t`](Self::forward_t) over the real tokens of several chunks at once: the
    /// projections run over the token matrix as one product, rotation and attention chunk by
    /// chunk with each chunk's angles and mask.
    ///
    /// # Shapes
    /// xs: `[tokens, hidden]`, one (angles, mask) per chunk of `layout` → `[tokens, hidden]`
    pub(crate) fn forward_tokens(
        &self,
        xs: &Tensor,
        layout: &TokenLayout,
        chunks: &[(&RotaryAngles, &AttentionMask)],
        train: bool,
    ) -> Result<Tensor> {
        if chunks.len() != layout.chunks() {
            return Err(Error::Shape {
                context: "one rotary angle table and attention mask per chunk",
                left: vec![chunks.len() as i64],
                right: vec![layout.chunks() as i64],
            });
        }
        let qkv = match &self.projections {
            Projections::Fused(qkv) => qkv.forward(xs)?,
            Projections::Separate { q, k, v } => Linear::forward_fused(xs, &[q, k, v])?,
        };
        let contexts = layout
            .to_padded(&qkv)?
            .iter()
            .zip(chunks)
            .map(|(qkv, (angles, mask))| {
                let (q, k, v) = self.split_qkv(qkv)?;
                self.attend(&q, &k, &v, angles, mask, train)
            })
            .collect::<Result<Vec<_>>>()?;
        self.output_t(&layout.to_tokens(&contexts)?, train)
    }
}

impl RotaryAttention {
    /// Queries, keys and values from one product's `[…, q | k | v]`.
    ///
    /// # Shapes
    /// qkv: `[…, (heads + 2 · kv_heads) · head_dim]` → q `[…, heads · head_dim]`, k and v
    /// `[…, kv_heads · head_dim]`
    fn split_qkv(&self, qkv: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let c = &self.config;
        let (q_size, kv_size) = (c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim);
        let mut parts = qkv
            .f_split_with_sizes([q_size, kv_size, kv_size], -1)?
            .into_iter();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(q), Some(k), Some(v)) => Ok((q, k, v)),
            _ => Err(Error::InvalidInput(
                "a q/k/v projection did not split in three".into(),
            )),
        }
    }

    /// Attention of one padded chunk: split into heads, per-head norms, rotation, grouped
    /// keys and values, scaled dot product.
    ///
    /// # Shapes
    /// q: `[batch, seq, heads · head_dim]`, k and v: `[batch, seq, kv_heads · head_dim]` →
    /// `[batch, seq, heads · head_dim]`
    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        angles: &RotaryAngles,
        mask: &AttentionMask,
        train: bool,
    ) -> Result<Tensor> {
        let c = &self.config;
        let (batch, seq, _) = q.size3()?;
        let heads = |t: &Tensor, n: i64| -> Result<Tensor> {
            Ok(t.f_reshape([batch, seq, n, c.head_dim])?)
        };
        let (mut q, mut k) = (heads(q, c.num_heads)?, heads(k, c.num_kv_heads)?);
        let v = heads(v, c.num_kv_heads)?;
        if let Some((q_norm, k_norm)) = &self.query_key_norms {
            q = q_norm.forward(&q)?;
            k = k_norm.forward(&k)?;
        }
        let groups = c.num_heads / c.num_kv_heads;
        let q = angles.apply(&q.f_transpose(1, 2)?)?;
        let k = repeat_kv(&angles.apply(&k.f_transpose(1, 2)?)?, groups)?;
        let v = repeat_kv(&v.f_transpose(1, 2)?, groups)?;
        let dropout = if train { c.attention_dropout } else { 0.0 };
        let context = scaled_dot_product(&q, &k, &v, mask, dropout)?;
        Ok(context
            .f_transpose(1, 2)?
            .f_reshape([batch, seq, c.num_heads * c.head_dim])?)
    }

    /// The output projection and its dropout.
    fn output_t(&self, context: &Tensor, train: bool) -> Result<Tensor> {
        super::dropout(
            &self.output.forward(context)?,
            self.config.output_dropout,
            train,
        )
    }
}

/// Each key/value head repeated for the `groups` query heads that share it (transformers'
/// `repeat_kv`).
///
/// # Shapes
/// xs: `[batch, kv_heads, seq, head_dim]` → `[batch, kv_heads · groups, seq, head_dim]`
fn repeat_kv(xs: &Tensor, groups: i64) -> Result<Tensor> {
    if groups == 1 {
        return Ok(xs.shallow_clone());
    }
    let (batch, kv_heads, seq, head_dim) = xs.size4()?;
    Ok(xs
        .f_unsqueeze(2)?
        .f_expand([batch, kv_heads, groups, seq, head_dim], false)?
        .f_reshape([batch, kv_heads * groups, seq, head_dim])?)
}
