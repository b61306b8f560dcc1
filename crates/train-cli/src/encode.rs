//! `train-cli encode`: texts in, embeddings out. Under a launcher (`--nproc N`, torchrun or
//! any that sets `RANK`/`WORLD_SIZE`), each rank encodes its contiguous shard of the texts,
//! the float32 rows are gathered in rank order (input order), and rank 0 alone quantizes and
//! writes them as one process would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use model::{DeviceChoice, EncodeOptions, PromptChoice, SentenceTransformer};
use tch::Tensor;
use trainer::distributed::{Backend, Distributed, LaunchEnv, DEFAULT_TIMEOUT};

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
    /// Encode as N processes on this machine, each its share of the texts (one output, as one
    /// process writes). Under torchrun or another launcher that sets RANK, leave it out
    #[arg(long, value_name = "N")]
    pub nproc: Option<usize>,
    /// Under a launcher: seconds a rank waits for the others (to join, to gather) before
    /// failing
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = DEFAULT_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub ddp_timeout: u64,
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
    // Check the cheap things before loading a model (or starting ranks).
    args.model.check()?;
    let format = output_format(&args.output)?;
    refuse_input_as_output(&args.input, &args.output)?;
    if let Some(nproc) = args.nproc {
        check_output_folder(&args.output)?;
        read_ranges(args)?;
        return crate::launch::run(nproc);
    }
    let mut dist = match LaunchEnv::from_env()? {
        None => None,
        Some(env) => Some(
            // The embeddings are gathered on the CPU, where encode hands them back.
            Distributed::join(env, Duration::from_secs(args.ddp_timeout), Backend::Gloo)
                .context("joining the distributed encode")?,
        ),
    };
    let main = dist.as_ref().is_none_or(Distributed::is_main);
    // Every rank prepares (rank 0 alone checks where it writes); if one fails, all stop
    // before encoding, each with its own error or one naming the failure elsewhere.
    let prepared = prepare(args, dist.as_ref().map(Distributed::env), main);
    let prepared = match dist.as_mut() {
        Some(dist) => agree(dist, prepared)?,
        None => prepared?,
    };
    let Prepared {
        texts,
        model,
        given_ranges,
    } = prepared;
    let options = EncodeOptions {
        batch_size: args.model.runtime.batch_size as usize,
        normalize: args.normalize,
        show_progress: !args.quiet && main,
        prompt: args.prompt_choice(),
    };
    let start = std::time::Instant::now();
    let embeddings = match dist.as_ref() {
        None => model.encode(&texts, &options).context("encoding")?,
        Some(dist) => encode_shard(dist, &model, &texts, &options)?,
    };
    let seconds = start.elapsed().as_secs_f64();
    if !main {
        return Ok(());
    }
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
        "encoded {} texts into [{}, {}] {} in {seconds:.2} s ({:.0} texts/s, computed in {}{}), \
         wrote {}",
        embeddings.rows,
        embeddings.rows,
        width,
        args.precision,
        embeddings.rows as f64 / seconds.max(1e-9),
        model.dtype(),
        dist.as_ref()
            .map(|d| format!(" by {} processes", d.world_size()))
            .unwrap_or_default(),
        args.output.display()
    );
    Ok(())
}

/// What every rank reads and loads before encoding.
struct Prepared {
    texts: Vec<String>,
    model: SentenceTransformer,
    given_ranges: Option<eval::QuantizationRanges>,
}

/// Reads the texts and the ranges and loads the model (on `cuda:LOCAL_RANK` for `--device
/// auto` under a launcher on a machine with several GPUs); `main` also checks the folder it
/// will write to. Under a launcher without `--threads`, each rank takes its share of the
/// cores.
fn prepare(args: &EncodeArgs, launch: Option<&LaunchEnv>, main: bool) -> Result<Prepared> {
    if main {
        check_output_folder(&args.output)?;
    }
    let given_ranges = read_ranges(args)?;
    let texts = read_texts(&args.input, args.column.as_deref())?;
    let mut model_args = args.model.clone();
    if let Some(env) = launch {
        if model_args.runtime.threads.is_none() {
            // As train: torchrun's OMP_NUM_THREADS=1 wastes a CPU-only machine's cores.
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            tch::set_num_threads((cores / env.local_world_size).max(1) as i32);
        }
        let gpus = tch::Cuda::device_count();
        if model_args.runtime.device == DeviceChoice::Auto && tch::Cuda::is_available() && gpus > 1
        {
            model_args.runtime.device = DeviceChoice::Cuda(env.local_rank % gpus as usize);
        }
    }
    let model = model_args.load()?;
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
    // An unknown name fails here, before any work, naming the known ones.
    model
        .prompts()
        .resolve(&args.prompt_choice())
        .context("choosing the prompt")?;
    Ok(Prepared {
        texts,
        model,
        given_ranges,
    })
}

/// `mine`, unless some rank failed: then every rank stops, those that failed with their own
/// error, the others with one saying where to look.
fn agree<T>(dist: &mut Distributed, mine: Result<T>) -> Result<T> {
    let failed = f64::from(u8::from(mine.is_err()));
    let total = dist
        .sum(&[failed])
        .context("checking that every rank is ready to encode")?;
    let mine = mine?;
    if total[0] > 0.0 {
        bail!(
            "{} other rank(s) failed before encoding (see their errors); stopping",
            total[0] as usize
        );
    }
    Ok(mine)
}

/// This rank's shard of `texts` encoded, and every rank's rows gathered in rank order: the
/// embeddings of all `texts`, in input order, on every rank.
fn encode_shard(
    dist: &Distributed,
    model: &SentenceTransformer,
    texts: &[String],
    options: &EncodeOptions,
) -> Result<model::EmbeddingMatrix> {
    // The texts of this rank: the split data-parallel training gives each batch.
    let range = data::shard_range(texts.len(), dist.rank(), dist.world_size())?;
    let shard = model
        .encode(&texts[range.clone()], options)
        .with_context(|| {
            format!(
                "encoding texts {}..{} (rank {} of {})",
                range.start,
                range.end,
                dist.rank(),
                dist.world_size()
            )
        })?;
    let dim = shard.dim;
    if texts.is_empty() {
        // Every rank knows: nothing to gather.
        return Ok(shard);
    }
    let rows = Tensor::from_slice(&shard.data).view([shard.rows as i64, dim as i64]);
    let gathered = dist
        .all_gather_rows(&rows)
        .context("gathering the embeddings of every rank")?;
    let count = gathered.size().first().copied().unwrap_or(0) as usize;
    if count != texts.len() {
        bail!(
            "gathered {count} embeddings from {} ranks for {} texts: the ranks read different \
             inputs",
            dist.world_size(),
            texts.len()
        );
    }
    let data = Vec::<f32>::try_from(gathered.contiguous().view(-1))
        .context("reading the gathered embeddings")?;
    Ok(model::EmbeddingMatrix {
        data,
        rows: count,
        dim,
    })
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

#[cfg(test)]
mod tests {

    #[test]
    fn shards_follow_the_training_split_rule() {
        for len in 0..12 {
            for world in 1..6 {
                let indices: Vec<usize> = (0..len).collect();
                let batch = data::ScheduledBatch {
                    dataset: 0,
                    indices: indices.clone(),
                };
                let mut next = 0;
                for rank in 0..world {
                    let range = data::shard_range(len, rank, world).unwrap();
                    assert_eq!(range.start, next, "len {len}, world {world}, rank {rank}");
                    assert_eq!(&indices[range.clone()], batch.shard(rank, world).unwrap());
                    next = range.end;
                }
                assert_eq!(next, len);
            }
        }
    }
}
