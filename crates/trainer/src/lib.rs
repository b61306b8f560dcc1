//! Contrastive training of sentence embedding models: the config, the loop (AdamW, linear
//! warm-up and decay, clipping, accumulation, mixed precision), evaluation while training,
//! atomic checkpoints with exact resume, and the output folder.

mod batches;
mod callbacks;
mod checkpoint;
mod compat;
mod config;
mod dataset;
mod error;
mod evaluators;
mod grad_scaler;
mod metrics;
mod optimizer;
mod output;
mod plan;
mod plot;
mod progress;
mod schedule;
mod train_data;
mod trainer;

pub use batches::StepBatches;
pub use callbacks::{Callback, ProgressCallback, StepReport, TracingCallback};
pub use checkpoint::{list_checkpoints, BestEval, TrainerState};
pub use config::{
    BatchSampler, DataConfig, DataFormat, EvaluationConfig, EvaluatorConfig, ModelConfig,
    NeutralChoice, OutputConfig, Precision, StsEvaluatorConfig, TrainConfig, TrainingConfig,
    DEFAULT_CONFIG_TOML,
};
pub use dataset::{load_training_set, resolve_dataset_file};
pub use error::{Error, Result};
pub use evaluators::{EvalReport, Evaluator, EvaluatorSet, SelectionMetric, StsEvaluator};
pub use metrics::MetricsRecord;
pub use optimizer::{AdamW, AdamWSettings};
pub use plan::StepPlan;
pub use schedule::linear_warmup_decay;
pub use trainer::{checkpoint_path, train, Resume, TrainOutcome, Trainer};
