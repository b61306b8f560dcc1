//! Assembling a run apart from the loop: a `RunBuilder` with rows made in code (no dataset
//! file), `Trainer::from_parts`, and the builder's refusals.

use std::sync::atomic::AtomicBool;

use data::{TargetColumn, TrainingSet};
use trainer::{EvaluationConfig, RunBuilder, TrainConfig, Trainer, TrainingConfig};

fn pairs(rows: usize) -> TrainingSet {
    let words = test_support::WORDS;
    let (a, b): (Vec<String>, Vec<String>) = (0..rows)
        .map(|i| {
            (
                format!(
                    "{} {} {i}",
                    words[i % words.len()],
                    words[(i / 3) % words.len()]
                ),
                format!(
                    "{} {}",
                    words[i % words.len()],
                    words[(i + 7) % words.len()]
                ),
            )
        })
        .unzip();
    TrainingSet::new(
        vec!["anchor".into(), "positive".into()],
        vec![a, b],
        TargetColumn::None,
    )
    .unwrap()
}

fn config(dir: &std::path::Path) -> TrainConfig {
    let model = model::testing::tiny_bert(dir, &test_support::WORDS, 3).unwrap();
    let mut config = TrainConfig::default();
    config.model.base = model.display().to_string();
    config.data.dataset = "rows made in code".into();
    config.training = TrainingConfig {
        epochs: 1,
        batch_size: 4,
        learning_rate: 1e-3,
        warmup_steps: 1,
        device: model::DeviceChoice::Cpu,
        threads: Some(1),
        ..TrainingConfig::default()
    };
    config.evaluation = EvaluationConfig {
        evaluators: Vec::new(),
        ..EvaluationConfig::default()
    };
    config.output.dir = dir.join("out");
    config.output.save_steps = 0;
    config.output.progress = false;
    config.validate().unwrap();
    config
}

fn offline_client(dir: &std::path::Path) -> hub::HubClient {
    hub::HubClient::new("http://127.0.0.1:9", dir.join("hub-cache"))
}

#[test]
fn rows_made_in_code_train_through_the_builder() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let client = offline_client(dir.path());
    let parts = RunBuilder::new(&config, &client)
        .training_rows(vec![pairs(20)])
        .build()
        .unwrap();
    assert_eq!(parts.examples(), 20);
    let outcome = Trainer::from_parts(&config, parts)
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    assert_eq!(outcome.steps, 5);
    assert!(config.output.dir.join("model.safetensors").is_file());
    let card = std::fs::read_to_string(config.output.dir.join("README.md")).unwrap();
    assert!(card.contains("rows made in code"), "{card}");
}

#[test]
fn the_builder_refuses_rows_for_another_number_of_datasets_and_parts_for_another_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let client = offline_client(dir.path());
    let err = RunBuilder::new(&config, &client)
        .training_rows(vec![pairs(8), pairs(8)])
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("2 sets of training rows for the config's 1"),
        "{err}"
    );

    let parts = RunBuilder::new(&config, &client)
        .training_rows(vec![pairs(8)])
        .build()
        .unwrap();
    let mut other = config.clone();
    other.training.learning_rate = 5e-4;
    let err = Trainer::from_parts(&other, parts)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("another config"), "{err}");
}
