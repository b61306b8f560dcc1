//! The pre-norm transformer block of ModernBERT and Qwen3:
//! `x = x + attn(norm₁(x))`, then `x = x + ffn(norm₂(x))`.

use tch::{nn, Tensor};

use super::gated_feed_forward::{GateKeys, GatedConfig, GatedFeedForward};
use super::layer_norm::LayerNorm;
use super::mask::AttentionMask;
use super::rms_norm::RmsNorm;
use super::rotary::RotaryAngles;
use super::rotary_attention::{RotaryAttention, RotaryAttentionConfig, RotaryAttentionKeys};
use super::token_layout::TokenLayout;
use crate::error::Result;
use crate::token_batch::TokenBatch;

/// Which normalisation a block uses, and its parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NormKind {
    /// LayerNorm, with or without a bias (ModernBERT: `norm_bias`).
    Layer { eps: f64, bias: bool },
    /// RMSNorm (Qwen3).
    Rms { eps: f64 },
}

#[derive(Debug)]
pub(crate) enum Norm {
    Layer(LayerNorm),
    Rms(RmsNorm),
}

impl Norm {
    pub(crate) fn new(p: nn::Path, dim: i64, kind: NormKind) -> Self {
        match kind {
            NormKind::Layer { eps, bias } => Norm::Layer(LayerNorm::with_bias(p, dim, eps, bias)),
            NormKind::Rms { eps } => Norm::Rms(RmsNorm::new(p, dim, eps)),
        }
    }

    /// # Shapes
    /// xs: `[…, dim]` → `[…, dim]`
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        match self {
            Norm::Layer(n) => n.forward(xs),
            Norm::Rms(n) => n.forward(xs),
        }
    }
}

/// Checkpoint names of a block's parts, relative to the layer (`layers.N.`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreNormKeys {
    pub attention_norm: &'static str,
    pub attention: RotaryAttentionKeys,
    pub ff_norm: &'static str,
    pub feed_forward: GateKeys,
}

/// Hyper-parameters of one block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreNormConfig {
    pub norm: NormKind,
    /// false: the attention input is not normalised (ModernBERT's layer 0, whose embeddings
    /// were just normalised).
    pub attention_norm: bool,
    pub attention: RotaryAttentionConfig,
    pub feed_forward: GatedConfig,
}

#[derive(Debug)]
pub(crate) struct PreNormBlock {
    attention_norm: Option<Norm>,
    attention: RotaryAttention,
    ff_norm: Norm,
    feed_forward: GatedFeedForward,
}

impl PreNormBlock {
    pub(crate) fn new(p: &nn::Path, keys: &PreNormKeys, config: &PreNormConfig) -> Self {
        let hidden = config.attention.hidden;
        let norm = |name: &str| Norm::new(super::sub(p, name), hidden, config.norm);
        PreNormBlock {
            attention_norm: config.attention_norm.then(|| norm(keys.attention_norm)),
            attention: RotaryAttention::new(p, &keys.attention, &config.attention),
            ff_norm: norm(keys.ff_norm),
            feed_forward: GatedFeedForward::new(p, keys.feed_forward, &config.feed_forward),
        }
    }

    /// # Shapes
    /// xs: `[batch, seq, hidden]` → `[batch, seq, hidden]`
    pub(crate) fn forward_t(
        &self,
        xs: &Tensor,
        angles: &RotaryAngles,
        mask: &AttentionMask,
        train: bool,
    ) -> Result<Tensor> {
        let attended = self
            .attention
            .forward_t(&self.attention_input(xs)?, angles, mask, train)?;
        self.after_attention(xs, &attended, train)
    }

    /// As [`forward_t`](Self::forward_t) over the real tokens of several chunks at once (see
    /// [`TokenLayout`]), each chunk attending under its own angles and mask.
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
        let attended =
            self.attention
                .forward_tokens(&self.attention_input(xs)?, layout, chunks, train)?;
        self.after_attention(xs, &attended, train)
    }

    fn attention_input(&self, xs: &Tensor) -> Result<Tensor> {
        match &self.attention_norm {
            Some(norm) => norm.forward(xs),
            None => Ok(xs.shallow_clone()),
        }
    }

    /// The residual add, then the feed-forward half; position-wise, so the same for padded
    /// chunks and token matrices.
    fn after_attention(&self, xs: &Tensor, attended: &Tensor, train: bool) -> Result<Tensor> {
        let xs = xs.f_add(attended)?;
        let ff = self
            .feed_forward
            .forward_t(&self.ff_norm.forward(&xs)?, train)?;
        Ok(xs.f_add(&ff)?)
    }
}

/// A stack of pre-norm blocks over the real tokens of several chunks at once: each chunk
/// embedded by `embed(chunk, seq)`, which also gives what its layers attend under; every layer
/// then runs over all the step's tokens as one matrix, attention chunk by chunk under the angles
/// and mask `attend(chunk's context, layer's kind)` picks; then `final_norm`. Returns each
/// chunk's token embeddings, padding positions zero.
///
/// # Shapes
/// each chunk `[batch_i, seq_i]` → each `[batch_i, seq_i, hidden]`
pub(crate) fn forward_chunks_t<'a, C, K: Copy + 'a>(
    chunks: &[TokenBatch],
    max_tokens: i64,
    embed: impl Fn(&TokenBatch, i64) -> Result<(Tensor, C)>,
    layers: impl IntoIterator<Item = (K, &'a PreNormBlock)>,
    attend: impl Fn(&C, K) -> (&RotaryAngles, &AttentionMask),
    final_norm: &Norm,
    train: bool,
) -> Result<Vec<Tensor>> {
    let mut embedded = Vec::with_capacity(chunks.len());
    let mut contexts = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let (_, seq) = chunk.check_length(max_tokens)?;
        let (xs, context) = embed(chunk, seq)?;
        embedded.push(xs);
        contexts.push(context);
    }
    let layout = TokenLayout::new(chunks.iter().map(|c| &c.attention_mask))?;
    let mut xs = layout.to_tokens(&embedded)?;
    for (kind, layer) in layers {
        let per_chunk: Vec<_> = contexts.iter().map(|c| attend(c, kind)).collect();
        xs = layer.forward_tokens(&xs, &layout, &per_chunk, train)?;
    }
    layout.to_padded(&final_norm.forward(&xs)?)
}
