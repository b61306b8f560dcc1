//! DistilBERT: BERT's post-norm blocks under its own key names (`transformer.layer.N.…`,
//! `q_lin`, `sa_layer_norm`, `ffn.lin1`, …), absolute positions, no token types, no dropout
//! on the attention output.

mod config;

use tch::{nn, Tensor};

pub use config::DistilBertConfig;

use crate::encoder::shapes::{dim, post_norm_layer, tensor, ExpectedShapes};
use crate::error::Result;
use crate::layers::attention::AttentionKeys;
use crate::layers::embeddings::{EmbeddingKeys, EmbeddingsConfig, TokenEmbeddings};
use crate::layers::mask::AttentionMask;
use crate::layers::positions::PositionIds;
use crate::layers::post_norm_block::{self, BlockConfig, BlockKeys, PostNormBlock};
use crate::token_batch::TokenBatch;
use crate::weights::KeyMap;

/// DistilBERT's checkpoint names: `distilbert.` under task heads.
pub(crate) const KEYS: KeyMap = KeyMap {
    architecture: "DistilBERT",
    prefix: "distilbert.",
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
        query: "attention.q_lin",
        key: "attention.k_lin",
        value: "attention.v_lin",
        output: "attention.out_lin",
    },
    attention_norm: "sa_layer_norm",
    ff_input: "ffn.lin1",
    ff_output: "ffn.lin2",
    output_norm: "output_layer_norm",
};

/// The DistilBERT encoder (it has no pooler).
#[derive(Debug)]
pub struct DistilBertModel {
    embeddings: TokenEmbeddings,
    layers: Vec<PostNormBlock>,
    config: DistilBertConfig,
}

impl DistilBertModel {
    /// Creates the variables under `p` with Hugging Face names (`embeddings.…`,
    /// `transformer.layer.N.…`).
    pub fn new(p: &nn::Path, config: &DistilBertConfig) -> Self {
        let embeddings = TokenEmbeddings::new(
            &(p / "embeddings"),
            &EMBEDDING_KEYS,
            &embeddings_config(config),
        );
        let block = block_config(config);
        let layers = (0..config.n_layers)
            .map(|i| PostNormBlock::new(&(p / "transformer" / "layer" / i), &BLOCK_KEYS, &block))
            .collect();
        DistilBertModel {
            embeddings,
            layers,
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &DistilBertConfig {
        &self.config
    }

    /// The longest sequence the position table can number.
    pub fn max_tokens(&self) -> i64 {
        self.config.max_position_embeddings
    }

    /// `token_type_ids` are ignored: DistilBERT has none.
    ///
    /// # Shapes
    /// ids, mask: `[batch, seq]` → token embeddings `[batch, seq, dim]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        let (_, seq) = batch.check_length(self.max_tokens())?;
        let _span = tracing::trace_span!("distilbert_forward", seq).entered();
        let mask = AttentionMask::padding(&batch.attention_mask)?;
        let mut xs = self.embeddings.forward_t(batch, train)?;
        for layer in &self.layers {
            xs = layer.forward_t(&xs, &mask, train)?;
        }
        Ok(xs)
    }

    /// See [`crate::bert::BertModel::forward_chunks_t`].
    pub fn forward_chunks_t(&self, chunks: &[TokenBatch], train: bool) -> Result<Vec<Tensor>> {
        post_norm_block::forward_chunks_t(
            &self.layers,
            &self.embeddings,
            chunks,
            self.max_tokens(),
            train,
            |chunk, _, _| AttentionMask::padding(&chunk.attention_mask),
        )
    }
}

fn embeddings_config(config: &DistilBertConfig) -> EmbeddingsConfig {
    EmbeddingsConfig {
        vocab_size: config.vocab_size,
        hidden_size: config.dim,
        max_positions: config.max_position_embeddings,
        positions: PositionIds::Absolute,
        type_vocab_size: None,
        read_token_types: false,
        word_padding_idx: config.pad_token_id,
        layer_norm_eps: DistilBertConfig::LAYER_NORM_EPS,
        dropout: config.dropout,
        init_std: config.initializer_range,
    }
}

fn block_config(config: &DistilBertConfig) -> BlockConfig {
    BlockConfig {
        hidden_size: config.dim,
        num_heads: config.n_heads,
        intermediate_size: config.hidden_dim,
        activation: config.activation,
        layer_norm_eps: DistilBertConfig::LAYER_NORM_EPS,
        hidden_dropout: config.dropout,
        attention_dropout: config.attention_dropout,
        attention_output_dropout: 0.0,
        init_std: config.initializer_range,
    }
}

/// The tensors DistilBERT's size keys set.
pub(crate) fn expected_shapes(c: &DistilBertConfig) -> ExpectedShapes {
    let h = dim("dim", c.dim);
    ExpectedShapes {
        layers: dim("n_layers", c.n_layers),
        layer_prefix: "transformer.layer.",
        model: vec![
            tensor(
                "embeddings.word_embeddings.weight",
                &[dim("vocab_size", c.vocab_size), h],
            ),
            tensor(
                "embeddings.position_embeddings.weight",
                &[dim("max_position_embeddings", c.max_position_embeddings), h],
            ),
        ],
        layer: post_norm_layer(&BLOCK_KEYS, h, dim("hidden_dim", c.hidden_dim)),
    }
}
