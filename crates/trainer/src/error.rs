use std::path::PathBuf;

/// Errors of the trainer. Messages name the config key, file or step they are about.
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
    #[error("tensorboard event file {path} is corrupt at byte {offset}")]
    EventFile {
        path: PathBuf,
        offset: u64,
        #[source]
        source: crate::run_folder::tensorboard::CorruptRecord,
    },
    #[error("dataset: {0}")]
    Dataset(String),
    /// Reading the run config or resolving its data (messages as the config crate words them).
    #[error(transparent)]
    RunConfig(#[from] config::Error),
    #[error(transparent)]
    Data(#[from] data::Error),
    #[error(transparent)]
    Model(#[from] model::Error),
    #[error(transparent)]
    Loss(#[from] losses::Error),
    #[error(transparent)]
    Eval(#[from] eval::Error),
    /// Boxed: evaluate's errors carry the libraries' own and would make every `Result` large.
    #[error(transparent)]
    Evaluate(Box<evaluate::Error>),
    #[error(transparent)]
    Hub(#[from] hub::Error),
    #[error("writing {path}: {message}")]
    Output { path: PathBuf, message: String },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error(
        "loss is {value} at step {step} (epoch {epoch}); training stopped. The last good \
         checkpoint is kept{}; try a lower learning rate or fp32",
        last_checkpoint.as_ref().map(|p| format!(" at {}", p.display())).unwrap_or_default()
    )]
    NonFiniteLoss {
        value: f64,
        step: u64,
        epoch: u64,
        last_checkpoint: Option<PathBuf>,
    },
    #[error(
        "output.dir is in use by another run: {} (lock {}); wait for it to end or choose another \
         output.dir",
        owner
            .as_ref()
            .map_or_else(|| "a run that is still starting".into(), |o| o.to_string()),
        lock.display()
    )]
    OutputInUse {
        owner: Option<crate::run_folder::output_lock::LockOwner>,
        lock: PathBuf,
    },
    #[error(
        "checkpoint {} was written with another config, and resuming would not continue that \
         run: {}; undo these changes, or start a fresh run in another output.dir",
        checkpoint.display(),
        changes.join("; ")
    )]
    ResumeConfigChanged {
        checkpoint: PathBuf,
        /// `key is old in the checkpoint, new now`, one per changed key.
        changes: Vec<String>,
    },
    /// A data-parallel run that cannot go on: a peer that is gone or never came, ranks that
    /// disagree. Names this process's rank.
    #[error("rank {rank}: {message}")]
    Distributed { rank: usize, message: String },
    #[error(transparent)]
    TorchExt(#[from] torch_ext::Error),
    #[error("libtorch error while {context}")]
    Torch {
        context: String,
        #[source]
        source: tch::TchError,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<evaluate::Error> for Error {
    fn from(error: evaluate::Error) -> Self {
        Error::Evaluate(Box::new(error))
    }
}

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
