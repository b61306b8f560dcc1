/// Errors of the evaluators: bad data, a model of the wrong kind, or what a library below
/// reported. Messages name the evaluator, file or key they are about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad config ({origin}): {message}")]
    Config { origin: String, message: String },
    #[error("dataset: {0}")]
    Dataset(String),
    /// Resolving an evaluator's data (messages as the config crate words them).
    #[error(transparent)]
    RunConfig(#[from] config::Error),
    #[error(transparent)]
    Data(#[from] data::Error),
    #[error(transparent)]
    Model(#[from] model::Error),
    #[error(transparent)]
    Eval(#[from] eval::Error),
    #[error(transparent)]
    Hub(#[from] hub::Error),
    #[error("libtorch error while {context}")]
    Torch {
        context: String,
        #[source]
        source: tch::TchError,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
