//! `[[datasets]]`: several training sets, each with its own loss, every batch from one of
//! them, in proportional or round-robin order, with exact resume.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use test_support::{pairs_jsonl, WORDS};
use trainer::{Callback, Resume, StepReport, TrainConfig, Trainer, TrainerState};

/// The tiny random BERT the tests train (seed 3).
fn tiny_bert(dir: &Path) -> PathBuf {
    model::testing::tiny_bert(dir, &test_support::WORDS, 3).unwrap()
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `rows` (s1, s2, score) lines: a score dataset for CoSENT.
fn scored_jsonl(dir: &Path, rows: usize) -> PathBuf {
    let text: String = (0..rows)
        .map(|i| {
            let w = |k: usize| WORDS[(i * 5 + k) % WORDS.len()];
            format!(
                "{}\n",
                serde_json::json!({"s1": format!("{} {} {}", w(0), w(1), w(2)), "s2": format!("{} {}", w(1), w(7)), "score": (i % 5) as f64 / 4.0})
            )
        })
        .collect();
    let path = dir.join("scored.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn config(dir: &Path, out: &str, sampling: &str, extra: &str) -> TrainConfig {
    let model = tiny_bert(dir);
    let pairs = pairs_jsonl(dir, 40);
    let scored = scored_jsonl(dir, 24);
    let text = format!(
        r#"
[model]
base = "{model}"

[[datasets]]
name = "qa"
data = {{ dataset = "{pairs}", format = "columns", columns = "anchor=question,positive=answer" }}
loss = {{ type = "multiple_negatives_ranking" }}

[[datasets]]
name = "sts"
data = {{ dataset = "{scored}", format = "columns", columns = "s1=s1,s2=s2,score=score" }}
loss = {{ type = "cosent" }}

[training]
epochs = 2
batch_size = 8
learning_rate = 1e-3
warmup_steps = 2
seed = 9
device = "cpu"
threads = 1
multi_dataset_sampling = "{sampling}"
{extra}
[evaluation]
evaluators = []
[output]
dir = "{out}"
logging_steps = 1
save_steps = 0
progress = false
"#,
        model = model.display(),
        pairs = pairs.display(),
        scored = scored.display(),
        out = dir.join(out).display()
    );
    TrainConfig::from_toml(&text, "test", &[]).unwrap()
}

fn client(dir: &Path) -> hub::HubClient {
    hub::HubClient::new("http://127.0.0.1:9", dir.join("hub-cache"))
}

/// Raises `stop` after step `at`.
struct StopAfter(u64, Arc<AtomicBool>);

impl Callback for StopAfter {
    fn on_step_end(&mut self, _: &TrainerState, report: &StepReport) {
        if report.step == self.0 {
            self.1.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn proportional_uses_every_batch_and_round_robin_stops_at_the_smallest() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // qa: 40 rows = 5 batches, sts: 24 rows = 3 batches.
    let proportional = config(dir.path(), "p", "proportional", "");
    let t = Trainer::new(&proportional, Resume::Fresh, &client(dir.path())).unwrap();
    assert_eq!(t.plan().total_steps(), 2 * (5 + 3));
    let outcome = t.run(&AtomicBool::new(false)).unwrap();
    assert_eq!(outcome.examples, 64);
    let card = std::fs::read_to_string(dir.path().join("p/README.md")).unwrap();
    assert!(
        card.contains("| qa: ") && card.contains("| sts: ") && card.contains("CoSENTLoss"),
        "{card}"
    );

    let round_robin = config(dir.path(), "r", "round_robin", "");
    let t = Trainer::new(&round_robin, Resume::Fresh, &client(dir.path())).unwrap();
    assert_eq!(t.plan().total_steps(), 2 * (2 * 3));
}

#[test]
fn a_stopped_multi_dataset_run_resumes_to_the_uninterrupted_weights() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let whole = config(
        dir.path(),
        "whole",
        "proportional",
        "gradient_accumulation_steps = 2",
    );
    Trainer::new(&whole, Resume::Fresh, &client(dir.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();

    let split = config(
        dir.path(),
        "split",
        "proportional",
        "gradient_accumulation_steps = 2",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut first = Trainer::new(&split, Resume::Fresh, &client(dir.path())).unwrap();
    first.add_callback(Box::new(StopAfter(5, Arc::clone(&stop))));
    assert!(first.run(&stop).unwrap().interrupted.is_some());
    let outcome = Trainer::new(&split, Resume::Latest, &client(dir.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    assert_eq!(outcome.steps, 8);
    let weights = |d: &str| std::fs::read(dir.path().join(d).join("model.safetensors")).unwrap();
    assert_eq!(weights("split"), weights("whole"));
}
