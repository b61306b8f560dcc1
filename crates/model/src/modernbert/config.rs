//! `config.json` of a ModernBERT checkpoint, in transformers 4.x's spelling of the attention
//! pattern and rotary thetas (`global_attn_every_n_layers`, `global_rope_theta`,
//! `local_rope_theta`) or 5.x's (`layer_types`, `rope_parameters`), which 5.x writes and reads
//! first.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::layers::Activation;

/// Whether a layer attends to the whole text or to a window around each token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerType {
    FullAttention,
    SlidingAttention,
}

/// One layer type's rotary parameters (transformers' `RopeParameters`; only the default
/// `rope_type` is supported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeParameters {
    #[serde(default = "default_rope_type")]
    pub rope_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
}

/// transformers 5's `rope_parameters` of ModernBERT: one entry per layer type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModernBertRope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_attention: Option<RopeParameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_attention: Option<RopeParameters>,
}

/// Mirrors the keys of Hugging Face `ModernBertConfig`: the architecture keys are required, the
/// rest default as transformers 5.24 does when a checkpoint omits them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModernBertConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    #[serde(default = "default_hidden_activation")]
    pub hidden_activation: Activation,
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: i64,
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    #[serde(default = "default_norm_eps")]
    pub norm_eps: f64,
    #[serde(default)]
    pub norm_bias: bool,
    #[serde(default = "default_pad_token_id")]
    pub pad_token_id: Option<i64>,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub attention_dropout: f64,
    #[serde(default)]
    pub embedding_dropout: f64,
    #[serde(default)]
    pub mlp_bias: bool,
    #[serde(default)]
    pub mlp_dropout: f64,
    /// The total window of local layers: a token sees `local_attention / 2` on each side.
    #[serde(default = "default_local_attention")]
    pub local_attention: i64,
    /// 5.x: every layer's type. Absent: every `global_attn_every_n_layers`-th layer (from
    /// layer 0) attends globally, the others locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_types: Option<Vec<LayerType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_attn_every_n_layers: Option<i64>,
    /// 5.x: the thetas; where absent, the 4.x keys, then 160 000 (global) and 10 000 (local).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_parameters: Option<ModernBertRope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_rope_theta: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_rope_theta: Option<f64>,
    #[serde(default = "default_model_type")]
    pub model_type: String,
}

fn default_hidden_activation() -> Activation {
    Activation::Gelu
}
fn default_max_position_embeddings() -> i64 {
    8192
}
fn default_initializer_range() -> f64 {
    0.02
}
fn default_norm_eps() -> f64 {
    1e-5
}
fn default_pad_token_id() -> Option<i64> {
    Some(50283)
}
fn default_local_attention() -> i64 {
    128
}
fn default_rope_type() -> String {
    "default".into()
}
fn default_model_type() -> String {
    "modernbert".into()
}

/// transformers' `global_attn_every_n_layers` default.
const DEFAULT_GLOBAL_EVERY: i64 = 3;
/// `ModernBertConfig.default_theta`.
const DEFAULT_GLOBAL_THETA: f64 = 160_000.0;
const DEFAULT_LOCAL_THETA: f64 = 10_000.0;

impl ModernBertConfig {
    /// Parses and validates the JSON of `config.json` (read from `path`, named in errors).
    pub fn from_json(raw: &serde_json::Value, path: &Path) -> Result<Self> {
        crate::config_json::parse_config(raw, path, "a ModernBERT config", Self::validate)
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        use crate::config_json::{check_sizes, MAX_LAYERS, MAX_ROWS, MAX_WIDTH};
        check_sizes(&[
            ("vocab_size", self.vocab_size, MAX_ROWS),
            ("hidden_size", self.hidden_size, MAX_WIDTH),
            ("intermediate_size", self.intermediate_size, MAX_WIDTH),
            ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
            ("num_attention_heads", self.num_attention_heads, MAX_WIDTH),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_ROWS,
            ),
            ("local_attention", self.local_attention, MAX_ROWS),
        ])?;
        crate::config_json::check_positive(&[(
            "global_attn_every_n_layers",
            self.global_attn_every_n_layers
                .unwrap_or(DEFAULT_GLOBAL_EVERY),
        )])?;
        if self.hidden_size % self.num_attention_heads != 0 || self.head_dim() % 2 != 0 {
            return Err(format!(
                "hidden_size {} must be num_attention_heads {} times an even head size",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if let Some(types) = &self.layer_types {
            if types.len() as i64 != self.num_hidden_layers {
                return Err(format!(
                    "key layer_types has {} entries for num_hidden_layers {}",
                    types.len(),
                    self.num_hidden_layers
                ));
            }
        }
        let rope = self.rope_parameters.as_ref();
        for params in rope
            .iter()
            .flat_map(|r| [&r.full_attention, &r.sliding_attention])
        {
            if let Some(p) = params.as_ref().filter(|p| p.rope_type != "default") {
                return Err(format!(
                    "key rope_parameters: rope_type {:?} is not supported (only \"default\")",
                    p.rope_type
                ));
            }
        }
        for (key, p) in [
            ("attention_dropout", self.attention_dropout),
            ("embedding_dropout", self.embedding_dropout),
            ("mlp_dropout", self.mlp_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("key {key} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }

    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads.max(1)
    }

    /// Layer `i`'s type: `layer_types[i]`, else global on every
    /// `global_attn_every_n_layers`-th layer counted from 0.
    pub fn layer_type(&self, i: i64) -> LayerType {
        if let Some(t) = self.layer_types.as_ref().and_then(|t| t.get(i as usize)) {
            return *t;
        }
        let every = self
            .global_attn_every_n_layers
            .unwrap_or(DEFAULT_GLOBAL_EVERY)
            .max(1);
        if i % every == 0 {
            LayerType::FullAttention
        } else {
            LayerType::SlidingAttention
        }
    }

    /// The rotary theta of a layer type, read as transformers 5 resolves it.
    pub fn rope_theta(&self, layer_type: LayerType) -> f64 {
        let rope = self.rope_parameters.as_ref();
        let (params, legacy, default) = match layer_type {
            LayerType::FullAttention => (
                rope.and_then(|r| r.full_attention.as_ref()),
                self.global_rope_theta,
                DEFAULT_GLOBAL_THETA,
            ),
            LayerType::SlidingAttention => (
                rope.and_then(|r| r.sliding_attention.as_ref()),
                self.local_rope_theta,
                DEFAULT_LOCAL_THETA,
            ),
        };
        params
            .and_then(|p| p.rope_theta)
            .or(legacy)
            .unwrap_or(default)
    }

    /// How far a token of a local layer sees on each side (`local_attention / 2`,
    /// transformers' `sliding_window`).
    pub fn half_window(&self) -> i64 {
        self.local_attention / 2
    }

    /// The JSON written for a model created in code rather than loaded.
    pub fn to_hf_json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "architectures".into(),
                serde_json::json!(["ModernBertModel"]),
            );
        }
        value
    }

    /// A tiny random-initialisable ModernBERT (3 layers, global attention on 0 and 2, a window
    /// of 2 either side on 1), for tests and examples.
    pub fn tiny(vocab_size: i64) -> Self {
        ModernBertConfig {
            vocab_size,
            hidden_size: 32,
            intermediate_size: 48,
            num_hidden_layers: 3,
            num_attention_heads: 4,
            hidden_activation: Activation::Gelu,
            max_position_embeddings: 128,
            initializer_range: 0.02,
            norm_eps: 1e-5,
            norm_bias: false,
            pad_token_id: Some(0),
            attention_bias: false,
            attention_dropout: 0.1,
            embedding_dropout: 0.1,
            mlp_bias: false,
            mlp_dropout: 0.1,
            local_attention: 4,
            layer_types: None,
            global_attn_every_n_layers: Some(2),
            rope_parameters: None,
            global_rope_theta: Some(160_000.0),
            local_rope_theta: Some(10_000.0),
            model_type: "modernbert".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#""vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
                           "num_hidden_layers": 4, "num_attention_heads": 2"#;

    #[test]
    fn transformers_4_spelling() {
        let c: ModernBertConfig = serde_json::from_str(&format!(
            r#"{{{BASE}, "global_attn_every_n_layers": 2, "global_rope_theta": 5.0,
                 "local_rope_theta": 7.0}}"#
        ))
        .unwrap();
        let types: Vec<_> = (0..4).map(|i| c.layer_type(i)).collect();
        use LayerType::*;
        assert_eq!(
            types,
            [
                FullAttention,
                SlidingAttention,
                FullAttention,
                SlidingAttention
            ]
        );
        assert_eq!(c.rope_theta(FullAttention), 5.0);
        assert_eq!(c.rope_theta(SlidingAttention), 7.0);
        let c: ModernBertConfig = serde_json::from_str(&format!("{{{BASE}}}")).unwrap();
        assert_eq!(c.layer_type(3), FullAttention);
        assert_eq!(c.rope_theta(FullAttention), 160_000.0);
        assert_eq!((c.norm_bias, c.half_window()), (false, 64));
    }

    #[test]
    fn transformers_5_spelling_wins() {
        let c: ModernBertConfig = serde_json::from_str(&format!(
            r#"{{{BASE}, "global_attn_every_n_layers": 3,
                 "layer_types": ["sliding_attention", "full_attention", "full_attention",
                                 "sliding_attention"],
                 "rope_parameters": {{"full_attention": {{"rope_type": "default", "rope_theta": 9.0}},
                                      "sliding_attention": {{"rope_type": "default", "rope_theta": 3.0}}}},
                 "global_rope_theta": 1.0}}"#
        ))
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.layer_type(0), LayerType::SlidingAttention);
        assert_eq!(c.layer_type(1), LayerType::FullAttention);
        assert_eq!(c.rope_theta(LayerType::FullAttention), 9.0);
        assert_eq!(c.rope_theta(LayerType::SlidingAttention), 3.0);
    }

    #[test]
    fn rejects_unsupported_rope_and_layer_counts() {
        let c: ModernBertConfig = serde_json::from_str(&format!(
            r#"{{{BASE}, "rope_parameters": {{"full_attention": {{"rope_type": "yarn"}}}}}}"#
        ))
        .unwrap();
        assert!(c.validate().unwrap_err().contains("yarn"));
        let c: ModernBertConfig =
            serde_json::from_str(&format!(r#"{{{BASE}, "layer_types": ["full_attention"]}}"#))
                .unwrap();
        assert!(c.validate().unwrap_err().contains("layer_types"));
    }
}
