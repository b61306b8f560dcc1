//! The step plan: how many optimizer steps each epoch has and how many the run takes.

use crate::error::{Error, Result};

/// Optimizer steps per epoch (an epoch's micro-batches in groups of the accumulation), cut
/// at `max_steps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPlan {
    epoch_steps: Vec<u64>,
    total_steps: u64,
}

impl StepPlan {
    /// Plans `epochs` whole epochs, or as many as `max_steps` needs when it is set (it then
    /// wins over `epochs`). `epoch_batches(e)` is the number of micro-batches of epoch `e`;
    /// an epoch without batches is an error.
    pub fn new(
        epochs: u32,
        max_steps: Option<u64>,
        accumulation: usize,
        mut epoch_batches: impl FnMut(u64) -> Result<usize>,
    ) -> Result<Self> {
        let accumulation = accumulation.max(1);
        let cap = max_steps.unwrap_or(u64::MAX);
        let mut epoch_steps = Vec::new();
        let mut total = 0u64;
        let mut epoch = 0u64;
        while (max_steps.is_some() || epoch < u64::from(epochs)) && total < cap {
            let batches = epoch_batches(epoch)?;
            if batches == 0 {
                return Err(Error::Dataset(format!(
                    "epoch {epoch} has no batch (too few rows for the batch size with drop_last)"
                )));
            }
            let steps = batches.div_ceil(accumulation) as u64;
            epoch_steps.push(steps);
            total = total.saturating_add(steps);
            epoch += 1;
        }
        Ok(Self {
            epoch_steps,
            total_steps: total.min(cap),
        })
    }

    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }

    /// Steps in epoch `epoch` (0 past the plan).
    pub fn steps_in_epoch(&self, epoch: u64) -> u64 {
        usize::try_from(epoch)
            .ok()
            .and_then(|e| self.epoch_steps.get(e))
            .copied()
            .unwrap_or(0)
    }

    /// The fractional epoch after `step` optimizer steps (1.5: half-way through the second).
    pub fn epoch_of(&self, step: u64) -> f64 {
        let mut remaining = step;
        for (e, &steps) in self.epoch_steps.iter().enumerate() {
            if remaining <= steps {
                return e as f64 + remaining as f64 / steps as f64;
            }
            remaining -= steps;
        }
        self.epoch_steps.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_epochs_with_accumulation() {
        let plan = StepPlan::new(2, None, 3, |_| Ok(10)).unwrap();
        assert_eq!(plan.total_steps(), 8);
        assert_eq!(plan.steps_in_epoch(1), 4);
        assert_eq!(plan.epoch_of(4), 1.0);
        assert_eq!(plan.epoch_of(6), 1.5);
        assert_eq!(plan.epoch_of(8), 2.0);
    }

    #[test]
    fn max_steps_wins_over_epochs_both_ways() {
        let short = StepPlan::new(5, Some(3), 1, |_| Ok(10)).unwrap();
        assert_eq!(short.total_steps(), 3);
        let long = StepPlan::new(1, Some(25), 1, |_| Ok(10)).unwrap();
        assert_eq!(long.total_steps(), 25);
        assert_eq!(long.steps_in_epoch(2), 10);
    }

    #[test]
    fn an_empty_epoch_is_an_error_naming_it() {
        let err = StepPlan::new(1, None, 1, |_| Ok(0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("epoch 0 has no batch"), "{err}");
    }
}
