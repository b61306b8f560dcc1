//! BERT: learned absolute positions, token types, post-norm blocks. RoBERTa and XLM-R reuse
//! this encoder with their own position numbering (see `crate::roberta`).

mod config;

use tch::{nn, Tensor};

pub use config::BertConfig;

use crate::encoder::shapes::{dim, post_norm_layer, tensor, ExpectedShapes};
use crate::error::Result;
use crate::layers::embeddings::{EmbeddingsConfig, TokenEmbeddings, BERT_EMBEDDING_KEYS};
use crate::layers::linear::Linear;
use crate::layers::mask::AttentionMask;
use crate::layers::positions::PositionIds;
use crate::layers::post_norm_block::{self, BlockConfig, PostNormBlock, BERT_BLOCK_KEYS};
use crate::token_batch::TokenBatch;
use crate::weights::KeyMap;

/// BERT's checkpoint names: `bert.` under task heads.
pub(crate) const KEYS: KeyMap = KeyMap {
    architecture: "BERT",
    prefix: "bert.",
    probe: "embeddings.word_embeddings.weight",
};

/// The BERT encoder. The pooler (a dense layer on `[CLS]`) is kept only so that checkpoints
/// round-trip unchanged; sentence embeddings come from the Pooling module instead.
#[derive(Debug)]
pub struct BertModel {
    embeddings: TokenEmbeddings,
    layers: Vec<PostNormBlock>,
    max_tokens: i64,
    config: BertConfig,
}

impl BertModel {
    /// Creates the variables under `p` with Hugging Face names (`embeddings.…`,
    /// `encoder.layer.N.…`, `pooler.dense.…` when `with_pooler`).
    pub fn new(p: &nn::Path, config: &BertConfig, with_pooler: bool) -> Self {
        Self::with_positions(p, config, PositionIds::Absolute, true, with_pooler)
    }

    /// BERT's layers with another position numbering; `read_token_types` false embeds token
    /// type 0 everywhere (RoBERTa's tokenizers never hand token types to the model).
    pub(crate) fn with_positions(
        p: &nn::Path,
        config: &BertConfig,
        positions: PositionIds,
        read_token_types: bool,
        with_pooler: bool,
    ) -> Self {
        let embeddings = TokenEmbeddings::new(
            &(p / "embeddings"),
            &BERT_EMBEDDING_KEYS,
            &embeddings_config(config, positions, read_token_types),
        );
        let block = block_config(config);
        let layers = (0..config.num_hidden_layers)
            .map(|i| PostNormBlock::new(&(p / "encoder" / "layer" / i), &BERT_BLOCK_KEYS, &block))
            .collect();
        if with_pooler {
            let (h, std) = (config.hidden_size, config.initializer_range);
            let _pooler = Linear::new(p / "pooler" / "dense", h, h, std, true);
        }
        BertModel {
            embeddings,
            layers,
            max_tokens: positions.max_tokens(config.max_position_embeddings),
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// The longest sequence the position table can number.
    pub fn max_tokens(&self) -> i64 {
        self.max_tokens
    }

    /// The embedding block and the layers, for a decoder that runs them with its own masks
    /// and cross-attention in between (`crate::decoder`).
    pub(crate) fn parts(&self) -> (&TokenEmbeddings, &[PostNormBlock]) {
        (&self.embeddings, &self.layers)
    }

    /// # Shapes
    /// ids, mask, type ids: `[batch, seq]` → token embeddings `[batch, seq, hidden]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        let (_, seq) = batch.check_length(self.max_tokens)?;
        let _span = tracing::trace_span!("bert_forward", seq).entered();
        let mask = AttentionMask::padding(&batch.attention_mask)?;
        let mut xs = self.embeddings.forward_t(batch, train)?;
        for layer in &self.layers {
            xs = layer.forward_t(&xs, &mask, train)?;
        }
        Ok(xs)
    }

    /// Token embeddings of the chunks of one training step, as `forward_t` gives each (up to
    /// float rounding; padding positions zero), with every layer but attention run once over
    /// all the chunks' real tokens.
    ///
    /// # Shapes
    /// each chunk `[batch_i, seq_i]` → each `[batch_i, seq_i, hidden]`
    pub fn forward_chunks_t(&self, chunks: &[TokenBatch], train: bool) -> Result<Vec<Tensor>> {
        post_norm_block::forward_chunks_t(
            &self.layers,
            &self.embeddings,
            chunks,
            self.max_tokens,
            train,
            |chunk, _, _| AttentionMask::padding(&chunk.attention_mask),
        )
    }
}

fn embeddings_config(
    config: &BertConfig,
    positions: PositionIds,
    read_token_types: bool,
) -> EmbeddingsConfig {
    EmbeddingsConfig {
        vocab_size: config.vocab_size,
        hidden_size: config.hidden_size,
        max_positions: config.max_position_embeddings,
        positions,
        type_vocab_size: Some(config.type_vocab_size),
        read_token_types,
        word_padding_idx: config.pad_token_id,
        layer_norm_eps: config.layer_norm_eps,
        dropout: config.hidden_dropout_prob,
        init_std: config.initializer_range,
    }
}

fn block_config(config: &BertConfig) -> BlockConfig {
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

/// The tensors BERT's size keys set (RoBERTa's too: its config is BERT's).
pub(crate) fn expected_shapes(c: &BertConfig) -> ExpectedShapes {
    let h = dim("hidden_size", c.hidden_size);
    let table = |name: &str, key: &'static str, rows: i64| {
        tensor(format!("embeddings.{name}.weight"), &[dim(key, rows), h])
    };
    ExpectedShapes {
        layers: dim("num_hidden_layers", c.num_hidden_layers),
        layer_prefix: "encoder.layer.",
        model: vec![
            table("word_embeddings", "vocab_size", c.vocab_size),
            table(
                "position_embeddings",
                "max_position_embeddings",
                c.max_position_embeddings,
            ),
            table(
                "token_type_embeddings",
                "type_vocab_size",
                c.type_vocab_size,
            ),
        ],
        layer: post_norm_layer(
            &BERT_BLOCK_KEYS,
            h,
            dim("intermediate_size", c.intermediate_size),
        ),
    }
}
