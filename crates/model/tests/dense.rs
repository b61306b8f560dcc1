//! sentence-transformers' Dense module against Python sentence-transformers (fp32, CPU).
//!
//! Reference values: tests/fixtures/modules/dense/{embeddings.npy, reference.json}, produced by
//! tests/fixtures/make_module_fixtures.py (sentence-transformers 6.2.0, transformers 5.24.0,
//! torch 2.11.0; versions and snippet in reference.json): the bert fixture's Transformer →
//! mean Pooling → Dense(32 → 24, Tanh, bias) → Dense(24 → 16, Identity, no bias) → Normalize.

use std::path::{Path, PathBuf};

use model::{EncodeOptions, SentenceTransformer, TokenBatch};
use serde_json::Value;
use tch::{nn, nn::OptimizerConfig, Kind, Tensor};
use test_support::copy_dir;

/// Max abs difference allowed per embedding component.
const EMBEDDING_TOLERANCE: f32 = 1e-5;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modules/dense")
}

fn load(dir: &Path) -> SentenceTransformer {
    SentenceTransformer::load(dir, tch::Device::Cpu).unwrap_or_else(|e| panic!("{e}"))
}

fn sentences() -> Vec<String> {
    let text = std::fs::read_to_string(fixture().join("reference.json")).unwrap();
    let meta: Value = serde_json::from_str(&text).unwrap();
    meta["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn embeddings_match_sentence_transformers_at_batch_sizes_1_7_32() {
    let model = load(&fixture().join("model"));
    assert_eq!(model.embedding_dimension(), 16);
    let texts = sentences();
    let (expected, rows, dim) = data::read_npy_f32(fixture().join("embeddings.npy")).unwrap();
    assert_eq!((rows, dim), (texts.len(), 16));
    for batch_size in [1, 7, 32] {
        let options = EncodeOptions {
            batch_size,
            ..Default::default()
        };
        let got = model.encode(&texts, &options).unwrap();
        let diff = max_abs_diff(&got.data, &expected);
        eprintln!("dense: batch size {batch_size}: max abs diff {diff:e}");
        assert!(
            diff <= EMBEDDING_TOLERANCE,
            "batch size {batch_size}: max abs diff {diff:e}"
        );
    }
}

#[test]
fn save_then_load_is_bit_identical_in_the_layout_every_version_reads() {
    let model = load(&fixture().join("model"));
    let texts = sentences();
    let before = model.encode(&texts, &EncodeOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("saved");
    model.save(&out).unwrap();
    let after = load(&out)
        .encode(&texts, &EncodeOptions::default())
        .unwrap();
    assert_eq!(before, after, "save/load must not change a single bit");

    let modules: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("modules.json")).unwrap()).unwrap();
    let types: Vec<&str> = modules
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[2], "sentence_transformers.models.Dense");
    assert_eq!(types[3], "sentence_transformers.models.Dense");
    // Only the keys sentence-transformers 2.x's Dense(**config) accepts.
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("3_Dense/config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config,
        serde_json::json!({"in_features": 24, "out_features": 16, "bias": false,
                           "activation_function": "torch.nn.modules.linear.Identity"})
    );
    for (folder, keys) in [
        ("2_Dense", vec!["linear.bias", "linear.weight"]),
        ("3_Dense", vec!["linear.weight"]),
    ] {
        let mut saved =
            Tensor::read_safetensors(out.join(folder).join("model.safetensors")).unwrap();
        let original = Tensor::read_safetensors(
            fixture()
                .join("model")
                .join(folder)
                .join("model.safetensors"),
        )
        .unwrap();
        saved.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<&str> = saved.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, keys, "{folder}");
        for (name, t) in &saved {
            let o = &original.iter().find(|(n, _)| n == name).unwrap().1;
            assert!(t.equal(o), "{folder}: {name} changed");
        }
    }
    // The Transformer's checkpoint holds the encoder alone.
    let encoder = Tensor::read_safetensors(out.join("model.safetensors")).unwrap();
    assert!(encoder.iter().all(|(n, _)| !n.starts_with("modules.")));
}

fn batch(model: &SentenceTransformer, texts: &[String]) -> TokenBatch {
    let tokenized = model.tokenizer().tokenize(texts).unwrap();
    let rows: Vec<_> = tokenized.iter().collect();
    model.to_tensors(&model.tokenizer().collate(&rows))
}

#[test]
fn dense_weights_are_trained_through_the_packed_forward() {
    let mut model = load(&fixture().join("model"));
    let texts = sentences();
    let names = [
        "modules.2.linear.weight",
        "modules.2.linear.bias",
        "modules.3.linear.weight",
    ];
    let before: Vec<Tensor> = {
        let vars = model.var_store().variables();
        names
            .iter()
            .map(|n| vars.get(*n).unwrap_or_else(|| panic!("no {n}")).copy())
            .collect()
    };
    let columns = [batch(&model, &texts[0..8]), batch(&model, &texts[60..66])];
    let mut optimizer = nn::Sgd::default()
        .build(model.var_store_mut(), 0.5)
        .unwrap();
    let embeddings = model.forward_columns_t(&columns, true).unwrap();
    // A contrastive-style objective: the two columns' first rows pulled together.
    let loss = -(embeddings[0].narrow(0, 0, 6) * &embeddings[1]).sum(Kind::Float);
    optimizer.zero_grad();
    loss.backward();
    for name in names {
        let grad = model::testing::dense_grad(&model.var_store().variables()[name]);
        assert!(grad.defined(), "{name} has no gradient");
        assert!(
            grad.abs().max().double_value(&[]) > 0.0,
            "{name}: zero gradient"
        );
    }
    optimizer.step();
    let vars = model.var_store().variables();
    for (name, old) in names.iter().zip(&before) {
        assert!(
            !vars[*name].equal(old),
            "{name} did not change in the optimizer step"
        );
    }
}

fn edited(dir: &Path, file: &str, key: &str, value: Value) -> PathBuf {
    let out = dir.join("model");
    copy_dir(&fixture().join("model"), &out);
    let path = out.join(file);
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config[key] = value;
    std::fs::write(&path, config.to_string()).unwrap();
    out
}

fn load_err(path: &Path) -> String {
    SentenceTransformer::load(path, tch::Device::Cpu)
        .unwrap_err()
        .to_string()
}

#[test]
fn errors_name_both_dims_the_file_and_the_supported_activations() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(&edited(
        dir.path(),
        "2_Dense/config.json",
        "in_features",
        30.into(),
    ));
    assert!(
        err.contains("2_Dense/config.json") && err.contains("30") && err.contains("32"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(&edited(
        dir.path(),
        "3_Dense/config.json",
        "in_features",
        20.into(),
    ));
    assert!(
        err.contains("3_Dense/config.json") && err.contains("20") && err.contains("24"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(&edited(
        dir.path(),
        "2_Dense/config.json",
        "activation_function",
        "torch.nn.modules.activation.Softplus".into(),
    ));
    assert!(
        err.contains("Softplus")
            && err.contains("torch.nn.modules.linear.Identity")
            && err.contains("2_Dense/config.json"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(&edited(
        dir.path(),
        "2_Dense/config.json",
        "out_features",
        20.into(),
    ));
    assert!(
        err.contains("2_Dense/model.safetensors")
            && err.contains("[20, 32]")
            && err.contains("[24, 32]"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(&edited(
        dir.path(),
        "2_Dense/config.json",
        "in_features",
        "32".into(),
    ));
    assert!(
        err.contains("in_features") && err.contains("2_Dense"),
        "{err}"
    );
}

#[test]
fn a_new_hidden_size_is_refused_naming_the_dense_module_sized_for_the_old_one() {
    let model = load(&fixture().join("model"));
    let changes: serde_json::Map<String, Value> =
        serde_json::from_str(r#"{"hidden_size": 16, "num_attention_heads": 2}"#).unwrap();
    let err = match model.reinitialized_with(&changes) {
        Ok(_) => panic!("a Dense module took another width"),
        Err(err) => err.to_string(),
    };
    assert!(
        err.contains("2_Dense") && err.contains("hidden_size 16"),
        "{err}"
    );
    // Depth is free: the width the modules see stays.
    let deeper: serde_json::Map<String, Value> =
        serde_json::from_str(r#"{"num_hidden_layers": 1}"#).unwrap();
    let shallow = model.reinitialized_with(&deeper).unwrap();
    assert_eq!(shallow.encoder_config().num_layers(), 1);
    assert_eq!(shallow.embedding_dimension(), model.embedding_dimension());
}
