//! `SENTENCE_RS_PROFILE=PATH`: libtorch's operator profile of ten training steps (4 to 13, past
//! the first steps' allocations), written to PATH as a Chrome trace (chrome://tracing,
//! Perfetto). How the bf16 step was taken apart; see docs/benchmarks.md.

use std::path::PathBuf;

use tracing::info;

use crate::error::Result;

const FIRST_STEP: u64 = 4;
const STEPS: u64 = 10;

/// Starts and stops the profiler around the steps it covers.
#[derive(Default)]
pub(crate) struct StepProfile {
    path: Option<PathBuf>,
    running: Option<torch_ext::Profile>,
}

impl StepProfile {
    pub(crate) fn from_env() -> Self {
        Self {
            path: std::env::var_os("SENTENCE_RS_PROFILE").map(PathBuf::from),
            running: None,
        }
    }

    /// Called before step `step` (1-based) runs.
    pub(crate) fn before_step(&mut self, step: u64) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if step == FIRST_STEP && self.running.is_none() {
            self.running = Some(torch_ext::Profile::start(path)?);
        } else if step == FIRST_STEP + STEPS {
            self.finish()?;
        }
        Ok(())
    }

    /// Writes the trace of the steps profiled so far (also when the run ends early).
    pub(crate) fn finish(&mut self) -> Result<()> {
        if let Some(profile) = self.running.take() {
            profile.finish()?;
            if let Some(path) = &self.path {
                info!(path = %path.display(), "wrote the step profile");
            }
        }
        Ok(())
    }
}
