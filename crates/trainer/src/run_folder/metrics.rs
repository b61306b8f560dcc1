//! `metrics.jsonl`: one JSON object per logged training window or evaluation, appended as the
//! run goes, so a crash loses at most the line being written. With `output.report_to =
//! ["tensorboard"]` each record also goes to a TensorBoard event file under `runs/`, written
//! the same way.

use std::io::Write;
use std::path::{Path, PathBuf};

use config::ReportTo;
use eval::MetricValues;
use serde::{Deserialize, Serialize};

use crate::error::{io_error, Result};
use crate::run_folder::tensorboard::EventWriter;

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricsRecord {
    Train {
        step: u64,
        epoch: f64,
        /// Mean loss over the steps since the previous record.
        loss: f64,
        learning_rate: f64,
        grad_norm: f64,
        examples_per_second: f64,
        /// Processes of a data-parallel run (written only when more than one).
        #[serde(default = "one", skip_serializing_if = "is_one")]
        world_size: usize,
    },
    /// One evaluator's metrics (unprefixed keys) at one step.
    Eval {
        step: u64,
        epoch: f64,
        evaluator: String,
        metrics: MetricValues,
    },
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl MetricsRecord {
    pub fn step(&self) -> u64 {
        match self {
            MetricsRecord::Train { step, .. } | MetricsRecord::Eval { step, .. } => *step,
        }
    }

    /// The record as TensorBoard scalars, named as the Hugging Face Trainer names them:
    /// `train/loss`, `train/learning_rate`, `train/grad_norm`, `train/examples_per_second`,
    /// `train/epoch`, and `eval/<evaluator>_<metric>` for each metric of an evaluation.
    pub fn scalars(&self) -> Vec<(String, f64)> {
        match self {
            MetricsRecord::Train {
                epoch,
                loss,
                learning_rate,
                grad_norm,
                examples_per_second,
                ..
            } => [
                ("loss", *loss),
                ("learning_rate", *learning_rate),
                ("grad_norm", *grad_norm),
                ("examples_per_second", *examples_per_second),
                ("epoch", *epoch),
            ]
            .into_iter()
            .map(|(name, value)| (format!("train/{name}"), value))
            .collect(),
            MetricsRecord::Eval {
                evaluator, metrics, ..
            } => metrics
                .iter()
                .map(|(name, value)| (format!("eval/{evaluator}_{name}"), value))
                .collect(),
        }
    }
}

#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    records: Vec<MetricsRecord>,
    /// With `report_to = ["tensorboard"]`: this run's event file in `runs/` beside `path`.
    tensorboard: Option<EventWriter>,
}

impl MetricsLog {
    /// Starts `path` afresh, or — resuming at `resume_step` — keeps the records up to that
    /// step and drops the ones a crashed run wrote after its last checkpoint.
    ///
    /// With [`ReportTo::Tensorboard`] in `report_to`, also starts a new event file in `runs/`
    /// beside `path`. Earlier files are kept; the new one opens with a `SessionLog` START at
    /// the first step this run logs (0, or `resume_step + 1`), which makes TensorBoard drop
    /// what earlier files hold from that step on, as `metrics.jsonl` drops those records.
    pub fn open(path: &Path, resume_step: Option<u64>, report_to: &[ReportTo]) -> Result<Self> {
        let mut records = Vec::new();
        if let (Some(step), true) = (resume_step, path.is_file()) {
            let text = std::fs::read_to_string(path).map_err(io_error(path))?;
            records = text
                .lines()
                .filter_map(|line| serde_json::from_str::<MetricsRecord>(line).ok())
                .filter(|r| r.step() <= step)
                .collect();
        }
        let tensorboard = match (report_to.contains(&ReportTo::Tensorboard), path.parent()) {
            (true, Some(dir)) => Some(EventWriter::create(
                &dir.join("runs"),
                resume_step.map_or(0, |step| step + 1),
            )?),
            _ => None,
        };
        let log = Self {
            path: path.to_path_buf(),
            records,
            tensorboard,
        };
        log.rewrite()?;
        Ok(log)
    }

    fn rewrite(&self) -> Result<()> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let mut text = String::new();
        for r in &self.records {
            text.push_str(&serde_json::to_string(r).unwrap_or_default());
            text.push('\n');
        }
        std::fs::write(&self.path, text).map_err(io_error(&self.path))
    }

    pub fn append(&mut self, record: MetricsRecord) -> Result<()> {
        let line = serde_json::to_string(&record).unwrap_or_default();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(io_error(&self.path))?;
        writeln!(file, "{line}").map_err(io_error(&self.path))?;
        if let Some(tensorboard) = &mut self.tensorboard {
            tensorboard.write_scalars(record.step(), &record.scalars())?;
        }
        self.records.push(record);
        Ok(())
    }

    pub fn records(&self) -> &[MetricsRecord] {
        &self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_folder::tensorboard::{read_event_file, EventPayload};

    fn eval_record(step: u64) -> MetricsRecord {
        let mut metrics = MetricValues::new();
        metrics.push("spearman_cosine", 0.5);
        MetricsRecord::Eval {
            step,
            epoch: 0.0,
            evaluator: "sts-dev".into(),
            metrics,
        }
    }

    #[test]
    fn records_go_to_tensorboard_unless_report_to_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, None, &[]).unwrap();
        log.append(eval_record(0)).unwrap();
        assert!(!dir.path().join("runs").exists());

        let mut log = MetricsLog::open(&path, None, &[ReportTo::Tensorboard]).unwrap();
        log.append(eval_record(0)).unwrap();
        log.append(MetricsRecord::Train {
            step: 3,
            epoch: 0.25,
            loss: 1.5,
            learning_rate: 1e-4,
            grad_norm: 2.0,
            examples_per_second: 100.0,
            world_size: 1,
        })
        .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        let scalars: Vec<(u64, Vec<(String, f32)>)> = read_event_file(&files[0])
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.payload {
                EventPayload::Scalars(s) => Some((e.step, s)),
                _ => None,
            })
            .collect();
        let tags = |s: &[(String, f32)]| s.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
        assert_eq!(scalars.len(), 2);
        assert_eq!(scalars[0].0, 0);
        assert_eq!(
            scalars[0].1,
            [("eval/sts-dev_spearman_cosine".to_string(), 0.5)]
        );
        assert_eq!(scalars[1].0, 3);
        assert_eq!(
            tags(&scalars[1].1),
            [
                "train/loss",
                "train/learning_rate",
                "train/grad_norm",
                "train/examples_per_second",
                "train/epoch"
            ]
        );
    }

    #[test]
    fn a_resumed_log_starts_tensorboard_after_the_checkpoint_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, None, &[ReportTo::Tensorboard]).unwrap();
        for step in [0, 5, 10] {
            log.append(eval_record(step)).unwrap();
        }
        let log = MetricsLog::open(&path, Some(5), &[ReportTo::Tensorboard]).unwrap();
        assert_eq!(log.records().len(), 2, "steps 0 and 5 are kept");
        let mut files: Vec<_> = std::fs::read_dir(dir.path().join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let resumed = read_event_file(&files[1]).unwrap();
        assert_eq!(
            (resumed[1].step, &resumed[1].payload),
            (6, &EventPayload::SessionStart),
            "the step-5 records are kept, so the purge starts at 6"
        );
    }
}
