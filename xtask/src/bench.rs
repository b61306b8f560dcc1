//! `cargo xtask bench encode`: this project against Python sentence-transformers, same
//! machine, same thread count, one invocation, the sides alternating round by round.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::alternate::{report, report_json, SideRuns};
use crate::python_env::reference_python;

pub const BENCH_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

pub struct EncodeBench {
    /// Hub id or local folder of any supported architecture.
    pub model: String,
    pub threads: usize,
    pub batch_size: usize,
    /// Timed runs inside each process (its median is the process's figure).
    pub repeats: usize,
    /// Alternating rounds: each runs every side once.
    pub rounds: usize,
    pub dtype: BenchDtype,
    pub cuda: bool,
    pub python: Option<String>,
}

pub fn encode(root: &Path, opts: &EncodeBench) -> Result<()> {
    let client = hub::HubClient::from_env()?;
    let model_dir = hub::resolve_model(&client, &opts.model)?;
    let sts = data::KnownDataset::find("glue/stsb").context("glue/stsb is a known dataset")?;
    let file = sts.file("validation").map_err(anyhow::Error::msg)?;
    let parquet = client.get(&hub::Repo::dataset(file.repo)?, &file.path)?;
    let pairs = data::read_scored_pairs(&parquet, &data::ScoredPairColumns::GLUE)?;
    let texts: Vec<&str> = pairs
        .iter()
        .map(|p| p.sentence1.as_str())
        .chain(pairs.iter().map(|p| p.sentence2.as_str()))
        .collect();
    ensure!(
        texts.iter().all(|t| !t.contains('\n')),
        "a sentence contains a newline; the text file would split it"
    );
    let out_dir = root.join("target").join("bench");
    std::fs::create_dir_all(&out_dir)?;
    let text_file = out_dir.join("stsb_validation_sentences.txt");
    std::fs::write(&text_file, texts.join("\n") + "\n")?;

    let python = reference_python(root, opts.python.as_deref())?;
    println!("building the Rust side (release)…");
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "model",
            "--example",
            "encode_bench",
        ])
        .status()?;
    ensure!(status.success(), "building the encode_bench example failed");
    let rust_bin = root
        .join("target")
        .join("release")
        .join("examples")
        .join("encode_bench");

    let python_script = root.join("xtask").join("python").join("encode_bench.py");
    let sides = encode_sides(opts.dtype);
    println!(
        "{} texts, batch {}, {} threads, {} round(s) of {} (alternating), {} timed run(s) per process (median)",
        texts.len(),
        opts.batch_size,
        opts.threads,
        opts.rounds,
        sides.iter().map(|s| s.label()).collect::<Vec<_>>().join(", "),
        opts.repeats
    );
    let mut runs: Vec<SideRuns> = sides
        .iter()
        .map(|s| SideRuns {
            label: s.label(),
            values: Vec::new(),
        })
        .collect();
    let mut raw = Vec::new();
    for round in 1..=opts.rounds {
        for (side, out) in sides.iter().zip(runs.iter_mut()) {
            let mut args = vec![
                model_dir.display().to_string(),
                text_file.display().to_string(),
                opts.batch_size.to_string(),
                opts.threads.to_string(),
                opts.repeats.to_string(),
                side.dtype.arg().into(),
            ];
            if opts.cuda {
                args.push("cuda".into());
            }
            let mut cmd = match side.implementation {
                Implementation::Python => {
                    let mut c = Command::new(&python);
                    c.arg(&python_script);
                    c
                }
                Implementation::Rust => Command::new(&rust_bin),
            };
            let result = run_json(cmd.args(&args), opts.threads)?;
            let rate = result["rate"].as_f64().unwrap_or(f64::NAN);
            println!("round {round}: {:<28} {rate:>8.1} texts/s", side.label());
            out.values.push(rate);
            raw.push(serde_json::json!({ "round": round, "side": side.label(), "result": result }));
        }
    }
    let (ours, theirs) = (
        sides_of(&sides, Implementation::Rust),
        sides_of(&sides, Implementation::Python),
    );
    println!();
    print!("{}", report("texts/s", &runs, &ours, &theirs));
    let report = serde_json::json!({
        "model": opts.model, "batch_size": opts.batch_size, "threads": opts.threads,
        "rounds": opts.rounds, "dtype": opts.dtype.arg(),
        "summary": report_json(&runs, &ours, &theirs), "runs": raw,
    });
    let report_path = out_dir.join("encode.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("report: {}", report_path.display());
    Ok(())
}

/// The dtype a bench side computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchDtype {
    Fp32,
    Bf16,
}

impl BenchDtype {
    /// As the side scripts and binaries take it.
    pub fn arg(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Bf16 => "bf16",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    Python,
    Rust,
}

/// One side of a comparison: an implementation computing in a dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side {
    pub implementation: Implementation,
    pub dtype: BenchDtype,
}

impl Side {
    pub fn label(self) -> String {
        let who = match self.implementation {
            Implementation::Python => "sentence-transformers",
            Implementation::Rust => "this project",
        };
        format!("{who} {}", self.dtype.arg())
    }
}

/// The indices of the sides `implementation` runs.
pub fn sides_of(sides: &[Side], implementation: Implementation) -> Vec<usize> {
    (0..sides.len())
        .filter(|&i| sides[i].implementation == implementation)
        .collect()
}

/// sentence-transformers fp32 is the baseline every comparison states; with bf16, this
/// project's bf16 is also set against sentence-transformers' own bf16.
fn encode_sides(dtype: BenchDtype) -> Vec<Side> {
    let side = |implementation, dtype| Side {
        implementation,
        dtype,
    };
    let mut sides = vec![
        side(Implementation::Python, BenchDtype::Fp32),
        side(Implementation::Rust, dtype),
    ];
    if dtype == BenchDtype::Bf16 {
        sides.push(side(Implementation::Python, BenchDtype::Bf16));
    }
    sides
}

fn run_json(cmd: &mut Command, threads: usize) -> Result<Value> {
    last_json_line(&run_captured(cmd, threads)?)
}

/// Runs `cmd` with `threads` CPU threads for libtorch (OpenMP, MKL) and returns its stdout;
/// a failure carries its stderr.
pub fn run_captured(cmd: &mut Command, threads: usize) -> Result<String> {
    let threads = threads.to_string();
    let out = cmd
        .env("OMP_NUM_THREADS", &threads)
        .env("MKL_NUM_THREADS", &threads)
        .env("TOKENIZERS_PARALLELISM", "true")
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The report a benchmark side prints as its last JSON line.
pub fn last_json_line(stdout: &str) -> Result<Value> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("no JSON line in the output")?;
    Ok(serde_json::from_str(line)?)
}

pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
