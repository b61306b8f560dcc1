//! Run configs and the data they name, without tensors: the training config (TOML on disk,
//! every field defaulted, `section.key=value` overrides, validation), the evaluator, loss and
//! device choices it holds, and the resolution of its datasets to rows.
//!
//! The trainer builds models and losses from these; `xtask` reads the same rows without
//! linking libtorch. Nothing here depends on `tch` (`xtask/src/tidy.rs` checks it).

mod dataset;
mod device;
mod error;
mod evaluator;
mod loss;
mod loss_choice;
mod pairing;
mod rerank_loss;
mod sentences;
mod train;

pub use dataset::{
    known_dataset_file, load_sts_pairs, load_training_set, load_training_sets, resolve_dataset_file,
};
pub use device::DeviceChoice;
pub use error::{Error, Result};
pub use evaluator::{
    EvaluatorConfig, LabelAccuracySettings, NoSettings, RerankingEvaluatorConfig,
    RetrievalEvaluatorConfig, RetrievalSource, StsEvaluatorConfig, TaskEvaluatorConfig,
};
pub use loss::{
    BatchTripletDistance, ContrastiveDistance, DistillDistance, HardnessMode, LossConfig,
    MarginStrategy, PairwiseSimilarity, TripletDistance,
};
pub use loss_choice::LossChoice;
pub use pairing::SentencePairing;
pub use rerank_loss::{
    LambdaWeightingScheme, PListMleWeighting, RerankActivation, RerankLossConfig,
    RerankReductionLog, RERANK_LOSS_PREFIX,
};
pub use train::{
    BatchSampler, CrossEncoderSettings, DataConfig, DataFormat, DatasetConfig, DdpBackend,
    EvaluationConfig, ModelConfig, ModelWeights, NeutralChoice, OutputConfig, Precision, ReportTo,
    TrainConfig, TrainingConfig, TrainingDataset, TrainingPrompts, DEFAULT_CONFIG_TOML,
};
