//! Resuming continues the run a checkpoint belongs to only if the config still describes that
//! run: another batch size, learning rate, dataset or loss would silently train a mixture of
//! two runs, and the "exact resume" would no longer be exact.
//!
//! Each checkpoint keeps the resolved `config.toml`. Both configs are compared as TOML tables:
//! every leaf that differs is listed by its dotted key (`training.batch_size`), and each is
//! looked up in an allow-list of keys that change neither the data order nor the math
//! ([`MAY_CHANGE`]). An allow-list rather than a deny-list: a key added to the config later is
//! refused until someone decides it is harmless, instead of being waved through.
//! `output.load_best` is not on it: the best evaluation is only tracked while it is on, so
//! turning it on half-way would pick from half a run.

use std::path::Path;

use toml::{Table, Value};
use tracing::{info, warn};

use crate::error::{io_error, Error, Result};

/// Keys (or whole sections) that may differ between a checkpoint and the resumed run.
const MAY_CHANGE: &[&str] = &[
    "output.dir",
    "output.logging_steps",
    "output.progress",
    "output.report_to",
    "output.save_steps",
    "output.save_total_limit",
    "training.threads",
    "training.ddp_timeout",
    "training.ddp_backend",
    "training.device",
    "evaluation",
];

/// The checkpoint's copy of the config, next to its weights.
const CHECKPOINT_CONFIG: &str = "config.toml";

/// One key whose value differs; `None` where a side does not set it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub key: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<Value>| v.as_ref().map_or("unset".into(), Value::to_string);
        write!(
            f,
            "{} is {} in the checkpoint, {} now",
            self.key,
            show(&self.old),
            show(&self.new)
        )
    }
}

/// Refuses to resume from `checkpoint` with `current_toml` (the resolved config of this run)
/// when a key outside [`MAY_CHANGE`] differs; an error lists every such key.
pub(crate) fn check_resume_config(checkpoint: &Path, current_toml: &str) -> Result<()> {
    let path = checkpoint.join(CHECKPOINT_CONFIG);
    let saved = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            warn!(checkpoint = %checkpoint.display(), "no config.toml; cannot check the config");
            return Ok(());
        }
        Err(e) => return Err(io_error(&path)(e)),
    };
    let (old, new) = (parse(&path, &saved)?, parse(&path, current_toml)?);
    let (allowed, refused): (Vec<Change>, Vec<Change>) = differences(&old, &new)
        .into_iter()
        .partition(|c| may_change(&c.key));
    for change in &allowed {
        info!(change = %change, "config changed on resume");
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(Error::ResumeConfigChanged {
        checkpoint: checkpoint.to_path_buf(),
        changes: refused.iter().map(Change::to_string).collect(),
    })
}

fn parse(path: &Path, text: &str) -> Result<Table> {
    text.parse()
        .map_err(|e: toml::de::Error| Error::Checkpoint {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Whether `key` is on the allow-list, itself or under an allowed section.
pub(crate) fn may_change(key: &str) -> bool {
    MAY_CHANGE.iter().any(|allowed| {
        key == *allowed
            || key
                .strip_prefix(allowed)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Every leaf that differs between `old` and `new`, by dotted key, sorted. Tables are walked;
/// anything else (arrays too) is compared whole.
pub(crate) fn differences(old: &Table, new: &Table) -> Vec<Change> {
    let mut changes = Vec::new();
    walk("", Some(old), Some(new), &mut changes);
    changes.sort_by(|a, b| a.key.cmp(&b.key));
    changes
}

fn walk(prefix: &str, old: Option<&Table>, new: Option<&Table>, out: &mut Vec<Change>) {
    let keys = old
        .into_iter()
        .chain(new)
        .flat_map(|t| t.keys())
        .collect::<std::collections::BTreeSet<_>>();
    for key in keys {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let (a, b) = (old.and_then(|t| t.get(key)), new.and_then(|t| t.get(key)));
        match (a, b) {
            (Some(Value::Table(x)), Some(Value::Table(y))) => walk(&dotted, Some(x), Some(y), out),
            (Some(Value::Table(x)), None) => walk(&dotted, Some(x), None, out),
            (None, Some(Value::Table(y))) => walk(&dotted, None, Some(y), out),
            _ if a == b => {}
            _ => out.push(Change {
                key: dotted,
                old: a.cloned(),
                new: b.cloned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::TrainConfig;

    fn resolved(overrides: &[(&str, &str)]) -> String {
        let overrides: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TrainConfig::from_toml("", "test", &overrides)
            .unwrap()
            .to_toml()
            .unwrap()
    }

    fn checkpoint_with(config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CHECKPOINT_CONFIG), config).unwrap();
        dir
    }

    #[test]
    fn lists_changed_added_and_removed_leaves_by_dotted_key() {
        let old: Table = "a = 1\n[s]\nx = 1\ny = \"k\"\n[s.deep]\nz = [1, 2]\n"
            .parse()
            .unwrap();
        let new: Table = "a = 1\n[s]\nx = 2\nw = true\n[s.deep]\nz = [1, 3]\n"
            .parse()
            .unwrap();
        let keys: Vec<String> = differences(&old, &new).into_iter().map(|c| c.key).collect();
        assert_eq!(keys, ["s.deep.z", "s.w", "s.x", "s.y"]);
        assert!(differences(&old, &old).is_empty());
    }

    #[test]
    fn the_allow_list_matches_keys_and_sections_not_prefixes() {
        assert!(may_change("output.logging_steps"));
        assert!(
            may_change("output.report_to"),
            "checkpoints from before report_to"
        );
        assert!(may_change("evaluation.evaluators"));
        assert!(may_change("evaluation.eval_steps"));
        assert!(!may_change("output.logging_steps_extra"));
        assert!(!may_change("evaluationx.y"));
        assert!(!may_change("output.load_best"));
        assert!(!may_change("training.new_knob"), "unknown keys are refused");
    }

    #[test]
    fn math_and_data_order_changes_are_refused_naming_each_key_with_both_values() {
        let ckpt = checkpoint_with(&resolved(&[]));
        let now = resolved(&[
            ("training.batch_size", "16"),
            ("training.learning_rate", "1e-4"),
            ("data.max_rows", "100"),
            ("loss.type", "cosine_similarity"),
            ("model.base", "other/model"),
            ("training.max_steps", "7"),
        ]);
        let err = check_resume_config(ckpt.path(), &now).unwrap_err();
        let text = err.to_string();
        for needle in [
            "training.batch_size is 32 in the checkpoint, 16 now",
            "training.learning_rate is 0.00005 in the checkpoint, 0.0001 now",
            "data.max_rows is unset in the checkpoint, 100 now",
            "loss.type",
            "model.base is \"sentence-transformers/all-MiniLM-L6-v2\" in the checkpoint, \
             \"other/model\" now",
            "training.max_steps is unset in the checkpoint, 7 now",
            &ckpt.path().display().to_string(),
        ] {
            assert!(text.contains(needle), "{needle:?} missing from: {text}");
        }
    }

    #[test]
    fn every_math_key_of_the_issue_is_refused() {
        let base = resolved(&[]);
        for (key, value) in [
            ("data.dataset", "snli"),
            ("data.split", "validation"),
            ("training.gradient_accumulation_steps", "2"),
            ("training.warmup_steps", "3"),
            ("training.weight_decay", "0.5"),
            ("training.adam_beta1", "0.8"),
            ("training.adam_beta2", "0.99"),
            ("training.adam_epsilon", "1e-6"),
            ("training.max_grad_norm", "2.0"),
            ("training.seed", "1"),
            ("training.precision", "bf16"),
            ("training.batch_sampler", "shuffle"),
            ("training.group_by_length", "true"),
            ("training.drop_last", "true"),
            ("training.epochs", "3"),
            ("output.load_best", "true"),
        ] {
            let ckpt = checkpoint_with(&base);
            let err = check_resume_config(ckpt.path(), &resolved(&[(key, value)]));
            let text = err.expect_err(key).to_string();
            assert!(text.contains(key), "{key}: {text}");
        }
    }

    #[test]
    fn logging_evaluation_saving_threads_device_and_dir_may_change() {
        let ckpt = checkpoint_with(&resolved(&[]));
        let now = resolved(&[
            ("output.logging_steps", "1"),
            ("output.progress", "false"),
            ("output.save_steps", "3"),
            ("output.save_total_limit", "5"),
            ("output.dir", "elsewhere"),
            ("training.threads", "2"),
            ("training.device", "cpu"),
            ("evaluation.eval_steps", "7"),
            ("evaluation.evaluators", "[]"),
        ]);
        check_resume_config(ckpt.path(), &now).unwrap();
    }

    #[test]
    fn a_checkpoint_without_its_config_is_not_checked() {
        let dir = tempfile::tempdir().unwrap();
        check_resume_config(dir.path(), &resolved(&[])).unwrap();
    }
}
