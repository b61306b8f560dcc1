//! Dynamic loss scaling for float16 training (as `torch.amp.GradScaler`): the loss is
//! multiplied so small gradients survive fp16, gradients are divided back before the update,
//! and a step whose gradients overflowed is skipped with a smaller scale.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GradScaler {
    pub scale: f64,
    /// Consecutive steps without overflow since the scale last changed.
    pub good_steps: u32,
}

const GROWTH_FACTOR: f64 = 2.0;
const BACKOFF_FACTOR: f64 = 0.5;
const GROWTH_INTERVAL: u32 = 2000;

impl Default for GradScaler {
    fn default() -> Self {
        Self {
            scale: 65536.0,
            good_steps: 0,
        }
    }
}

impl GradScaler {
    /// Records whether this step's gradients overflowed and adjusts the scale; returns whether
    /// the optimizer step should be taken.
    pub fn update(&mut self, overflowed: bool) -> bool {
        if overflowed {
            self.scale *= BACKOFF_FACTOR;
            self.good_steps = 0;
            return false;
        }
        self.good_steps += 1;
        if self.good_steps == GROWTH_INTERVAL {
            self.scale *= GROWTH_FACTOR;
            self.good_steps = 0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_on_overflow_and_grows_after_an_interval() {
        let mut s = GradScaler::default();
        assert!(!s.update(true));
        assert_eq!(s.scale, 32768.0);
        for _ in 0..GROWTH_INTERVAL {
            assert!(s.update(false));
        }
        assert_eq!(s.scale, 65536.0);
    }
}
