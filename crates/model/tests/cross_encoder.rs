//! Cross-encoders of every architecture against Python sentence-transformers (fp32, CPU).
//!
//! Reference values: tests/fixtures/cross_encoder/<arch>-<labels>/reference.json, produced by
//! tests/fixtures/cross_encoder/make_cross_encoder_fixtures.py from the tiny random
//! cross-encoders saved beside them by sentence-transformers 6.3 (versions and the snippet in
//! each reference.json), over the pairs of tests/fixtures/cross_encoder/pairs.json.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use model::{
    CrossEncoder, CrossEncoderOptions, PredictOptions, ScoreActivation, SentenceTransformer,
    TokenBatch,
};
use serde_json::Value;
use tch::{Kind, Tensor};
use test_support::copy_dir;

const ARCHITECTURES: [&str; 7] = [
    "bert",
    "roberta",
    "xlm-roberta",
    "mpnet",
    "distilbert",
    "modernbert",
    "qwen3",
];

/// Max abs difference allowed per score.
const SCORE_TOLERANCE: f32 = 1e-5;

/// A gradient statistic `got` matches `want` when `|got − want| ≤ GRADIENT_TOLERANCE ·
/// max(1, |want|)`, as in tests/architectures.rs.
const GRADIENT_TOLERANCE: f64 = 1e-4;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cross_encoder")
}

fn cases() -> Vec<(&'static str, i64)> {
    ARCHITECTURES
        .iter()
        .flat_map(|arch| [(*arch, 1), (*arch, 3)])
        .collect()
}

fn case_dir(arch: &str, labels: i64) -> PathBuf {
    fixtures().join(format!("{arch}-{labels}"))
}

fn load(arch: &str, labels: i64) -> CrossEncoder {
    CrossEncoder::load(&case_dir(arch, labels).join("model"), tch::Device::Cpu)
        .unwrap_or_else(|e| panic!("{arch}-{labels}: {e}"))
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn reference(arch: &str, labels: i64) -> Value {
    json(&case_dir(arch, labels).join("reference.json"))
}

fn pairs() -> Vec<(String, String)> {
    json(&fixtures().join("pairs.json"))["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A `[n]` or `[n, labels]` JSON array, flattened.
fn flat(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|row| match row {
            Value::Array(items) => items.iter().map(|x| x.as_f64().unwrap() as f32).collect(),
            x => vec![x.as_f64().unwrap() as f32],
        })
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn options(batch_size: usize, activation: Option<ScoreActivation>) -> PredictOptions {
    PredictOptions {
        batch_size,
        activation,
        ..Default::default()
    }
}

#[test]
fn the_fixture_covers_what_the_issue_names() {
    let pairs = pairs();
    assert!(pairs.len() >= 64, "{} pairs", pairs.len());
    assert!(pairs.iter().any(|(a, b)| a.is_empty() || b.is_empty()));
    assert!(pairs.iter().any(|(a, b)| a.len() + b.len() > 400));
    assert!(pairs
        .iter()
        .any(|(a, b)| a.chars().chain(b.chars()).any(|c| c as u32 > 0x3000)));
}

#[test]
fn pair_tokenization_matches_sentence_transformers() {
    let pairs = pairs();
    for (arch, labels) in cases() {
        let model = load(arch, labels);
        let meta = reference(arch, labels);
        assert_eq!(
            model.max_seq_length() as u64,
            meta["max_length"].as_u64().unwrap(),
            "{arch}-{labels}"
        );
        let got = model.tokenizer().tokenize_pairs(&pairs).unwrap();
        let want_ids = meta["token_ids"].as_array().unwrap();
        let want_types = meta["token_type_ids"].as_array();
        for (i, text) in got.iter().enumerate() {
            assert_eq!(
                text.ids,
                ints(&want_ids[i]),
                "{arch}-{labels}: pair {i} {:?}",
                pairs[i]
            );
            if let Some(types) = want_types.and_then(|t| t[i].as_array()) {
                let types: Vec<i64> = types.iter().map(|x| x.as_i64().unwrap()).collect();
                assert_eq!(text.type_ids, types, "{arch}-{labels}: pair {i} type ids");
            }
        }
    }
}

#[test]
fn scores_match_sentence_transformers_at_batch_sizes_1_7_32() {
    let pairs = pairs();
    for (arch, labels) in cases() {
        let model = load(arch, labels);
        let meta = reference(arch, labels);
        assert_eq!(model.num_labels(), labels, "{arch}-{labels}");
        assert_eq!(
            model.activation().class_path(),
            meta["activation"].as_str().unwrap(),
            "{arch}-{labels}"
        );
        for batch_size in [1usize, 7, 32] {
            let got = model
                .predict(
                    &pairs,
                    &options(batch_size, Some(ScoreActivation::Identity)),
                )
                .unwrap();
            let want = flat(&meta["logits"][batch_size.to_string()]);
            let diff = max_abs_diff(&got.data, &want);
            eprintln!("{arch}-{labels}: logits at batch size {batch_size}: max abs diff {diff:e}");
            assert!(
                diff <= SCORE_TOLERANCE,
                "{arch}-{labels}: batch {batch_size}: {diff:e}"
            );
        }
        let got = model.predict(&pairs, &options(32, None)).unwrap();
        let diff = max_abs_diff(&got.data, &flat(&meta["scores"]));
        assert!(diff <= SCORE_TOLERANCE, "{arch}-{labels}: scores: {diff:e}");
        if labels > 1 {
            let softmax = PredictOptions {
                apply_softmax: true,
                ..options(32, None)
            };
            let got = model.predict(&pairs, &softmax).unwrap();
            let diff = max_abs_diff(&got.data, &flat(&meta["softmax"]));
            assert!(
                diff <= SCORE_TOLERANCE,
                "{arch}-{labels}: softmax: {diff:e}"
            );
        }
    }
}

fn batch(model: &CrossEncoder, pairs: &[(String, String)]) -> TokenBatch {
    let tokenized = model.tokenizer().tokenize_pairs(pairs).unwrap();
    let rows: Vec<_> = tokenized.iter().collect();
    TokenBatch::from_encoded(&model.tokenizer().collate(&rows), model.device())
}

/// The length-packed, token-major forward training uses gives `forward_t`'s logits (and,
/// through them, its gradients) on every architecture, for pairs of very different lengths.
#[test]
fn the_packed_forward_equals_the_padded_one() {
    let all = pairs();
    for (arch, labels) in cases() {
        let model = load(arch, labels);
        let tokenized = model.tokenizer().tokenize_pairs(&all).unwrap();
        let rows: Vec<_> = tokenized.iter().collect();
        let padded = model.forward_t(&batch(&model, &all), false).unwrap();
        let packed = model.forward_packed_t(&rows, false).unwrap();
        assert_eq!(packed.size(), padded.size(), "{arch}-{labels}");
        let diff = (&packed - &padded).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{arch}-{labels}: logits differ by {diff}");
        // Gradients flow to the weights through the packed forward too.
        model.var_store().variables().values().for_each(|v| {
            let _ = v.grad().f_zero_();
        });
        packed.sum(Kind::Float).backward();
        let reached = model
            .var_store()
            .variables()
            .values()
            .filter(|v| v.grad().defined())
            .count();
        assert!(reached > 0, "{arch}-{labels}: no gradient");
    }
}

#[test]
fn gradients_match_sentence_transformers() {
    let all = pairs();
    for (arch, labels) in cases() {
        let model = load(arch, labels);
        let meta = reference(arch, labels);
        let chosen: Vec<(String, String)> = ints(&meta["grad_pairs"])
            .into_iter()
            .map(|i| all[i as usize].clone())
            .collect();
        let vector = Tensor::from_slice(&flat(&meta["grad_vector"]));
        let logits = model.forward_t(&batch(&model, &chosen), false).unwrap();
        logits.matmul(&vector).sum(Kind::Float).backward();
        let params: HashMap<String, Tensor> = model.named_parameters().into_iter().collect();
        let grads = meta["grads"].as_object().unwrap();
        for (name, var) in &params {
            if !grads.contains_key(name) {
                let g = model::testing::dense_grad(var);
                assert!(
                    !g.defined() || g.abs().max().double_value(&[]) == 0.0,
                    "{arch}-{labels}: {name} has a gradient but none in the reference"
                );
            }
        }
        let mut worst = 0.0f64;
        for (name, want) in grads {
            let var = params
                .get(name)
                .unwrap_or_else(|| panic!("{arch}-{labels}: no parameter {name}"));
            assert_eq!(var.size(), ints(&want["shape"]), "{arch}-{labels}: {name}");
            let g = model::testing::dense_grad(var)
                .to_kind(Kind::Double)
                .flatten(0, -1);
            let mut stats = vec![
                (
                    g.sum(Kind::Double).double_value(&[]),
                    want["sum"].as_f64().unwrap(),
                ),
                (
                    (&g * &g).sum(Kind::Double).double_value(&[]),
                    want["sum_sq"].as_f64().unwrap(),
                ),
            ];
            for sample in want["samples"].as_array().unwrap() {
                let index = sample[0].as_i64().unwrap();
                stats.push((g.double_value(&[index]), sample[1].as_f64().unwrap()));
            }
            for (got, want) in stats {
                let scaled = (got - want).abs() / want.abs().max(1.0);
                worst = worst.max(scaled);
                assert!(
                    scaled <= GRADIENT_TOLERANCE,
                    "{arch}-{labels}: gradient of {name}: got {got:e}, want {want:e}"
                );
            }
        }
        eprintln!(
            "{arch}-{labels}: {} weights, max gradient diff {worst:e} (scaled)",
            grads.len()
        );
    }
}

fn tensors(path: &Path) -> Vec<(String, Tensor)> {
    let mut t = Tensor::read_safetensors(path).unwrap();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t
}

#[test]
fn saved_folders_are_the_6x_layout_and_reload_bit_identically() {
    let pairs = pairs();
    for (arch, labels) in cases() {
        let model = load(arch, labels);
        let before = model.predict(&pairs, &options(32, None)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // SENTENCE_RS_KEEP_SAVED=<folder> keeps each saved folder there, for
        // fixtures/cross_encoder/check_resaved.py to load in sentence-transformers.
        let out = match std::env::var_os("SENTENCE_RS_KEEP_SAVED") {
            Some(keep) => PathBuf::from(keep).join(format!("{arch}-{labels}")),
            None => dir.path().join("saved"),
        };
        model.save(&out).unwrap();
        let reloaded = CrossEncoder::load(&out, tch::Device::Cpu).unwrap();
        let after = reloaded.predict(&pairs, &options(32, None)).unwrap();
        assert_eq!(before, after, "{arch}-{labels}: save/load changed a score");

        let original = tensors(&case_dir(arch, labels).join("model/model.safetensors"));
        let saved = tensors(&out.join("model.safetensors"));
        let names = |t: &[(String, Tensor)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&saved),
            names(&original),
            "{arch}-{labels}: key names"
        );
        for ((name, a), (_, b)) in original.iter().zip(&saved) {
            assert!(a.equal(b), "{arch}-{labels}: {name} changed");
        }
        let st = json(&out.join("config_sentence_transformers.json"));
        assert_eq!(st["model_type"], "CrossEncoder");
        assert_eq!(
            st["activation_fn"],
            model.activation().class_path().as_str()
        );
        let sbert = json(&out.join("sentence_bert_config.json"));
        assert_eq!(sbert["transformer_task"], "sequence-classification");
        let modules = json(&out.join("modules.json"));
        assert_eq!(modules.as_array().unwrap().len(), 1);
        let config = json(&out.join("config.json"));
        let original_config = json(&case_dir(arch, labels).join("model/config.json"));
        assert_eq!(config["architectures"], original_config["architectures"]);
        assert_eq!(config["id2label"].as_object().unwrap().len() as i64, labels);
    }
}

#[test]
fn older_layouts_load_with_their_stored_activation() {
    let pairs = pairs();
    for (name, activation) in [
        ("v4", ScoreActivation::Tanh),
        ("pre-v4", ScoreActivation::Identity),
    ] {
        let dir = fixtures().join("legacy").join(name);
        let meta = json(&dir.join("reference.json"));
        let model =
            CrossEncoder::load(&dir, tch::Device::Cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(model.activation(), activation, "{name}");
        assert_eq!(
            activation.class_path(),
            meta["activation"].as_str().unwrap(),
            "{name}"
        );
        let got = model.predict(&pairs, &options(32, None)).unwrap();
        let diff = max_abs_diff(&got.data, &flat(&meta["scores"]));
        eprintln!("legacy {name}: max abs diff {diff:e}");
        assert!(diff <= SCORE_TOLERANCE, "{name}: {diff:e}");
    }
}

#[test]
fn an_activation_outside_torch_is_an_error_unless_chosen() {
    let dir = fixtures().join("legacy/untrusted");
    let err = CrossEncoder::load(&dir, tch::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("activation_fn") && err.contains("mypackage"),
        "{err}"
    );
    let chosen = CrossEncoderOptions {
        activation: Some(ScoreActivation::Sigmoid),
        ..Default::default()
    };
    let model = CrossEncoder::load_with(&dir, tch::Device::Cpu, &chosen).unwrap();
    assert_eq!(model.activation(), ScoreActivation::Sigmoid);
}

/// A copy of the bert-1 fixture whose `config_sentence_transformers.json` (or `config.json`)
/// is edited by `edit`.
fn edited_copy(file: &str, edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&case_dir("bert", 1).join("model"), tmp.path());
    let path = tmp.path().join(file);
    let mut value = json(&path);
    edit(&mut value);
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    tmp
}

#[test]
fn bad_folders_are_named_errors() {
    // An activation in torch that this crate does not know.
    let tmp = edited_copy("config_sentence_transformers.json", |c| {
        c["activation_fn"] = "torch.nn.modules.activation.Hardshrinkk".into();
    });
    let err = CrossEncoder::load(tmp.path(), tch::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config_sentence_transformers.json")
            && err.contains("activation_fn")
            && err.contains("Hardshrinkk"),
        "{err}"
    );
    // num_labels that disagrees with the checkpoint's head.
    let asked = CrossEncoderOptions {
        num_labels: Some(3),
        ..Default::default()
    };
    let err = CrossEncoder::load_with(&case_dir("bert", 1).join("model"), tch::Device::Cpu, &asked)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("classifier.weight")
            && err.contains("num_labels 3")
            && err.contains("1 labels"),
        "{err}"
    );
    // config.json's labels that disagree with the checkpoint's head.
    let tmp = edited_copy("config.json", |c| {
        c["id2label"] = serde_json::json!({"0": "a", "1": "b"});
    });
    let err = CrossEncoder::load(tmp.path(), tch::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("classifier.weight") && err.contains("says 2"),
        "{err}"
    );
    // A cross-encoder is not a sentence embedding model.
    let err = SentenceTransformer::load(&case_dir("bert", 1).join("model"), tch::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cross-encoder"), "{err}");
}

#[test]
fn a_base_model_needs_a_new_head_to_become_a_cross_encoder() {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bert/model");
    let err = CrossEncoder::load(&base, tch::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("classifier.weight") && err.contains("no sequence-classification head"),
        "{err}"
    );
    let new = CrossEncoderOptions {
        num_labels: Some(1),
        new_head: true,
        ..Default::default()
    };
    let model = CrossEncoder::load_with(&base, tch::Device::Cpu, &new).unwrap();
    assert_eq!(model.num_labels(), 1);
    assert_eq!(model.activation(), ScoreActivation::Sigmoid);
    // The encoder's weights are the base model's, under the task model's names.
    let base_weights: HashMap<String, Tensor> = tensors(&base.join("model.safetensors"))
        .into_iter()
        .collect();
    let named: HashMap<String, Tensor> = model.named_parameters().into_iter().collect();
    let word = "embeddings.word_embeddings.weight";
    assert!(named[&format!("bert.{word}")].equal(&base_weights[word]));
    let scores = model
        .predict(&[("a cat", "a dog")], &PredictOptions::default())
        .unwrap();
    assert!(scores.data[0] > 0.0 && scores.data[0] < 1.0);
}

#[test]
fn rank_orders_documents_by_score() {
    let model = load("bert", 1);
    let pairs = pairs();
    let documents: Vec<&str> = pairs.iter().take(10).map(|(_, d)| d.as_str()).collect();
    let ranked = model
        .rank(
            "the cat sits on the mat",
            &documents,
            Some(5),
            &PredictOptions::default(),
        )
        .unwrap();
    assert_eq!(ranked.len(), 5);
    assert!(ranked.windows(2).all(|w| w[0].score >= w[1].score));
    let scores = model
        .predict(
            &documents
                .iter()
                .map(|d| ("the cat sits on the mat", *d))
                .collect::<Vec<_>>(),
            &PredictOptions::default(),
        )
        .unwrap();
    for r in &ranked {
        assert_eq!(r.score, scores.data[r.corpus_id]);
    }
    let err = load("bert", 3)
        .rank("q", &["d"], None, &PredictOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("num_labels 3"), "{err}");
}
