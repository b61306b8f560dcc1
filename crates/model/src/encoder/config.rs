//! The architecture of a checkpoint, chosen by `config.json`'s `model_type`.

use std::path::Path;

use serde_json::Value;

use crate::bert::BertConfig;
use crate::distilbert::DistilBertConfig;
use crate::encoder::shapes::ExpectedShapes;
use crate::error::{read_json, Error, Result};
use crate::modernbert::ModernBertConfig;
use crate::mpnet::MpnetConfig;
use crate::qwen3::Qwen3Config;
use crate::roberta::RobertaConfig;
use crate::safetensors_header::SafetensorsHeader;
use crate::weights::KeyMap;

/// The `model_type` values this crate runs.
pub const SUPPORTED_MODEL_TYPES: [&str; 7] = [
    "bert",
    "roberta",
    "xlm-roberta",
    "mpnet",
    "distilbert",
    "modernbert",
    "qwen3",
];

/// One architecture's `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub enum EncoderConfig {
    Bert(BertConfig),
    /// `"roberta"` and `"xlm-roberta"`.
    Roberta(RobertaConfig),
    Mpnet(MpnetConfig),
    DistilBert(DistilBertConfig),
    ModernBert(ModernBertConfig),
    Qwen3(Qwen3Config),
}

impl EncoderConfig {
    /// Reads and validates `config.json`, and returns its raw JSON too, so that saving writes
    /// back the keys this crate does not model (`transformers_version`, `dtype`, …).
    pub fn from_file(path: &Path) -> Result<(Self, Value)> {
        let raw: Value = read_json(path, "a model config")?;
        Ok((Self::from_json(&raw, path)?, raw))
    }

    /// Dispatches on `model_type` (a config without one is BERT, as old checkpoints are).
    pub fn from_json(raw: &Value, path: &Path) -> Result<Self> {
        let model_type = match raw.get("model_type") {
            None => "bert",
            Some(Value::String(t)) => t.as_str(),
            Some(other) => {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    message: format!("key model_type must be a string, got {other}"),
                })
            }
        };
        let config = match model_type {
            "bert" => EncoderConfig::Bert(BertConfig::from_json(raw, path)?),
            "roberta" | "xlm-roberta" => {
                EncoderConfig::Roberta(RobertaConfig::from_json(raw, path)?)
            }
            "mpnet" => EncoderConfig::Mpnet(MpnetConfig::from_json(raw, path)?),
            "distilbert" => EncoderConfig::DistilBert(DistilBertConfig::from_json(raw, path)?),
            "modernbert" => EncoderConfig::ModernBert(ModernBertConfig::from_json(raw, path)?),
            "qwen3" => EncoderConfig::Qwen3(Qwen3Config::from_json(raw, path)?),
            other => {
                return Err(Error::UnsupportedArchitecture {
                    path: path.to_path_buf(),
                    model_type: other.to_string(),
                    supported: SUPPORTED_MODEL_TYPES.join(", "),
                })
            }
        };
        config
            .expected_shapes()
            .check_budget()
            .map_err(|message| Error::Config {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(config)
    }

    /// The architecture's own checks, then a budget on the weights its sizes imply.
    pub fn validate(&self) -> std::result::Result<(), String> {
        match self {
            EncoderConfig::Bert(c) => c.validate(),
            EncoderConfig::Roberta(c) => c.validate(),
            EncoderConfig::Mpnet(c) => c.validate(),
            EncoderConfig::DistilBert(c) => c.validate(),
            EncoderConfig::ModernBert(c) => c.validate(),
            EncoderConfig::Qwen3(c) => c.validate(),
        }?;
        self.expected_shapes().check_budget()
    }

    /// The tensors the size keys set, named as in checkpoints.
    pub(crate) fn expected_shapes(&self) -> ExpectedShapes {
        match self {
            EncoderConfig::Bert(c) => crate::bert::expected_shapes(c),
            EncoderConfig::Roberta(c) => crate::bert::expected_shapes(&c.bert),
            EncoderConfig::Mpnet(c) => crate::mpnet::expected_shapes(c),
            EncoderConfig::DistilBert(c) => crate::distilbert::expected_shapes(c),
            EncoderConfig::ModernBert(c) => crate::modernbert::expected_shapes(c),
            EncoderConfig::Qwen3(c) => crate::qwen3::expected_shapes(c),
        }
    }

    /// Checks the sizes of this config (read from `path`) against the checkpoint's header,
    /// before any variable is created: a size the checkpoint does not have is an error naming
    /// the key, never an allocation of the size the config claims.
    pub(crate) fn check_checkpoint(&self, path: &Path, header: &SafetensorsHeader) -> Result<()> {
        self.expected_shapes()
            .check_checkpoint(path, header, &self.key_map())
    }

    /// `config.json`'s `model_type`.
    pub fn model_type(&self) -> &str {
        match self {
            EncoderConfig::Bert(c) => &c.model_type,
            EncoderConfig::Roberta(c) => &c.bert.model_type,
            EncoderConfig::Mpnet(c) => &c.model_type,
            EncoderConfig::DistilBert(c) => &c.model_type,
            EncoderConfig::ModernBert(c) => &c.model_type,
            EncoderConfig::Qwen3(c) => &c.model_type,
        }
    }

    /// Size of the token embeddings the encoder outputs.
    pub fn hidden_size(&self) -> i64 {
        match self {
            EncoderConfig::Bert(c) => c.hidden_size,
            EncoderConfig::Roberta(c) => c.bert.hidden_size,
            EncoderConfig::Mpnet(c) => c.hidden_size,
            EncoderConfig::DistilBert(c) => c.dim,
            EncoderConfig::ModernBert(c) => c.hidden_size,
            EncoderConfig::Qwen3(c) => c.hidden_size,
        }
    }

    pub fn num_layers(&self) -> i64 {
        match self {
            EncoderConfig::Bert(c) => c.num_hidden_layers,
            EncoderConfig::Roberta(c) => c.bert.num_hidden_layers,
            EncoderConfig::Mpnet(c) => c.num_hidden_layers,
            EncoderConfig::DistilBert(c) => c.n_layers,
            EncoderConfig::ModernBert(c) => c.num_hidden_layers,
            EncoderConfig::Qwen3(c) => c.num_hidden_layers,
        }
    }

    /// Rows of the token embedding table: every token id must be below it.
    pub fn vocab_size(&self) -> i64 {
        match self {
            EncoderConfig::Bert(c) => c.vocab_size,
            EncoderConfig::Roberta(c) => c.bert.vocab_size,
            EncoderConfig::Mpnet(c) => c.vocab_size,
            EncoderConfig::DistilBert(c) => c.vocab_size,
            EncoderConfig::ModernBert(c) => c.vocab_size,
            EncoderConfig::Qwen3(c) => c.vocab_size,
        }
    }

    /// The longest token sequence the encoder accepts (its position table's reach, or the
    /// `max_position_embeddings` a rotary model was built for).
    pub fn max_tokens(&self) -> i64 {
        use crate::layers::positions::PositionIds;
        match self {
            EncoderConfig::Bert(c) => c.max_position_embeddings,
            EncoderConfig::Roberta(c) => PositionIds::AfterPadding {
                padding_idx: c.padding_idx(),
            }
            .max_tokens(c.bert.max_position_embeddings),
            EncoderConfig::Mpnet(c) => PositionIds::AfterPadding {
                padding_idx: crate::mpnet::PADDING_IDX,
            }
            .max_tokens(c.max_position_embeddings),
            EncoderConfig::DistilBert(c) => c.max_position_embeddings,
            EncoderConfig::ModernBert(c) => c.max_position_embeddings,
            EncoderConfig::Qwen3(c) => c.max_position_embeddings,
        }
    }

    /// The JSON written for a model created in code rather than loaded.
    pub fn to_hf_json(&self) -> Value {
        match self {
            EncoderConfig::Bert(c) => c.to_hf_json(),
            EncoderConfig::Roberta(c) => c.to_hf_json(),
            EncoderConfig::Mpnet(c) => c.to_hf_json(),
            EncoderConfig::DistilBert(c) => c.to_hf_json(),
            EncoderConfig::ModernBert(c) => c.to_hf_json(),
            EncoderConfig::Qwen3(c) => c.to_hf_json(),
        }
    }

    /// How the architecture's weights are named in checkpoints.
    pub fn key_map(&self) -> KeyMap {
        match self {
            EncoderConfig::Bert(_) => crate::bert::KEYS,
            EncoderConfig::Roberta(_) => crate::roberta::KEYS,
            EncoderConfig::Mpnet(_) => crate::mpnet::KEYS,
            EncoderConfig::DistilBert(_) => crate::distilbert::KEYS,
            EncoderConfig::ModernBert(_) => crate::modernbert::KEYS,
            EncoderConfig::Qwen3(_) => crate::qwen3::KEYS,
        }
    }
}

impl From<BertConfig> for EncoderConfig {
    fn from(c: BertConfig) -> Self {
        EncoderConfig::Bert(c)
    }
}

impl From<&BertConfig> for EncoderConfig {
    fn from(c: &BertConfig) -> Self {
        EncoderConfig::Bert(c.clone())
    }
}

impl From<RobertaConfig> for EncoderConfig {
    fn from(c: RobertaConfig) -> Self {
        EncoderConfig::Roberta(c)
    }
}

impl From<&RobertaConfig> for EncoderConfig {
    fn from(c: &RobertaConfig) -> Self {
        EncoderConfig::Roberta(c.clone())
    }
}

impl From<MpnetConfig> for EncoderConfig {
    fn from(c: MpnetConfig) -> Self {
        EncoderConfig::Mpnet(c)
    }
}

impl From<&MpnetConfig> for EncoderConfig {
    fn from(c: &MpnetConfig) -> Self {
        EncoderConfig::Mpnet(c.clone())
    }
}

impl From<ModernBertConfig> for EncoderConfig {
    fn from(c: ModernBertConfig) -> Self {
        EncoderConfig::ModernBert(c)
    }
}

impl From<&ModernBertConfig> for EncoderConfig {
    fn from(c: &ModernBertConfig) -> Self {
        EncoderConfig::ModernBert(c.clone())
    }
}

impl From<Qwen3Config> for EncoderConfig {
    fn from(c: Qwen3Config) -> Self {
        EncoderConfig::Qwen3(c)
    }
}

impl From<&Qwen3Config> for EncoderConfig {
    fn from(c: &Qwen3Config) -> Self {
        EncoderConfig::Qwen3(c.clone())
    }
}

impl From<DistilBertConfig> for EncoderConfig {
    fn from(c: DistilBertConfig) -> Self {
        EncoderConfig::DistilBert(c)
    }
}

impl From<&DistilBertConfig> for EncoderConfig {
    fn from(c: &DistilBertConfig) -> Self {
        EncoderConfig::DistilBert(c.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<EncoderConfig> {
        EncoderConfig::from_json(
            &serde_json::from_str(json).unwrap(),
            Path::new("x/config.json"),
        )
    }

    #[test]
    fn dispatches_on_model_type() {
        let base = r#""vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
                      "num_attention_heads": 2, "intermediate_size": 16"#;
        for (model_type, arch) in [
            ("bert", "BERT"),
            ("roberta", "RoBERTa"),
            ("xlm-roberta", "RoBERTa"),
            ("mpnet", "MPNet"),
        ] {
            let c = parse(&format!(r#"{{"model_type": "{model_type}", {base}}}"#)).unwrap();
            assert_eq!(c.model_type(), model_type);
            assert_eq!(c.key_map().architecture, arch);
        }
        let c = parse(&format!("{{{base}}}")).unwrap();
        assert!(matches!(c, EncoderConfig::Bert(_)));
        let c = parse(
            r#"{"model_type": "distilbert", "vocab_size": 10, "dim": 8, "n_layers": 1,
                "n_heads": 2, "hidden_dim": 16}"#,
        )
        .unwrap();
        assert_eq!(
            (c.hidden_size(), c.num_layers(), c.max_tokens()),
            (8, 1, 512)
        );
    }

    #[test]
    fn unknown_model_type_lists_the_supported_ones() {
        let err = parse(r#"{"model_type": "t5"}"#).unwrap_err().to_string();
        assert!(
            err.contains("\"t5\"") && err.contains("x/config.json"),
            "{err}"
        );
        for supported in SUPPORTED_MODEL_TYPES {
            assert!(err.contains(supported), "{err}");
        }
    }

    #[test]
    fn roberta_positions_leave_room_for_the_offset() {
        let c = parse(
            r#"{"model_type": "xlm-roberta", "vocab_size": 10, "hidden_size": 8,
                "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
                "max_position_embeddings": 514, "pad_token_id": 1}"#,
        )
        .unwrap();
        assert_eq!(c.max_tokens(), 512);
    }
}
