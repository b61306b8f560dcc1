//! Values and gradients against sentence-transformers 6.2 on fixed float32 embeddings.
//!
//! `fixtures/st_losses.json` was written by `fixtures/make_fixtures.py`, and
//! `fixtures/st_batch_triplet_losses.json` (the batch triplet losses: one text column, integer
//! labels) by `fixtures/make_batch_triplet_fixtures.py` (sentence-transformers 6.2.0,
//! transformers 5.24.0, torch 2.11.0; the versions are recorded in each file); both run each
//! real loss class's `forward` on the embeddings they record. Tolerance: 1e-5 absolute, relative
//! for values above 1 (float32 has ~7 significant digits, and some losses are sums near 200).

use losses::{BuildLoss, LossConfig, Targets};
use serde_json::Value;
use tch::{nn, Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-5;

fn matrix(v: &Value) -> Tensor {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (
        rows.len() as i64,
        rows.first().map_or(0, |r| r.len()) as i64,
    );
    let flat: Vec<f32> = rows.into_iter().flatten().map(|x| x as f32).collect();
    Tensor::from_slice(&flat).view([n, d])
}

fn vector(v: &Value) -> Tensor {
    let xs: Vec<f64> = serde_json::from_value(v.clone()).unwrap();
    Tensor::from_slice(&xs.iter().map(|&x| x as f32).collect::<Vec<_>>())
}

/// Largest |a − b| / max(1, |b|).
fn max_diff(actual: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(actual.size(), expected.size());
    let actual = actual.to_kind(Kind::Double);
    let expected = expected.to_kind(Kind::Double);
    let scale = expected.abs().clamp_min(1.0);
    ((actual - &expected).abs() / scale).max().double_value(&[])
}

fn load_fixture(file: &str) -> Value {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The largest value and gradient gaps of one case.
struct Gaps {
    loss: f64,
    grad: f64,
}

#[test]
fn every_loss_matches_sentence_transformers() {
    check_fixture("st_losses.json", 30);
}

#[test]
fn batch_triplet_losses_match_sentence_transformers() {
    let gaps = check_fixture("st_batch_triplet_losses.json", 30);
    let fixture = load_fixture("st_batch_triplet_losses.json");
    let types: Vec<&str> = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| case["config"]["type"].as_str().unwrap())
        .collect();
    println!(
        "\n{:<32} {:>6} {:>10} {:>10}",
        "type", "cases", "max Δloss", "max Δgrad"
    );
    for kind in [
        "batch_hard_triplet",
        "batch_semi_hard_triplet",
        "batch_all_triplet",
        "batch_hard_soft_margin_triplet",
    ] {
        let of_kind: Vec<&Gaps> = types
            .iter()
            .zip(&gaps)
            .filter(|(t, _)| **t == kind)
            .map(|(_, g)| g)
            .collect();
        // Every label set: grouped, singletons, one label, all distinct, duplicate rows.
        assert!(of_kind.len() >= 8, "{kind}: {} cases", of_kind.len());
        let loss = of_kind.iter().map(|g| g.loss).fold(0.0, f64::max);
        let grad = of_kind.iter().map(|g| g.grad).fold(0.0, f64::max);
        println!(
            "{kind:<32} {:>6} {loss:>10.2e} {grad:>10.2e}",
            of_kind.len()
        );
    }
}

/// Runs every case of a fixture file; panics naming the cases beyond [`TOLERANCE`].
fn check_fixture(file: &str, min_cases: usize) -> Vec<Gaps> {
    let fixture = load_fixture(file);
    assert_eq!(fixture["versions"]["sentence_transformers"], "6.2.0");
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= min_cases, "{file}: {} cases", cases.len());
    let mut gaps = Vec::new();
    println!(
        "{:<60} {:>12} {:>10} {:>10} {:>10}",
        "case", "loss", "Δloss", "Δgrad emb", "Δgrad W"
    );
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config: LossConfig = serde_json::from_value(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let dim = case["embedding_dim"].as_i64().unwrap();
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = config.build(&vs.root(), dim).unwrap();
        if let Some(params) = case["params"].as_object() {
            let vars = vs.variables();
            assert_eq!(vars.len(), params.len(), "{name}: {:?}", vars.keys());
            for (key, value) in params {
                let t = if value[0].is_array() {
                    matrix(value)
                } else {
                    vector(value)
                };
                tch::no_grad(|| vars[key].shallow_clone().copy_(&t));
            }
        }
        let embeddings: Vec<Tensor> = case["embeddings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| matrix(e).set_requires_grad(true))
            .collect();
        let labels = match &case["labels"] {
            Value::Null => None,
            l if l["kind"] == "classes" => {
                let xs: Vec<i64> = serde_json::from_value(l["values"].clone()).unwrap();
                Some((true, Tensor::from_slice(&xs)))
            }
            l => Some((false, vector(&l["values"]))),
        };
        let targets = match &labels {
            None => Targets::None,
            Some((true, t)) => Targets::Classes(t),
            Some((false, t)) => Targets::Scores(t),
        };
        let value = loss.compute(&embeddings, targets).unwrap();
        value.backward();
        let expected = case["loss"].as_f64().unwrap();
        let d_loss = (value.double_value(&[]) - expected).abs() / expected.abs().max(1.0);
        let mut d_grad = 0f64;
        for (e, g) in embeddings.iter().zip(case["grads"].as_array().unwrap()) {
            d_grad = d_grad.max(max_diff(&e.grad(), &matrix(g)));
        }
        let mut d_param = f64::NAN;
        if let Some(grads) = case["param_grads"].as_object() {
            let vars = vs.variables();
            d_param = 0.0;
            for (key, value) in grads {
                let g = if value[0].is_array() {
                    matrix(value)
                } else {
                    vector(value)
                };
                d_param = d_param.max(max_diff(&vars[key].grad(), &g));
            }
        }
        let d_param_text = if d_param.is_nan() {
            "-".to_string()
        } else {
            format!("{d_param:.2e}")
        };
        println!("{name:<60} {expected:>12.6} {d_loss:>10.2e} {d_grad:>10.2e} {d_param_text:>10}");
        if d_loss > TOLERANCE || d_grad > TOLERANCE || d_param > TOLERANCE {
            failures.push(name.to_string());
        }
        gaps.push(Gaps {
            loss: d_loss,
            grad: d_grad,
        });
    }
    assert!(
        failures.is_empty(),
        "{file}: beyond {TOLERANCE}: {failures:?}"
    );
    gaps
}

/// Seeded the same way, SoftmaxLoss's classifier starts from the very numbers torch.nn.Linear
/// draws: both run libtorch's CPU generator and `uniform_` kernel, weight first, then bias.
/// This is what lets a seeded sentence-transformers run and ours start from one classifier.
#[test]
fn softmax_classifier_initialisation_is_torch_nn_linear_draw() {
    let fixture = load_fixture("st_losses.json");
    let mut checked = 0;
    for case in fixture["cases"].as_array().unwrap() {
        let Some(params) = case["params"].as_object() else {
            continue;
        };
        let name = case["name"].as_str().unwrap();
        let config: LossConfig = serde_json::from_value(case["config"].clone()).unwrap();
        let vs = nn::VarStore::new(Device::Cpu);
        tch::manual_seed(case["seed"].as_i64().unwrap());
        config
            .build(&vs.root(), case["embedding_dim"].as_i64().unwrap())
            .unwrap();
        let vars = vs.variables();
        for (key, value) in params {
            let expected = if value[0].is_array() {
                matrix(value)
            } else {
                vector(value)
            };
            // The bound 1/sqrt(fan_in) vs torch's gain * sqrt(3 / fan_in) may differ in the
            // last bit; anything beyond float32 rounding means a different draw.
            let diff = max_diff(&vars[key], &expected);
            assert!(diff < 1e-7, "{name} {key}: {diff:e}");
        }
        checked += 1;
    }
    assert_eq!(checked, 3, "the fixture's SoftmaxLoss cases");
}
