use std::path::PathBuf;

/// Errors of the model crate. Every variant names the file, key or shape it is about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is missing (expected in a sentence-transformers or Hugging Face model folder)"
    )]
    MissingFile { path: PathBuf },
    #[error("{path} is not valid JSON for {what}")]
    Json {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: key {key} is not valid for {what}")]
    JsonKey {
        path: PathBuf,
        what: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error(
        "{path} holds only a pickle checkpoint (pytorch_model.bin), which is refused because \
         loading pickles can run arbitrary code; convert it to model.safetensors, e.g. in Python \
         `AutoModel.from_pretrained(p).save_pretrained(p, safe_serialization=True)`"
    )]
    PickleCheckpoint { path: PathBuf },
    #[error(
        "unsupported architecture in {path}: model_type {model_type:?} (supported: {supported})"
    )]
    UnsupportedArchitecture {
        path: PathBuf,
        model_type: String,
        supported: String,
    },
    #[error(
        "{path}: no {architecture} weights found: no {probe} under any of the prefixes {prefixes}"
    )]
    NoWeights {
        path: PathBuf,
        architecture: &'static str,
        probe: &'static str,
        prefixes: String,
    },
    #[error(
        "{path}: {architecture} weight {key} (shape {expected:?}) is missing from the checkpoint"
    )]
    MissingTensor {
        path: PathBuf,
        architecture: &'static str,
        key: String,
        expected: Vec<i64>,
    },
    #[error("{path}: {architecture} weight {key} has shape {found:?} but the model expects {expected:?}")]
    TensorShape {
        path: PathBuf,
        architecture: &'static str,
        key: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },
    #[error("cannot load tokenizer from {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("tokenizing the input failed: {0}")]
    Tokenize(String),
    #[error("shape mismatch in {context}: {left:?} vs {right:?}")]
    Shape {
        context: &'static str,
        left: Vec<i64>,
        right: Vec<i64>,
    },
    #[error("{0}")]
    InvalidInput(String),
    #[error("cuda was requested but no CUDA device is available (is this a CUDA build of libtorch? see `cargo xtask setup --cuda`)")]
    CudaUnavailable,
    #[error("libtorch error{}", context.as_ref().map(|c| format!(" while {c}")).unwrap_or_default())]
    Torch {
        context: Option<String>,
        #[source]
        source: tch::TchError,
    },
    #[error(transparent)]
    TorchExt(torch_ext::Error),
}

impl From<torch_ext::Error> for Error {
    fn from(source: torch_ext::Error) -> Self {
        Error::TorchExt(source)
    }
}

impl From<tch::TchError> for Error {
    fn from(source: tch::TchError) -> Self {
        Error::Torch {
            context: None,
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    what: &'static str,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            Error::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let mut json = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut json).map_err(|err| json_error(path, what, err))
}

/// A JSON error of `path`, naming the key it is at (when not the document itself).
pub(crate) fn json_error(
    path: &std::path::Path,
    what: &'static str,
    err: serde_path_to_error::Error<serde_json::Error>,
) -> Error {
    let key = err.path().to_string();
    let source = err.into_inner();
    if key == "." || key.is_empty() {
        Error::Json {
            path: path.to_path_buf(),
            what,
            source,
        }
    } else {
        Error::JsonKey {
            path: path.to_path_buf(),
            what,
            key,
            source,
        }
    }
}

pub(crate) fn write_json<T: serde::Serialize>(path: &std::path::Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        what: "writing",
        source,
    })?;
    std::fs::write(path, text + "\n").map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
