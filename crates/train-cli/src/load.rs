//! Model options shared by the subcommands, and loading a model from a hub id or a folder.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use model::{DeviceChoice, SentenceTransformer};

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Hub id (`org/name`, optionally `@revision`; downloaded into the HF cache) or a local folder
    #[arg(long, short)]
    pub model: String,
    /// auto (CUDA when available), cpu, cuda or cuda:N
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Sentences per forward pass
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// CPU threads for libtorch (default: libtorch's choice, one per core)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(i32::MAX)))]
    pub threads: Option<u32>,
}

impl ModelArgs {
    pub fn load(&self) -> Result<SentenceTransformer> {
        if let Some(threads) = self.threads {
            tch::set_num_threads(threads as i32);
        }
        let device = self.device.resolve()?;
        let dir = self.resolve_dir()?;
        SentenceTransformer::load(&dir, device)
            .with_context(|| format!("loading model {}", self.model))
    }

    fn resolve_dir(&self) -> Result<PathBuf> {
        let client = hub::HubClient::from_env()?;
        hub::resolve_model(&client, &self.model)
            .with_context(|| format!("resolving model {}", self.model))
    }
}
