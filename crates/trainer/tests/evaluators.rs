//! Every evaluator type built from a config and run while training a tiny random BERT on
//! files made in code, and label-grouped batches for the batch triplet losses.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use test_support::WORDS;
use trainer::{EventPayload, MetricsRecord, Resume, TrainConfig, Trainer};

/// The tiny random BERT the tests train (seed 3).
fn tiny_bert(dir: &Path) -> PathBuf {
    model::testing::tiny_bert(dir, &test_support::WORDS, 3).unwrap()
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `rows` JSON lines; `row(i)` gives each line's object.
fn jsonl(dir: &Path, name: &str, rows: usize, row: impl Fn(usize) -> serde_json::Value) -> PathBuf {
    let text: String = (0..rows).map(|i| format!("{}\n", row(i))).collect();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn words(i: usize, n: usize) -> String {
    (0..n)
        .map(|k| WORDS[(i * 7 + k * 3) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn offline_client(dir: &Path) -> hub::HubClient {
    hub::HubClient::new("http://127.0.0.1:9", dir.join("hub-cache"))
}

fn run(config: &TrainConfig, dir: &Path) -> trainer::TrainOutcome {
    Trainer::new(config, Resume::Fresh, &offline_client(dir))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap()
}

#[test]
fn retrieval_binary_triplet_and_paraphrase_evaluators_report_their_metrics() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_bert(dir.path());
    let pairs = jsonl(
        dir.path(),
        "pairs.jsonl",
        40,
        |i| serde_json::json!({"a": format!("{} {i}", words(i, 3)), "b": words(i, 2), "label": i % 2}),
    );
    let triplets = jsonl(
        dir.path(),
        "triplets.jsonl",
        30,
        |i| serde_json::json!({"a": words(i, 3), "p": words(i, 2), "n": words(i + 5, 3)}),
    );
    let text = format!(
        r#"
[model]
base = "{model}"
[data]
dataset = "{pairs}"
format = "columns"
columns = "anchor=a,positive=b"
[training]
max_steps = 4
batch_size = 8
learning_rate = 1e-3
device = "cpu"
threads = 1
[evaluation]
eval_steps = 2
metric_for_best_model = "qa_cosine_mrr@10"
evaluators = [
  {{ type = "information_retrieval", name = "qa", source = {{ kind = "pairs", data = {{ dataset = "{pairs}", format = "columns", columns = "query=a,positive=b" }} }} }},
  {{ type = "binary_classification", name = "dup", data = {{ dataset = "{pairs}", format = "columns", columns = "s1=a,s2=b,label=label" }} }},
  {{ type = "triplet", name = "tri", data = {{ dataset = "{triplets}", format = "columns", columns = "anchor=a,positive=p,negative=n" }} }},
  {{ type = "paraphrase_mining", name = "para", data = {{ dataset = "{pairs}", format = "columns", columns = "s1=a,s2=b,label=label" }} }},
]
[output]
dir = "{out}"
save_steps = 0
progress = false
load_best = true
"#,
        model = model.display(),
        pairs = pairs.display(),
        triplets = triplets.display(),
        out = dir.path().join("out").display()
    );
    let config = TrainConfig::from_toml(&text, "test", &[]).unwrap();
    let outcome = run(&config, dir.path());

    let names: Vec<&str> = outcome.after.iter().map(|r| r.evaluator.as_str()).collect();
    assert_eq!(names, ["qa", "dup", "tri", "para"]);
    let primary: Vec<&str> = outcome
        .after
        .iter()
        .map(|r| r.primary_metric.as_str())
        .collect();
    assert_eq!(
        primary,
        [
            "cosine_ndcg@10",
            "cosine_ap",
            "cosine_accuracy",
            "average_precision"
        ]
    );
    for report in &outcome.after {
        for (name, value) in report.metrics.iter() {
            assert!(value.is_finite(), "{} {name} = {value}", report.evaluator);
        }
        assert!(report.primary_value().is_some(), "{}", report.evaluator);
    }
    let qa = &outcome.after[0].metrics;
    assert_eq!(
        qa.len(),
        15,
        "accuracy/precision/recall@1,3,5,10 and ndcg, mrr, map"
    );
    assert!(outcome.after[1]
        .metrics
        .get("cosine_f1_threshold")
        .is_some());
    assert_eq!(outcome.best.unwrap().metric, "qa_cosine_mrr@10");
    // Four evaluators at steps 0, 2 and 4.
    let log = std::fs::read_to_string(dir.path().join("out/metrics.jsonl")).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains(r#""kind":"eval""#))
            .count(),
        12
    );
    let card = std::fs::read_to_string(dir.path().join("out/README.md")).unwrap();
    assert!(
        card.contains("`qa`") && card.contains("cosine_ndcg@10"),
        "{card}"
    );

    // The same records as TensorBoard scalars in one event file under runs/.
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("out/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let events = trainer::read_event_file(&runs[0]).unwrap();
    let scalars = |tag: &str| -> Vec<(u64, f32)> {
        events
            .iter()
            .flat_map(|e| match &e.payload {
                EventPayload::Scalars(values) => values
                    .iter()
                    .filter(|(t, _)| t == tag)
                    .map(|(_, v)| (e.step, *v))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    let records: Vec<MetricsRecord> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let logged_loss: Vec<(u64, f32)> = records
        .iter()
        .filter_map(|r| match r {
            MetricsRecord::Train { step, loss, .. } => Some((*step, *loss as f32)),
            MetricsRecord::Eval { .. } => None,
        })
        .collect();
    let logged = |name: &str, metric: &str| -> Vec<(u64, f32)> {
        records
            .iter()
            .filter_map(|r| match r {
                MetricsRecord::Eval {
                    step,
                    evaluator,
                    metrics,
                    ..
                } if evaluator == name => metrics.get(metric).map(|v| (*step, v as f32)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(scalars("train/loss"), logged_loss);
    assert_eq!(
        scalars("train/loss"),
        [(4, logged_loss[0].1)],
        "logged at the last step"
    );
    for tag in [
        "train/learning_rate",
        "train/grad_norm",
        "train/examples_per_second",
        "train/epoch",
    ] {
        assert_eq!(scalars(tag).len(), 1, "{tag}");
    }
    let mrr = scalars("eval/qa_cosine_mrr@10");
    assert_eq!(mrr, logged("qa", "cosine_mrr@10"));
    assert_eq!(mrr.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [0, 2, 4]);
    assert_eq!(scalars("eval/dup_cosine_ap").len(), 3);
}

#[test]
fn an_evaluator_without_usable_rows_fails_before_training() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_bert(dir.path());
    let unlabelled = jsonl(
        dir.path(),
        "pairs.jsonl",
        10,
        |i| serde_json::json!({"a": words(i, 3), "b": words(i, 2)}),
    );
    let config = |evaluator: &str| {
        let text = format!(
            r#"
[model]
base = "{model}"
[data]
dataset = "{data}"
format = "columns"
columns = "anchor=a,positive=b"
[evaluation]
evaluators = [{evaluator}]
[output]
dir = "{out}"
progress = false
"#,
            model = model.display(),
            data = unlabelled.display(),
            out = dir.path().join("out").display()
        );
        TrainConfig::from_toml(&text, "test", &[]).unwrap()
    };
    let binary = config(&format!(
        r#"{{ type = "binary_classification", name = "dup", data = {{ dataset = "{}", format = "columns", columns = "s1=a,s2=b" }} }}"#,
        unlabelled.display()
    ));
    let err = Trainer::new(&binary, Resume::Fresh, &offline_client(dir.path()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("dup") && err.contains("0/1 label"), "{err}");
    let triplet = config(&format!(
        r#"{{ type = "triplet", name = "tri", data = {{ dataset = "{}", format = "columns", columns = "anchor=a,positive=b" }} }}"#,
        unlabelled.display()
    ));
    let err = Trainer::new(&triplet, Resume::Fresh, &offline_client(dir.path()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("tri") && err.contains("3 text columns"),
        "{err}"
    );
    assert!(
        !dir.path().join("out").exists(),
        "nothing written before training"
    );
}

#[test]
fn batch_triplet_losses_train_on_label_grouped_batches() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_bert(dir.path());
    // Four labels, 12 rows each: the words of a label overlap, other labels' do not.
    let data = jsonl(dir.path(), "labelled.jsonl", 48, |i| {
        let label = i % 4;
        serde_json::json!({"text": format!("{} {}", words(label * 5, 3), WORDS[i % 24]), "label": label})
    });
    for loss in [
        "batch_hard_triplet",
        "batch_semi_hard_triplet",
        "batch_all_triplet",
        "batch_hard_soft_margin_triplet",
    ] {
        let text = format!(
            r#"
[model]
base = "{model}"
[data]
dataset = "{data}"
format = "columns"
columns = "anchor=text,label=label"
[loss]
type = "{loss}"
[training]
epochs = 2
batch_size = 8
learning_rate = 1e-3
warmup_steps = 0
batch_sampler = "group_by_label"
device = "cpu"
threads = 1
[evaluation]
evaluators = []
[output]
dir = "{out}"
logging_steps = 1
save_steps = 0
progress = false
"#,
            model = model.display(),
            data = data.display(),
            out = dir.path().join(loss).display()
        );
        let config = TrainConfig::from_toml(&text, "test", &[]).unwrap();
        let outcome = run(&config, dir.path());
        assert!(outcome.steps >= 10, "{loss}: {} steps", outcome.steps);
        let log = std::fs::read_to_string(dir.path().join(loss).join("metrics.jsonl")).unwrap();
        let losses: Vec<f64> = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["kind"] == "train")
            .map(|v| v["loss"].as_f64().unwrap())
            .collect();
        assert!(losses.iter().all(|l| l.is_finite()), "{loss}: {losses:?}");
    }
}

/// `label_accuracy` scores the run's SoftmaxLoss classifier: on pairs whose label follows
/// from their words it climbs from chance; without a SoftmaxLoss in the run it is refused
/// before training, naming the datasets and their losses.
#[test]
fn label_accuracy_scores_the_softmax_classifier_and_needs_one() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_bert(dir.path());
    // Three labels; each label's texts draw on their own words.
    let data = jsonl(dir.path(), "nli.jsonl", 60, |i| {
        let label = i % 3;
        serde_json::json!({
            "a": format!("{} {}", words(label * 8, 3), WORDS[i % 24]),
            "b": words(label * 8 + 1, 2),
            "label": label,
        })
    });
    let config = |columns: &str, loss: &str, out: &str| {
        let text = format!(
            r#"
[model]
base = "{model}"
[data]
dataset = "{data}"
format = "columns"
columns = "{columns}"
[loss]
{loss}
[training]
epochs = 4
batch_size = 8
learning_rate = 1e-3
warmup_steps = 0
device = "cpu"
threads = 1
[evaluation]
eval_steps = 0
evaluators = [
  {{ type = "label_accuracy", name = "nli", data = {{ dataset = "{data}", format = "columns", columns = "premise=a,hypothesis=b,label=label" }} }},
]
[output]
dir = "{out}"
save_steps = 0
progress = false
"#,
            model = model.display(),
            data = data.display(),
            out = dir.path().join(out).display()
        );
        TrainConfig::from_toml(&text, "test", &[]).unwrap()
    };
    let outcome = run(
        &config(
            "premise=a,hypothesis=b,label=label",
            "type = \"softmax\"\nnum_labels = 3",
            "softmax",
        ),
        dir.path(),
    );
    let before = outcome.before[0].metrics.get("accuracy").unwrap();
    let after = outcome.after[0].metrics.get("accuracy").unwrap();
    assert_eq!(outcome.after[0].primary_metric, "accuracy");
    assert!(
        after > 0.6 && after > before,
        "accuracy {before} -> {after}"
    );

    let cfg = config(
        "anchor=a,positive=b",
        "type = \"multiple_negatives_ranking\"",
        "mnrl",
    );
    let err = Trainer::new(&cfg, Resume::Fresh, &offline_client(dir.path()))
        .err()
        .expect("no classifier to score")
        .to_string();
    assert!(
        err.contains("evaluation.evaluators.nli") && err.contains("MultipleNegativesRankingLoss"),
        "{err}"
    );
}
