//! Prompts (`config_sentence_transformers.json`) and Pooling's `include_prompt` against Python
//! sentence-transformers (fp32, CPU).
//!
//! Reference values: tests/fixtures/modules/prompts-<arch>/, produced by
//! tests/fixtures/make_module_fixtures.py (sentence-transformers 6.2.0, transformers 5.24.0,
//! torch 2.11.0; versions and snippet in reference.json): the bert fixture's Transformer
//! (right padding) and the qwen3 fixture's (left padding) with mean Pooling, prompts
//! {"query": "query: ", "document": "passage: "} and default_prompt_name "query";
//! `<include>-<case>.npy` is `m.set_pooling_include_prompt(include); m.encode(sentences,
//! batch_size=32, **case)` for the cases in reference.json.

use std::path::PathBuf;

use model::{EncodeOptions, PromptChoice, SentenceTransformer};
use serde_json::Value;

/// Max abs difference allowed per embedding component.
const EMBEDDING_TOLERANCE: f32 = 1e-5;

const ARCHITECTURES: [&str; 2] = ["bert", "qwen3"];

fn fixture(arch: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/modules")
        .join(format!("prompts-{arch}"))
}

fn reference(arch: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(arch).join("reference.json")).unwrap())
        .unwrap()
}

fn sentences(meta: &Value) -> Vec<String> {
    meta["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The encode() keyword arguments of a case as a [`PromptChoice`].
fn choice(case: &Value) -> PromptChoice {
    if let Some(name) = case.get("prompt_name") {
        PromptChoice::Name(name.as_str().unwrap().into())
    } else if let Some(text) = case.get("prompt") {
        PromptChoice::Text(text.as_str().unwrap().into())
    } else {
        PromptChoice::Default
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn prompt_lengths_match_sentence_transformers() {
    for arch in ARCHITECTURES {
        let model =
            SentenceTransformer::load(&fixture(arch).join("model"), tch::Device::Cpu).unwrap();
        for (prompt, want) in reference(arch)["prompt_lengths"].as_object().unwrap() {
            let got = model.tokenizer().prompt_length(prompt).unwrap();
            assert_eq!(got as u64, want.as_u64().unwrap(), "{arch}: {prompt:?}");
        }
    }
}

#[test]
fn embeddings_with_prompts_match_sentence_transformers_at_batch_sizes_1_7_32() {
    for arch in ARCHITECTURES {
        let meta = reference(arch);
        let texts = sentences(&meta);
        let mut model =
            SentenceTransformer::load(&fixture(arch).join("model"), tch::Device::Cpu).unwrap();
        assert_eq!(model.prompts().default_name(), Some("query"));
        for include in [false, true] {
            model.set_pooling_include_prompt(include);
            for (name, case) in meta["cases"].as_object().unwrap() {
                let file = fixture(arch).join(format!("{include}-{name}.npy"));
                let (expected, rows, _) = data::read_npy_f32(file).unwrap();
                assert_eq!(rows, texts.len());
                for batch_size in [1, 7, 32] {
                    let options = EncodeOptions {
                        batch_size,
                        prompt: choice(case),
                        ..Default::default()
                    };
                    let got = model.encode(&texts, &options).unwrap();
                    let diff = max_abs_diff(&got.data, &expected);
                    eprintln!(
                        "{arch}: include_prompt {include}, {name}, batch size {batch_size}: max abs diff {diff:e}"
                    );
                    assert!(
                        diff <= EMBEDDING_TOLERANCE,
                        "{arch}: include_prompt {include}, {name}, batch size {batch_size}: {diff:e}"
                    );
                }
            }
        }
        // The fixture tells the cases apart: a prompt, and leaving it out of pooling, matter.
        let load = |name: &str| data::read_npy_f32(fixture(arch).join(name)).unwrap().0;
        assert!(max_abs_diff(&load("false-default.npy"), &load("true-default.npy")) > 1e-3);
        assert!(max_abs_diff(&load("true-none.npy"), &load("true-default.npy")) > 1e-3);
    }
}

#[test]
fn save_keeps_prompts_and_include_prompt() {
    let texts = ["a cat sits", "the dog"];
    for arch in ARCHITECTURES {
        let mut model =
            SentenceTransformer::load(&fixture(arch).join("model"), tch::Device::Cpu).unwrap();
        let options = EncodeOptions::default();
        let before = model.encode(&texts, &options).unwrap();
        let dir = tempfile::tempdir().unwrap();
        model.save(&dir.path().join("a")).unwrap();
        let reloaded = SentenceTransformer::load(&dir.path().join("a"), tch::Device::Cpu).unwrap();
        assert_eq!(reloaded.prompts(), model.prompts());
        assert_eq!(before, reloaded.encode(&texts, &options).unwrap(), "{arch}");

        model.set_pooling_include_prompt(true);
        model.save(&dir.path().join("b")).unwrap();
        let pooling: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("b/1_Pooling/config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(pooling["include_prompt"], true, "{arch}");
    }
}

#[test]
fn an_unknown_prompt_name_lists_the_known_ones() {
    let model =
        SentenceTransformer::load(&fixture("bert").join("model"), tch::Device::Cpu).unwrap();
    let options = EncodeOptions {
        prompt: PromptChoice::Name("passage".into()),
        ..Default::default()
    };
    let err = model.encode(&["a"], &options).unwrap_err().to_string();
    assert!(
        err.contains("\"passage\"") && err.contains("\"document\", \"query\""),
        "{err}"
    );
}
