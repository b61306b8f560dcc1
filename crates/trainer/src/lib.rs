//! Contrastive training of sentence embedding models and cross-encoders (rerankers): the config, the loop (AdamW, linear
//! warm-up and decay, clipping, accumulation, mixed precision), evaluation while training,
//! atomic checkpoints with exact resume, and the output folder.

mod batches;
mod callbacks;
mod compat;
pub mod distributed;
mod error;
mod evaluators;
mod grad_scaler;
mod optimizer;
mod plan;
mod progress;
mod rerank_step;
mod run_builder;
mod run_folder;
mod schedule;
mod step_profile;
mod train_data;
mod train_sets;
mod trainer;

pub use batches::StepBatches;
pub use callbacks::{Callback, ProgressCallback, StepReport, TracingCallback};
pub use run_folder::checkpoint::{list_checkpoints, BestEval, TrainerState};
// The run config and its data resolution live in the tch-free config crate (xtask reads them
// too); re-exported so `trainer::TrainConfig` and friends keep working.
pub use config::{
    load_training_set, resolve_dataset_file, BatchSampler, CrossEncoderSettings, DataConfig,
    DataFormat, DatasetConfig, DdpBackend, EvaluationConfig, EvaluatorConfig,
    LabelAccuracySettings, LossChoice, ModelConfig, NeutralChoice, NoSettings, OutputConfig,
    Precision, ReportTo, RerankActivation, RerankLossConfig, RetrievalEvaluatorConfig,
    RetrievalSource, StsEvaluatorConfig, TaskEvaluatorConfig, TrainConfig, TrainingConfig,
    TrainingDataset, TrainingPrompts, DEFAULT_CONFIG_TOML,
};
pub use error::{Error, Result};
pub use evaluators::{
    build as build_evaluator, load_retrieval_set, read_reranking_samples, BinaryEvaluator,
    CrossEncoderClassification, CrossEncoderCorrelation, CrossEncoderReranking, EvalReport,
    Evaluator, EvaluatorSet, LabelAccuracyEvaluator, NamedLoss, ParaphraseEvaluator,
    RetrievalEvaluator, RunModel, SelectionMetric, StsEvaluator, TripletEvaluator,
};
pub use optimizer::{AdamW, AdamWSettings};
pub use plan::StepPlan;
pub use rerank_step::rerank_micro_batch;
pub use run_builder::{RunBuilder, RunParts};
pub use run_folder::metrics::MetricsRecord;
pub use run_folder::output_lock::LockOwner;
pub use run_folder::tensorboard::{read_event_file, CorruptRecord, EventPayload, TensorBoardEvent};
pub use schedule::linear_warmup_decay;
pub use trainer::{checkpoint_path, train, train_distributed, Resume, TrainOutcome, Trainer};
