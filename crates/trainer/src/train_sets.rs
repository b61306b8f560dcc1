//! The training datasets of a run, each with its rows tokenised and its own loss, and the
//! schedule that interleaves their batches (every batch from one dataset).

use std::path::PathBuf;

use config::{LossChoice, LossConfig, TrainConfig, TrainingConfig, TrainingPrompts};
use data::{ScheduledBatch, TrainingSet};
use losses::cross_encoder::{BuildRerankLoss, RerankLoss};
use losses::{BuildLoss, Loss};
use tch::nn;

use crate::error::{Error, Result};
use crate::train_data::TrainData;
use evaluate::RunModel;

/// A dataset's loss: over a bi-encoder's embeddings, or over a cross-encoder's pair scores.
pub enum SetLoss {
    Embedding(Box<dyn Loss>),
    Rerank(Box<dyn RerankLoss>),
}

impl SetLoss {
    /// The sentence-transformers class name.
    pub fn name(&self) -> &'static str {
        match self {
            SetLoss::Embedding(loss) => loss.name(),
            SetLoss::Rerank(loss) => loss.name(),
        }
    }

    /// See [`Loss::keeps_parameters_in_output`]; the cross-encoder losses have none.
    pub fn keeps_parameters_in_output(&self) -> bool {
        match self {
            SetLoss::Embedding(loss) => loss.keeps_parameters_in_output(),
            SetLoss::Rerank(_) => true,
        }
    }
}

/// One training dataset, ready to batch.
pub struct TrainSet {
    pub name: String,
    /// `glue/mnli (train) as SoftTriplets`, for the model card.
    pub description: String,
    pub data: TrainData,
    pub loss: SetLoss,
    /// The loss config as JSON, for the model card.
    pub loss_json: String,
    /// What the names of the loss's own parameters start with in the run's loss variables
    /// (`dataset_1.` with several datasets, empty with one).
    pub var_prefix: String,
}

/// `loss` with the hub ids of the models it loads resolved to local folders (downloaded into
/// the hub cache): an untied TSDAE decoder's, GIST's guide; every other loss as it is.
fn with_local_models(
    loss: &LossConfig,
    resolve_model: &dyn Fn(&str) -> Result<PathBuf>,
) -> Result<LossConfig> {
    let local = |id: &str| Ok::<_, Error>(resolve_model(id)?.display().to_string());
    Ok(match loss {
        LossConfig::DenoisingAutoEncoder {
            tie_encoder_decoder: false,
            decoder: Some(id),
        } => LossConfig::DenoisingAutoEncoder {
            tie_encoder_decoder: false,
            decoder: Some(local(id)?),
        },
        LossConfig::GistEmbed {
            guide,
            temperature,
            margin_strategy,
            margin,
            contrast_anchors,
            contrast_positives,
        } => LossConfig::GistEmbed {
            guide: local(guide)?,
            temperature: *temperature,
            margin_strategy: *margin_strategy,
            margin: *margin,
            contrast_anchors: *contrast_anchors,
            contrast_positives: *contrast_positives,
        },
        other => other.clone(),
    })
}

/// Every training dataset of the run, in config order.
pub struct TrainSets {
    sets: Vec<TrainSet>,
}

impl TrainSets {
    /// Builds each dataset's loss (under `loss_vars`; one dataset's at the root, as a
    /// one-dataset run always had them) and tokenises its rows.
    /// `resolve_model` turns a hub id or folder (an untied TSDAE decoder's, GIST's guide) into
    /// a local folder.
    pub fn new(
        config: &TrainConfig,
        rows: Vec<TrainingSet>,
        model: &RunModel,
        loss_vars: &nn::VarStore,
        resolve_model: &dyn Fn(&str) -> Result<PathBuf>,
    ) -> Result<Self> {
        let datasets = config.training_datasets();
        let several = datasets.len() > 1;
        let mut sets = Vec::with_capacity(datasets.len());
        for (i, (d, mut set)) in datasets.iter().zip(rows).enumerate() {
            let root = loss_vars.root();
            let (path, var_prefix) = if several {
                (&root / format!("dataset_{i}"), format!("dataset_{i}."))
            } else {
                (root, String::new())
            };
            let in_dataset = |e: Error| {
                if several {
                    Error::Dataset(format!("dataset {}: {e}", d.name))
                } else {
                    e
                }
            };
            let prompts_key = if several {
                format!("datasets.{}.data.prompts", d.name)
            } else {
                "data.prompts".into()
            };
            let mut prompts = match &d.data.prompts {
                Some(p) => p.for_columns(set.column_names(), &prompts_key)?,
                None => Vec::new(),
            };
            let (loss, tokenizer) = match (d.loss, model) {
                (LossChoice::Embedding(config), RunModel::Bi(bi)) => {
                    if set.lists().is_some() {
                        return Err(in_dataset(Error::Dataset(format!(
                            "loss {:?} trains a bi-encoder, but the training data is {}; \
                             set [model.cross_encoder] to train a cross-encoder with one of them",
                            config.type_name(),
                            crate::rerank_step::describe_data(&set)
                        ))));
                    }
                    let loss =
                        with_local_models(config, resolve_model)?.build_for_model(&path, bi)?;
                    crate::compat::check_loss_fits_data(loss.as_ref(), &set).map_err(in_dataset)?;
                    (SetLoss::Embedding(loss), bi.tokenizer())
                }
                (LossChoice::Rerank(config), RunModel::Cross(cross)) => {
                    // One prompt before the first text of every pair, as sentence-transformers'
                    // CrossEncoder trainer applies its `prompts` argument.
                    match &d.data.prompts {
                        Some(TrainingPrompts::All(prompt)) => set.prepend_to_column(0, prompt),
                        Some(TrainingPrompts::PerColumn(_)) => {
                            return Err(Error::Config {
                                origin: prompts_key,
                                message: "a cross-encoder reads each pair as one sequence, so \
                                          its prompt is one string, put before the first text \
                                          of every pair (e.g. prompts = \"query: \"), not a \
                                          table per column"
                                    .into(),
                            });
                        }
                        None => {}
                    }
                    prompts.clear();
                    let loss = config.build_rerank(cross.num_labels())?;
                    crate::rerank_step::check_fits_data(loss.as_ref(), &set).map_err(in_dataset)?;
                    (SetLoss::Rerank(loss), cross.tokenizer())
                }
                _ => {
                    return Err(Error::Config {
                        origin: format!("dataset {}", d.name),
                        message: "the loss is for the other kind of model than the run trains \
                                  (bi-encoder losses need a bi-encoder, cross_encoder.… losses \
                                  [model.cross_encoder])"
                            .into(),
                    })
                }
            };
            let lists = set
                .lists()
                .map(|_| {
                    format!(
                        " of (query, documents, labels) lists ({})",
                        set.describe_columns()
                    )
                })
                .unwrap_or_default();
            sets.push(TrainSet {
                name: d.name.clone(),
                description: format!(
                    "`{}` (split `{}`) as {:?}{lists}{}{}",
                    d.data.dataset,
                    d.data.split,
                    d.data.format,
                    d.data
                        .max_rows
                        .map(|n| format!(", max_rows {n}"))
                        .unwrap_or_default(),
                    d.data
                        .prompts
                        .as_ref()
                        .and_then(|p| serde_json::to_string(p).ok())
                        .map(|p| format!(", prompts {p}"))
                        .unwrap_or_default()
                ),
                data: TrainData::new(set, tokenizer, &prompts)?,
                loss,
                loss_json: serde_json::to_string(d.loss).unwrap_or_default(),
                var_prefix,
            });
        }
        Ok(Self { sets })
    }

    /// Each dataset's loss under its name, for evaluators that score a loss.
    pub fn named_losses(&self) -> Vec<crate::evaluators::NamedLoss<'_>> {
        self.sets
            .iter()
            .filter_map(|s| match &s.loss {
                SetLoss::Embedding(loss) => Some(crate::evaluators::NamedLoss {
                    dataset: &s.name,
                    loss: loss.as_ref(),
                }),
                SetLoss::Rerank(_) => None,
            })
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &TrainSet> {
        self.sets.iter()
    }

    /// Dataset `i` of a scheduled batch.
    /// Hands every embedding loss the process group of a data-parallel run (those configured
    /// with `gather_across_devices` keep it).
    pub fn distribute(&mut self, gather: &losses::gather::RowGather) {
        for set in &mut self.sets {
            if let SetLoss::Embedding(loss) = &mut set.loss {
                loss.distribute(gather);
            }
        }
    }

    pub fn get(&self, i: usize) -> Result<&TrainSet> {
        self.sets.get(i).ok_or_else(|| {
            Error::Dataset(format!("a batch names dataset {i} of {}", self.sets.len()))
        })
    }

    /// Training rows over all datasets.
    pub fn examples(&self) -> usize {
        self.sets.iter().map(|s| s.data.len()).sum()
    }

    /// Epoch `epoch`'s batches of every dataset, interleaved as
    /// `training.multi_dataset_sampling` says (one dataset: exactly its own batches).
    pub fn epoch_schedule(&self, t: &TrainingConfig, epoch: u64) -> Result<Vec<ScheduledBatch>> {
        let per_dataset = self
            .sets
            .iter()
            .map(|s| s.data.epoch_batches(t, epoch))
            .collect::<Result<Vec<_>>>()?;
        Ok(data::interleave(
            t.multi_dataset_sampling,
            t.seed,
            epoch,
            per_dataset,
        ))
    }
}
