//! Cross-encoders (rerankers): the encoder seam's transformer reads a text pair as one
//! sequence and an architecture's sequence-classification head scores it, as
//! sentence-transformers' `CrossEncoder` (6.x) computes it over transformers'
//! `*ForSequenceClassification`. Loads the folder layouts sentence-transformers 6.3 loads and
//! saves its 6.x layout (see `folder`).

mod activation;
mod folder;
mod head;
mod predict;

use std::path::Path;

use serde_json::Value;
use tch::{nn, Device, Kind, Tensor};

pub use activation::ScoreActivation;
pub use predict::{rank_scores, PredictOptions, RankedDocument};

use crate::dtype::ComputeDtype;
use crate::encoder::{Encoder, EncoderConfig};
use crate::error::{write_json, Error, Result};
use crate::layers::sub;
use crate::prompts::Prompts;
use crate::token_batch::TokenBatch;
use crate::tokenizer::{SentenceTokenizer, TokenizedText};
use crate::transformer_folder::{save_atomically, write_config_and_tokenizer, TransformerFolder};
use crate::weights::{load_encoder_tensors, read_tensors, save_task_weights, task_variables};
use head::{ClassificationHead, HEAD_SCOPE};

/// How to load a cross-encoder.
#[derive(Debug, Clone, Default)]
pub struct CrossEncoderOptions {
    /// Scores per pair; `None`: the checkpoint's (`config.json`'s `id2label`). A count other
    /// than the checkpoint head's is an error; a folder without a head gets a new one of it.
    pub num_labels: Option<i64>,
    /// The activation `predict` applies, over the one the folder stores.
    pub activation: Option<ScoreActivation>,
    /// Start a freshly initialised head when the checkpoint has none (a base model to train
    /// into a cross-encoder, as `CrossEncoder("bert-base-uncased")` does). Otherwise a missing
    /// head is an error: its scores would be random.
    pub new_head: bool,
}

/// A cross-encoder: a transformer encoder of any supported architecture under its
/// sequence-classification head, with its tokenizer and `predict` activation.
#[derive(Debug)]
pub struct CrossEncoder {
    vs: nn::VarStore,
    encoder: Encoder,
    head: ClassificationHead,
    config: EncoderConfig,
    /// `config.json` as loaded: what saving writes back (with the task's keys set).
    config_json: Value,
    tokenizer: SentenceTokenizer,
    side_files: Vec<(String, Vec<u8>)>,
    activation: ScoreActivation,
    prompts: Prompts,
    /// `config_sentence_transformers.json` of a cross-encoder folder, written back.
    st_config_json: Option<Value>,
    training_autocast: Option<Kind>,
    /// What the model computes in, and whether its weights were ever cast from float32.
    dtype: ComputeDtype,
    cast: bool,
}

impl CrossEncoder {
    /// Loads a cross-encoder folder with the checkpoint's labels and activation.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        Self::load_with(dir, device, &CrossEncoderOptions::default())
    }

    /// Loads a cross-encoder folder, or a base model (with `options.new_head`) to train one.
    pub fn load_with(dir: &Path, device: Device, options: &CrossEncoderOptions) -> Result<Self> {
        let located = folder::locate(dir)?;
        let files = TransformerFolder::read(&located.transformer_dir)?;
        if folder::is_causal_lm(&files.config_json) {
            return Err(Error::Config {
                path: files.config_path,
                message: "a causal language model scores pairs by its \"yes\"/\"no\" logits \
                          (sentence-transformers' LogitScore), which this crate does not run; \
                          cross-encoders here are *ForSequenceClassification models"
                    .into(),
            });
        }
        let own_labels = folder::config_num_labels(&files.config_json, &files.config_path)?;
        let num_labels = options.num_labels.unwrap_or(own_labels);
        if num_labels < 1 {
            return Err(Error::InvalidInput(format!(
                "num_labels must be at least 1, got {num_labels}"
            )));
        }
        let mut vs = nn::VarStore::new(device);
        let encoder = Encoder::new(&vs.root(), &files.config, false);
        let head = ClassificationHead::new(
            &sub(&vs.root(), HEAD_SCOPE),
            &files.config,
            &files.config_json,
            &files.config_path,
            num_labels,
        )?;
        let keys = encoder.key_map();
        let mut tensors = read_tensors(&files.weights)?;
        let prefix = keys
            .find_prefix(|k| tensors.contains_key(k))
            .ok_or_else(|| keys.no_weights(&files.weights))?;
        // The label count first, so that a mismatch names it rather than some head weight.
        if let Some(rows) = tensors
            .get(head.classifier_key())
            .and_then(|t| t.size().first().copied())
            .filter(|rows| *rows != num_labels)
        {
            let asked = match options.num_labels {
                Some(asked) => format!("num_labels {asked} was asked for"),
                None => format!(
                    "{} says {own_labels} (id2label / num_labels)",
                    files.config_path.display()
                ),
            };
            return Err(Error::Config {
                path: files.weights.clone(),
                message: format!(
                    "the head's {} scores {rows} labels where {asked}",
                    head.classifier_key()
                ),
            });
        }
        // The head's tensors first: the encoder's loader ignores what it does not know.
        let mut missing = Vec::new();
        let mut found = Vec::new();
        for (name, var) in vs.variables() {
            let Some(key) = name
                .strip_prefix(HEAD_SCOPE)
                .and_then(|k| k.strip_prefix('.'))
            else {
                continue;
            };
            let stored = tensors.remove(key).or_else(|| {
                // BERT's pooler sits in the base model, under whatever prefix it was saved.
                key.strip_prefix(keys.prefix)
                    .and_then(|rest| tensors.remove(&format!("{prefix}{rest}")))
            });
            match stored {
                None => missing.push(key.to_string()),
                Some(tensor) if tensor.size() != var.size() => {
                    return Err(Error::Config {
                        path: files.weights.clone(),
                        message: format!(
                            "head weight {key} has shape {:?} but the model expects {:?}",
                            tensor.size(),
                            var.size()
                        ),
                    });
                }
                Some(tensor) => found.push((var, tensor)),
            }
        }
        if !missing.is_empty() && !options.new_head {
            return Err(Error::Config {
                path: files.weights.clone(),
                message: format!(
                    "the checkpoint has no sequence-classification head ({} missing): it is not \
                     a cross-encoder; to train one from this base model, start a new head",
                    missing.join(", ")
                ),
            });
        }
        if !missing.is_empty() {
            tracing::warn!(model = %dir.display(), new = ?missing, "new, randomly initialised cross-encoder head");
        }
        tch::no_grad(|| -> Result<()> {
            for (mut var, tensor) in found {
                var.f_copy_(&tensor)?;
            }
            Ok(())
        })?;
        load_encoder_tensors(&mut vs, &files.weights, &keys, tensors)?;

        let activation = match options.activation {
            Some(activation) => activation,
            None => folder::stored_activation(&located, &files.config_json, &files.config_path)?
                .unwrap_or_else(|| ScoreActivation::default_for(num_labels)),
        };
        let prompts = match &located.st_config {
            Some((path, _)) => Prompts::from_file(path)?,
            None => Prompts::default(),
        };
        tracing::info!(model = %dir.display(), model_type = files.config.model_type(), num_labels, %activation, max_seq_length = files.tokenizer.max_seq_length(), "loaded cross-encoder");
        Ok(CrossEncoder {
            vs,
            encoder,
            head,
            config: files.config,
            config_json: files.config_json,
            tokenizer: files.tokenizer,
            side_files: files.side_files,
            activation,
            prompts,
            st_config_json: located.st_config.map(|(_, c)| c),
            training_autocast: None,
            dtype: ComputeDtype::Fp32,
            cast: false,
        })
    }

    /// Writes sentence-transformers 6.x's cross-encoder folder, atomically (a crash never
    /// leaves a half-written model where a good one was).
    pub fn save(&self, dir: &Path) -> Result<()> {
        if self.cast {
            return Err(Error::InvalidInput(format!(
                "this cross-encoder's weights were cast to {} to compute in it; saving them \
                 would lose float32 precision (save before set_dtype)",
                self.dtype
            )));
        }
        save_atomically(dir, |staging| self.write_into(staging))
    }

    /// Writes the model's files into an existing folder, leaving other files there alone.
    pub fn write_into(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let config_json = folder::task_config_json(
            self.config_json.clone(),
            folder::architecture_name(self.config.model_type()),
            self.num_labels(),
        );
        write_config_and_tokenizer(dir, &config_json, &self.tokenizer, &self.side_files)?;
        save_task_weights(
            &self.vs,
            &dir.join("model.safetensors"),
            self.encoder.key_map().prefix,
            HEAD_SCOPE,
        )?;
        write_json(&dir.join("modules.json"), &folder::modules_json())?;
        write_json(
            &dir.join("sentence_bert_config.json"),
            &folder::sbert_config_json(
                self.tokenizer.max_seq_length(),
                self.tokenizer.do_lower_case(),
            ),
        )?;
        write_json(
            &dir.join("config_sentence_transformers.json"),
            &folder::st_config_json(self.st_config_json.as_ref(), self.activation),
        )
    }

    /// The logits of each pair: the head's output, float32, with gradients when called
    /// outside `no_grad`; dropout acts only when `train`.
    ///
    /// # Shapes
    /// ids, mask, type ids: `[pairs, seq]` → `[pairs, num_labels]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        let kind = self.training_autocast.filter(|_| train);
        let logits = torch_ext::autocast(self.device(), kind, || {
            let xs = self.encoder.forward_t(batch, train)?;
            self.head.forward_t(&xs, batch, train)
        })??;
        Ok(logits.f_to_kind(Kind::Float)?)
    }

    /// The logits of tokenised pairs, as [`forward_t`](Self::forward_t) of their collated
    /// batch gives them (equal up to float rounding), computed over length-packed chunks: the
    /// pairs sorted by token count and cut where padding would cost more than another chunk,
    /// every layer but attention run once over all real tokens (the token-major forward the
    /// bi-encoder trains with). Dropout draws chunk by chunk in a fixed order, so a seeded
    /// call is reproducible.
    ///
    /// # Shapes
    /// `pairs.len()` pairs → `[pairs, num_labels]`, in the order of `pairs`
    pub fn forward_packed_t(&self, pairs: &[&TokenizedText], train: bool) -> Result<Tensor> {
        if pairs.is_empty() {
            return Err(Error::InvalidInput("no pairs to score".into()));
        }
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.sort_by_key(|&i| (pairs[i].ids.len(), i));
        let lens: Vec<usize> = order.iter().map(|&i| pairs[i].ids.len().max(1)).collect();
        let device = self.device();
        let mut chunks = Vec::new();
        let mut start = 0;
        for end in crate::packing::partition(&lens, crate::packing::CHUNK_OVERHEAD_TOKENS) {
            let members: Vec<&TokenizedText> =
                order[start..end].iter().map(|&i| pairs[i]).collect();
            chunks.push(TokenBatch::from_encoded(
                &self.tokenizer.collate(&members),
                device,
            ));
            start = end;
        }
        let kind = self.training_autocast.filter(|_| train);
        let logits = torch_ext::autocast(device, kind, || -> Result<Vec<Tensor>> {
            let xs = self.encoder.forward_chunks_t(&chunks, train)?;
            chunks
                .iter()
                .zip(xs)
                .map(|(batch, xs)| self.head.forward_t(&xs, batch, train))
                .collect()
        })??;
        let sorted = Tensor::f_cat(&logits, 0)?;
        // Pair i sits at position_of[i] of the sorted logits.
        let mut position_of = vec![0i64; pairs.len()];
        for (position, &i) in order.iter().enumerate() {
            position_of[i] = position as i64;
        }
        let index = Tensor::from_slice(&position_of).f_to_device(device)?;
        Ok(sorted.f_index_select(0, &index)?.f_to_kind(Kind::Float)?)
    }

    /// Makes the model compute in `dtype` by casting its weights (bf16: faster inference on
    /// CPUs and GPUs that support it; fp16 is refused on the CPU); scores stay float32. A
    /// model cast from float32 refuses to [`save`](Self::save).
    pub fn set_dtype(&mut self, dtype: ComputeDtype) -> Result<()> {
        dtype.check_device(self.device())?;
        dtype.warn_if_emulated(self.device());
        tch::no_grad(|| {
            for (_, mut var) in self.vs.variables() {
                var.set_data(&var.f_to_kind(dtype.kind())?);
            }
            Ok::<_, tch::TchError>(())
        })?;
        self.cast |= dtype != ComputeDtype::Fp32;
        self.dtype = dtype;
        Ok(())
    }

    /// The dtype the model computes in (float32 unless [`set_dtype`](Self::set_dtype)).
    pub fn dtype(&self) -> ComputeDtype {
        self.dtype
    }

    /// Mixed-precision training: train-mode forwards run under autocast to `kind`, as
    /// [`SentenceTransformer::set_training_autocast`](crate::SentenceTransformer::set_training_autocast).
    pub fn set_training_autocast(&mut self, kind: Option<Kind>) {
        self.training_autocast = kind;
    }

    /// Scores per pair.
    pub fn num_labels(&self) -> i64 {
        self.head.num_labels()
    }

    /// The activation `predict` applies by default.
    pub fn activation(&self) -> ScoreActivation {
        self.activation
    }

    pub fn set_activation(&mut self, activation: ScoreActivation) {
        self.activation = activation;
    }

    pub fn tokenizer(&self) -> &SentenceTokenizer {
        &self.tokenizer
    }

    pub fn max_seq_length(&self) -> usize {
        self.tokenizer.max_seq_length()
    }

    pub fn prompts(&self) -> &Prompts {
        &self.prompts
    }

    /// The encoder's architecture and hyper-parameters.
    pub fn encoder_config(&self) -> &EncoderConfig {
        &self.config
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// Every weight under its checkpoint name, as transformers names the parameters of the
    /// `*ForSequenceClassification` model (`bert.embeddings.…`, `classifier.weight`), sorted.
    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut named = task_variables(&self.vs, self.encoder.key_map().prefix, HEAD_SCOPE);
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    }
}
