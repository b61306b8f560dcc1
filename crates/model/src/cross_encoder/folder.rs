//! Cross-encoder folders: where the Transformer module is, which activation the folder
//! stores, and the files of sentence-transformers 6.x's modular layout that saving writes.
//!
//! Layouts sentence-transformers 6.3 loads as a `CrossEncoder`:
//! - 6.x (modular): `modules.json` with one Transformer at path `""`, its
//!   `sentence_bert_config.json` with `"transformer_task": "sequence-classification"`, and
//!   `config_sentence_transformers.json` with `"model_type": "CrossEncoder"` and the
//!   activation's class path under `activation_fn`.
//! - v4 to 5.x: no `modules.json`, the transformers files at the root, the activation under
//!   `config.json`'s `"sentence_transformers": {"activation_fn": …}`.
//! - before v4: the same, the activation under `config.json`'s
//!   `sbert_ce_default_activation_function`.
//! - another model type's folder (a bi-encoder's): its Transformer under a new head,
//!   ignoring its `config_sentence_transformers.json` (prompts, similarity) as
//!   sentence-transformers does when it converts a model.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::activation::ScoreActivation;
use crate::error::{read_json, Error, Result};
use crate::modules::{first_transformer, read_modules};
use crate::transformer_folder::SEQUENCE_CLASSIFICATION;

/// `config_sentence_transformers.json`'s `model_type` of a cross-encoder.
pub(crate) const CROSS_ENCODER: &str = "CrossEncoder";

/// The class path 6.x writes for the Transformer module.
pub(crate) const TRANSFORMER_TYPE: &str =
    "sentence_transformers.base.modules.transformer.Transformer";

/// Where a folder keeps its cross-encoder.
#[derive(Debug)]
pub(crate) struct Located {
    /// The Transformer module's folder.
    pub(crate) transformer_dir: PathBuf,
    /// `config_sentence_transformers.json` of a cross-encoder folder (not of a converted one).
    pub(crate) st_config: Option<(PathBuf, Value)>,
}

/// Finds the Transformer module of `dir`. A `modules.json` of a cross-encoder may hold only
/// the Transformer (a score head of other modules is not supported); one of another model
/// type gives its first module, a Transformer, to build on.
pub(crate) fn locate(dir: &Path) -> Result<Located> {
    if !dir.is_dir() {
        return Err(Error::MissingFile {
            path: dir.to_path_buf(),
        });
    }
    let st_config_path = dir.join("config_sentence_transformers.json");
    let st_config: Option<Value> = if st_config_path.is_file() {
        Some(read_json(
            &st_config_path,
            "a sentence-transformers config",
        )?)
    } else {
        None
    };
    let model_type = match st_config.as_ref().and_then(|c| c.get("model_type")) {
        None => "SentenceTransformer".to_string(),
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            return Err(Error::Config {
                path: st_config_path,
                message: format!("key model_type must be a string, got {other}"),
            })
        }
    };
    let modules_file = dir.join("modules.json");
    let Some(entries) = read_modules(dir)? else {
        // v4–5.x cross-encoders and plain transformers folders: everything at the root.
        return Ok(Located {
            transformer_dir: dir.to_path_buf(),
            st_config: st_config.map(|c| (st_config_path, c)),
        });
    };
    let first = first_transformer(&entries, &modules_file)?;
    let transformer_dir = dir.join(&first.path);
    if model_type != CROSS_ENCODER {
        return Ok(Located {
            transformer_dir,
            st_config: None,
        });
    }
    if let Some(extra) = entries.get(1) {
        return Err(Error::Config {
            path: modules_file,
            message: format!(
                "module {} ({}) after the Transformer is not supported in a cross-encoder; \
                 this crate runs cross-encoders whose Transformer computes the scores \
                 (transformers' *ForSequenceClassification)",
                extra.idx, extra.module_type
            ),
        });
    }
    Ok(Located {
        transformer_dir,
        st_config: st_config.map(|c| (st_config_path, c)),
    })
}

/// The activation a folder stores, in sentence-transformers' order: 6.x's
/// `config_sentence_transformers.json` `activation_fn`, then `config.json`'s
/// `sentence_transformers.activation_fn` (v4–5.x; when that entry has the key, even null, it
/// decides), then its `sbert_ce_default_activation_function` (before v4). `None`: none
/// stored.
///
/// A path outside `torch.` is an error here where sentence-transformers, without
/// `trust_remote_code`, falls back to its default with a warning: scores under another
/// activation than the author's would be silently different. The caller's own choice
/// ([`CrossEncoderOptions::activation`](super::CrossEncoderOptions)) is the way round it.
pub(crate) fn stored_activation(
    located: &Located,
    config_json: &Value,
    config_path: &Path,
) -> Result<Option<ScoreActivation>> {
    let st_config = located.st_config.as_ref().and_then(|(path, config)| {
        Some((path, config.get("activation_fn").filter(|v| !v.is_null())?))
    });
    // config.json's `sentence_transformers` entry decides once it has the key, even a null
    // one (then the default, without looking further), as sentence-transformers reads it.
    let v4 = config_json
        .get("sentence_transformers")
        .and_then(|st| st.get("activation_fn"));
    let found = match (st_config, v4) {
        (Some((path, value)), _) => Some((path.as_path(), "activation_fn", value)),
        (None, Some(Value::Null)) => None,
        (None, Some(value)) => Some((config_path, "sentence_transformers.activation_fn", value)),
        (None, None) => config_json
            .get("sbert_ce_default_activation_function")
            .filter(|v| !v.is_null())
            .map(|value| (config_path, "sbert_ce_default_activation_function", value)),
    };
    let Some((path, key, value)) = found else {
        return Ok(None);
    };
    let class_path = value.as_str().ok_or_else(|| Error::Config {
        path: path.to_path_buf(),
        message: format!("key {key} must be a torch class path, got {value}"),
    })?;
    match ScoreActivation::from_class_path(class_path) {
        Ok(Some(activation)) => Ok(Some(activation)),
        Ok(None) => Err(Error::Config {
            path: path.to_path_buf(),
            message: format!(
                "key {key} names {class_path:?}, which is not a torch activation module: \
                 sentence-transformers imports it only with trust_remote_code and otherwise \
                 uses its default; choose the activation explicitly (train-cli: --activation)"
            ),
        }),
        Err(message) => Err(Error::Config {
            path: path.to_path_buf(),
            message: format!("key {key}: {message}"),
        }),
    }
}

/// The label count of a transformers `config.json`: `id2label`'s size, else `num_labels`,
/// else transformers' default of 2.
pub(crate) fn config_num_labels(config_json: &Value, path: &Path) -> Result<i64> {
    let bad = |key: &str, found: &Value| Error::Config {
        path: path.to_path_buf(),
        message: format!(
            "key {key} must be a non-empty label map or a positive count, got {found}"
        ),
    };
    match (config_json.get("id2label"), config_json.get("num_labels")) {
        (Some(Value::Object(map)), _) if !map.is_empty() => Ok(map.len() as i64),
        (Some(v @ Value::Object(_)), _) => Err(bad("id2label", v)),
        (Some(Value::Null) | None, Some(n)) => n
            .as_i64()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad("num_labels", n)),
        (Some(Value::Null) | None, None) => Ok(2),
        (Some(v), _) => Err(bad("id2label", v)),
    }
}

/// `config.json` as transformers' `*ForSequenceClassification` of `num_labels` saves it: its
/// architecture, `id2label`/`label2id` (kept when they already have that many labels), and
/// without the activation keys of older layouts (6.x keeps it beside, in
/// `config_sentence_transformers.json`).
pub(crate) fn task_config_json(
    mut config_json: Value,
    architecture: &str,
    num_labels: i64,
) -> Value {
    if let Some(map) = config_json.as_object_mut() {
        map.insert("architectures".into(), json!([architecture]));
        let labels_fit = map
            .get("id2label")
            .and_then(Value::as_object)
            .is_some_and(|m| m.len() as i64 == num_labels);
        if !labels_fit {
            let id2label: serde_json::Map<String, Value> = (0..num_labels)
                .map(|i| (i.to_string(), json!(format!("LABEL_{i}"))))
                .collect();
            let label2id: serde_json::Map<String, Value> = (0..num_labels)
                .map(|i| (format!("LABEL_{i}"), json!(i)))
                .collect();
            map.insert("id2label".into(), Value::Object(id2label));
            map.insert("label2id".into(), Value::Object(label2id));
        }
        map.remove("num_labels");
        map.remove("sentence_transformers");
        map.remove("sbert_ce_default_activation_function");
    }
    config_json
}

/// The 6.x `modules.json`: the Transformer alone, at the root.
pub(crate) fn modules_json() -> Value {
    json!([{ "idx": 0, "name": "0", "path": "", "type": TRANSFORMER_TYPE }])
}

/// The 6.x Transformer config of a cross-encoder.
pub(crate) fn sbert_config_json(max_seq_length: usize, do_lower_case: bool) -> Value {
    json!({
        "max_seq_length": max_seq_length,
        "do_lower_case": do_lower_case,
        "transformer_task": SEQUENCE_CLASSIFICATION,
        "modality_config": { "text": { "method": "forward", "method_output_name": "logits" } },
        "module_output_name": "scores",
    })
}

/// `config_sentence_transformers.json` of a 6.x cross-encoder: the loaded one's keys (its
/// prompts above all) with the model type and activation set.
pub(crate) fn st_config_json(loaded: Option<&Value>, activation: ScoreActivation) -> Value {
    let mut config = loaded.cloned().unwrap_or_else(|| {
        json!({
            "__version__": { "sentence_transformers": "6.3.0", "transformers": "5.0.0", "pytorch": "2.11.0" },
            "prompts": {},
            "default_prompt_name": null,
        })
    });
    if let Some(map) = config.as_object_mut() {
        map.insert("model_type".into(), json!(CROSS_ENCODER));
        map.insert("activation_fn".into(), json!(activation.class_path()));
        map.remove("similarity_fn_name");
    }
    config
}

/// transformers' class name of the architecture's sequence-classification model.
pub(crate) fn architecture_name(model_type: &str) -> &'static str {
    match model_type {
        "roberta" => "RobertaForSequenceClassification",
        "xlm-roberta" => "XLMRobertaForSequenceClassification",
        "mpnet" => "MPNetForSequenceClassification",
        "distilbert" => "DistilBertForSequenceClassification",
        "modernbert" => "ModernBertForSequenceClassification",
        "qwen3" => "Qwen3ForSequenceClassification",
        _ => "BertForSequenceClassification",
    }
}

/// Whether `config.json` describes a causal language model (a reranker that scores by the
/// logits of "yes"/"no", sentence-transformers' `LogitScore`), which this crate does not run.
pub(crate) fn is_causal_lm(config_json: &Value) -> bool {
    config_json
        .get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .is_some_and(|a| a.ends_with("ForCausalLM"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_counts_follow_transformers() {
        let p = Path::new("config.json");
        let n = |v: Value| config_num_labels(&v, p);
        assert_eq!(
            n(json!({"id2label": {"0": "a", "1": "b", "2": "c"}})).unwrap(),
            3
        );
        assert_eq!(n(json!({"num_labels": 1})).unwrap(), 1);
        assert_eq!(n(json!({})).unwrap(), 2);
        let err = n(json!({"num_labels": 0})).unwrap_err().to_string();
        assert!(
            err.contains("num_labels") && err.contains("config.json"),
            "{err}"
        );
        let err = n(json!({"id2label": "x"})).unwrap_err().to_string();
        assert!(err.contains("id2label"), "{err}");
    }

    #[test]
    fn task_config_sets_labels_and_drops_old_activation_keys() {
        let raw = json!({
            "model_type": "bert", "num_labels": 2,
            "sentence_transformers": {"activation_fn": "torch.nn.modules.activation.Tanh"},
            "sbert_ce_default_activation_function": "torch.nn.modules.linear.Identity",
        });
        let c = task_config_json(raw, "BertForSequenceClassification", 1);
        assert_eq!(c["architectures"], json!(["BertForSequenceClassification"]));
        assert_eq!(c["id2label"], json!({"0": "LABEL_0"}));
        assert_eq!(c["label2id"], json!({"LABEL_0": 0}));
        assert!(c.get("sentence_transformers").is_none());
        assert!(c.get("sbert_ce_default_activation_function").is_none());
        assert_eq!(config_num_labels(&c, Path::new("c")).unwrap(), 1);
        let named = json!({"id2label": {"0": "contradiction", "1": "entailment", "2": "neutral"}});
        let c = task_config_json(named.clone(), "BertForSequenceClassification", 3);
        assert_eq!(c["id2label"], named["id2label"]);
    }
}
