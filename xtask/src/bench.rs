//! `cargo xtask bench encode`: this project against Python sentence-transformers, same
//! machine, same thread count, one invocation.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::python_env::reference_python;

pub const BENCH_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

pub struct EncodeBench {
    /// Hub id or local folder of any supported architecture.
    pub model: String,
    pub threads: usize,
    pub batch_size: usize,
    pub repeats: usize,
    pub bf16: bool,
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

    let mut common = vec![
        model_dir.display().to_string(),
        text_file.display().to_string(),
        opts.batch_size.to_string(),
        opts.threads.to_string(),
        opts.repeats.to_string(),
    ];
    common.push(if opts.bf16 { "bf16" } else { "f32" }.into());
    if opts.cuda {
        common.push("cuda".into());
    }
    println!(
        "{} texts, batch {}, {} threads, {} timed runs each (median)",
        texts.len(),
        opts.batch_size,
        opts.threads,
        opts.repeats
    );
    let python_script = root.join("xtask").join("python").join("encode_bench.py");
    let py = run_json(
        Command::new(&python).arg(&python_script).args(&common),
        opts.threads,
    )?;
    let rs = run_json(Command::new(&rust_bin).args(&common), opts.threads)?;
    let rate = |v: &Value| v["rate"].as_f64().unwrap_or(f64::NAN);
    let ratio = rate(&rs) / rate(&py);
    println!();
    println!("side                        texts/s   median s");
    println!(
        "python sentence-transformers {:>8.1} {:>9.3}",
        rate(&py),
        py["median_seconds"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "rust (this project)          {:>8.1} {:>9.3}",
        rate(&rs),
        rs["median_seconds"].as_f64().unwrap_or(f64::NAN)
    );
    println!("ratio rust/python            {ratio:>8.2}x");
    let report = serde_json::json!({ "python": py, "rust": rs, "ratio": ratio, "batch_size": opts.batch_size, "dtype": if opts.bf16 { "bf16" } else { "f32" } });
    let report_path = out_dir.join("encode.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("report: {}", report_path.display());
    Ok(())
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
