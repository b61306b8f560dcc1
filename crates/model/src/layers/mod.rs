//! Building blocks shared by every encoder architecture, written once: dense and embedding
//! layers named like PyTorch's, LayerNorm, position ids, attention masks, self-attention with an
//! optional additive bias, the feed-forward block and the post-norm transformer block that
//! BERT, RoBERTa, MPNet and DistilBERT are made of; and RMSNorm, rotary embeddings, rotary
//! self-attention (fused or separate projections, grouped-query), gated feed-forwards,
//! windowed and causal masks and the pre-norm block that ModernBERT and Qwen3 are made of.
//! An architecture supplies its checkpoint key names and hyper-parameters; the arithmetic
//! lives here.
//!
//! Every forward here goes through tch's fallible `f_*` calls, so a bad input is an error, not
//! a panic.

mod activation;
pub(crate) mod attention;
pub(crate) mod cross_attention;
mod dropout;
pub(crate) mod embeddings;
pub(crate) mod feed_forward;
pub(crate) mod gated_feed_forward;
pub(crate) mod layer_norm;
pub(crate) mod linear;
pub(crate) mod lm_head;
pub(crate) mod mask;
pub(crate) mod positions;
pub(crate) mod post_norm_block;
pub(crate) mod pre_norm_block;
pub(crate) mod rms_norm;
pub(crate) mod rotary;
pub(crate) mod rotary_attention;
pub(crate) mod token_layout;

pub use activation::Activation;

pub(crate) use dropout::dropout;

use tch::nn;

/// The variable path of a dotted checkpoint key relative to `p` (`"attention.self.query"`).
pub(crate) fn sub<'a>(p: &nn::Path<'a>, dotted: &str) -> nn::Path<'a> {
    dotted
        .split('.')
        .filter(|part| !part.is_empty())
        .fold(p.clone(), |path, part| &path / part)
}
