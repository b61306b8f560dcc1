//! ContrastiveTensionLoss and ContrastiveTensionLossInBatchNegatives against
//! sentence-transformers 6.3 on the tiny random BERT of `crates/model/tests/fixtures` (mean
//! pooling, dropout off).
//!
//! `fixtures/unsupervised/contrastive_tension/` was written by
//! `fixtures/make_unsupervised_fixtures.py` (sentence-transformers 6.3.0, transformers 5.25.0,
//! torch 2.11.0; the calls and versions are in `reference.json`): the loss of one batch and the
//! gradient of every weight of both models — the trained model under its checkpoint names, the
//! copy (`model1`) under `model1.` — and of `logit_scale`. Tolerance: 1e-5 (absolute,
//! relative above 1).

use std::path::PathBuf;

use losses::{
    BuildLoss, ContrastiveTensionLoss, ContrastiveTensionLossInBatchNegatives, Loss, LossConfig,
    Targets,
};
use model::SentenceTransformer;
use serde_json::Value;
use tch::{nn, Device, Kind, Tensor};

mod common;

use common::{batch, max_diff};

const TOLERANCE: f64 = 1e-5;

fn fixture() -> (PathBuf, Value) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/unsupervised/contrastive_tension");
    let reference =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    (dir, reference)
}

fn load_model() -> SentenceTransformer {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures/bert/model");
    SentenceTransformer::load(&dir, Device::Cpu).unwrap()
}

/// Every recorded gradient against the model's and the loss's variables.
fn check_grads(what: &str, file: PathBuf, model: &SentenceTransformer, loss_vars: &nn::VarStore) {
    let grads = Tensor::read_safetensors(file).unwrap();
    let mut params = model.var_store().variables();
    params.extend(loss_vars.variables());
    assert_eq!(grads.len(), params.len(), "{what}: every weight's gradient");
    let mut worst = (0.0, String::new());
    for (name, expected) in &grads {
        let param = params
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no weight {name} here"));
        let grad = model::testing::dense_grad(param);
        let grad = if grad.defined() {
            grad
        } else {
            param.zeros_like()
        };
        let diff = max_diff(&grad, expected);
        if diff > worst.0 {
            worst = (diff, name.clone());
        }
    }
    eprintln!("{what}: largest gradient gap {} ({})", worst.0, worst.1);
    assert!(
        worst.0 <= TOLERANCE,
        "{what}: gradient of {} differs by {}",
        worst.1,
        worst.0
    );
}

fn check_value(what: &str, got: &Tensor, expected: &Value) {
    let expected = expected.as_f64().unwrap();
    let got = got.double_value(&[]);
    eprintln!("{what}: loss {got} (sentence-transformers {expected})");
    assert!(
        (got - expected).abs() <= TOLERANCE * expected.abs().max(1.0),
        "{what}: loss {got} vs sentence-transformers {expected}"
    );
}

#[test]
fn contrastive_tension_matches_sentence_transformers() {
    let (dir, reference) = fixture();
    let case = &reference["ct"];
    let model = load_model();
    let vs = nn::VarStore::new(Device::Cpu);
    let loss = ContrastiveTensionLoss::new(&vs.root(), &model).unwrap();
    assert_eq!(loss.name(), "ContrastiveTensionLoss");
    // The copy's weights are the loss's own parameters, under model1.
    assert!(vs
        .variables()
        .contains_key("model1.embeddings.word_embeddings.weight"));
    let labels: Vec<f32> = serde_json::from_value(case["labels"].clone()).unwrap();
    let labels = Tensor::from_slice(&labels);
    let columns = [
        batch(&case["features"]["sentence1"]),
        batch(&case["features"]["sentence2"]),
    ];
    let embeddings = loss.embed(&model, &columns, false).unwrap();
    let value = loss.compute(&embeddings, Targets::Scores(&labels)).unwrap();
    check_value("ContrastiveTensionLoss", &value, &case["loss"]);
    value.backward();
    check_grads(
        "ContrastiveTensionLoss",
        dir.join(case["grads_file"].as_str().unwrap()),
        &model,
        &vs,
    );
}

#[test]
fn contrastive_tension_in_batch_negatives_matches_sentence_transformers() {
    let (dir, reference) = fixture();
    let case = &reference["ct_in_batch"];
    let model = load_model();
    let vs = nn::VarStore::new(Device::Cpu);
    let loss = ContrastiveTensionLossInBatchNegatives::new(&vs.root(), &model, 20.0).unwrap();
    assert_eq!(loss.name(), "ContrastiveTensionLossInBatchNegatives");
    let columns = [batch(&case["features"]["sentence"])];
    let embeddings = loss.embed(&model, &columns, false).unwrap();
    let value = loss.compute(&embeddings, Targets::None).unwrap();
    check_value(
        "ContrastiveTensionLossInBatchNegatives",
        &value,
        &case["loss"],
    );
    value.backward();
    check_grads(
        "ContrastiveTensionLossInBatchNegatives",
        dir.join(case["grads_file"].as_str().unwrap()),
        &model,
        &vs,
    );
}

#[test]
fn both_need_the_model_and_check_their_inputs() {
    let model = load_model();
    let vs = nn::VarStore::new(Device::Cpu);
    for config in [
        LossConfig::ContrastiveTension,
        LossConfig::ContrastiveTensionInBatchNegatives { scale: 20.0 },
    ] {
        let err = config.build(&vs.root(), 32).unwrap_err().to_string();
        assert!(err.contains("build_for_model"), "{err}");
    }
    let err = LossConfig::ContrastiveTensionInBatchNegatives { scale: 0.0 }
        .build_for_model(&(vs.root() / "bad"), &model)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("scale must be a positive number"), "{err}");
    let loss = ContrastiveTensionLoss::new(&(vs.root() / "ct"), &model).unwrap();
    let e = Tensor::zeros([3, 32], (Kind::Float, Device::Cpu));
    let err = loss
        .compute(&[e.shallow_clone(), e.shallow_clone()], Targets::None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("0/1 label"), "{err}");
}
