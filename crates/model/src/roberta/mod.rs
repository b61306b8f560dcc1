//! RoBERTa and XLM-RoBERTa: BERT's layers and key names; positions numbered from
//! `padding_idx + 1` over real tokens (pads get `padding_idx`); one token type.

mod config;

use tch::{nn, Tensor};

pub use config::RobertaConfig;

use crate::bert::BertModel;
use crate::error::Result;
use crate::layers::positions::PositionIds;
use crate::token_batch::TokenBatch;
use crate::weights::KeyMap;

/// RoBERTa's checkpoint names: BERT's, under `roberta.` in task heads (XLM-R's too).
pub(crate) const KEYS: KeyMap = KeyMap {
    architecture: "RoBERTa",
    prefix: "roberta.",
    probe: "embeddings.word_embeddings.weight",
};

#[derive(Debug)]
pub struct RobertaModel {
    inner: BertModel,
    config: RobertaConfig,
}

impl RobertaModel {
    /// Creates the variables under `p` with Hugging Face names, as [`BertModel::new`].
    pub fn new(p: &nn::Path, config: &RobertaConfig, with_pooler: bool) -> Self {
        let positions = PositionIds::AfterPadding {
            padding_idx: config.padding_idx(),
        };
        RobertaModel {
            inner: BertModel::with_positions(p, &config.bert, positions, false, with_pooler),
            config: config.clone(),
        }
    }

    /// BERT's layers underneath, for a decoder built on them (`crate::decoder`).
    pub(crate) fn bert(&self) -> &BertModel {
        &self.inner
    }

    pub fn config(&self) -> &RobertaConfig {
        &self.config
    }

    /// The longest sequence the position table can number (`max_position_embeddings −
    /// padding_idx − 1`: 512 for the usual 514).
    pub fn max_tokens(&self) -> i64 {
        self.inner.max_tokens()
    }

    /// `token_type_ids` are ignored (type 0 everywhere), as RoBERTa's tokenizers never pass
    /// them to the model.
    ///
    /// # Shapes
    /// ids, mask: `[batch, seq]` → token embeddings `[batch, seq, hidden]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        self.inner.forward_t(batch, train)
    }

    /// See [`BertModel::forward_chunks_t`].
    pub fn forward_chunks_t(&self, chunks: &[TokenBatch], train: bool) -> Result<Vec<Tensor>> {
        self.inner.forward_chunks_t(chunks, train)
    }
}
