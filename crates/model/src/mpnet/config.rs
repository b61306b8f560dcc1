//! `config.json` of an MPNet checkpoint.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::layers::Activation;

/// Mirrors the keys of Hugging Face `MPNetConfig`: the architecture keys are required, the
/// rest default as transformers does when a checkpoint omits them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MpnetConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: Activation,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: i64,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Rows of `encoder.relative_attention_bias`; the bucketing itself always uses 32.
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: i64,
    #[serde(default = "default_pad_token_id")]
    pub pad_token_id: i64,
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    #[serde(default = "default_model_type")]
    pub model_type: String,
}

fn default_hidden_act() -> Activation {
    Activation::Gelu
}
fn default_dropout() -> f64 {
    0.1
}
fn default_max_position_embeddings() -> i64 {
    512
}
fn default_layer_norm_eps() -> f64 {
    1e-12
}
fn default_buckets() -> i64 {
    super::relative_bias::NUM_BUCKETS
}
fn default_pad_token_id() -> i64 {
    1
}
fn default_initializer_range() -> f64 {
    0.02
}
fn default_model_type() -> String {
    "mpnet".into()
}

impl MpnetConfig {
    /// Parses and validates the JSON of `config.json` (read from `path`, named in errors).
    pub fn from_json(raw: &serde_json::Value, path: &Path) -> Result<Self> {
        crate::config_json::parse_config(raw, path, "an MPNet config", Self::validate)
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        use crate::config_json::{check_sizes, MAX_LAYERS, MAX_ROWS, MAX_WIDTH};
        check_sizes(&[
            ("vocab_size", self.vocab_size, MAX_ROWS),
            ("hidden_size", self.hidden_size, MAX_WIDTH),
            ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
            ("num_attention_heads", self.num_attention_heads, MAX_WIDTH),
            ("intermediate_size", self.intermediate_size, MAX_WIDTH),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_ROWS,
            ),
            (
                "relative_attention_num_buckets",
                self.relative_attention_num_buckets,
                MAX_ROWS,
            ),
        ])?;
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.max_position_embeddings <= super::PADDING_IDX + 1 {
            return Err(format!(
                "key max_position_embeddings must exceed {} (positions start at {}), got {}",
                super::PADDING_IDX + 1,
                super::PADDING_IDX + 1,
                self.max_position_embeddings
            ));
        }
        if self.relative_attention_num_buckets < super::relative_bias::NUM_BUCKETS {
            return Err(format!(
                "key relative_attention_num_buckets must be at least {} (MPNet always buckets \
                 relative positions into {}), got {}",
                super::relative_bias::NUM_BUCKETS,
                super::relative_bias::NUM_BUCKETS,
                self.relative_attention_num_buckets
            ));
        }
        for (key, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            (
                "attention_probs_dropout_prob",
                self.attention_probs_dropout_prob,
            ),
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
            map.insert("architectures".into(), serde_json::json!(["MPNetModel"]));
        }
        value
    }

    /// A tiny random-initialisable MPNet, for tests and examples.
    pub fn tiny(vocab_size: i64) -> Self {
        MpnetConfig {
            vocab_size,
            hidden_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 64,
            hidden_act: Activation::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 130,
            layer_norm_eps: 1e-12,
            relative_attention_num_buckets: 32,
            pad_token_id: 1,
            initializer_range: 0.02,
            model_type: "mpnet".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_gets_hf_defaults() {
        let json = r#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "intermediate_size": 16}"#;
        let c: MpnetConfig = serde_json::from_str(json).unwrap();
        assert_eq!(c.relative_attention_num_buckets, 32);
        assert_eq!(c.pad_token_id, 1);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn too_few_buckets_is_an_error() {
        let mut c = MpnetConfig::tiny(10);
        c.relative_attention_num_buckets = 16;
        assert!(c
            .validate()
            .unwrap_err()
            .contains("relative_attention_num_buckets"));
    }
}
