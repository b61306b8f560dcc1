//! `train-cli eval`: STS evaluation as sentence-transformers' EmbeddingSimilarityEvaluator.

use anyhow::{Context, Result};
use clap::Args;
use data::ScoredPairColumns;
use eval::{evaluate_sts, normalize_sts_scores, Embeddings};
use model::EncodeOptions;

use crate::load::ModelArgs;

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A known dataset (glue/stsb), downloaded into the HF cache, or a local parquet file with
    /// columns sentence1, sentence2, label
    #[arg(long, default_value = "glue/stsb")]
    pub dataset: String,
    /// Split of a known dataset
    #[arg(long, default_value = "validation")]
    pub split: String,
    /// Largest gold score; scores are divided by it (STS-B: 0–5)
    #[arg(long, default_value_t = 5.0)]
    pub score_max: f64,
    /// Print one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let path = dataset_file(&args.dataset, &args.split)?;
    let pairs = data::read_scored_pairs(&path, &ScoredPairColumns::GLUE)?;
    let raw: Vec<f32> = pairs.iter().map(|p| p.score).collect();
    let scores = normalize_sts_scores(&raw, args.score_max)?;
    let model = args.model.load()?;
    let n = pairs.len();
    // One encode call for both columns batches them better; the evaluator pairs rows i and n+i.
    let texts: Vec<&str> = pairs
        .iter()
        .map(|p| p.sentence1.as_str())
        .chain(pairs.iter().map(|p| p.sentence2.as_str()))
        .collect();
    let options = EncodeOptions {
        batch_size: args.model.batch_size as usize,
        normalize: false,
        show_progress: !args.json,
    };
    let embeddings = model
        .encode(&texts, &options)
        .context("encoding the dataset")?;
    let dim = embeddings.dim;
    let (first, second) = embeddings.data.split_at(n * dim);
    let metrics = evaluate_sts(
        Embeddings::new(first, n, dim)?,
        Embeddings::new(second, n, dim)?,
        &scores,
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&metrics)?);
    } else {
        println!(
            "{} on {} ({}, {n} pairs)",
            args.model.model, args.dataset, args.split
        );
        println!("{}", metrics.to_table());
    }
    Ok(())
}

/// The same resolution as training's evaluation set: a local file, or a known dataset's split
/// from the hub cache.
fn dataset_file(name: &str, split: &str) -> Result<std::path::PathBuf> {
    let client = hub::HubClient::from_env()?;
    trainer::resolve_dataset_file(&client, name, split)
        .with_context(|| format!("resolving the evaluation dataset {name} ({split})"))
}
