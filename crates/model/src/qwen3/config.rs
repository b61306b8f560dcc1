//! `config.json` of a Qwen3 checkpoint (Qwen3-Embedding's architecture).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::layers::Activation;

/// transformers 5's `rope_parameters` of Qwen3 (only the default `rope_type` is supported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen3Rope {
    #[serde(default = "default_rope_type")]
    pub rope_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
}

/// Mirrors the keys of Hugging Face `Qwen3Config`: the architecture keys are required, the rest
/// default as transformers 5.24's dataclass does when a checkpoint omits them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen3Config {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    /// `null` means `num_attention_heads` (no grouping).
    #[serde(default = "default_num_key_value_heads")]
    pub num_key_value_heads: Option<i64>,
    #[serde(default = "default_head_dim")]
    pub head_dim: i64,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: Activation,
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: i64,
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// 5.x; where absent, 4.x's `rope_theta`, else 10 000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_parameters: Option<Qwen3Rope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
    /// 4.x's scaling of the default rope; only `null` is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_scaling: Option<Value>,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub attention_dropout: f64,
    /// Sliding-window layers are not supported: must be false, and `layer_types` (if given)
    /// all `"full_attention"`.
    #[serde(default)]
    pub use_sliding_window: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_types: Option<Vec<String>>,
    #[serde(default)]
    pub pad_token_id: Option<i64>,
    #[serde(default = "default_model_type")]
    pub model_type: String,
}

fn default_num_key_value_heads() -> Option<i64> {
    Some(32)
}
fn default_head_dim() -> i64 {
    128
}
fn default_hidden_act() -> Activation {
    Activation::Silu
}
fn default_max_position_embeddings() -> i64 {
    32768
}
fn default_initializer_range() -> f64 {
    0.02
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_rope_type() -> String {
    "default".into()
}
fn default_model_type() -> String {
    "qwen3".into()
}

/// transformers' default `rope_theta`.
const DEFAULT_THETA: f64 = 10_000.0;

impl Qwen3Config {
    /// Parses and validates the JSON of `config.json` (read from `path`, named in errors).
    pub fn from_json(raw: &serde_json::Value, path: &Path) -> Result<Self> {
        crate::config_json::parse_config(raw, path, "a Qwen3 config", Self::validate)
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        use crate::config_json::{check_sizes, MAX_LAYERS, MAX_ROWS, MAX_WIDTH};
        check_sizes(&[
            ("vocab_size", self.vocab_size, MAX_ROWS),
            ("hidden_size", self.hidden_size, MAX_WIDTH),
            ("intermediate_size", self.intermediate_size, MAX_WIDTH),
            ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
            ("num_attention_heads", self.num_attention_heads, MAX_WIDTH),
            ("num_key_value_heads", self.kv_heads(), MAX_WIDTH),
            ("head_dim", self.head_dim, MAX_WIDTH),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_ROWS,
            ),
        ])?;
        if self.num_attention_heads % self.kv_heads() != 0 {
            return Err(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads,
                self.kv_heads()
            ));
        }
        if self.head_dim % 2 != 0 {
            return Err(format!(
                "key head_dim must be even (rotary), got {}",
                self.head_dim
            ));
        }
        if let Some(rope) = self
            .rope_parameters
            .as_ref()
            .filter(|r| r.rope_type != "default")
        {
            return Err(format!(
                "key rope_parameters: rope_type {:?} is not supported (only \"default\")",
                rope.rope_type
            ));
        }
        if let Some(scaling) = self.rope_scaling.as_ref().filter(|s| !s.is_null()) {
            return Err(format!(
                "key rope_scaling {scaling} is not supported (only null)"
            ));
        }
        let sliding = self
            .layer_types
            .iter()
            .flatten()
            .any(|t| t != "full_attention");
        if self.use_sliding_window || sliding {
            return Err(
                "sliding-window layers (use_sliding_window, layer_types other than \
                        \"full_attention\") are not supported"
                    .into(),
            );
        }
        if !(0.0..1.0).contains(&self.attention_dropout) {
            return Err(format!(
                "key attention_dropout must be in [0, 1), got {}",
                self.attention_dropout
            ));
        }
        Ok(())
    }

    /// Key/value heads: `num_key_value_heads`, or `num_attention_heads` where it is null.
    pub fn kv_heads(&self) -> i64 {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// `rope_parameters.rope_theta`, else 4.x's `rope_theta`, else 10 000.
    pub fn theta(&self) -> f64 {
        self.rope_parameters
            .as_ref()
            .and_then(|r| r.rope_theta)
            .or(self.rope_theta)
            .unwrap_or(DEFAULT_THETA)
    }

    /// The JSON written for a model created in code rather than loaded.
    pub fn to_hf_json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.insert("architectures".into(), serde_json::json!(["Qwen3Model"]));
        }
        value
    }

    /// A tiny random-initialisable Qwen3 (4 query heads sharing 2 key/value heads), for tests
    /// and examples.
    pub fn tiny(vocab_size: i64) -> Self {
        Qwen3Config {
            vocab_size,
            hidden_size: 32,
            intermediate_size: 64,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: Some(2),
            head_dim: 16,
            hidden_act: Activation::Silu,
            max_position_embeddings: 128,
            initializer_range: 0.02,
            rms_norm_eps: 1e-6,
            rope_parameters: Some(Qwen3Rope {
                rope_type: "default".into(),
                rope_theta: Some(DEFAULT_THETA),
            }),
            rope_theta: None,
            rope_scaling: None,
            attention_bias: false,
            attention_dropout: 0.1,
            use_sliding_window: false,
            layer_types: None,
            pad_token_id: Some(0),
            model_type: "qwen3".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#""vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
                           "num_hidden_layers": 1, "num_attention_heads": 4"#;

    #[test]
    fn thetas_in_either_spelling_and_kv_head_defaults() {
        let c: Qwen3Config = serde_json::from_str(&format!(
            r#"{{{BASE}, "num_key_value_heads": 2, "rope_theta": 5.0, "rope_scaling": null}}"#
        ))
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!((c.theta(), c.kv_heads(), c.head_dim), (5.0, 2, 128));
        let c: Qwen3Config = serde_json::from_str(&format!(
            r#"{{{BASE}, "num_key_value_heads": null,
                 "rope_parameters": {{"rope_type": "default", "rope_theta": 7.0}}}}"#
        ))
        .unwrap();
        assert_eq!((c.theta(), c.kv_heads()), (7.0, 4));
    }

    #[test]
    fn rejects_what_it_does_not_compute() {
        for extra in [
            r#""num_key_value_heads": 3"#,
            r#""num_key_value_heads": 2, "rope_parameters": {"rope_type": "yarn", "rope_theta": 1.0}"#,
            r#""num_key_value_heads": 2, "use_sliding_window": true"#,
            r#""num_key_value_heads": 2, "layer_types": ["sliding_attention"]"#,
            r#""num_key_value_heads": 2, "rope_scaling": {"factor": 2.0}"#,
        ] {
            let c: Qwen3Config = serde_json::from_str(&format!("{{{BASE}, {extra}}}")).unwrap();
            assert!(c.validate().is_err(), "{extra}");
        }
    }
}
