//! Errors of the `retrieval` crate.

use std::path::PathBuf;

/// Everything that can go wrong while mining hard negatives or building and searching an index
/// folder. Each variant names the parameter, row, shape, key or file it is about. Other crates' errors are boxed: they are large, and every
/// `Result` of this crate would carry their size.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mining parameter out of range, or parameters that contradict each other.
    #[error("invalid {name}: {reason}")]
    Param { name: &'static str, reason: String },

    /// No (anchor, positive) rows.
    #[error("the dataset is empty: mining needs at least one (anchor, positive) row")]
    EmptyDataset,

    /// The anchor and positive columns differ in length.
    #[error(
        "column {anchor_column} has {anchors} rows but column {positive_column} has {positives}"
    )]
    ColumnLengths {
        anchor_column: String,
        anchors: usize,
        positive_column: String,
        positives: usize,
    },

    /// An anchor or positive text that is empty or only whitespace.
    #[error("column {column} is empty at row {row}: every anchor and positive needs text")]
    EmptyText { column: String, row: usize },

    /// A column name that is empty or that two columns of the output would share.
    #[error("column name {name:?} {reason}")]
    ColumnName { name: String, reason: &'static str },

    /// An embedding matrix whose shape does not fit its texts or the other matrix.
    #[error("{input} have shape {shape:?}, expected {expected}")]
    EmbeddingShape {
        input: &'static str,
        shape: Vec<i64>,
        expected: String,
    },

    /// An embedding with a NaN or infinite value.
    #[error("{input} have a non-finite value in row {row}")]
    NonFinite { input: &'static str, row: usize },

    /// A cache file that cannot be read back, e.g. truncated by a crash of another writer.
    #[error("embedding cache file {path} is unreadable or corrupt; delete it to re-encode")]
    CacheRead {
        path: PathBuf,
        #[source]
        source: Box<data::Error>,
    },

    /// A cache file whose matrix does not fit the texts and model it was looked up for.
    #[error("embedding cache file {path} holds a {rows} x {dim} matrix, expected {expected_rows} x {expected_dim}; delete it to re-encode")]
    CacheShape {
        path: PathBuf,
        rows: usize,
        dim: usize,
        expected_rows: usize,
        expected_dim: usize,
    },

    /// A cache file with NaN or infinite values.
    #[error(
        "embedding cache file {path} has a non-finite value in row {row}; delete it to re-encode"
    )]
    CacheNonFinite { path: PathBuf, row: usize },

    /// Writing a cache file failed.
    #[error("cannot write embedding cache file {path}")]
    CacheWrite {
        path: PathBuf,
        #[source]
        source: Box<data::Error>,
    },

    /// The cache folder cannot be created.
    #[error("cannot create embedding cache folder {path}")]
    CacheFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Encoding texts with the model failed.
    #[error("cannot embed the {what}")]
    Embed {
        what: &'static str,
        #[source]
        source: Box<model::Error>,
    },

    /// A file or folder of a search index cannot be read, written, synced or removed.
    #[error("cannot {action} {path}")]
    IndexIo {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A folder that should hold a search index has no manifest.
    #[error("{dir} is not a search index: it has no {manifest}")]
    NotAnIndex {
        dir: PathBuf,
        manifest: &'static str,
    },

    /// A new index was asked for in a folder that already holds one, or other files.
    #[error("{dir} already holds {what}: choose a new or empty folder{hint}")]
    IndexExists {
        dir: PathBuf,
        what: String,
        hint: &'static str,
    },

    /// Another process holds the index folder's write lock.
    #[error("another process is writing the index {dir} (it holds the lock on {lock})")]
    IndexLocked { dir: PathBuf, lock: PathBuf },

    /// A manifest that is not JSON of the manifest's shape (a missing key, a wrong type).
    #[error("manifest {path} is invalid at key `{key}`")]
    ManifestInvalid {
        path: PathBuf,
        key: String,
        #[source]
        source: serde_json::Error,
    },

    /// A manifest of a format version this build does not read.
    #[error("manifest {path} has format version {found}; this build reads version {supported}")]
    ManifestVersion {
        path: PathBuf,
        found: String,
        supported: u32,
    },

    /// A manifest value that is out of range or contradicts another one.
    #[error("manifest {path}: key `{key}` {reason}")]
    ManifestValue {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },

    /// A data file the manifest names does not exist.
    #[error("{path} is missing: manifest {manifest} names it as the index's {role}")]
    DataFileMissing {
        path: PathBuf,
        manifest: PathBuf,
        role: &'static str,
    },

    /// A data file whose size is not the size the manifest or its own header gives: truncated,
    /// or grown by another writer.
    #[error("{path} has {found} bytes but {source_of_truth} says {expected}: the file is truncated or was changed")]
    DataFileSize {
        path: PathBuf,
        found: u64,
        expected: u64,
        source_of_truth: String,
    },

    /// A data file whose sha256 is not the one the manifest records.
    #[error("{path} is corrupt: its sha256 is {found} but manifest {manifest} records {expected}")]
    DataFileHash {
        path: PathBuf,
        manifest: PathBuf,
        found: String,
        expected: String,
    },

    /// A data file whose content does not fit the manifest (dtype, shape, row count).
    #[error("{path}: {reason}")]
    DataFileContent { path: PathBuf, reason: String },

    /// A `.npy` data file that cannot be parsed.
    #[error("cannot read {path}")]
    DataFileRead {
        path: PathBuf,
        #[source]
        source: Box<data::Error>,
    },

    /// A line of the documents file that is not a `{"id", "text"}` object.
    #[error("{path} line {line} is not a document {{\"id\": …, \"text\": …}}")]
    DocumentLine {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },

    /// An index of no documents.
    #[error("the corpus is empty: an index needs at least one document")]
    EmptyCorpus,

    /// The documents and the embeddings (or ids) of an index differ in number.
    #[error("{what}: {found} for {expected} documents")]
    DocumentCount {
        what: &'static str,
        found: usize,
        expected: usize,
    },

    /// Two documents of an index share an id.
    #[error("document id {id} is used by rows {first} and {second}; ids must be unique")]
    DuplicateId {
        id: String,
        first: usize,
        second: usize,
    },

    /// Quantizing, dequantizing or calibrating embeddings failed.
    #[error("cannot {what}")]
    Quantize {
        what: String,
        #[source]
        source: Box<eval::Error>,
    },

    /// The model given for an index is not the one that built it.
    #[error(
        "the index {dir} was built with model {index_id} at revision {index_revision}, but the \
         model given is {given_id} at revision {given_revision}"
    )]
    ModelMismatch {
        dir: PathBuf,
        index_id: String,
        index_revision: String,
        given_id: String,
        given_revision: String,
    },

    /// The model embeds into another dimension than the index holds.
    #[error("the index {dir} holds {index_dim}-dimensional embeddings but model {model} embeds into {model_dim}")]
    DimensionMismatch {
        dir: PathBuf,
        index_dim: usize,
        model: String,
        model_dim: usize,
    },

    /// A precision that is not the index's.
    #[error("the index {dir} is stored at precision {index}, not {given}")]
    PrecisionMismatch {
        dir: PathBuf,
        index: eval::Precision,
        given: eval::Precision,
    },

    /// usearch (the HNSW graph) failed.
    #[error("hnsw graph (usearch): cannot {context}")]
    Hnsw {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A libtorch operation failed; `context` says which step.
    #[error("libtorch error while {context}")]
    Torch {
        context: &'static str,
        #[source]
        source: tch::TchError,
    },
}

impl Error {
    /// For `map_err` after a block of fallible tensor ops.
    pub(crate) fn torch(context: &'static str) -> impl Fn(tch::TchError) -> Error {
        move |source| Error::Torch { context, source }
    }

    /// For `map_err` on a std::io call on a file or folder of an index.
    pub(crate) fn index_io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::IndexIo {
            action,
            path,
            source,
        }
    }

    /// For `map_err` on a usearch call.
    pub(crate) fn hnsw<E: std::error::Error + Send + Sync + 'static>(
        context: impl Into<String>,
    ) -> impl FnOnce(E) -> Error {
        let context = context.into();
        move |source| Error::Hnsw {
            context,
            source: Box::new(source),
        }
    }

    pub(crate) fn quantize(what: impl Into<String>) -> impl FnOnce(eval::Error) -> Error {
        let what = what.into();
        move |source| Error::Quantize {
            what,
            source: Box::new(source),
        }
    }

    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Error {
        Error::Param {
            name,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
