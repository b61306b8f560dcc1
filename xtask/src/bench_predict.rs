//! `cargo xtask bench predict`: `train-cli predict` against sentence-transformers 6.3's
//! `CrossEncoder.predict` on the same cross-encoder and the same MNLI pairs, each run its own
//! process, the sides alternating run by run, and both sides' scores checked to agree.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use crate::alternate::{ratios, report, report_json, SideRuns, Spread};
use crate::bench::{
    last_json_line, run_captured, sides_of, BenchDtype, Implementation, Side, BENCH_MODEL,
};
use crate::bench_mine::{
    build_train_cli, dataset_file, mib, number_after, run_measured, MemoryProbe,
};
use crate::python_env::reference_python;

/// Largest difference allowed between the two sides' raw logits of one pair.
const SCORE_TOLERANCE: f32 = 1e-4;
/// The known dataset the pairs come from.
const PAIRS_DATASET: &str = "glue/mnli";
/// The cross-encoder both sides load, under target/bench/predict/.
const MODEL_FOLDER: &str = "minilm-ce";
/// `--columns` of `train-cli predict` for the pairs file.
const PAIR_COLUMNS: &str = "premise=premise,hypothesis=hypothesis";

/// Cross-encoder scores of MNLI (premise, hypothesis) pairs by this project and by
/// sentence-transformers: pairs/s of each, their ratio, and the scores' agreement
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct PredictBench {
    /// (premise, hypothesis) pairs: the first N of the MNLI split, in file order, any label
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub pairs: u64,
    /// The MNLI split: train (the loopback hub mirror's only one) or validation_matched (where
    /// the hub has it)
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Alternating rounds (each side run once per round)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,
    /// Pairs per forward pass, both sides
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// CPU threads for both sides
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: u64,
    /// A Python with sentence-transformers to use instead of the project's .venv-bench
    #[arg(long)]
    pub python: Option<String>,
    /// A release train-cli binary to run instead of building target/release/train-cli
    #[arg(long)]
    pub train_cli: Option<PathBuf>,
}

/// One run of one side.
struct SideRun {
    /// Pairs per second of the predict call, timed inside the process.
    rate: f64,
    process_seconds: f64,
    peak_rss_kib: u64,
    scores_file: PathBuf,
    raw: Value,
}

/// Everything a run needs besides the side.
struct Inputs<'a> {
    train_cli: &'a Path,
    python: &'a Path,
    script: &'a Path,
    model_dir: &'a Path,
    pairs_file: &'a Path,
    pairs: usize,
    out_dir: &'a Path,
    probe: MemoryProbe,
}

/// The summary line `train-cli predict` writes to stderr:
/// `scored N pairs into [N, L] (activation) in S s (R pairs/s), wrote …`, S timing the
/// predict call (tokenising and scoring), not loading the model or writing the scores.
/// Returns N and S.
fn parse_rust_summary(stderr: &str) -> Result<(u64, f64)> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("scored "))
        .context("train-cli predict printed no `scored … in … s` line")?;
    Ok((
        number_after(line, "scored ")? as u64,
        number_after(line, ") in ")?,
    ))
}

fn run_side(side: Side, inputs: &Inputs<'_>, opts: &PredictBench) -> Result<SideRun> {
    let stem = match side.implementation {
        Implementation::Rust => "rust",
        Implementation::Python => "st",
    };
    let scores_file = inputs.out_dir.join(format!("scores-{stem}.npy"));
    let rss_file = inputs.out_dir.join(format!("{stem}.maxrss"));
    let os = |s: &str| OsString::from(s);
    let (threads, batch_size) = (opts.threads.to_string(), opts.batch_size.to_string());
    let (program, args): (&Path, Vec<OsString>) = match side.implementation {
        Implementation::Rust => (
            inputs.train_cli,
            vec![
                os("predict"),
                os("--device"),
                os("cpu"),
                os("--model"),
                inputs.model_dir.into(),
                os("--pairs"),
                inputs.pairs_file.into(),
                os("--columns"),
                os(PAIR_COLUMNS),
                os("--threads"),
                os(&threads),
                os("--batch-size"),
                os(&batch_size),
                os("--activation"),
                os("identity"),
                os("--quiet"),
                os("--output"),
                scores_file.clone().into(),
            ],
        ),
        Implementation::Python => (
            inputs.python,
            vec![
                inputs.script.into(),
                os("predict"),
                inputs.model_dir.into(),
                inputs.pairs_file.into(),
                os(&threads),
                os(&batch_size),
                scores_file.clone().into(),
            ],
        ),
    };
    let measured = run_measured(program, &args, opts.threads, inputs.probe, &rss_file)?;
    let (pairs, seconds, raw) = match side.implementation {
        Implementation::Rust => {
            let (pairs, seconds) = parse_rust_summary(&measured.stderr)?;
            (
                pairs,
                seconds,
                json!({ "side": "rust", "pairs": pairs, "seconds": seconds }),
            )
        }
        Implementation::Python => {
            let r = last_json_line(&measured.stdout)
                .with_context(|| format!("{} printed no JSON report", side.label()))?;
            let pairs = r["pairs"].as_u64().unwrap_or(0);
            let seconds = r["seconds"].as_f64().unwrap_or(f64::NAN);
            (pairs, seconds, r)
        }
    };
    ensure!(
        pairs == inputs.pairs as u64,
        "{} scored {pairs} pairs, expected {}: the sides do not see the same input",
        side.label(),
        inputs.pairs
    );
    ensure!(
        seconds > 0.0,
        "{} reported {seconds} s for its predict call",
        side.label()
    );
    let rate = pairs as f64 / seconds;
    Ok(SideRun {
        rate,
        process_seconds: measured.seconds,
        peak_rss_kib: measured.peak_rss_kib,
        scores_file,
        raw: json!({
            "pairs_per_second": rate, "predict_seconds": seconds,
            "process_seconds": measured.seconds, "peak_rss_kib": measured.peak_rss_kib,
            "report": raw,
        }),
    })
}

/// How far apart two sides' scores are: the largest absolute difference and where.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Agreement {
    max_abs_diff: f32,
    /// (pair, label) of the largest difference.
    at: (usize, usize),
}

/// Compares the scores of `ours` and `theirs` (float32 [pairs, labels] .npy files); an error
/// when the shapes differ, a value is not finite or a difference exceeds the tolerance.
fn compare_scores(ours: &Path, theirs: &Path, pairs: usize) -> Result<Agreement> {
    let read = |path: &Path| {
        data::read_npy_f32(path).with_context(|| format!("reading the scores {}", path.display()))
    };
    let (a, a_rows, a_dim) = read(ours)?;
    let (b, b_rows, b_dim) = read(theirs)?;
    ensure!(
        (a_rows, a_dim) == (b_rows, b_dim) && a_rows == pairs,
        "score shapes differ: {} is [{a_rows}, {a_dim}], {} is [{b_rows}, {b_dim}], {pairs} pairs \
         were scored",
        ours.display(),
        theirs.display()
    );
    let mut agreement = Agreement {
        max_abs_diff: 0.0,
        at: (0, 0),
    };
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let diff = (x - y).abs();
        // A NaN on either side is the worst difference there is: it stops the search.
        if diff.is_nan() || diff > agreement.max_abs_diff {
            agreement = Agreement {
                max_abs_diff: diff,
                at: (i / a_dim.max(1), i % a_dim.max(1)),
            };
            if diff.is_nan() {
                break;
            }
        }
    }
    let (pair, label) = agreement.at;
    let index = pair * a_dim + label;
    if agreement.max_abs_diff.is_nan() || agreement.max_abs_diff > SCORE_TOLERANCE {
        bail!(
            "the sides' scores disagree: pair {pair} label {label}: this project {} against \
             sentence-transformers {} (|difference| {:e} > tolerance {SCORE_TOLERANCE:e}; {} \
             and {})",
            a[index],
            b[index],
            agreement.max_abs_diff,
            ours.display(),
            theirs.display()
        );
    }
    Ok(agreement)
}

/// The first `n` (premise, hypothesis) pairs of a GLUE-style NLI parquet file, in file order.
fn read_pairs(path: &Path, split: &str, n: usize) -> Result<(Vec<String>, Vec<String>)> {
    let all = data::read_nli_pairs(path, &data::NliColumns::GLUE, data::UnlabeledRows::Skip)?;
    let (premises, hypotheses): (Vec<String>, Vec<String>) = all
        .pairs
        .into_iter()
        .take(n)
        .map(|p| (p.premise, p.hypothesis))
        .unzip();
    ensure!(
        premises.len() == n,
        "--pairs {n}: {PAIRS_DATASET} {split} ({}) has only {} labelled pairs",
        path.display(),
        premises.len()
    );
    Ok((premises, hypotheses))
}

/// The benchmark's cross-encoder under `out_dir`: made by the Python script on first use
/// (all-MiniLM-L6-v2's transformer under a new seeded one-label head), reused after.
fn ensure_model(
    client: &hub::HubClient,
    python: &Path,
    script: &Path,
    out_dir: &Path,
    threads: u64,
) -> Result<PathBuf> {
    let model_dir = out_dir.join(MODEL_FOLDER);
    if model_dir
        .join("config_sentence_transformers.json")
        .is_file()
    {
        println!("reusing the cross-encoder {}", model_dir.display());
        return Ok(model_dir);
    }
    let minilm = hub::resolve_model(client, BENCH_MODEL)?;
    println!(
        "creating the cross-encoder {} ({BENCH_MODEL} under a new one-label head)…",
        model_dir.display()
    );
    let stdout = run_captured(
        Command::new(python)
            .arg(script)
            .arg("create")
            .arg(&minilm)
            .arg(&model_dir),
        threads as usize,
    )?;
    println!("{}", last_json_line(&stdout)?);
    Ok(model_dir)
}

/// The cross-encoder `bench predict` scores with (made on first use), for the training bench
/// to start both sides from.
pub(crate) fn bench_cross_encoder(
    root: &Path,
    client: &hub::HubClient,
    python: &Path,
    threads: u64,
) -> Result<PathBuf> {
    let out_dir = root.join("target").join("bench").join("predict");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let script = root.join("xtask").join("python").join("predict_bench.py");
    ensure_model(client, python, &script, &out_dir, threads)
}

pub fn predict(root: &Path, opts: &PredictBench) -> Result<()> {
    let n = usize::try_from(opts.pairs)?;
    let client = hub::HubClient::from_env()?;
    let (name, split) = (PAIRS_DATASET, opts.split.as_str());
    let parquet = dataset_file(&client, name, split)?;
    let (premises, hypotheses) = read_pairs(&parquet, split, n)?;
    let out_dir = root.join("target").join("bench").join("predict");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let pairs_file = out_dir.join(format!("mnli_{split}_{n}.jsonl"));
    data::write_table(
        &pairs_file,
        &[
            ("premise".into(), data::TableColumn::Text(premises)),
            ("hypothesis".into(), data::TableColumn::Text(hypotheses)),
        ],
    )?;

    let python = reference_python(root, opts.python.as_deref())?;
    let script = root.join("xtask").join("python").join("predict_bench.py");
    let model_dir = ensure_model(&client, &python, &script, &out_dir, opts.threads)?;
    let train_cli = match &opts.train_cli {
        Some(bin) => bin.clone(),
        None => build_train_cli(root)?,
    };
    let probe = MemoryProbe::detect();
    let inputs = Inputs {
        train_cli: &train_cli,
        python: &python,
        script: &script,
        model_dir: &model_dir,
        pairs_file: &pairs_file,
        pairs: n,
        out_dir: &out_dir,
        probe,
    };
    let sides = [Implementation::Rust, Implementation::Python].map(|implementation| Side {
        implementation,
        dtype: BenchDtype::Fp32,
    });

    println!(
        "{n} (premise, hypothesis) pairs of {name} {split} ({}), cross-encoder {} (one label, raw \
         logits); device cpu, {} threads, batch {}; {} round(s) of {} (alternating); rate = \
         pairs / the predict call's time, timed inside each process (model load excluded, no \
         warm-up on either side); memory = {}",
        pairs_file.display(),
        model_dir.display(),
        opts.threads,
        opts.batch_size,
        opts.rounds,
        sides.map(Side::label).join(", "),
        probe.describe()
    );
    let mut rates: Vec<SideRuns> = sides
        .iter()
        .map(|s| SideRuns {
            label: s.label(),
            values: Vec::new(),
        })
        .collect();
    let mut agreements = Vec::new();
    let mut raw = Vec::new();
    for round in 1..=opts.rounds {
        let mut scores = Vec::new();
        for (side, out) in sides.iter().zip(rates.iter_mut()) {
            let run = run_side(*side, &inputs, opts)
                .with_context(|| format!("round {round}, {}", side.label()))?;
            println!(
                "round {round}: {:<26} {:>8.1} pairs/s   process {:>6.1} s   peak RSS {:>5.0} MiB",
                side.label(),
                run.rate,
                run.process_seconds,
                mib(run.peak_rss_kib)
            );
            out.values.push(run.rate);
            raw.push(json!({ "round": round, "side": side.label(), "result": run.raw }));
            scores.push(run.scores_file);
        }
        let agreement =
            compare_scores(&scores[0], &scores[1], n).with_context(|| format!("round {round}"))?;
        println!(
            "round {round}: scores agree, max |difference| {:.1e} (pair {}) ≤ {SCORE_TOLERANCE:e}",
            agreement.max_abs_diff, agreement.at.0
        );
        agreements.push(agreement.max_abs_diff);
    }

    let (ours, theirs) = (
        sides_of(&sides, Implementation::Rust),
        sides_of(&sides, Implementation::Python),
    );
    println!();
    print!("{}", report("pairs/s", &rates, &ours, &theirs));
    let ratio = Spread::of(&ratios(&rates[ours[0]], &rates[theirs[0]]));
    let max_diff = agreements.iter().copied().fold(0f32, f32::max);
    println!(
        "{} / {}: {:.2}x pairs/s (median of {} round(s), cpu, {} threads, batch {}); scores \
         within {max_diff:.1e} of each other (tolerance {SCORE_TOLERANCE:e})",
        rates[ours[0]].label,
        rates[theirs[0]].label,
        ratio.median,
        opts.rounds,
        opts.threads,
        opts.batch_size
    );

    let report_value = json!({
        "model": model_dir, "base_model": BENCH_MODEL, "dataset": name, "split": split,
        "pairs": n, "device": "cpu", "threads": opts.threads, "batch_size": opts.batch_size,
        "rounds": opts.rounds, "memory_probe": probe.describe(),
        "pairs_per_second": report_json(&rates, &ours, &theirs),
        "score_tolerance": SCORE_TOLERANCE, "max_abs_score_difference_per_round": agreements,
        "runs": raw,
    });
    let report_path = root.join("target").join("bench").join("predict.json");
    std::fs::write(
        &report_path,
        serde_json::to_string_pretty(&report_value)? + "\n",
    )
    .with_context(|| format!("writing {}", report_path.display()))?;
    println!("report: {}", report_path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: PredictBench,
    }

    #[test]
    fn defaults_are_the_issue_sizes() {
        let b = Cli::try_parse_from(["bench-predict"]).unwrap().bench;
        assert_eq!(
            (b.pairs, b.rounds, b.batch_size, b.threads),
            (2000, 3, 32, 2)
        );
        assert_eq!(b.split, "train");
        assert_eq!((b.python, b.train_cli), (None, None));
        assert!(Cli::try_parse_from(["x", "--pairs", "0"]).is_err());
        assert!(Cli::try_parse_from(["x", "--rounds", "0"]).is_err());
    }

    #[test]
    fn reads_train_cli_summary_line() {
        // As crates/train-cli/src/predict.rs prints it.
        let stderr = "loading…\nscored 2000 pairs into [2000, 1] (identity) in 12.34 s (162 \
                      pairs/s), wrote target/bench/predict/scores-rust.npy\n";
        assert_eq!(parse_rust_summary(stderr).unwrap(), (2000, 12.34));
        let softmax = "scored 7 pairs into [7, 3] (identity, softmax) in 0.05 s (140 pairs/s), \
                       wrote x.npy";
        assert_eq!(parse_rust_summary(softmax).unwrap(), (7, 0.05));
        assert!(parse_rust_summary("no summary here").is_err());
    }

    #[test]
    fn scores_must_agree_within_the_tolerance() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, values: &[f32], dim: usize| {
            let path = dir.path().join(name);
            data::write_npy_f32(&path, values, values.len() / dim, dim).unwrap();
            path
        };
        let ours = write("ours.npy", &[0.5, -1.0, 2.0], 1);
        let close = write("close.npy", &[0.50002, -1.00005, 2.0], 1);
        let a = compare_scores(&ours, &close, 3).unwrap();
        assert_eq!(a.at, (1, 0));
        assert!((a.max_abs_diff - 5e-5).abs() < 1e-6, "{a:?}");

        let far = write("far.npy", &[0.5, -1.0, 2.001], 1);
        let err = compare_scores(&ours, &far, 3).unwrap_err().to_string();
        assert!(
            err.contains("pair 2 label 0") && err.contains("disagree"),
            "{err}"
        );
        let nan = write("nan.npy", &[0.5, f32::NAN, 2.0], 1);
        assert!(compare_scores(&ours, &nan, 3).is_err());
        let wide = write("wide.npy", &[0.5, -1.0, 2.0], 3);
        let err = compare_scores(&ours, &wide, 3).unwrap_err().to_string();
        assert!(err.contains("shapes differ"), "{err}");
        assert!(compare_scores(&ours, &ours, 4).is_err());
    }
}
