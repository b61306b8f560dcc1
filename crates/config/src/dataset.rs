//! Resolving the configured training and evaluation data to rows: hub datasets through the hub
//! client (same cache as models), local files as they are.

use std::path::{Path, PathBuf};

use data::{
    KnownDataset, NeutralPolicy, NliColumns, ScoredPair, ScoredPairColumns, TrainingSet,
    UnlabeledRows,
};

use crate::error::{Error, Result};
use crate::evaluator::StsEvaluatorConfig;
use crate::train::{DataConfig, DataFormat, NeutralChoice, TrainConfig};

/// A local file when `name` is a path to one, else the file of a known hub dataset's split
/// (downloaded into the hub cache on first use).
pub fn resolve_dataset_file(client: &hub::HubClient, name: &str, split: &str) -> Result<PathBuf> {
    let local = Path::new(name);
    if local.extension().is_some() && KnownDataset::find(name).is_none() {
        if !local.is_file() {
            return Err(Error::Dataset(format!(
                "dataset file {} does not exist",
                local.display()
            )));
        }
        return Ok(local.to_path_buf());
    }
    let known = KnownDataset::find(name).ok_or_else(|| {
        Error::Dataset(format!(
            "unknown dataset {name:?}: use one of {} or a local file",
            data::known_dataset_names().join(", ")
        ))
    })?;
    let (repo, file) = known_dataset_file(known, split)?;
    Ok(client.get(&repo, &file)?)
}

/// The hub repo and file of a known dataset's split, without downloading it (`xtask
/// fetch-data` fetches it its own way: a file the endpoint lacks is skipped there).
pub fn known_dataset_file(known: &KnownDataset, split: &str) -> Result<(hub::Repo, String)> {
    let file = known.file(split).map_err(Error::Dataset)?;
    Ok((hub::Repo::dataset(file.repo)?, file.path))
}

/// The training rows the data config describes; `seed` (the training seed) draws what the
/// format randomises (soft negatives, denoising noise, the contrastive tension shuffle).
pub fn load_training_set(
    client: &hub::HubClient,
    config: &DataConfig,
    seed: u64,
) -> Result<TrainingSet> {
    let path = resolve_dataset_file(client, &config.dataset, &config.split)?;
    let nli = || -> Result<Vec<data::NliPair>> {
        Ok(data::read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Skip)?.pairs)
    };
    let max_rows = config.max_rows;
    let set = match config.format {
        DataFormat::SoftTriplets => {
            TrainingSet::from_triplets(&data::soft_triplets(&nli()?, max_rows, seed))
        }
        DataFormat::HardTriplets => {
            TrainingSet::from_triplets(&data::hard_triplets(&nli()?, max_rows))
        }
        DataFormat::LabelledPairs => {
            TrainingSet::from_labelled_pairs(&data::labelled_pairs(&nli()?, max_rows))
        }
        DataFormat::ScoredPairs => {
            let neutral = match config.neutral {
                NeutralChoice::Zero => NeutralPolicy::AsZero,
                NeutralChoice::Drop => NeutralPolicy::Drop,
            };
            TrainingSet::from_scored_pairs(&data::scored_pairs(&nli()?, neutral, max_rows))
        }
        DataFormat::StsPairs => {
            let mut pairs = data::read_scored_pairs(&path, &ScoredPairColumns::GLUE)?;
            for pair in &mut pairs {
                pair.score /= config.score_max as f32;
            }
            let mut set = TrainingSet::from_scored_pairs(&pairs);
            if let Some(n) = max_rows {
                set.truncate(n);
            }
            set
        }
        DataFormat::Columns => {
            let mapping = config.columns.as_deref().unwrap_or_default();
            let mapping: data::ColumnMapping = mapping
                .parse()
                .map_err(|e| Error::Dataset(format!("data.columns: {e}")))?;
            let mut set = data::read_user_dataset(&path, &mapping)?;
            if let Some(n) = max_rows {
                set.truncate(n);
            }
            set
        }
        DataFormat::Sentences => crate::sentences::sentence_set(config, &path, seed)?,
    };
    if set.is_empty() {
        return Err(Error::Dataset(format!(
            "{} ({}) gives no rows as {:?}",
            config.dataset,
            path.display(),
            config.format
        )));
    }
    Ok(set)
}

/// The rows of each training dataset of a run (`[data]`, or each `[[datasets]]` entry), in
/// config order. With several datasets an error names the one that failed.
pub fn load_training_sets(
    client: &hub::HubClient,
    config: &TrainConfig,
) -> Result<Vec<TrainingSet>> {
    config
        .training_datasets()
        .iter()
        .map(|d| {
            load_training_set(client, d.data, config.training.seed).map_err(|e| {
                if config.datasets.is_empty() {
                    e
                } else {
                    Error::InDataset {
                        name: d.name.clone(),
                        source: Box::new(e),
                    }
                }
            })
        })
        .collect()
}

/// The scored pairs an `embedding_similarity` evaluator reads: the first `max_pairs`, gold
/// scores as the file has them (not yet divided by `score_max`), at least two of them (a
/// correlation needs two).
pub fn load_sts_pairs(
    client: &hub::HubClient,
    config: &StsEvaluatorConfig,
) -> Result<Vec<ScoredPair>> {
    let path = resolve_dataset_file(client, &config.dataset, &config.split)?;
    let mut pairs = data::read_scored_pairs(&path, &ScoredPairColumns::GLUE)?;
    if let Some(n) = config.max_pairs {
        pairs.truncate(n);
    }
    if pairs.len() < 2 {
        return Err(Error::Dataset(format!(
            "evaluator {}: {} ({}) has {} scored pair(s); a correlation needs at least 2",
            config.name(),
            config.dataset,
            path.display(),
            pairs.len()
        )));
    }
    Ok(pairs)
}
