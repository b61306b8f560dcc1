//! `config.json` of a DistilBERT checkpoint, with DistilBERT's own key names.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::layers::Activation;

/// Mirrors the keys of Hugging Face `DistilBertConfig` (`dim`, `n_layers`, `n_heads`,
/// `hidden_dim`, `activation`, …): the architecture keys are required, the rest default as
/// transformers does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistilBertConfig {
    pub vocab_size: i64,
    pub dim: i64,
    pub n_layers: i64,
    pub n_heads: i64,
    pub hidden_dim: i64,
    #[serde(default = "default_activation")]
    pub activation: Activation,
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    #[serde(default = "default_dropout")]
    pub attention_dropout: f64,
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: i64,
    /// Whether the position table was initialised with sinusoids; a checkpoint stores the
    /// table either way, and it is loaded like any weight.
    #[serde(default)]
    pub sinusoidal_pos_embds: bool,
    #[serde(default)]
    pub pad_token_id: i64,
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    #[serde(default = "default_model_type")]
    pub model_type: String,
}

fn default_activation() -> Activation {
    Activation::Gelu
}
fn default_dropout() -> f64 {
    0.1
}
fn default_max_position_embeddings() -> i64 {
    512
}
fn default_initializer_range() -> f64 {
    0.02
}
fn default_model_type() -> String {
    "distilbert".into()
}

impl DistilBertConfig {
    /// DistilBERT's LayerNorms use a fixed epsilon (not in its config).
    pub const LAYER_NORM_EPS: f64 = 1e-12;

    /// Parses and validates the JSON of `config.json` (read from `path`, named in errors).
    pub fn from_json(raw: &serde_json::Value, path: &Path) -> Result<Self> {
        crate::config_json::parse_config(raw, path, "a DistilBERT config", Self::validate)
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        use crate::config_json::{check_sizes, MAX_LAYERS, MAX_ROWS, MAX_WIDTH};
        check_sizes(&[
            ("vocab_size", self.vocab_size, MAX_ROWS),
            ("dim", self.dim, MAX_WIDTH),
            ("n_layers", self.n_layers, MAX_LAYERS),
            ("n_heads", self.n_heads, MAX_WIDTH),
            ("hidden_dim", self.hidden_dim, MAX_WIDTH),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_ROWS,
            ),
        ])?;
        if self.dim % self.n_heads != 0 {
            return Err(format!(
                "dim {} is not a multiple of n_heads {}",
                self.dim, self.n_heads
            ));
        }
        for (key, p) in [
            ("dropout", self.dropout),
            ("attention_dropout", self.attention_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("key {key} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }

    /// The JSON written for a model created in code rather than loaded.
    pub fn to_hf_json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "architectures".into(),
                serde_json::json!(["DistilBertModel"]),
            );
        }
        value
    }

    /// A tiny random-initialisable DistilBERT, for tests and examples.
    pub fn tiny(vocab_size: i64) -> Self {
        DistilBertConfig {
            vocab_size,
            dim: 32,
            n_layers: 2,
            n_heads: 4,
            hidden_dim: 64,
            activation: Activation::Gelu,
            dropout: 0.1,
            attention_dropout: 0.1,
            max_position_embeddings: 128,
            sinusoidal_pos_embds: false,
            pad_token_id: 0,
            initializer_range: 0.02,
            model_type: "distilbert".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_distilbert_key_names() {
        let json = r#"{"vocab_size": 10, "dim": 8, "n_layers": 1, "n_heads": 2,
                       "hidden_dim": 16, "activation": "relu"}"#;
        let c: DistilBertConfig = serde_json::from_str(json).unwrap();
        assert_eq!(c.activation, Activation::Relu);
        assert_eq!(c.max_position_embeddings, 512);
        let bad = r#"{"vocab_size": 10, "hidden_size": 8, "n_layers": 1, "n_heads": 2,
                      "hidden_dim": 16}"#;
        let err = serde_json::from_str::<DistilBertConfig>(bad).unwrap_err();
        assert!(err.to_string().contains("dim"), "{err}");
    }
}
