//! DenoisingAutoEncoderLoss (TSDAE) against sentence-transformers 6.3 on the tiny random BERT
//! and RoBERTa of `crates/model/tests/fixtures`, with CLS pooling and dropout off.
//!
//! `fixtures/unsupervised/tsdae_<arch>/` was written by
//! `fixtures/make_unsupervised_fixtures.py` (sentence-transformers 6.3.0, transformers 5.25.0,
//! torch 2.11.0; recorded in each `reference.json`, with the calls made): the decoder's own
//! initial weights (`decoder_init.safetensors`: cross-attention and the language-model head,
//! drawn by transformers' initialisation), the loss of one batch of (damaged, original) texts,
//! and the gradient of every weight (`grads.safetensors`; weights shared by the encoder and the
//! decoder under the encoder's name, the decoder's own under `decoder.`). Tolerance: 1e-5
//! (absolute, relative above 1).

use std::collections::BTreeSet;
use std::path::PathBuf;

use losses::{DenoisingAutoEncoderLoss, Loss};
use model::{PoolingMode, SentenceTransformer};
use serde_json::Value;
use tch::{nn, Device, Tensor};

mod common;

use common::{batch, max_diff};

const TOLERANCE: f64 = 1e-5;

fn fixture_dir(arch: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/unsupervised")
        .join(format!("tsdae_{arch}"))
}

fn model_dir(arch: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../model/tests/fixtures")
        .join(arch)
        .join("model")
}

fn check(arch: &str) {
    let dir = fixture_dir(arch);
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let mut model = SentenceTransformer::load(&model_dir(arch), Device::Cpu).unwrap();
    assert_eq!(reference["pooling"], "cls");
    model.set_pooling_modes(vec![PoolingMode::Cls]).unwrap();

    // Our tokenizer gives the ids the loss was fed.
    for column in ["noisy", "original"] {
        let texts: Vec<String> =
            serde_json::from_value(reference["texts"][column].clone()).unwrap();
        let tokenized = model.tokenizer().tokenize(&texts).unwrap();
        let rows: Vec<_> = tokenized.iter().collect();
        let ours = model.to_tensors(&model.tokenizer().collate(&rows));
        let theirs = batch(&reference["features"][column]);
        assert!(
            ours.input_ids.equal(&theirs.input_ids),
            "{arch} {column}: token ids differ"
        );
    }

    let vs = nn::VarStore::new(Device::Cpu);
    let loss = DenoisingAutoEncoderLoss::tied(&(vs.root() / "decoder"), &model).unwrap();
    // The decoder's own weights: exactly sentence-transformers' untied set, under its names.
    let init = Tensor::read_safetensors(dir.join("decoder_init.safetensors")).unwrap();
    let mut vars = vs.variables();
    let ours: BTreeSet<String> = vars.keys().cloned().collect();
    let theirs: BTreeSet<String> = init.iter().map(|(n, _)| format!("decoder.{n}")).collect();
    assert_eq!(ours, theirs, "{arch}: the decoder's own weights");
    tch::no_grad(|| {
        for (name, value) in &init {
            vars.get_mut(&format!("decoder.{name}"))
                .unwrap()
                .copy_(value);
        }
    });

    let noisy = batch(&reference["features"]["noisy"]);
    let original = batch(&reference["features"]["original"]);
    // Dropout off (sentence-transformers ran in eval mode).
    let embeddings = model.forward_t(&noisy, false).unwrap();
    let value = loss
        .reconstruction_loss(&model, &embeddings, &original, false)
        .unwrap();
    let expected = reference["loss"].as_f64().unwrap();
    let got = value.double_value(&[]);
    assert!(
        (got - expected).abs() <= TOLERANCE * expected.abs().max(1.0),
        "{arch}: loss {got} vs sentence-transformers {expected}"
    );
    value.backward();

    let grads = Tensor::read_safetensors(dir.join("grads.safetensors")).unwrap();
    let mut params = model.var_store().variables();
    params.extend(vars);
    let mut worst = (0.0, String::new());
    for (name, expected) in &grads {
        let param = params
            .get(name)
            .unwrap_or_else(|| panic!("{arch}: no weight {name} here"));
        let grad = param.grad();
        let grad = if !grad.defined() {
            param.zeros_like()
        } else if grad.is_sparse() {
            grad.to_dense(None, false)
        } else {
            grad
        };
        let diff = max_diff(&grad, expected);
        if diff > worst.0 {
            worst = (diff, name.clone());
        }
    }
    eprintln!(
        "{arch}: loss {got} (sentence-transformers {expected}), largest gradient gap {} ({})",
        worst.0, worst.1
    );
    assert!(
        worst.0 <= TOLERANCE,
        "{arch}: gradient of {} differs by {}",
        worst.1,
        worst.0
    );
    assert_eq!(
        grads.len(),
        params.len(),
        "{arch}: every weight's gradient is recorded"
    );
    assert_eq!(loss.name(), "DenoisingAutoEncoderLoss");
}

#[test]
fn bert_decoder_matches_sentence_transformers() {
    check("bert");
}

#[test]
fn roberta_decoder_matches_sentence_transformers() {
    check("roberta");
}
