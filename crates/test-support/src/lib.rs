//! Helpers shared by the workspace's tests (a dev-dependency only; test code may panic).
//!
//! Hub files come through the project's own hub client from `HF_ENDPOINT` (default the public
//! hub) into the standard cache, exactly as users get them; CI points `HF_ENDPOINT` at a
//! loopback mirror. Nothing here reads a mirror folder by path.

pub mod cli;
pub mod hub_files;
pub mod server;
#[cfg(feature = "models")]
pub mod tiny;

pub use cli::{assert_fails_with, stderr};
pub use hub_files::{client, dataset_file, endpoint, model_dir, MINILM};
pub use server::serve_dir;
