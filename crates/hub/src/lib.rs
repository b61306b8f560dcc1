//! Hugging Face hub client: downloads repo files into the standard hub cache. No `tch`.
//!
//! # Cache layout
//!
//! Files land in the cache `huggingface_hub` uses, with the same environment variables
//! (`HF_HUB_CACHE`, `HF_HOME`, `XDG_CACHE_HOME`, `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE`,
//! `HF_HUB_DOWNLOAD_TIMEOUT`), so a model downloaded here is found by Python
//! sentence-transformers and the reverse, and nothing is stored twice:
//!
//! ```text
//! ~/.cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2/
//!     blobs/{etag}                      contents, named by ETag (sha256 for LFS files)
//!     refs/main                         the commit `main` resolved to
//!     snapshots/{commit}/config.json    -> ../../blobs/{etag}
//!     snapshots/{commit}/1_Pooling/config.json -> ../../../blobs/{etag}
//! ```
//!
//! Content-addressed blobs with per-commit snapshot folders of relative symlinks give each
//! revision a plain folder with all files side by side (what loaders expect), share identical
//! files between revisions, and make every update atomic: a blob is streamed to a
//! `.incomplete` file and renamed, then the link is swapped in. A static mirror that sends no
//! commit or ETag headers still yields a valid layout (see `RepoCache::snapshot_for` in `cache.rs`).
//!
//! Lookups are cache first: a file present in the snapshot `refs/{revision}` points to is
//! returned without any request; offline mode never touches the network.
//!
//! # Hardening
//!
//! - Nothing enters the cache unchecked: the length the server announced, the sha256 the hub
//!   announces for LFS files (`x-linked-etag`), and what the name promises (a safetensors
//!   header, valid JSON, parquet magic, no HTML page), see `verify.rs`. A cached file failing
//!   the cheap form of these checks is downloaded again, or named in the error when offline.
//! - Downloads cannot hang: `HF_HUB_DOWNLOAD_TIMEOUT` (default 10 s) limits each wait for
//!   data, `SENTENCE_RS_HUB_STALL_TIMEOUT` (default 60 s) how long the body may bring less
//!   than 64 KiB ([`Timeouts`]).
//! - Leftovers of killed downloads are swept, never a file another process is writing
//!   (`incomplete.rs`).
//! - The token goes only to the endpoint's origin (`transport.rs`), and never into a log line,
//!   error or `Debug` string, not even ureq's TRACE dumps of raw requests (`token.rs`).
//!
//! ```no_run
//! # fn main() -> hub::Result<()> {
//! let client = hub::HubClient::from_env()?;
//! let repo = hub::Repo::model("sentence-transformers/all-MiniLM-L6-v2")?;
//! let config = client.get(&repo, "config.json")?;
//! let folder = hub::resolve_model(&client, "sentence-transformers/all-MiniLM-L6-v2")?;
//! # let _ = (config, folder);
//! # Ok(())
//! # }
//! ```

mod cache;
mod client;
mod download;
mod error;
mod incomplete;
mod model;
mod progress;
mod repo;
mod settings;
mod timeouts;
mod token;
mod transport;
mod url;
mod verify;
mod wire;

pub use client::HubClient;
pub use error::{Error, Result};
pub use model::resolve_model;
pub use repo::{Repo, RepoKind, DEFAULT_REVISION};
pub use settings::DEFAULT_ENDPOINT;
pub use timeouts::{Timeouts, MIN_BYTES_PER_WINDOW};
pub use verify::ContentError;
