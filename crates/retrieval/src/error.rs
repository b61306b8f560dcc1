//! Errors of the `retrieval` crate.

use std::path::PathBuf;

/// Everything that can go wrong while mining hard negatives. Each variant names the parameter,
/// row, shape or file it is about. Other crates' errors are boxed: they are large, and every
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

    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Error {
        Error::Param {
            name,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
