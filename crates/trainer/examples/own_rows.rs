//! Fine-tunes a sentence encoder on rows made in code — no config file, no dataset on disk:
//! the run is described by a `TrainConfig` value, the rows are a `data::TrainingSet`, and a
//! `RunBuilder` assembles the trainer the way `train-cli` does.
//!
//! ```sh
//! cargo run --release -p trainer --example own_rows -- [MODEL] [OUTPUT_DIR]
//! ```
//!
//! MODEL is a hub id or local folder (default sentence-transformers/all-MiniLM-L6-v2),
//! OUTPUT_DIR where the trained model goes (default output/own-rows).

use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use data::{TargetColumn, TrainingSet};
use trainer::{EvaluationConfig, LossChoice, RunBuilder, TrainConfig, Trainer, TrainingConfig};

/// (question, answer) pairs: each answer is its question's positive, every other answer in
/// the batch a negative (MultipleNegativesRankingLoss).
const PAIRS: [(&str, &str); 12] = [
    (
        "How do I boil an egg?",
        "Put the egg in boiling water for seven minutes.",
    ),
    (
        "What is the capital of France?",
        "Paris is the capital of France.",
    ),
    (
        "How far is the moon?",
        "The moon is about 384,000 km from the Earth.",
    ),
    (
        "Who wrote Hamlet?",
        "Hamlet is a tragedy by William Shakespeare.",
    ),
    (
        "How do plants make food?",
        "Plants turn light, water and CO2 into sugar.",
    ),
    (
        "What is the boiling point of water?",
        "Water boils at 100 degrees Celsius at sea level.",
    ),
    (
        "How many legs does a spider have?",
        "Spiders have eight legs.",
    ),
    (
        "What language is spoken in Brazil?",
        "Brazilians speak Portuguese.",
    ),
    (
        "Why is the sky blue?",
        "Air scatters blue light more than red light.",
    ),
    ("What do bees make?", "Bees make honey from nectar."),
    (
        "How long is a marathon?",
        "A marathon is 42.195 kilometres long.",
    ),
    (
        "What is the largest ocean?",
        "The Pacific is the largest ocean.",
    ),
];

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let model = args
        .next()
        .unwrap_or_else(|| "sentence-transformers/all-MiniLM-L6-v2".into());
    let output = args.next().unwrap_or_else(|| "output/own-rows".into());

    let mut config = TrainConfig::default();
    config.model.base = model;
    // Only names the rows in the model card: they come from `training_rows` below.
    config.data.dataset = "in-memory question/answer pairs".into();
    config.loss = LossChoice::default(); // MultipleNegativesRankingLoss, scale 20
    config.training = TrainingConfig {
        epochs: 2,
        batch_size: 4,
        learning_rate: 2e-5,
        warmup_steps: 1,
        ..TrainingConfig::default()
    };
    config.evaluation = EvaluationConfig {
        evaluators: Vec::new(),
        ..EvaluationConfig::default()
    };
    config.output.dir = output.into();
    config.output.save_steps = 0;
    config
        .validate()
        .map_err(anyhow::Error::msg)
        .context("the run described in code")?;

    let (questions, answers): (Vec<String>, Vec<String>) = PAIRS
        .iter()
        .map(|(q, a)| (q.to_string(), a.to_string()))
        .unzip();
    let rows = TrainingSet::new(
        vec!["anchor".into(), "positive".into()],
        vec![questions, answers],
        TargetColumn::None,
    )?;

    let client = hub::HubClient::from_env()?;
    let parts = RunBuilder::new(&config, &client)
        .training_rows(vec![rows])
        .build()?;
    let outcome = Trainer::from_parts(&config, parts)?.run(&AtomicBool::new(false))?;
    println!(
        "trained {} steps on {} rows; the model is in {}",
        outcome.steps,
        outcome.examples,
        outcome.output_dir.display()
    );
    Ok(())
}
