//! Compute dtypes: bf16 inference by cast weights (`set_dtype`) and bf16 mixed-precision
//! training forwards (`set_training_autocast`) really compute in bf16 — their outputs carry
//! bf16 rounding — and both hand float32 to everything after the transformer.

use std::path::Path;

use model::{
    BertConfig, ComputeDtype, PoolingMode, SentenceTokenizer, SentenceTransformer, TokenBatch,
};
use tch::{Device, Kind, Tensor};

const WORDS: [&str; 12] = [
    "the", "a", "cat", "dog", "sits", "runs", "on", "mat", "big", "small", "red", "house",
];

/// A tiny BERT without dropout, so train-mode forwards are deterministic and comparable.
fn tiny_model(dir: &Path) -> SentenceTransformer {
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(WORDS);
    let path = dir.join("vocab.txt");
    std::fs::write(&path, vocab.join("\n")).unwrap();
    let tokenizer = SentenceTokenizer::from_vocab(&path, true, 64).unwrap();
    tch::manual_seed(11);
    let mut config = BertConfig::tiny(vocab.len() as i64);
    config.hidden_dropout_prob = 0.0;
    config.attention_probs_dropout_prob = 0.0;
    SentenceTransformer::from_config(
        &config,
        tokenizer,
        vec![PoolingMode::Mean],
        false,
        Device::Cpu,
    )
    .unwrap()
}

fn batch(model: &SentenceTransformer, texts: &[&str]) -> TokenBatch {
    let tokenized = model.tokenizer().tokenize(texts).unwrap();
    let refs: Vec<_> = tokenized.iter().collect();
    model.to_tensors(&model.tokenizer().collate(&refs))
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn max_abs(a: &Tensor) -> f64 {
    a.abs().max().double_value(&[])
}

const TEXTS: [&str; 3] = ["the cat sits on the mat", "a dog runs", "big red house"];

#[test]
fn training_autocast_computes_train_forwards_in_bf16_and_leaves_eval_forwards_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = tiny_model(dir.path());
    let b = batch(&model, &TEXTS);
    let fp32 = model.forward_t(&b, true).unwrap();
    let fp32_columns = model
        .forward_columns_t(&[batch(&model, &TEXTS), batch(&model, &TEXTS[..2])], true)
        .unwrap();

    model.set_training_autocast(Some(Kind::BFloat16));
    let mixed = model.forward_t(&b, true).unwrap();
    assert_eq!(
        mixed.kind(),
        Kind::Float,
        "pooling and the loss get float32"
    );
    // bf16 keeps 8 bits of mantissa: the products that ran in bf16 are off by about 2^-8 of
    // their size, which the float32 residual stream and LayerNorms shrink to ~1e-4 of the
    // output here; a forward that silently ran in float32 would match to float rounding (1e-7).
    let gap = max_diff(&mixed, &fp32);
    assert!(gap > 1e-5 * max_abs(&fp32), "no bf16 rounding: gap {gap}");
    assert!(
        gap < 5e-2 * max_abs(&fp32),
        "bf16 forward too far off: gap {gap}"
    );
    let packed = model
        .forward_columns_t(&[batch(&model, &TEXTS), batch(&model, &TEXTS[..2])], true)
        .unwrap();
    for (m, f) in packed.iter().zip(&fp32_columns) {
        assert_eq!(m.kind(), Kind::Float);
        let gap = max_diff(m, f);
        assert!(
            gap > 1e-5 * max_abs(f) && gap < 5e-2 * max_abs(f),
            "packed gap {gap}"
        );
    }

    let eval = model.forward_t(&b, false).unwrap();
    assert_eq!(
        max_diff(&eval, &fp32),
        0.0,
        "eval-mode forwards stay float32"
    );
}

#[test]
fn bf16_weights_give_float32_embeddings_near_fp32_and_refuse_to_save() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = tiny_model(dir.path());
    let b = batch(&model, &TEXTS);
    let fp32 = model.forward_t(&b, false).unwrap();
    model.set_dtype(ComputeDtype::Bf16).unwrap();
    assert_eq!(model.dtype(), ComputeDtype::Bf16);
    let bf16 = model.forward_t(&b, false).unwrap();
    assert_eq!(bf16.kind(), Kind::Float);
    let gap = max_diff(&bf16, &fp32);
    assert!(
        gap > 1e-4 * max_abs(&fp32) && gap < 5e-2 * max_abs(&fp32),
        "gap {gap}"
    );

    let err = model
        .save(&dir.path().join("saved"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bf16") && err.contains("float32"), "{err}");
    assert!(!dir.path().join("saved").exists());
}

#[test]
fn fp16_is_refused_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = tiny_model(dir.path());
    let err = model.set_dtype(ComputeDtype::Fp16).unwrap_err().to_string();
    assert!(err.contains("CUDA only"), "{err}");
    assert_eq!(model.dtype(), ComputeDtype::Fp32);
}
