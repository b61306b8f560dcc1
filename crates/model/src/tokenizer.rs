//! The Transformer module's tokenizer: `tokenizer.json` of any model the `tokenizers` crate
//! reads (WordPiece, byte-level BPE, Unigram, …; or a `vocab.txt` WordPiece fallback) with
//! sentence-transformers' truncation, and collation into padded id batches on the side
//! `tokenizer_config.json` names (the padding itself is `data::collate`).
//!
//! The attention mask comes from the encoding: every token the tokenizer produced is real
//! (its own padding is switched off) and only collation adds padding, so a text that contains
//! the pad token still attends to it, as transformers does. It is never `ids != pad_id`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{
    EncodeInput, ModelWrapper, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::error::{Error, Result};
use crate::tokenizer_config::TokenizerConfig;

pub use crate::tokenizer_config::PaddingSide;

/// BERT's special tokens: what transformers' `BertTokenizer` marks special in a folder that has
/// only a `vocab.txt` (our fallback tokenizer has no added tokens to say so).
const BERT_SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

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
    padding_side: PaddingSide,
    max_seq_length: usize,
    do_lower_case: bool,
    /// Ids that decoding with `skip_special_tokens` leaves out.
    special_ids: HashSet<u32>,
    /// `tokenizer_config.json`'s `clean_up_tokenization_spaces`.
    clean_up_spaces: bool,
}

impl std::fmt::Debug for SentenceTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceTokenizer")
            .field("max_seq_length", &self.max_seq_length)
            .field("pad_id", &self.pad_id)
            .field("padding_side", &self.padding_side)
            .field("do_lower_case", &self.do_lower_case)
            .finish()
    }
}

impl SentenceTokenizer {
    /// Loads `tokenizer.json` from `dir`, or builds a BERT WordPiece tokenizer from
    /// `vocab.txt` (lower-casing as `tokenizer_config.json`'s `do_lower_case` says, default on).
    /// The pad token and the padding and truncation sides come from `tokenizer_config.json`.
    pub fn from_dir(dir: &Path, max_seq_length: usize, do_lower_case: bool) -> Result<Self> {
        let json = dir.join("tokenizer.json");
        let vocab = dir.join("vocab.txt");
        let settings = TokenizerConfig::from_dir(dir)?;
        let (original, specials) = if json.is_file() {
            (read_tokenizer_json(&json)?, &[][..])
        } else if vocab.is_file() {
            (
                bert_wordpiece(&vocab, settings.do_lower_case.unwrap_or(true))?,
                &BERT_SPECIAL_TOKENS[..],
            )
        } else {
            return Err(Error::MissingFile { path: json });
        };
        Self::new(
            original,
            max_seq_length,
            do_lower_case,
            &settings,
            &json,
            specials,
        )
    }

    pub fn from_vocab(vocab: &Path, lowercase: bool, max_seq_length: usize) -> Result<Self> {
        Self::new(
            bert_wordpiece(vocab, lowercase)?,
            max_seq_length,
            false,
            &TokenizerConfig::default(),
            vocab,
            &BERT_SPECIAL_TOKENS,
        )
    }

    /// `specials`: tokens to treat as special beside the tokenizer's own special added tokens.
    fn new(
        original: Tokenizer,
        max_seq_length: usize,
        do_lower_case: bool,
        settings: &TokenizerConfig,
        origin: &Path,
        specials: &[&str],
    ) -> Result<Self> {
        if max_seq_length < 3 {
            return Err(Error::Tokenizer {
                path: origin.to_path_buf(),
                message: format!("max_seq_length must be at least 3, got {max_seq_length}"),
            });
        }
        let pad_id = pad_id(&original, settings);
        let direction = match settings.truncation_side {
            PaddingSide::Right => TruncationDirection::Right,
            PaddingSide::Left => TruncationDirection::Left,
        };
        let mut runtime = original.clone();
        runtime.with_padding(None);
        runtime
            .with_truncation(Some(TruncationParams {
                max_length: max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction,
            }))
            .map_err(|e| tokenizer_error(origin, e))?;
        let special_ids = original
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, token)| token.special)
            .map(|(id, _)| id)
            .chain(specials.iter().filter_map(|t| original.token_to_id(t)))
            .collect();
        Ok(SentenceTokenizer {
            original,
            runtime,
            pad_id: i64::from(pad_id),
            padding_side: settings.padding_side,
            max_seq_length,
            do_lower_case,
            special_ids,
            clean_up_spaces: settings.clean_up_tokenization_spaces.unwrap_or(false),
        })
    }

    /// Which end of a row [`collate`](Self::collate) pads.
    pub fn padding_side(&self) -> PaddingSide {
        self.padding_side
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
        let inputs: Vec<EncodeInput> = texts
            .iter()
            .map(|t| EncodeInput::from(self.cased(t.as_ref())))
            .collect();
        self.encode_inputs(inputs)
    }

    /// Tokenizes text pairs (in parallel) as one sequence each, as transformers'
    /// `tokenizer(first, second, truncation="longest_first")` does for a cross-encoder: the
    /// tokenizer's pair template (`[CLS] a [SEP] b [SEP]`, `<s> a </s></s> b </s>`, …) with
    /// its segment ids, the longer side truncated first until the pair fits `max_seq_length`.
    pub fn tokenize_pairs<A: AsRef<str> + Sync, B: AsRef<str> + Sync>(
        &self,
        pairs: &[(A, B)],
    ) -> Result<Vec<TokenizedText>> {
        let inputs: Vec<EncodeInput> = pairs
            .iter()
            .map(|(a, b)| EncodeInput::from((self.cased(a.as_ref()), self.cased(b.as_ref()))))
            .collect();
        self.encode_inputs(inputs)
    }

    fn cased(&self, text: &str) -> String {
        if self.do_lower_case {
            text.to_lowercase()
        } else {
            text.to_string()
        }
    }

    fn encode_inputs(&self, inputs: Vec<EncodeInput>) -> Result<Vec<TokenizedText>> {
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

    /// The text of each row of token ids, as transformers'
    /// `tokenizer.batch_decode(rows, skip_special_tokens=…)` gives it: the tokenizer's decoder
    /// joins the tokens (WordPiece's `##` pieces, byte-level BPE's bytes), `skip_special_tokens`
    /// leaves out special tokens (`[CLS]`, `[SEP]`, padding, `[UNK]`), and
    /// `clean_up_tokenization_spaces` in `tokenizer_config.json` removes the spaces before
    /// punctuation (never for BPE models, as transformers 5 does). Rows are real tokens only:
    /// drop the padding first. Ids outside the vocabulary decode to nothing.
    pub fn decode_batch(&self, rows: &[&[i64]], skip_special_tokens: bool) -> Result<Vec<String>> {
        let rows = rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&id| {
                        u32::try_from(id).map_err(|_| {
                            Error::InvalidInput(format!("token id {id} is not a vocabulary index"))
                        })
                    })
                    .filter(|id| {
                        !(skip_special_tokens
                            && id.as_ref().is_ok_and(|id| self.special_ids.contains(id)))
                    })
                    .collect::<Result<Vec<u32>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let rows: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
        let texts = self
            .original
            .decode_batch(&rows, skip_special_tokens)
            .map_err(|e| Error::Tokenize(e.to_string()))?;
        let clean_up =
            self.clean_up_spaces && !matches!(self.original.get_model(), ModelWrapper::BPE(_));
        Ok(if clean_up {
            texts.iter().map(|t| clean_up_tokenization(t)).collect()
        } else {
            texts
        })
    }

    /// Whether both tokenizers map the same tokens (added tokens included) to the same ids, as
    /// transformers' `get_vocab()` compares them.
    pub fn same_vocabulary(&self, other: &SentenceTokenizer) -> bool {
        self.original.get_vocab(true) == other.original.get_vocab(true)
    }

    /// How many leading tokens `prompt` takes in a text it is prepended to, as
    /// sentence-transformers counts them for `include_prompt = false`: the prompt tokenized
    /// alone (truncated like any text), less its last token when that is a special token
    /// (BERT's `[SEP]`, Qwen3's `<|endoftext|>`). Leading special tokens (`[CLS]`) count.
    pub fn prompt_length(&self, prompt: &str) -> Result<usize> {
        let text = if self.do_lower_case {
            prompt.to_lowercase()
        } else {
            prompt.to_string()
        };
        let encoding = self
            .runtime
            .encode(text, true)
            .map_err(|e| Error::Tokenize(e.to_string()))?;
        let ids = encoding.get_ids();
        let last_is_special = encoding.get_special_tokens_mask().last() == Some(&1)
            || ids.last().is_some_and(|id| self.is_special_id(*id));
        Ok(ids.len().saturating_sub(usize::from(last_is_special)))
    }

    /// Whether `id` is one of the tokenizer's special added tokens (`[UNK]`, `[PAD]`, …).
    fn is_special_id(&self, id: u32) -> bool {
        self.original
            .get_added_tokens_decoder()
            .get(&id)
            .is_some_and(|token| token.special)
    }

    /// Pads a batch to its longest member (dynamic padding), on the tokenizer's padding side.
    pub fn collate(&self, texts: &[&TokenizedText]) -> EncodedBatch {
        let mut batch = data::collate(texts, self.pad_id);
        if self.padding_side == PaddingSide::Left {
            move_padding_left(&mut batch);
        }
        batch
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

/// Reads a `tokenizer.json`. The tokenizers crate (0.22) still panics on some malformed
/// files: its decoder deserialiser `expect`s the JSON to parse (found by fuzzing,
/// crates/model/fuzz) and its Precompiled normaliser `expect`s a valid charsmap
/// (huggingface/tokenizers#1645). The JSON is checked first, so a syntax error names its line
/// and column; a panic that remains becomes an error naming the file.
fn read_tokenizer_json(path: &Path) -> Result<Tokenizer> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        what: "a tokenizer",
        source,
    })?;
    std::panic::catch_unwind(|| Tokenizer::from_str(&text))
        .unwrap_or_else(|payload| Err(panic_message(&*payload).into()))
        .map_err(|e| tokenizer_error(path, e))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("the tokenizers crate panicked on this file: {detail}")
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

/// The pad id: the tokenizer's own padding, else `tokenizer_config.json`'s `pad_token`, else
/// BERT's `[PAD]` or RoBERTa's `<pad>`, else 0.
fn pad_id(tokenizer: &Tokenizer, settings: &TokenizerConfig) -> u32 {
    tokenizer
        .get_padding()
        .map(|p| p.pad_id)
        .or_else(|| {
            let token = settings.pad_token.as_ref()?;
            tokenizer.token_to_id(token.content())
        })
        .or_else(|| tokenizer.token_to_id("[PAD]"))
        .or_else(|| tokenizer.token_to_id("<pad>"))
        .unwrap_or(0)
}

/// transformers' `clean_up_tokenization`: no space before punctuation and English contractions.
fn clean_up_tokenization(text: &str) -> String {
    [
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ]
    .iter()
    .fold(text.to_string(), |text, (from, to)| text.replace(from, to))
}

/// Turns a right-padded batch into a left-padded one, row by row.
fn move_padding_left(batch: &mut EncodedBatch) {
    let seq = batch.seq_len;
    if seq == 0 {
        return;
    }
    let lengths = batch.lengths();
    for (row, n) in lengths.into_iter().enumerate() {
        let range = row * seq..(row + 1) * seq;
        for buffer in [
            &mut batch.input_ids,
            &mut batch.attention_mask,
            &mut batch.token_type_ids,
        ] {
            if let Some(slice) = buffer.get_mut(range.clone()) {
                slice.rotate_right(seq - n.min(seq));
            }
        }
    }
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
    fn padding_side_and_pad_token_come_from_tokenizer_config() {
        let dir = tempfile::tempdir().unwrap();
        tiny_vocab(dir.path());
        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"pad_token": "[MASK]", "padding_side": "left"}"#,
        )
        .unwrap();
        let tok = SentenceTokenizer::from_dir(dir.path(), 16, false).unwrap();
        assert_eq!((tok.pad_id(), tok.padding_side()), (4, PaddingSide::Left));
        let texts = tok.tokenize(&["a dog", "the cat sits"]).unwrap();
        let batch = tok.collate(&[&texts[0], &texts[1]]);
        assert_eq!(batch.seq_len, 5);
        assert_eq!(&batch.input_ids[..5], &[4, 2, 5, 7, 3]);
        assert_eq!(&batch.attention_mask[..5], &[0, 1, 1, 1, 1]);
        assert_eq!(&batch.attention_mask[5..], &[1, 1, 1, 1, 1]);
    }

    #[test]
    fn decoding_joins_word_pieces_and_skips_special_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let tok = SentenceTokenizer::from_vocab(&tiny_vocab(dir.path()), true, 16).unwrap();
        let texts = tok
            .tokenize(&["The dogs sit on the mat.", "a cat"])
            .unwrap();
        // "sit" is not in the vocabulary: [UNK], which skipping leaves out as transformers does.
        assert_eq!(texts[0].ids, vec![2, 9, 7, 10, 1, 11, 9, 12, 13, 3]);
        let rows: Vec<&[i64]> = texts.iter().map(|t| t.ids.as_slice()).collect();
        assert_eq!(
            tok.decode_batch(&rows, true).unwrap(),
            vec!["the dogs on the mat.", "a cat"]
        );
        assert_eq!(
            tok.decode_batch(&rows[1..], false).unwrap(),
            vec!["[CLS] a cat [SEP]"]
        );
        assert!(tok.decode_batch(&[&[2, -1]], true).is_err());
    }

    #[test]
    fn clean_up_tokenization_spaces_follows_transformers() {
        assert_eq!(
            clean_up_tokenization("it 's a dog , is n't it ? yes !"),
            "it's a dog, isn't it? yes!"
        );
        let dir = tempfile::tempdir().unwrap();
        let vocab = tiny_vocab(dir.path());
        let plain = SentenceTokenizer::from_vocab(&vocab, true, 16).unwrap();
        let mut other = std::fs::read_to_string(&vocab).unwrap();
        assert!(plain.same_vocabulary(&plain.clone()));
        other.push_str("\nbird");
        let other_path = dir.path().join("other.txt");
        std::fs::write(&other_path, other).unwrap();
        let other = SentenceTokenizer::from_vocab(&other_path, true, 16).unwrap();
        assert!(!plain.same_vocabulary(&other));
    }

    #[test]
    fn missing_tokenizer_names_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = SentenceTokenizer::from_dir(dir.path(), 128, false).unwrap_err();
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
    }
}
