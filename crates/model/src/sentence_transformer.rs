//! A sentence-transformers model: Transformer (an encoder of any supported architecture +
//! tokenizer), then Pooling, optionally Dense layers and Normalize. Loads and saves the sentence-transformers
//! folder format unchanged.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tch::{nn, Device, Kind, Tensor};

use crate::dense::{Dense, MODULES_SCOPE};
use crate::dtype::ComputeDtype;
use crate::encoder::{Encoder, EncoderConfig};
use crate::error::{read_json, write_json, Error, Result};
use crate::modules::{first_transformer, read_modules, ModuleEntry, ModuleKind};
use crate::normalize::l2_normalize;
use crate::pooling::{Pooling, PoolingMode};
use crate::prompts::Prompts;
use crate::token_batch::TokenBatch;
use crate::tokenizer::{EncodedBatch, SentenceTokenizer};
use crate::transformer_folder::{
    save_atomically, wordpiece_side_files, write_config_and_tokenizer, TransformerFolder,
};
use crate::weights::{load_weights, save_weights};

#[derive(Debug)]
enum Stage {
    Pooling(Pooling),
    Dense(Dense),
    Normalize,
}

impl Stage {
    /// The embedding size after this stage, given the size before it.
    fn output_dimension(&self, input: i64) -> i64 {
        match self {
            Stage::Pooling(p) => p.output_dimension(),
            Stage::Dense(d) => d.out_features(),
            Stage::Normalize => input,
        }
    }
}

#[derive(Debug)]
pub struct SentenceTransformer {
    vs: nn::VarStore,
    encoder: Encoder,
    config: EncoderConfig,
    tokenizer: SentenceTokenizer,
    /// Modules after the Transformer, in order, with their `modules.json` entries.
    stages: Vec<(ModuleEntry, Stage)>,
    transformer_entry: ModuleEntry,
    /// `config.json` as loaded (or made by `from_config`): what saving writes back.
    encoder_config_json: Value,
    st_config_json: Option<Value>,
    /// `config_sentence_transformers.json`'s prompts and default prompt name.
    prompts: Prompts,
    /// What the transformer computes in, and whether its weights were ever cast from float32.
    dtype: ComputeDtype,
    cast: bool,
    /// Mixed precision for training forwards ([`set_training_autocast`](Self::set_training_autocast)).
    training_autocast: Option<Kind>,
    side_files: Vec<(String, Vec<u8>)>,
}

impl SentenceTransformer {
    /// Loads a sentence-transformers folder (or a plain Hugging Face model folder, which gets
    /// mean pooling as sentence-transformers gives it). The architecture is `config.json`'s
    /// `model_type`.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::MissingFile {
                path: dir.to_path_buf(),
            });
        }
        let modules_file = dir.join("modules.json");
        let entries = match read_modules(dir)? {
            Some(entries) => entries,
            None => default_entries(),
        };
        let transformer_entry = first_transformer(&entries, &modules_file)?.clone();
        let mut entries = entries.into_iter();
        entries.next();
        let transformer_dir = dir.join(&transformer_entry.path);
        let folder = TransformerFolder::read(&transformer_dir)?;
        if folder.is_cross_encoder_task() {
            return Err(Error::Config {
                path: transformer_dir.join("sentence_bert_config.json"),
                message: "this is a cross-encoder (transformer_task \"sequence-classification\"): \
                          it scores text pairs and has no sentence embeddings; load it as a \
                          CrossEncoder (train-cli predict / rank)"
                    .into(),
            });
        }
        let with_pooler = folder.has_tensor_ending("pooler.dense.weight");
        let TransformerFolder {
            config,
            config_json: encoder_config_json,
            weights,
            tokenizer,
            side_files,
            ..
        } = folder;
        let mut vs = nn::VarStore::new(device);
        let encoder = Encoder::new(&vs.root(), &config, with_pooler);
        load_weights(&mut vs, &weights, &encoder.key_map())?;
        let max_seq_length = tokenizer.max_seq_length();

        let mut stages = Vec::new();
        let mut dim = config.hidden_size();
        for entry in entries {
            let stage = load_stage(&vs, dir, &modules_file, &entry, dim)?;
            dim = stage.output_dimension(dim);
            stages.push((entry, stage));
        }
        if !stages.iter().any(|(_, s)| matches!(s, Stage::Pooling(_))) {
            return Err(Error::Config {
                path: modules_file,
                message: "no Pooling module after the Transformer".into(),
            });
        }
        let st_config_path = dir.join("config_sentence_transformers.json");
        let st_config_json = if st_config_path.is_file() {
            Some(read_json(
                &st_config_path,
                "a sentence-transformers config",
            )?)
        } else {
            None
        };
        let prompts = Prompts::from_file(&st_config_path)?;
        tracing::info!(model = %dir.display(), model_type = config.model_type(), layers = config.num_layers(), hidden = config.hidden_size(), max_seq_length, "loaded model");
        Ok(SentenceTransformer {
            vs,
            encoder,
            config,
            tokenizer,
            stages,
            transformer_entry,
            encoder_config_json,
            st_config_json,
            prompts,
            side_files,
            dtype: ComputeDtype::Fp32,
            cast: false,
            training_autocast: None,
        })
    }

    /// A randomly initialised model of any architecture (e.g. a tiny BERT for tests, or
    /// training from scratch). The tokenizer side files written on save describe a BERT
    /// WordPiece tokenizer, as [`SentenceTokenizer::from_vocab`] builds.
    pub fn from_config(
        config: impl Into<EncoderConfig>,
        tokenizer: SentenceTokenizer,
        pooling: Vec<PoolingMode>,
        normalize: bool,
        device: Device,
    ) -> Result<Self> {
        let config = config.into();
        config.validate().map_err(|message| Error::Config {
            path: PathBuf::from("<in-memory config>"),
            message,
        })?;
        let vs = nn::VarStore::new(device);
        let encoder = Encoder::new(&vs.root(), &config, true);
        let mut entries = default_entries().into_iter();
        let transformer_entry = entries
            .next()
            .ok_or_else(|| Error::InvalidInput("no default modules".into()))?;
        let mut stages = vec![(
            entries
                .next()
                .ok_or_else(|| Error::InvalidInput("no default modules".into()))?,
            Stage::Pooling(Pooling::new(config.hidden_size(), pooling)?),
        )];
        if normalize {
            stages.push((
                ModuleEntry {
                    idx: 2,
                    name: "2".into(),
                    path: "2_Normalize".into(),
                    module_type: ModuleKind::Normalize.python_type().into(),
                },
                Stage::Normalize,
            ));
        }
        let side_files = wordpiece_side_files(&tokenizer);
        Ok(SentenceTransformer {
            vs,
            encoder,
            encoder_config_json: config.to_hf_json(),
            config,
            tokenizer,
            stages,
            transformer_entry,
            st_config_json: None,
            prompts: Prompts::built_in(),
            side_files,
            dtype: ComputeDtype::Fp32,
            cast: false,
            training_autocast: None,
        })
    }

    /// Writes the sentence-transformers folder format, atomically: everything goes to a
    /// sibling folder that replaces `dir` only once complete, so a crash never leaves a
    /// half-written model where a good one was.
    pub fn save(&self, dir: &Path) -> Result<()> {
        if self.cast {
            return Err(Error::InvalidInput(format!(
                "this model's weights were cast to {} to compute in it; saving them would lose \
                 float32 precision (save before set_dtype)",
                self.dtype
            )));
        }
        save_atomically(dir, |staging| self.write_into(staging))
    }

    /// Writes the model's files into an existing folder, leaving other files there alone (a
    /// training output folder also holds checkpoints and logs). Not atomic: use [`Self::save`]
    /// where a half-written model must never replace a good one.
    pub fn write_into(&self, dir: &Path) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let transformer_dir = dir.join(&self.transformer_entry.path);
        std::fs::create_dir_all(&transformer_dir).map_err(io(&transformer_dir))?;

        let mut entries = vec![json_entry(&self.transformer_entry, ModuleKind::Transformer)];
        for (entry, stage) in &self.stages {
            match stage {
                Stage::Pooling(pooling) => {
                    pooling.save(&dir.join(&entry.path))?;
                    entries.push(json_entry(entry, ModuleKind::Pooling));
                }
                Stage::Dense(dense) => {
                    dense.save(&dir.join(&entry.path))?;
                    entries.push(json_entry(entry, ModuleKind::Dense));
                }
                Stage::Normalize => {
                    let d = dir.join(&entry.path);
                    std::fs::create_dir_all(&d).map_err(io(&d))?;
                    entries.push(json_entry(entry, ModuleKind::Normalize));
                }
            }
        }
        write_json(&dir.join("modules.json"), &entries)?;
        write_config_and_tokenizer(
            &transformer_dir,
            &self.encoder_config_json,
            &self.tokenizer,
            &self.side_files,
        )?;
        save_weights(&self.vs, &transformer_dir.join("model.safetensors"))?;
        write_json(
            &transformer_dir.join("sentence_bert_config.json"),
            &json!({ "max_seq_length": self.tokenizer.max_seq_length(), "do_lower_case": self.tokenizer.do_lower_case() }),
        )?;
        let st_config = self.st_config_json.clone().unwrap_or_else(|| {
            json!({
                "__version__": { "sentence_transformers": "5.1.0", "transformers": "4.56.0", "pytorch": "2.11.0" },
                "prompts": {}, "default_prompt_name": null, "similarity_fn_name": "cosine",
            })
        });
        write_json(&dir.join("config_sentence_transformers.json"), &st_config)?;

        Ok(())
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

    /// `config_sentence_transformers.json`'s prompts and default prompt name.
    pub fn prompts(&self) -> &Prompts {
        &self.prompts
    }

    /// Sets `include_prompt` of every Pooling module (sentence-transformers'
    /// `set_pooling_include_prompt`); saving writes it.
    pub fn set_pooling_include_prompt(&mut self, include: bool) {
        for (_, stage) in &mut self.stages {
            if let Stage::Pooling(pooling) = stage {
                pooling.set_include_prompt(include);
            }
        }
    }

    /// A deep copy with weights of its own (sentence-transformers' `copy.deepcopy(model)`):
    /// the same architecture, modules, tokenizer, prompts and settings, and a new var store
    /// holding copies of every weight. ContrastiveTension trains such a copy beside the model.
    pub fn duplicate(&self) -> Result<Self> {
        self.rebuild(true)
    }

    /// The same architecture, modules, tokenizer and settings with freshly initialised weights
    /// (as transformers initialises the architecture, from libtorch's generator: seed it
    /// first), to train from scratch.
    pub fn reinitialized(&self) -> Result<Self> {
        self.rebuild(false)
    }

    /// [`reinitialized`](Self::reinitialized) as another size of the same architecture:
    /// `changes` replace keys of `config.json` first (`num_hidden_layers`, `hidden_size`,
    /// `num_attention_heads`, `intermediate_size`, …), e.g. a small BERT with this model's
    /// tokenizer. Only keys the config has; `model_type` and `vocab_size` (the tokenizer's)
    /// stay. The Pooling follows a new hidden size; a Dense module, sized for the old one,
    /// refuses it.
    pub fn reinitialized_with(&self, changes: &serde_json::Map<String, Value>) -> Result<Self> {
        if changes.is_empty() {
            return self.reinitialized();
        }
        let mut raw = self.encoder_config_json.clone();
        let Some(keys) = raw.as_object_mut() else {
            return Err(Error::InvalidInput("config.json is not an object".into()));
        };
        for (key, value) in changes {
            if key == "model_type" || key == "vocab_size" {
                return Err(Error::InvalidInput(format!(
                    "config.json key {key} cannot change: the tokenizer and the architecture \
                     come with the base model"
                )));
            }
            match keys.get_mut(key) {
                Some(slot) => *slot = value.clone(),
                None => {
                    return Err(Error::InvalidInput(format!(
                        "config.json has no key {key} to change (it has: {})",
                        keys.keys().cloned().collect::<Vec<_>>().join(", ")
                    )))
                }
            }
        }
        let config = EncoderConfig::from_json(&raw, Path::new("config.json"))?;
        config.validate().map_err(Error::InvalidInput)?;
        let hidden = config.hidden_size();
        let old_hidden = self.config.hidden_size();
        if hidden != old_hidden {
            if let Some((entry, _)) = self
                .stages
                .iter()
                .find(|(_, s)| matches!(s, Stage::Dense(_)))
            {
                return Err(Error::InvalidInput(format!(
                    "hidden_size {hidden} (from {old_hidden}) does not fit the Dense module {}, \
                     sized for the old width: change the width of a model without Dense modules",
                    entry.path
                )));
            }
        }
        let mut resized = self.rebuild_as(config, raw, false)?;
        for (_, stage) in &mut resized.stages {
            if let Stage::Pooling(pooling) = stage {
                let mut new = Pooling::new(hidden, pooling.modes().to_vec())?;
                new.set_include_prompt(pooling.include_prompt());
                *pooling = new;
            }
        }
        Ok(resized)
    }

    fn rebuild(&self, copy_weights: bool) -> Result<Self> {
        self.rebuild_as(
            self.config.clone(),
            self.encoder_config_json.clone(),
            copy_weights,
        )
    }

    fn rebuild_as(
        &self,
        config: EncoderConfig,
        encoder_config_json: Value,
        copy_weights: bool,
    ) -> Result<Self> {
        if self.cast {
            return Err(Error::InvalidInput(format!(
                "this model's weights were cast to {} to compute in it; copy or re-initialise \
                 it before set_dtype",
                self.dtype
            )));
        }
        let mut vs = nn::VarStore::new(self.device());
        let with_pooler = self
            .vs
            .variables()
            .keys()
            .any(|k| k.ends_with("pooler.dense.weight"));
        let encoder = Encoder::new(&vs.root(), &config, with_pooler);
        let stages = self
            .stages
            .iter()
            .map(|(entry, stage)| {
                let copy = match stage {
                    Stage::Pooling(pooling) => Stage::Pooling(pooling.clone()),
                    Stage::Dense(dense) => Stage::Dense(Dense::new(
                        &(vs.root() / MODULES_SCOPE / entry.idx),
                        dense.config().clone(),
                        Path::new(&entry.path),
                    )?),
                    Stage::Normalize => Stage::Normalize,
                };
                Ok((entry.clone(), copy))
            })
            .collect::<Result<Vec<_>>>()?;
        if copy_weights {
            vs.copy(&self.vs)?;
        }
        Ok(SentenceTransformer {
            vs,
            encoder,
            config,
            tokenizer: self.tokenizer.clone(),
            stages,
            transformer_entry: self.transformer_entry.clone(),
            encoder_config_json,
            st_config_json: self.st_config_json.clone(),
            prompts: self.prompts.clone(),
            dtype: self.dtype,
            cast: self.cast,
            training_autocast: self.training_autocast,
            side_files: self.side_files.clone(),
        })
    }

    /// Replaces the pooling strategies of the Pooling module (sentence-transformers'
    /// `Pooling(dim, pooling_mode=…)`, e.g. CLS pooling for TSDAE); saving writes them. Refused
    /// when the new embedding width would not fit a Dense module after it.
    pub fn set_pooling_modes(&mut self, modes: Vec<PoolingMode>) -> Result<()> {
        let Some(position) = self
            .stages
            .iter()
            .position(|(_, s)| matches!(s, Stage::Pooling(_)))
        else {
            return Err(Error::InvalidInput(
                "the model has no Pooling module to set the pooling of".into(),
            ));
        };
        let Stage::Pooling(old) = &self.stages[position].1 else {
            return Err(Error::InvalidInput("no Pooling module".into()));
        };
        let mut pooling = Pooling::new(old.embedding_dimension(), modes)?;
        pooling.set_include_prompt(old.include_prompt());
        let widened = pooling.output_dimension() != old.output_dimension();
        let dense_after = self.stages[position + 1..]
            .iter()
            .any(|(_, s)| matches!(s, Stage::Dense(_)));
        if widened && dense_after {
            return Err(Error::InvalidInput(format!(
                "pooling {:?} gives {} values per text but the Dense module after the Pooling \
                 takes {}",
                pooling.modes().iter().map(|m| m.name()).collect::<Vec<_>>(),
                pooling.output_dimension(),
                old.output_dimension()
            )));
        }
        self.stages[position].1 = Stage::Pooling(pooling);
        Ok(())
    }

    pub fn tokenizer(&self) -> &SentenceTokenizer {
        &self.tokenizer
    }

    /// The encoder's architecture and hyper-parameters.
    pub fn encoder_config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The transformer encoder behind the seam.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    pub fn max_seq_length(&self) -> usize {
        self.tokenizer.max_seq_length()
    }

    pub fn pooling_modes(&self) -> Vec<PoolingMode> {
        self.stages
            .iter()
            .find_map(|(_, s)| match s {
                Stage::Pooling(p) => Some(p.modes().to_vec()),
                Stage::Dense(_) | Stage::Normalize => None,
            })
            .unwrap_or_default()
    }

    pub fn normalizes(&self) -> bool {
        self.stages
            .iter()
            .any(|(_, s)| matches!(s, Stage::Normalize))
    }

    /// Size of the sentence embeddings: the last Pooling's or Dense's output.
    pub fn embedding_dimension(&self) -> i64 {
        self.stages
            .iter()
            .fold(self.config.hidden_size(), |dim, (_, s)| {
                s.output_dimension(dim)
            })
    }

    /// Moves a collated batch to the model's device.
    pub fn to_tensors(&self, batch: &EncodedBatch) -> TokenBatch {
        TokenBatch::from_encoded(batch, self.device())
    }

    /// Sentence embeddings of a batch, with gradients when called outside `no_grad`.
    ///
    /// # Shapes
    /// ids, mask: `[batch, seq]` → `[batch, embedding_dimension]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        self.forward_with_prompt_t(batch, None, train)
    }

    /// [`forward_t`](Self::forward_t) for texts that all start with a prompt of
    /// `prompt_length` tokens ([`SentenceTokenizer::prompt_length`]), which a Pooling with
    /// `include_prompt = false` leaves out. A batch's own `prompt_lengths` (per row) take
    /// precedence.
    ///
    /// # Shapes
    /// ids, mask: `[batch, seq]` → `[batch, embedding_dimension]`
    pub fn forward_with_prompt_t(
        &self,
        batch: &TokenBatch,
        prompt_length: Option<usize>,
        train: bool,
    ) -> Result<Tensor> {
        let xs = self.autocast_encoder(train, || self.encoder.forward_t(batch, train))?;
        self.modules_forward(xs, batch, prompt_length)
    }

    /// The modules after the transformer on its token embeddings `xs` (in float32 whatever
    /// the transformer computed in).
    pub(crate) fn modules_forward(
        &self,
        xs: Tensor,
        batch: &TokenBatch,
        prompt_length: Option<usize>,
    ) -> Result<Tensor> {
        let mut xs = if matches!(xs.kind(), Kind::BFloat16 | Kind::Half) {
            xs.f_to_kind(Kind::Float)?
        } else {
            xs
        };
        for (_, stage) in &self.stages {
            xs = match stage {
                Stage::Pooling(pooling) => match &batch.prompt_lengths {
                    Some(lengths) => pooling.forward_with_prompt_lengths(
                        &xs,
                        &batch.attention_mask,
                        Some(lengths),
                    )?,
                    None => {
                        pooling.forward_with_prompt(&xs, &batch.attention_mask, prompt_length)?
                    }
                },
                Stage::Dense(dense) => dense.forward(&xs)?,
                Stage::Normalize => l2_normalize(&xs),
            };
        }
        Ok(xs)
    }

    /// Makes the transformer compute in `dtype` (bf16: faster inference on CPUs and GPUs that
    /// support it) by casting its weights; the modules after it stay float32 and get its output
    /// as float32. fp16 is refused on the CPU. Casting back up does not restore the float32
    /// weights, so a model that computed in another dtype refuses to [`save`](Self::save).
    pub fn set_dtype(&mut self, dtype: ComputeDtype) -> Result<()> {
        dtype.check_device(self.device())?;
        dtype.warn_if_emulated(self.device());
        let modules = format!("{MODULES_SCOPE}.");
        tch::no_grad(|| {
            for (name, mut var) in self.vs.variables() {
                if !name.starts_with(&modules) {
                    var.set_data(&var.f_to_kind(dtype.kind())?);
                }
            }
            Ok::<_, tch::TchError>(())
        })?;
        if dtype != ComputeDtype::Fp32 {
            self.cast = true;
        }
        self.dtype = dtype;
        Ok(())
    }

    /// Mixed-precision training: train-mode forwards run the transformer under autocast to
    /// `kind` (`Kind::BFloat16`, or `Kind::Half` on CUDA), so its matrix products compute in
    /// it while the float32 weights stay the master copy and norms and softmax stay float32;
    /// its output returns to float32, so pooling, the modules after it and the losses run in
    /// float32. Eval-mode forwards (encode, evaluation) are unaffected.
    pub fn set_training_autocast(&mut self, kind: Option<Kind>) {
        if kind == Some(Kind::BFloat16) {
            ComputeDtype::Bf16.warn_if_emulated(self.device());
        }
        self.training_autocast = kind;
    }

    /// Runs `f` (transformer forwards) under the training autocast when `train`.
    pub(crate) fn autocast_encoder<T>(
        &self,
        train: bool,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let kind = self.training_autocast.filter(|_| train);
        torch_ext::autocast(self.device(), kind, f)?
    }

    /// A decoder's next-token scores at the real positions of `input_ids` (see
    /// [`SentenceDecoder::forward_real_t`]) over this model's transformer, under the same
    /// training autocast as its forwards: float32 scores `[tokens, vocab]` and the flat
    /// positions of those tokens.
    pub fn decoder_forward_real_t(
        &self,
        decoder: &crate::SentenceDecoder,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        memory: &Tensor,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (logits, positions) = self.autocast_encoder(train, || {
            decoder.forward_real_t(&self.encoder, input_ids, attention_mask, memory, train)
        })?;
        Ok((logits.f_to_kind(Kind::Float)?, positions))
    }

    /// The dtype the transformer computes in (float32 unless [`set_dtype`](Self::set_dtype)).
    pub fn dtype(&self) -> ComputeDtype {
        self.dtype
    }
}

/// Builds the module of `entry` (after the Transformer) whose input has `dim` features: a
/// Pooling must take the hidden size, a Dense the size before it.
fn load_stage(
    vs: &nn::VarStore,
    dir: &Path,
    modules_file: &Path,
    entry: &ModuleEntry,
    dim: i64,
) -> Result<Stage> {
    let module_dir = dir.join(&entry.path);
    let mismatch = |what: &str, own: i64| Error::Config {
        path: module_dir.join("config.json"),
        message: format!(
            "{what} {own} differs from the {dim} features the module before it produces"
        ),
    };
    Ok(match entry.kind(modules_file)? {
        ModuleKind::Pooling => {
            let pooling = Pooling::from_config_file(&module_dir.join("config.json"))?;
            if pooling.embedding_dimension() != dim {
                return Err(mismatch(
                    "word_embedding_dimension",
                    pooling.embedding_dimension(),
                ));
            }
            Stage::Pooling(pooling)
        }
        ModuleKind::Dense => {
            let scope = vs.root() / MODULES_SCOPE / entry.idx;
            let mut dense = Dense::from_dir(&scope, &module_dir)?;
            if dense.in_features() != dim {
                return Err(mismatch("in_features", dense.in_features()));
            }
            dense.load_weights(&module_dir)?;
            Stage::Dense(dense)
        }
        ModuleKind::Normalize => Stage::Normalize,
        ModuleKind::Transformer => {
            return Err(Error::Config {
                path: modules_file.to_path_buf(),
                message: format!(
                    "module {} is a second Transformer, which is not supported",
                    entry.idx
                ),
            })
        }
    })
}

fn json_entry(entry: &ModuleEntry, kind: ModuleKind) -> Value {
    json!({ "idx": entry.idx, "name": entry.name, "path": entry.path, "type": kind.python_type() })
}

fn default_entries() -> Vec<ModuleEntry> {
    vec![
        ModuleEntry {
            idx: 0,
            name: "0".into(),
            path: String::new(),
            module_type: ModuleKind::Transformer.python_type().into(),
        },
        ModuleEntry {
            idx: 1,
            name: "1".into(),
            path: "1_Pooling".into(),
            module_type: ModuleKind::Pooling.python_type().into(),
        },
    ]
}
