//! `modules.json`: the ordered module stack of a sentence-transformers folder.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{read_json, Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleEntry {
    pub idx: usize,
    pub name: String,
    pub path: String,
    #[serde(rename = "type")]
    pub module_type: String,
}

/// The module kinds this crate runs, recognised by the last component of the Python class
/// path (`sentence_transformers.models.Pooling` and the 6.x `…modules.pooling.Pooling` alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    Transformer,
    Pooling,
    Dense,
    Normalize,
}

impl ModuleKind {
    /// The class path written on save; the 2.x–5.x aliases load in every version.
    pub fn python_type(self) -> &'static str {
        match self {
            ModuleKind::Transformer => "sentence_transformers.models.Transformer",
            ModuleKind::Pooling => "sentence_transformers.models.Pooling",
            ModuleKind::Dense => "sentence_transformers.models.Dense",
            ModuleKind::Normalize => "sentence_transformers.models.Normalize",
        }
    }
}

impl ModuleEntry {
    pub fn kind(&self, file: &Path) -> Result<ModuleKind> {
        match self.module_type.rsplit('.').next() {
            Some("Transformer") => Ok(ModuleKind::Transformer),
            Some("Pooling") => Ok(ModuleKind::Pooling),
            Some("Dense") => Ok(ModuleKind::Dense),
            Some("Normalize") => Ok(ModuleKind::Normalize),
            _ => Err(Error::Config {
                path: file.to_path_buf(),
                message: format!(
                    "module {} ({}) has type {:?}, which is not supported (supported: Transformer, Pooling, Dense, Normalize)",
                    self.idx, self.name, self.module_type
                ),
            }),
        }
    }
}

/// The first module of `entries` (read from `modules_file`), which must be the Transformer.
pub(crate) fn first_transformer<'e>(
    entries: &'e [ModuleEntry],
    modules_file: &Path,
) -> Result<&'e ModuleEntry> {
    let first = entries.first().ok_or_else(|| Error::Config {
        path: modules_file.to_path_buf(),
        message: "the module list is empty".into(),
    })?;
    if first.kind(modules_file)? != ModuleKind::Transformer {
        return Err(Error::Config {
            path: modules_file.to_path_buf(),
            message: format!(
                "the first module must be a Transformer, found {:?}",
                first.module_type
            ),
        });
    }
    Ok(first)
}

/// Reads `modules.json`, sorted by `idx`. A folder without one is a plain Hugging Face model;
/// sentence-transformers then adds mean pooling, and so do we.
pub fn read_modules(dir: &Path) -> Result<Option<Vec<ModuleEntry>>> {
    let path = dir.join("modules.json");
    if !path.is_file() {
        return Ok(None);
    }
    let mut entries: Vec<ModuleEntry> = read_json(&path, "a sentence-transformers module list")?;
    entries.sort_by_key(|e| e.idx);
    for entry in &entries {
        if entry.path.contains("..") || Path::new(&entry.path).is_absolute() {
            return Err(Error::Config {
                path,
                message: format!(
                    "module {} has path {:?}, outside the model folder",
                    entry.idx, entry.path
                ),
            });
        }
    }
    Ok(Some(entries))
}
