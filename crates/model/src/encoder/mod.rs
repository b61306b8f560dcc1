//! The encoder seam: one enum over the architectures, chosen by `model_type`. Everything
//! downstream (Pooling, Normalize, packing, encode, losses, the trainer) calls
//! [`Encoder::forward_t`] and never looks inside.
//!
//! A new architecture is a folder (`src/<arch>/`: config, model, key names) built from
//! `crate::layers`, a variant here and one in [`EncoderConfig`]. ModernBERT's and Qwen3's
//! rotary embeddings, RMSNorm, gated feed-forwards and windowed or causal masks are layers
//! there, and Qwen3's left padding is the tokenizer's business: none of them changed this
//! interface.

mod config;
pub(crate) mod shapes;

use tch::{nn, Tensor};

pub use config::{EncoderConfig, SUPPORTED_MODEL_TYPES};

use crate::bert::BertModel;
use crate::distilbert::DistilBertModel;
use crate::error::Result;
use crate::modernbert::ModernBertModel;
use crate::mpnet::MpnetModel;
use crate::qwen3::Qwen3Model;
use crate::roberta::RobertaModel;
use crate::token_batch::TokenBatch;
use crate::weights::KeyMap;

/// A transformer encoder of any supported architecture.
#[derive(Debug)]
pub enum Encoder {
    Bert(BertModel),
    Roberta(RobertaModel),
    Mpnet(MpnetModel),
    DistilBert(DistilBertModel),
    ModernBert(ModernBertModel),
    Qwen3(Qwen3Model),
}

impl Encoder {
    /// Creates the architecture's variables under `p` with its Hugging Face key names.
    /// `with_pooler` adds the `pooler.dense` layer of architectures that have one (only so
    /// that a checkpoint holding it round-trips).
    pub fn new(p: &nn::Path, config: &EncoderConfig, with_pooler: bool) -> Self {
        match config {
            EncoderConfig::Bert(c) => Encoder::Bert(BertModel::new(p, c, with_pooler)),
            EncoderConfig::Roberta(c) => Encoder::Roberta(RobertaModel::new(p, c, with_pooler)),
            EncoderConfig::Mpnet(c) => Encoder::Mpnet(MpnetModel::new(p, c, with_pooler)),
            EncoderConfig::DistilBert(c) => Encoder::DistilBert(DistilBertModel::new(p, c)),
            EncoderConfig::ModernBert(c) => Encoder::ModernBert(ModernBertModel::new(p, c)),
            EncoderConfig::Qwen3(c) => Encoder::Qwen3(Qwen3Model::new(p, c)),
        }
    }

    /// Token embeddings; dropout acts only when `train`.
    ///
    /// # Shapes
    /// ids, mask, type ids: `[batch, seq]` → `[batch, seq, hidden]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        match self {
            Encoder::Bert(m) => m.forward_t(batch, train),
            Encoder::Roberta(m) => m.forward_t(batch, train),
            Encoder::Mpnet(m) => m.forward_t(batch, train),
            Encoder::DistilBert(m) => m.forward_t(batch, train),
            Encoder::ModernBert(m) => m.forward_t(batch, train),
            Encoder::Qwen3(m) => m.forward_t(batch, train),
        }
    }

    /// Token embeddings of the chunks of one length-packed training step, as `forward_t`
    /// gives each chunk (up to float rounding; padding positions may differ, and are masked
    /// downstream). Every encoder runs every layer but attention once over all the chunks' real
    /// tokens (see `layers::token_layout`).
    ///
    /// # Shapes
    /// each chunk `[batch_i, seq_i]` → each `[batch_i, seq_i, hidden]`
    pub fn forward_chunks_t(&self, chunks: &[TokenBatch], train: bool) -> Result<Vec<Tensor>> {
        match self {
            Encoder::Bert(m) => m.forward_chunks_t(chunks, train),
            Encoder::Roberta(m) => m.forward_chunks_t(chunks, train),
            Encoder::Mpnet(m) => m.forward_chunks_t(chunks, train),
            Encoder::DistilBert(m) => m.forward_chunks_t(chunks, train),
            Encoder::ModernBert(m) => m.forward_chunks_t(chunks, train),
            Encoder::Qwen3(m) => m.forward_chunks_t(chunks, train),
        }
    }

    /// The longest token sequence the encoder accepts.
    pub fn max_tokens(&self) -> i64 {
        match self {
            Encoder::Bert(m) => m.max_tokens(),
            Encoder::Roberta(m) => m.max_tokens(),
            Encoder::Mpnet(m) => m.max_tokens(),
            Encoder::DistilBert(m) => m.max_tokens(),
            Encoder::ModernBert(m) => m.max_tokens(),
            Encoder::Qwen3(m) => m.max_tokens(),
        }
    }

    /// How the weights are named in checkpoints.
    pub fn key_map(&self) -> KeyMap {
        match self {
            Encoder::Bert(_) => crate::bert::KEYS,
            Encoder::Roberta(_) => crate::roberta::KEYS,
            Encoder::Mpnet(_) => crate::mpnet::KEYS,
            Encoder::DistilBert(_) => crate::distilbert::KEYS,
            Encoder::ModernBert(_) => crate::modernbert::KEYS,
            Encoder::Qwen3(_) => crate::qwen3::KEYS,
        }
    }
}
