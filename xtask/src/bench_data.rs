//! `cargo xtask bench data`: reading a 400,000-row MNLI-shaped parquet file and building hard
//! and soft triplets from it, in release mode (the data crate's `nli_bench` example).

use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

pub struct DataBench {
    pub rows: usize,
    pub repeats: usize,
}

/// What the read + build of the full file must stay under on a 2-core machine.
const TARGET_SECONDS: f64 = 2.0;

pub fn data(root: &Path, opts: &DataBench) -> Result<()> {
    println!("building the data benchmark (release)…");
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "data",
            "--example",
            "nli_bench",
        ])
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "building the nli_bench example failed");
    let bin = root.join("target/release/examples/nli_bench");
    let out_dir = root.join("target").join("bench");
    // The generator is deterministic: a file of the same size can be reused across runs.
    let parquet = out_dir.join(format!("synthetic_mnli_{}.parquet", opts.rows));
    let out = Command::new(&bin)
        .arg(&parquet)
        .arg(opts.rows.to_string())
        .arg(opts.repeats.to_string())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    ensure!(
        out.status.success(),
        "{} failed ({}):\n{}",
        bin.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("no JSON line in the benchmark output")?;
    let report: Value = serde_json::from_str(line)?;
    let number = |key: &str| report[key].as_f64().unwrap_or(f64::NAN);
    let seconds = number("median_seconds");
    println!();
    println!(
        "{} rows of {} (median of {} runs)",
        report["rows"],
        parquet.display(),
        opts.repeats
    );
    println!("step                  seconds");
    println!("read parquet          {:>7.3}", number("read_seconds"));
    println!(
        "hard triplets         {:>7.3}  ({} triplets)",
        number("hard_seconds"),
        report["hard_triplets"]
    );
    println!(
        "soft triplets         {:>7.3}  ({} triplets)",
        number("soft_seconds"),
        report["soft_triplets"]
    );
    println!("total                 {seconds:>7.3}");
    println!("rows/s                {:>7.0}", number("rows_per_second"));
    let verdict = if seconds < TARGET_SECONDS {
        "within"
    } else {
        "OVER"
    };
    println!("{verdict} the {TARGET_SECONDS} s target");
    std::fs::create_dir_all(&out_dir)?;
    let report_path = out_dir.join("data.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("report: {}", report_path.display());
    Ok(())
}
