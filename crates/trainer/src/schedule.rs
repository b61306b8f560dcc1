//! The learning-rate schedule: linear warm-up from 0, then linear decay to 0 at the last step
//! (`transformers.get_linear_schedule_with_warmup`, the sentence-transformers default).

/// The learning rate used by optimizer step `step` (0-based) of `total` steps. As with
/// `LambdaLR`, the first step runs at factor `0 / warmup` when there is a warm-up.
pub fn linear_warmup_decay(base_lr: f64, step: u64, warmup: u64, total: u64) -> f64 {
    let factor = if step < warmup {
        step as f64 / warmup.max(1) as f64
    } else {
        let remaining = total.saturating_sub(step) as f64;
        let span = total.saturating_sub(warmup).max(1) as f64;
        (remaining / span).max(0.0)
    };
    base_lr * factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let lr = |s| linear_warmup_decay(1.0, s, 10, 110);
        assert_eq!(lr(0), 0.0);
        assert_eq!(lr(5), 0.5);
        assert_eq!(lr(10), 1.0);
        assert_eq!(lr(60), 0.5);
        assert_eq!(lr(110), 0.0);
        assert_eq!(linear_warmup_decay(2.0, 0, 0, 4), 2.0);
    }
}
