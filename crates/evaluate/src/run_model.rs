//! The model a run trains: a bi-encoder (`SentenceTransformer`) or a cross-encoder. The loop,
//! the optimizer, checkpoints and the output folder treat both alike through this type; the
//! losses and evaluators each take the kind they score.

use std::path::Path;

use config::{CrossEncoderSettings, TrainConfig};
use model::{CrossEncoder, CrossEncoderOptions, ScoreActivation, SentenceTransformer};
use tch::{nn, Device, Kind};

use crate::error::{Error, Result};

pub enum RunModel {
    Bi(SentenceTransformer),
    Cross(CrossEncoder),
}

impl RunModel {
    /// The model of a run from `dir` (the base, or a checkpoint's `model/`): a cross-encoder
    /// when the config has `[model.cross_encoder]` (with a new head where `dir` has none),
    /// else a bi-encoder.
    pub fn load(config: &TrainConfig, dir: &Path, device: Device) -> Result<Self> {
        match &config.model.cross_encoder {
            Some(settings) => Ok(RunModel::Cross(CrossEncoder::load_with(
                dir,
                device,
                &cross_encoder_options(settings)?,
            )?)),
            None => Ok(RunModel::Bi(SentenceTransformer::load(dir, device)?)),
        }
    }

    pub fn bi(&self) -> Option<&SentenceTransformer> {
        match self {
            RunModel::Bi(model) => Some(model),
            RunModel::Cross(_) => None,
        }
    }

    pub fn cross(&self) -> Option<&CrossEncoder> {
        match self {
            RunModel::Cross(model) => Some(model),
            RunModel::Bi(_) => None,
        }
    }

    /// The bi-encoder, or an error saying `what` needs one.
    pub fn expect_bi(&self, what: &str) -> Result<&SentenceTransformer> {
        self.bi().ok_or_else(|| Error::Config {
            origin: what.into(),
            message: "needs a bi-encoder, but this run trains a cross-encoder".into(),
        })
    }

    /// The cross-encoder, or an error saying `what` needs one.
    pub fn expect_cross(&self, what: &str) -> Result<&CrossEncoder> {
        self.cross().ok_or_else(|| Error::Config {
            origin: what.into(),
            message: "needs a cross-encoder, but this run trains a bi-encoder".into(),
        })
    }

    pub fn var_store(&self) -> &nn::VarStore {
        match self {
            RunModel::Bi(model) => model.var_store(),
            RunModel::Cross(model) => model.var_store(),
        }
    }

    pub fn set_training_autocast(&mut self, kind: Option<Kind>) {
        match self {
            RunModel::Bi(model) => model.set_training_autocast(kind),
            RunModel::Cross(model) => model.set_training_autocast(kind),
        }
    }

    /// Saves the model folder atomically (sentence-transformers' layout of its kind).
    pub fn save(&self, dir: &Path) -> Result<()> {
        match self {
            RunModel::Bi(model) => model.save(dir)?,
            RunModel::Cross(model) => model.save(dir)?,
        }
        Ok(())
    }

    /// Writes the model's files into an existing folder.
    pub fn write_into(&self, dir: &Path) -> Result<()> {
        match self {
            RunModel::Bi(model) => model.write_into(dir)?,
            RunModel::Cross(model) => model.write_into(dir)?,
        }
        Ok(())
    }
}

/// How a cross-encoder run loads its model: the configured label count and activation, and a
/// new head for a base model without one (`CrossEncoder("bert-base-uncased", num_labels=…)`).
fn cross_encoder_options(settings: &CrossEncoderSettings) -> Result<CrossEncoderOptions> {
    let activation = settings
        .activation
        .as_deref()
        .map(|name| {
            name.parse::<ScoreActivation>()
                .map_err(|message| Error::Config {
                    origin: "model.cross_encoder.activation".into(),
                    message,
                })
        })
        .transpose()?;
    Ok(CrossEncoderOptions {
        num_labels: settings.num_labels.map(|n| n as i64),
        activation,
        new_head: true,
    })
}
