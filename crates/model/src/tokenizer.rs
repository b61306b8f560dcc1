//! The Transformer module's tokenizer: `tokenizer.json` (or a `vocab.txt` WordPiece fallback)
//! with sentence-transformers' truncation, and collation into padded id batches (the padding
//! itself is `data::collate`).

use std::path::{Path, PathBuf};

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{Error, Result};

// Padding is tensor-free and lives in `data`; these stay reachable as `model::…`.
pub use data::{EncodedBatch, TokenizedText};

/// The tokenizer of a sentence-transformers Transformer module.
#[derive(Clone)]
pub struct SentenceTokenizer {
    /// As loaded: what `save` writes back, so a saved folder tokenizes as the original did.
    original: Tokenizer,
    /// With our truncation and without the padding baked into many `tokenizer.json` files
    /// (all-MiniLM-L6-v2 pads every text to 128): we pad per batch instead.
    runtime: Tokenizer,
    pad_id: i64,
    max_seq_length: usize,
    do_lower_case: bool,
}

impl std::fmt::Debug for SentenceTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceTokenizer")
            .field("max_seq_length", &self.max_seq_length)
            .field("pad_id", &self.pad_id)
            .field("do_lower_case", &self.do_lower_case)
            .finish()
    }
}

impl SentenceTokenizer {
    /// Loads `tokenizer.json` from `dir`, or builds a BERT WordPiece tokenizer from
    /// `vocab.txt` (lower-casing as `tokenizer_config.json`'s `do_lower_case` says, default on).
    pub fn from_dir(dir: &Path, max_seq_length: usize, do_lower_case: bool) -> Result<Self> {
        let json = dir.join("tokenizer.json");
        let vocab = dir.join("vocab.txt");
        let original = if json.is_file() {
            Tokenizer::from_file(&json).map_err(|e| tokenizer_error(&json, e))?
        } else if vocab.is_file() {
            let lowercase = read_lowercase_flag(&dir.join("tokenizer_config.json"));
            bert_wordpiece(&vocab, lowercase)?
        } else {
            return Err(Error::MissingFile { path: json });
        };
        Self::new(original, max_seq_length, do_lower_case, &json)
    }

    pub fn from_vocab(vocab: &Path, lowercase: bool, max_seq_length: usize) -> Result<Self> {
        Self::new(
            bert_wordpiece(vocab, lowercase)?,
            max_seq_length,
            false,
            vocab,
        )
    }

    fn new(
        original: Tokenizer,
        max_seq_length: usize,
        do_lower_case: bool,
        origin: &Path,
    ) -> Result<Self> {
        if max_seq_length < 3 {
            return Err(Error::Tokenizer {
                path: origin.to_path_buf(),
                message: format!("max_seq_length must be at least 3, got {max_seq_length}"),
            });
        }
        let pad_id = original
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| original.token_to_id("[PAD]"))
            .unwrap_or(0);
        let mut runtime = original.clone();
        runtime.with_padding(None);
        runtime
            .with_truncation(Some(TruncationParams {
                max_length: max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| tokenizer_error(origin, e))?;
        Ok(SentenceTokenizer {
            original,
            runtime,
            pad_id: i64::from(pad_id),
            max_seq_length,
            do_lower_case,
        })
    }

    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    pub fn do_lower_case(&self) -> bool {
        self.do_lower_case
    }

    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }

    pub fn vocab_size(&self) -> usize {
        self.original.get_vocab_size(true)
    }

    /// Tokenizes every text (in parallel), truncating to `max_seq_length`.
    pub fn tokenize<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<TokenizedText>> {
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| {
                if self.do_lower_case {
                    t.as_ref().to_lowercase()
                } else {
                    t.as_ref().to_string()
                }
            })
            .collect();
        let encodings = self
            .runtime
            .encode_batch_fast(inputs, true)
            .map_err(|e| Error::Tokenize(e.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|e| TokenizedText {
                ids: e.get_ids().iter().map(|&i| i64::from(i)).collect(),
                type_ids: e.get_type_ids().iter().map(|&i| i64::from(i)).collect(),
            })
            .collect())
    }

    /// Pads a batch to its longest member (dynamic padding).
    pub fn collate(&self, texts: &[&TokenizedText]) -> EncodedBatch {
        data::collate(texts, self.pad_id)
    }

    /// Writes `tokenizer.json` as it was loaded.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join("tokenizer.json");
        self.original
            .save(&path, true)
            .map_err(|e| tokenizer_error(&path, e))
    }

    /// The WordPiece vocabulary in id order, for writing `vocab.txt` when none was loaded.
    pub fn vocab_in_id_order(&self) -> Vec<String> {
        let mut vocab: Vec<(String, u32)> = self.original.get_vocab(true).into_iter().collect();
        vocab.sort_by_key(|(_, id)| *id);
        vocab.into_iter().map(|(token, _)| token).collect()
    }
}

fn bert_wordpiece(vocab: &Path, lowercase: bool) -> Result<Tokenizer> {
    let vocab_str = vocab.to_str().ok_or_else(|| Error::Tokenizer {
        path: vocab.to_path_buf(),
        message: "the path is not valid UTF-8".into(),
    })?;
    let model = WordPiece::from_file(vocab_str)
        .unk_token("[UNK]".into())
        .build()
        .map_err(|e| tokenizer_error(vocab, e))?;
    let mut tokenizer = Tokenizer::new(model);
    let id = |token: &str| {
        tokenizer
            .token_to_id(token)
            .ok_or_else(|| Error::Tokenizer {
                path: vocab.to_path_buf(),
                message: format!("the vocabulary has no {token} token"),
            })
    };
    let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
    tokenizer
        .with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
        .with_pre_tokenizer(Some(BertPreTokenizer))
        .with_post_processor(Some(BertProcessing::new(
            ("[SEP]".into(), sep),
            ("[CLS]".into(), cls),
        )))
        .with_decoder(Some(WordPieceDecoder::default()));
    Ok(tokenizer)
}

fn read_lowercase_flag(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v.get("do_lower_case").and_then(|b| b.as_bool()))
        .unwrap_or(true)
}

fn tokenizer_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Tokenizer {
        path: PathBuf::from(path),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny_vocab(dir: &Path) -> PathBuf {
        let words = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "cat", "dog", "sits", "the", "##s",
            "on", "mat", ".",
        ];
        let path = dir.join("vocab.txt");
        std::fs::write(&path, words.join("\n")).unwrap();
        path
    }

    #[test]
    fn truncates_and_pads_dynamically() {
        let dir = tempfile::tempdir().unwrap();
        let tok = SentenceTokenizer::from_vocab(&tiny_vocab(dir.path()), true, 5).unwrap();
        let texts = tok
            .tokenize(&["The cat sits on the mat.", "A dog"])
            .unwrap();
        assert_eq!(
            texts[0].ids.len(),
            5,
            "truncated to max_seq_length including [CLS]/[SEP]"
        );
        assert_eq!(texts[0].ids[0], 2);
        assert_eq!(*texts[0].ids.last().unwrap(), 3);
        assert_eq!(texts[1].ids, vec![2, 5, 7, 3]);
        let batch = tok.collate(&[&texts[1], &texts[0]]);
        assert_eq!(batch.seq_len, 5);
        assert_eq!(&batch.attention_mask[..5], &[1, 1, 1, 1, 0]);
        assert_eq!(batch.input_ids[4], 0);
    }

    #[test]
    fn missing_tokenizer_names_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = SentenceTokenizer::from_dir(dir.path(), 128, false).unwrap_err();
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
    }
}
