//! `train-cli`: train, encode and evaluate sentence embedding models, and score pairs with
//! cross-encoders (`predict`, `rank`). Without a subcommand it
//! trains (`train-cli --epochs 1` runs configs/default.toml). Models are hub ids (downloaded
//! into the Hugging Face cache) or local folders.

mod allocator;
mod encode;
mod eval;
mod eval_cross_encoder;
mod launch;
mod load;
mod mine;
mod predict;
mod rank;
mod search;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "train-cli",
    version,
    about = "Sentence embedding models on libtorch: train, encode and evaluate",
    long_about = "Sentence embedding models on libtorch: train, encode and evaluate.\n\n\
        Without a subcommand, trains: `train-cli --epochs 1` runs the built-in default config \
        (configs/default.toml); `train-cli --config configs/book-mnrl.toml` runs another.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: train::TrainArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model from a TOML config (the default when no subcommand is given)
    Train(Box<train::TrainArgs>),
    /// Embed every line of a text file (or a parquet column) and write .npy or .parquet
    Encode(encode::EncodeArgs),
    /// Score a model: STS, retrieval, binary classification, triplets or paraphrase mining
    Eval(eval::EvalArgs),
    /// Mine hard negatives for (anchor, positive) pairs into a training dataset
    Mine(Box<mine::MineArgs>),
    /// Semantic search: embed a corpus into an index folder (quantized, optionally with an
    /// HNSW graph), query it, compare results
    Search(search::SearchArgs),
    /// Score text pairs with a cross-encoder (reranker) into an array or a dataset
    Predict(Box<predict::PredictArgs>),
    /// Rerank documents for a query, or each query's candidates, with a cross-encoder
    Rank(Box<rank::RankArgs>),
}

fn main() {
    allocator::tune_for_tensors();
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
        Some(Command::Train(args)) => train::run(&args),
        Some(Command::Encode(args)) => encode::run(&args),
        Some(Command::Eval(args)) => eval::run(&args),
        Some(Command::Mine(args)) => mine::run(&args),
        Some(Command::Search(args)) => search::run(&args),
        Some(Command::Predict(args)) => predict::run(&args),
        Some(Command::Rank(args)) => rank::run(&args),
        None => train::run(&cli.train),
    }
}
