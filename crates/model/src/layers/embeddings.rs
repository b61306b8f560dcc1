//! Token embeddings: word + position + token-type lookups, then LayerNorm and dropout.

use tch::{nn, Tensor};

use super::layer_norm::LayerNorm;
use super::positions::PositionIds;
use crate::error::Result;
use crate::token_batch::TokenBatch;

/// One lookup table, `weight` `[rows, dim]`. `padding_idx` is the row that never receives a
/// gradient, as in PyTorch's `nn.Embedding(padding_idx=…)`; -1 for none.
///
/// A vocabulary table ([`Embedding::vocabulary`]) hands back a sparse gradient, as
/// `nn.Embedding(sparse=True)`: its dense gradient is a `[vocab, dim]` zero fill plus an add
/// per forward, and a length-packed step runs several forwards (on MiniLM, 30,522 × 384: 9 %
/// of a 2-core training step). The optimizer densifies it once per step.
#[derive(Debug)]
pub(crate) struct Embedding {
    ws: Tensor,
    padding_idx: i64,
    sparse_grad: bool,
}

impl Embedding {
    pub(crate) fn new(p: nn::Path, rows: i64, dim: i64, init_std: f64, padding_idx: i64) -> Self {
        let init = nn::Init::Randn {
            mean: 0.0,
            stdev: init_std,
        };
        let ws = p.var("weight", &[rows, dim], init);
        Embedding {
            ws,
            padding_idx,
            sparse_grad: false,
        }
    }

    /// A token table: as [`Embedding::new`], with a sparse gradient.
    pub(crate) fn vocabulary(
        p: nn::Path,
        rows: i64,
        dim: i64,
        init_std: f64,
        padding_idx: i64,
    ) -> Self {
        Embedding {
            sparse_grad: true,
            ..Self::new(p, rows, dim, init_std, padding_idx)
        }
    }

    /// # Shapes
    /// ids: `[…]` → `[…, dim]`
    pub(crate) fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        Ok(Tensor::f_embedding(
            &self.ws,
            ids,
            self.padding_idx,
            false,
            self.sparse_grad,
        )?)
    }
}

/// Checkpoint names of the embedding block's parts, relative to it (`embeddings.`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddingKeys {
    pub word: &'static str,
    pub position: Option<&'static str>,
    pub token_type: Option<&'static str>,
    pub norm: &'static str,
}

/// BERT's names: `word_embeddings`, `position_embeddings`, `token_type_embeddings`, `LayerNorm`.
pub(crate) const BERT_EMBEDDING_KEYS: EmbeddingKeys = EmbeddingKeys {
    word: "word_embeddings",
    position: Some("position_embeddings"),
    token_type: Some("token_type_embeddings"),
    norm: "LayerNorm",
};

/// Sizes and numbering of the embedding block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddingsConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub max_positions: i64,
    pub positions: PositionIds,
    /// `None`: the architecture has no token types (MPNet, DistilBERT).
    pub type_vocab_size: Option<i64>,
    /// The batch's token types are used (BERT); else all zeros (RoBERTa's tokenizers never
    /// hand token types to the model).
    pub read_token_types: bool,
    /// The word table's padding row (`pad_token_id`), -1 for none.
    pub word_padding_idx: i64,
    pub layer_norm_eps: f64,
    pub dropout: f64,
    pub init_std: f64,
}

#[derive(Debug)]
pub(crate) struct TokenEmbeddings {
    word: Embedding,
    position: Option<(Embedding, PositionIds)>,
    token_type: Option<Embedding>,
    read_token_types: bool,
    norm: LayerNorm,
    dropout: f64,
}

impl TokenEmbeddings {
    pub(crate) fn new(p: &nn::Path, keys: &EmbeddingKeys, config: &EmbeddingsConfig) -> Self {
        let (hidden, std) = (config.hidden_size, config.init_std);
        let word = Embedding::vocabulary(
            p / keys.word,
            config.vocab_size,
            hidden,
            std,
            config.word_padding_idx,
        );
        let position = keys.position.map(|name| {
            let padding_idx = match config.positions {
                PositionIds::Absolute => -1,
                PositionIds::AfterPadding { padding_idx } => padding_idx,
            };
            let table = Embedding::new(p / name, config.max_positions, hidden, std, padding_idx);
            (table, config.positions)
        });
        let token_type = keys
            .token_type
            .zip(config.type_vocab_size)
            .map(|(name, rows)| Embedding::new(p / name, rows, hidden, std, -1));
        TokenEmbeddings {
            word,
            position,
            token_type,
            read_token_types: config.read_token_types,
            norm: LayerNorm::new(p / keys.norm, hidden, config.layer_norm_eps),
            dropout: config.dropout,
        }
    }

    /// The word table `[vocab, hidden]` (a tied language-model head's output weight).
    pub(crate) fn word_table(&self) -> &Tensor {
        &self.word.ws
    }

    /// # Shapes
    /// ids, mask, token types: `[batch, seq]` → `[batch, seq, hidden]`
    pub(crate) fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        let mut xs = self.word.forward(&batch.input_ids)?;
        if let Some((table, numbering)) = &self.position {
            let ids = numbering.ids(&batch.attention_mask)?;
            xs = xs.f_add(&table.forward(&ids)?)?;
        }
        if let Some(table) = &self.token_type {
            let types = if self.read_token_types {
                table.forward(&batch.token_type_ids)?
            } else {
                table.forward(&batch.input_ids.f_zeros_like()?)?
            };
            xs = xs.f_add(&types)?;
        }
        super::dropout(&self.norm.forward(&xs)?, self.dropout, train)
    }
}
