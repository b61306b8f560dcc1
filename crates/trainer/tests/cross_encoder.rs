//! Training a cross-encoder (reranker) with the same Trainer: each loss layout on a tiny
//! random BERT that gets a new classification head, the output folder as sentence-transformers'
//! CrossEncoder folder, exact resume, GradCache against the plain loss, the cross-encoder
//! evaluators, and the errors of configs and data that do not fit.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use model::{CrossEncoder, PredictOptions, ScoreActivation};
use test_support::WORDS;
use trainer::{Resume, RunModel, TrainConfig, Trainer};

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn offline_client(dir: &Path) -> hub::HubClient {
    hub::HubClient::new("http://127.0.0.1:9", dir.join("hub-cache"))
}

/// `rows` (query, document, score, negative, label) rows: `document` is the query's match
/// (score 1, with "red") on even rows and another row's (score 0, with "blue") on odd ones; `negative` is always
/// another row's; `label` is a 3-way class.
fn rerank_jsonl(dir: &Path, rows: usize) -> PathBuf {
    let word = |i: usize| WORDS[i % WORDS.len()];
    let query = |i: usize| format!("{} {} {}", word(i), word(i / 3 + 5), word(i / 7 + 2));
    let matching = |i: usize| format!("{} {} {}", word(i), word(i / 3 + 5), word(i + 11));
    let mut text = String::new();
    for i in 0..rows {
        // A word that gives the answer away, so that a tiny model learns it in a few steps.
        let (document, score) = if i % 2 == 0 {
            (format!("{} red red", matching(i)), 1.0)
        } else {
            (format!("{} blue blue", matching(i + 5)), 0.0)
        };
        let row = serde_json::json!({
            "query": query(i),
            "document": document,
            "score": score,
            "negative": matching(i + 9),
            "label": (i % 3) as i64,
        });
        text.push_str(&row.to_string());
        text.push('\n');
    }
    let path = dir.join("rerank.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

/// A cross-encoder run on the tiny random BERT (seed 3) over `rows` rows of
/// [`rerank_jsonl`], batch 8, 2 epochs, no evaluators unless overridden.
fn config(
    dir: &Path,
    rows: usize,
    columns: &str,
    loss: &str,
    extra: &[(&str, &str)],
) -> TrainConfig {
    let base = model::testing::tiny_bert(dir, &WORDS, 3).unwrap();
    let data = rerank_jsonl(dir, rows);
    let text = format!(
        r#"
[model]
base = "{}"
cross_encoder = {{ num_labels = 1 }}
[data]
dataset = "{}"
format = "columns"
columns = "{columns}"
[loss]
type = "{loss}"
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
[output]
dir = "{}"
logging_steps = 1
save_steps = 0
progress = false
"#,
        base.display(),
        data.display(),
        dir.join("out").display()
    );
    let overrides: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TrainConfig::from_toml(&text, "test config", &overrides).unwrap()
}

const SCORED: &str = "anchor=query,positive=document,score=score";
const TRIPLETS: &str = "anchor=query,positive=document,negative=negative";

fn train_losses(out: &Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "train")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect()
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

fn run(cfg: &TrainConfig, dir: &Path) -> trainer::TrainOutcome {
    Trainer::new(cfg, Resume::Fresh, &offline_client(dir))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap()
}

/// BinaryCrossEntropyLoss on scored pairs lowers the loss, and the output folder is a
/// CrossEncoder folder: it loads with its one label and sigmoid activation, scores pairs, and
/// its model card says how to load it in sentence-transformers.
#[test]
fn binary_cross_entropy_trains_and_saves_a_cross_encoder_folder() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        48,
        SCORED,
        "cross_encoder.binary_cross_entropy",
        &[("training.epochs", "20")],
    );
    let outcome = run(&cfg, dir.path());
    assert_eq!(outcome.steps, 120);
    let losses = train_losses(&dir.path().join("out"));
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    // From chance (ln 2) to well below it (measured: 0.69 over the first ten steps, 0.21 by
    // step 100).
    assert!(
        mean(&losses[..10]) > 0.6 && mean(&losses[110..]) < 0.4,
        "the loss did not fall: {losses:?}"
    );
    let out = dir.path().join("out");
    let model = CrossEncoder::load(&out, tch::Device::Cpu).unwrap();
    assert_eq!(model.num_labels(), 1);
    assert_eq!(model.activation(), ScoreActivation::Sigmoid);
    let scores = model
        .predict(
            &[("the cat sits", "the cat is")],
            &PredictOptions::default(),
        )
        .unwrap();
    assert!(scores.data[0] > 0.0 && scores.data[0] < 1.0);
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        card.contains("from sentence_transformers import CrossEncoder")
            && card.contains("BinaryCrossEntropyLoss"),
        "{card}"
    );
    let st_config = std::fs::read_to_string(out.join("config_sentence_transformers.json")).unwrap();
    assert!(st_config.contains("CrossEncoder"), "{st_config}");
}

/// A base without a head gets a new one drawn from `training.seed`: two runs of one config
/// train to the same weights.
#[test]
fn the_new_head_is_drawn_from_the_seed() {
    let _serial = serial();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (other_seed, dir) in [(1, &a), (2, &b)] {
        let cfg = config(
            dir.path(),
            16,
            SCORED,
            "cross_encoder.binary_cross_entropy",
            &[("training.max_steps", "1")],
        );
        // Whatever the generator held before, the run draws from its own seed.
        tch::manual_seed(other_seed);
        run(&cfg, dir.path());
    }
    assert_eq!(
        weights(&a.path().join("out")),
        weights(&b.path().join("out"))
    );
}

/// MultipleNegativesRankingLoss (in-batch negatives drawn per step) stopped after 3 steps and
/// resumed ends with the weights of the uninterrupted run.
#[test]
fn an_in_batch_negatives_run_resumes_exactly() {
    let _serial = serial();
    let loss = "cross_encoder.multiple_negatives_ranking";
    let whole = tempfile::tempdir().unwrap();
    let cfg = config(whole.path(), 40, TRIPLETS, loss, &[]);
    let whole_steps = run(&cfg, whole.path()).steps;

    let split = tempfile::tempdir().unwrap();
    let cfg = config(
        split.path(),
        40,
        TRIPLETS,
        loss,
        &[("output.save_steps", "3")],
    );
    let client = offline_client(split.path());
    let stop = AtomicBool::new(false);
    let mut first = Trainer::new(&cfg, Resume::Fresh, &client).unwrap();
    // Run to the checkpoint at step 3, then drop the trainer as if the process ended.
    for _ in 0..3 {
        first.train_step().unwrap();
    }
    first.checkpoint().unwrap();
    drop(first);
    let resumed = Trainer::new(&cfg, Resume::Latest, &client).unwrap();
    assert_eq!(resumed.state().global_step, 3);
    assert!(matches!(resumed.model(), RunModel::Cross(_)));
    let outcome = resumed.run(&stop).unwrap();
    assert_eq!(outcome.steps, whole_steps);
    assert_eq!(
        weights(&split.path().join("out")),
        weights(&whole.path().join("out")),
        "the resumed cross-encoder differs from the uninterrupted one"
    );
}

/// CachedMultipleNegativesRankingLoss with one chunk per candidate column (the plain loss's
/// forward passes, so the same dropout) trains to the plain loss's weights: GradCache changes
/// memory, not the gradients.
#[test]
fn grad_cache_gives_the_plain_losss_weights() {
    let _serial = serial();
    let plain = tempfile::tempdir().unwrap();
    let cfg = config(
        plain.path(),
        24,
        TRIPLETS,
        "cross_encoder.multiple_negatives_ranking",
        &[
            ("training.max_steps", "3"),
            ("training.batch_sampler", "shuffle"),
        ],
    );
    run(&cfg, plain.path());
    let cached = tempfile::tempdir().unwrap();
    let cfg = config(
        cached.path(),
        24,
        TRIPLETS,
        "cross_encoder.cached_multiple_negatives_ranking",
        &[
            ("training.max_steps", "3"),
            ("training.batch_sampler", "shuffle"),
            ("loss.mini_batch_size", "8"),
        ],
    );
    run(&cfg, cached.path());
    let load = |dir: &Path| CrossEncoder::load(&dir.join("out"), tch::Device::Cpu).unwrap();
    let (a, b) = (load(plain.path()), load(cached.path()));
    let named = |m: &CrossEncoder| -> std::collections::BTreeMap<String, tch::Tensor> {
        m.var_store().variables().into_iter().collect()
    };
    let (a, b) = (named(&a), named(&b));
    assert_eq!(a.len(), b.len());
    for (name, x) in &a {
        // AdamW divides by the gradients' root mean square, so rounding differences of the
        // gradients can show at 1e-5 after three steps.
        let diff = (x - &b[name]).abs().max().double_value(&[]);
        assert!(diff < 1e-4, "{name}: {diff}");
    }
    let (la, lb) = (
        train_losses(&plain.path().join("out")),
        train_losses(&cached.path().join("out")),
    );
    for (x, y) in la.iter().zip(&lb) {
        assert!((x - y).abs() < 1e-5, "{la:?} vs {lb:?}");
    }
}

/// (query, positive, negative) rows with the teacher's margin as the score train with
/// MarginMSELoss; three-label rows train with CrossEntropyLoss, evaluated by the
/// classification evaluator while training.
#[test]
fn margin_mse_and_three_label_cross_entropy_train() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        24,
        "anchor=query,positive=document,negative=negative,score=score",
        "cross_encoder.margin_mse",
        &[("training.max_steps", "3")],
    );
    let outcome = run(&cfg, dir.path());
    assert_eq!(outcome.steps, 3);
    assert!(train_losses(&dir.path().join("out"))
        .iter()
        .all(|l| l.is_finite()));

    let dir = tempfile::tempdir().unwrap();
    let data = "anchor=query,positive=document,label=label";
    let mut cfg = config(
        dir.path(),
        24,
        data,
        "cross_encoder.cross_entropy",
        &[
            ("training.max_steps", "3"),
            ("model.cross_encoder.num_labels", "3"),
        ],
    );
    cfg.evaluation.evaluators = vec![trainer::EvaluatorConfig::CrossEncoderClassification(
        trainer::TaskEvaluatorConfig {
            name: Some("nli".into()),
            data: cfg.data.clone(),
            settings: trainer::NoSettings {},
        },
    )];
    let outcome = run(&cfg, dir.path());
    let after = &outcome.after[0];
    assert_eq!(after.evaluator, "nli");
    assert_eq!(after.primary_metric, "f1_macro");
    let f1 = after.primary_value().unwrap();
    assert!((0.0..=1.0).contains(&f1), "{f1}");
    let model = CrossEncoder::load(&dir.path().join("out"), tch::Device::Cpu).unwrap();
    assert_eq!(model.num_labels(), 3);
    assert_eq!(model.activation(), ScoreActivation::Identity);
}

/// bf16 autocast covers the cross-encoder's training forwards; the saved weights stay
/// float32 and the loss stays within a few percent of the float32 run's.
#[test]
fn bf16_training_keeps_float32_weights() {
    let _serial = serial();
    let losses = |precision: &str| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(
            dir.path(),
            32,
            SCORED,
            "cross_encoder.binary_cross_entropy",
            &[
                ("training.max_steps", "3"),
                ("training.precision", precision),
            ],
        );
        run(&cfg, dir.path());
        let model = CrossEncoder::load(&dir.path().join("out"), tch::Device::Cpu).unwrap();
        for (name, var) in model.var_store().variables() {
            assert_eq!(var.kind(), tch::Kind::Float, "{name}");
        }
        train_losses(&dir.path().join("out"))
    };
    let (fp32, bf16) = (losses("fp32"), losses("bf16"));
    assert_eq!(fp32.len(), bf16.len());
    for (a, b) in fp32.iter().zip(&bf16) {
        assert!(
            (a - b).abs() <= 0.05 * a.abs(),
            "fp32 {fp32:?} vs bf16 {bf16:?}"
        );
    }
}

/// Configs and data that do not fit a cross-encoder loss fail before training, naming what is
/// wrong.
#[test]
fn mismatched_losses_labels_and_data_are_named() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let client = offline_client(dir.path());
    let err = |cfg: &TrainConfig| {
        Trainer::new(cfg, Resume::Fresh, &client)
            .err()
            .expect("refused")
            .to_string()
    };
    // One score per pair from a three-label head.
    let cfg = config(
        dir.path(),
        16,
        SCORED,
        "cross_encoder.binary_cross_entropy",
        &[("model.cross_encoder.num_labels", "3")],
    );
    let e = err(&cfg);
    assert!(e.contains("num_labels"), "{e}");
    // Pairs without scores for a pointwise loss.
    let cfg = config(
        dir.path(),
        16,
        "anchor=query,positive=document",
        "cross_encoder.binary_cross_entropy",
        &[],
    );
    let e = err(&cfg);
    assert!(
        e.contains("BinaryCrossEntropyLoss needs") && e.contains("no labels"),
        "{e}"
    );
    // A query column alone.
    let cfg = config(
        dir.path(),
        16,
        "anchor=query",
        "cross_encoder.multiple_negatives_ranking",
        &[],
    );
    let e = err(&cfg);
    assert!(e.contains("1 text column"), "{e}");
    // A bi-encoder evaluator in a cross-encoder run is a config error.
    let text = format!(
        "[model]\ncross_encoder = {{}}\n[loss]\ntype = \"cross_encoder.mse\"\n\
         [[evaluation.evaluators]]\ntype = \"embedding_similarity\"\ndataset = \"{}\"\n",
        dir.path().join("x.parquet").display()
    );
    let e = TrainConfig::from_toml(&text, "t", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("cross_encoder_correlation"), "{e}");
}
