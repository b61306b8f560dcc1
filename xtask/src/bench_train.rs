//! `cargo xtask bench train`: the book's fine-tune of all-MiniLM-L6-v2, run by this project
//! and by Python sentence-transformers on the same rows, hyperparameters, machine and thread
//! count, in one invocation. Prints training examples/s for both sides and their ratio, and
//! STS-B validation Spearman (cosine) for both, so one run answers "as good?" and "faster?".
//!
//! With `--nproc N` it compares this project with itself instead: the MNRL recipe trained
//! data-parallel as N processes (`train-cli train --nproc N`, gathered MNRL) against one
//! process with all the threads, alternating run by run, with the all-reduce's cost and each
//! process's peak resident memory.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use clap::ValueEnum;
use config::{DataConfig, DataFormat, NeutralChoice, SentencePairing, StsEvaluatorConfig};
use data::{TargetColumn, TrainingSet};
use serde_json::{json, Value};

use crate::alternate::{report, report_json, SideRuns, Spread};
use crate::bench::{
    last_json_line, run_captured, sides_of, BenchDtype, Implementation, Side, BENCH_MODEL,
};
use crate::python_env::reference_python;

/// The training recipes the bench knows, each the book's data preparation for its loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchLoss {
    /// MultipleNegativesRankingLoss on entailment pairs with random negatives
    Mnrl,
    /// CosineSimilarityLoss on pairs scored 1 (entailment) or 0 (neutral, contradiction)
    Cosine,
    /// SoftmaxLoss on pairs with their 3-way NLI label
    Softmax,
    /// Two datasets, two losses, proportional batches: MNRL on the MNLI triplets (`--rows`)
    /// and CosineSimilarityLoss on the STS-B train pairs (`--stsb-rows`, default all), as
    /// configs/multi-dataset.toml (whose warm-up is `--warmup-steps 10`)
    Multi,
    /// TSDAE: DenoisingAutoEncoderLoss on de-duplicated MNLI sentences with 60% of their words
    /// deleted (the noise drawn once by the data crate, so both sides see the same damaged
    /// texts), CLS pooling, as configs/tsdae.toml (whose batch is `--batch-size 16`)
    Tsdae,
    /// A cross-encoder (`--cross-encoder`): BinaryCrossEntropyLoss on STS-B train pairs (the
    /// first `--rows`, gold / 5), sentence-transformers' STS-B cross-encoder recipe as
    /// configs/cross-encoder-stsb.toml, from the cross-encoder `bench predict` makes (MiniLM
    /// under a seeded new head, saved by sentence-transformers, so both sides start from the
    /// same weights), scored by CrossEncoderCorrelationEvaluator on STS-B validation
    CrossEncoder,
}

impl BenchLoss {
    fn name(self) -> &'static str {
        match self {
            Self::Mnrl => "mnrl",
            Self::Cosine => "cosine",
            Self::Softmax => "softmax",
            Self::Multi => "multi",
            Self::Tsdae => "tsdae",
            Self::CrossEncoder => "cross-encoder",
        }
    }

    /// The book's rows for this loss, as the data config the trainer would read them by: the
    /// first `rows` MNLI train rows (entailment pairs for the triplets).
    fn data_config(self, rows: usize) -> DataConfig {
        if self == Self::CrossEncoder {
            return DataConfig {
                dataset: "glue/stsb".into(),
                split: "train".into(),
                format: DataFormat::StsPairs,
                score_max: 5.0,
                max_rows: Some(rows),
                ..DataConfig::default()
            };
        }
        DataConfig {
            dataset: "glue/mnli".into(),
            split: "train".into(),
            format: match self {
                Self::Mnrl | Self::Multi => DataFormat::SoftTriplets,
                Self::Cosine => DataFormat::ScoredPairs,
                Self::Softmax => DataFormat::LabelledPairs,
                Self::Tsdae => DataFormat::Sentences,
                Self::CrossEncoder => DataFormat::StsPairs,
            },
            neutral: NeutralChoice::Zero,
            max_rows: Some(rows),
            pairing: (self == Self::Tsdae).then_some(SentencePairing::Denoising {
                deletion_ratio: 0.6,
            }),
            ..DataConfig::default()
        }
    }

    /// The JSONL keys `write_training_rows` writes: the training set's text columns, then its
    /// target (the Python script reads these names).
    fn json_keys(self) -> &'static [&'static str] {
        match self {
            Self::Mnrl | Self::Multi => &["anchor", "positive", "negative"],
            Self::Cosine | Self::CrossEncoder => &["sentence1", "sentence2", "score"],
            Self::Softmax => &["premise", "hypothesis", "label"],
            Self::Tsdae => &["noisy", "original"],
        }
    }

    /// The JSONL columns `write_training_rows` writes, as a train-cli column mapping.
    fn columns(self) -> &'static str {
        match self {
            Self::Mnrl | Self::Multi => "anchor=anchor,positive=positive,negative=negative",
            Self::Cosine | Self::CrossEncoder => {
                "sentence1=sentence1,sentence2=sentence2,score=score"
            }
            Self::Softmax => "premise=premise,hypothesis=hypothesis,label=label",
            Self::Tsdae => "noisy=noisy,original=original",
        }
    }

    fn loss_toml(self) -> &'static str {
        match self {
            Self::Mnrl | Self::Multi => "type = \"multiple_negatives_ranking\"\nscale = 20.0\n",
            Self::Cosine => "type = \"cosine_similarity\"\n",
            Self::Softmax => "type = \"softmax\"\nnum_labels = 3\n",
            Self::Tsdae => "type = \"denoising_auto_encoder\"\n",
            Self::CrossEncoder => "type = \"cross_encoder.binary_cross_entropy\"\n",
        }
    }

    /// `[model]` lines besides the base (TSDAE trains with CLS pooling).
    fn model_toml(self) -> &'static str {
        match self {
            Self::Tsdae => "pooling = \"cls\"\n",
            Self::CrossEncoder => "cross_encoder = { num_labels = 1 }\n",
            _ => "",
        }
    }

    /// The evaluator table and the metric the bench reads from it: STS-B validation scored
    /// by embeddings, or by the cross-encoder's pair scores.
    fn evaluator_toml(self) -> (&'static str, &'static str) {
        match self {
            Self::CrossEncoder => ("cross_encoder_correlation", "spearman"),
            _ => ("embedding_similarity", "spearman_cosine"),
        }
    }
}

/// How the two sides order the training rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Order {
    /// The rows file is shuffled once (seeded); both sides take it in order: the very same
    /// batches, so only dropout masks and float rounding differ
    Same,
    /// Each side shuffles with its own seeded sampler (sentence-transformers' RandomSampler,
    /// this project's ChaCha8)
    Each,
}

/// Which implementations a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sides {
    Both,
    Rust,
    Python,
}

pub struct TrainBench {
    pub losses: Vec<BenchLoss>,
    pub rows: usize,
    /// STS-B train pairs for `BenchLoss::Multi` (the first N; all when `None`).
    pub stsb_rows: Option<usize>,
    pub batch_size: usize,
    pub epochs: u32,
    pub learning_rate: f64,
    pub warmup_steps: u64,
    pub weight_decay: f64,
    pub seeds: Vec<u64>,
    pub threads: usize,
    pub sides: Sides,
    pub order: Order,
    pub cuda: bool,
    pub python: Option<String>,
    /// This project's training precision (see [`train_sides`]).
    pub precision: BenchDtype,
    /// Alternating rounds: each trains every side once.
    pub rounds: usize,
    /// Compare `nproc` processes of `threads / nproc` threads each with one process of
    /// `threads` (see [`train_nproc`]) instead of this project with sentence-transformers.
    pub nproc: Option<usize>,
}

/// Spearman gap the issue accepts between the two sides.
const PARITY_TOLERANCE: f64 = 0.01;

// `--nproc`: several processes of this project against one.
mod nproc;
use nproc::{check_nproc, train_nproc, Layout};

pub fn train(root: &Path, opts: &TrainBench) -> Result<()> {
    // Before the downloads, the venv and the release build, which take minutes.
    ensure!(!opts.seeds.is_empty(), "--seed needs at least one seed");
    if let Some(nproc) = opts.nproc {
        check_nproc(nproc, opts)?;
    }
    let client = hub::HubClient::from_env()?;
    let model_dir = hub::resolve_model(&client, BENCH_MODEL)?;
    let out_dir = root.join("target").join("bench").join("train");
    std::fs::create_dir_all(&out_dir)?;
    let eval_file = write_stsb_validation(&client, &out_dir)?;
    if let Some(nproc) = opts.nproc {
        return train_nproc(root, &client, nproc, opts, &out_dir);
    }

    let rust_bin = if opts.sides != Sides::Python {
        Some(build_train_cli(root)?)
    } else {
        None
    };
    let python = if opts.sides != Sides::Rust {
        Some(reference_python(root, opts.python.as_deref())?)
    } else {
        None
    };

    let mut reports = Vec::new();
    let mut per_loss: Vec<(BenchLoss, Vec<SeedRun>)> =
        opts.losses.iter().map(|&l| (l, Vec::new())).collect();
    let sides = train_sides(opts.precision, opts.sides);
    for &seed in &opts.seeds {
        for (loss, runs) in per_loss.iter_mut() {
            let loss = *loss;
            let train_file = write_training_rows(&client, loss, seed, opts, &out_dir)?;
            // The cross-encoder starts both sides from one saved folder (its head's draw is
            // sentence-transformers'); the bi-encoders from the hub model.
            let (base_dir, base) = if loss == BenchLoss::CrossEncoder {
                let python = match &python {
                    Some(p) => p.clone(),
                    None => reference_python(root, opts.python.as_deref())?,
                };
                let dir = crate::bench_predict::bench_cross_encoder(
                    root,
                    &client,
                    &python,
                    opts.threads as u64,
                )?;
                (dir.clone(), dir.display().to_string())
            } else {
                (model_dir.clone(), BENCH_MODEL.to_string())
            };
            if loss == BenchLoss::Multi {
                write_stsb_train(&client, seed, opts, &out_dir)?;
            }
            print_header(loss, seed, opts, &sides);
            let files = RunFiles {
                model_dir: &base_dir,
                train_file: &train_file,
                eval_file: &eval_file,
                out_dir: &out_dir,
            };
            let mut results: Vec<Vec<Value>> = vec![Vec::new(); sides.len()];
            for round in 1..=opts.rounds {
                for (side, out) in sides.iter().zip(results.iter_mut()) {
                    let result = match (side.implementation, &python, &rust_bin) {
                        (Implementation::Python, Some(python), _) => {
                            run_python(python, root, &files, loss, seed, side.dtype, opts)?
                        }
                        (Implementation::Rust, _, Some(bin)) => {
                            let run = RustRun {
                                base: &base,
                                train_file: &train_file,
                                out_dir: &out_dir,
                            };
                            run_rust(bin, &run, loss, seed, side.dtype, opts)?
                        }
                        _ => continue,
                    };
                    println!(
                        "round {round}: {:<28} {:>7.2} examples/s, spearman {:.4} → {:.4}",
                        side.label(),
                        num(&result, "rate"),
                        num(&result, "spearman_before"),
                        num(&result, "spearman_after")
                    );
                    out.push(result);
                }
            }
            let report = summarize(loss, seed, &sides, &results);
            print!("{}", report.text);
            runs.push(report.run);
            reports.push(report.json);
        }
    }
    if opts.seeds.len() > 1 {
        for (loss, runs) in &per_loss {
            print!("{}", seed_summary(*loss, runs));
        }
    }
    let report_path = out_dir.join("report.json");
    std::fs::write(
        &report_path,
        serde_json::to_string_pretty(&Value::Array(reports))? + "\n",
    )?;
    println!("\nreport: {}", report_path.display());
    Ok(())
}

fn print_header(loss: BenchLoss, seed: u64, opts: &TrainBench, sides: &[Side]) {
    println!(
        "\n== {} · {} rows{} · batch {} · {} epoch(s) · lr {} · warm-up {} · seed {} · {} threads · {} order{} · {} round(s) of: {}",
        loss.name(),
        opts.rows,
        match (loss, opts.stsb_rows) {
            (BenchLoss::Multi, Some(n)) => format!(" + {n} STS-B train pairs"),
            (BenchLoss::Multi, None) => " + every STS-B train pair".to_string(),
            _ => String::new(),
        },
        opts.batch_size,
        opts.epochs,
        opts.learning_rate,
        opts.warmup_steps,
        seed,
        opts.threads,
        match opts.order {
            Order::Same => "same",
            Order::Each => "each side's own",
        },
        if opts.cuda { " · cuda" } else { "" },
        opts.rounds,
        sides.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ")
    );
}

/// sentence-transformers fp32 is every comparison's baseline. With bf16, this project's bf16
/// runs beside both sentence-transformers' bf16 (its own figure) and this project's fp32 (the
/// quality it must keep).
fn train_sides(precision: BenchDtype, which: Sides) -> Vec<Side> {
    let side = |implementation, dtype| Side {
        implementation,
        dtype,
    };
    let all = match precision {
        BenchDtype::Fp32 => vec![
            side(Implementation::Python, BenchDtype::Fp32),
            side(Implementation::Rust, BenchDtype::Fp32),
        ],
        BenchDtype::Bf16 => vec![
            side(Implementation::Python, BenchDtype::Fp32),
            side(Implementation::Rust, BenchDtype::Bf16),
            side(Implementation::Python, BenchDtype::Bf16),
            side(Implementation::Rust, BenchDtype::Fp32),
        ],
    };
    all.into_iter()
        .filter(|s| match which {
            Sides::Both => true,
            Sides::Rust => s.implementation == Implementation::Rust,
            Sides::Python => s.implementation == Implementation::Python,
        })
        .collect()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

/// STS-B validation as JSONL, so the Python side reads exactly the pairs our evaluator reads
/// (the evaluator's own loader, raw gold scores).
fn write_stsb_validation(client: &hub::HubClient, out_dir: &Path) -> Result<PathBuf> {
    let sts = StsEvaluatorConfig {
        dataset: "glue/stsb".into(),
        split: "validation".into(),
        ..StsEvaluatorConfig::default()
    };
    let pairs = config::load_sts_pairs(client, &sts)?;
    let mut text = String::new();
    for p in &pairs {
        writeln!(
            text,
            "{}",
            json!({"sentence1": p.sentence1, "sentence2": p.sentence2, "score": p.score})
        )?;
    }
    let path = out_dir.join("stsb_validation.jsonl");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The book's rows for `loss`, written once so both sides train on the very same examples.
/// They come through the config crate's resolver, as `train-cli` would read the same
/// `[data]` section.
fn write_training_rows(
    client: &hub::HubClient,
    loss: BenchLoss,
    seed: u64,
    opts: &TrainBench,
    out_dir: &Path,
) -> Result<PathBuf> {
    let set = config::load_training_set(client, &loss.data_config(opts.rows), seed)
        .with_context(|| format!("reading the {} rows", loss.name()))?;
    let lines = json_rows(&set, loss.json_keys())?;
    let data = loss.data_config(opts.rows);
    ensure!(
        lines.len() == opts.rows,
        "{} {} gives {} rows for {}, not the {} asked for",
        data.dataset,
        data.split,
        lines.len(),
        loss.name(),
        opts.rows
    );
    let path = out_dir.join(format!("{}_rows.jsonl", loss.name()));
    write_in_order(&lines, opts.order, seed, &path)?;
    Ok(path)
}

/// Writes `lines` to `path`, for `Order::Same` in one seeded permutation (from the data
/// crate's sampler: one batch of every row) that both sides then take in file order.
fn write_in_order(lines: &[Value], order: Order, seed: u64, path: &Path) -> Result<()> {
    let order: Vec<usize> = match order {
        Order::Same => data::EpochSampler::new(lines.len(), lines.len().max(1), seed)?
            .epoch_batches(0)
            .concat(),
        Order::Each => (0..lines.len()).collect(),
    };
    let mut text = String::new();
    for &i in &order {
        writeln!(text, "{}", lines[i])?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

/// Each row of `set` as a JSON object: its text columns, then its target (if any), under
/// `keys` in that order.
fn json_rows(set: &TrainingSet, keys: &[&str]) -> Result<Vec<Value>> {
    let texts = set.columns();
    let target = set.target();
    let width = texts.len() + usize::from(*target != TargetColumn::None);
    ensure!(
        width == keys.len(),
        "{width} columns ({}) for the {} keys {}",
        set.column_names().join(", "),
        keys.len(),
        keys.join(", ")
    );
    let target_key = keys[texts.len()..].first();
    Ok((0..set.len())
        .map(|i| {
            let mut row = serde_json::Map::new();
            for (key, column) in keys.iter().zip(texts) {
                row.insert((*key).to_string(), json!(column[i]));
            }
            let value = match target {
                TargetColumn::None => None,
                TargetColumn::Scores(scores) => Some(json!(scores[i])),
                TargetColumn::Classes { values, .. } => Some(json!(values[i])),
                TargetColumn::Vectors { values, dim } => {
                    Some(json!(values[i * dim..(i + 1) * dim]))
                }
            };
            if let (Some(key), Some(value)) = (target_key, value) {
                row.insert((*key).to_string(), value);
            }
            Value::Object(row)
        })
        .collect())
}

/// The STS-B train pairs of the two-dataset recipe (scores in 0..1).
fn stsb_rows_path(out_dir: &Path) -> PathBuf {
    out_dir.join("multi_stsb_rows.jsonl")
}

/// The STS-B train pairs of the two-dataset recipe, scores divided by 5: the rows of
/// configs/multi-dataset.toml's `format = "sts_pairs"` dataset (all of them unless
/// `--stsb-rows`). The file is sorted by genre (captions first), so `Order::Same` shuffles it
/// as it does the MNLI rows.
fn write_stsb_train(
    client: &hub::HubClient,
    seed: u64,
    opts: &TrainBench,
    out_dir: &Path,
) -> Result<()> {
    let stsb = DataConfig {
        dataset: "glue/stsb".into(),
        split: "train".into(),
        format: DataFormat::StsPairs,
        score_max: 5.0,
        max_rows: opts.stsb_rows,
        ..DataConfig::default()
    };
    let set =
        config::load_training_set(client, &stsb, seed).context("reading the STS-B train rows")?;
    let lines = json_rows(&set, &["sentence1", "sentence2", "score"])?;
    write_in_order(&lines, opts.order, seed, &stsb_rows_path(out_dir))
}

fn build_train_cli(root: &Path) -> Result<PathBuf> {
    println!("building train-cli (release)…");
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["build", "--quiet", "--release", "-p", "train-cli"])
        .status()?;
    ensure!(status.success(), "building train-cli failed");
    Ok(root.join("target").join("release").join("train-cli"))
}

/// The files a Python run reads, and the folder it writes into.
struct RunFiles<'a> {
    model_dir: &'a Path,
    train_file: &'a Path,
    eval_file: &'a Path,
    out_dir: &'a Path,
}

fn run_python(
    python: &Path,
    root: &Path,
    files: &RunFiles<'_>,
    loss: BenchLoss,
    seed: u64,
    dtype: BenchDtype,
    opts: &TrainBench,
) -> Result<Value> {
    let script = root.join("xtask").join("python").join("train_bench.py");
    let model_out = files
        .out_dir
        .join(format!("python-{}-{}", loss.name(), dtype.arg()));
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .arg(files.model_dir)
        .arg(files.train_file)
        .arg(files.eval_file)
        .arg(&model_out)
        .arg(loss.name())
        .arg(opts.batch_size.to_string())
        .arg(opts.epochs.to_string())
        .arg(opts.learning_rate.to_string())
        .arg(opts.warmup_steps.to_string())
        .arg(opts.weight_decay.to_string())
        .arg(seed.to_string())
        .arg(opts.threads.to_string());
    if opts.cuda {
        cmd.arg("cuda");
    }
    if opts.order == Order::Same {
        cmd.arg("sequential");
    }
    if dtype == BenchDtype::Bf16 {
        cmd.arg("bf16");
    }
    if loss == BenchLoss::Multi {
        cmd.arg(format!("stsb={}", stsb_rows_path(files.out_dir).display()));
    }
    last_json_line(&run_captured(&mut cmd, opts.threads)?)
        .context("reading the Python side's report")
}

/// What a run of this project trains from and on, and where it writes.
struct RustRun<'a> {
    /// A hub id or folder.
    base: &'a str,
    train_file: &'a Path,
    out_dir: &'a Path,
}

fn run_rust(
    bin: &Path,
    run: &RustRun<'_>,
    loss: BenchLoss,
    seed: u64,
    dtype: BenchDtype,
    opts: &TrainBench,
) -> Result<Value> {
    let layout = Layout::single(opts.threads);
    let (config_path, model_out) = write_rust_config(run, loss, seed, dtype, opts, layout)?;
    run_captured(
        Command::new(bin)
            .args(["train", "--quiet", "--config"])
            .arg(&config_path),
        opts.threads,
    )?;
    read_rust_metrics(&model_out, loss, opts.threads)
}

/// Writes the run config of this project's side as `layout` runs it and returns its path and
/// the model folder the run will write (removed if a previous run left it).
fn write_rust_config(
    run: &RustRun<'_>,
    loss: BenchLoss,
    seed: u64,
    dtype: BenchDtype,
    opts: &TrainBench,
    layout: Layout,
) -> Result<(PathBuf, PathBuf)> {
    let (train_file, out_dir) = (run.train_file, run.out_dir);
    let (evaluator, _) = loss.evaluator_toml();
    let stem = format!(
        "rust-{}-{}{}",
        loss.name(),
        dtype.arg(),
        layout.file_suffix()
    );
    let model_out = out_dir.join(&stem);
    if model_out.exists() {
        std::fs::remove_dir_all(&model_out)
            .with_context(|| format!("removing the previous run {}", model_out.display()))?;
    }
    let data_and_loss = if loss == BenchLoss::Multi {
        format!(
            "[[datasets]]\nname = \"mnli-triplets\"\ndata = {{ dataset = {:?}, format = \"columns\", columns = {:?} }}\nloss = {{ type = \"multiple_negatives_ranking\", scale = 20.0 }}\n\n[[datasets]]\nname = \"stsb-train\"\ndata = {{ dataset = {:?}, format = \"columns\", columns = \"sentence1=sentence1,sentence2=sentence2,score=score\" }}\nloss = {{ type = \"cosine_similarity\" }}\n",
            train_file.display().to_string(),
            loss.columns(),
            stsb_rows_path(out_dir).display().to_string(),
        )
    } else {
        // Several processes score their anchors against every process's candidates, as
        // one process does over the global batch (check_nproc allows MNRL only).
        let gather = if layout.processes > 1 {
            "gather_across_devices = true\n"
        } else {
            ""
        };
        format!(
            "[data]\ndataset = {:?}\nformat = \"columns\"\ncolumns = {:?}\n\n[loss]\n{}{gather}",
            train_file.display().to_string(),
            loss.columns(),
            loss.loss_toml()
        )
    };
    // Every hyperparameter is spelled out, so the comparison does not rest on defaults.
    let config = format!(
        r#"[model]
base = {model:?}
{model_extra}
{data_and_loss}
[training]
epochs = {epochs}
batch_size = {batch}
learning_rate = {lr:e}
warmup_steps = {warmup}
weight_decay = {wd:e}
max_grad_norm = 1.0
seed = {seed}
device = {device:?}
precision = {precision:?}
batch_sampler = {sampler:?}
threads = {threads}

[evaluation]
eval_steps = 0

[[evaluation.evaluators]]
type = {evaluator:?}
dataset = "glue/stsb"
split = "validation"

[output]
dir = {dir:?}
logging_steps = 10
save_steps = 0
progress = false
"#,
        model = run.base,
        model_extra = loss.model_toml(),
        evaluator = evaluator,
        epochs = opts.epochs,
        batch = opts.batch_size,
        lr = opts.learning_rate,
        warmup = opts.warmup_steps,
        wd = opts.weight_decay,
        seed = seed,
        device = if opts.cuda { "cuda" } else { "cpu" },
        threads = layout.threads,
        precision = dtype.arg(),
        sampler = match opts.order {
            Order::Same => "sequential",
            Order::Each => "shuffle",
        },
        dir = model_out.display().to_string(),
    );
    let config_path = out_dir.join(format!("{stem}.toml"));
    std::fs::write(&config_path, config)?;
    Ok((config_path, model_out))
}

/// The record of a finished run of this project: its last logged examples/s and its
/// Spearman before and after training, from its metrics.jsonl.
fn read_rust_metrics(model_out: &Path, loss: BenchLoss, threads: usize) -> Result<Value> {
    let (_, metric) = loss.evaluator_toml();
    let metrics_path = model_out.join("metrics.jsonl");
    let text = std::fs::read_to_string(&metrics_path)
        .with_context(|| format!("reading {}", metrics_path.display()))?;
    let records: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", metrics_path.display()))?;
    let evals: Vec<&Value> = records.iter().filter(|r| r["kind"] == "eval").collect();
    let last_train = records
        .iter()
        .rev()
        .find(|r| r["kind"] == "train")
        .context("metrics.jsonl has no training record")?;
    let spearman = |r: Option<&&Value>| {
        r.and_then(|r| r["metrics"][metric].as_f64())
            .unwrap_or(f64::NAN)
    };
    Ok(json!({
        "side": "rust",
        "loss": loss.name(),
        "steps": last_train["step"],
        "rate": last_train["examples_per_second"],
        "spearman_before": spearman(evals.first()),
        "spearman_after": spearman(evals.last()),
        "threads": threads,
    }))
}

/// One loss at one seed: each side's examples/s and final Spearman (NaN for a side not run).
#[derive(Debug, Clone, Copy)]
struct SeedRun {
    seed: u64,
    python_rate: f64,
    python_spearman: f64,
    rust_rate: f64,
    rust_spearman: f64,
}

struct Report {
    text: String,
    json: Value,
    run: SeedRun,
}

/// Tolerance the bf16 issue sets between this project's bf16 and fp32 runs' Spearman.
const BF16_TOLERANCE: f64 = 0.005;

/// One loss at one seed over the rounds: each side's examples/s (median, min, max), every
/// ratio of this project's sides to sentence-transformers', and the Spearman gaps that decide
/// parity (this project's fp32 against sentence-transformers' fp32) and bf16 quality (this
/// project's bf16 against its fp32).
fn summarize(loss: BenchLoss, seed: u64, sides: &[Side], results: &[Vec<Value>]) -> Report {
    let per_side = |key: &str| -> Vec<SideRuns> {
        sides
            .iter()
            .zip(results)
            .map(|(side, runs)| SideRuns {
                label: side.label(),
                values: runs.iter().map(|r| num(r, key)).collect(),
            })
            .collect()
    };
    let rates = per_side("rate");
    let after = per_side("spearman_after");
    let before = per_side("spearman_before");
    let index_of = |implementation, dtype| {
        sides
            .iter()
            .position(|s| s.implementation == implementation && s.dtype == dtype)
    };
    let (ours, theirs) = (
        sides_of(sides, Implementation::Rust),
        sides_of(sides, Implementation::Python),
    );
    let mut text = report("examples/s", &rates, &ours, &theirs);
    for (b, a) in before.iter().zip(&after) {
        let _ = writeln!(
            text,
            "spearman {:<28} {:.4} → {:.4}",
            a.label,
            Spread::of(&b.values).median,
            Spread::of(&a.values).median
        );
    }
    let median_of = |i: Option<usize>, runs: &[SideRuns]| {
        i.and_then(|i| runs.get(i))
            .map_or(f64::NAN, |r| Spread::of(&r.values).median)
    };
    let py_fp32 = index_of(Implementation::Python, BenchDtype::Fp32);
    let rs_fp32 = index_of(Implementation::Rust, BenchDtype::Fp32);
    let rs_bf16 = index_of(Implementation::Rust, BenchDtype::Bf16);
    let parity_gap = median_of(rs_fp32, &after) - median_of(py_fp32, &after);
    if rs_fp32.is_some() && py_fp32.is_some() {
        let _ = writeln!(
            text,
            "spearman gap this project fp32 − sentence-transformers fp32 {parity_gap:+.4} ({} ±{PARITY_TOLERANCE})",
            within(parity_gap)
        );
    }
    let bf16_gap = median_of(rs_bf16, &after) - median_of(rs_fp32, &after);
    if rs_bf16.is_some() && rs_fp32.is_some() {
        let verdict = if bf16_gap.abs() <= BF16_TOLERANCE {
            "within"
        } else {
            "OUTSIDE"
        };
        let _ = writeln!(
            text,
            "spearman gap this project bf16 − fp32 {bf16_gap:+.4} ({verdict} ±{BF16_TOLERANCE})"
        );
    }
    // The multi-seed summary compares the baseline with this project's first side (the
    // precision asked for).
    let ours_first = ours.first().copied();
    let run = SeedRun {
        seed,
        python_rate: median_of(py_fp32, &rates),
        python_spearman: median_of(py_fp32, &after),
        rust_rate: median_of(ours_first, &rates),
        rust_spearman: median_of(ours_first, &after),
    };
    Report {
        text,
        json: json!({
            "loss": loss.name(),
            "seed": seed,
            "rates": report_json(&rates, &ours, &theirs),
            "spearman_after": report_json(&after, &[], &[]),
            "parity_gap": parity_gap,
            "bf16_gap": bf16_gap,
            "runs": sides.iter().zip(results).map(|(s, r)| json!({"side": s.label(), "results": r})).collect::<Vec<_>>(),
        }),
        run,
    }
}

fn within(gap: f64) -> &'static str {
    if gap.abs() <= PARITY_TOLERANCE {
        "within"
    } else {
        "OUTSIDE"
    }
}

/// Mean and sample standard deviation (n − 1); the sd is NaN for fewer than two values.
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, if xs.len() < 2 { f64::NAN } else { var.sqrt() })
}

/// Several seeds of one loss: both sides' Spearman per seed, their mean ± sd, and the mean of
/// the paired gaps. Losses whose single runs spread wider than the tolerance (SoftmaxLoss) are
/// judged on the means, not on any one seed.
fn seed_summary(loss: BenchLoss, runs: &[SeedRun]) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "\n== {} over {} seeds", loss.name(), runs.len());
    let _ = writeln!(text, "seed      python    rust       gap   ratio");
    for r in runs {
        let _ = writeln!(
            text,
            "{:<8} {:>7.4} {:>7.4} {:>+9.4} {:>6.2}x",
            r.seed,
            r.python_spearman,
            r.rust_spearman,
            r.rust_spearman - r.python_spearman,
            r.rust_rate / r.python_rate
        );
    }
    let column = |f: fn(&SeedRun) -> f64| runs.iter().map(f).collect::<Vec<_>>();
    let (py_mean, py_sd) = mean_sd(&column(|r| r.python_spearman));
    let (rs_mean, rs_sd) = mean_sd(&column(|r| r.rust_spearman));
    let (gap_mean, gap_sd) = mean_sd(&column(|r| r.rust_spearman - r.python_spearman));
    let _ = writeln!(
        text,
        "mean ± sd  python {py_mean:.4} ± {py_sd:.4}   rust {rs_mean:.4} ± {rs_sd:.4}"
    );
    let _ = writeln!(
        text,
        "mean paired gap {gap_mean:+.4} ± {gap_sd:.4} ({} ±{PARITY_TOLERANCE})",
        within(gap_mean)
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, python_spearman: f64, rust_spearman: f64) -> SeedRun {
        SeedRun {
            seed,
            python_rate: 10.0,
            python_spearman,
            rust_rate: 20.0,
            rust_spearman,
        }
    }

    /// The lines the bench wrote before its rows came through the config crate: its own
    /// `json!` per builder row. (On the mirrored MNLI and STS-B, the files of every loss were
    /// byte-identical before and after the change.)
    #[test]
    fn json_rows_write_what_the_builders_rows_were_written_as() {
        // Compared as the text written to the file, not as JSON values.
        let text = |rows: &[Value]| rows.iter().map(Value::to_string).collect::<Vec<_>>();
        let nli = [
            ("a cat sits", "a cat is sitting", data::NliLabel::Entailment),
            ("a dog runs", "a dog sleeps", data::NliLabel::Contradiction),
            ("a bird sings", "a bird is loud", data::NliLabel::Neutral),
        ]
        .map(|(premise, hypothesis, label)| data::NliPair {
            premise: premise.into(),
            hypothesis: hypothesis.into(),
            label,
        });
        let labelled = data::labelled_pairs(&nli, None);
        let lines = json_rows(
            &TrainingSet::from_labelled_pairs(&labelled),
            BenchLoss::Softmax.json_keys(),
        )
        .unwrap();
        let expected: Vec<Value> = labelled
            .iter()
            .map(|p| json!({"premise": p.sentence1, "hypothesis": p.sentence2, "label": p.label}))
            .collect();
        assert_eq!(text(&lines), text(&expected));

        let scored = data::scored_pairs(&nli, data::NeutralPolicy::AsZero, None);
        let lines = json_rows(
            &TrainingSet::from_scored_pairs(&scored),
            BenchLoss::Cosine.json_keys(),
        )
        .unwrap();
        let expected: Vec<Value> = scored
            .iter()
            .map(|p| json!({"sentence1": p.sentence1, "sentence2": p.sentence2, "score": p.score}))
            .collect();
        assert_eq!(text(&lines), text(&expected));

        let triplets = data::soft_triplets(&nli, None, 7);
        let lines = json_rows(
            &TrainingSet::from_triplets(&triplets),
            BenchLoss::Mnrl.json_keys(),
        )
        .unwrap();
        let expected: Vec<Value> = triplets
            .iter()
            .map(|t| json!({"anchor": t.anchor, "positive": t.positive, "negative": t.negative}))
            .collect();
        assert_eq!(text(&lines), text(&expected));

        let err = json_rows(
            &TrainingSet::from_triplets(&triplets),
            &["anchor", "positive"],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("3 columns (anchor, positive, negative)"),
            "{err}"
        );
    }

    #[test]
    fn mean_sd_is_the_sample_statistics() {
        let (mean, sd) = mean_sd(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(mean, 2.5);
        assert!((sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(mean_sd(&[0.7]).1.is_nan());
    }

    #[test]
    fn seed_summary_judges_the_mean_paired_gap() {
        let text = seed_summary(
            BenchLoss::Softmax,
            &[run(42, 0.78, 0.80), run(1, 0.80, 0.79), run(2, 0.76, 0.76)],
        );
        assert!(text.contains("softmax over 3 seeds"), "{text}");
        assert!(text.contains("mean paired gap +0.0033"), "{text}");
        assert!(text.contains("(within ±0.01)"), "{text}");
        assert!(text.contains("2.00x"), "{text}");

        let text = seed_summary(
            BenchLoss::Softmax,
            &[run(1, 0.80, 0.78), run(2, 0.81, 0.79)],
        );
        assert!(text.contains("mean paired gap -0.0200"), "{text}");
        assert!(text.contains("OUTSIDE"), "{text}");
    }
}
