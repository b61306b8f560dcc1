//! `cargo xtask fetch-model`: download a model into the Hugging Face cache.

use anyhow::{Context, Result};

pub fn fetch_model(model: &str) -> Result<()> {
    let client = hub::HubClient::from_env()?;
    let dir = hub::resolve_model(&client, model).with_context(|| format!("fetching {model}"))?;
    println!("{model}: {}", dir.display());
    Ok(())
}
