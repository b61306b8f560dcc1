//! ModernBERT: token embeddings + LayerNorm (no position table), pre-norm blocks with rotary
//! self-attention from a fused `Wqkv`, global attention on every
//! `global_attn_every_n_layers`-th layer and a sliding window elsewhere (each kind with its
//! own rotary theta), GeGLU feed-forwards, a final LayerNorm. No biases by default.

mod config;

use tch::{nn, Kind, Tensor};

pub use config::{LayerType, ModernBertConfig, ModernBertRope, RopeParameters};

use crate::encoder::shapes::{dim, tensor, ExpectedShapes};
use crate::error::Result;
use crate::layers::embeddings::Embedding;
use crate::layers::gated_feed_forward::{GateKeys, GatedConfig};
use crate::layers::mask::AttentionMask;
use crate::layers::pre_norm_block::{
    self, Norm, NormKind, PreNormBlock, PreNormConfig, PreNormKeys,
};
use crate::layers::rotary::{RotaryAngles, RotaryEmbedding, RotationPrecision};
use crate::layers::rotary_attention::{RotaryAttentionConfig, RotaryAttentionKeys};
use crate::token_batch::TokenBatch;
use crate::weights::KeyMap;

/// ModernBERT's checkpoint names: `model.` under task heads.
pub(crate) const KEYS: KeyMap = KeyMap {
    architecture: "ModernBERT",
    prefix: "model.",
    probe: "embeddings.tok_embeddings.weight",
};

const BLOCK_KEYS: PreNormKeys = PreNormKeys {
    attention_norm: "attn_norm",
    attention: RotaryAttentionKeys::Fused {
        qkv: "attn.Wqkv",
        output: "attn.Wo",
    },
    ff_norm: "mlp_norm",
    feed_forward: GateKeys::Fused {
        input: "mlp.Wi",
        output: "mlp.Wo",
    },
};

/// The ModernBERT encoder.
#[derive(Debug)]
pub struct ModernBertModel {
    tok_embeddings: Embedding,
    embedding_norm: Norm,
    layers: Vec<(LayerType, PreNormBlock)>,
    final_norm: Norm,
    global_rotary: RotaryEmbedding,
    local_rotary: RotaryEmbedding,
    config: ModernBertConfig,
}

impl ModernBertModel {
    /// Creates the variables under `p` with Hugging Face names (`embeddings.tok_embeddings`,
    /// `embeddings.norm`, `layers.N.…`, `final_norm`).
    pub fn new(p: &nn::Path, config: &ModernBertConfig) -> Self {
        let (h, std) = (config.hidden_size, config.initializer_range);
        let norm = NormKind::Layer {
            eps: config.norm_eps,
            bias: config.norm_bias,
        };
        let embeddings = p / "embeddings";
        let padding_idx = config.pad_token_id.unwrap_or(-1);
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let block = block_config(config, norm, i > 0);
                let layer = PreNormBlock::new(&(p / "layers" / i), &BLOCK_KEYS, &block);
                (config.layer_type(i), layer)
            })
            .collect();
        ModernBertModel {
            tok_embeddings: Embedding::vocabulary(
                &embeddings / "tok_embeddings",
                config.vocab_size,
                h,
                std,
                padding_idx,
            ),
            embedding_norm: Norm::new(&embeddings / "norm", h, norm),
            layers,
            final_norm: Norm::new(p / "final_norm", h, norm),
            global_rotary: rotary(config, LayerType::FullAttention),
            local_rotary: rotary(config, LayerType::SlidingAttention),
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &ModernBertConfig {
        &self.config
    }

    /// The longest sequence the model was built for (`max_position_embeddings`).
    pub fn max_tokens(&self) -> i64 {
        self.config.max_position_embeddings
    }

    /// `token_type_ids` are ignored: ModernBERT has none. Positions are 0, 1, … for every row
    /// (transformers' default `position_ids`), so rows are padded on the right.
    ///
    /// # Shapes
    /// ids, mask: `[batch, seq]` → token embeddings `[batch, seq, hidden]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        let (_, seq) = batch.check_length(self.max_tokens())?;
        let _span = tracing::trace_span!("modernbert_forward", seq).entered();
        let (mut xs, attention) = self.embed(batch, seq, train)?;
        for (layer_type, layer) in &self.layers {
            let (angles, mask) = attention.for_layer(*layer_type);
            xs = layer.forward_t(&xs, angles, mask, train)?;
        }
        self.final_norm.forward(&xs)
    }

    /// As [`forward_t`](Self::forward_t) for the chunks of one length-packed training step:
    /// every layer runs over all the chunks' real tokens as one matrix, attention chunk by
    /// chunk (see `layers::token_layout`). Padding positions come back zero.
    ///
    /// # Shapes
    /// each chunk `[batch_i, seq_i]` → each `[batch_i, seq_i, hidden]`
    pub fn forward_chunks_t(&self, chunks: &[TokenBatch], train: bool) -> Result<Vec<Tensor>> {
        pre_norm_block::forward_chunks_t(
            chunks,
            self.max_tokens(),
            |chunk, seq| self.embed(chunk, seq, train),
            self.layers.iter().map(|(kind, layer)| (*kind, layer)),
            Attention::for_layer,
            &self.final_norm,
            train,
        )
    }

    /// Normalised token embeddings of a batch, and the angles and masks its layers attend
    /// under.
    fn embed(&self, batch: &TokenBatch, seq: i64, train: bool) -> Result<(Tensor, Attention)> {
        let words = self.tok_embeddings.forward(&batch.input_ids)?;
        let xs = crate::layers::dropout(
            &self.embedding_norm.forward(&words)?,
            self.config.embedding_dropout,
            train,
        )?;
        let positions = Tensor::f_arange(seq, (Kind::Int64, xs.device()))?.f_unsqueeze(0)?;
        let attention = Attention {
            global: (
                self.global_rotary.angles(&positions, xs.kind())?,
                AttentionMask::padding(&batch.attention_mask)?,
            ),
            local: (
                self.local_rotary.angles(&positions, xs.kind())?,
                AttentionMask::padding_within(&batch.attention_mask, self.config.half_window())?,
            ),
        };
        Ok((xs, attention))
    }
}

/// What a batch's layers attend under: the global layers' rotary angles and padding mask, and
/// the sliding-window layers' angles and windowed mask.
struct Attention {
    global: (RotaryAngles, AttentionMask),
    local: (RotaryAngles, AttentionMask),
}

impl Attention {
    fn for_layer(&self, layer_type: LayerType) -> (&RotaryAngles, &AttentionMask) {
        let (angles, mask) = match layer_type {
            LayerType::FullAttention => &self.global,
            LayerType::SlidingAttention => &self.local,
        };
        (angles, mask)
    }
}

fn rotary(config: &ModernBertConfig, layer_type: LayerType) -> RotaryEmbedding {
    RotaryEmbedding::new(
        config.rope_theta(layer_type),
        config.head_dim(),
        RotationPrecision::Float32,
    )
}

fn block_config(config: &ModernBertConfig, norm: NormKind, attention_norm: bool) -> PreNormConfig {
    let std = config.initializer_range;
    PreNormConfig {
        norm,
        attention_norm,
        attention: RotaryAttentionConfig {
            hidden: config.hidden_size,
            num_heads: config.num_attention_heads,
            num_kv_heads: config.num_attention_heads,
            head_dim: config.head_dim(),
            bias: config.attention_bias,
            attention_dropout: config.attention_dropout,
            output_dropout: config.attention_dropout,
            norm_eps: config.norm_eps,
            init_std: std,
        },
        feed_forward: GatedConfig {
            hidden: config.hidden_size,
            intermediate: config.intermediate_size,
            activation: config.hidden_activation,
            bias: config.mlp_bias,
            dropout: config.mlp_dropout,
            init_std: std,
        },
    }
}

/// The tensors ModernBERT's size keys set (its positions are rotary: no table).
pub(crate) fn expected_shapes(c: &ModernBertConfig) -> ExpectedShapes {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let hidden = dim("hidden_size", h);
    let inner = dim("intermediate_size", i);
    ExpectedShapes {
        layers: dim("num_hidden_layers", c.num_hidden_layers),
        layer_prefix: "layers.",
        model: vec![tensor(
            "embeddings.tok_embeddings.weight",
            &[dim("vocab_size", c.vocab_size), hidden],
        )],
        layer: vec![
            tensor(
                "attn.Wqkv.weight",
                &[dim("3 × hidden_size", h.saturating_mul(3)), hidden],
            ),
            tensor("attn.Wo.weight", &[hidden, hidden]),
            tensor(
                "mlp.Wi.weight",
                &[dim("2 × intermediate_size", i.saturating_mul(2)), hidden],
            ),
            tensor("mlp.Wo.weight", &[hidden, inner]),
        ],
    }
}
