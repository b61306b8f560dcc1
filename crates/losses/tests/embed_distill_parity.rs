//! The bi-encoder MSELoss and EmbedDistillLoss against sentence-transformers 6.3 on fixed
//! embeddings.
//!
//! `fixtures/st_embed_distill.json` was written by `fixtures/make_embed_distill_fixtures.py`
//! (sentence-transformers 6.3.0, transformers 5.25.0, torch 2.11.0; recorded in the file), which
//! runs the real classes' `compute_loss_from_embeddings` on seeded float32 (and bfloat16)
//! student embeddings of one, two and three columns, with the teacher's embeddings shared by
//! every column (`[batch, dim]`) and one per column (`[batch, columns, dim]`), for MSELoss and
//! every `distance_metric` (a row whose teacher equals its student included: the L2 norm's
//! gradient there). Tolerance: 1e-5 absolute, relative for values above 1, on the loss and on
//! d loss / d every embedding column.

// Only `max_diff` is needed here; the token-batch helpers serve the other parity tests.
#[allow(dead_code)]
mod common;

use std::sync::OnceLock;

use common::max_diff;
use losses::{BuildLoss, DistillDistance, EmbedDistillLoss, Loss, LossConfig, TargetKind, Targets};
use serde_json::Value;
use tch::{nn, Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-5;

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = format!(
            "{}/tests/fixtures/st_embed_distill.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let fixture: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(fixture["versions"]["sentence_transformers"], "6.3.0");
        fixture
    })
}

/// A float32 tensor of the nested JSON list's shape.
fn tensor(v: &Value) -> Tensor {
    let mut shape = Vec::new();
    let mut at = v;
    while let Some(items) = at.as_array() {
        shape.push(items.len() as i64);
        at = &items[0];
    }
    fn flatten(v: &Value, out: &mut Vec<f32>) {
        match v.as_array() {
            Some(items) => items.iter().for_each(|x| flatten(x, out)),
            None => out.push(v.as_f64().unwrap() as f32),
        }
    }
    let mut flat = Vec::new();
    flatten(v, &mut flat);
    Tensor::from_slice(&flat).view(shape.as_slice())
}

fn kind(name: &str) -> Kind {
    match name {
        "float32" => Kind::Float,
        "bfloat16" => Kind::BFloat16,
        other => panic!("dtype {other}"),
    }
}

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
fn embed_distill_matches_sentence_transformers() {
    let cases = fixture()["cases"].as_array().unwrap();
    assert!(cases.len() >= 32, "{} cases", cases.len());
    let (mut worst_loss, mut worst_grad, mut failures) = (0f64, 0f64, Vec::new());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config: LossConfig = serde_json::from_value(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (leaves, labels) = case_inputs(case);
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = config.build(&vs.root(), leaves[0].size()[1]).unwrap();
        assert_eq!(loss.target_kind(), TargetKind::Vector, "{name}");
        let value = loss.compute(&leaves, Targets::Vectors(&labels)).unwrap();
        value.backward();

        let expected = case["loss"].as_f64().unwrap();
        let d_loss = (value.double_value(&[]) - expected).abs() / expected.abs().max(1.0);
        let grads = case["grads"].as_array().unwrap();
        assert_eq!(grads.len(), leaves.len(), "{name}");
        let mut d_grad = 0f64;
        for (leaf, g) in leaves.iter().zip(grads) {
            assert_eq!(leaf.grad().kind(), leaf.kind(), "{name}");
            d_grad = d_grad.max(max_diff(&leaf.grad(), &tensor(g)));
        }
        println!(
            "{name:<36} {:>10.6} Δloss {d_loss:.2e} Δgrad {d_grad:.2e}",
            value.double_value(&[])
        );
        worst_loss = worst_loss.max(d_loss);
        worst_grad = worst_grad.max(d_grad);
        if d_loss > TOLERANCE || d_grad > TOLERANCE || !d_loss.is_finite() || !d_grad.is_finite() {
            failures.push(name.to_string());
        }
    }
    println!("max Δloss {worst_loss:.2e}, max Δgrad {worst_grad:.2e}");
    assert!(failures.is_empty(), "beyond {TOLERANCE}: {failures:?}");
}

#[test]
fn config_names_and_defaults_follow_sentence_transformers() {
    let mse: LossConfig = toml::from_str(r#"type = "mse""#).unwrap();
    assert_eq!(mse, LossConfig::Mse);
    assert!(toml::from_str::<LossConfig>("type = \"mse\"\nscale = 2.0").is_err());
    let distill: LossConfig = toml::from_str(r#"type = "embed_distill""#).unwrap();
    assert_eq!(
        distill,
        LossConfig::EmbedDistill {
            distance_metric: DistillDistance::Cosine
        }
    );
    let vs = nn::VarStore::new(Device::Cpu);
    assert_eq!(mse.build(&vs.root(), 8).unwrap().name(), "MSELoss");
    assert_eq!(
        distill.build(&vs.root(), 8).unwrap().name(),
        "EmbedDistillLoss"
    );
    assert!(
        toml::from_str::<LossConfig>("type = \"embed_distill\"\ndistance_metric = \"dot\"")
            .is_err()
    );
}

#[test]
fn bad_teacher_embeddings_are_errors_naming_the_problem() {
    let loss = EmbedDistillLoss::mse();
    let cpu = (Kind::Float, Device::Cpu);
    let columns = [Tensor::randn([4, 8], cpu), Tensor::randn([4, 8], cpu)];
    let err = |targets: Targets<'_>| loss.compute(&columns, targets).unwrap_err().to_string();
    let scores = Tensor::zeros([4], cpu);
    assert!(err(Targets::Scores(&scores)).contains("teacher's embedding"));
    let wide = Tensor::zeros([4, 12], cpu);
    let e = err(Targets::Vectors(&wide));
    assert!(e.contains("[4, 12]") && e.contains("[4, 8]"), "{e}");
    let three = Tensor::zeros([4, 3, 8], cpu);
    let e = err(Targets::Vectors(&three));
    assert!(
        e.contains("3 teacher embeddings per row for 2 text columns"),
        "{e}"
    );
    let flat = Tensor::zeros([4], cpu);
    assert!(err(Targets::Vectors(&flat)).contains("1 dimensions"));
    let nan = Tensor::full([4, 8], f64::NAN, cpu);
    assert!(err(Targets::Vectors(&nan)).contains("NaN"));
    let ints = Tensor::zeros([4, 8], (Kind::Int64, Device::Cpu));
    assert!(err(Targets::Vectors(&ints)).contains("floating point"));
}
