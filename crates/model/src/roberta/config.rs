//! `config.json` of RoBERTa and XLM-RoBERTa checkpoints: BERT's keys with RoBERTa's defaults.

use std::path::Path;

use serde_json::Value;

use crate::bert::BertConfig;
use crate::error::{Error, Result};

/// RoBERTa's and XLM-R's config (`model_type` `"roberta"` or `"xlm-roberta"`): the keys of
/// `BertConfig`, where `pad_token_id` (default 1) is also the position table's padding row.
#[derive(Debug, Clone, PartialEq)]
pub struct RobertaConfig {
    pub bert: BertConfig,
}

impl RobertaConfig {
    /// Parses and validates the JSON of `config.json` (read from `path`, named in errors).
    pub fn from_json(raw: &Value, path: &Path) -> Result<Self> {
        let mut raw = raw.clone();
        if let Some(map) = raw.as_object_mut() {
            // transformers' RobertaConfig default, unlike BERT's 0
            map.entry("pad_token_id").or_insert(Value::from(1));
        }
        let bert: BertConfig = serde_json::from_value(raw).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            what: "a RoBERTa config",
            source,
        })?;
        let config = RobertaConfig { bert };
        config.validate().map_err(|message| Error::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    /// BERT's checks, and room in the position table for the offset numbering.
    pub fn validate(&self) -> std::result::Result<(), String> {
        self.bert.validate()?;
        let (pad, positions) = (self.bert.pad_token_id, self.bert.max_position_embeddings);
        if pad < 0 || pad + 1 >= positions {
            return Err(format!(
                "pad_token_id {pad} must be in [0, max_position_embeddings - 1) = [0, {}): \
                 RoBERTa numbers positions from pad_token_id + 1",
                positions - 1
            ));
        }
        Ok(())
    }

    /// The position table's padding row; real tokens are numbered from one past it.
    pub fn padding_idx(&self) -> i64 {
        self.bert.pad_token_id
    }

    /// The JSON written for a model created in code rather than loaded.
    pub fn to_hf_json(&self) -> Value {
        let class = if self.bert.model_type == "xlm-roberta" {
            "XLMRobertaModel"
        } else {
            "RobertaModel"
        };
        let mut value = self.bert.to_hf_json();
        if let Some(map) = value.as_object_mut() {
            map.insert("architectures".into(), serde_json::json!([class]));
        }
        value
    }

    /// A tiny random-initialisable RoBERTa, for tests and examples.
    pub fn tiny(vocab_size: i64) -> Self {
        RobertaConfig {
            bert: BertConfig {
                max_position_embeddings: 130,
                type_vocab_size: 1,
                layer_norm_eps: 1e-5,
                pad_token_id: 1,
                model_type: "roberta".into(),
                ..BertConfig::tiny(vocab_size)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_pad_token_id_defaults_to_one() {
        let raw: Value = serde_json::from_str(
            r#"{"model_type": "roberta", "vocab_size": 10, "hidden_size": 8,
                "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16}"#,
        )
        .unwrap();
        let c = RobertaConfig::from_json(&raw, Path::new("config.json")).unwrap();
        assert_eq!(c.padding_idx(), 1);
    }

    #[test]
    fn position_table_must_leave_room_for_the_offset() {
        let mut c = RobertaConfig::tiny(10);
        c.bert.max_position_embeddings = 2;
        assert!(c.validate().unwrap_err().contains("pad_token_id"));
    }
}
