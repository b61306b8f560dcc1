//! Assembling a training run apart from the loop: [`RunBuilder`] loads (or takes) the parts —
//! the model, each training set with its loss, the evaluators, the loss's own parameters —
//! and checks them, writing nothing; [`Trainer::from_parts`](crate::Trainer::from_parts) then
//! runs them. The CLI, the data-parallel wrapper and a Rust program with its own rows (see
//! `examples/own_rows.rs`) all build a trainer this way.

use std::path::PathBuf;

use config::{load_training_sets, ModelWeights, Precision, TrainConfig};
use data::TrainingSet;
use model::{PoolingMode, ResolveDevice};
use tch::{nn, Device};
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::evaluators::EvaluatorSet;
use crate::run_folder::checkpoint;
use crate::train_sets::TrainSets;
use crate::trainer::{checkpoints_root, Resume};
use evaluate::RunModel;

/// Builds the parts of a run described by a config.
pub struct RunBuilder<'c> {
    config: &'c TrainConfig,
    client: &'c hub::HubClient,
    resume: Resume,
    rows: Option<Vec<TrainingSet>>,
    custom: Vec<Box<dyn crate::Evaluator>>,
    local_rank: Option<usize>,
}

/// A run's loaded and checked parts, ready for [`Trainer::from_parts`](crate::Trainer::from_parts).
pub struct RunParts {
    pub(crate) model: RunModel,
    pub(crate) base_dir: PathBuf,
    pub(crate) loss_vars: nn::VarStore,
    pub(crate) sets: TrainSets,
    pub(crate) evaluators: EvaluatorSet,
    pub(crate) device: Device,
    pub(crate) resumed_from: Option<PathBuf>,
    /// The config the parts were built from, as TOML (a trainer must run that config).
    pub(crate) config_toml: String,
}

impl RunParts {
    pub fn model(&self) -> &RunModel {
        &self.model
    }

    pub fn evaluators(&self) -> &EvaluatorSet {
        &self.evaluators
    }

    /// Training rows over all datasets.
    pub fn examples(&self) -> usize {
        self.sets.examples()
    }
}

impl<'c> RunBuilder<'c> {
    /// Parts as `config` describes them; `client` fetches the model and data it names.
    pub fn new(config: &'c TrainConfig, client: &'c hub::HubClient) -> Self {
        RunBuilder {
            config,
            client,
            resume: Resume::Fresh,
            rows: None,
            custom: Vec::new(),
            local_rank: None,
        }
    }

    /// This process's index on its machine in a data-parallel run: with `training.device =
    /// "auto"` on a machine with several GPUs, process `i` trains on GPU `i mod count` (as
    /// `torch.cuda.set_device(LOCAL_RANK)`); an explicit `cuda:N` is kept.
    pub fn local_rank(mut self, local_rank: usize) -> Self {
        self.local_rank = Some(local_rank);
        self
    }

    /// Where the run starts (default: fresh).
    pub fn resume(mut self, resume: Resume) -> Self {
        self.resume = resume;
        self
    }

    /// Trains on these rows instead of loading the config's datasets: one set per training
    /// dataset of the config (`[data]`, or each `[[datasets]]` entry, in order), whose
    /// `data.format` and `columns` then only name the loss's columns.
    pub fn training_rows(mut self, rows: Vec<TrainingSet>) -> Self {
        self.rows = Some(rows);
        self
    }

    /// Evaluators run after the configured ones (`metric_for_best_model` may name their
    /// metrics).
    pub fn evaluators(mut self, custom: Vec<Box<dyn crate::Evaluator>>) -> Self {
        self.custom.extend(custom);
        self
    }

    /// Loads and checks every part; writes nothing.
    pub fn build(self) -> Result<RunParts> {
        let RunBuilder {
            config,
            client,
            resume,
            rows,
            custom,
            local_rank,
        } = self;
        crate::run_folder::output_dir::check_output_dir(&config.output.dir)?;
        let t = &config.training;
        if let Some(threads) = t.threads {
            tch::set_num_threads(threads as i32);
        }
        let device = match (resolve_device(config)?, config.training.device, local_rank) {
            (Device::Cuda(_), config::DeviceChoice::Auto, Some(local)) => {
                let count = usize::try_from(tch::Cuda::device_count())
                    .unwrap_or(1)
                    .max(1);
                Device::Cuda(local % count)
            }
            (device, _, _) => device,
        };
        let resumed_from = resume_checkpoint(config, &resume)?;

        // Data and evaluation first: a missing file or a split without labels fails before
        // the (slower) model load.
        let rows = match rows {
            Some(rows) => {
                let wanted = config.training_datasets().len();
                if rows.len() != wanted {
                    return Err(Error::Dataset(format!(
                        "{} sets of training rows for the config's {wanted} training dataset(s)",
                        rows.len()
                    )));
                }
                rows
            }
            None => load_training_sets(client, config)?,
        };
        let mut evaluators = EvaluatorSet::from_config(client, &config.evaluation, custom)?;
        let base_dir = hub::resolve_model(client, &config.model.base)?;
        let model_dir = match &resumed_from {
            Some(dir) => dir.join("model"),
            None => base_dir.clone(),
        };
        // A cross-encoder's new head is drawn while loading: from the run's seed.
        tch::manual_seed(t.seed as i64);
        let mut model = RunModel::load(config, &model_dir, device)?;
        if let (Some(name), RunModel::Bi(bi)) = (&config.model.pooling, &mut model) {
            bi.set_pooling_modes(vec![pooling_mode(name)?])?;
        }
        // A resumed run continues from its checkpoint's weights, never from a new draw.
        if config.model.weights == ModelWeights::Random && resumed_from.is_none() {
            tch::manual_seed(t.seed as i64);
            let bad = |message: String| Error::Config {
                origin: "model.architecture".into(),
                message,
            };
            let changes = match serde_json::to_value(&config.model.architecture) {
                Ok(serde_json::Value::Object(changes)) => changes,
                Ok(other) => return Err(bad(format!("not a table: {other}"))),
                Err(err) => return Err(bad(err.to_string())),
            };
            model = match model {
                RunModel::Bi(bi) => RunModel::Bi(
                    bi.reinitialized_with(&changes)
                        .map_err(|err| bad(err.to_string()))?,
                ),
                // Refused by the config's validation: a cross-encoder starts pretrained.
                cross => cross,
            };
        }

        tch::manual_seed(t.seed as i64);
        let loss_vars = nn::VarStore::new(device);
        let resolve_model = |id: &str| Ok(hub::resolve_model(client, id)?);
        let sets = TrainSets::new(config, rows, &model, &loss_vars, &resolve_model)?;
        evaluators.attach_losses(&sets.named_losses())?;
        Ok(RunParts {
            model,
            base_dir,
            loss_vars,
            sets,
            evaluators,
            device,
            resumed_from,
            config_toml: config.to_toml()?,
        })
    }
}

/// `model.pooling`'s mode, by its sentence-transformers name.
fn pooling_mode(name: &str) -> Result<PoolingMode> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| Error::Config {
        origin: "model.pooling".into(),
        message: format!(
            "unknown pooling mode {name:?}; expected one of {}",
            PoolingMode::ALL.map(PoolingMode::name).join(", ")
        ),
    })
}

fn resolve_device(config: &TrainConfig) -> Result<Device> {
    let device = config.training.device.resolve()?;
    if config.training.precision == Precision::Fp16 && device == Device::Cpu {
        warn!("precision fp16 needs CUDA; training in fp32 on the CPU");
    }
    Ok(match device {
        Device::Cuda(_) => {
            info!("training on {device:?}");
            device
        }
        _ => Device::Cpu,
    })
}

fn resume_checkpoint(config: &TrainConfig, resume: &Resume) -> Result<Option<PathBuf>> {
    Ok(match resume {
        Resume::Fresh => None,
        Resume::Latest => checkpoint::list_checkpoints(&checkpoints_root(config))?
            .pop()
            .map(|(_, path)| path),
        Resume::From(path) => {
            checkpoint::read_state(path)?;
            Some(path.clone())
        }
    })
}
