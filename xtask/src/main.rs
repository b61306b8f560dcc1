//! Project automation: `cargo xtask <command>`. Never links libtorch, so it builds on a fresh
//! machine before `setup` has run.

mod alternate;
mod bench;
mod bench_data;
mod bench_mine;
mod bench_predict;
mod bench_train;
mod fetch;
mod gloo;
mod python_env;
mod setup;
mod test;
mod tidy;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "xtask",
    about = "Set-up, downloads and benchmarks for this workspace"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install libtorch 2.11.0 (for tch 0.24) into .libtorch/ from the PyPI torch wheel
    Setup {
        /// Prepare a CUDA build: link an installed torch 2.11.0+cu* or create a venv with one
        #[arg(long)]
        cuda: bool,
        /// Reinstall even if the right version is already there
        #[arg(long)]
        force: bool,
        /// Python interpreter used for pip
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// Run every test of the workspace (installs libtorch first if needed)
    Test {
        /// Extra arguments for `cargo test`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Download a model (hub id, optionally @revision) into the Hugging Face cache
    FetchModel {
        #[arg(default_value = bench::BENCH_MODEL)]
        model: String,
    },
    /// Download datasets (glue/mnli, glue/stsb, snli) into the Hugging Face cache and check them
    FetchData {
        #[arg(default_values_t = ["glue/mnli".to_string(), "glue/stsb".to_string()])]
        names: Vec<String>,
    },
    /// Benchmarks against Python sentence-transformers (same machine, same threads)
    Bench {
        #[command(subcommand)]
        which: BenchKind,
    },
}

#[derive(Subcommand)]
enum BenchKind {
    /// Encode the 3,000 STS-B validation sentences (default model: all-MiniLM-L6-v2)
    Encode {
        /// Hub id or local folder of the model both sides encode with
        #[arg(long, default_value = bench::BENCH_MODEL)]
        model: String,
        /// CPU threads for both sides (default: all cores)
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Timed runs inside each side's process; its median is the round's figure
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        /// Alternating rounds (sentence-transformers, this project, … each run once per round)
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
        rounds: u64,
        /// Compute dtype of this project's side: fp32 (against sentence-transformers fp32) or
        /// bf16 (against sentence-transformers fp32 and bf16)
        #[arg(long, value_enum, default_value_t = bench::BenchDtype::Fp32)]
        dtype: bench::BenchDtype,
        /// Run both sides on CUDA device 0
        #[arg(long)]
        cuda: bool,
        /// A Python with sentence-transformers to use instead of the project's .venv-bench
        #[arg(long)]
        python: Option<String>,
    },
    /// Fine-tune all-MiniLM-L6-v2 on the book's MNLI rows with this project and with
    /// sentence-transformers: examples/s, ratio, and STS-B Spearman of both
    Train {
        /// Losses to run, each with the book's data for it
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = [bench_train::BenchLoss::Mnrl])]
        loss: Vec<bench_train::BenchLoss>,
        /// Train a cross-encoder instead (`--loss cross-encoder`): BinaryCrossEntropyLoss on
        /// STS-B train pairs against sentence-transformers' CrossEncoderTrainer
        #[arg(long, conflicts_with = "loss")]
        cross_encoder: bool,
        /// Training rows (the first N entailment pairs for mnrl, the first N rows otherwise)
        #[arg(long, default_value_t = 3200)]
        rows: usize,
        /// STS-B train pairs for `--loss multi` (the first N; default all 5,749)
        #[arg(long)]
        stsb_rows: Option<usize>,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long, default_value_t = 1)]
        epochs: u32,
        #[arg(long, default_value_t = 5e-5)]
        lr: f64,
        #[arg(long, default_value_t = 100)]
        warmup_steps: u64,
        #[arg(long, default_value_t = 0.01)]
        weight_decay: f64,
        /// Seeds, comma-separated: with several, each loss runs once per seed and a summary
        /// gives both sides' mean ± sd and the mean paired gap
        #[arg(long, value_delimiter = ',', default_values_t = [42])]
        seed: Vec<u64>,
        /// CPU threads for both sides (default: all cores)
        #[arg(long)]
        threads: Option<usize>,
        /// Train only one side (its numbers are still printed)
        #[arg(long, value_enum, default_value_t = bench_train::Sides::Both)]
        sides: bench_train::Sides,
        /// Row order: `same` (one seeded shuffle, both sides in file order) or `each`
        #[arg(long, value_enum, default_value_t = bench_train::Order::Same)]
        order: bench_train::Order,
        /// Train both sides on CUDA device 0
        #[arg(long)]
        cuda: bool,
        /// A Python with sentence-transformers to use instead of the project's .venv-bench
        #[arg(long)]
        python: Option<String>,
        /// This project's precision: fp32 (against sentence-transformers fp32) or bf16
        /// (against sentence-transformers fp32 and bf16, beside this project's fp32)
        #[arg(long, value_enum, default_value_t = bench::BenchDtype::Fp32)]
        precision: bench::BenchDtype,
        /// Alternating rounds (every side trained once per round)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        rounds: u64,
        /// Data-parallel instead of against sentence-transformers: the MNRL recipe as N
        /// processes (`train-cli train --nproc N`, gathered MNRL) of threads / N threads each,
        /// against one process of all the threads; examples/s, Spearman, the all-reduce's
        /// bytes and seconds per step, and each process's peak resident memory
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..),
              conflicts_with_all = ["cross_encoder", "sides", "python", "cuda"])]
        nproc: Option<u64>,
    },
    /// `train-cli mine` against sentence-transformers' `mine_hard_negatives` (default and
    /// use_faiss=True): MNLI anchors against a corpus of unique sentences, time and peak memory
    Mine(bench_mine::MineBench),
    /// `train-cli predict` against sentence-transformers' `CrossEncoder.predict`: a one-label
    /// cross-encoder on all-MiniLM-L6-v2 scoring MNLI pairs, pairs/s, ratio and score agreement
    Predict(bench_predict::PredictBench),
    /// Read a synthetic MNLI-shaped parquet file and build hard and soft triplets (release)
    Data {
        /// Rows of the generated file
        #[arg(long, default_value_t = 400_000)]
        rows: usize,
        /// Timed runs; the median is reported
        #[arg(long, default_value_t = 3)]
        repeats: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = project_root()?;
    match cli.command {
        Command::Setup {
            cuda,
            force,
            python,
        } => {
            let flavour = if cuda {
                setup::Flavour::Cuda
            } else {
                setup::Flavour::Cpu
            };
            setup::run(
                &root,
                &setup::SetupOptions {
                    flavour,
                    force,
                    python,
                },
            )
        }
        Command::Test { args } => test::run(&root, &args),
        Command::FetchModel { model } => fetch::fetch_model(&model),
        Command::FetchData { names } => fetch::fetch_data(&names),
        Command::Bench {
            which:
                BenchKind::Train {
                    loss,
                    cross_encoder,
                    rows,
                    stsb_rows,
                    batch_size,
                    epochs,
                    lr,
                    warmup_steps,
                    weight_decay,
                    seed,
                    threads,
                    sides,
                    order,
                    cuda,
                    python,
                    precision,
                    rounds,
                    nproc,
                },
        } => bench_train::train(
            &root,
            &bench_train::TrainBench {
                losses: if cross_encoder {
                    vec![bench_train::BenchLoss::CrossEncoder]
                } else {
                    loss
                },
                rows,
                stsb_rows,
                batch_size,
                epochs,
                learning_rate: lr,
                warmup_steps,
                weight_decay,
                seeds: seed,
                threads: threads.unwrap_or_else(bench::default_threads),
                sides,
                order,
                cuda,
                python,
                precision,
                rounds: rounds as usize,
                nproc: nproc.map(|n| n as usize),
            },
        ),
        Command::Bench {
            which: BenchKind::Mine(opts),
        } => bench_mine::mine(&root, &opts),
        Command::Bench {
            which: BenchKind::Predict(opts),
        } => bench_predict::predict(&root, &opts),
        Command::Bench {
            which: BenchKind::Data { rows, repeats },
        } => bench_data::data(&root, &bench_data::DataBench { rows, repeats }),
        Command::Bench {
            which:
                BenchKind::Encode {
                    model,
                    threads,
                    batch_size,
                    repeats,
                    rounds,
                    dtype,
                    cuda,
                    python,
                },
        } => {
            let threads = threads.unwrap_or_else(bench::default_threads);
            bench::encode(
                &root,
                &bench::EncodeBench {
                    model,
                    threads,
                    batch_size,
                    repeats,
                    rounds: rounds as usize,
                    dtype,
                    cuda,
                    python,
                },
            )
        }
    }
}

fn project_root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().context("xtask has no parent folder")?;
    root.canonicalize()
        .with_context(|| format!("resolving {}", root.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `cargo xtask` command the README shows parses (running them is the benches' and
    /// CI's job): a renamed flag or subcommand fails here, not in a user's terminal.
    #[test]
    fn every_readme_example_parses() {
        let readme = std::fs::read_to_string(project_root().unwrap().join("README.md")).unwrap();
        let commands = test_support::markdown_commands(&readme, "cargo xtask");
        assert!(commands.len() >= 7, "found only {commands:?}");
        for args in commands {
            // `--threads N`: a number stands where the README writes N.
            let concrete = args
                .iter()
                .map(|a| if a == "N" { "2".into() } else { a.clone() });
            let argv = std::iter::once("xtask".to_string()).chain(concrete);
            if let Err(err) = Cli::try_parse_from(argv) {
                panic!(
                    "README example `cargo xtask {}` does not parse:\n{err}",
                    args.join(" ")
                );
            }
        }
    }
}
