//! A tiny random BERT sentence-transformers folder, for tests that need a real model that
//! trains in milliseconds (this crate's, and downstream crates').

use std::path::{Path, PathBuf};

use crate::bert::BertConfig;
use crate::error::{Error, Result};
use crate::pooling::PoolingMode;
use crate::sentence_transformer::SentenceTransformer;
use crate::tokenizer::SentenceTokenizer;

/// Writes a tiny random BERT (`BertConfig::tiny`, libtorch seeded with `seed`, mean pooling,
/// max 32 tokens) with a WordPiece vocabulary of BERT's special tokens plus `words` to
/// `dir/tiny-model`, and returns that folder.
pub fn tiny_bert(dir: &Path, words: &[&str], seed: i64) -> Result<PathBuf> {
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(words);
    let vocab_path = dir.join("vocab.txt");
    std::fs::write(&vocab_path, vocab.join("\n")).map_err(|source| Error::Io {
        path: vocab_path.clone(),
        source,
    })?;
    let tokenizer = SentenceTokenizer::from_vocab(&vocab_path, true, 32)?;
    // libtorch's generator is process-wide and tests run on parallel threads: without the
    // lock, two calls interleave their seeding and draws, and a model's weights depend on
    // timing (a student could come out as its teacher).
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _init = INIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    tch::manual_seed(seed);
    let config = BertConfig::tiny(vocab.len() as i64);
    let model = SentenceTransformer::from_config(
        &config,
        tokenizer,
        vec![PoolingMode::Mean],
        false,
        tch::Device::Cpu,
    )?;
    let out = dir.join("tiny-model");
    model.save(&out)?;
    Ok(out)
}

/// `var`'s gradient as a dense tensor (vocabulary tables hand back sparse ones), undefined
/// when it has none.
pub fn dense_grad(var: &tch::Tensor) -> tch::Tensor {
    let grad = var.grad();
    if grad.defined() && grad.is_sparse() {
        grad.to_dense(None, false)
    } else {
        grad
    }
}
