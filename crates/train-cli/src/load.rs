//! Model options shared by the subcommands, and loading a model from a hub id or a folder.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use model::{
    ComputeDtype, CrossEncoder, CrossEncoderOptions, DeviceChoice, ResolveDevice,
    SentenceTransformer,
};

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Hub id (`org/name`, optionally `@revision`; downloaded into the HF cache) or a local folder
    #[arg(long, short)]
    pub model: String,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Where and how a model runs, apart from which model it is (for commands that take the model
/// from elsewhere, e.g. `search query` from the index's manifest).
#[derive(Args, Debug, Clone)]
pub struct RuntimeArgs {
    /// auto (CUDA when available), cpu, cuda or cuda:N
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Sentences per forward pass
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// What the transformer computes in: fp32, bf16 (CPU or CUDA) or fp16 (CUDA only).
    /// Embeddings are float32 whatever it is
    #[arg(long, default_value = "fp32")]
    pub dtype: ComputeDtype,
    /// CPU threads for libtorch (default: libtorch's choice, one per core)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(i32::MAX)))]
    pub threads: Option<u32>,
}

impl RuntimeArgs {
    /// The checks that need no files: the device and the dtype it can compute in.
    pub fn check(&self) -> Result<()> {
        let device = self.device.resolve()?;
        self.dtype
            .check_device(device)
            .with_context(|| format!("--dtype {}", self.dtype))?;
        Ok(())
    }
}

impl ModelArgs {
    /// The checks that need no files: the device and the dtype it can compute in.
    pub fn check(&self) -> Result<()> {
        self.runtime.check()
    }

    pub fn load(&self) -> Result<SentenceTransformer> {
        let device = self.prepare()?;
        let dir = self.resolve_dir()?;
        let mut model = SentenceTransformer::load(&dir, device)
            .with_context(|| format!("loading model {}", self.model))?;
        model
            .set_dtype(self.runtime.dtype)
            .with_context(|| format!("--dtype {}", self.runtime.dtype))?;
        Ok(model)
    }

    /// Loads the model as a cross-encoder.
    pub fn load_cross_encoder(&self, options: &CrossEncoderOptions) -> Result<CrossEncoder> {
        let device = self.prepare()?;
        let dir = self.resolve_dir()?;
        let mut model = CrossEncoder::load_with(&dir, device, options)
            .with_context(|| format!("loading cross-encoder {}", self.model))?;
        model
            .set_dtype(self.runtime.dtype)
            .with_context(|| format!("--dtype {}", self.runtime.dtype))?;
        Ok(model)
    }

    /// Sets the thread count and checks the device: the device to load on.
    fn prepare(&self) -> Result<tch::Device> {
        if let Some(threads) = self.runtime.threads {
            tch::set_num_threads(threads as i32);
        }
        self.check()?;
        Ok(self.runtime.device.resolve()?)
    }

    /// The model's local folder: itself, or the hub snapshot it resolves to.
    pub fn resolve_dir(&self) -> Result<PathBuf> {
        let client = hub::HubClient::from_env()?;
        hub::resolve_model(&client, &self.model)
            .with_context(|| format!("resolving model {}", self.model))
    }
}
