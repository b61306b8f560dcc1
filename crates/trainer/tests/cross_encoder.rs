//! Training a cross-encoder (reranker) with the same Trainer: each loss layout on a tiny
//! random BERT that gets a new classification head, the output folder as sentence-transformers'
//! CrossEncoder folder, exact resume, GradCache against the plain loss, the cross-encoder
//! evaluators, the listwise losses on (query, documents, labels) lists, and the errors of
//! configs and data that do not fit.

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
    let data = rerank_jsonl(dir, rows);
    config_with_data(dir, &data, columns, loss, extra)
}

/// [`config`] over the user file `data`.
fn config_with_data(
    dir: &Path,
    data: &Path,
    columns: &str,
    loss: &str,
    extra: &[(&str, &str)],
) -> TrainConfig {
    let base = model::testing::tiny_bert(dir, &WORDS, 3).unwrap();
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

const LISTS: &str = "query=query,documents=docs,labels=labels";

/// `--set` overrides of a run.
type Overrides = &'static [(&'static str, &'static str)];

/// The listwise losses (`type`, class name), each with overrides that exercise its options.
const LISTWISE: [(&str, &str, Overrides); 5] = [
    ("cross_encoder.list_net", "ListNetLoss", &[]),
    (
        "cross_encoder.list_mle",
        "ListMLELoss",
        &[("loss.respect_input_order", "false")],
    ),
    (
        "cross_encoder.p_list_mle",
        "PListMLELoss",
        &[("loss.mini_batch_size", "5")],
    ),
    (
        "cross_encoder.lambda",
        "LambdaLoss",
        &[("loss.k", "3"), ("loss.mini_batch_size", "7")],
    ),
    ("cross_encoder.rank_net", "RankNetLoss", &[]),
];

/// `rows` (query, documents, labels) lines with 1 to 4 documents per query: the query's match
/// (with "red", label 2) among other rows' documents (label 0, or 1 for the second), in a
/// place that varies.
fn lists_jsonl(dir: &Path, rows: usize) -> PathBuf {
    let word = |i: usize| WORDS[i % WORDS.len()];
    let query = |i: usize| format!("{} {} {}", word(i), word(i / 3 + 5), word(i / 7 + 2));
    let document = |i: usize| format!("{} {} {}", word(i), word(i / 3 + 5), word(i + 11));
    let mut text = String::new();
    for i in 0..rows {
        let n = 1 + i % 4;
        let mut docs: Vec<String> = (1..n).map(|k| document(i + 3 * k + 1)).collect();
        let mut labels: Vec<f64> = (1..n).map(|k| if k == 1 { 1.0 } else { 0.0 }).collect();
        let at = i % n;
        docs.insert(at, format!("{} red red", document(i)));
        labels.insert(at, 2.0);
        let row = serde_json::json!({"query": query(i), "docs": docs, "labels": labels});
        text.push_str(&row.to_string());
        text.push('\n');
    }
    let path = dir.join("lists.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

/// The variables of a cross-encoder by name.
fn variables(model: &CrossEncoder) -> std::collections::BTreeMap<String, tch::Tensor> {
    model.var_store().variables().into_iter().collect()
}

/// Each listwise loss trains a cross-encoder on a JSONL file of lists (of 1 to 4 documents,
/// the no-duplicates sampler by default): the losses are finite, the weights move, and the
/// output folder is a CrossEncoder folder that scores pairs, its model card naming the loss
/// and the lists.
#[test]
fn every_listwise_loss_trains_on_lists() {
    let _serial = serial();
    for (loss, class, extra) in LISTWISE {
        let dir = tempfile::tempdir().unwrap();
        let data = lists_jsonl(dir.path(), 24);
        let mut overrides = vec![("training.max_steps", "3")];
        overrides.extend_from_slice(extra);
        let cfg = config_with_data(dir.path(), &data, LISTS, loss, &overrides);
        let outcome = run(&cfg, dir.path());
        assert_eq!(outcome.steps, 3, "{loss}");
        let out = dir.path().join("out");
        let losses = train_losses(&out);
        assert_eq!(losses.len(), 3, "{loss}");
        assert!(losses.iter().all(|l| l.is_finite()), "{loss}: {losses:?}");

        let trained = CrossEncoder::load(&out, tch::Device::Cpu).unwrap();
        let base = CrossEncoder::load_with(
            &dir.path().join("tiny-model"),
            tch::Device::Cpu,
            &model::CrossEncoderOptions {
                num_labels: Some(1),
                activation: None,
                new_head: true,
            },
        )
        .unwrap();
        let (before, after) = (variables(&base), variables(&trained));
        let moved = before
            .iter()
            .filter(|(name, x)| {
                after
                    .get(*name)
                    .is_some_and(|y| (*x - y).abs().max().double_value(&[]) > 1e-6)
            })
            .count();
        assert!(moved > 0, "{loss}: no encoder weight changed");
        let scores = trained
            .predict(
                &[("the cat sits", "the cat is")],
                &PredictOptions::default(),
            )
            .unwrap();
        assert!(scores.data[0].is_finite(), "{loss}");
        let card = std::fs::read_to_string(out.join("README.md")).unwrap();
        assert!(
            card.contains(class) && card.contains("(query, documents, labels) lists"),
            "{loss}: {card}"
        );
    }
}

/// The tiny BERT without dropout, as a cross-encoder with a new one-label head: its packed
/// training forward and its padded forward then differ by rounding alone.
fn cross_encoder_without_dropout(dir: &Path) -> CrossEncoder {
    let base = model::testing::tiny_bert(dir, &WORDS, 3).unwrap();
    let config_path = base.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    for key in [
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "classifier_dropout",
    ] {
        config[key] = serde_json::json!(0.0);
    }
    std::fs::write(&config_path, config.to_string()).unwrap();
    tch::manual_seed(11);
    CrossEncoder::load_with(
        &base,
        tch::Device::Cpu,
        &model::CrossEncoderOptions {
            num_labels: Some(1),
            activation: None,
            new_head: true,
        },
    )
    .unwrap()
}

/// Multiplies the head's classifier weights by `factor`: logits spread over a few units, so
/// that the listwise losses' gradients are far from 0 and their rankings far from ties.
fn spread_logits(model: &CrossEncoder, factor: f64) {
    tch::no_grad(|| {
        for (name, mut var) in variables(model) {
            if name.ends_with("classifier.weight") {
                let _ = var.g_mul_scalar_(factor);
            }
        }
    });
}

/// Every variable's gradient (zeros where it has none), then clears them.
fn take_gradients(model: &CrossEncoder) -> Vec<(String, tch::Tensor)> {
    let mut grads = Vec::new();
    for (name, var) in variables(model) {
        let grad = model::testing::dense_grad(&var);
        let grad = if grad.defined() {
            grad.copy()
        } else {
            var.zeros_like()
        };
        grads.push((name, grad));
    }
    for (_, mut var) in variables(model) {
        var.zero_grad();
    }
    grads
}

/// The Trainer's listwise step on lists of different lengths, in a shuffled row order and in
/// several forward passes, gives the loss and gradients of the loss computed directly on the
/// model's padded forward of the same (query, document) pairs laid out by hand: row `i`'s
/// documents in the first columns of row `i` of a `[batch, max_docs]` matrix, its labels
/// beside them, the padding filled with values the loss must ignore.
#[test]
fn the_listwise_step_is_the_loss_on_the_padded_forward() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let model = cross_encoder_without_dropout(dir.path());
    spread_logits(&model, 200.0);
    let w = |i: usize| WORDS[i % WORDS.len()];
    let counts = [3usize, 1, 4, 2, 3];
    let queries: Vec<String> = (0..counts.len())
        .map(|i| format!("{} {}", w(i), w(i + 7)))
        .collect();
    let documents: Vec<Vec<String>> = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            (0..n)
                .map(|j| format!("{} {} {}", w(i * 5 + j), w(j + 2), w(i + j + 9)))
                .collect()
        })
        .collect();
    // Graded, tied and negative labels.
    let labels: Vec<Vec<f32>> = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|j| ((i + 2 * j) % 4) as f32 - 1.0).collect())
        .collect();
    let set = data::TrainingSet::from_lists(
        "query",
        queries.clone(),
        "documents",
        documents.clone(),
        labels.clone(),
    )
    .unwrap();
    let rows = [2usize, 0, 4, 3, 1];

    use losses::cross_encoder::{
        LambdaLoss, LambdaLossConfig, LambdaWeighting, ListMleConfig, ListMleLoss, ListNetConfig,
        ListNetLoss, PListMleConfig, PListMleLoss, RankNetConfig, RankNetLoss, RerankLoss,
        RerankScores,
    };
    let losses: Vec<Box<dyn RerankLoss>> = vec![
        Box::new(ListNetLoss::new(ListNetConfig::default())),
        Box::new(ListMleLoss::new(ListMleConfig {
            respect_input_order: false,
            ..ListMleConfig::default()
        })),
        Box::new(PListMleLoss::new(PListMleConfig {
            mini_batch_size: Some(4),
            ..PListMleConfig::default()
        })),
        Box::new(
            LambdaLoss::new(LambdaLossConfig {
                mini_batch_size: Some(6),
                ..LambdaLossConfig::default()
            })
            .unwrap(),
        ),
        Box::new(
            LambdaLoss::new(LambdaLossConfig {
                weighting_scheme: LambdaWeighting::NdcgLoss1,
                k: Some(2),
                ..LambdaLossConfig::default()
            })
            .unwrap(),
        ),
        Box::new(RankNetLoss::new(RankNetConfig::default()).unwrap()),
    ];
    for loss in &losses {
        let name = loss.name();
        // 13 pairs: several forward passes, the default one of `batch` (5) pairs each.
        assert!(loss.forward_chunks(rows.len(), 13).len() > 1, "{name}");
        take_gradients(&model);
        let step = trainer::rerank_micro_batch(&model, loss.as_ref(), &set, &rows, 1.0, 3).unwrap();
        let step_grads = take_gradients(&model);

        // The same pairs, row-major, through the padded forward in one pass.
        let pairs: Vec<(&str, &str)> = rows
            .iter()
            .flat_map(|&r| {
                let query = queries[r].as_str();
                documents[r].iter().map(move |d| (query, d.as_str()))
            })
            .collect();
        let tokens = model.tokenizer().tokenize_pairs(&pairs).unwrap();
        let refs: Vec<&model::TokenizedText> = tokens.iter().collect();
        let batch =
            model::TokenBatch::from_encoded(&model.tokenizer().collate(&refs), tch::Device::Cpu);
        let logits = model.forward_t(&batch, true).unwrap().view([-1]);
        let max_docs = rows.iter().map(|&r| counts[r]).max().unwrap();
        let mut start = 0;
        let mut matrix_rows = Vec::new();
        let mut label_rows = Vec::new();
        let mut docs_per_row = Vec::new();
        for &r in &rows {
            let n = counts[r];
            let padding = (max_docs - n) as i64;
            matrix_rows.push(tch::Tensor::cat(
                &[
                    logits.narrow(0, start, n as i64),
                    tch::Tensor::full([padding], 123.0, (tch::Kind::Float, tch::Device::Cpu)),
                ],
                0,
            ));
            let mut padded = labels[r].clone();
            padded.resize(max_docs, 7.0);
            label_rows.push(tch::Tensor::from_slice(&padded));
            docs_per_row.push(n);
            start += n as i64;
        }
        let matrix = tch::Tensor::stack(&matrix_rows, 0);
        let label_matrix = tch::Tensor::stack(&label_rows, 0);
        let direct = loss
            .compute(
                &RerankScores::lists(&matrix, &docs_per_row),
                Some(&label_matrix),
            )
            .unwrap();
        direct.backward();
        let direct_value = direct.double_value(&[]);
        let direct_grads = take_gradients(&model);

        assert!(
            (step - direct_value).abs() < 1e-5 * direct_value.abs().max(1.0),
            "{name}: step {step} vs direct {direct_value}"
        );
        let largest = direct_grads
            .iter()
            .map(|(_, g)| g.abs().max().double_value(&[]))
            .fold(0.0, f64::max);
        assert!(
            largest > 1e-3,
            "{name}: no gradient reached the model ({largest})"
        );
        for ((n, a), (_, b)) in step_grads.iter().zip(&direct_grads) {
            let scale = b.abs().max().double_value(&[]);
            let diff = (a - b).abs().max().double_value(&[]);
            // Float32 rounding of two forwards (packed and padded) through two layers, relative
            // to the variable's gradient, or to the largest where a sum cancels (the head's bias
            // gets the sum of the logits' gradients, near 0 for listwise losses). A pair in the
            // wrong place is off by the gradient's own size.
            assert!(
                diff <= 2e-3 * scale + 1e-4 * largest,
                "{name}: {n}: {diff} (scale {scale}, largest {largest})"
            );
        }
    }
}

/// Lists through the whole Trainer: bad rows name the file, line and columns; a list set with
/// a loss for other rows, a listwise loss with pairs, and a bi-encoder with lists are refused
/// naming what each needs.
#[test]
fn list_data_errors_are_named() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let client = offline_client(dir.path());
    let err = |cfg: &TrainConfig| {
        Trainer::new(cfg, Resume::Fresh, &client)
            .err()
            .expect("refused")
            .to_string()
    };
    let good = lists_jsonl(dir.path(), 4);
    let mut text = std::fs::read_to_string(&good).unwrap();
    text.push_str(
        &serde_json::json!({"query": "q", "docs": ["a", "b", "c"], "labels": [1, 0]}).to_string(),
    );
    text.push('\n');
    let bad = dir.path().join("bad-lists.jsonl");
    std::fs::write(&bad, text).unwrap();
    let cfg = config_with_data(dir.path(), &bad, LISTS, "cross_encoder.list_net", &[]);
    let e = err(&cfg);
    assert!(
        e.contains("bad-lists.jsonl")
            && e.contains("line 5")
            && e.contains("columns `docs` and `labels`")
            && e.contains("3 documents but 2 labels"),
        "{e}"
    );

    let cfg = config_with_data(
        dir.path(),
        &good,
        LISTS,
        "cross_encoder.binary_cross_entropy",
        &[],
    );
    let e = err(&cfg);
    assert!(
        e.contains("BinaryCrossEntropyLoss needs (text, text) pairs")
            && e.contains(
                "(query, documents, labels) lists (query, documents (lists), labels (lists))"
            )
            && e.contains("cross_encoder.list_net"),
        "{e}"
    );
    let cfg = config(dir.path(), 16, SCORED, "cross_encoder.lambda", &[]);
    let e = err(&cfg);
    assert!(
        e.contains("LambdaLoss needs (query, documents, labels) lists")
            && e.contains("labels=labels")
            && e.contains("2 text column(s)"),
        "{e}"
    );
    // A bi-encoder run given lists.
    let mut cfg = config_with_data(dir.path(), &good, LISTS, "cross_encoder.list_net", &[]);
    cfg.model.cross_encoder = None;
    cfg.loss = trainer::LossChoice::Embedding(config::LossConfig::default());
    let e = err(&cfg);
    assert!(
        e.contains("\"multiple_negatives_ranking\" trains a bi-encoder")
            && e.contains("(query, documents, labels) lists"),
        "{e}"
    );
}

/// A run of two datasets, lists with LambdaLoss and scored pairs with
/// BinaryCrossEntropyLoss, stopped at a checkpoint and resumed ends with the weights of the
/// uninterrupted run.
#[test]
fn lists_beside_pairs_resume_exactly() {
    let _serial = serial();
    let cfg = |dir: &Path, extra: &[(&str, &str)]| {
        let lists = lists_jsonl(dir, 20);
        let pairs = rerank_jsonl(dir, 16);
        let base = model::testing::tiny_bert(dir, &WORDS, 3).unwrap();
        let text = format!(
            r#"
[model]
base = "{}"
cross_encoder = {{ num_labels = 1 }}

[[datasets]]
name = "lists"
data = {{ dataset = "{}", format = "columns", columns = "{LISTS}" }}
loss = {{ type = "cross_encoder.lambda", mini_batch_size = 6 }}

[[datasets]]
name = "pairs"
data = {{ dataset = "{}", format = "columns", columns = "{SCORED}" }}
loss = {{ type = "cross_encoder.binary_cross_entropy" }}

[training]
epochs = 2
batch_size = 4
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
            lists.display(),
            pairs.display(),
            dir.join("out").display()
        );
        let overrides: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TrainConfig::from_toml(&text, "test config", &overrides).unwrap()
    };
    let whole = tempfile::tempdir().unwrap();
    let whole_steps = run(&cfg(whole.path(), &[]), whole.path()).steps;
    assert!(whole_steps > 5, "{whole_steps}");

    let split = tempfile::tempdir().unwrap();
    let config = cfg(split.path(), &[("output.save_steps", "5")]);
    let client = offline_client(split.path());
    let mut first = Trainer::new(&config, Resume::Fresh, &client).unwrap();
    for _ in 0..5 {
        assert!(first.train_step().unwrap().loss.is_finite());
    }
    first.checkpoint().unwrap();
    drop(first);
    let resumed = Trainer::new(&config, Resume::Latest, &client).unwrap();
    assert_eq!(resumed.state().global_step, 5);
    let outcome = resumed.run(&AtomicBool::new(false)).unwrap();
    assert_eq!(outcome.steps, whole_steps);
    assert_eq!(
        weights(&split.path().join("out")),
        weights(&whole.path().join("out")),
        "the resumed run differs from the uninterrupted one"
    );
}

/// `cross_encoder_reranking` while training: sentence-transformers' reranking samples from a
/// file, each query's matching document second in the first stage's order; the trained model
/// puts it first (NDCG@10 above the first stage's `base_ndcg@10`). A missing samples file is an
/// error naming it.
#[test]
fn the_reranking_evaluator_scores_samples_while_training() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let data = rerank_jsonl(dir.path(), 48);
    let samples = dir.path().join("first-stage.jsonl");
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&data)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let text: String = rows
        .chunks(2)
        .map(|pair| {
            // Row 2k's document matches (score 1), row 2k+1's does not.
            let sample = serde_json::json!({
                "query": pair[0]["query"],
                "positive": [pair[0]["document"]],
                "documents": [pair[1]["document"], pair[0]["document"], pair[0]["negative"]],
            });
            format!("{sample}\n")
        })
        .collect();
    std::fs::write(&samples, text).unwrap();
    let mut cfg = config_with_data(
        dir.path(),
        &data,
        SCORED,
        "cross_encoder.binary_cross_entropy",
        &[("training.epochs", "20"), ("evaluation.eval_steps", "60")],
    );
    let evaluator: config::EvaluatorConfig = toml::from_str(&format!(
        "type = \"cross_encoder_reranking\"\nname = \"rr\"\nsamples = \"{}\"\n\
         always_rerank_positives = false",
        samples.display()
    ))
    .unwrap();
    cfg.evaluation.evaluators = vec![evaluator];
    run(&cfg, dir.path());
    let metrics = std::fs::read_to_string(dir.path().join("out/metrics.jsonl")).unwrap();
    let evals: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "eval" && r["evaluator"] == "rr")
        .collect();
    assert!(evals.len() >= 2, "{metrics}");
    let last = &evals[evals.len() - 1]["metrics"];
    let base = last["base_ndcg@10"].as_f64().unwrap();
    let reranked = last["ndcg@10"].as_f64().unwrap();
    // The first stage ranks every positive second: 1 / log2(3).
    assert!((base - 1.0 / 3f64.log2()).abs() < 1e-9, "{last}");
    assert!(reranked > base + 0.2, "{last}");

    let mut missing = cfg.clone();
    missing.evaluation.evaluators = vec![toml::from_str(
        "type = \"cross_encoder_reranking\"\nsamples = \"no-such-samples.jsonl\"",
    )
    .unwrap()];
    let err = Trainer::new(&missing, Resume::Fresh, &offline_client(dir.path()))
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("no-such-samples.jsonl"),
        "{err:#}"
    );
}

/// `data.prompts` on a cross-encoder run is one string put before the first text of every pair
/// (sentence-transformers' CrossEncoder trainer): the same weights as training on a file whose
/// queries carry it already. A table per column is refused naming the key.
#[test]
fn a_prompt_goes_before_the_first_text_of_every_pair() {
    let _serial = serial();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let prompted = config(
        a.path(),
        24,
        SCORED,
        "cross_encoder.binary_cross_entropy",
        &[("training.max_steps", "3"), ("data.prompts", "\"query: \"")],
    );
    run(&prompted, a.path());

    let data = rerank_jsonl(b.path(), 24);
    let text: String = std::fs::read_to_string(&data)
        .unwrap()
        .lines()
        .map(|l| {
            let mut row: serde_json::Value = serde_json::from_str(l).unwrap();
            row["query"] = format!("query: {}", row["query"].as_str().unwrap()).into();
            format!("{row}\n")
        })
        .collect();
    let by_hand = b.path().join("prefixed.jsonl");
    std::fs::write(&by_hand, text).unwrap();
    let plain = config_with_data(
        b.path(),
        &by_hand,
        SCORED,
        "cross_encoder.binary_cross_entropy",
        &[("training.max_steps", "3")],
    );
    run(&plain, b.path());
    assert_eq!(
        weights(&a.path().join("out")),
        weights(&b.path().join("out"))
    );

    let dir = tempfile::tempdir().unwrap();
    let per_column = config(
        dir.path(),
        24,
        SCORED,
        "cross_encoder.binary_cross_entropy",
        &[("data.prompts", "{ anchor = \"query: \" }")],
    );
    let err = Trainer::new(&per_column, Resume::Fresh, &offline_client(dir.path()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("data.prompts") && err.contains("one string"),
        "{err}"
    );
}
