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

use std::path::Path;

use tch::{nn, Tensor};

use crate::bert::BertModel;
use crate::encoder::{Encoder, EncoderConfig};
use crate::error::{Error, Result};
use crate::layers::cross_attention::{CrossAttention, CrossAttentionConfig};
use crate::layers::lm_head::{LmHead, LmHeadKeys, BERT_LM_HEAD_KEYS, ROBERTA_LM_HEAD_KEYS};
use crate::layers::mask::AttentionMask;
use crate::layers::token_layout::TokenLayout;
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
    /// `config` is the encoder's (`SentenceTransformer::encoder_config`).
    pub fn tied(p: &nn::Path, config: &EncoderConfig) -> Result<Self> {
        Ok(Self::with_parts(p, &decoder_config(config)?, None))
    }

    /// A decoder with weights of its own (`tie_encoder_decoder=False`), loaded from the
    /// transformers folder `dir` (`config.json` and `model.safetensors` of a BERT or RoBERTa
    /// checkpoint: a plain encoder, or a masked/causal LM whose `cls.predictions.*` /
    /// `lm_head.*` head is loaded too), for sentence vectors of `memory_width` values over
    /// a vocabulary of `vocab_size` tokens (the model's tokenizer must serve the decoder).
    /// Its encoder's weights are registered under `p / "bert"` (`"roberta"`); cross-attention
    /// and whatever head the checkpoint lacks are drawn fresh, as transformers does.
    pub fn untied(p: &nn::Path, dir: &Path, memory_width: i64, vocab_size: i64) -> Result<Self> {
        let config_path = dir.join("config.json");
        let (config, _) = EncoderConfig::from_file(&config_path)?;
        let decoder = decoder_config(&config).map_err(|e| match e {
            Error::InvalidInput(message) => Error::Config {
                path: config_path.clone(),
                message,
            },
            other => other,
        })?;
        let bad = |message: String| Error::Config {
            path: config_path.clone(),
            message,
        };
        if decoder.bert.hidden_size != memory_width {
            return Err(bad(format!(
                "the decoder's hidden size {} differs from the sentence embedding's \
                 {memory_width}: the decoder cross-attends to the embedding, so they must match",
                decoder.bert.hidden_size
            )));
        }
        if decoder.bert.vocab_size != vocab_size {
            return Err(bad(format!(
                "the decoder's vocabulary has {} tokens, the model's {vocab_size}: the decoder \
                 reads the model's token ids, so it needs the model's tokenizer",
                decoder.bert.vocab_size
            )));
        }
        let weights = dir.join("model.safetensors");
        let mut own_vars = nn::VarStore::new(p.device());
        let own = Encoder::new(&own_vars.root(), &config, false);
        crate::weights::load_weights(&mut own_vars, &weights, &own.key_map())?;
        // The decoder's encoder trains with the loss's other parameters: its variables are
        // registered (shared, not copied) under the loss's path.
        crate::weights::share_variables(&own_vars, &(p / decoder.prefix));
        let built = Self::with_parts(p, &decoder, Some(own));
        load_head(p, &weights, decoder.head_keys)?;
        Ok(built)
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
        let (base, batch) = self.checked(encoder, input_ids, attention_mask)?;
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

    /// [`forward_t`](Self::forward_t)'s scores at the real positions only (the same values):
    /// every layer but attention, and the head over the vocabulary, run on the real tokens
    /// alone, with no work spent on padding. Returns the scores, one row per real token, and
    /// the flat positions (`row × seq + column`) of those tokens, row by row.
    ///
    /// # Shapes
    /// input_ids, attention_mask: `[batch, seq]`, memory: `[batch, memory, hidden]` →
    /// (`[tokens, vocab]`, `[tokens]` int64)
    pub fn forward_real_t(
        &self,
        encoder: &Encoder,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        memory: &Tensor,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (base, batch) = self.checked(encoder, input_ids, attention_mask)?;
        let (embeddings, layers) = base.parts();
        let layout = TokenLayout::new([attention_mask])?;
        let masks = [AttentionMask::causal(attention_mask)?];
        let mut xs = layout.to_tokens(&[embeddings.forward_t(&batch, train)?])?;
        for (layer, cross) in layers.iter().zip(&self.cross) {
            xs = layer.self_attention_tokens(&xs, &layout, &masks, train)?;
            xs = cross.forward_tokens(&xs, &layout, memory, train)?;
            xs = layer.feed_forward_t(&xs, train)?;
        }
        let positions = layout
            .real_positions(0)
            .ok_or_else(|| Error::InvalidInput("a decoder batch has one chunk".into()))?
            .shallow_clone();
        Ok((self.head.forward(&xs, embeddings.word_table())?, positions))
    }

    /// The BERT layers the decoder runs (the encoder's when tied) and the batch it reads,
    /// checked against the decoder's sizes.
    fn checked<'a>(
        &'a self,
        encoder: &'a Encoder,
        input_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<(&'a BertModel, TokenBatch)> {
        let base = match &self.own {
            Some(own) => bert_of(own, self.architecture)?,
            None => bert_of(encoder, self.architecture)?,
        };
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
        Ok((base, batch))
    }
}

/// Copies the language-model head's tensors of `weights`, where the checkpoint has them, onto
/// the decoder's head variables under `p` (checked for shape first).
fn load_head(p: &nn::Path, weights: &Path, keys: &LmHeadKeys) -> Result<()> {
    let tensors = Tensor::read_safetensors(weights).map_err(|source| Error::Torch {
        context: Some(format!("reading {}", weights.display())),
        source,
    })?;
    let head = [
        format!("{}.weight", keys.dense),
        format!("{}.bias", keys.dense),
        format!("{}.weight", keys.norm),
        format!("{}.bias", keys.norm),
        keys.bias.to_string(),
    ];
    let found: Vec<(&String, &Tensor)> = tensors
        .iter()
        .filter(|(name, _)| head.contains(name))
        .map(|(name, t)| (name, t))
        .collect();
    // `Path::get` takes one name part: walk to the parent first.
    let var_of = |name: &str| match name.rsplit_once('.') {
        Some((parent, last)) => crate::layers::sub(p, parent).get(last),
        None => p.get(name),
    };
    for (name, tensor) in &found {
        let Some(var) = var_of(name) else { continue };
        if var.size() != tensor.size() {
            return Err(Error::TensorShape {
                path: weights.to_path_buf(),
                architecture: "language-model head",
                key: (*name).clone(),
                expected: var.size(),
                found: tensor.size(),
            });
        }
    }
    tch::no_grad(|| -> Result<()> {
        for (name, tensor) in found {
            if let Some(mut var) = var_of(name) {
                var.f_copy_(tensor)?;
            }
        }
        Ok(())
    })
}

/// What a decoder needs to know of its architecture.
struct DecoderConfig<'a> {
    bert: &'a crate::bert::BertConfig,
    /// The base model's name in the causal-LM class (`bert`, `roberta`).
    prefix: &'static str,
    head_keys: &'static LmHeadKeys,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bert::BertConfig;
    use tch::{Device, Kind};

    #[test]
    fn real_positions_score_as_the_padded_forward_does() {
        tch::manual_seed(7);
        let vs = nn::VarStore::new(Device::Cpu);
        let config = BertConfig::tiny(40);
        let config = EncoderConfig::Bert(config);
        let encoder = Encoder::new(&vs.root(), &config, false);
        let decoder = SentenceDecoder::tied(&(vs.root() / "decoder"), &config).unwrap();
        let ids =
            Tensor::from_slice(&[2i64, 7, 9, 11, 3, 2, 8, 3, 0, 0, 2, 5, 6, 3, 0]).view([3, 5]);
        let mask = ids.ne(0).to_kind(Kind::Int64);
        let memory = Tensor::randn([3, 1, 32], (Kind::Float, Device::Cpu));
        let padded = decoder
            .forward_t(&encoder, &ids, &mask, &memory, false)
            .unwrap();
        let (real, positions) = decoder
            .forward_real_t(&encoder, &ids, &mask, &memory, false)
            .unwrap();
        assert_eq!(
            Vec::<i64>::try_from(&positions).unwrap(),
            [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13]
        );
        let expected = padded.view([15, 40]).index_select(0, &positions);
        assert!(real.allclose(&expected, 1e-5, 1e-5, false));
        // Wrong shapes are errors, not panics.
        let short = Tensor::randn([2, 1, 32], (Kind::Float, Device::Cpu));
        assert!(decoder
            .forward_real_t(&encoder, &ids, &mask, &short, false)
            .is_err());
    }
}
