//! all-MiniLM-L6-v2 embeddings equal Python sentence-transformers' (fp32, CPU).
//!
//! Reference values: tests/fixtures/minilm_embeddings.npy, produced by
//! tests/fixtures/make_minilm_fixture.py (its versions are recorded in minilm_sentences.json:
//! sentence-transformers 6.2.0, transformers 5.24.0, torch 2.11.0+cu130 on CPU).

use std::path::PathBuf;

use model::{EncodeOptions, SentenceTransformer};

/// Max abs difference allowed per embedding component.
const TOLERANCE: f32 = 1e-5;

/// Fetched through the hub client from `HF_ENDPOINT`, as users get it.
fn minilm_dir() -> PathBuf {
    test_support::model_dir(test_support::MINILM)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn sentences() -> Vec<String> {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("minilm_sentences.json")).unwrap())
            .unwrap();
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
fn embeddings_match_sentence_transformers() {
    let model = SentenceTransformer::load(&minilm_dir(), tch::Device::Cpu).unwrap();
    let texts = sentences();
    assert!(texts.len() >= 64);
    let (expected, rows, dim) = data::read_npy_f32(fixture("minilm_embeddings.npy")).unwrap();
    assert_eq!((rows, dim), (texts.len(), 384));
    // Batch sizes that change padding and grouping must not change the result.
    for batch_size in [1, 7, 32] {
        let got = model
            .encode(
                &texts,
                &EncodeOptions {
                    batch_size,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!((got.rows, got.dim), (rows, dim));
        let diff = max_abs_diff(&got.data, &expected);
        assert!(
            diff <= TOLERANCE,
            "batch size {batch_size}: max abs diff {diff:e} > {TOLERANCE:e}"
        );
    }
}

#[test]
fn save_then_load_gives_identical_embeddings() {
    let model = SentenceTransformer::load(&minilm_dir(), tch::Device::Cpu).unwrap();
    let texts = &sentences()[..16];
    let before = model.encode(texts, &EncodeOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("saved");
    model.save(&out).unwrap();
    for file in [
        "modules.json",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "vocab.txt",
        "tokenizer_config.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
    ] {
        assert!(
            out.join(file).is_file(),
            "{file} missing from the saved folder"
        );
    }
    let reloaded = SentenceTransformer::load(&out, tch::Device::Cpu).unwrap();
    let after = reloaded.encode(texts, &EncodeOptions::default()).unwrap();
    assert_eq!(before, after, "save/load must not change a single bit");
    assert_eq!(reloaded.max_seq_length(), 256);
    assert!(reloaded.normalizes());
}
