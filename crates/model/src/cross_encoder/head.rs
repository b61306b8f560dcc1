//! Each architecture's sequence-classification head, as transformers' `*ForSequenceClassification`
//! computes it on the encoder's token embeddings: BERT's pooler and classifier; RoBERTa's,
//! XLM-RoBERTa's and MPNet's dense–tanh–out_proj on the first token; DistilBERT's
//! pre_classifier–ReLU–classifier; ModernBERT's prediction head on its configured pooling; and
//! Qwen3's score at the last token that is not padding.
//!
//! The head's variables live under [`HEAD_SCOPE`], named below it by their checkpoint keys
//! (`classifier.weight`, `bert.pooler.dense.weight`, …), so that loading and saving map them
//! one to one.

use std::path::Path;

use serde_json::Value;
use tch::{nn, Kind, Tensor};

use crate::encoder::EncoderConfig;
use crate::error::{Error, Result};
use crate::layers::dropout;
use crate::layers::layer_norm::LayerNorm;
use crate::layers::linear::Linear;
use crate::layers::{sub, Activation};
use crate::token_batch::TokenBatch;

/// The var-store scope of the head's variables.
pub(crate) const HEAD_SCOPE: &str = "modules.head";

/// How ModernBERT reduces token embeddings before its head (`classifier_pooling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClassifierPooling {
    Cls,
    Mean,
}

#[derive(Debug)]
enum Head {
    /// `BertForSequenceClassification`: `tanh(pooler(h[CLS]))`, dropout, `classifier`.
    Bert { pooler: Linear, classifier: Linear },
    /// `RobertaClassificationHead` (RoBERTa, XLM-RoBERTa) and `MPNetClassificationHead`:
    /// dropout, `dense`, tanh, dropout, `out_proj` on the first token.
    FirstTokenTanh { dense: Linear, out_proj: Linear },
    /// `DistilBertForSequenceClassification`: `pre_classifier`, ReLU, dropout, `classifier` on
    /// the first token.
    DistilBert {
        pre_classifier: Linear,
        classifier: Linear,
    },
    /// `ModernBertForSequenceClassification`: pooling, `head` (dense, activation, LayerNorm),
    /// dropout, `classifier`.
    ModernBert {
        pooling: ClassifierPooling,
        dense: Linear,
        activation: Activation,
        norm: LayerNorm,
        classifier: Linear,
    },
    /// `Qwen3ForSequenceClassification`: `score` (no bias) at the rightmost token that is not
    /// the pad token, whichever side the batch is padded on.
    LastToken {
        score: Linear,
        pad_token_id: Option<i64>,
    },
}

/// A sequence-classification head of `num_labels` outputs.
#[derive(Debug)]
pub(crate) struct ClassificationHead {
    head: Head,
    num_labels: i64,
    dropout: f64,
}

impl ClassificationHead {
    /// Creates the head's variables under `p` ([`HEAD_SCOPE`]), freshly initialised as
    /// transformers initialises a new head (normal weights of `initializer_range`, zero
    /// biases); loading a checkpoint overwrites them. `raw` is `config.json`, read from `path`,
    /// for the head's own keys (dropout, ModernBERT's pooling and activation, the pad token).
    pub(crate) fn new(
        p: &nn::Path,
        config: &EncoderConfig,
        raw: &Value,
        path: &Path,
        num_labels: i64,
    ) -> Result<Self> {
        let key_error = |key: &str, expected: &str, found: &Value| Error::Config {
            path: path.to_path_buf(),
            message: format!("key {key} must be {expected}, got {found}"),
        };
        let float = |key: &str| -> Result<Option<f64>> {
            match raw.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|x| (0.0..1.0).contains(x))
                    .map(Some)
                    .ok_or_else(|| key_error(key, "a probability in [0, 1)", v)),
            }
        };
        let std = match raw.get("initializer_range") {
            None => 0.02,
            Some(v) => v
                .as_f64()
                .filter(|x| *x > 0.0)
                .ok_or_else(|| key_error("initializer_range", "a positive number", v))?,
        };
        let h = config.hidden_size();
        let linear =
            |name: &str, out: i64, bias: bool| Linear::new(sub(p, name), h, out, std, bias);
        let (head, dropout) = match config {
            EncoderConfig::Bert(c) => (
                Head::Bert {
                    pooler: linear(&format!("{}pooler.dense", config.key_map().prefix), h, true),
                    classifier: linear("classifier", num_labels, true),
                },
                float("classifier_dropout")?.unwrap_or(c.hidden_dropout_prob),
            ),
            EncoderConfig::Roberta(c) => (
                Head::FirstTokenTanh {
                    dense: linear("classifier.dense", h, true),
                    out_proj: linear("classifier.out_proj", num_labels, true),
                },
                float("classifier_dropout")?.unwrap_or(c.bert.hidden_dropout_prob),
            ),
            EncoderConfig::Mpnet(c) => (
                Head::FirstTokenTanh {
                    dense: linear("classifier.dense", h, true),
                    out_proj: linear("classifier.out_proj", num_labels, true),
                },
                c.hidden_dropout_prob,
            ),
            EncoderConfig::DistilBert(_) => (
                Head::DistilBert {
                    pre_classifier: linear("pre_classifier", h, true),
                    classifier: linear("classifier", num_labels, true),
                },
                float("seq_classif_dropout")?.unwrap_or(0.2),
            ),
            EncoderConfig::ModernBert(c) => {
                let pooling = match raw.get("classifier_pooling") {
                    None | Some(Value::Null) => ClassifierPooling::Cls,
                    Some(Value::String(s)) if s == "cls" => ClassifierPooling::Cls,
                    Some(Value::String(s)) if s == "mean" => ClassifierPooling::Mean,
                    Some(v) => {
                        return Err(key_error("classifier_pooling", "\"cls\" or \"mean\"", v))
                    }
                };
                let activation = match raw.get("classifier_activation") {
                    None | Some(Value::Null) => Activation::Gelu,
                    Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
                        key_error(
                            "classifier_activation",
                            "one of gelu, gelu_new, gelu_pytorch_tanh, relu, silu",
                            v,
                        )
                    })?,
                };
                let bias = match raw.get("classifier_bias") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(v) => return Err(key_error("classifier_bias", "true or false", v)),
                };
                (
                    Head::ModernBert {
                        pooling,
                        dense: linear("head.dense", h, bias),
                        activation,
                        norm: LayerNorm::with_bias(sub(p, "head.norm"), h, c.norm_eps, c.norm_bias),
                        classifier: linear("classifier", num_labels, true),
                    },
                    float("classifier_dropout")?.unwrap_or(0.0),
                )
            }
            EncoderConfig::Qwen3(c) => (
                Head::LastToken {
                    score: linear("score", num_labels, false),
                    pad_token_id: c.pad_token_id,
                },
                0.0,
            ),
        };
        Ok(ClassificationHead {
            head,
            num_labels,
            dropout,
        })
    }

    pub(crate) fn num_labels(&self) -> i64 {
        self.num_labels
    }

    /// The checkpoint key of the head's classifier weight, whose rows are the labels.
    pub(crate) fn classifier_key(&self) -> &'static str {
        match self.head {
            Head::Bert { .. } | Head::DistilBert { .. } | Head::ModernBert { .. } => {
                "classifier.weight"
            }
            Head::FirstTokenTanh { .. } => "classifier.out_proj.weight",
            Head::LastToken { .. } => "score.weight",
        }
    }

    /// The logits of each sequence from the encoder's token embeddings `xs`.
    ///
    /// # Shapes
    /// xs: `[batch, seq, hidden]`, the batch's ids and mask `[batch, seq]` → `[batch, num_labels]`
    pub(crate) fn forward_t(&self, xs: &Tensor, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        let p = self.dropout;
        match &self.head {
            Head::Bert { pooler, classifier } => {
                let pooled = pooler.forward(&xs.f_select(1, 0)?)?.f_tanh()?;
                classifier.forward(&dropout(&pooled, p, train)?)
            }
            Head::FirstTokenTanh { dense, out_proj } => {
                let first = dropout(&xs.f_select(1, 0)?, p, train)?;
                let hidden = dense.forward(&first)?.f_tanh()?;
                out_proj.forward(&dropout(&hidden, p, train)?)
            }
            Head::DistilBert {
                pre_classifier,
                classifier,
            } => {
                let hidden = pre_classifier.forward(&xs.f_select(1, 0)?)?.f_relu()?;
                classifier.forward(&dropout(&hidden, p, train)?)
            }
            Head::ModernBert {
                pooling,
                dense,
                activation,
                norm,
                classifier,
            } => {
                let pooled = match pooling {
                    ClassifierPooling::Cls => xs.f_select(1, 0)?,
                    ClassifierPooling::Mean => {
                        let mask = batch.attention_mask.f_to_kind(xs.kind())?;
                        let summed = xs.f_mul(&mask.f_unsqueeze(-1)?)?.f_sum_dim_intlist(
                            1,
                            false,
                            xs.kind(),
                        )?;
                        summed.f_div(&mask.f_sum_dim_intlist(1, true, xs.kind())?)?
                    }
                };
                let hidden = norm.forward(&activation.forward(&dense.forward(&pooled)?)?)?;
                classifier.forward(&dropout(&hidden, p, train)?)
            }
            Head::LastToken {
                score,
                pad_token_id,
            } => {
                let (rows, seq) = batch.shape()?;
                let last = match pad_token_id {
                    Some(pad) => {
                        // transformers' rule: the largest position whose id is not the pad id
                        // (0 when every id is the pad id), for left and right padding alike.
                        let positions =
                            Tensor::f_arange(seq, (Kind::Int64, batch.input_ids.device()))?;
                        let real = batch.input_ids.f_ne(*pad)?.f_to_kind(Kind::Int64)?;
                        real.f_mul(&positions)?.f_argmax(-1, false)?
                    }
                    None if rows == 1 => {
                        Tensor::f_full([1], seq - 1, (Kind::Int64, batch.input_ids.device()))?
                    }
                    None => {
                        return Err(Error::InvalidInput(
                            "a Qwen3 cross-encoder without pad_token_id in config.json cannot \
                             find the last token of a padded batch (transformers refuses batches \
                             larger than 1 then); set pad_token_id"
                                .into(),
                        ))
                    }
                };
                let index = last
                    .f_view([rows, 1, 1])?
                    .f_expand([rows, 1, xs.size()[2]], false)?;
                let pooled = xs.f_gather(1, &index, false)?.f_squeeze_dim(1)?;
                score.forward(&pooled)
            }
        }
    }
}
