//! The crate's error type.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::repo::RepoKind;
use crate::verify::ContentError;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while resolving or downloading hub files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A repo id that the hub would reject (`org/name` or `name`).
    #[error("invalid repo id `{id}`: {reason}")]
    InvalidRepoId { id: String, reason: &'static str },

    /// A revision (branch, tag or commit) that cannot be used safely in a URL or cache path.
    #[error("invalid revision `{revision}`: {reason}")]
    InvalidRevision {
        revision: String,
        reason: &'static str,
    },

    /// A file name inside a repo that is not a clean relative path.
    #[error("invalid file name `{file}`: {reason}")]
    InvalidFileName { file: String, reason: &'static str },

    /// `resolve_model` got something that is neither a local directory nor a hub id.
    #[error("`{model}` is neither an existing local directory nor a valid hub model id")]
    InvalidModel {
        model: String,
        #[source]
        source: Box<Error>,
    },

    /// No cache directory could be derived from the environment.
    #[error("cannot determine the hub cache directory: set HF_HUB_CACHE, HF_HOME or HOME")]
    NoCacheDir,

    /// Connection refused, DNS failure, connect timeout: the endpoint cannot be reached.
    #[error(
        "cannot reach {url} (HF_ENDPOINT={endpoint}): check HF_ENDPOINT and the network, \
         or set HF_HUB_OFFLINE=1 to use only the local cache"
    )]
    Unreachable {
        url: String,
        endpoint: String,
        #[source]
        source: ureq::Error,
    },

    /// Any other transport failure (TLS, protocol, timeout while waiting for a response).
    #[error("request to {url} failed")]
    Transport {
        url: String,
        #[source]
        source: ureq::Error,
    },

    /// The repo exists but the file does not (HTTP 404).
    #[error("file {file} not found in {kind} repo {repo} at revision {revision} ({url})")]
    NotFound {
        kind: RepoKind,
        repo: String,
        revision: String,
        file: String,
        url: String,
    },

    /// The hub says the repo itself does not exist (or is private and no valid token was sent).
    #[error(
        "{kind} repo {repo} not found ({url}): check the id; if the repo is private or gated, \
         set HF_TOKEN to a token with read access"
    )]
    RepoNotFound {
        kind: RepoKind,
        repo: String,
        url: String,
    },

    /// The hub says the revision does not exist in the repo.
    #[error("revision {revision} not found in {kind} repo {repo} ({url})")]
    RevisionNotFound {
        kind: RepoKind,
        repo: String,
        revision: String,
        url: String,
    },

    /// HTTP 401/403: gated or private repo, missing or insufficient token.
    #[error(
        "access to {file} in {kind} repo {repo} denied (HTTP {status}, {url}): the repo may be \
         gated or private; {hint}",
        hint = token_hint(*token_sent)
    )]
    Unauthorized {
        status: u16,
        kind: RepoKind,
        repo: String,
        file: String,
        url: String,
        token_sent: bool,
    },

    /// Any other unexpected HTTP status.
    #[error("unexpected HTTP status {status} from {url}")]
    Http { status: u16, url: String },

    /// A redirect without a usable `Location`, or too many of them.
    #[error("bad or too many redirects starting at {url}")]
    Redirect { url: String },

    /// The connection failed while the body was being read (e.g. truncated response).
    #[error("download of {url} was interrupted")]
    Download {
        url: String,
        #[source]
        source: io::Error,
    },

    /// No byte arrived for a whole time limit (see `Timeouts`).
    #[error("no data from {url} for {limit:?}; {setting} sets this limit, in seconds")]
    Timeout {
        url: String,
        limit: Duration,
        /// The environment variable that sets `limit`.
        setting: &'static str,
        #[source]
        source: io::Error,
    },

    /// The body arrived too slowly: under `min_bytes` in a whole stall window.
    #[error(
        "download of {url} stalled: {received} bytes in the last {window:?}, fewer than the \
         {min_bytes} required; {setting} sets the window, in seconds"
    )]
    Stalled {
        url: String,
        window: Duration,
        received: u64,
        min_bytes: u64,
        setting: &'static str,
    },

    /// A timeout variable that is not a positive number of seconds.
    #[error("invalid {name}={value:?}: expected a positive number of seconds")]
    InvalidTimeout {
        name: &'static str,
        value: String,
        #[source]
        source: Option<std::num::ParseFloatError>,
    },

    /// The server answered with something other than the file (e.g. a portal's HTML page);
    /// nothing was cached.
    #[error("refused {file} from {url}: got {arrived}, not a valid {expected} file")]
    InvalidContent {
        file: String,
        url: String,
        /// What arrived, e.g. `61 bytes of text/html`.
        arrived: String,
        expected: &'static str,
        #[source]
        source: ContentError,
    },

    /// A cached file fails the checks a download must pass (e.g. an HTML page that an older
    /// version cached) and offline mode forbids fetching it again.
    #[error(
        "cached {file} at {path} is corrupt: remove {blob} (the file the link points to), \
         or turn offline mode off to download it again"
    )]
    CorruptCache {
        file: String,
        path: PathBuf,
        blob: PathBuf,
        #[source]
        source: ContentError,
    },

    /// The downloaded bytes do not hash to the sha256 the hub announced.
    #[error("download of {url} is corrupt: expected sha256 {expected}, got {actual}")]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },

    /// Offline mode is on and the file is not in the cache.
    #[error(
        "file {file} of {kind} repo {repo} at revision {revision} is not in the local cache \
         and offline mode is on (HF_HUB_OFFLINE)"
    )]
    Offline {
        kind: RepoKind,
        repo: String,
        revision: String,
        file: String,
    },

    /// The repo only ships `pytorch_model.bin`, which is a pickle and is not loaded.
    #[error(
        "model repo {repo} at revision {revision} has no model.safetensors, only a pickle \
         checkpoint (pytorch_model.bin); pickle checkpoints are refused because loading them \
         can run arbitrary code. Convert it to safetensors, e.g. in Python with transformers: \
         AutoModel.from_pretrained(\"{repo}\").save_pretrained(\"out\", safe_serialization=True), \
         or with safetensors.torch.save_file"
    )]
    PickleCheckpoint { repo: String, revision: String },

    /// A local file system operation failed.
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A JSON file from the repo (e.g. `modules.json`) could not be parsed.
    #[error("cannot parse {path}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn token_hint(token_sent: bool) -> &'static str {
    if token_sent {
        "the token in HF_TOKEN was sent but does not grant access (accept the repo's terms on the hub?)"
    } else {
        "accept its terms on the hub and set HF_TOKEN to a token with read access"
    }
}

impl Error {
    /// Builds an [`Error::Io`] for `action` on `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
