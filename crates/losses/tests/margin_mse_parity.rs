//! The bi-encoder MarginMSELoss against sentence-transformers 6.3 on fixed embeddings.
//!
//! `fixtures/st_margin_mse.json` was written by `fixtures/make_margin_mse_fixtures.py`
//! (sentence-transformers 6.3.0, transformers 5.25.0, torch 2.11.0; recorded in the file), which
//! runs the real class: `MarginMSELoss(model, similarity_fct=util.pairwise_*)
//! .compute_loss_from_embeddings(columns, labels)` on seeded float32 (and bfloat16) student
//! embeddings, with one, two and three negatives, every similarity function and every label form
//! 6.3 accepts (`[batch]` margins, `[batch, n]` margins, `[batch, n + 1]` scores), the labels
//! from a seeded teacher of another width. Tolerance: 1e-5 absolute, relative for values above
//! 1, on the loss and on d loss / d every embedding column.

// Only `max_diff` is needed here; the token-batch helpers serve the other parity tests.
#[allow(dead_code)]
mod common;

use std::sync::OnceLock;

use common::max_diff;
use losses::{BuildLoss, Error, Loss, LossConfig, MarginMseLoss, PairwiseSimilarity, Targets};
use model::SentenceTransformer;
use serde_json::Value;
use tch::{nn, Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-5;

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = format!(
            "{}/tests/fixtures/st_margin_mse.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let fixture: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(fixture["versions"]["sentence_transformers"], "6.3.0");
        fixture
    })
}

/// A float32 tensor of the JSON list's shape (`[n]` or `[n, d]`).
fn tensor(v: &Value) -> Tensor {
    match v
        .as_array()
        .and_then(|rows| rows.first())
        .map(Value::is_array)
    {
        Some(true) => {
            let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
            let (n, d) = (rows.len() as i64, rows[0].len() as i64);
            let flat: Vec<f32> = rows.into_iter().flatten().map(|x| x as f32).collect();
            Tensor::from_slice(&flat).view([n, d])
        }
        _ => {
            let values: Vec<f64> = serde_json::from_value(v.clone()).unwrap();
            let values: Vec<f32> = values.into_iter().map(|x| x as f32).collect();
            Tensor::from_slice(&values)
        }
    }
}

fn kind(name: &str) -> Kind {
    match name {
        "float32" => Kind::Float,
        "bfloat16" => Kind::BFloat16,
        other => panic!("dtype {other}"),
    }
}

/// The case's student columns as leaves of its dtype, and its labels.
fn case_inputs(case: &Value) -> (Vec<Tensor>, Tensor) {
    let inputs = &fixture()["inputs"][case["inputs"].as_str().unwrap()];
    let dtype = kind(case["dtype"].as_str().unwrap());
    let leaves = inputs["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| tensor(c).to_kind(dtype).set_requires_grad(true))
        .collect();
    let labels = tensor(&inputs["labels"][case["labels"].as_str().unwrap()]);
    (leaves, labels)
}

#[test]
fn margin_mse_matches_sentence_transformers() {
    let cases = fixture()["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let (mut worst_loss, mut worst_grad, mut failures) = (0f64, 0f64, Vec::new());
    let mut worst_by_column = [0f64; 5];
    println!(
        "{:<28} {:>12} {:>10} {:>10}",
        "case", "loss", "Δloss", "Δgrad"
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config: LossConfig = serde_json::from_value(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (leaves, labels) = case_inputs(case);
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = config.build(&vs.root(), leaves[0].size()[1]).unwrap();
        assert_eq!(loss.name(), "MarginMSELoss");
        let value = loss.compute(&leaves, Targets::Scores(&labels)).unwrap();
        value.backward();

        let expected = case["loss"].as_f64().unwrap();
        let d_loss = (value.double_value(&[]) - expected).abs() / expected.abs().max(1.0);
        let grads = case["grads"].as_array().unwrap();
        assert_eq!(grads.len(), leaves.len(), "{name}");
        let mut d_grad = 0f64;
        for (i, (leaf, g)) in leaves.iter().zip(grads).enumerate() {
            assert_eq!(leaf.grad().kind(), leaf.kind(), "{name}");
            let gap = max_diff(&leaf.grad(), &tensor(g));
            worst_by_column[i] = worst_by_column[i].max(gap);
            d_grad = d_grad.max(gap);
        }
        println!(
            "{name:<28} {:>12.6} {d_loss:>10.2e} {d_grad:>10.2e}",
            value.double_value(&[])
        );
        worst_loss = worst_loss.max(d_loss);
        worst_grad = worst_grad.max(d_grad);
        if d_loss > TOLERANCE || d_grad > TOLERANCE {
            failures.push(name.to_string());
        }
    }
    println!(
        "max Δloss {worst_loss:.2e}, max Δgrad {worst_grad:.2e} (query {:.2e}, positive {:.2e}, \
         negatives {:.2e} {:.2e} {:.2e})",
        worst_by_column[0],
        worst_by_column[1],
        worst_by_column[2],
        worst_by_column[3],
        worst_by_column[4]
    );
    assert!(failures.is_empty(), "beyond {TOLERANCE}: {failures:?}");
}

/// The three label forms of one batch are the same teacher margins, so the same loss.
#[test]
fn every_label_form_gives_the_same_loss() {
    for (inputs, forms) in [
        ("1neg", &["margin", "margins", "scores"][..]),
        ("2neg", &["margins", "scores"][..]),
    ] {
        let case = |form: &str| {
            fixture()["cases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == format!("{inputs}_dot_{form}").as_str())
                .unwrap_or_else(|| panic!("no case {inputs}_dot_{form}"))
        };
        let values: Vec<f64> = forms
            .iter()
            .map(|&form| {
                let (leaves, labels) = case_inputs(case(form));
                MarginMseLoss::default()
                    .compute(&leaves, Targets::Scores(&labels))
                    .unwrap()
                    .double_value(&[])
            })
            .collect();
        assert!(
            values.windows(2).all(|w| (w[0] - w[1]).abs() < 1e-6),
            "{inputs}: {values:?}"
        );
    }
}

/// The trainer's path: a config parsed from TOML, one score per row, three text columns; more
/// columns are refused before a step since one score per row is one negative's margin.
#[test]
fn a_training_step_from_the_config_fits_the_teachers_margins() {
    let config: LossConfig = toml::from_str(r#"type = "margin_mse""#).unwrap();
    assert_eq!(
        config,
        LossConfig::MarginMse {
            similarity_fct: PairwiseSimilarity::Dot
        }
    );
    let dir = tempfile::tempdir().unwrap();
    let words = ["the", "a", "cat", "dog", "sits", "runs", "on", "mat"];
    let folder = model::testing::tiny_bert(dir.path(), &words, 5).unwrap();
    let model = SentenceTransformer::load(&folder, Device::Cpu).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let loss = config.build_for_model(&vs.root(), &model).unwrap();
    assert_eq!(loss.columns(), (3, Some(3)));
    let texts = [
        ["the cat sits on the mat", "a dog runs"],
        ["a cat on a mat", "the dog runs"],
        ["the dog", "a cat sits"],
    ];
    let tokenize = |column: &[&str]| {
        let tokenized = model.tokenizer().tokenize(column).unwrap();
        let refs: Vec<_> = tokenized.iter().collect();
        model.to_tensors(&model.tokenizer().collate(&refs))
    };
    let columns: Vec<model::TokenBatch> = texts.iter().map(|c| tokenize(c)).collect();
    let margins = Tensor::from_slice(&[1.5f32, -0.5]);
    let value = loss
        .forward_backward(&model, &columns, Targets::Scores(&margins), 1.0)
        .unwrap();
    assert!(value.is_finite() && value > 0.0, "{value}");
    let with_grad = model
        .var_store()
        .variables()
        .values()
        .filter(|v| v.grad().defined())
        .count();
    assert!(with_grad > 10, "{with_grad} model variables got a gradient");

    let four: Vec<model::TokenBatch> = texts
        .iter()
        .chain(&texts[2..])
        .map(|c| tokenize(c))
        .collect();
    assert!(matches!(
        loss.forward_backward(&model, &four, Targets::Scores(&margins), 1.0),
        Err(Error::Columns { .. })
    ));
}
