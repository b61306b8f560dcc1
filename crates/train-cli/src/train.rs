//! `train-cli train` (also what `train-cli` with no subcommand runs): a training run from a
//! TOML config, with any field overridable from the command line.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use model::DeviceChoice;
use trainer::distributed::{Backend, Distributed, LaunchEnv};
use trainer::{Resume, TrainConfig, DEFAULT_CONFIG_TOML};

#[derive(Args, Debug, Default, Clone)]
pub struct TrainArgs {
    /// TOML config (default: configs/default.toml, built in). Flags below override its fields
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Override any config field: `--set section.key=value` (repeatable). A new `type` (of the
    /// loss, a pairing) starts that choice from its defaults; set its fields after it. With
    /// `[[datasets]]`, `data.…` and `loss.…` keys (and --max-rows) apply to each entry. E.g.
    /// `train-cli --set loss.type=cosine_similarity --set data.format=scored_pairs`
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Base model: hub id or local folder [model.base]
    #[arg(long)]
    pub model: Option<String>,
    /// Training dataset: glue/mnli, snli, glue/stsb or a local .parquet/.csv/.tsv/.jsonl file
    /// [data.dataset]
    #[arg(long)]
    pub dataset: Option<String>,
    /// Keep at most this many training rows [data.max_rows]
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// Passes over the training rows [training.epochs]
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Stop after this many optimizer steps [training.max_steps]
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Examples per optimizer step (before accumulation) [training.batch_size]
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate [training.learning_rate]
    #[arg(long = "lr")]
    pub learning_rate: Option<f64>,
    /// Steps of linear learning-rate warm-up from 0 [training.warmup_steps]
    #[arg(long)]
    pub warmup_steps: Option<u64>,
    /// Seed of the data order, negatives and dropout [training.seed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// auto, cpu, cuda or cuda:N [training.device]
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    /// fp32, fp16 (CUDA autocast with loss scaling) or bf16 (autocast on CUDA or CPU) [training.precision]
    #[arg(long)]
    pub precision: Option<String>,
    /// libtorch CPU threads [training.threads]
    #[arg(long)]
    pub threads: Option<usize>,
    /// Evaluate every this many steps, 0 for only before and after [evaluation.eval_steps]
    #[arg(long)]
    pub eval_steps: Option<u64>,
    /// Checkpoint every this many steps [output.save_steps]
    #[arg(long)]
    pub save_steps: Option<u64>,
    /// Output folder [output.dir]
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Keep the weights with the best validation Spearman [output.load_best]
    #[arg(long)]
    pub load_best: bool,
    /// Continue from a checkpoint: `latest` (the newest in the output folder) or a path
    #[arg(long, value_name = "latest|PATH")]
    pub resume: Option<String>,
    /// Hide the progress bar [output.progress = false]
    #[arg(long)]
    pub quiet: bool,
    /// Print the resolved config and exit without training
    #[arg(long)]
    pub dry_run: bool,
    /// Train as N processes on this machine (data-parallel over c10d/Gloo; each global batch
    /// split across them). Under torchrun or another launcher that sets RANK, leave it out
    #[arg(long, value_name = "N")]
    pub nproc: Option<usize>,
}

impl TrainArgs {
    /// The flags as `key=value` overrides, in the order they apply (after `--set`).
    fn overrides(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for pair in &self.set {
            let (k, v) = pair.split_once('=').unwrap_or((pair.as_str(), ""));
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
        let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k.to_string(), v));
            }
        };
        push("model.base", self.model.as_deref().map(quoted));
        push("data.dataset", self.dataset.as_deref().map(quoted));
        push("data.max_rows", self.max_rows.map(|v| v.to_string()));
        push("training.epochs", self.epochs.map(|v| v.to_string()));
        push("training.max_steps", self.max_steps.map(|v| v.to_string()));
        push(
            "training.batch_size",
            self.batch_size.map(|v| v.to_string()),
        );
        push(
            "training.learning_rate",
            self.learning_rate.map(|v| format!("{v:e}")),
        );
        push(
            "training.warmup_steps",
            self.warmup_steps.map(|v| v.to_string()),
        );
        push("training.seed", self.seed.map(|v| v.to_string()));
        push(
            "training.device",
            self.device.map(|d| quoted(&d.to_string())),
        );
        push("training.precision", self.precision.as_deref().map(quoted));
        push("training.threads", self.threads.map(|v| v.to_string()));
        push(
            "evaluation.eval_steps",
            self.eval_steps.map(|v| v.to_string()),
        );
        push("output.save_steps", self.save_steps.map(|v| v.to_string()));
        push(
            "output.dir",
            self.output
                .as_ref()
                .map(|p| quoted(&p.display().to_string())),
        );
        push("output.load_best", self.load_best.then(|| "true".into()));
        push("output.progress", self.quiet.then(|| "false".into()));
        out
    }
}

pub fn load_config(args: &TrainArgs) -> Result<TrainConfig> {
    let overrides = args.overrides();
    Ok(match &args.config {
        Some(path) => TrainConfig::from_file(path, &overrides)?,
        None => TrainConfig::from_toml(
            DEFAULT_CONFIG_TOML,
            "built-in configs/default.toml",
            &overrides,
        )?,
    })
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let config = load_config(args)?;
    if args.dry_run {
        print!("{}", config.to_toml()?);
        return Ok(());
    }
    if let Some(nproc) = args.nproc {
        if nproc > config.training.batch_size {
            anyhow::bail!(
                "--nproc {nproc} is more processes than examples per step (training.batch_size \
                 = {}): every process needs at least one example of each batch",
                config.training.batch_size
            );
        }
        return crate::launch::run(nproc);
    }
    let launch = LaunchEnv::from_env()?;
    let dist = match &launch {
        None => None,
        Some(env) => {
            if config.training.threads.is_none() {
                // Each process gets its share of the machine's cores (torchrun sets
                // OMP_NUM_THREADS=1; sharing them out is faster on CPU-only machines).
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                tch::set_num_threads((cores / env.local_world_size).max(1) as i32);
            }
            let timeout = std::time::Duration::from_secs(config.training.ddp_timeout);
            let cuda = match config.training.device {
                model::DeviceChoice::Cpu => false,
                model::DeviceChoice::Cuda(_) => true,
                model::DeviceChoice::Auto => tch::Cuda::is_available(),
            };
            let backend = Backend::choose(config.training.ddp_backend, cuda);
            Some(
                Distributed::join(env.clone(), timeout, backend)
                    .context("joining the distributed run")?,
            )
        }
    };
    let main = launch.as_ref().is_none_or(|env| env.rank == 0);
    let resume = match args.resume.as_deref() {
        None => Resume::Fresh,
        Some("latest") => Resume::Latest,
        Some(path) => Resume::From(PathBuf::from(path)),
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        let installed = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: the user does not want to wait for the checkpoint.
                std::process::exit(130);
            }
            eprintln!(
                "\nstopping after this step and writing a checkpoint (Ctrl-C again to abort)"
            );
        });
        if let Err(err) = installed {
            tracing::warn!("cannot install the Ctrl-C handler: {err}");
        }
    }
    let client = hub::HubClient::from_env()?;
    let datasets: Vec<String> = config
        .training_datasets()
        .iter()
        .map(|d| {
            format!(
                "{} ({:?}) with {}",
                d.data.dataset,
                d.data.format,
                serde_json::to_string(d.loss).unwrap_or_default()
            )
        })
        .collect();
    if main {
        eprintln!(
            "training {} on {} -> {}{}",
            config.model.base,
            datasets.join(" and "),
            config.output.dir.display(),
            launch
                .as_ref()
                .map(|env| format!(" ({} processes)", env.world_size))
                .unwrap_or_default()
        );
    }
    let outcome = trainer::train_distributed(&config, resume, &client, &stop, dist)
        .context("training failed")?;
    if let (Some(env), Some(peak)) = (&launch, peak_resident_mib()) {
        println!("rank {}: peak resident memory {peak:.0} MiB", env.rank);
    }
    if !main {
        if outcome.interrupted.is_some() {
            std::process::exit(130);
        }
        return Ok(());
    }
    if let Some(checkpoint) = &outcome.interrupted {
        println!(
            "interrupted at step {}/{}; resume with --resume {}",
            outcome.steps,
            outcome.total_steps,
            checkpoint.display()
        );
        std::process::exit(130);
    }
    println!(
        "trained {} steps on {} examples at {:.1} examples/s; model saved to {}",
        outcome.steps,
        outcome.examples,
        outcome.examples_per_second,
        outcome.output_dir.display()
    );
    if let Some(comm) = &outcome.communication {
        println!(
            "{} processes: {:.1} MB of gradients summed per step, {:.3} s per step in that \
             all-reduce",
            outcome.world_size,
            comm.bytes_per_step() / 1e6,
            comm.seconds_per_step()
        );
    }
    let which = if config.output.load_best {
        "best checkpoint"
    } else {
        "final model"
    };
    print!("{}", before_after_tables(&outcome, which));
    Ok(())
}

/// One table per evaluator: every metric before and after training.
fn before_after_tables(outcome: &trainer::TrainOutcome, which: &str) -> String {
    let mut out = String::new();
    for after in &outcome.after {
        let before = outcome
            .before
            .iter()
            .find(|b| b.evaluator == after.evaluator);
        out.push_str(&format!("{} ({which}):\n", after.evaluator));
        out.push_str(&format!(
            "{:<24} {:>10} {:>10}\n",
            "metric", "before", "after"
        ));
        for (key, value) in after.metrics.iter() {
            let was = before
                .and_then(|b| b.metrics.get(key))
                .map(|v| format!("{v:.4}"))
                .unwrap_or_else(|| "–".into());
            out.push_str(&format!("{key:<24} {was:>10} {value:>10.4}\n"));
        }
    }
    out
}

/// This process's peak resident set (`VmHWM`), in MiB, where /proc has it.
fn peak_resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
