//! The post-norm transformer block of BERT, RoBERTa, MPNet and DistilBERT:
//! `x = LN(x + drop(attn(x)))`, then `x = LN(x + ffn(x))`.

use tch::{nn, Tensor};

use super::attention::{AttentionKeys, SelfAttention};
use super::embeddings::TokenEmbeddings;
use super::feed_forward::FeedForward;
use super::layer_norm::LayerNorm;
use super::mask::AttentionMask;
use super::token_layout::TokenLayout;
use super::Activation;
use crate::error::Result;
use crate::token_batch::TokenBatch;

/// Checkpoint names of a block's parts, relative to the layer (`encoder.layer.N.`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockKeys {
    pub attention: AttentionKeys,
    pub attention_norm: &'static str,
    pub ff_input: &'static str,
    pub ff_output: &'static str,
    pub output_norm: &'static str,
}

/// BERT's names, shared by RoBERTa and XLM-R.
pub(crate) const BERT_BLOCK_KEYS: BlockKeys = BlockKeys {
    attention: AttentionKeys {
        query: "attention.self.query",
        key: "attention.self.key",
        value: "attention.self.value",
        output: "attention.output.dense",
    },
    attention_norm: "attention.output.LayerNorm",
    ff_input: "intermediate.dense",
    ff_output: "output.dense",
    output_norm: "output.LayerNorm",
};

/// Hyper-parameters of one block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockConfig {
    pub hidden_size: i64,
    pub num_heads: i64,
    pub intermediate_size: i64,
    pub activation: Activation,
    pub layer_norm_eps: f64,
    /// After the feed-forward block, and after the attention output unless
    /// `attention_output_dropout` says otherwise.
    pub hidden_dropout: f64,
    /// On the attention probabilities.
    pub attention_dropout: f64,
    /// Dropout on the attention output before the residual (BERT, MPNet: `hidden_dropout`;
    /// DistilBERT: none).
    pub attention_output_dropout: f64,
    pub init_std: f64,
}

#[derive(Debug)]
pub(crate) struct PostNormBlock {
    attention: SelfAttention,
    attention_norm: LayerNorm,
    attention_output_dropout: f64,
    feed_forward: FeedForward,
    output_norm: LayerNorm,
}

impl PostNormBlock {
    /// Variables are created in checkpoint order: q, k, v, o, attention norm, ffn, norm.
    pub(crate) fn new(p: &nn::Path, keys: &BlockKeys, config: &BlockConfig) -> Self {
        let hidden = config.hidden_size;
        let attention = SelfAttention::new(
            p,
            &keys.attention,
            hidden,
            config.num_heads,
            config.attention_dropout,
            config.init_std,
        );
        let attention_norm = LayerNorm::new(
            super::sub(p, keys.attention_norm),
            hidden,
            config.layer_norm_eps,
        );
        let feed_forward = FeedForward::new(
            p,
            (keys.ff_input, keys.ff_output),
            hidden,
            config.intermediate_size,
            config.activation,
            config.hidden_dropout,
            config.init_std,
        );
        let output_norm = LayerNorm::new(
            super::sub(p, keys.output_norm),
            hidden,
            config.layer_norm_eps,
        );
        PostNormBlock {
            attention,
            attention_norm,
            attention_output_dropout: config.attention_output_dropout,
            feed_forward,
            output_norm,
        }
    }

    /// # Shapes
    /// xs: `[batch, seq, hidden]` → `[batch, seq, hidden]`
    pub(crate) fn forward_t(
        &self,
        xs: &Tensor,
        mask: &AttentionMask,
        train: bool,
    ) -> Result<Tensor> {
        let xs = self.self_attention_t(xs, mask, train)?;
        self.feed_forward_t(&xs, train)
    }

    /// As [`forward_t`](Self::forward_t) over the real tokens of several chunks at once (see
    /// [`TokenLayout`]).
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
        let xs = self.self_attention_tokens(xs, layout, masks, train)?;
        self.feed_forward_t(&xs, train)
    }

    /// The self-attention half alone: `LN(x + drop(attn(x)))`. A decoder layer puts its
    /// cross-attention between this and [`feed_forward_t`](Self::feed_forward_t).
    ///
    /// # Shapes
    /// xs: `[batch, seq, hidden]` → `[batch, seq, hidden]`
    pub(crate) fn self_attention_t(
        &self,
        xs: &Tensor,
        mask: &AttentionMask,
        train: bool,
    ) -> Result<Tensor> {
        let attended = self.attention.forward_t(xs, mask, train)?;
        self.attention_residual(attended, xs, train)
    }

    /// [`self_attention_t`](Self::self_attention_t) over the real tokens of several chunks
    /// at once (see [`TokenLayout`]).
    ///
    /// # Shapes
    /// xs: `[tokens, hidden]`, one mask per chunk of `layout` → `[tokens, hidden]`
    pub(crate) fn self_attention_tokens(
        &self,
        xs: &Tensor,
        layout: &TokenLayout,
        masks: &[AttentionMask],
        train: bool,
    ) -> Result<Tensor> {
        let attended = self.attention.forward_tokens(xs, layout, masks, train)?;
        self.attention_residual(attended, xs, train)
    }

    /// The feed-forward half alone: `LN(x + ffn(x))`.
    ///
    /// # Shapes
    /// xs: `[…, hidden]` → `[…, hidden]`
    pub(crate) fn feed_forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let ff = self.feed_forward.forward_t(xs, train)?;
        self.output_norm.forward(&ff.f_add(xs)?)
    }

    fn attention_residual(&self, mut attended: Tensor, xs: &Tensor, train: bool) -> Result<Tensor> {
        if self.attention_output_dropout > 0.0 {
            attended = super::dropout(&attended, self.attention_output_dropout, train)?;
        }
        self.attention_norm.forward(&attended.f_add(xs)?)
    }
}

/// A stack of post-norm blocks over the real tokens of several chunks at once: each chunk
/// embedded and masked (`mask(chunk, seq, embedded)`), then every layer run with only
/// attention chunk by chunk and every other part over all the step's tokens as one matrix.
/// Returns each chunk's token embeddings, padding positions zero.
///
/// # Shapes
/// each chunk `[batch_i, seq_i]` → each `[batch_i, seq_i, hidden]`
pub(crate) fn forward_chunks_t(
    layers: &[PostNormBlock],
    embeddings: &TokenEmbeddings,
    chunks: &[TokenBatch],
    max_tokens: i64,
    train: bool,
    mask: impl Fn(&TokenBatch, i64, &Tensor) -> Result<AttentionMask>,
) -> Result<Vec<Tensor>> {
    let mut embedded = Vec::with_capacity(chunks.len());
    let mut masks = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let (_, seq) = chunk.check_length(max_tokens)?;
        let xs = embeddings.forward_t(chunk, train)?;
        masks.push(mask(chunk, seq, &xs)?);
        embedded.push(xs);
    }
    let layout = TokenLayout::new(chunks.iter().map(|c| &c.attention_mask))?;
    let mut xs = layout.to_tokens(&embedded)?;
    for layer in layers {
        xs = layer.forward_tokens(&xs, &layout, &masks, train)?;
    }
    layout.to_padded(&xs)
}
