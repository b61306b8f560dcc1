//! The description of an index folder: `manifest.json`, the one file that says which model,
//! prompts, precision and data files make up the index. Replacing it (atomically) is what
//! commits a new generation of the index.

use std::path::{Path, PathBuf};

use eval::Precision;
use serde::{Deserialize, Serialize};

use super::hnsw::HnswParams;
use crate::error::{Error, Result};

/// The manifest's file name inside an index folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The manifest's `format` value.
pub const FORMAT_NAME: &str = "sentence-rs search index";

/// The manifest format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The model that embedded the corpus: its id as given (a hub id without `@revision`, or a
/// local folder's canonical path) and the revision that pins its weights (a hub snapshot's
/// commit, or a hash of a local folder's weights). Queries must be embedded by the same one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    pub id: String,
    pub revision: String,
}

/// One data file of the index: its name inside the folder, its size and its sha256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The data files of one generation of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFiles {
    /// `[rows, precision.quantized_dim(dim)]` `.npy`: float32 `<f4`, int8 and binary `|i1`,
    /// uint8 and ubinary `|u1` (as `train-cli encode --precision` writes them).
    pub embeddings: DataFile,
    /// JSON lines, one `{"id": …, "text": …}` per row, in row order.
    pub documents: DataFile,
    /// int8/uint8: the `[2, dim]` float32 `.npy` of the minima and maxima the corpus was
    /// quantized with; queries are quantized with the same ones.
    #[serde(default)]
    pub ranges: Option<DataFile>,
    /// The usearch HNSW graph over the embeddings, when the index has one.
    #[serde(default)]
    pub hnsw: Option<DataFile>,
    /// binary/ubinary with a rescore store: the `[rows, dim]` `.npy` of the corpus at
    /// [`Manifest::rescore_precision`] (int8 `|i1`, uint8 `|u1`), which rescoring dequantizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescore_embeddings: Option<DataFile>,
    /// The `[2, dim]` float32 `.npy` of the ranges the rescore store was quantized with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescore_ranges: Option<DataFile>,
}

impl DataFiles {
    /// Each file with the role the manifest gives it.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &DataFile)> {
        [
            ("embeddings", Some(&self.embeddings)),
            ("documents", Some(&self.documents)),
            ("ranges", self.ranges.as_ref()),
            ("hnsw", self.hnsw.as_ref()),
            ("rescore_embeddings", self.rescore_embeddings.as_ref()),
            ("rescore_ranges", self.rescore_ranges.as_ref()),
        ]
        .into_iter()
        .filter_map(|(role, file)| file.map(|f| (role, f)))
    }
}

/// `manifest.json`: everything needed to load an index and to embed queries like its corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this build.
    pub version: u32,
    pub model: ModelRef,
    /// The prompt text prepended to queries (empty: none).
    pub query_prompt: String,
    /// The prompt text prepended to documents (empty: none).
    pub document_prompt: String,
    pub precision: Precision,
    /// The embedding dimension before quantization.
    pub dim: usize,
    /// Whether embeddings are L2-normalised before quantization (always, in this version).
    pub normalize: bool,
    /// Documents (rows) in the index.
    pub rows: usize,
    /// Counts the commits to the folder; data file names carry it.
    pub generation: u64,
    pub files: DataFiles,
    /// The HNSW graph's build parameters, when the index has one.
    #[serde(default)]
    pub hnsw: Option<HnswParams>,
    /// binary/ubinary only: the precision (int8 or uint8) of the corpus copy kept for
    /// rescoring, in `files.rescore_embeddings` and `files.rescore_ranges`. Absent: candidates
    /// are rescored against their bits, as sentence-transformers does. A reader that predates
    /// the key refuses such a folder (unknown key) rather than misreading it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescore_precision: Option<Precision>,
}

/// Only the keys that decide how to read the rest.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    format: Option<serde_json::Value>,
    #[serde(default)]
    version: Option<serde_json::Value>,
}

impl Manifest {
    /// The manifest path of index folder `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(MANIFEST_FILE)
    }

    /// Reads and checks `dir`'s manifest: [`Error::NotAnIndex`] without one, then its format
    /// and version, then every key (naming a missing or mistyped one), then the consistency of
    /// the values ([`Self::validate`]). Reads no data file.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = Self::path_in(dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotAnIndex {
                    dir: dir.to_path_buf(),
                    manifest: MANIFEST_FILE,
                })
            }
            Err(e) => return Err(Error::index_io("read", &path)(e)),
        };
        Self::parse(&path, &bytes)
    }

    /// Parses manifest bytes; `path` names the file in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Manifest> {
        let invalid = |source: serde_path_to_error::Error<serde_json::Error>| {
            let key = source.path().to_string();
            Error::ManifestInvalid {
                path: path.to_path_buf(),
                key,
                source: source.into_inner(),
            }
        };
        let probe: Probe =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
                .map_err(invalid)?;
        if let Some(format) = &probe.format {
            if format.as_str() != Some(FORMAT_NAME) {
                return Err(Error::ManifestValue {
                    path: path.to_path_buf(),
                    key: "format",
                    reason: format!("is {format}, expected \"{FORMAT_NAME}\""),
                });
            }
        }
        if let Some(version) = &probe.version {
            if version.as_u64() != Some(u64::from(FORMAT_VERSION)) {
                return Err(Error::ManifestVersion {
                    path: path.to_path_buf(),
                    found: version.to_string(),
                    supported: FORMAT_VERSION,
                });
            }
        }
        let manifest: Manifest =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
                .map_err(invalid)?;
        manifest.validate(path)?;
        Ok(manifest)
    }

    /// The checks serde cannot make: positive sizes, ranges exactly for int8/uint8, a graph
    /// exactly with its parameters and not for uint8, and plain file names (no folder part, so
    /// a manifest can never make us read or delete a file outside its folder).
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |key: &'static str, reason: String| Error::ManifestValue {
            path: path.to_path_buf(),
            key,
            reason,
        };
        if self.dim == 0 {
            return Err(bad("dim", "is 0".into()));
        }
        if self.rows == 0 {
            return Err(bad(
                "rows",
                "is 0: an index holds at least one document".into(),
            ));
        }
        if !self.normalize {
            return Err(bad(
                "normalize",
                "is false; this version builds and searches normalised embeddings only".into(),
            ));
        }
        match (self.precision.uses_ranges(), &self.files.ranges) {
            (true, None) => {
                return Err(bad(
                    "files.ranges",
                    format!(
                        "is missing: a {} index keeps the ranges its corpus was quantized with",
                        self.precision
                    ),
                ))
            }
            (false, Some(_)) => {
                return Err(bad(
                    "files.ranges",
                    format!("is set but a {} index has no ranges", self.precision),
                ))
            }
            _ => {}
        }
        match (&self.files.hnsw, &self.hnsw) {
            (Some(_), None) => {
                return Err(bad(
                    "hnsw",
                    "is missing but files.hnsw names a graph".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(bad(
                    "files.hnsw",
                    "is missing but hnsw gives graph parameters".into(),
                ))
            }
            _ => {}
        }
        self.validate_rescore_store(path)?;
        if let Some(params) = &self.hnsw {
            params
                .check(self.precision)
                .map_err(|e| bad("hnsw", e.to_string()))?;
        }
        for (role, file) in self.files.iter() {
            if !is_plain_file_name(&file.name) {
                return Err(bad(
                    "files",
                    format!(
                        "{role} file name {:?} is not a plain file name in the index folder",
                        file.name
                    ),
                ));
            }
            if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(
                    "files",
                    format!("{role} sha256 {:?} is not 64 hex digits", file.sha256),
                ));
            }
        }
        Ok(())
    }

    /// A rescore store: only beside binary/ubinary embeddings, at int8 or uint8, with both its
    /// files; its files exactly with it.
    fn validate_rescore_store(&self, path: &Path) -> Result<()> {
        let bad = |key: &'static str, reason: String| Error::ManifestValue {
            path: path.to_path_buf(),
            key,
            reason,
        };
        let files = (&self.files.rescore_embeddings, &self.files.rescore_ranges);
        let Some(store) = self.rescore_precision else {
            return match files {
                (None, None) => Ok(()),
                _ => Err(bad(
                    "rescore_precision",
                    "is missing but files name a rescore store".into(),
                )),
            };
        };
        if !matches!(self.precision, Precision::Binary | Precision::Ubinary) {
            return Err(bad(
                "rescore_precision",
                format!(
                    "is set but a {} index is rescored from its own embeddings",
                    self.precision
                ),
            ));
        }
        if !store.uses_ranges() {
            return Err(bad(
                "rescore_precision",
                format!("is {store}; a rescore store is int8 or uint8"),
            ));
        }
        match files {
            (Some(_), Some(_)) => Ok(()),
            (None, _) => Err(bad(
                "files.rescore_embeddings",
                format!("is missing but rescore_precision is {store}"),
            )),
            (_, None) => Err(bad(
                "files.rescore_ranges",
                format!("is missing but rescore_precision is {store}"),
            )),
        }
    }

    /// Errors naming both unless `given` is the model (id and revision) that built the index.
    pub fn check_model(&self, dir: &Path, given: &ModelRef) -> Result<()> {
        if &self.model == given {
            return Ok(());
        }
        Err(Error::ModelMismatch {
            dir: dir.to_path_buf(),
            index_id: self.model.id.clone(),
            index_revision: self.model.revision.clone(),
            given_id: given.id.clone(),
            given_revision: given.revision.clone(),
        })
    }

    /// Errors naming both dimensions unless `model` embeds into the index's dimension.
    pub fn check_dim(&self, dir: &Path, model: &str, model_dim: usize) -> Result<()> {
        if self.dim == model_dim {
            return Ok(());
        }
        Err(Error::DimensionMismatch {
            dir: dir.to_path_buf(),
            index_dim: self.dim,
            model: model.to_string(),
            model_dim,
        })
    }

    /// Errors naming both unless `given` is the index's precision.
    pub fn check_precision(&self, dir: &Path, given: Precision) -> Result<()> {
        if self.precision == given {
            return Ok(());
        }
        Err(Error::PrecisionMismatch {
            dir: dir.to_path_buf(),
            index: self.precision,
            given,
        })
    }
}

/// ASCII letters, digits, `.`, `_` and `-`, not starting with `.`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_file_names() {
        assert!(is_plain_file_name("embeddings.3.npy"));
        for bad in ["", ".lock", "../x", "a/b", "/etc/passwd", "a b"] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
    }
}
