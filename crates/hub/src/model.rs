//! Resolving a sentence-transformers model name to a local folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tracing::debug;

use crate::client::HubClient;
use crate::error::{Error, Result};
use crate::repo::Repo;

/// Files a sentence-transformers folder may have besides `config.json` and
/// `model.safetensors`.
const OPTIONAL_FILES: [&str; 8] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "README.md",
    "added_tokens.json",
];

/// One entry of `modules.json`.
#[derive(Debug, Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    path: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// A local folder holding the model `model` names, as sentence-transformers would load it.
///
/// An existing directory is returned unchanged, without network. Anything else must be a hub
/// model id, optionally with a revision (`org/name@revision`): its `modules.json` (if any),
/// `config.json`, `model.safetensors`, the usual tokenizer and sentence-transformers files
/// (if present) and each module's `{path}/config.json` (if present; Dense modules also their
/// `{path}/model.safetensors`) are fetched into the cache, and the snapshot folder holding them
/// side by side is returned.
///
/// A repo that only has `pytorch_model.bin` is refused with [`Error::PickleCheckpoint`].
pub fn resolve_model(client: &HubClient, model: &str) -> Result<PathBuf> {
    let local = Path::new(model);
    if local.is_dir() {
        debug!(model, "local model directory");
        return Ok(local.to_path_buf());
    }
    let repo = parse_model_id(model).map_err(|source| Error::InvalidModel {
        model: model.to_owned(),
        source: Box::new(source),
    })?;

    let modules_json = client.get_optional(&repo, "modules.json")?;
    // From here on, the commit the first request resolved to (when the hub named one).
    let repo = client.pinned(&repo);
    let config = client.get(&repo, "config.json")?;
    match client.get(&repo, "model.safetensors") {
        Ok(_) => {}
        Err(Error::NotFound { .. }) if client.exists_remote(&repo, "pytorch_model.bin")? => {
            return Err(Error::PickleCheckpoint {
                repo: repo.id().to_owned(),
                revision: repo.revision().to_owned(),
            });
        }
        Err(e) => return Err(e),
    }
    for file in OPTIONAL_FILES {
        client.get_optional(&repo, file)?;
    }
    if let Some(modules_json) = modules_json {
        for module in read_modules(&modules_json)? {
            let dir = module.path.trim_end_matches('/');
            if dir.is_empty() {
                continue;
            }
            client.get_optional(&repo, &format!("{dir}/config.json"))?;
            if module.kind.ends_with("Dense") {
                client.get_optional(&repo, &format!("{dir}/model.safetensors"))?;
            }
        }
    }
    // config.json sits at the root of the snapshot folder.
    Ok(config
        .parent()
        .map_or_else(|| config.clone(), Path::to_path_buf))
}

/// `org/name` or `org/name@revision`.
fn parse_model_id(model: &str) -> Result<Repo> {
    match model.split_once('@') {
        Some((id, revision)) => Repo::model(id)?.with_revision(revision),
        None => Repo::model(model),
    }
}

fn read_modules(path: &Path) -> Result<Vec<ModuleEntry>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_with_revisions() {
        let r = parse_model_id("org/name@v1.0").unwrap();
        assert_eq!((r.id(), r.revision()), ("org/name", "v1.0"));
        let r = parse_model_id("bert-base-uncased").unwrap();
        assert_eq!((r.id(), r.revision()), ("bert-base-uncased", "main"));
        assert!(parse_model_id("org/name@").is_err());
        assert!(parse_model_id("./no/such/dir").is_err());
    }

    #[test]
    fn not_a_dir_nor_an_id() {
        let dir = tempfile::tempdir().unwrap();
        let client = HubClient::new("http://127.0.0.1:9", dir.path()).offline(true);
        let err = resolve_model(&client, "/no/such/model/dir").unwrap_err();
        assert!(matches!(err, Error::InvalidModel { .. }), "{err:?}");
        assert!(err.to_string().contains("/no/such/model/dir"), "{err}");
    }
}
