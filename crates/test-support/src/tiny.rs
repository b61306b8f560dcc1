//! Tiny random models and small training files made in code.

use std::path::{Path, PathBuf};

use model::{BertConfig, PoolingMode, SentenceTokenizer, SentenceTransformer};

/// The tiny models' vocabulary (after the special tokens).
pub const WORDS: [&str; 24] = [
    "the", "a", "cat", "dog", "sits", "runs", "on", "mat", "big", "small", "red", "house", "tree",
    "and", "is", ".", "bird", "sings", "car", "drives", "fast", "slow", "green", "blue",
];

/// A tiny random BERT (seed 3, mean pooling) saved in sentence-transformers format under
/// `dir/tiny-model`.
pub fn tiny_bert(dir: &Path) -> PathBuf {
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(WORDS);
    let vocab_path = dir.join("vocab.txt");
    std::fs::write(&vocab_path, vocab.join("\n")).expect("write vocab.txt");
    let tokenizer = SentenceTokenizer::from_vocab(&vocab_path, true, 32).expect("tokenizer");
    tch::manual_seed(3);
    let config = BertConfig::tiny(vocab.len() as i64);
    let model = SentenceTransformer::from_config(
        &config,
        tokenizer,
        vec![PoolingMode::Mean],
        false,
        tch::Device::Cpu,
    )
    .expect("tiny model");
    let out = dir.join("tiny-model");
    model.save(&out).expect("save tiny model");
    out
}

/// `rows` (anchor, positive) pairs of distinct word sequences as JSONL with the keys
/// `question` and `answer`, at `dir/pairs.jsonl`.
pub fn pairs_jsonl(dir: &Path, rows: usize) -> PathBuf {
    let word = |i: usize| WORDS[i % WORDS.len()];
    let mut text = String::new();
    for i in 0..rows {
        let anchor = format!("{} {} {} {}", word(i), word(i / 3 + 5), word(i / 7 + 2), i);
        let positive = format!("{} {} {}", word(i), word(i / 3 + 5), word(i + 11));
        text.push_str(&serde_json::json!({ "question": anchor, "answer": positive }).to_string());
        text.push('\n');
    }
    let path = dir.join("pairs.jsonl");
    std::fs::write(&path, text).expect("write pairs.jsonl");
    path
}
