//! MPNet: BERT-like post-norm blocks without token types, positions numbered from
//! `padding_idx + 1` (= 2), and one relative position bias shared by every layer.

mod config;
mod relative_bias;

use tch::{nn, Tensor};

pub use config::MpnetConfig;

use crate::encoder::shapes::{dim, post_norm_layer, tensor, ExpectedShapes};
use crate::error::Result;
use crate::layers::attention::AttentionKeys;
use crate::layers::embeddings::{EmbeddingKeys, EmbeddingsConfig, TokenEmbeddings};
use crate::layers::linear::Linear;
use crate::layers::mask::AttentionMask;
use crate::layers::positions::PositionIds;
use crate::layers::post_norm_block::{self, BlockConfig, BlockKeys, PostNormBlock};
use crate::token_batch::TokenBatch;
use crate::weights::KeyMap;

use relative_bias::RelativePositionBias;

/// transformers' `MPNetEmbeddings.padding_idx`: fixed, whatever `pad_token_id` says.
pub(crate) const PADDING_IDX: i64 = 1;

/// MPNet's checkpoint names: `mpnet.` under task heads.
pub(crate) const KEYS: KeyMap = KeyMap {
    architecture: "MPNet",
    prefix: "mpnet.",
    probe: "embeddings.word_embeddings.weight",
};

const EMBEDDING_KEYS: EmbeddingKeys = EmbeddingKeys {
    word: "word_embeddings",
    position: Some("position_embeddings"),
    token_type: None,
    norm: "LayerNorm",
};

const BLOCK_KEYS: BlockKeys = BlockKeys {
    attention: AttentionKeys {
        query: "attention.attn.q",
        key: "attention.attn.k",
        value: "attention.attn.v",
        output: "attention.attn.o",
    },
    attention_norm: "attention.LayerNorm",
    ff_input: "intermediate.dense",
    ff_output: "output.dense",
    output_norm: "output.LayerNorm",
};

/// The MPNet encoder; as for BERT, the pooler is kept only for checkpoint round trips.
#[derive(Debug)]
pub struct MpnetModel {
    embeddings: TokenEmbeddings,
    layers: Vec<PostNormBlock>,
    relative_bias: RelativePositionBias,
    config: MpnetConfig,
}

impl MpnetModel {
    /// Creates the variables under `p` with Hugging Face names (`embeddings.…`,
    /// `encoder.layer.N.…`, `encoder.relative_attention_bias`, `pooler.dense.…`).
    pub fn new(p: &nn::Path, config: &MpnetConfig, with_pooler: bool) -> Self {
        let std = config.initializer_range;
        let embeddings = TokenEmbeddings::new(
            &(p / "embeddings"),
            &EMBEDDING_KEYS,
            &embeddings_config(config),
        );
        let block = block_config(config);
        let layers = (0..config.num_hidden_layers)
            .map(|i| PostNormBlock::new(&(p / "encoder" / "layer" / i), &BLOCK_KEYS, &block))
            .collect();
        let relative_bias = RelativePositionBias::new(
            p / "encoder" / "relative_attention_bias",
            config.relative_attention_num_buckets,
            config.num_attention_heads,
            std,
        );
        if with_pooler {
            let h = config.hidden_size;
            let _pooler = Linear::new(p / "pooler" / "dense", h, h, std, true);
        }
        MpnetModel {
            embeddings,
            layers,
            relative_bias,
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &MpnetConfig {
        &self.config
    }

    /// The longest sequence the position table can number.
    pub fn max_tokens(&self) -> i64 {
        positions().max_tokens(self.config.max_position_embeddings)
    }

    /// `token_type_ids` are ignored: MPNet has none.
    ///
    /// # Shapes
    /// ids, mask: `[batch, seq]` → token embeddings `[batch, seq, hidden]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        let (_, seq) = batch.check_length(self.max_tokens())?;
        let _span = tracing::trace_span!("mpnet_forward", seq).entered();
        let xs = self.embeddings.forward_t(batch, train)?;
        let mask = self.mask(batch, seq, &xs)?;
        let mut xs = xs;
        for layer in &self.layers {
            xs = layer.forward_t(&xs, &mask, train)?;
        }
        Ok(xs)
    }

    /// See [`crate::bert::BertModel::forward_chunks_t`]; each chunk gets the relative bias of
    /// its own length.
    pub fn forward_chunks_t(&self, chunks: &[TokenBatch], train: bool) -> Result<Vec<Tensor>> {
        post_norm_block::forward_chunks_t(
            &self.layers,
            &self.embeddings,
            chunks,
            self.max_tokens(),
            train,
            |chunk, seq, xs| self.mask(chunk, seq, xs),
        )
    }

    /// The padding mask with the relative position bias added, in the embeddings' dtype.
    fn mask(&self, batch: &TokenBatch, seq: i64, xs: &Tensor) -> Result<AttentionMask> {
        let bias = self
            .relative_bias
            .forward(seq, xs.device())?
            .f_to_kind(xs.kind())?;
        AttentionMask::padding(&batch.attention_mask)?.with_bias(&bias)
    }
}

fn positions() -> PositionIds {
    PositionIds::AfterPadding {
        padding_idx: PADDING_IDX,
    }
}

fn embeddings_config(config: &MpnetConfig) -> EmbeddingsConfig {
    EmbeddingsConfig {
        vocab_size: config.vocab_size,
        hidden_size: config.hidden_size,
        max_positions: config.max_position_embeddings,
        positions: positions(),
        type_vocab_size: None,
        read_token_types: false,
        word_padding_idx: PADDING_IDX,
        layer_norm_eps: config.layer_norm_eps,
        dropout: config.hidden_dropout_prob,
        init_std: config.initializer_range,
    }
}

fn block_config(config: &MpnetConfig) -> BlockConfig {
    BlockConfig {
        hidden_size: config.hidden_size,
        num_heads: config.num_attention_heads,
        intermediate_size: config.intermediate_size,
        activation: config.hidden_act,
        layer_norm_eps: config.layer_norm_eps,
        hidden_dropout: config.hidden_dropout_prob,
        attention_dropout: config.attention_probs_dropout_prob,
        attention_output_dropout: config.hidden_dropout_prob,
        init_std: config.initializer_range,
    }
}

/// The tensors MPNet's size keys set.
pub(crate) fn expected_shapes(c: &MpnetConfig) -> ExpectedShapes {
    let h = dim("hidden_size", c.hidden_size);
    let buckets = dim(
        "relative_attention_num_buckets",
        c.relative_attention_num_buckets,
    );
    ExpectedShapes {
        layers: dim("num_hidden_layers", c.num_hidden_layers),
        layer_prefix: "encoder.layer.",
        model: vec![
            tensor(
                "embeddings.word_embeddings.weight",
                &[dim("vocab_size", c.vocab_size), h],
            ),
            tensor(
                "embeddings.position_embeddings.weight",
                &[dim("max_position_embeddings", c.max_position_embeddings), h],
            ),
            tensor(
                "encoder.relative_attention_bias.weight",
                &[buckets, dim("num_attention_heads", c.num_attention_heads)],
            ),
        ],
        layer: post_norm_layer(
            &BLOCK_KEYS,
            h,
            dim("intermediate_size", c.intermediate_size),
        ),
    }
}
