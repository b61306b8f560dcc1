//! Contrastive training of sentence embedding models: the config, the loop (AdamW, linear
//! warm-up and decay, clipping, accumulation, mixed precision), evaluation while training,
//! atomic checkpoints with exact resume, and the output folder.

mod checkpoint;
mod config;
mod dataset;
mod error;
mod grad_scaler;
mod metrics;
mod optimizer;
mod output;
mod plot;
mod progress;
mod schedule;
mod sts_eval;
mod trainer;

pub use checkpoint::{list_checkpoints, BestEval, TrainerState};
pub use config::{
    BatchSampler, DataConfig, DataFormat, EvaluationConfig, ModelConfig, NeutralChoice,
    OutputConfig, Precision, TrainConfig, TrainingConfig, DEFAULT_CONFIG_TOML,
};
pub use dataset::{load_training_set, resolve_dataset_file};
pub use error::{Error, Result};
pub use metrics::MetricsRecord;
pub use optimizer::{AdamW, AdamWSettings};
pub use schedule::linear_warmup_decay;
pub use sts_eval::StsSet;
pub use trainer::{checkpoint_path, train, Resume, TrainOutcome};
