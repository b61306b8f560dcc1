//! The folder of a sentence-transformers Transformer module: `config.json`,
//! `model.safetensors`, the tokenizer's files and `sentence_bert_config.json`. Bi-encoders
//! ([`SentenceTransformer`](crate::SentenceTransformer)) and cross-encoders
//! ([`CrossEncoder`](crate::CrossEncoder)) read and write it alike; only what sits on top of
//! the encoder differs.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::encoder::EncoderConfig;
use crate::error::{json_error, read_json, write_json, Error, Result};
use crate::safetensors_header::SafetensorsHeader;
use crate::tokenizer::SentenceTokenizer;

/// Files of the Transformer module that we carry over verbatim when saving (WordPiece's
/// `vocab.txt`, BPE's `vocab.json` + `merges.txt`, SentencePiece models).
const TOKENIZER_SIDE_FILES: [&str; 8] = [
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
];

/// `sentence_bert_config.json`'s `transformer_task` of a cross-encoder.
pub(crate) const SEQUENCE_CLASSIFICATION: &str = "sequence-classification";

/// A Transformer module's folder as read, before any variable is created.
#[derive(Debug)]
pub(crate) struct TransformerFolder {
    pub(crate) config: EncoderConfig,
    /// `config.json` as loaded: what saving writes back, keys we do not model included.
    pub(crate) config_json: Value,
    pub(crate) config_path: PathBuf,
    pub(crate) weights: PathBuf,
    pub(crate) header: SafetensorsHeader,
    pub(crate) tokenizer: SentenceTokenizer,
    pub(crate) side_files: Vec<(String, Vec<u8>)>,
    /// `sentence_bert_config.json` as loaded, if there was one.
    pub(crate) sbert_config: Option<Value>,
}

impl TransformerFolder {
    /// Reads the config (checked against the checkpoint's header, so a size the checkpoint
    /// does not have is an error naming the key), the tokenizer and the side files.
    pub(crate) fn read(dir: &Path) -> Result<Self> {
        let config_path = dir.join("config.json");
        let (config, config_json) = EncoderConfig::from_file(&config_path)?;
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            let pickle = dir.join("pytorch_model.bin");
            return Err(if pickle.is_file() {
                Error::PickleCheckpoint { path: pickle }
            } else {
                Error::MissingFile { path: weights }
            });
        }
        let header = SafetensorsHeader::read(&weights)?;
        config.check_checkpoint(&config_path, &header)?;
        let (max_seq_length, do_lower_case, sbert_config) = read_sbert_config(dir, &config)?;
        let tokenizer = SentenceTokenizer::from_dir(dir, max_seq_length, do_lower_case)?;
        check_vocabulary(dir, &tokenizer, &config)?;
        let mut side_files = Vec::new();
        for name in TOKENIZER_SIDE_FILES {
            let path = dir.join(name);
            if path.is_file() {
                let bytes = std::fs::read(&path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                side_files.push((name.to_string(), bytes));
            }
        }
        Ok(TransformerFolder {
            config,
            config_json,
            config_path,
            weights,
            header,
            tokenizer,
            side_files,
            sbert_config,
        })
    }

    /// Whether `sentence_bert_config.json` says the module classifies sequences: a
    /// sentence-transformers 6.x cross-encoder.
    pub(crate) fn is_cross_encoder_task(&self) -> bool {
        self.sbert_config
            .as_ref()
            .and_then(|c| c.get("transformer_task"))
            .and_then(Value::as_str)
            == Some(SEQUENCE_CLASSIFICATION)
    }

    /// Whether the checkpoint holds a tensor whose name ends with `suffix`.
    pub(crate) fn has_tensor_ending(&self, suffix: &str) -> bool {
        self.header.names().any(|k| k.ends_with(suffix))
    }
}

/// The side files a model made in code writes: a BERT WordPiece tokenizer's, as
/// [`SentenceTokenizer::from_vocab`] builds it.
pub(crate) fn wordpiece_side_files(tokenizer: &SentenceTokenizer) -> Vec<(String, Vec<u8>)> {
    let vocab = tokenizer.vocab_in_id_order().join("\n") + "\n";
    let tokenizer_config = json!({
        "tokenizer_class": "BertTokenizer", "do_lower_case": true, "model_max_length": tokenizer.max_seq_length(),
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
    });
    vec![
        ("vocab.txt".to_string(), vocab.into_bytes()),
        (
            "tokenizer_config.json".to_string(),
            serde_json::to_vec_pretty(&tokenizer_config).unwrap_or_default(),
        ),
    ]
}

/// Writes `config.json`, the tokenizer and its side files into `dir` (which exists); the
/// weights and `sentence_bert_config.json` are the caller's, as they differ by model family.
pub(crate) fn write_config_and_tokenizer(
    dir: &Path,
    config_json: &Value,
    tokenizer: &SentenceTokenizer,
    side_files: &[(String, Vec<u8>)],
) -> Result<()> {
    write_json(&dir.join("config.json"), config_json)?;
    tokenizer.save(dir)?;
    for (name, bytes) in side_files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| Error::Io { path, source })?;
    }
    Ok(())
}

/// Writes a model folder through a sibling staging folder that replaces `dir` only once
/// complete, so a crash never leaves a half-written model where a good one was.
pub(crate) fn save_atomically(dir: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    write(&staging)?;

    // Swap in the finished folder; the old one is removed only after the new one is in place.
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&staging, dir).map_err(io(dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

/// A tokenizer that can produce ids at or beyond the embedding table would index out of
/// range inside libtorch on the first text that uses them: refuse the pair at load.
fn check_vocabulary(
    dir: &Path,
    tokenizer: &SentenceTokenizer,
    config: &EncoderConfig,
) -> Result<()> {
    let (tokens, rows) = (
        tokenizer.vocab_size() as u64,
        config.vocab_size().max(0) as u64,
    );
    if tokens <= rows {
        return Ok(());
    }
    Err(Error::Config {
        path: dir.to_path_buf(),
        message: format!(
            "the tokenizer has {tokens} tokens (ids up to {}) but config.json's vocab_size is \
             {rows}: those ids have no embedding; use the model's own tokenizer",
            tokens - 1
        ),
    })
}

/// `sentence_bert_config.json`: the Transformer module's settings.
#[derive(Debug, Default, serde::Deserialize)]
struct SbertConfigFile {
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

/// The part of `tokenizer_config.json` that bounds the sequence length. Tokenizers without
/// a limit write a huge float (1e30) here, so any number is accepted and only a whole one
/// that fits is used.
#[derive(Debug, Default, serde::Deserialize)]
struct TokenizerLimitFile {
    model_max_length: Option<f64>,
}

/// `max_seq_length` as sentence-transformers resolves it: `sentence_bert_config.json`, else the
/// tokenizer's `model_max_length`, capped by the position embeddings; and the file as read.
fn read_sbert_config(dir: &Path, config: &EncoderConfig) -> Result<(usize, bool, Option<Value>)> {
    let cap = usize::try_from(config.max_tokens()).unwrap_or(0);
    let path = dir.join("sentence_bert_config.json");
    let raw: Option<Value> = if path.is_file() {
        Some(read_json(
            &path,
            "a sentence-transformers Transformer config",
        )?)
    } else {
        None
    };
    let sbert: SbertConfigFile = match &raw {
        Some(value) => serde_path_to_error::deserialize(value.clone())
            .map_err(|err| json_error(&path, "a sentence-transformers Transformer config", err))?,
        None => SbertConfigFile::default(),
    };
    let mut max_len = sbert.max_seq_length;
    if max_len == Some(0) {
        return Err(Error::Config {
            path,
            message: "key max_seq_length must be a positive integer, got 0".into(),
        });
    }
    if max_len.is_none() {
        let tc = dir.join("tokenizer_config.json");
        if tc.is_file() {
            let limit: TokenizerLimitFile = read_json(&tc, "a tokenizer config")?;
            max_len = limit
                .model_max_length
                .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= usize::MAX as f64)
                .map(|n| n as usize);
        }
    }
    Ok((max_len.unwrap_or(cap).min(cap), sbert.do_lower_case, raw))
}
