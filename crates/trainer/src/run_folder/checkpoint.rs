//! Checkpoints: everything a run needs to continue exactly where it stopped, written to a
//! staging folder that is renamed into place only once complete, so an interrupted write never
//! replaces or corrupts a good checkpoint.
//!
//! ```text
//! checkpoints/checkpoint-{step}/
//!     model/                   the sentence-transformers folder (loads in Python; a
//!                              CrossEncoder folder for a cross-encoder run)
//!     loss.safetensors         trainable loss parameters (SoftmaxLoss's classifier), if any
//!     optimizer.safetensors    AdamW moments and step count
//!     trainer_state.json       step, sampler position, loss scale, best evaluation
//!     config.toml              the resolved run config
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::error::{io_error, Error, Result};
use crate::grad_scaler::GradScaler;

pub const CHECKPOINT_PREFIX: &str = "checkpoint-";
const STATE_FILE: &str = "trainer_state.json";

/// The best evaluation so far (for `load_best`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestEval {
    pub step: u64,
    /// `{evaluator}_{metric}` (`evaluation.metric_for_best_model`).
    pub metric: String,
    pub value: f64,
}

/// Where the run is; with the weights and optimizer state it determines the rest of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimizer steps done.
    pub global_step: u64,
    /// The sampler position after the last micro-batch of `global_step`.
    pub epoch: u64,
    pub batches_done: usize,
    pub total_steps: u64,
    pub seed: u64,
    pub scaler: Option<GradScaler>,
    pub best: Option<BestEval>,
}

/// What a checkpoint holds besides the model.
pub struct CheckpointParts<'a> {
    pub model: &'a evaluate::RunModel,
    pub loss_vars: &'a nn::VarStore,
    pub optimizer: &'a crate::optimizer::AdamW,
    pub state: &'a TrainerState,
    pub config_toml: &'a str,
}

pub fn checkpoint_dir(root: &Path, step: u64) -> PathBuf {
    root.join(format!("{CHECKPOINT_PREFIX}{step}"))
}

/// Writes `checkpoints/checkpoint-{step}` atomically and returns its path.
pub fn write_checkpoint(root: &Path, parts: &CheckpointParts<'_>) -> Result<PathBuf> {
    let step = parts.state.global_step;
    let target = checkpoint_dir(root, step);
    let staging = root.join(format!(".{CHECKPOINT_PREFIX}{step}.partial"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io_error(&staging))?;
    parts.model.save(&staging.join("model"))?;
    let loss_vars = named_variables(parts.loss_vars);
    if !loss_vars.is_empty() {
        let path = staging.join("loss.safetensors");
        Tensor::write_safetensors(&loss_vars, &path).map_err(|source| Error::Torch {
            context: format!("writing {}", path.display()),
            source,
        })?;
    }
    parts
        .optimizer
        .save(&staging.join("optimizer.safetensors"))?;
    let config_path = staging.join("config.toml");
    std::fs::write(&config_path, parts.config_toml).map_err(io_error(&config_path))?;
    // The state file goes last: a folder without it is never taken for a checkpoint.
    let state_path = staging.join(STATE_FILE);
    let json = serde_json::to_string_pretty(parts.state).map_err(|e| Error::Checkpoint {
        path: state_path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&state_path, json).map_err(io_error(&state_path))?;
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(io_error(&target))?;
    }
    std::fs::rename(&staging, &target).map_err(io_error(&target))?;
    Ok(target)
}

/// Complete checkpoints under `root`, oldest first.
pub fn list_checkpoints(root: &Path) -> Result<Vec<(u64, PathBuf)>> {
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io_error(root))? {
        let entry = entry.map_err(io_error(root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(step) = name
            .strip_prefix(CHECKPOINT_PREFIX)
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if entry.path().join(STATE_FILE).is_file() {
            found.push((step, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Removes the oldest checkpoints beyond `limit`, never the one at `keep_step`.
pub fn rotate_checkpoints(root: &Path, limit: usize, keep_step: Option<u64>) -> Result<()> {
    let all = list_checkpoints(root)?;
    let mut excess = all.len().saturating_sub(limit);
    for (step, path) in all {
        if excess == 0 {
            break;
        }
        if Some(step) == keep_step {
            continue;
        }
        std::fs::remove_dir_all(&path).map_err(io_error(&path))?;
        excess -= 1;
    }
    Ok(())
}

pub fn read_state(dir: &Path) -> Result<TrainerState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::Checkpoint {
                path: dir.to_path_buf(),
                message: format!("not a complete checkpoint (no {STATE_FILE})"),
            }
        } else {
            Error::Io {
                path: path.clone(),
                source,
            }
        }
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Checkpoint {
        path,
        message: e.to_string(),
    })
}

/// Copies saved loss parameters into `vars` (names and shapes must match).
pub fn load_loss_vars(dir: &Path, vars: &mut nn::VarStore) -> Result<()> {
    let current = named_variables(vars);
    let path = dir.join("loss.safetensors");
    if current.is_empty() {
        return Ok(());
    }
    let bad = |message: String| Error::Checkpoint {
        path: path.clone(),
        message,
    };
    let saved = Tensor::read_safetensors(&path).map_err(|source| Error::Torch {
        context: format!("reading {}", path.display()),
        source,
    })?;
    let saved: std::collections::HashMap<String, Tensor> = saved.into_iter().collect();
    for (name, mut var) in current {
        let value = saved
            .get(&name)
            .ok_or_else(|| bad(format!("no tensor {name}")))?;
        if value.size() != var.size() {
            return Err(bad(format!(
                "{name} has shape {:?}, the loss expects {:?}",
                value.size(),
                var.size()
            )));
        }
        tch::no_grad(|| var.copy_(value));
    }
    Ok(())
}

/// A var store's variables sorted by name.
pub fn named_variables(vars: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> = vars.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}
