//! Helpers shared by the workspace's tests (a dev-dependency only; test code may panic).
//!
//! Hub files come through the project's own hub client from `HF_ENDPOINT` (default the public
//! hub) into the standard cache, exactly as users get them; CI points `HF_ENDPOINT` at a
//! loopback mirror. Nothing here reads a mirror folder by path.

//! It never depends on libtorch, so the tensor-free crates' tests use it too; a tiny random
//! model comes from `model::testing::tiny_bert` (with [`WORDS`] as its vocabulary).

pub mod cli;
pub mod examples;
pub mod files;
pub mod hub_files;
pub mod server;
pub mod vectors;

pub use cli::{assert_fails_with, stderr};
pub use examples::{markdown_commands, quoted_commands};
pub use files::{copy_dir, dir_snapshot, pairs_jsonl, WORDS};
pub use hub_files::{client, dataset_file, endpoint, model_dir, MINILM};
pub use server::serve_dir;
pub use vectors::unit_vectors;
