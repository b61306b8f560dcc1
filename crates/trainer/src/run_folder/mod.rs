//! The run's output folder, everything a run writes and reads back: the lock that keeps a
//! second run out, the checks on `output.dir`, `metrics.jsonl` and its TensorBoard event
//! files, the plot, checkpoints (atomic, rotated) and the checks that a resume continues the
//! same run, and the final sentence-transformers folder with its model card.

pub(crate) mod checkpoint;
pub(crate) mod metrics;
pub(crate) mod output;
pub(crate) mod output_dir;
pub(crate) mod output_lock;
pub(crate) mod plot;
pub(crate) mod resume_check;
pub(crate) mod tensorboard;
