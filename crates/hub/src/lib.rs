//! Hugging Face hub client: downloads repo files into the standard hub cache. No `tch`.
//!
//! # Cache layout
//!
//! Files land in the cache `huggingface_hub` uses, with the same environment variables
//! (`HF_HUB_CACHE`, `HF_HOME`, `XDG_CACHE_HOME`, `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE`),
//! so a model downloaded here is found by Python sentence-transformers and the reverse, and
//! nothing is stored twice:
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
mod model;
mod progress;
mod repo;
mod settings;
mod transport;
mod url;

pub use client::HubClient;
pub use error::{Error, Result};
pub use model::resolve_model;
pub use repo::{Repo, RepoKind, DEFAULT_REVISION};
pub use settings::DEFAULT_ENDPOINT;
