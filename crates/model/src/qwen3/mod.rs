//! Qwen3 as an embedding model (Qwen3-Embedding): token embeddings, pre-norm blocks of causal
//! rotary self-attention with grouped key/value heads, an explicit `head_dim` and per-head
//! RMSNorm on queries and keys, SwiGLU feed-forwards (`down(silu(gate) · up)`), RMSNorm
//! everywhere (in fp32), a final `norm`. Its tokenizers pad on the left and its pooling is the
//! last real token.

mod config;

use tch::{nn, Kind, Tensor};

pub use config::{Qwen3Config, Qwen3Rope};

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

/// Qwen3's checkpoint names: `model.` under the causal-LM head.
pub(crate) const KEYS: KeyMap = KeyMap {
    architecture: "Qwen3",
    prefix: "model.",
    probe: "embed_tokens.weight",
};

const BLOCK_KEYS: PreNormKeys = PreNormKeys {
    attention_norm: "input_layernorm",
    attention: RotaryAttentionKeys::Separate {
        query: "self_attn.q_proj",
        key: "self_attn.k_proj",
        value: "self_attn.v_proj",
        output: "self_attn.o_proj",
        query_norm: Some("self_attn.q_norm"),
        key_norm: Some("self_attn.k_norm"),
    },
    ff_norm: "post_attention_layernorm",
    feed_forward: GateKeys::Split {
        gate: "mlp.gate_proj",
        up: "mlp.up_proj",
        output: "mlp.down_proj",
    },
};

/// The Qwen3 decoder, used as an encoder (no cache, no LM head).
#[derive(Debug)]
pub struct Qwen3Model {
    embed_tokens: Embedding,
    layers: Vec<PreNormBlock>,
    norm: Norm,
    rotary: RotaryEmbedding,
    config: Qwen3Config,
}

impl Qwen3Model {
    /// Creates the variables under `p` with Hugging Face names (`embed_tokens`, `layers.N.…`,
    /// `norm`).
    pub fn new(p: &nn::Path, config: &Qwen3Config) -> Self {
        let block = block_config(config);
        let layers = (0..config.num_hidden_layers)
            .map(|i| PreNormBlock::new(&(p / "layers" / i), &BLOCK_KEYS, &block))
            .collect();
        Qwen3Model {
            embed_tokens: Embedding::vocabulary(
                p / "embed_tokens",
                config.vocab_size,
                config.hidden_size,
                config.initializer_range,
                config.pad_token_id.unwrap_or(-1),
            ),
            layers,
            norm: Norm::new(p / "norm", config.hidden_size, block.norm),
            rotary: RotaryEmbedding::new(config.theta(), config.head_dim, RotationPrecision::Input),
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &Qwen3Config {
        &self.config
    }

    /// The longest sequence the model was built for (`max_position_embeddings`).
    pub fn max_tokens(&self) -> i64 {
        self.config.max_position_embeddings
    }

    /// Causal attention over the real tokens (the mask comes from the encoding, never from
    /// `ids != pad`: the pad id is `<|endoftext|>`, which texts end with). Positions are
    /// 0, 1, … over the padded row, as transformers numbers them; rotary scores depend only on
    /// distances, so left padding changes a row's embeddings only by float rounding.
    /// `token_type_ids` are ignored.
    ///
    /// # Shapes
    /// ids, mask: `[batch, seq]` → token embeddings `[batch, seq, hidden]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        let (_, seq) = batch.check_length(self.max_tokens())?;
        let _span = tracing::trace_span!("qwen3_forward", seq).entered();
        let (mut xs, (angles, mask)) = self.embed(batch, seq)?;
        for layer in &self.layers {
            xs = layer.forward_t(&xs, &angles, &mask, train)?;
        }
        self.norm.forward(&xs)
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
            |chunk, seq| self.embed(chunk, seq),
            self.layers.iter().map(|layer| ((), layer)),
            |(angles, mask), ()| (angles, mask),
            &self.norm,
            train,
        )
    }

    /// Token embeddings of a batch, its rotary angles and its causal mask.
    fn embed(
        &self,
        batch: &TokenBatch,
        seq: i64,
    ) -> Result<(Tensor, (RotaryAngles, AttentionMask))> {
        let xs = self.embed_tokens.forward(&batch.input_ids)?;
        let positions = Tensor::f_arange(seq, (Kind::Int64, xs.device()))?.f_unsqueeze(0)?;
        let angles = self.rotary.angles(&positions, xs.kind())?;
        let mask = AttentionMask::causal(&batch.attention_mask)?;
        Ok((xs, (angles, mask)))
    }
}

fn block_config(config: &Qwen3Config) -> PreNormConfig {
    let std = config.initializer_range;
    PreNormConfig {
        norm: NormKind::Rms {
            eps: config.rms_norm_eps,
        },
        attention_norm: true,
        attention: RotaryAttentionConfig {
            hidden: config.hidden_size,
            num_heads: config.num_attention_heads,
            num_kv_heads: config.kv_heads(),
            head_dim: config.head_dim,
            bias: config.attention_bias,
            attention_dropout: config.attention_dropout,
            output_dropout: 0.0,
            norm_eps: config.rms_norm_eps,
            init_std: std,
        },
        feed_forward: GatedConfig {
            hidden: config.hidden_size,
            intermediate: config.intermediate_size,
            activation: config.hidden_act,
            bias: false,
            dropout: 0.0,
            init_std: std,
        },
    }
}

/// The tensors Qwen3's size keys set (its positions are rotary: no table).
pub(crate) fn expected_shapes(c: &Qwen3Config) -> ExpectedShapes {
    let hidden = dim("hidden_size", c.hidden_size);
    let inner = dim("intermediate_size", c.intermediate_size);
    let q = dim(
        "num_attention_heads × head_dim",
        c.num_attention_heads.saturating_mul(c.head_dim),
    );
    let kv = dim(
        "num_key_value_heads × head_dim",
        c.kv_heads().saturating_mul(c.head_dim),
    );
    ExpectedShapes {
        layers: dim("num_hidden_layers", c.num_hidden_layers),
        layer_prefix: "layers.",
        model: vec![tensor(
            "embed_tokens.weight",
            &[dim("vocab_size", c.vocab_size), hidden],
        )],
        layer: vec![
            tensor("self_attn.q_proj.weight", &[q, hidden]),
            tensor("self_attn.k_proj.weight", &[kv, hidden]),
            tensor("self_attn.v_proj.weight", &[kv, hidden]),
            tensor("self_attn.o_proj.weight", &[hidden, q]),
            tensor("mlp.gate_proj.weight", &[inner, hidden]),
            tensor("mlp.up_proj.weight", &[inner, hidden]),
            tensor("mlp.down_proj.weight", &[hidden, inner]),
        ],
    }
}
