//! Project automation: `cargo xtask <command>`. Never links libtorch, so it builds on a fresh
//! machine before `setup` has run.

mod setup;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Set-up, downloads and benchmarks for this workspace")]
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
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = project_root()?;
    match cli.command {
        Command::Setup { cuda, force, python } => {
            let flavour = if cuda { setup::Flavour::Cuda } else { setup::Flavour::Cpu };
            setup::run(&root, &setup::SetupOptions { flavour, force, python })
        }
    }
}

fn project_root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().context("xtask has no parent folder")?;
    root.canonicalize().with_context(|| format!("resolving {}", root.display()))
}
