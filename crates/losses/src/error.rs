/// Errors of the losses crate. Shape errors name both shapes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{loss}: shape mismatch in {context}: {left:?} vs {right:?}")]
    Shape {
        loss: &'static str,
        context: String,
        left: Vec<i64>,
        right: Vec<i64>,
    },
    #[error("{loss} expects {expected} but got {found}")]
    Columns {
        loss: &'static str,
        expected: String,
        found: usize,
    },
    #[error("{loss}: {message}")]
    Targets { loss: &'static str, message: String },
    /// Embeddings that are not floating point, or columns on different devices or of different
    /// dtypes.
    #[error("{loss}: {message}")]
    Embeddings { loss: &'static str, message: String },
    /// A cross-encoder's logits or documents-per-row that do not fit the loss (NaN, a row
    /// without documents, another dtype).
    #[error("{loss}: {message}")]
    Scores { loss: &'static str, message: String },
    #[error("invalid loss configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Model(#[from] model::Error),
    #[error("libtorch error in {loss}")]
    Torch {
        loss: &'static str,
        #[source]
        source: tch::TchError,
    },
}

impl Error {
    /// For `map_err` after a block of fallible tensor ops.
    pub(crate) fn torch(loss: &'static str) -> impl Fn(tch::TchError) -> Error {
        move |source| Error::Torch { loss, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
