//! `train-cli encode`: texts in, embeddings out.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use model::{EncodeOptions, PromptChoice};

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
    /// Prepend the model's prompt of this name (config_sentence_transformers.json's `prompts`)
    /// to every text; without --prompt-name or --prompt, the model's `default_prompt_name`
    /// applies, as in sentence-transformers
    #[arg(long, conflicts_with = "prompt")]
    pub prompt_name: Option<String>,
    /// Prepend this text to every text (an empty one: no prompt, not even the default)
    #[arg(long)]
    pub prompt: Option<String>,
    /// Quantize as sentence-transformers' quantize_embeddings: float32, int8 or uint8 (each
    /// dimension's [min, max] cut into 256 buckets) or binary/ubinary (sign bits, 8 a byte);
    /// the output holds that type. int8/uint8 without --ranges also write the ranges they
    /// used to OUTPUT's name with .ranges.npy, for quantizing queries alike later
    #[arg(long, default_value = "float32")]
    pub precision: eval::Precision,
    /// int8/uint8: compute the ranges from these float32 embeddings (.npy [n, dim]) instead
    /// of the encoded ones
    #[arg(long, conflicts_with = "ranges")]
    pub calibration: Option<PathBuf>,
    /// int8/uint8: use these ranges (.npy [2, dim]: the minima, then the maxima)
    #[arg(long)]
    pub ranges: Option<PathBuf>,
}

impl EncodeArgs {
    fn prompt_choice(&self) -> PromptChoice {
        match (&self.prompt_name, &self.prompt) {
            (Some(name), _) => PromptChoice::Name(name.clone()),
            (None, Some(text)) => PromptChoice::Text(text.clone()),
            (None, None) => PromptChoice::Default,
        }
    }
}

#[derive(Clone, Copy)]
enum OutputFormat {
    Npy,
    Parquet,
}

pub fn run(args: &EncodeArgs) -> Result<()> {
    // Check the cheap things before loading a model.
    args.model.check()?;
    let format = output_format(&args.output)?;
    refuse_input_as_output(&args.input, &args.output)?;
    check_output_folder(&args.output)?;
    let given_ranges = read_ranges(args)?;
    let texts = read_texts(&args.input, args.column.as_deref())?;
    let model = args.model.load()?;
    if let Some(ranges) = &given_ranges {
        let dim = model.embedding_dimension();
        if ranges.dim() as i64 != dim {
            let file = args.ranges.as_ref().or(args.calibration.as_ref());
            bail!(
                "{} is {} values wide but {} embeds into {dim}: give ranges or calibration \
                 embeddings of this model",
                file.map(|p| p.display().to_string()).unwrap_or_default(),
                ranges.dim(),
                args.model.model
            );
        }
    }
    let options = EncodeOptions {
        batch_size: args.model.runtime.batch_size as usize,
        normalize: args.normalize,
        show_progress: !args.quiet,
        prompt: args.prompt_choice(),
    };
    // An unknown name fails here, before any work, naming the known ones.
    model
        .prompts()
        .resolve(&options.prompt)
        .context("choosing the prompt")?;
    let start = std::time::Instant::now();
    let embeddings = model.encode(&texts, &options).context("encoding")?;
    let seconds = start.elapsed().as_secs_f64();
    let matrix = eval::Embeddings::new(&embeddings.data, embeddings.rows, embeddings.dim)?;
    let computed_ranges = match (&given_ranges, args.precision.uses_ranges()) {
        (None, true) => Some(
            eval::QuantizationRanges::from_embeddings(matrix)
                .context("computing int8/uint8 ranges from the encoded embeddings")?,
        ),
        _ => None,
    };
    let ranges = given_ranges.as_ref().or(computed_ranges.as_ref());
    let quantized = eval::quantize_embeddings(matrix, args.precision, ranges)
        .with_context(|| format!("quantizing to {}", args.precision))?;
    let width = quantized.quantized_dim();
    let values = match quantized.values() {
        eval::QuantizedValues::Float32(v) => data::MatrixValues::F32(v),
        eval::QuantizedValues::Int8(v) | eval::QuantizedValues::Binary(v) => {
            data::MatrixValues::I8(v)
        }
        eval::QuantizedValues::Uint8(v) | eval::QuantizedValues::Ubinary(v) => {
            data::MatrixValues::U8(v)
        }
    };
    // The ranges first: embeddings never appear without the ranges that decode them.
    if let Some(ranges) = &computed_ranges {
        let path = ranges_path(&args.output);
        let both = [ranges.min(), ranges.max()].concat();
        data::write_npy_f32(&path, &both, 2, ranges.dim())?;
        eprintln!("wrote the {} ranges to {}", args.precision, path.display());
    }
    match format {
        OutputFormat::Npy => data::write_npy(&args.output, values, embeddings.rows, width)?,
        OutputFormat::Parquet => {
            data::write_embeddings_parquet_as(&args.output, &texts, values, width)?
        }
    }
    eprintln!(
        "encoded {} texts into [{}, {}] {} in {seconds:.2} s ({:.0} texts/s, computed in {}), \
         wrote {}",
        embeddings.rows,
        embeddings.rows,
        width,
        args.precision,
        embeddings.rows as f64 / seconds.max(1e-9),
        model.dtype(),
        args.output.display()
    );
    Ok(())
}

/// `OUTPUT`'s name with `.ranges.npy` for its extension: `emb.npy` → `emb.ranges.npy`.
fn ranges_path(output: &Path) -> PathBuf {
    output.with_extension("ranges.npy")
}

/// The int8/uint8 ranges `--ranges` gives or `--calibration` implies, read before any model
/// loads; both are refused with another precision.
fn read_ranges(args: &EncodeArgs) -> Result<Option<eval::QuantizationRanges>> {
    let flag = match (&args.ranges, &args.calibration) {
        (Some(_), _) => "--ranges",
        (None, Some(_)) => "--calibration",
        (None, None) => return Ok(None),
    };
    if !args.precision.uses_ranges() {
        bail!(
            "{flag} applies to --precision int8 or uint8, not {}",
            args.precision
        );
    }
    ranges_from_files(args.ranges.as_deref(), args.calibration.as_deref())
}

/// The int8/uint8 ranges a `--ranges` file ([2, dim]: minima, then maxima) gives, or those of
/// the float32 embeddings of a `--calibration` file; `None` when neither is named.
pub(crate) fn ranges_from_files(
    ranges: Option<&Path>,
    calibration: Option<&Path>,
) -> Result<Option<eval::QuantizationRanges>> {
    if let Some(path) = ranges {
        let (values, rows, dim) = data::read_npy_f32(path)?;
        if rows != 2 {
            bail!(
                "--ranges {} holds [{rows}, {dim}]; ranges are [2, dim]: the minima, then the \
                 maxima",
                path.display()
            );
        }
        let (min, max) = values.split_at(dim);
        let ranges = eval::QuantizationRanges::new(min.to_vec(), max.to_vec())
            .with_context(|| format!("--ranges {}", path.display()))?;
        return Ok(Some(ranges));
    }
    if let Some(path) = calibration {
        let (values, rows, dim) = data::read_npy_f32(path)?;
        let matrix = eval::Embeddings::new(&values, rows, dim)?;
        let ranges = eval::QuantizationRanges::from_embeddings(matrix)
            .with_context(|| format!("--calibration {}", path.display()))?;
        return Ok(Some(ranges));
    }
    Ok(None)
}

fn output_format(path: &Path) -> Result<OutputFormat> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => Ok(OutputFormat::Npy),
        Some("parquet") => Ok(OutputFormat::Parquet),
        _ => bail!("output {} must end in .npy or .parquet", path.display()),
    }
}

/// Writing over the input would destroy it (the writers replace the file): refused when both
/// paths lead to one file, through `..`, a symlink or a hard link alike.
fn refuse_input_as_output(input: &Path, output: &Path) -> Result<()> {
    if same_file(input, output) {
        bail!(
            "--output {} is the same file as --input {}; writing the embeddings would destroy \
             the input: choose another --output",
            output.display(),
            input.display()
        );
    }
    if output.is_dir() {
        bail!(
            "--output {} is a folder; name a file in it",
            output.display()
        );
    }
    Ok(())
}

/// Whether `a` and `b` are one file: the same canonical path, or (hard links) the same
/// device and inode. False when either does not exist.
fn same_file(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    canonical(a).is_some_and(|x| Some(x) == canonical(b)) || same_inode(a, b)
}

#[cfg(unix)]
fn same_inode(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_a: &Path, _b: &Path) -> bool {
    false
}

/// The folder of `--output` must exist and take a new file before any encoding starts (the
/// writers put the embeddings into a temporary file there and rename it into place, so a
/// failure never leaves half a file).
pub(crate) fn check_output_folder(output: &Path) -> Result<()> {
    let folder = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        bail!(
            "the folder of --output {}, {}, does not exist",
            output.display(),
            folder.display()
        );
    }
    tempfile::Builder::new()
        .prefix(".train-cli-write-check")
        .tempfile_in(folder)
        .with_context(|| {
            format!(
                "the folder of --output {}, {}, is not writable",
                output.display(),
                folder.display()
            )
        })?;
    Ok(())
}

pub(crate) fn read_texts(input: &Path, column: Option<&str>) -> Result<Vec<String>> {
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
