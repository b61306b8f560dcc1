//! The sentence-transformers loss family on libtorch.
//!
//! Every loss implements [`Loss`]: it receives the batch's embeddings, one `[batch, dim]`
//! tensor per text column (anchor, positive, negatives…), plus class labels or scores, so the
//! trainer treats them all alike. Configs are the tagged [`LossConfig`] enum with the
//! sentence-transformers defaults.

mod config;
mod error;
mod loss;

pub use config::LossConfig;
pub use error::{Error, Result};
pub use loss::{Loss, Targets, TargetKind};
