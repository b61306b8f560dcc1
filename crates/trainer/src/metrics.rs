//! `metrics.jsonl`: one JSON object per logged training window or evaluation, appended as the
//! run goes, so a crash loses at most the line being written.

use std::io::Write;
use std::path::{Path, PathBuf};

use eval::MetricValues;
use serde::{Deserialize, Serialize};

use crate::error::{io_error, Result};

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
    },
    /// One evaluator's metrics (unprefixed keys) at one step.
    Eval {
        step: u64,
        epoch: f64,
        evaluator: String,
        metrics: MetricValues,
    },
}

impl MetricsRecord {
    pub fn step(&self) -> u64 {
        match self {
            MetricsRecord::Train { step, .. } | MetricsRecord::Eval { step, .. } => *step,
        }
    }
}

#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    records: Vec<MetricsRecord>,
}

impl MetricsLog {
    /// Starts `path` afresh, or — resuming at `resume_step` — keeps the records up to that
    /// step and drops the ones a crashed run wrote after its last checkpoint.
    pub fn open(path: &Path, resume_step: Option<u64>) -> Result<Self> {
        let mut records = Vec::new();
        if let (Some(step), true) = (resume_step, path.is_file()) {
            let text = std::fs::read_to_string(path).map_err(io_error(path))?;
            records = text
                .lines()
                .filter_map(|line| serde_json::from_str::<MetricsRecord>(line).ok())
                .filter(|r| r.step() <= step)
                .collect();
        }
        let log = Self {
            path: path.to_path_buf(),
            records,
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
        self.records.push(record);
        Ok(())
    }

    pub fn records(&self) -> &[MetricsRecord] {
        &self.records
    }
}
