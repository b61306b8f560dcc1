//! `train-cli encode`: texts in, embeddings out.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use model::EncodeOptions;

use crate::load::ModelArgs;

#[derive(Args, Debug)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A text file with one sentence per line, or a .parquet file (with --column)
    #[arg(long, short)]
    pub input: PathBuf,
    /// Text column of a parquet input
    #[arg(long)]
    pub column: Option<String>,
    /// Where to write: .npy (float32 [n, dim]) or .parquet (columns text, embedding)
    #[arg(long, short)]
    pub output: PathBuf,
    /// L2-normalise the embeddings (even if the model has no Normalize module)
    #[arg(long)]
    pub normalize: bool,
    /// Hide the progress bar
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Clone, Copy)]
enum OutputFormat {
    Npy,
    Parquet,
}

pub fn run(args: &EncodeArgs) -> Result<()> {
    // Check the cheap things before loading a model.
    let format = output_format(&args.output)?;
    let texts = read_texts(&args.input, args.column.as_deref())?;
    let model = args.model.load()?;
    let options = EncodeOptions {
        batch_size: args.model.batch_size as usize,
        normalize: args.normalize,
        show_progress: !args.quiet,
    };
    let start = std::time::Instant::now();
    let embeddings = model.encode(&texts, &options).context("encoding")?;
    let seconds = start.elapsed().as_secs_f64();
    match format {
        OutputFormat::Npy => data::write_npy_f32(
            &args.output,
            &embeddings.data,
            embeddings.rows,
            embeddings.dim,
        )?,
        OutputFormat::Parquet => {
            data::write_embeddings_parquet(&args.output, &texts, &embeddings.data, embeddings.dim)?
        }
    }
    eprintln!(
        "encoded {} texts into [{}, {}] in {seconds:.2} s ({:.0} texts/s), wrote {}",
        embeddings.rows,
        embeddings.rows,
        embeddings.dim,
        embeddings.rows as f64 / seconds.max(1e-9),
        args.output.display()
    );
    Ok(())
}

fn output_format(path: &Path) -> Result<OutputFormat> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => Ok(OutputFormat::Npy),
        Some("parquet") => Ok(OutputFormat::Parquet),
        _ => bail!("output {} must end in .npy or .parquet", path.display()),
    }
}

fn read_texts(input: &Path, column: Option<&str>) -> Result<Vec<String>> {
    let is_parquet = input.extension().is_some_and(|e| e == "parquet");
    let texts = match (is_parquet, column) {
        (true, Some(column)) => data::read_text_column(input, column)?,
        (true, None) => bail!(
            "{} is a parquet file: name its text column with --column",
            input.display()
        ),
        (false, Some(_)) => bail!(
            "--column applies to parquet input only, {} is read as text lines",
            input.display()
        ),
        (false, None) => data::read_lines(input)?,
    };
    Ok(texts)
}
