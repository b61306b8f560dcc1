//! The batches of each optimizer step, drawn from the seeded sampler with a resumable position.
//!
//! An optimizer step takes up to `accumulation` micro-batches, never across an epoch boundary
//! (as the HF trainer does). The position is the sampler's [`SamplerState`]; saving it with a
//! checkpoint and passing it back continues the identical sequence.

use data::SamplerState;

use crate::error::Result;

/// Where the run is in its stream of micro-batches (of type `B`: row indices, or scheduled
/// batches of several datasets), and the current epoch's batches.
#[derive(Debug, Clone)]
pub struct StepBatches<B = Vec<usize>> {
    accumulation: usize,
    position: SamplerState,
    current: Option<(u64, Vec<B>)>,
}

impl<B: Clone> StepBatches<B> {
    /// Continues from `position` (`SamplerState::default()` for a fresh run).
    pub fn new(accumulation: usize, position: SamplerState) -> Self {
        Self {
            accumulation: accumulation.max(1),
            position,
            current: None,
        }
    }

    /// The position after the micro-batches handed out so far: the next step starts here.
    pub fn position(&self) -> SamplerState {
        self.position
    }

    /// The micro-batches of the next optimizer step. `epoch_batches(e)` gives epoch `e`'s
    /// batches (called once per epoch); `None` when an epoch has none.
    pub fn next_step(
        &mut self,
        mut epoch_batches: impl FnMut(u64) -> Result<Vec<B>>,
    ) -> Result<Option<Vec<B>>> {
        for _ in 0..2 {
            let epoch = self.position.epoch;
            if self.current.as_ref().is_none_or(|(e, _)| *e != epoch) {
                self.current = Some((epoch, epoch_batches(epoch)?));
            }
            let batches = match &self.current {
                Some((_, batches)) => batches,
                None => return Ok(None),
            };
            let start = self.position.batches_done;
            if start < batches.len() {
                let end = (start + self.accumulation).min(batches.len());
                let step = batches[start..end].to_vec();
                self.position = if end == batches.len() {
                    SamplerState {
                        epoch: epoch + 1,
                        batches_done: 0,
                    }
                } else {
                    SamplerState {
                        epoch,
                        batches_done: end,
                    }
                };
                return Ok(Some(step));
            }
            if batches.is_empty() {
                return Ok(None);
            }
            // A position at the very end of an epoch: the next epoch starts.
            self.position = SamplerState {
                epoch: epoch + 1,
                batches_done: 0,
            };
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(e: u64) -> Result<Vec<Vec<usize>>> {
        // Five batches per epoch, tagged with the epoch.
        Ok((0..5).map(|b| vec![e as usize * 100 + b]).collect())
    }

    #[test]
    fn steps_group_micro_batches_within_an_epoch() {
        let mut s = StepBatches::<Vec<usize>>::new(2, SamplerState::default());
        let steps: Vec<Vec<Vec<usize>>> = (0..4)
            .map(|_| s.next_step(epoch).unwrap().unwrap())
            .collect();
        assert_eq!(steps[0], vec![vec![0], vec![1]]);
        assert_eq!(steps[2], vec![vec![4]], "the epoch's last step is short");
        assert_eq!(steps[3], vec![vec![100], vec![101]]);
        assert_eq!(
            s.position(),
            SamplerState {
                epoch: 1,
                batches_done: 2
            }
        );
    }

    #[test]
    fn a_saved_position_continues_the_same_sequence() {
        let mut a = StepBatches::<Vec<usize>>::new(3, SamplerState::default());
        let all: Vec<_> = (0..6)
            .map(|_| a.next_step(epoch).unwrap().unwrap())
            .collect();
        let mut first = StepBatches::<Vec<usize>>::new(3, SamplerState::default());
        for _ in 0..3 {
            first.next_step(epoch).unwrap();
        }
        let mut resumed = StepBatches::<Vec<usize>>::new(3, first.position());
        let rest: Vec<_> = (0..3)
            .map(|_| resumed.next_step(epoch).unwrap().unwrap())
            .collect();
        assert_eq!(rest, all[3..]);
    }

    #[test]
    fn an_end_of_epoch_position_moves_to_the_next_epoch() {
        let mut s = StepBatches::new(
            1,
            SamplerState {
                epoch: 0,
                batches_done: 5,
            },
        );
        assert_eq!(s.next_step(epoch).unwrap(), Some(vec![vec![100]]));
        let mut empty = StepBatches::<Vec<usize>>::new(1, SamplerState::default());
        assert_eq!(empty.next_step(|_| Ok(Vec::new())).unwrap(), None);
    }
}
