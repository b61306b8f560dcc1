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
        let (batch, seq, _) = xs.size3().map_err(|_| Error::Shape {
            context: "rotary self-attention expects hidden states [batch, seq, hidden]",
            left: xs.size(),
            right: vec![],
        })?;
        let c = &self.config;
        let (mut q, mut k, v) = self.project(xs, batch, seq)?;
        if let Some((q_norm, k_norm)) = &self.query_key_norms {
            q = q_norm.forward(&q)?;
            k = k_norm.forward(&k)?;
        }
        let q = angles.apply(&q.f_transpose(1, 2)?)?;
        let k = repeat_kv(
            &angles.apply(&k.f_transpose(1, 2)?)?,
            c.num_heads / c.num_kv_heads,
        )?;
        let v = repeat_kv(&v.f_transpose(1, 2)?, c.num_heads / c.num_kv_heads)?;
        let dropout = if train { c.attention_dropout } else { 0.0 };
        let context = scaled_dot_product(&q, &k, &v, mask, dropout)?;
        let context =
            context
                .f_transpose(1, 2)?
                .f_reshape([batch, seq, c.num_heads * c.head_dim])?;
        Ok(self
            .output
            .forward(&context)?
            .f_dropout(c.output_dropout, train)?)
    }
}

impl RotaryAttention {
    /// Queries, keys and values, split into heads.
    ///
    /// # Shapes
    /// xs: `[batch, seq, hidden]` → q `[batch, seq, heads, head_dim]`, k and v
    /// `[batch, seq, kv_heads, head_dim]`
    fn project(&self, xs: &Tensor, batch: i64, seq: i64) -> Result<(Tensor, Tensor, Tensor)> {
        let c = &self.config;
        let split = |t: Tensor, heads: i64| -> Result<Tensor> {
            Ok(t.f_view([batch, seq, heads, c.head_dim])?)
        };
        match &self.projections {
            Projections::Fused(qkv) => {
                let parts = qkv
                    .forward(xs)?
                    .f_view([batch, seq, 3, c.num_heads, c.head_dim])?;
                let mut parts = parts.f_unbind(2)?.into_iter();
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(q), Some(k), Some(v)) => Ok((q, k, v)),
                    _ => Err(Error::InvalidInput(
                        "a fused qkv projection did not split in three".into(),
                    )),
                }
            }
            Projections::Separate { q, k, v } => Ok((
                split(q.forward(xs)?, c.num_heads)?,
                split(k.forward(xs)?, c.num_kv_heads)?,
                split(v.forward(xs)?, c.num_kv_heads)?,
            )),
        }
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
