//! The masked/causal language-model head of BERT-family checkpoints: dense, activation,
//! LayerNorm, then scores over the vocabulary with the word-embedding table as the output
//! weight (tied, as `tie_word_embeddings` makes it in transformers) plus a bias of its own.

use tch::{nn, Tensor};

use super::layer_norm::LayerNorm;
use super::linear::Linear;
use super::Activation;
use crate::error::Result;

/// Checkpoint names relative to the model's root.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LmHeadKeys {
    pub dense: &'static str,
    pub norm: &'static str,
    pub bias: &'static str,
}

/// BERT's `cls.predictions` (BertOnlyMLMHead, BertLMHeadModel's head).
pub(crate) const BERT_LM_HEAD_KEYS: LmHeadKeys = LmHeadKeys {
    dense: "cls.predictions.transform.dense",
    norm: "cls.predictions.transform.LayerNorm",
    bias: "cls.predictions.bias",
};

/// RoBERTa's `lm_head` (RobertaLMHead; XLM-R's too).
pub(crate) const ROBERTA_LM_HEAD_KEYS: LmHeadKeys = LmHeadKeys {
    dense: "lm_head.dense",
    norm: "lm_head.layer_norm",
    bias: "lm_head.bias",
};

#[derive(Debug)]
pub(crate) struct LmHead {
    dense: Linear,
    activation: Activation,
    norm: LayerNorm,
    bias: Tensor,
}

impl LmHead {
    pub(crate) fn new(
        p: &nn::Path,
        keys: &LmHeadKeys,
        hidden: i64,
        vocab: i64,
        activation: Activation,
        layer_norm_eps: f64,
        init_std: f64,
    ) -> Self {
        let dense = Linear::new(super::sub(p, keys.dense), hidden, hidden, init_std, true);
        let norm = LayerNorm::new(super::sub(p, keys.norm), hidden, layer_norm_eps);
        let (parent, name) = match keys.bias.rsplit_once('.') {
            Some((parent, name)) => (super::sub(p, parent), name),
            None => (p.clone(), keys.bias),
        };
        let bias = parent.var(name, &[vocab], nn::Init::Const(0.0));
        LmHead {
            dense,
            activation,
            norm,
            bias,
        }
    }

    /// Scores over the vocabulary; `word_embeddings` (`[vocab, hidden]`) is the output weight.
    ///
    /// # Shapes
    /// xs: `[…, hidden]` → `[…, vocab]`
    pub(crate) fn forward(&self, xs: &Tensor, word_embeddings: &Tensor) -> Result<Tensor> {
        let h = self.dense.forward_activated(xs, Some(self.activation))?;
        let h = self.norm.forward(&h)?;
        Ok(h.f_linear(word_embeddings, Some(&self.bias))?)
    }
}
