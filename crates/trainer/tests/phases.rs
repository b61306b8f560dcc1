//! The trainer's phases driven through the library, without the binary: the step plan, the
//! evaluation schedule, best-model selection, checkpoint rotation and resume bookkeeping, on
//! a tiny random BERT and a JSONL file made in code.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use eval::MetricValues;
use model::SentenceTransformer;
use test_support::pairs_jsonl;
use trainer::{
    list_checkpoints, Callback, EvalReport, Evaluator, EvaluatorSet, EventPayload, MetricsRecord,
    Resume, StepReport, TrainConfig, Trainer, TrainerState,
};

/// The tiny random BERT the tests train (seed 3).
fn tiny_bert(dir: &Path) -> PathBuf {
    model::testing::tiny_bert(dir, &test_support::WORDS, 3).unwrap()
}

/// libtorch's random generator is global to the process: tests that seed it and draw from it
/// (model initialisation, dropout) run one at a time, or their draws interleave.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A config training the tiny model on `rows` pairs, batch 8, 2 epochs, no evaluators.
fn config(dir: &Path, rows: usize, extra: &[(&str, &str)]) -> TrainConfig {
    let model = tiny_bert(dir);
    let data = pairs_jsonl(dir, rows);
    let text = format!(
        r#"
[model]
base = "{}"
[data]
dataset = "{}"
format = "columns"
columns = "anchor=question,positive=answer"
[loss]
type = "multiple_negatives_ranking"
[training]
epochs = 2
batch_size = 8
learning_rate = 1e-3
warmup_steps = 2
seed = 5
device = "cpu"
threads = 1
[evaluation]
evaluators = []
eval_steps = 4
[output]
dir = "{}"
logging_steps = 2
save_steps = 0
progress = false
"#,
        model.display(),
        data.display(),
        dir.join("out").display()
    );
    let overrides: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TrainConfig::from_toml(&text, "test config", &overrides).unwrap()
}

/// Local files only: any hub request would go to a closed port and fail.
fn offline_client(dir: &Path) -> hub::HubClient {
    hub::HubClient::new("http://127.0.0.1:9", dir.join("hub-cache"))
}

/// Reports `values[i]` as `score` on its i-th call.
struct Scripted {
    values: Vec<f64>,
    calls: RefCell<usize>,
}

impl Evaluator for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn metric_names(&self) -> Vec<String> {
        vec!["score".into(), "other".into()]
    }
    fn primary_metric(&self) -> &str {
        "score"
    }
    fn evaluate(&self, _: &trainer::RunModel, _: usize) -> evaluate::Result<MetricValues> {
        let mut calls = self.calls.borrow_mut();
        let mut m = MetricValues::new();
        m.push("score", self.values[*calls % self.values.len()]);
        m.push("other", *calls as f64);
        *calls += 1;
        Ok(m)
    }
}

/// Records what the loop told its callbacks; optionally raises `stop` after a step.
#[derive(Default)]
struct Recorder {
    log: Rc<RefCell<Vec<String>>>,
    stop_after: Option<(u64, Arc<AtomicBool>)>,
}

impl Callback for Recorder {
    fn on_train_begin(&mut self, state: &TrainerState) {
        self.log
            .borrow_mut()
            .push(format!("begin {}", state.global_step));
    }
    fn on_step_end(&mut self, _: &TrainerState, report: &StepReport) {
        if let Some((step, stop)) = &self.stop_after {
            if report.step == *step {
                stop.store(true, Ordering::SeqCst);
            }
        }
    }
    fn on_evaluate(&mut self, step: u64, _: &[EvalReport]) {
        self.log.borrow_mut().push(format!("eval {step}"));
    }
    fn on_save(&mut self, step: u64, _: &Path) {
        self.log.borrow_mut().push(format!("save {step}"));
    }
    fn on_train_end(&mut self, state: &TrainerState, interrupted: Option<&Path>) {
        self.log.borrow_mut().push(format!(
            "end {} {}",
            state.global_step,
            if interrupted.is_some() {
                "interrupted"
            } else {
                "done"
            }
        ));
    }
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

/// The records of `kind` in `out/metrics.jsonl`, in order.
fn metric_records(out: &Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == kind)
        .collect()
}

fn metric_steps(out: &Path, kind: &str) -> Vec<u64> {
    metric_records(out, kind)
        .iter()
        .map(|v| v["step"].as_u64().unwrap())
        .collect()
}

#[test]
fn the_plan_counts_steps_per_epoch_with_accumulation_and_max_steps() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let client = offline_client(dir.path());
    let plain = config(dir.path(), 60, &[]);
    let t = Trainer::new(&plain, Resume::Fresh, &client).unwrap();
    // 60 rows in batches of 8: 8 batches (the last of 4) per epoch, 2 epochs.
    assert_eq!(t.plan().total_steps(), 16);
    assert_eq!(t.plan().epoch_of(12), 1.5);

    let accumulated = config(
        dir.path(),
        60,
        &[("training.gradient_accumulation_steps", "3")],
    );
    let t = Trainer::new(&accumulated, Resume::Fresh, &client).unwrap();
    assert_eq!(t.plan().total_steps(), 6, "ceil(8 / 3) = 3 steps per epoch");

    let capped = config(dir.path(), 60, &[("training.max_steps", "5")]);
    assert_eq!(
        Trainer::new(&capped, Resume::Fresh, &client)
            .unwrap()
            .plan()
            .total_steps(),
        5
    );
}

#[test]
fn evaluation_runs_before_every_eval_steps_and_at_the_end_and_picks_the_best() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let client = offline_client(dir.path());
    // 48 rows: 6 steps an epoch, 12 in all; evaluations at 0, 4, 8, 12.
    let cfg = config(dir.path(), 48, &[("output.load_best", "true")]);
    let scripted = Scripted {
        values: vec![0.1, 0.9, 0.5, 0.7],
        calls: RefCell::new(0),
    };
    let mut t =
        Trainer::with_evaluators(&cfg, Resume::Fresh, &client, vec![Box::new(scripted)]).unwrap();
    let recorder = Recorder::default();
    let log = Rc::clone(&recorder.log);
    t.add_callback(Box::new(recorder));
    let outcome = t.run(&AtomicBool::new(false)).unwrap();

    let out = dir.path().join("out");
    assert_eq!(metric_steps(&out, "eval"), [0, 4, 8, 12]);
    assert_eq!(metric_steps(&out, "train"), [2, 4, 6, 8, 10, 12]);
    let log = log.borrow();
    assert_eq!(
        *log,
        [
            "begin 0",
            "eval 0",
            "eval 4",
            "eval 8",
            "eval 12",
            "end 12 done"
        ]
    );
    let best = outcome.best.expect("a best evaluation");
    assert_eq!(
        (best.step, best.metric.as_str(), best.value),
        (4, "scripted_score", 0.9)
    );
    // The kept model is step 4's: the reported evaluation is that step's.
    assert_eq!(outcome.after[0].metrics.get("score"), Some(0.9));
    assert_eq!(outcome.after[0].metrics.get("other"), Some(1.0));
    assert!(
        !out.join("best-model").exists(),
        "the staging copy is removed"
    );
}

#[test]
fn a_lower_is_better_metric_and_an_unknown_metric_name() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let client = offline_client(dir.path());
    let cfg = config(
        dir.path(),
        48,
        &[
            ("output.load_best", "true"),
            ("evaluation.greater_is_better", "false"),
            (
                "evaluation.metric_for_best_model",
                "\"eval_scripted_score\"",
            ),
        ],
    );
    let scripted = || Scripted {
        values: vec![0.4, 0.9, 0.2, 0.7],
        calls: RefCell::new(0),
    };
    let t =
        Trainer::with_evaluators(&cfg, Resume::Fresh, &client, vec![Box::new(scripted())]).unwrap();
    let best = t.run(&AtomicBool::new(false)).unwrap().best.unwrap();
    assert_eq!((best.step, best.value), (8, 0.2));

    let mut wrong = cfg.evaluation.clone();
    wrong.metric_for_best_model = Some("scripted_spearman".into());
    let err = EvaluatorSet::new(vec![Box::new(scripted())], &wrong)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("metric_for_best_model") && err.contains("scripted_score, scripted_other"),
        "{err}"
    );
}

#[test]
fn checkpoints_rotate_to_the_limit() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let client = offline_client(dir.path());
    let cfg = config(
        dir.path(),
        48,
        &[("output.save_steps", "3"), ("output.save_total_limit", "2")],
    );
    let t = Trainer::new(&cfg, Resume::Fresh, &client).unwrap();
    t.run(&AtomicBool::new(false)).unwrap();
    // Saved at 3, 6 and 9 (not at the final step 12: the output folder is the final model).
    let kept: Vec<u64> = list_checkpoints(&dir.path().join("out/checkpoints"))
        .unwrap()
        .into_iter()
        .map(|(step, _)| step)
        .collect();
    assert_eq!(kept, [6, 9]);
}

#[test]
fn a_stopped_run_resumes_to_the_uninterrupted_weights_without_duplicate_records() {
    let _serial = serial();
    let whole = tempfile::tempdir().unwrap();
    let cfg = config(whole.path(), 48, &[]);
    Trainer::new(&cfg, Resume::Fresh, &offline_client(whole.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();

    let split = tempfile::tempdir().unwrap();
    let cfg = config(split.path(), 48, &[]);
    let client = offline_client(split.path());
    let stop = Arc::new(AtomicBool::new(false));
    let mut first = Trainer::new(&cfg, Resume::Fresh, &client).unwrap();
    first.add_callback(Box::new(Recorder {
        stop_after: Some((7, Arc::clone(&stop))),
        ..Recorder::default()
    }));
    let interrupted = first.run(&stop).unwrap();
    let checkpoint = interrupted.interrupted.expect("stopped with a checkpoint");
    assert_eq!(interrupted.steps, 7);
    assert!(
        checkpoint.ends_with("checkpoint-7"),
        "{}",
        checkpoint.display()
    );
    assert!(!split.path().join("out/model.safetensors").exists());

    let resumed = Trainer::new(&cfg, Resume::Latest, &client).unwrap();
    assert_eq!(resumed.state().global_step, 7);
    assert_eq!(
        (resumed.state().epoch, resumed.state().batches_done),
        (1, 1)
    );
    let outcome = resumed.run(&AtomicBool::new(false)).unwrap();
    assert_eq!(outcome.steps, 12);
    assert_eq!(
        weights(&split.path().join("out")),
        weights(&whole.path().join("out")),
        "resumed weights differ from the uninterrupted run's"
    );
    let steps = metric_steps(&split.path().join("out"), "train");
    assert_eq!(steps, metric_steps(&whole.path().join("out"), "train"));

    // TensorBoard: the resumed run's own event file, opening with a START at step 8, and
    // together the same train/loss steps as metrics.jsonl.
    let files = event_files(&split.path().join("out"));
    assert_eq!(files.len(), 2, "{files:?}");
    let resumed_events = trainer::read_event_file(&files[1]).unwrap();
    assert_eq!(
        (resumed_events[1].step, &resumed_events[1].payload),
        (8, &EventPayload::SessionStart)
    );
    let loss_steps: Vec<u64> = tensorboard_scalars(&split.path().join("out"), "train/loss")
        .iter()
        .map(|(step, _)| *step)
        .collect();
    assert_eq!(loss_steps, steps);
}

/// The event files in `out/runs/`, in name order (the order TensorBoard reads them in).
fn event_files(out: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// `(step, value)` of `tag` as TensorBoard shows it: each `SessionLog` START drops the
/// events read before it at or after its step (`EventAccumulator._Purge`).
fn tensorboard_scalars(out: &Path, tag: &str) -> Vec<(u64, f32)> {
    let mut seen = Vec::new();
    for file in event_files(out) {
        for event in trainer::read_event_file(&file).unwrap() {
            match event.payload {
                EventPayload::SessionStart => seen.retain(|(step, _)| *step < event.step),
                EventPayload::Scalars(values) => seen.extend(
                    values
                        .into_iter()
                        .filter(|(t, _)| t == tag)
                        .map(|(_, v)| (event.step, v)),
                ),
                _ => {}
            }
        }
    }
    seen
}

/// Starts a second run on the same config (so the same output folder) once the first begins.
struct SecondRun {
    config: TrainConfig,
    client_dir: std::path::PathBuf,
    error: Rc<RefCell<Option<String>>>,
}

impl Callback for SecondRun {
    fn on_train_begin(&mut self, _: &TrainerState) {
        let client = offline_client(&self.client_dir);
        let message = match Trainer::new(&self.config, Resume::Fresh, &client) {
            Ok(second) => match second.run(&AtomicBool::new(false)) {
                Ok(_) => "the second run succeeded".into(),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        *self.error.borrow_mut() = Some(message);
    }
}

#[test]
fn a_second_trainer_on_a_running_output_folder_is_refused() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let client = offline_client(dir.path());
    let cfg = config(dir.path(), 16, &[("training.max_steps", "2")]);
    let error = Rc::new(RefCell::new(None));
    let mut first = Trainer::new(&cfg, Resume::Fresh, &client).unwrap();
    first.add_callback(Box::new(SecondRun {
        config: cfg.clone(),
        client_dir: dir.path().to_path_buf(),
        error: Rc::clone(&error),
    }));
    first.run(&AtomicBool::new(false)).unwrap();

    let lock = dir.path().join("out/.train.lock");
    let error = error.borrow().clone().expect("the second run was started");
    for needle in [
        "output.dir is in use by another run",
        &format!("pid {}", std::process::id()),
        &lock.display().to_string(),
    ] {
        assert!(error.contains(needle), "{needle:?} missing from: {error}");
    }
    assert!(!lock.exists(), "the lock is removed when the run ends");
    let again = Trainer::new(&cfg, Resume::Fresh, &client).unwrap();
    again.run(&AtomicBool::new(false)).unwrap();
}

#[test]
fn metrics_records_read_back_with_named_metrics() {
    let line = r#"{"kind":"eval","step":4,"epoch":0.5,"evaluator":"stsb-validation","metrics":{"pearson_cosine":0.8,"spearman_cosine":0.81}}"#;
    let record: MetricsRecord = serde_json::from_str(line).unwrap();
    match record {
        MetricsRecord::Eval { metrics, .. } => {
            assert_eq!(
                metrics.names().collect::<Vec<_>>(),
                ["pearson_cosine", "spearman_cosine"]
            )
        }
        other => panic!("not an eval record: {other:?}"),
    }
}

fn train_losses(out: &Path) -> Vec<f64> {
    metric_records(out, "train")
        .iter()
        .map(|v| v["loss"].as_f64().unwrap())
        .collect()
}

/// `precision = "bf16"` must change the arithmetic: a float32 run is deterministic, so a bf16
/// run that silently computed in float32 would end with the very same weights. It must also
/// stay close (the same losses to a few percent) and save float32 weights.
#[test]
fn bf16_training_computes_in_bf16_and_saves_float32() {
    let _serial = serial();
    let fp32 = tempfile::tempdir().unwrap();
    let cfg = config(fp32.path(), 48, &[]);
    Trainer::new(&cfg, Resume::Fresh, &offline_client(fp32.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    let bf16 = tempfile::tempdir().unwrap();
    let cfg = config(bf16.path(), 48, &[("training.precision", "\"bf16\"")]);
    Trainer::new(&cfg, Resume::Fresh, &offline_client(bf16.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();

    let (a, b) = (fp32.path().join("out"), bf16.path().join("out"));
    assert_ne!(
        weights(&a),
        weights(&b),
        "bf16 training gave the float32 weights"
    );
    let (la, lb) = (train_losses(&a), train_losses(&b));
    assert_eq!(la.len(), lb.len());
    for (x, y) in la.iter().zip(&lb) {
        assert!(
            (x - y).abs() <= 0.05 * x.abs().max(1e-3),
            "fp32 {la:?} vs bf16 {lb:?}"
        );
    }
    let trained = SentenceTransformer::load(&b, tch::Device::Cpu).unwrap();
    for (name, var) in trained.var_store().variables() {
        assert_eq!(var.kind(), tch::Kind::Float, "{name}");
    }
}

/// `data.prompts` puts text before a column's texts: it changes what is trained (the weights
/// differ from a run without it), and a prompt for a column the rows lack is refused before
/// training, naming the key and the columns there are.
#[test]
fn per_column_prompts_train_and_an_unknown_column_is_named() {
    let _serial = serial();
    let plain = tempfile::tempdir().unwrap();
    let cfg = config(plain.path(), 32, &[("training.epochs", "1")]);
    Trainer::new(&cfg, Resume::Fresh, &offline_client(plain.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    let prompted = tempfile::tempdir().unwrap();
    let prompts = r#"{ anchor = "query: ", positive = "passage: " }"#;
    let cfg = config(
        prompted.path(),
        32,
        &[("training.epochs", "1"), ("data.prompts", prompts)],
    );
    Trainer::new(&cfg, Resume::Fresh, &offline_client(prompted.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    assert_ne!(
        weights(&plain.path().join("out")),
        weights(&prompted.path().join("out")),
        "the prompts changed nothing"
    );
    let card = std::fs::read_to_string(prompted.path().join("out/README.md")).unwrap();
    assert!(card.contains("query: "), "the model card lists the prompts");

    let bad = tempfile::tempdir().unwrap();
    let cfg = config(bad.path(), 32, &[("data.prompts", r#"{ query = "q: " }"#)]);
    let err = Trainer::new(&cfg, Resume::Fresh, &offline_client(bad.path()))
        .err()
        .expect("an unknown prompt column is refused")
        .to_string();
    assert!(
        err.contains("data.prompts.query") && err.contains("anchor, positive"),
        "{err}"
    );
}
