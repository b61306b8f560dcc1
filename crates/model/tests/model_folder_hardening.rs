//! Bad files in a model folder are errors naming the file and key, never a panic: configs of
//! absurd or mismatched sizes are refused before any variable is allocated, for every
//! architecture (the committed fixtures with one key of `config.json` changed), and so are
//! Dense configs and configs built in code. Cases found by fuzzing (crates/model/fuzz) are at
//! the bottom.

use std::path::{Path, PathBuf};

use model::{BertConfig, EncoderConfig, PoolingMode, SentenceTokenizer, SentenceTransformer};
use serde_json::Value;
use test_support::copy_dir;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .join("model")
}

/// A copy of fixture `name` with `key` of `file` (a JSON object) set to `value`.
fn with_key(dir: &Path, name: &str, file: &str, key: &str, value: Value) -> PathBuf {
    let folder = dir.join(format!("{name}-{key}-{value}"));
    copy_dir(&fixture(name), &folder);
    let path = folder.join(file);
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json[key] = value;
    std::fs::write(&path, json.to_string()).unwrap();
    folder
}

fn load_error(folder: &Path) -> String {
    match SentenceTransformer::load(folder, tch::Device::Cpu) {
        Ok(_) => panic!("{} loaded", folder.display()),
        Err(err) => err.to_string(),
    }
}

/// A size key, and a value within the limits that is not the checkpoint's (`None` where no
/// tensor has that size: rotary positions).
type SizeKey = (&'static str, Option<i64>);

/// Per architecture: its size keys.
const SIZE_KEYS: [(&str, &[SizeKey]); 7] = [
    ("bert", BERT_KEYS),
    ("roberta", BERT_KEYS),
    ("xlm-roberta", BERT_KEYS),
    ("mpnet", BERT_KEYS),
    (
        "distilbert",
        &[
            ("vocab_size", Some(1_000_000)),
            ("dim", Some(4096)),
            ("n_layers", Some(1000)),
            ("hidden_dim", Some(100_000)),
            ("max_position_embeddings", Some(1_000_000)),
        ],
    ),
    (
        "modernbert",
        &[
            ("vocab_size", Some(1_000_000)),
            ("hidden_size", Some(4096)),
            ("num_hidden_layers", Some(1000)),
            ("intermediate_size", Some(100_000)),
            ("max_position_embeddings", None),
        ],
    ),
    (
        "qwen3",
        &[
            ("vocab_size", Some(1_000_000)),
            ("hidden_size", Some(4096)),
            ("num_hidden_layers", Some(1000)),
            ("intermediate_size", Some(100_000)),
            ("head_dim", Some(4096)),
            ("max_position_embeddings", None),
        ],
    ),
];

const BERT_KEYS: &[SizeKey] = &[
    ("vocab_size", Some(1_000_000)),
    ("hidden_size", Some(4096)),
    ("num_hidden_layers", Some(1000)),
    ("intermediate_size", Some(100_000)),
    ("max_position_embeddings", Some(1_000_000)),
];

#[test]
fn absurd_and_mismatched_sizes_name_config_json_and_the_key_for_every_architecture() {
    let dir = tempfile::tempdir().unwrap();
    for (arch, keys) in SIZE_KEYS {
        for &(key, mismatched) in keys {
            let absurd = [-1, 0, 1_000_000_000_000, i64::MAX];
            for value in absurd.into_iter().chain(mismatched) {
                let folder = with_key(dir.path(), arch, "config.json", key, value.into());
                let err = load_error(&folder);
                assert!(
                    err.contains("config.json") && err.contains(key),
                    "{arch}, {key} = {value}: {err}"
                );
            }
        }
    }
}

#[test]
fn every_fixture_still_loads_with_its_sizes_checked() {
    for (arch, _) in SIZE_KEYS {
        SentenceTransformer::load(&fixture(arch), tch::Device::Cpu)
            .unwrap_or_else(|e| panic!("{arch}: {e}"));
    }
}

#[test]
fn a_dense_config_must_match_its_checkpoint_before_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let config = "2_Dense/config.json";
    for value in [1_000_000_000_000i64, 1000, 0] {
        let folder = with_key(
            dir.path(),
            "modules/dense",
            config,
            "out_features",
            value.into(),
        );
        let err = load_error(&folder);
        assert!(
            err.contains(config) && err.contains("out_features"),
            "{value}: {err}"
        );
    }
}

#[test]
fn from_config_refuses_absurd_sizes_instead_of_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let vocab = dir.path().join("vocab.txt");
    std::fs::write(&vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n").unwrap();
    let huge = |edit: fn(&mut BertConfig)| {
        let mut config = BertConfig::tiny(5);
        edit(&mut config);
        config
    };
    let cases: [(BertConfig, &str); 3] = [
        (
            huge(|c| c.num_hidden_layers = 1_000_000),
            "num_hidden_layers",
        ),
        (
            huge(|c| c.intermediate_size = 1_000_000_000_000),
            "intermediate_size",
        ),
        (
            huge(|c| {
                c.hidden_size = 1 << 18;
                c.intermediate_size = 1 << 18;
            }),
            "weights",
        ),
    ];
    for (config, named) in cases {
        let tokenizer = SentenceTokenizer::from_vocab(&vocab, true, 16).unwrap();
        let config = EncoderConfig::from(config);
        let err = SentenceTransformer::from_config(
            config,
            tokenizer,
            vec![PoolingMode::Mean],
            false,
            tch::Device::Cpu,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(named), "{err}");
    }
}

/// A copy of a fresh tiny BERT folder with `tokenizer.json`'s text edited by `edit`.
fn with_tokenizer_json(dir: &Path, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let folder = model::testing::tiny_bert(&dir, &["a", "cat"], 1).unwrap();
    let path = folder.join("tokenizer.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(&text)).unwrap();
    folder
}

#[test]
fn fuzz_a_syntax_error_inside_the_decoder_names_tokenizer_json() {
    // Found by the model_folder fuzz target: tokenizers 0.22 `expect`s the decoder's JSON to
    // parse (decoders/mod.rs, "Helper") and panicked.
    let dir = tempfile::tempdir().unwrap();
    let folder = with_tokenizer_json(dir.path(), "decoder", |text| {
        let at = text.find("\"decoder\"").unwrap();
        let (before, after) = text.split_at(at);
        format!("{before}{}", after.replacen(",", "", 2))
    });
    let err = load_error(&folder);
    assert!(
        err.contains("tokenizer.json") && err.contains("not valid JSON"),
        "{err}"
    );
}

#[test]
fn a_precompiled_normalizer_without_a_charsmap_names_tokenizer_json() {
    // tokenizers 0.22 `expect`s a valid charsmap (huggingface/tokenizers#1645).
    let dir = tempfile::tempdir().unwrap();
    let folder = with_tokenizer_json(dir.path(), "precompiled", |text| {
        let mut json: Value = serde_json::from_str(text).unwrap();
        json["normalizer"] =
            serde_json::json!({"type": "Precompiled", "precompiled_charsmap": null});
        json.to_string()
    });
    let err = load_error(&folder);
    assert!(
        err.contains("tokenizer.json") && err.contains("panicked"),
        "{err}"
    );
}
