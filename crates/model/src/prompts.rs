//! Prompts: `config_sentence_transformers.json`'s `prompts` (name → text prepended to every
//! input) and `default_prompt_name`, resolved as sentence-transformers 6 resolves them.
//!
//! Training applies no prompt (as sentence-transformers, unless its training arguments name
//! one); a per-column prompt in training configs is a later step.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{read_json, Error, Result};

/// The prompt names every sentence-transformers 6 model knows, with an empty text unless the
/// config gives one (`SentenceTransformer._default_prompts`).
const BUILT_IN_NAMES: [&str; 2] = ["query", "document"];

/// The part of `config_sentence_transformers.json` this crate reads; the rest is kept as
/// loaded and written back on save.
#[derive(Debug, Default, Deserialize)]
struct StConfigFile {
    /// A `null` text is an empty prompt, as sentence-transformers reads it.
    #[serde(default)]
    prompts: BTreeMap<String, Option<String>>,
    #[serde(default)]
    default_prompt_name: Option<String>,
}

/// Which prompt an `encode` call uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PromptChoice {
    /// The model's `default_prompt_name`, or none when it has none.
    #[default]
    Default,
    /// A prompt of the model's `prompts`, by name.
    Name(String),
    /// This text (an empty one means no prompt).
    Text(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompts {
    prompts: BTreeMap<String, String>,
    default_name: Option<String>,
}

impl Prompts {
    /// The prompts of a model without a config: the built-in names, empty.
    pub(crate) fn built_in() -> Self {
        Prompts {
            prompts: BUILT_IN_NAMES
                .iter()
                .map(|n| (n.to_string(), String::new()))
                .collect(),
            default_name: None,
        }
    }

    /// Reads `path` (a model without one has the built-in empty prompts). A
    /// `default_prompt_name` that names no prompt is an error, as in sentence-transformers.
    pub(crate) fn from_file(path: &Path) -> Result<Self> {
        let file: StConfigFile = if path.is_file() {
            read_json(path, "a sentence-transformers config")?
        } else {
            StConfigFile::default()
        };
        let mut prompts = Self::built_in().prompts;
        for (name, text) in file.prompts {
            prompts.insert(name, text.unwrap_or_default());
        }
        let out = Prompts {
            prompts,
            default_name: file.default_prompt_name,
        };
        if let Some(name) = &out.default_name {
            if !out.prompts.contains_key(name) {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    message: format!(
                        "key default_prompt_name {name:?} names no prompt (known: {})",
                        out.names()
                    ),
                });
            }
        }
        Ok(out)
    }

    /// Prompt names and texts.
    pub fn prompts(&self) -> &BTreeMap<String, String> {
        &self.prompts
    }

    pub fn default_name(&self) -> Option<&str> {
        self.default_name.as_deref()
    }

    fn names(&self) -> String {
        self.prompts
            .keys()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The text to prepend, or `None` for no prompt.
    pub fn resolve<'a>(&'a self, choice: &'a PromptChoice) -> Result<Option<&'a str>> {
        let text = match choice {
            PromptChoice::Text(text) => Some(text.as_str()),
            PromptChoice::Name(name) => Some(
                self.prompts
                    .get(name)
                    .ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "unknown prompt name {name:?} (known: {})",
                            self.names()
                        ))
                    })?
                    .as_str(),
            ),
            PromptChoice::Default => self
                .default_name
                .as_ref()
                .and_then(|name| self.prompts.get(name))
                .map(String::as_str),
        };
        Ok(text.filter(|t| !t.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompts(json: &str) -> Result<Prompts> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config_sentence_transformers.json");
        std::fs::write(&path, json).unwrap();
        Prompts::from_file(&path)
    }

    #[test]
    fn resolves_as_sentence_transformers() {
        let p = prompts(
            r#"{"prompts": {"query": "query: ", "document": "passage: ", "x": null}, "default_prompt_name": "query"}"#,
        )
        .unwrap();
        assert_eq!(p.resolve(&PromptChoice::Default).unwrap(), Some("query: "));
        let name = PromptChoice::Name("document".into());
        assert_eq!(p.resolve(&name).unwrap(), Some("passage: "));
        assert_eq!(p.resolve(&PromptChoice::Name("x".into())).unwrap(), None);
        assert_eq!(p.resolve(&PromptChoice::Text(String::new())).unwrap(), None);
        let err = p
            .resolve(&PromptChoice::Name("passage".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"passage\"") && err.contains("\"document\", \"query\", \"x\""),
            "{err}"
        );
    }

    #[test]
    fn built_in_names_and_a_bad_default() {
        let p = prompts(r#"{"similarity_fn_name": "cosine"}"#).unwrap();
        assert_eq!(
            p.resolve(&PromptChoice::Name("query".into())).unwrap(),
            None
        );
        assert_eq!(p.resolve(&PromptChoice::Default).unwrap(), None);
        let err = prompts(r#"{"prompts": {"a": "b"}, "default_prompt_name": "c"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("default_prompt_name") && err.contains("\"a\""),
            "{err}"
        );
        let err = prompts(r#"{"prompts": {"a": 3}}"#).unwrap_err().to_string();
        assert!(err.contains("prompts.a"), "{err}");
    }
}
