//! A BERT-family encoder run as a causal language model that reads one vector per text:
//! TSDAE's decoder (sentence-transformers' `DenoisingAutoEncoderLoss`). It is what
//! transformers builds with `is_decoder = True` and `add_cross_attention = True` —
//! `BertLMHeadModel` or `RobertaForCausalLM` — every layer being self-attention under a causal
//! mask, cross-attention to the memory (the sentence embedding), then the feed-forward block,
//! and the language-model head on top, its output weight the word-embedding table.
//!
//! Tied ([`SentenceDecoder::tied`]), the decoder owns only what the encoder lacks — each
//! layer's cross-attention and the head's transform and bias — and runs the encoder's own
//! embeddings, attention and feed-forward weights, so their gradients add up in one place, as
//! `tie_encoder_decoder=True` makes sentence-transformers share them. Untied
//! ([`SentenceDecoder::untied`]), it has an encoder of its own.

use tch::{nn, Tensor};

use crate::bert::BertModel;
use crate::encoder::{Encoder, EncoderConfig};
use crate::error::{Error, Result};
use crate::layers::cross_attention::{CrossAttention, CrossAttentionConfig};
use crate::layers::lm_head::{LmHead, BERT_LM_HEAD_KEYS, ROBERTA_LM_HEAD_KEYS};
use crate::layers::mask::AttentionMask;
use crate::layers::Activation;
use crate::token_batch::TokenBatch;

/// A causal language model over an encoder's layers that cross-attends to sentence vectors.
#[derive(Debug)]
pub struct SentenceDecoder {
    /// Untied: the decoder's own encoder (`bert.`/`roberta.` under the decoder's path).
    own: Option<Encoder>,
    cross: Vec<CrossAttention>,
    head: LmHead,
    hidden: i64,
    vocab: i64,
    architecture: &'static str,
}

impl SentenceDecoder {
    /// A decoder sharing every weight it has in common with `encoder`; its own weights (each
    /// layer's `crossattention`, the head's `transform`/`lm_head` dense and norm, and the
    /// vocabulary bias) are created under `p` with transformers' names for the causal-LM
    /// class (`bert.encoder.layer.0.crossattention.self.query.weight`,
    /// `cls.predictions.bias`; `roberta.…`, `lm_head.…`).
    pub fn tied(p: &nn::Path, encoder: &Encoder) -> Result<Self> {
        let owned = encoder_config_of(encoder)?;
        let config = decoder_config(&owned)?;
        Ok(Self::with_parts(p, &config, None))
    }

    /// A decoder with an encoder of its own built from `config` (a checkpoint's `bert.*` or
    /// `roberta.*` weights load onto it under `p`), for sentence vectors of `memory_width`
    /// values.
    pub fn untied(p: &nn::Path, config: &EncoderConfig, memory_width: i64) -> Result<Self> {
        let decoder = decoder_config(config)?;
        if decoder.bert.hidden_size != memory_width {
            return Err(Error::InvalidInput(format!(
                "the decoder's hidden size {} differs from the sentence embedding's {memory_width}: \
                 the decoder cross-attends to the embedding, so they must match",
                decoder.bert.hidden_size
            )));
        }
        let own = Encoder::new(&(p / decoder.prefix), config, false);
        Ok(Self::with_parts(p, &decoder, Some(own)))
    }

    fn with_parts(p: &nn::Path, config: &DecoderConfig<'_>, own: Option<Encoder>) -> Self {
        let b = config.bert;
        let cross_config = CrossAttentionConfig {
            hidden_size: b.hidden_size,
            num_heads: b.num_attention_heads,
            layer_norm_eps: b.layer_norm_eps,
            attention_dropout: b.attention_probs_dropout_prob,
            output_dropout: b.hidden_dropout_prob,
            init_std: b.initializer_range,
        };
        let layers = p / config.prefix / "encoder" / "layer";
        let cross = (0..b.num_hidden_layers)
            .map(|i| CrossAttention::new(&(&layers / i), &cross_config))
            .collect();
        let head = LmHead::new(
            p,
            config.head_keys,
            b.hidden_size,
            b.vocab_size,
            config.head_activation,
            b.layer_norm_eps,
            b.initializer_range,
        );
        SentenceDecoder {
            own,
            cross,
            head,
            hidden: b.hidden_size,
            vocab: b.vocab_size,
            architecture: config.architecture,
        }
    }

    /// The width of the sentence vectors it reads (its hidden size).
    pub fn hidden_size(&self) -> i64 {
        self.hidden
    }

    /// Scores of the next token at every position of `input_ids`, each position seeing the
    /// tokens up to itself (causal) and the memory. `attention_mask` marks the real tokens:
    /// padding is never attended and RoBERTa numbers positions over real tokens. `encoder` is
    /// the model whose weights a tied decoder runs (ignored when untied).
    ///
    /// # Shapes
    /// input_ids, attention_mask: `[batch, seq]`, memory: `[batch, memory, hidden]` →
    /// `[batch, seq, vocab]`
    pub fn forward_t(
        &self,
        encoder: &Encoder,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        memory: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let base = bert_of(self.own.as_ref().unwrap_or(encoder), self.architecture)?;
        if base.config().hidden_size != self.hidden || base.config().vocab_size != self.vocab {
            return Err(Error::InvalidInput(format!(
                "the decoder was built for hidden size {} and vocabulary {}, the encoder it runs \
                 has {} and {}",
                self.hidden,
                self.vocab,
                base.config().hidden_size,
                base.config().vocab_size
            )));
        }
        let batch = TokenBatch {
            input_ids: input_ids.shallow_clone(),
            attention_mask: attention_mask.shallow_clone(),
            token_type_ids: input_ids.f_zeros_like()?,
            prompt_lengths: None,
        };
        batch.check()?;
        batch.check_length(base.max_tokens())?;
        let (embeddings, layers) = base.parts();
        let mask = AttentionMask::causal(attention_mask)?;
        let mut xs = embeddings.forward_t(&batch, train)?;
        for (layer, cross) in layers.iter().zip(&self.cross) {
            xs = layer.self_attention_t(&xs, &mask, train)?;
            xs = cross.forward_t(&xs, memory, train)?;
            xs = layer.feed_forward_t(&xs, train)?;
        }
        self.head.forward(&xs, embeddings.word_table())
    }
}

/// What a decoder needs to know of its architecture.
struct DecoderConfig<'a> {
    bert: &'a crate::bert::BertConfig,
    /// The base model's name in the causal-LM class (`bert`, `roberta`).
    prefix: &'static str,
    head_keys: &'static crate::layers::lm_head::LmHeadKeys,
    head_activation: Activation,
    architecture: &'static str,
}

fn decoder_config(config: &EncoderConfig) -> Result<DecoderConfig<'_>> {
    match config {
        EncoderConfig::Bert(c) => Ok(DecoderConfig {
            bert: c,
            prefix: "bert",
            head_keys: &BERT_LM_HEAD_KEYS,
            // BertPredictionHeadTransform uses `hidden_act`.
            head_activation: c.hidden_act,
            architecture: "BERT",
        }),
        EncoderConfig::Roberta(c) => Ok(DecoderConfig {
            bert: &c.bert,
            prefix: "roberta",
            head_keys: &ROBERTA_LM_HEAD_KEYS,
            // RobertaLMHead always applies the erf GELU.
            head_activation: Activation::Gelu,
            architecture: "RoBERTa",
        }),
        other => Err(Error::InvalidInput(format!(
            "a decoder (TSDAE's DenoisingAutoEncoderLoss) is built for BERT and RoBERTa-family \
             encoders (bert, roberta, xlm-roberta); this model is {}",
            other.model_type()
        ))),
    }
}

fn encoder_config_of(encoder: &Encoder) -> Result<EncoderConfig> {
    match encoder {
        Encoder::Bert(m) => Ok(EncoderConfig::Bert(m.config().clone())),
        Encoder::Roberta(m) => Ok(EncoderConfig::Roberta(m.config().clone())),
        other => Err(Error::InvalidInput(format!(
            "a decoder (TSDAE's DenoisingAutoEncoderLoss) is built for BERT and RoBERTa-family \
             encoders (bert, roberta, xlm-roberta); this model is {}",
            other.key_map().architecture
        ))),
    }
}

fn bert_of<'a>(encoder: &'a Encoder, architecture: &str) -> Result<&'a BertModel> {
    match encoder {
        Encoder::Bert(m) if architecture == "BERT" => Ok(m),
        Encoder::Roberta(m) if architecture == "RoBERTa" => Ok(m.bert()),
        other => Err(Error::InvalidInput(format!(
            "the decoder was built for {architecture}, the encoder it runs is {}",
            other.key_map().architecture
        ))),
    }
}
