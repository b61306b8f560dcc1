//! The endless, resumable stream of batches over epochs, shared by the single-dataset sampler
//! and the multi-dataset schedule: the rest of the current epoch, then the next ones, with the
//! position ([`SamplerState`]) a checkpoint saves.

use crate::sampler::SamplerState;

/// Something that deals out one epoch's batches as a pure function of the epoch number.
pub trait EpochSource {
    type Batch: Clone;
    fn epoch_batches_of(&self, epoch: u64) -> Vec<Self::Batch>;
}

/// Iterator over batches across epochs, from a saved position on.
#[derive(Debug, Clone)]
pub struct EpochIter<'s, S: EpochSource> {
    source: &'s S,
    state: SamplerState,
    /// The current epoch's batches, built once per epoch.
    current: Option<Vec<S::Batch>>,
}

impl<'s, S: EpochSource> EpochIter<'s, S> {
    pub(crate) fn new(source: &'s S, state: SamplerState) -> Self {
        Self {
            source,
            state,
            current: None,
        }
    }

    /// The position after the batches handed out so far; save it to resume.
    pub fn state(&self) -> SamplerState {
        self.state
    }
}

impl<S: EpochSource> Iterator for EpochIter<'_, S> {
    type Item = S::Batch;

    /// Stops only if an epoch has no batches.
    fn next(&mut self) -> Option<S::Batch> {
        let mut new_epochs = 0;
        loop {
            let epoch = self.state.epoch;
            let source = self.source;
            let batches = self
                .current
                .get_or_insert_with(|| source.epoch_batches_of(epoch));
            if let Some(batch) = batches.get(self.state.batches_done) {
                self.state.batches_done += 1;
                return Some(batch.clone());
            }
            if batches.is_empty() || new_epochs > 0 {
                return None;
            }
            new_epochs += 1;
            self.state = SamplerState {
                epoch: epoch.wrapping_add(1),
                batches_done: 0,
            };
            self.current = None;
        }
    }
}
