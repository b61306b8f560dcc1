//! The parts of `tokenizer_config.json` (transformers' tokenizer settings) that change how
//! texts become token batches: the pad token, and the padding and truncation sides.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{read_json, Result};

/// Which end of a row padding goes to (transformers' `padding_side`). Causal models that pool
/// the last token pad on the left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaddingSide {
    #[default]
    Right,
    Left,
}

/// A special token as `tokenizer_config.json` writes it: a string, or an `AddedToken` object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum TokenSpec {
    Plain(String),
    Added { content: String },
}

impl TokenSpec {
    pub(crate) fn content(&self) -> &str {
        match self {
            TokenSpec::Plain(s) | TokenSpec::Added { content: s } => s,
        }
    }
}

/// transformers' defaults where the file (or a key) is absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub(crate) struct TokenizerConfig {
    #[serde(default)]
    pub pad_token: Option<TokenSpec>,
    #[serde(default)]
    pub padding_side: PaddingSide,
    /// Which end truncation cuts (`"right"` keeps the start of a text).
    #[serde(default)]
    pub truncation_side: PaddingSide,
    #[serde(default)]
    pub do_lower_case: Option<bool>,
    /// Whether decoding removes the spaces before punctuation (transformers 5's default: no).
    #[serde(default)]
    pub clean_up_tokenization_spaces: Option<bool>,
}

impl TokenizerConfig {
    /// Reads `dir/tokenizer_config.json`; a folder without one gets the defaults.
    pub(crate) fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer_config.json");
        if !path.is_file() {
            return Ok(TokenizerConfig::default());
        }
        read_json(&path, "a tokenizer config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sides_and_either_pad_token_form() {
        let c: TokenizerConfig = serde_json::from_str(
            r#"{"pad_token": {"content": "<|endoftext|>", "lstrip": false},
                "padding_side": "left", "model_max_length": 1e30}"#,
        )
        .unwrap();
        assert_eq!(c.pad_token.unwrap().content(), "<|endoftext|>");
        assert_eq!(c.padding_side, PaddingSide::Left);
        assert_eq!(c.truncation_side, PaddingSide::Right);
        let c: TokenizerConfig = serde_json::from_str(r#"{"pad_token": "<pad>"}"#).unwrap();
        assert_eq!(c.pad_token.unwrap().content(), "<pad>");
        assert_eq!(c.padding_side, PaddingSide::Right);
        assert!(serde_json::from_str::<TokenizerConfig>(r#"{"padding_side": "up"}"#).is_err());
    }
}
