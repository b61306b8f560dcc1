//! The training configuration: TOML on disk, every field defaulted, overridable from the CLI
//! with `section.key=value` pairs before it is deserialised (so an override is checked exactly
//! like the file: unknown keys and wrong types are errors).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::device::DeviceChoice;
use crate::error::{Error, Result};
use crate::evaluator::{EvaluatorConfig, StsEvaluatorConfig};
use crate::loss_choice::LossChoice;
use crate::pairing::SentencePairing;

/// The configuration `cargo run -p train-cli -- --epochs 1` runs when no `--config` is given.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../../configs/default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelConfig,
    /// The training data of a one-dataset run (with `loss`); see `datasets` for several.
    pub data: DataConfig,
    /// A bi-encoder loss, or with `model.cross_encoder` a cross-encoder one
    /// (`type = "cross_encoder.…"`).
    pub loss: LossChoice,
    /// Several training datasets, each with its own loss (`[[datasets]]`; then `[data]` and
    /// `[loss]` stay unset). Every batch comes from one dataset; `training.multi_dataset_sampling`
    /// orders them.
    pub datasets: Vec<DatasetConfig>,
    pub training: TrainingConfig,
    pub evaluation: EvaluationConfig,
    pub output: OutputConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Hub id (`org/name[@revision]`) or local folder: a sentence-transformers model, or a plain
    /// Hugging Face BERT (mean pooling is added, as sentence-transformers does).
    pub base: String,
    /// Replaces the model's pooling strategy (sentence-transformers' `Pooling(dim,
    /// pooling_mode=…)`): `cls`, `mean`, `max`, `mean_sqrt_len_tokens`, `weightedmean` or
    /// `lasttoken`. TSDAE trains with `cls`. Unset: the model's own Pooling module.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pooling: Option<String>,
    /// `pretrained`: the base's weights. `random`: the base's architecture, tokenizer and
    /// modules with freshly initialised weights (transformers' initialisation, seeded by
    /// `training.seed`), to train from scratch.
    pub weights: ModelWeights,
    /// With `weights = "random"`: `config.json` keys to change before the weights are drawn,
    /// another size of the base's architecture with its tokenizer, e.g. `{ num_hidden_layers
    /// = 4, hidden_size = 256, num_attention_heads = 4, intermediate_size = 1024 }`.
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub architecture: toml::Table,
    /// Train a cross-encoder (reranker) from `base` instead of a bi-encoder: `base`'s
    /// transformer under a sequence-classification head (the base's own when it is a
    /// cross-encoder, a new one otherwise), trained with a `cross_encoder.…` loss and saved
    /// as sentence-transformers' CrossEncoder folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_encoder: Option<CrossEncoderSettings>,
}

/// The most scores per pair a cross-encoder head may have: far beyond any label set, and a
/// bound that keeps a mistyped count from asking for a head of many gigabytes.
pub const MAX_NUM_LABELS: usize = 100_000;

/// `[model.cross_encoder]`: the head and scores of a cross-encoder run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrossEncoderSettings {
    /// Scores per pair (`CrossEncoder(num_labels=…)`). Unset: the base's head's when it has
    /// one, else 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<usize>,
    /// The activation `predict` applies by default, stored in the saved folder:
    /// `sigmoid`, `identity`, `tanh`, `softmax` or a `torch.nn` class path. Unset: the base's,
    /// else sentence-transformers' default (sigmoid for one label, identity otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
}

/// Where a run's starting weights come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelWeights {
    #[default]
    Pretrained,
    Random,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            base: "sentence-transformers/all-MiniLM-L6-v2".into(),
            pooling: None,
            weights: ModelWeights::Pretrained,
            architecture: toml::Table::new(),
            cross_encoder: None,
        }
    }
}

/// One training dataset and the loss it trains with; both are required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Names the dataset in logs and the model card (default: the dataset's last path part
    /// and the split, `mnli-train`).
    #[serde(default)]
    pub name: Option<String>,
    pub data: DataConfig,
    pub loss: LossChoice,
}

/// A training dataset as the trainer sees it: `[data]` + `[loss]`, or one `[[datasets]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingDataset<'a> {
    pub name: String,
    pub data: &'a DataConfig,
    pub loss: &'a LossChoice,
}

/// How the training rows are built from the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// NLI: (premise, entailment hypothesis, random hypothesis), the book's MNRL recipe.
    SoftTriplets,
    /// NLI: (premise, entailment hypothesis, contradiction hypothesis of the same premise).
    HardTriplets,
    /// NLI: (premise, hypothesis) with the 3-way label, for SoftmaxLoss.
    LabelledPairs,
    /// NLI: (premise, hypothesis) scored 1 (entailment) or 0 (contradiction; neutral per
    /// `neutral`), for CosineSimilarityLoss and friends.
    ScoredPairs,
    /// STS-like parquet (sentence1, sentence2, score), scores divided by `score_max`.
    StsPairs,
    /// A user file (.csv, .tsv, .jsonl, .parquet) read through `columns`.
    Columns,
    /// Single sentences for unsupervised training (TSDAE, SimCSE, Contrastive Tension), made
    /// into rows by `pairing` (without one: one column `text`, no target). Where they come
    /// from:
    /// - a known NLI dataset (glue/mnli, snli): every premise and hypothesis, of every row
    ///   whatever its label (rows without gold label too), premise before hypothesis, each
    ///   distinct text once (exact equality) in first-seen order; glue/stsb likewise with
    ///   sentence1 and sentence2. Empty texts are left out.
    /// - a local `.txt` file: one sentence per line, as written (an empty or whitespace-only
    ///   line is an error naming the file and line).
    /// - a local .csv, .tsv, .jsonl or .parquet file: the column `columns = "text=<column>"`
    ///   names (without `columns`, the file's only text column), in file order (an empty text is
    ///   an error naming the file and row).
    ///
    /// A user's own files are not de-duplicated: repeats are theirs to keep or remove.
    Sentences,
}

/// What scored NLI pairs do with neutral rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeutralChoice {
    /// Score 0.0, as the book does.
    Zero,
    Drop,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// A known hub dataset (glue/mnli, snli, glue/stsb), downloaded into the HF cache, or a local
    /// file (.csv, .tsv, .jsonl, .parquet; also .txt with `format = "sentences"`).
    pub dataset: String,
    pub split: String,
    pub format: DataFormat,
    pub neutral: NeutralChoice,
    /// For `format = "columns"`: `role=file_column,…` (e.g. `anchor=question,positive=answer`).
    /// For `format = "sentences"` with a user file: `text=file_column`.
    pub columns: Option<String>,
    /// Keep this many rows (NLI builders: as each builder documents; `sentences`: the first
    /// sentences, after de-duplication and before pairing; others: the first rows).
    pub max_rows: Option<usize>,
    /// For `sts_pairs`: the largest gold score.
    pub score_max: f64,
    /// Text put before every text of a column before tokenisation (sentence-transformers'
    /// `prompts` training argument): `"query: "` for every text column, or a table
    /// `{ anchor = "query: ", positive = "passage: " }` by column name. A Pooling with
    /// `include_prompt = false` leaves the prompt's tokens out of the embedding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts: Option<TrainingPrompts>,
    /// For `format = "sentences"`: the rows made of each sentence, a table `{ type = "denoising",
    /// deletion_ratio = 0.6 }` (columns `noisy`, `original`), `{ type = "identical" }`
    /// (`anchor`, `positive`) or `{ type = "contrastive_tension", pos_neg_ratio = 8 }`
    /// (`sentence1`, `sentence2`, a score); see [`SentencePairing`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairing: Option<SentencePairing>,
}

/// `data.prompts`: one prompt for all columns, or one per column name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrainingPrompts {
    All(String),
    PerColumn(std::collections::BTreeMap<String, String>),
}

impl TrainingPrompts {
    /// The prompt of each of `columns` (in their order), or an error naming a prompt's column
    /// that the data does not have (`origin` is the config key, e.g. `data.prompts`).
    pub fn for_columns(&self, columns: &[String], origin: &str) -> Result<Vec<Option<String>>> {
        match self {
            Self::All(prompt) => Ok(columns.iter().map(|_| Some(prompt.clone())).collect()),
            Self::PerColumn(by_name) => {
                if let Some(unknown) = by_name.keys().find(|k| !columns.contains(k)) {
                    return Err(Error::Config {
                        origin: format!("{origin}.{unknown}"),
                        message: format!(
                            "the training rows have no column {unknown:?}; they have {}",
                            columns.join(", ")
                        ),
                    });
                }
                Ok(columns.iter().map(|c| by_name.get(c).cloned()).collect())
            }
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: "glue/mnli".into(),
            split: "train".into(),
            format: DataFormat::SoftTriplets,
            neutral: NeutralChoice::Zero,
            columns: None,
            max_rows: None,
            score_max: 5.0,
            prompts: None,
            pairing: None,
        }
    }
}

/// Numeric precision of the forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    #[default]
    Fp32,
    /// CUDA autocast to float16 with dynamic loss scaling; on the CPU a warning and fp32.
    Fp16,
    /// The transformer's training forwards under autocast to bfloat16 (CUDA or CPU): its
    /// matrix products in bf16, its norms and softmax, the losses, the float32 master weights
    /// and the optimizer in float32; no loss scaling needed (float32's exponent range).
    /// Evaluation during training stays float32.
    Bf16,
}

/// How examples are grouped into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchSampler {
    /// Seeded shuffle per epoch.
    Shuffle,
    /// The rows in the order of the data, every epoch (for pre-shuffled data or curricula).
    Sequential,
    /// Shuffle, but never the same text twice in a batch (in-batch negatives stay negatives).
    NoDuplicates,
    /// Batches of labelled rows holding two or more rows of each label in them
    /// (sentence-transformers' GROUP_BY_LABEL), for the batch triplet losses; the batch size
    /// must be even and at least 4.
    GroupByLabel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    pub epochs: u32,
    /// Stop after this many optimizer steps (overrides `epochs` when smaller).
    pub max_steps: Option<u64>,
    pub batch_size: usize,
    pub gradient_accumulation_steps: usize,
    pub learning_rate: f64,
    pub warmup_steps: u64,
    /// Decoupled (AdamW) weight decay; never applied to biases and LayerNorm weights.
    pub weight_decay: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_epsilon: f64,
    /// Clip the global gradient norm to this (0 disables clipping).
    pub max_grad_norm: f64,
    pub seed: u64,
    pub device: DeviceChoice,
    pub precision: Precision,
    pub batch_sampler: BatchSampler,
    /// Batches of similar token lengths (batch order still shuffled): less padding, faster.
    pub group_by_length: bool,
    pub drop_last: bool,
    /// libtorch CPU threads (default: libtorch's choice; in a data-parallel run of several
    /// processes on one machine, the machine's cores shared out among them).
    pub threads: Option<usize>,
    /// Seconds a process of a data-parallel run waits for the others — to join, in a
    /// collective, at a barrier (rank 0 may be evaluating) — before it fails (the Hugging
    /// Face Trainer's `ddp_timeout`). A process that dies is noticed at once, not after this.
    pub ddp_timeout: u64,
    /// The c10d backend of a data-parallel run (the Hugging Face Trainer's `ddp_backend`):
    /// `auto` (NCCL when training on CUDA in a build with the `nccl` feature, else Gloo),
    /// `gloo` (CPU or CUDA tensors) or `nccl` (CUDA tensors; needs that build).
    pub ddp_backend: DdpBackend,
    /// With several `[[datasets]]`: `proportional` (every batch of every dataset once per
    /// epoch, datasets in a seeded random order; sentence-transformers' default) or
    /// `round_robin` (one batch of each in turn, until the smallest runs out).
    pub multi_dataset_sampling: data::MultiDatasetSampling,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            max_steps: None,
            batch_size: 32,
            gradient_accumulation_steps: 1,
            learning_rate: 5e-5,
            warmup_steps: 100,
            weight_decay: 0.01,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            max_grad_norm: 1.0,
            seed: 42,
            device: DeviceChoice::Auto,
            precision: Precision::Fp32,
            batch_sampler: BatchSampler::NoDuplicates,
            group_by_length: false,
            drop_last: false,
            threads: None,
            ddp_timeout: 1800,
            ddp_backend: DdpBackend::Auto,
            multi_dataset_sampling: data::MultiDatasetSampling::Proportional,
        }
    }
}

/// The c10d backend of a data-parallel run (see [`TrainingConfig::ddp_backend`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DdpBackend {
    #[default]
    Auto,
    Gloo,
    Nccl,
}

/// When and how the model is evaluated while training, and which metric picks the best model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Evaluate every this many optimizer steps (0: only before and after training).
    pub eval_steps: u64,
    /// Texts per encode batch while evaluating.
    pub batch_size: usize,
    /// `{evaluator name}_{metric}` that selects the best model (`output.load_best`); default:
    /// the first evaluator's primary metric (an `eval_` prefix, as the HF trainer writes it,
    /// is accepted).
    pub metric_for_best_model: Option<String>,
    /// Whether a larger `metric_for_best_model` is better.
    pub greater_is_better: bool,
    /// The evaluators, run in order before training, every `eval_steps` and at the end
    /// (`[[evaluation.evaluators]]`; empty: no evaluation).
    pub evaluators: Vec<EvaluatorConfig>,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        Self {
            eval_steps: 100,
            batch_size: 64,
            metric_for_best_model: None,
            greater_is_better: true,
            evaluators: vec![EvaluatorConfig::EmbeddingSimilarity(
                StsEvaluatorConfig::default(),
            )],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    pub dir: PathBuf,
    /// Log the loss and learning rate every this many optimizer steps.
    pub logging_steps: u64,
    /// Write a checkpoint every this many optimizer steps (0: only on interruption).
    pub save_steps: u64,
    /// Keep at most this many checkpoints (oldest removed first; the best one is kept with
    /// `load_best`).
    pub save_total_limit: Option<usize>,
    /// At the end, keep the weights of the evaluation with the best
    /// `evaluation.metric_for_best_model`.
    pub load_best: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Where the logged metrics also go, besides `metrics.jsonl` (the Hugging Face Trainer's
    /// `report_to`): `["tensorboard"]` writes TensorBoard event files under `runs/` in
    /// `dir`; `[]` turns it off.
    pub report_to: Vec<ReportTo>,
}

/// A destination for the logged metrics (`output.report_to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportTo {
    /// TensorBoard event files in `<output.dir>/runs/` (`tensorboard --logdir <dir>/runs`).
    Tensorboard,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("output/default"),
            logging_steps: 10,
            save_steps: 500,
            save_total_limit: Some(2),
            load_best: false,
            progress: true,
            report_to: vec![ReportTo::Tensorboard],
        }
    }
}

impl TrainConfig {
    /// Parses a TOML config, applies `key.path=value` overrides, and validates the result.
    /// `origin` names the source in errors (a file path, or "built-in default config").
    pub fn from_toml(text: &str, origin: &str, overrides: &[(String, String)]) -> Result<Self> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Config {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        for (key, value) in overrides {
            apply_to_datasets_or_table(&mut table, key, value).map_err(|message| {
                Error::Config {
                    origin: format!("override {key}={value}"),
                    message,
                }
            })?;
        }
        // A cross-encoder run without its own evaluators gets the cross-encoder counterpart of
        // the default one (STS-B validation, scored by the model instead of by embeddings).
        let default_evaluators = table
            .get("evaluation")
            .and_then(|e| e.get("evaluators"))
            .is_none();
        let mut config: TrainConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| Error::Config {
                    origin: origin.into(),
                    message: e.to_string(),
                })?;
        if default_evaluators && config.model.cross_encoder.is_some() {
            config.evaluation.evaluators = vec![EvaluatorConfig::CrossEncoderCorrelation(
                StsEvaluatorConfig::default(),
            )];
        }
        config.validate().map_err(|message| Error::Config {
            origin: origin.into(),
            message,
        })?;
        Ok(config)
    }

    pub fn from_file(path: &Path, overrides: &[(String, String)]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string(), overrides)
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config {
            origin: "resolved config".into(),
            message: e.to_string(),
        })
    }

    /// Checks what serde cannot: positive sizes, sensible rates, consistent choices.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let t = &self.training;
        if t.batch_size == 0 {
            return Err("training.batch_size must be at least 1".into());
        }
        if t.gradient_accumulation_steps == 0 {
            return Err("training.gradient_accumulation_steps must be at least 1".into());
        }
        if t.epochs == 0 && t.max_steps.is_none() {
            return Err("training.epochs must be at least 1 (or set training.max_steps)".into());
        }
        if t.max_steps == Some(0) {
            return Err("training.max_steps must be at least 1".into());
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return Err(format!(
                "training.learning_rate must be a positive number, got {}",
                t.learning_rate
            ));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err("training.weight_decay must be ≥ 0".into());
        }
        for (name, beta) in [("adam_beta1", t.adam_beta1), ("adam_beta2", t.adam_beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(format!("training.{name} must be in [0, 1), got {beta}"));
            }
        }
        if t.adam_epsilon.is_nan() || t.adam_epsilon <= 0.0 {
            return Err("training.adam_epsilon must be positive".into());
        }
        if !(t.max_grad_norm.is_finite() && t.max_grad_norm >= 0.0) {
            return Err("training.max_grad_norm must be ≥ 0".into());
        }
        if t.threads.is_some_and(|n| n == 0 || n > i32::MAX as usize) {
            return Err(format!(
                "training.threads must be between 1 and {}, got {}",
                i32::MAX,
                t.threads.unwrap_or_default()
            ));
        }
        if !self.model.architecture.is_empty() && self.model.weights != ModelWeights::Random {
            let keys: Vec<&str> = self.model.architecture.keys().map(String::as_str).collect();
            return Err(format!(
                "model.architecture ({}) changes the shapes of the weights: it needs \
                 model.weights = \"random\"",
                keys.join(", ")
            ));
        }
        self.validate_datasets()?;
        self.validate_model_kind()?;
        self.validate_evaluation()?;
        if self.output.logging_steps == 0 {
            return Err("output.logging_steps must be at least 1".into());
        }
        if self.output.save_total_limit == Some(0) {
            return Err("output.save_total_limit must be at least 1".into());
        }
        Ok(())
    }
}

impl TrainConfig {
    /// The training datasets: the `[[datasets]]` entries, or `[data]` with `[loss]`.
    pub fn training_datasets(&self) -> Vec<TrainingDataset<'_>> {
        if self.datasets.is_empty() {
            return vec![TrainingDataset {
                name: dataset_display_name(&self.data.dataset, &self.data.split),
                data: &self.data,
                loss: &self.loss,
            }];
        }
        self.datasets
            .iter()
            .map(|d| TrainingDataset {
                name: d
                    .name
                    .clone()
                    .unwrap_or_else(|| dataset_display_name(&d.data.dataset, &d.data.split)),
                data: &d.data,
                loss: &d.loss,
            })
            .collect()
    }

    fn validate_datasets(&self) -> std::result::Result<(), String> {
        if !self.datasets.is_empty()
            && (self.data != DataConfig::default() || self.loss != LossChoice::default())
        {
            return Err(
                "give either [data] with [loss] or [[datasets]] entries (each with its own data \
                 and loss), not both"
                    .into(),
            );
        }
        let mut names = std::collections::HashSet::new();
        for (i, d) in self.training_datasets().iter().enumerate() {
            let key = if self.datasets.is_empty() {
                "data".to_string()
            } else {
                format!("datasets[{i}].data")
            };
            validate_data(d.data, &self.training).map_err(|message| format!("{key}.{message}"))?;
            if !names.insert(d.name.clone()) {
                return Err(format!(
                    "datasets[{i}]: another dataset is already named {:?}; give each a distinct name",
                    d.name
                ));
            }
        }
        Ok(())
    }

    /// A cross-encoder run trains with cross-encoder losses only, a bi-encoder run with
    /// bi-encoder losses only.
    fn validate_model_kind(&self) -> std::result::Result<(), String> {
        let cross = self.model.cross_encoder.is_some();
        for (i, d) in self.training_datasets().iter().enumerate() {
            let key = if self.datasets.is_empty() {
                "loss".to_string()
            } else {
                format!("datasets[{i}].loss")
            };
            match (cross, d.loss) {
                (true, LossChoice::Embedding(loss)) => {
                    let name = loss.type_name();
                    return Err(format!(
                        "{key}: model.cross_encoder trains a cross-encoder, which needs a \
                         cross-encoder loss ({}); {name:?} is a bi-encoder loss",
                        crate::RerankLossConfig::TYPES.join(", ")
                    ));
                }
                (false, LossChoice::Rerank(_)) => {
                    return Err(format!(
                        "{key}: a cross_encoder.… loss trains a cross-encoder; set \
                         [model.cross_encoder] (e.g. `num_labels = 1`) to train one"
                    ));
                }
                (true, LossChoice::Rerank(loss)) => {
                    loss.validate()
                        .map_err(|message| format!("{key}.{message}"))?;
                }
                _ => {}
            }
        }
        if cross {
            if self.model.pooling.is_some() {
                return Err("model.pooling: a cross-encoder has no pooling to replace".into());
            }
            if self.model.weights != ModelWeights::Pretrained {
                return Err(
                    "model.weights: a cross-encoder trains from the base's pretrained weights"
                        .into(),
                );
            }
            if let Some(n) = self.model.cross_encoder.as_ref().and_then(|c| c.num_labels) {
                if !(1..=MAX_NUM_LABELS).contains(&n) {
                    return Err(format!(
                        "model.cross_encoder.num_labels must be between 1 and {MAX_NUM_LABELS}, \
                         got {n}"
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_evaluation(&self) -> std::result::Result<(), String> {
        let e = &self.evaluation;
        if e.batch_size == 0 {
            return Err("evaluation.batch_size must be at least 1".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, evaluator) in e.evaluators.iter().enumerate() {
            let key = format!("evaluation.evaluators[{i}]");
            let name = evaluator.name();
            if name.is_empty() {
                return Err(format!("{key}.name must not be empty"));
            }
            if !names.insert(name.clone()) {
                return Err(format!(
                    "{key}: another evaluator is already named {name:?}; give each a distinct name"
                ));
            }
            evaluator
                .validate()
                .map_err(|message| format!("{key}.{message}"))?;
            let cross = self.model.cross_encoder.is_some();
            if cross && !evaluator.scores_pairs() {
                return Err(format!(
                    "{key}: {name} embeds texts with a bi-encoder, but this run trains a \
                     cross-encoder; its evaluators are cross_encoder_correlation and \
                     cross_encoder_classification"
                ));
            }
            if !cross && evaluator.scores_pairs() {
                return Err(format!(
                    "{key}: {name} scores pairs with a cross-encoder; set \
                     [model.cross_encoder] to train one"
                ));
            }
        }
        Ok(())
    }
}

/// Checks of one data section; the message starts with the field.
fn validate_data(data: &DataConfig, training: &TrainingConfig) -> std::result::Result<(), String> {
    if data.format == DataFormat::Columns && data.columns.is_none() {
        return Err(
            "columns is needed with format = \"columns\", e.g. \"anchor=question,positive=answer\""
                .into(),
        );
    }
    validate_sentences(data, training)?;
    if data.max_rows == Some(0) {
        return Err("max_rows must be at least 1".into());
    }
    if data.score_max.is_nan() || data.score_max <= 0.0 {
        return Err("score_max must be positive".into());
    }
    Ok(())
}

/// The keys only `format = "sentences"` reads: `pairing` (checked against the batching it
/// needs) and `columns` (`text=<column>` of a user file).
fn validate_sentences(
    data: &DataConfig,
    training: &TrainingConfig,
) -> std::result::Result<(), String> {
    if let Some(pairing) = &data.pairing {
        if data.format != DataFormat::Sentences {
            return Err(format!(
                "pairing is only read with format = \"sentences\", not {}",
                toml::Value::try_from(data.format)
                    .map_or_else(|_| format!("{:?}", data.format), |v| v.to_string())
            ));
        }
        pairing
            .validate(
                training.batch_sampler,
                training.batch_size,
                training.group_by_length,
            )
            .map_err(|message| format!("pairing.{message}"))?;
    }
    if data.format == DataFormat::Sentences {
        if let Some(columns) = &data.columns {
            let from_file = data::KnownDataset::find(&data.dataset).is_none()
                && !crate::sentences::is_text_file(Path::new(&data.dataset));
            if !from_file {
                return Err(format!(
                    "columns picks a column of a .csv, .tsv, .jsonl or .parquet file; {} has \
                     its own sentences with format = \"sentences\"",
                    data.dataset
                ));
            }
            validate_sentence_column(columns)?;
        }
    }
    Ok(())
}

/// `columns` of `format = "sentences"`: exactly `text=<column>`.
fn validate_sentence_column(columns: &str) -> std::result::Result<(), String> {
    let mapping: data::ColumnMapping = columns.parse().map_err(|e| format!("columns: {e}"))?;
    let roles: Vec<&str> = mapping.text_roles().map(|(role, _)| role).collect();
    if roles != ["text"] || mapping.target().is_some() {
        return Err(format!(
            "columns must map one column to the role `text` with format = \"sentences\" \
             (e.g. \"text=sentence\"), got {columns:?}"
        ));
    }
    Ok(())
}

/// `glue/mnli` + `train` → `mnli-train`; a file path gives its stem.
fn dataset_display_name(dataset: &str, split: &str) -> String {
    let base = Path::new(dataset)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| dataset.to_string());
    format!("{base}-{split}")
}

/// Sets `a.b.c = value` in a TOML table. The value is parsed as TOML (`5e-5`, `true`,
/// `"text"`, `[1, 2]`), falling back to a bare string, so `data.dataset=glue/mnli` needs no
/// quotes.
/// With `[[datasets]]` entries, a `data.…` or `loss.…` override (`--max-rows`, `--set
/// loss.scale=…`) applies to each entry's `data` or `loss`, since a top-level `[data]` beside
/// them is an error.
fn apply_to_datasets_or_table(
    table: &mut toml::Table,
    key: &str,
    value: &str,
) -> std::result::Result<(), String> {
    let per_dataset = key.starts_with("data.") || key.starts_with("loss.");
    match table.get_mut("datasets") {
        Some(toml::Value::Array(entries)) if per_dataset => {
            for (i, entry) in entries.iter_mut().enumerate() {
                let entry = entry
                    .as_table_mut()
                    .ok_or_else(|| format!("datasets[{i}] is not a table"))?;
                apply_override(entry, key, value)?;
            }
            Ok(())
        }
        _ => apply_override(table, key, value),
    }
}

fn apply_override(
    table: &mut toml::Table,
    key: &str,
    value: &str,
) -> std::result::Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("bad key {key:?}: use section.field"));
    }
    let parsed = parse_value(value);
    let (last, sections) = parts
        .split_last()
        .ok_or_else(|| format!("bad key {key:?}"))?;
    let mut current = table;
    for section in sections {
        let entry = current
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("{section} is not a table"))?;
    }
    // `type` is the tag of a choice (a loss, a pairing, an evaluator): another choice starts
    // from its own defaults, since the old choice's fields (MNRL's `scale`) are unknown to it.
    if *last == TAG && current_tag(current, sections).as_ref() != Some(&parsed) {
        current.clear();
    }
    current.insert(last.to_string(), parsed);
    Ok(())
}

const TAG: &str = "type";

/// The choice a table holds: its own `type`, or the built-in default's at the same path when
/// the table leaves it out.
fn current_tag(table: &toml::Table, path: &[&str]) -> Option<toml::Value> {
    if let Some(tag) = table.get(TAG) {
        return Some(tag.clone());
    }
    let defaults = toml::Table::try_from(TrainConfig::default()).ok()?;
    let mut node = &defaults;
    for section in path {
        node = node.get(*section)?.as_table()?;
    }
    node.get(TAG).cloned()
}

fn parse_value(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::LossConfig;

    fn parse(text: &str, overrides: &[(&str, &str)]) -> Result<TrainConfig> {
        let overrides: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TrainConfig::from_toml(text, "test.toml", &overrides)
    }

    #[test]
    fn empty_config_is_all_defaults() {
        assert_eq!(parse("", &[]).unwrap(), TrainConfig::default());
    }

    #[test]
    fn built_in_default_config_parses() {
        parse(DEFAULT_CONFIG_TOML, &[]).unwrap();
    }

    #[test]
    fn report_to_defaults_to_tensorboard_and_an_empty_list_turns_it_off() {
        let c = parse("", &[]).unwrap();
        assert_eq!(c.output.report_to, [ReportTo::Tensorboard]);
        let c = parse("[output]\nreport_to = []\n", &[]).unwrap();
        assert!(c.output.report_to.is_empty());
        let c = parse("", &[("output.report_to", "[]")]).unwrap();
        assert!(c.output.report_to.is_empty());
        let c = parse("[output]\nreport_to = [\"tensorboard\"]\n", &[]).unwrap();
        assert_eq!(c.output.report_to, [ReportTo::Tensorboard]);
        let err = parse("[output]\nreport_to = [\"wandb\"]\n", &[]).unwrap_err();
        assert!(err.to_string().contains("report_to"), "{err}");
    }

    #[test]
    fn overrides_replace_fields_and_are_type_checked() {
        let c = parse(
            "[training]\nepochs = 3\n",
            &[
                ("training.epochs", "1"),
                ("training.learning_rate", "2e-5"),
                ("data.dataset", "snli"),
                ("loss.type", "cosine_similarity"),
            ],
        )
        .unwrap();
        assert_eq!(c.training.epochs, 1);
        assert_eq!(c.training.learning_rate, 2e-5);
        assert_eq!(c.data.dataset, "snli");
        assert_eq!(c.loss, LossConfig::CosineSimilarity.into());

        let err = parse("", &[("training.epochs", "many")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("epochs"), "{err}");
    }

    #[test]
    fn switching_a_choice_by_its_type_starts_from_that_choices_defaults() {
        // The default loss (MNRL) has a `scale`; the cosine loss has no fields.
        let c = parse(
            "[loss]\nscale = 30.0\n",
            &[
                ("loss.type", "cosine_similarity"),
                ("data.format", "scored_pairs"),
            ],
        )
        .unwrap();
        assert_eq!(c.loss, LossConfig::CosineSimilarity.into());
        let c = parse(DEFAULT_CONFIG_TOML, &[("loss.type", "cosine_similarity")]).unwrap();
        assert_eq!(c.loss, LossConfig::CosineSimilarity.into());
        // The same choice keeps its fields.
        let text = "[loss]\ntype = \"multiple_negatives_ranking\"\nscale = 30.0\n";
        let c = parse(text, &[("loss.type", "multiple_negatives_ranking")]).unwrap();
        assert_eq!(c.loss, parse(text, &[]).unwrap().loss);
        assert_ne!(c.loss, TrainConfig::default().loss);
        // Fields set after the switch apply to the new choice.
        let c = parse(
            "[loss]\nscale = 30.0\n",
            &[
                ("loss.type", "cached_multiple_negatives_ranking"),
                ("loss.scale", "10.0"),
            ],
        )
        .unwrap();
        assert_eq!(
            c.loss,
            LossConfig::CachedMultipleNegativesRanking {
                scale: 10.0,
                mini_batch_size: 32,
                hardness_mode: None,
                hardness_strength: 0.0,
                gather_across_devices: false,
            }
            .into()
        );
    }

    #[test]
    fn data_and_loss_overrides_apply_to_each_of_several_datasets() {
        let text = "[[datasets]]\ndata = { dataset = \"glue/mnli\" }\n\
            loss = { type = \"multiple_negatives_ranking\" }\n\
            [[datasets]]\ndata = { dataset = \"glue/stsb\", format = \"scored_pairs\" }\n\
            loss = { type = \"cosine_similarity\" }\n";
        let c = parse(text, &[("data.max_rows", "40"), ("training.epochs", "2")]).unwrap();
        assert_eq!(c.datasets.len(), 2);
        assert!(c.datasets.iter().all(|d| d.data.max_rows == Some(40)));
        assert_eq!(c.datasets[1].data.dataset, "glue/stsb");
        assert_eq!(c.training.epochs, 2);
        let c = parse(text, &[("loss.type", "cosine_similarity")]).unwrap();
        assert!(c
            .datasets
            .iter()
            .all(|d| d.loss == LossConfig::CosineSimilarity.into()));
    }

    #[test]
    fn a_cross_encoder_run_trains_with_cross_encoder_losses_only() {
        let cross = "[model]\ncross_encoder = { num_labels = 1 }\n\
            [data]\nformat = \"scored_pairs\"\n\
            [loss]\ntype = \"cross_encoder.binary_cross_entropy\"\n";
        let c = parse(cross, &[]).unwrap();
        assert_eq!(
            c.model.cross_encoder,
            Some(CrossEncoderSettings {
                num_labels: Some(1),
                activation: None
            })
        );
        assert!(matches!(
            c.loss,
            LossChoice::Rerank(crate::RerankLossConfig::BinaryCrossEntropy { .. })
        ));
        // The resolved config re-parses to itself (checkpoints and resume read it back).
        assert_eq!(parse(&c.to_toml().unwrap(), &[]).unwrap(), c);

        let err = parse("[model]\ncross_encoder = {}\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("needs a cross-encoder loss")
                && err.contains("\"multiple_negatives_ranking\""),
            "{err}"
        );
        let err = parse("[loss]\ntype = \"cross_encoder.mse\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("[model.cross_encoder]"), "{err}");
        let err = parse(cross, &[("model.pooling", "cls")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("model.pooling"), "{err}");
        let err = parse(cross, &[("model.cross_encoder.num_labels", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("num_labels"), "{err}");
        let err = parse(cross, &[("model.cross_encoder.num_labels", "1000000000")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("num_labels") && err.contains("1000000000"),
            "{err}"
        );
    }

    #[test]
    fn listwise_losses_validate_with_the_key() {
        let lists = "[model]\ncross_encoder = { num_labels = 1 }\n\
            [data]\nformat = \"columns\"\ndataset = \"lists.jsonl\"\n\
            columns = \"query=q,documents=d,labels=l\"\n\
            [loss]\ntype = \"cross_encoder.lambda\"\n";
        let c = parse(lists, &[("loss.k", "10")]).unwrap();
        assert_eq!(
            c.loss.rerank().map(|l| l.type_name()),
            Some("cross_encoder.lambda")
        );
        assert_eq!(parse(&c.to_toml().unwrap(), &[]).unwrap(), c);
        let err = parse(lists, &[("loss.sigma", "inf")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("loss.sigma must be finite"), "{err}");
        let err = parse(lists, &[("loss.mini_batch_size", "0")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("loss.mini_batch_size must be at least 1"),
            "{err}"
        );
    }

    #[test]
    fn an_architecture_change_needs_random_weights() {
        let text = "[model]\narchitecture = { num_hidden_layers = 2, hidden_size = 128 }\n";
        let err = parse(text, &[]).unwrap_err().to_string();
        assert!(
            err.contains("model.architecture") && err.contains("model.weights"),
            "{err}"
        );
        let c = parse(text, &[("model.weights", "\"random\"")]).unwrap();
        assert_eq!(c.model.architecture["hidden_size"].as_integer(), Some(128));
        let again = parse(&c.to_toml().unwrap(), &[]).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn rejects_unknown_keys_wrong_types_and_bad_values() {
        let err = parse("[training]\nepoch = 1\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("test.toml") && err.contains("epoch"), "{err}");
        let err = parse("[training]\nbatch_size = \"big\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("batch_size"), "{err}");
        let err = parse("[training]\nbatch_size = 0\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("training.batch_size must be at least 1"),
            "{err}"
        );
        let err = parse("[loss]\ntype = \"magic\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("magic"), "{err}");
        let err = parse("[data]\nformat = \"columns\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("data.columns"), "{err}");
    }

    #[test]
    fn every_shipped_config_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                TrainConfig::from_file(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
                seen += 1;
            }
        }
        assert!(
            seen >= 5,
            "expected the default and four book configs in {}",
            dir.display()
        );
    }

    #[test]
    fn resolved_config_round_trips() {
        let c = parse(DEFAULT_CONFIG_TOML, &[]).unwrap();
        let again = parse(&c.to_toml().unwrap(), &[]).unwrap();
        assert_eq!(c, again);
    }
}
