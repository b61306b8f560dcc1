use std::path::PathBuf;

/// Errors of reading a run config and resolving its data. Messages name the config key, file
/// or dataset they are about; the trainer shows them unchanged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad config ({origin}): {message}")]
    Config { origin: String, message: String },
    #[error("cannot read or write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("dataset: {0}")]
    Dataset(String),
    /// A failure of one of several `[[datasets]]`, named so the user knows which one.
    #[error("dataset: dataset {name}")]
    InDataset {
        name: String,
        #[source]
        source: Box<Error>,
    },
    #[error(transparent)]
    Data(#[from] data::Error),
    #[error(transparent)]
    Hub(#[from] hub::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
