//! A tiny random-initialised BERT built in code: invariants of the encoder and the folder
//! format that need no pretrained weights.

use std::path::Path;

use model::{BertConfig, EncodeOptions, PoolingMode, SentenceTokenizer, SentenceTransformer};
use proptest::prelude::*;

const WORDS: [&str; 16] = [
    "the", "a", "cat", "dog", "sits", "runs", "on", "mat", "big", "small", "red", "house", "tree",
    "and", "is", ".",
];

fn tiny_model(dir: &Path, pooling: Vec<PoolingMode>, normalize: bool) -> SentenceTransformer {
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(WORDS);
    let path = dir.join("vocab.txt");
    std::fs::write(&path, vocab.join("\n")).unwrap();
    let tokenizer = SentenceTokenizer::from_vocab(&path, true, 64).unwrap();
    tch::manual_seed(7);
    let config = BertConfig::tiny(vocab.len() as i64);
    SentenceTransformer::from_config(&config, tokenizer, pooling, normalize, tch::Device::Cpu)
        .unwrap()
}

fn sentence(indices: &[usize]) -> String {
    indices
        .iter()
        .map(|&i| WORDS[i % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn save_load_round_trip_for_every_pooling_mode() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        "the cat sits on the mat .",
        "a dog",
        "big red house and a small tree",
    ];
    for modes in [
        vec![PoolingMode::Cls],
        vec![PoolingMode::Max, PoolingMode::Mean],
        vec![PoolingMode::WeightedMean],
        vec![PoolingMode::MeanSqrtLen],
        vec![PoolingMode::LastToken],
    ] {
        let model = tiny_model(dir.path(), modes.clone(), true);
        let before = model.encode(&texts, &EncodeOptions::default()).unwrap();
        assert_eq!(before.dim, 32 * modes.len());
        let out = dir.path().join("saved");
        model.save(&out).unwrap();
        let loaded = SentenceTransformer::load(&out, tch::Device::Cpu).unwrap();
        assert_eq!(loaded.pooling_modes(), modes);
        assert_eq!(
            before,
            loaded.encode(&texts, &EncodeOptions::default()).unwrap(),
            "modes {modes:?}"
        );
        // Saving over an existing folder replaces it whole.
        model.save(&out).unwrap();
    }
}

#[test]
fn dropout_acts_only_in_train_mode() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), vec![PoolingMode::Mean], false);
    let tokenized = model
        .tokenizer()
        .tokenize(&["the big red dog runs on the mat"])
        .unwrap();
    let batch = model.to_tensors(&model.tokenizer().collate(&[&tokenized[0]]));
    let eval1 = model.forward_t(&batch, false).unwrap();
    let eval2 = model.forward_t(&batch, false).unwrap();
    assert!(eval1.equal(&eval2));
    let train = model.forward_t(&batch, true).unwrap();
    // Against the eval output, not a second train-mode draw: other tests of this binary
    // reseed libtorch's global generator from their threads, which can replay a mask.
    assert!(
        !train.allclose(&eval1, 1e-6, 1e-6, false),
        "dropout must change train-mode outputs"
    );
}

#[test]
fn gradients_reach_every_weight() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), vec![PoolingMode::Mean], true);
    let tokenized = model
        .tokenizer()
        .tokenize(&["the cat", "a dog runs"])
        .unwrap();
    let batch = model.to_tensors(&model.tokenizer().collate(&[&tokenized[0], &tokenized[1]]));
    let loss = model.forward_t(&batch, true).unwrap().sum(tch::Kind::Float);
    loss.backward();
    for (name, var) in model.var_store().variables() {
        if name.starts_with("pooler.") {
            continue; // kept for checkpoint round trips, not on the sentence-embedding path
        }
        let grad = var.grad();
        assert!(grad.defined(), "{name} has no gradient");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A text's embedding does not depend on what it is batched with (padding is ignored).
    #[test]
    fn embedding_ignores_padding_and_batch_mates(
        texts in prop::collection::vec(prop::collection::vec(0usize..16, 1..20), 2..12),
        batch_size in 1usize..6,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path(), vec![PoolingMode::Mean, PoolingMode::Max, PoolingMode::Cls], false);
        let sentences: Vec<String> = texts.iter().map(|t| sentence(t)).collect();
        let batched = model.encode(&sentences, &EncodeOptions { batch_size, ..Default::default() }).unwrap();
        for (i, text) in sentences.iter().enumerate() {
            let alone = model.encode(&[text], &EncodeOptions::default()).unwrap();
            let row = batched.row(i).unwrap();
            let diff = row.iter().zip(&alone.data).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            prop_assert!(diff < 1e-5, "text {i}: diff {diff}");
        }
    }

    /// With Normalize every embedding has unit length.
    #[test]
    fn normalize_gives_unit_vectors(texts in prop::collection::vec(prop::collection::vec(0usize..16, 0..10), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path(), vec![PoolingMode::Mean], true);
        let sentences: Vec<String> = texts.iter().map(|t| sentence(t)).collect();
        let out = model.encode(&sentences, &EncodeOptions::default()).unwrap();
        for i in 0..out.rows {
            let norm: f32 = out.row(i).unwrap().iter().map(|v| v * v).sum::<f32>().sqrt();
            prop_assert!((norm - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn a_reinitialised_model_of_another_size_encodes_saves_and_loads_at_that_size() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), vec![PoolingMode::Cls], true);
    let changes: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"num_hidden_layers": 3, "hidden_size": 24, "num_attention_heads": 2,
            "intermediate_size": 48}"#,
    )
    .unwrap();
    tch::manual_seed(1);
    let small = model.reinitialized_with(&changes).unwrap();
    assert_eq!(small.encoder_config().hidden_size(), 24);
    assert_eq!(small.encoder_config().num_layers(), 3);
    assert_eq!(small.pooling_modes(), vec![PoolingMode::Cls]);
    let texts = ["the cat sits on the mat .", "a dog"];
    let embeddings = small.encode(&texts, &EncodeOptions::default()).unwrap();
    assert_eq!(embeddings.dim, 24);

    let out = dir.path().join("small");
    small.save(&out).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["hidden_size"], 24);
    assert_eq!(config["num_hidden_layers"], 3);
    let loaded = SentenceTransformer::load(&out, tch::Device::Cpu).unwrap();
    assert_eq!(
        loaded.encode(&texts, &EncodeOptions::default()).unwrap(),
        embeddings
    );
    // The original is untouched.
    assert_eq!(model.encoder_config().hidden_size(), 32);
}

#[test]
fn a_size_change_names_the_key_it_cannot_make() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), vec![PoolingMode::Mean], false);
    let err = |json: &str| {
        let changes: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).unwrap();
        match model.reinitialized_with(&changes) {
            Ok(_) => panic!("{json} was accepted"),
            Err(err) => err.to_string(),
        }
    };
    let e = err(r#"{"hidden_layers": 2}"#);
    assert!(
        e.contains("hidden_layers") && e.contains("num_hidden_layers"),
        "{e}"
    );
    let e = err(r#"{"vocab_size": 100}"#);
    assert!(e.contains("vocab_size"), "{e}");
    let e = err(r#"{"hidden_size": 30}"#);
    assert!(e.contains("num_attention_heads"), "{e}");
    let e = err(r#"{"num_hidden_layers": "four"}"#);
    assert!(e.contains("num_hidden_layers"), "{e}");
}
