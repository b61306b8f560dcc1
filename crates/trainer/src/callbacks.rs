//! Hooks into the training loop, in the shape the HF trainer's callbacks have: the loop calls
//! each in order at the start, after every optimizer step, on every log record, after every
//! evaluation, after every checkpoint and at the end. The progress bar and the tracing events
//! are callbacks too.
//!
//! Callbacks observe; they cannot change the run. (A distributed run calls them on the main
//! process only, which is why they get reports, not the model.)

use std::path::Path;

use indicatif::ProgressBar;
use tracing::info;

use crate::evaluators::EvalReport;
use crate::run_folder::checkpoint::TrainerState;
use crate::run_folder::metrics::MetricsRecord;

/// What one optimizer step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// The step just taken (1-based).
    pub step: u64,
    /// Mean loss over the step's micro-batches.
    pub loss: f64,
    pub learning_rate: f64,
    /// Global gradient norm before clipping (NaN when an fp16 overflow skipped the step).
    pub grad_norm: f64,
    pub examples: usize,
}

#[allow(unused_variables)]
pub trait Callback {
    fn on_train_begin(&mut self, state: &TrainerState) {}
    fn on_step_end(&mut self, state: &TrainerState, report: &StepReport) {}
    fn on_log(&mut self, record: &MetricsRecord) {}
    fn on_evaluate(&mut self, step: u64, reports: &[EvalReport]) {}
    fn on_save(&mut self, step: u64, checkpoint: &Path) {}
    /// `interrupted`: the checkpoint a stopped run wrote.
    fn on_train_end(&mut self, state: &TrainerState, interrupted: Option<&Path>) {}
}

/// Structured `tracing` events for training logs and evaluations.
#[derive(Debug, Default)]
pub struct TracingCallback;

impl Callback for TracingCallback {
    fn on_log(&mut self, record: &MetricsRecord) {
        if let MetricsRecord::Train {
            step,
            loss,
            learning_rate,
            ..
        } = record
        {
            info!(step, loss, lr = learning_rate, "training");
        }
    }

    fn on_evaluate(&mut self, step: u64, reports: &[EvalReport]) {
        for r in reports {
            info!(
                step,
                evaluator = %r.evaluator,
                metric = %r.primary_metric,
                value = r.primary_value(),
                "evaluation"
            );
        }
    }

    fn on_save(&mut self, step: u64, checkpoint: &Path) {
        info!(step, checkpoint = %checkpoint.display(), "checkpoint written");
    }
}

/// The progress bar on stderr: steps, loss, learning rate, rate and ETA, and one line per
/// evaluation.
pub struct ProgressCallback {
    bar: ProgressBar,
}

impl ProgressCallback {
    pub fn new(total_steps: u64, enabled: bool) -> Self {
        Self {
            bar: crate::progress::training_bar(total_steps, 0, enabled),
        }
    }
}

impl Callback for ProgressCallback {
    fn on_train_begin(&mut self, state: &TrainerState) {
        self.bar.set_position(state.global_step);
        self.bar.reset_eta();
    }

    fn on_step_end(&mut self, state: &TrainerState, report: &StepReport) {
        self.bar.set_position(state.global_step);
        self.bar.set_message(format!(
            "loss {:.4} · lr {:.2e}",
            report.loss, report.learning_rate
        ));
    }

    fn on_evaluate(&mut self, step: u64, reports: &[EvalReport]) {
        for r in reports {
            if let Some(value) = r.primary_value() {
                self.bar.println(format!(
                    "step {step}: {} {} {value:.4}",
                    r.evaluator, r.primary_metric
                ));
            }
        }
    }

    fn on_train_end(&mut self, _state: &TrainerState, interrupted: Option<&Path>) {
        match interrupted {
            Some(path) => self
                .bar
                .abandon_with_message(format!("stopped; checkpoint {}", path.display())),
            None => self.bar.finish_and_clear(),
        }
    }
}
