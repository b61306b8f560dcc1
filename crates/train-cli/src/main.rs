//! `train-cli`: encode texts and evaluate sentence embedding models (training arrives with
//! the trainer). Models are hub ids (downloaded into the Hugging Face cache) or local folders.

mod encode;
mod eval;
mod load;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "train-cli",
    version,
    about = "Sentence embedding models on libtorch: encode and evaluate"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed every line of a text file (or a parquet column) and write .npy or .parquet
    Encode(encode::EncodeArgs),
    /// Score a model on an STS dataset: Pearson/Spearman of cosine, euclidean, manhattan, dot
    Eval(eval::EvalArgs),
}

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = run(Cli::parse()) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Encode(args) => encode::run(&args),
        Command::Eval(args) => eval::run(&args),
    }
}
