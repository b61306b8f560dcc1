//! `train-cli search`: semantic search over an index folder, at sentence-transformers 6.3's
//! `semantic_search_usearch` semantics. `index` embeds a corpus into a folder (embeddings at a
//! precision, documents, int8/uint8 ranges, an optional HNSW graph, a manifest) or appends to
//! one; `query` embeds queries as the manifest says and searches; `recall` compares two result
//! files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use eval::Precision;
use model::{PromptChoice, SentenceTransformer};
use retrieval::search::{
    documents_from_texts, load_index, search, Corpus, Document, DocumentId, HnswGraph, HnswParams,
    IndexContents, IndexSpec, IndexWriter, Manifest, ModelRef, SearchMethod, SearchOptions,
    SearchResults,
};
use retrieval::{embed_texts, EmbedOptions, Role};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encode::{check_output_folder, ranges_from_files, read_texts};
use crate::load::{ModelArgs, RuntimeArgs};

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(subcommand)]
    pub command: SearchCommand,
}

#[derive(Subcommand, Debug)]
pub enum SearchCommand {
    /// Embed a corpus into an index folder, or add documents to one (--append)
    Index(Box<IndexArgs>),
    /// Search an index folder: a table, JSON lines, or a .jsonl/.parquet file
    Query(Box<QueryArgs>),
    /// recall@k of a results file against a reference one (e.g. int8 or HNSW against exact
    /// float32), both written by `search query --output X.jsonl` for the same queries
    Recall(RecallArgs),
}

#[derive(Args, Debug)]
pub struct IndexArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The documents: a text file, one a line (ids: line numbers counted from 0), or a
    /// .parquet file with --column
    #[arg(long)]
    pub corpus: PathBuf,
    /// Text column of a parquet --corpus
    #[arg(long)]
    pub column: Option<String>,
    /// Id column (text) of a parquet --corpus; default ids are row numbers
    #[arg(long)]
    pub id_column: Option<String>,
    /// The index folder: new or empty, or with --append an index
    #[arg(long)]
    pub index: PathBuf,
    /// Store the embeddings as float32 (default), int8 or uint8 (each dimension's [min, max]
    /// in 256 buckets, the ranges kept in the index) or binary/ubinary (sign bits); with
    /// --append it must be the index's
    #[arg(long)]
    pub precision: Option<Precision>,
    /// binary/ubinary: also store an int8 or uint8 copy of the embeddings and rescore
    /// candidates from it (dequantized with its ranges) rather than from their bits, as
    /// Hugging Face's embedding-quantization demo does. Default none: sentence-transformers'
    /// bit rescoring. With --append it must be the index's
    #[arg(long)]
    pub rescore_precision: Option<RescorePrecision>,
    /// int8/uint8 (or the --rescore-precision copy): compute the ranges from these float32
    /// embeddings (.npy [n, dim]) instead of the corpus'
    #[arg(long, conflicts_with = "ranges")]
    pub calibration: Option<PathBuf>,
    /// int8/uint8 (or the --rescore-precision copy): use these ranges (.npy [2, dim]: the
    /// minima, then the maxima)
    #[arg(long)]
    pub ranges: Option<PathBuf>,
    /// The documents' prompt, by name (default: the model's `document`, `passage` or `corpus`
    /// prompt, as encode_document picks it)
    #[arg(long, conflicts_with = "prompt")]
    pub prompt_name: Option<String>,
    /// The documents' prompt text (an empty one: none)
    #[arg(long)]
    pub prompt: Option<String>,
    /// The queries' prompt, by name (default: the model's `query` prompt); recorded in the
    /// manifest for `search query`
    #[arg(long, conflicts_with = "query_prompt")]
    pub query_prompt_name: Option<String>,
    /// The queries' prompt text
    #[arg(long)]
    pub query_prompt: Option<String>,
    /// Also build an HNSW graph (usearch) for approximate search: float32, int8, binary or
    /// ubinary. With --append to an index without one, built over every document
    #[arg(long)]
    pub hnsw: bool,
    /// HNSW edges per node [default: 16, usearch's]
    #[arg(long, requires = "hnsw")]
    pub connectivity: Option<usize>,
    /// HNSW candidates per insertion [default: 128, usearch's]
    #[arg(long, requires = "hnsw")]
    pub expansion_add: Option<usize>,
    /// HNSW candidates per search, saved as the index's default [default: 128; usearch's is 64]
    #[arg(long, requires = "hnsw")]
    pub expansion_search: Option<usize>,
    /// Add the documents to the index in --index: embedded with its model and prompt,
    /// quantized with its ranges, ids continued, its graph extended
    #[arg(long)]
    pub append: bool,
    /// Hide the progress bar
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The model; default the manifest's (at its revision). When given it must be the model
    /// and revision that built the index
    #[arg(long, short)]
    pub model: Option<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// The index folder
    #[arg(long)]
    pub index: PathBuf,
    /// A query (repeat for more; all are embedded and searched in batches)
    #[arg(
        long,
        short,
        required_unless_present = "queries",
        conflicts_with = "queries"
    )]
    pub query: Vec<String>,
    /// Queries from a text file, one a line, or a .parquet file with --queries-column
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Text column of a parquet --queries
    #[arg(long, requires = "queries")]
    pub queries_column: Option<String>,
    /// Results per query
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub top_k: u64,
    /// Rescoring fetches top-k × this many candidates
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub rescore_multiplier: u64,
    /// Keep the first stage's scores: no rescoring of quantized candidates with the float query
    /// (a binary index's int8/uint8 rescore store, if any, is not used)
    #[arg(long)]
    pub no_rescore: bool,
    /// Score every document, even when the index has an HNSW graph
    #[arg(long, conflicts_with = "hnsw")]
    pub exact: bool,
    /// Search the HNSW graph (the default when the index has one)
    #[arg(long)]
    pub hnsw: bool,
    /// HNSW candidates per search (default: the index's)
    #[arg(long, conflicts_with = "exact")]
    pub expansion_search: Option<usize>,
    /// Must be the index's precision (a check; queries are always quantized as the corpus)
    #[arg(long)]
    pub precision: Option<Precision>,
    /// Write the results to a .jsonl (one object per query, as --format jsonl) or .parquet
    /// file (columns query, ids, scores, texts) instead of stdout
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// What stdout shows: a table (rank, score, id, text) or JSON lines
    #[arg(long, default_value = "table")]
    pub format: ResultFormat,
    /// Hide the progress bar
    #[arg(long)]
    pub quiet: bool,
}

/// What a binary/ubinary index rescores its candidates from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RescorePrecision {
    /// Their bits, as sentence-transformers does
    None,
    /// A stored int8 copy of the corpus
    Int8,
    /// A stored uint8 copy of the corpus
    Uint8,
}

impl RescorePrecision {
    /// The stored copy's precision, if any.
    fn store(self) -> Option<Precision> {
        match self {
            RescorePrecision::None => None,
            RescorePrecision::Int8 => Some(Precision::Int8),
            RescorePrecision::Uint8 => Some(Precision::Uint8),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultFormat {
    Table,
    Jsonl,
}

#[derive(Args, Debug)]
pub struct RecallArgs {
    /// The results to score (.jsonl from `search query --output`)
    #[arg(long)]
    pub results: PathBuf,
    /// The reference results for the same queries in the same order (.jsonl)
    #[arg(long)]
    pub reference: PathBuf,
    /// Hits compared per query (default: as many as the reference has)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub k: Option<u64>,
}

pub fn run(args: &SearchArgs) -> Result<()> {
    match &args.command {
        SearchCommand::Index(args) => run_index(args),
        SearchCommand::Query(args) => run_query(args),
        SearchCommand::Recall(args) => run_recall(args),
    }
}

/// One query's results, as `--format jsonl` prints them and `--output X.jsonl` writes them.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct QueryResult {
    pub(crate) query: String,
    pub(crate) hits: Vec<HitOut>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HitOut {
    pub(crate) id: DocumentId,
    pub(crate) score: f64,
    pub(crate) text: String,
}

fn run_index(args: &IndexArgs) -> Result<()> {
    // Everything cheap first: flags, the corpus, the ranges file, the folder.
    args.model.check()?;
    let (texts, ids) = read_corpus(args)?;
    let given_ranges = ranges_from_files(args.ranges.as_deref(), args.calibration.as_deref())?;
    let threads = args
        .model
        .runtime
        .threads
        .map(|t| t as usize)
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    if args.append {
        return run_append(args, texts, ids, threads);
    }
    let precision = args.precision.unwrap_or(Precision::Float32);
    let store = args.rescore_precision.and_then(RescorePrecision::store);
    if store.is_some() && !matches!(precision, Precision::Binary | Precision::Ubinary) {
        bail!(
            "--rescore-precision applies to --precision binary or ubinary, not {precision}: \
             other indexes are rescored from their own embeddings"
        );
    }
    if given_ranges.is_some() && !precision.uses_ranges() && store.is_none() {
        bail!(
            "--ranges and --calibration apply to --precision int8 or uint8 (or binary and \
             ubinary with --rescore-precision), not {precision}"
        );
    }
    let params = hnsw_params(args);
    if let Some(params) = &params {
        params.check(precision).context("--hnsw")?;
    }
    let writer = IndexWriter::create(&args.index)?;
    let (model_ref, dir) = model_ref(&args.model.model)?;
    let model = load_from(&dir, &args.model)?;
    let dim = model.embedding_dimension() as usize;
    if let Some(ranges) = &given_ranges {
        if ranges.dim() != dim {
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
    let document_prompt = prompt_text(
        &model,
        &args.prompt_name,
        &args.prompt,
        Role::Document,
        "--prompt-name",
    )?;
    let query_prompt = prompt_text(
        &model,
        &args.query_prompt_name,
        &args.query_prompt,
        Role::Query,
        "--query-prompt-name",
    )?;
    let start = Instant::now();
    let embeddings = embed(&model, &texts, Role::Document, &document_prompt, args)?;
    let corpus = match store {
        None => Corpus::quantize_from(embeddings.view()?, precision, given_ranges)?,
        Some(store) => {
            Corpus::quantize_from(embeddings.view()?, precision, None)?.with_rescore_store(
                Corpus::quantize_from(embeddings.view()?, store, given_ranges)?,
            )?
        }
    };
    let graph = match params {
        Some(params) => Some(HnswGraph::build(&corpus, params, threads)?),
        None => None,
    };
    let documents = documents_from_texts(texts, ids, 0)?;
    let spec = IndexSpec {
        model: model_ref,
        query_prompt,
        document_prompt,
    };
    let index = writer.write_new(spec, corpus, documents, graph)?;
    report_index(&args.index, &index, "indexed", start);
    Ok(())
}

fn run_append(
    args: &IndexArgs,
    texts: Vec<String>,
    ids: Option<Vec<String>>,
    threads: usize,
) -> Result<()> {
    if args.ranges.is_some() || args.calibration.is_some() {
        bail!("--append quantizes with the index's own ranges: --ranges and --calibration cannot be given");
    }
    let writer = IndexWriter::open(&args.index)?;
    let index = writer.load()?;
    let manifest = &index.manifest;
    if let Some(precision) = args.precision {
        manifest.check_precision(&args.index, precision)?;
    }
    if let Some(given) = args.rescore_precision {
        if given.store() != manifest.rescore_precision {
            bail!(
                "--rescore-precision {}: the index {} has {}; --append keeps the index's \
                 rescore store",
                given
                    .to_possible_value()
                    .map_or_else(String::new, |v| v.get_name().to_string()),
                args.index.display(),
                manifest
                    .rescore_precision
                    .map_or_else(|| "none".to_string(), |p| p.to_string())
            );
        }
    }
    let build_graph = match (&index.graph, hnsw_params(args)) {
        (Some(graph), _) if has_graph_flags(args) => bail!(
            "the index's graph keeps its parameters ({:?}): give --connectivity, \
             --expansion-add and --expansion-search only when a graph is built",
            graph.params()
        ),
        (None, Some(params)) => {
            params.check(manifest.precision).context("--hnsw")?;
            Some(params)
        }
        _ => None,
    };
    let (model_ref, dir) = model_ref(&args.model.model)?;
    manifest.check_model(&args.index, &model_ref)?;
    let model = load_from(&dir, &args.model)?;
    manifest.check_dim(
        &args.index,
        &args.model.model,
        model.embedding_dimension() as usize,
    )?;
    for (name, text, given, role) in [
        (
            "--prompt",
            &manifest.document_prompt,
            (&args.prompt_name, &args.prompt),
            Role::Document,
        ),
        (
            "--query-prompt",
            &manifest.query_prompt,
            (&args.query_prompt_name, &args.query_prompt),
            Role::Query,
        ),
    ] {
        if given.0.is_some() || given.1.is_some() {
            let resolved = prompt_text(&model, given.0, given.1, role, name)?;
            if &resolved != text {
                bail!(
                    "{name}: the index embeds with the prompt {text:?}, not {resolved:?}; \
                     --append keeps the index's prompts"
                );
            }
        }
    }
    let start = Instant::now();
    let prompt = manifest.document_prompt.clone();
    let embeddings = embed(&model, &texts, Role::Document, &prompt, args)?;
    let documents = documents_from_texts(texts, ids, index.corpus.rows())?;
    let index = writer.append(index, embeddings.view()?, documents, build_graph, threads)?;
    report_index(&args.index, &index, "appended to", start);
    Ok(())
}

fn has_graph_flags(args: &IndexArgs) -> bool {
    args.connectivity.is_some() || args.expansion_add.is_some() || args.expansion_search.is_some()
}

/// The graph parameters `--hnsw` asks for, usearch's defaults where not given.
fn hnsw_params(args: &IndexArgs) -> Option<HnswParams> {
    let defaults = HnswParams::default();
    args.hnsw.then(|| HnswParams {
        connectivity: args.connectivity.unwrap_or(defaults.connectivity),
        expansion_add: args.expansion_add.unwrap_or(defaults.expansion_add),
        expansion_search: args.expansion_search.unwrap_or(defaults.expansion_search),
    })
}

fn report_index(dir: &Path, index: &IndexContents, what: &str, start: Instant) {
    let m = &index.manifest;
    let size = |f: Option<&retrieval::search::DataFile>| f.map_or(0, |f| f.bytes);
    let total: u64 = m.files.iter().map(|(_, f)| f.bytes).sum();
    let store = match m.rescore_precision {
        Some(p) => format!(
            ", {p} rescore store {} bytes",
            size(m.files.rescore_embeddings.as_ref()) + size(m.files.rescore_ranges.as_ref())
        ),
        None => String::new(),
    };
    eprintln!(
        "{what} {} ({} documents, {} of dim {}) in {:.1} s: embeddings {} bytes, documents {} \
         bytes, hnsw {} bytes{store}, {} bytes in all",
        dir.display(),
        m.rows,
        m.precision,
        m.dim,
        start.elapsed().as_secs_f64(),
        m.files.embeddings.bytes,
        m.files.documents.bytes,
        size(m.files.hnsw.as_ref()),
        total
    );
}

/// The corpus texts and, with --id-column, their ids. Empty documents are refused.
fn read_corpus(args: &IndexArgs) -> Result<(Vec<String>, Option<Vec<String>>)> {
    let texts = read_texts(&args.corpus, args.column.as_deref())
        .with_context(|| format!("reading the corpus {}", args.corpus.display()))?;
    if let Some(row) = texts.iter().position(|t| t.trim().is_empty()) {
        bail!(
            "{} has an empty document at row {row} (line {}): every document needs text",
            args.corpus.display(),
            row + 1
        );
    }
    let ids = match &args.id_column {
        None => None,
        Some(column) => {
            if args.column.is_none() {
                bail!("--id-column applies to a parquet --corpus with --column");
            }
            Some(
                data::read_text_column(&args.corpus, column)
                    .with_context(|| format!("reading --id-column {column}"))?,
            )
        }
    };
    Ok((texts, ids))
}

/// The prompt text a name or text flag (or the role's default) resolves to.
fn prompt_text(
    model: &SentenceTransformer,
    name: &Option<String>,
    text: &Option<String>,
    role: Role,
    flag: &str,
) -> Result<String> {
    let choice = match (name, text) {
        (Some(name), _) => PromptChoice::Name(name.clone()),
        (None, Some(text)) => PromptChoice::Text(text.clone()),
        (None, None) => role.default_prompt(model.prompts()),
    };
    let resolved = model
        .prompts()
        .resolve(&choice)
        .with_context(|| format!("{flag}: choosing the prompt"))?;
    Ok(resolved.unwrap_or_default().to_string())
}

/// Normalised embeddings of `texts` with `prompt` prepended.
fn embed(
    model: &SentenceTransformer,
    texts: &[String],
    role: Role,
    prompt: &str,
    args: &IndexArgs,
) -> Result<model::EmbeddingMatrix> {
    let choice = Some(PromptChoice::Text(prompt.to_string()));
    let options = EmbedOptions {
        query_prompt: choice.clone(),
        corpus_prompt: choice,
        cache: None,
    };
    let batch = args.model.runtime.batch_size as usize;
    Ok(embed_texts(
        model,
        texts,
        role,
        &options,
        batch,
        !args.quiet,
    )?)
}

trait View {
    fn view(&self) -> Result<eval::Embeddings<'_>>;
}

impl View for model::EmbeddingMatrix {
    fn view(&self) -> Result<eval::Embeddings<'_>> {
        Ok(eval::Embeddings::new(&self.data, self.rows, self.dim)?)
    }
}

/// The model's id and revision as an index records them, and its folder: a hub model's id
/// (without `@revision`) and the commit its snapshot folder is named after; a local folder's
/// canonical path and a sha256 of its weights.
fn model_ref(model: &str) -> Result<(ModelRef, PathBuf)> {
    let client = hub::HubClient::from_env()?;
    let dir =
        hub::resolve_model(&client, model).with_context(|| format!("resolving model {model}"))?;
    if Path::new(model).is_dir() {
        let canonical = dir
            .canonicalize()
            .with_context(|| format!("resolving the folder {model}"))?;
        let revision = weights_sha256(&dir)?;
        return Ok((
            ModelRef {
                id: canonical.display().to_string(),
                revision,
            },
            dir,
        ));
    }
    let id = model
        .split_once('@')
        .map_or(model, |(id, _)| id)
        .to_string();
    let revision = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("the snapshot folder of {model}, {}", dir.display()))?;
    Ok((ModelRef { id, revision }, dir))
}

/// `sha256:` and a SHA-256 over the model folder's `*.safetensors` files (at the top and one
/// level down, e.g. a Dense module), each with its relative path, in path order.
fn weights_sha256(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    let list = |folder: &Path| -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in
            std::fs::read_dir(folder).with_context(|| format!("listing {}", folder.display()))?
        {
            out.push(entry?.path());
        }
        Ok(out)
    };
    for path in list(dir)? {
        if path.is_dir() {
            files.extend(list(&path)?.into_iter().filter(|p| is_safetensors(p)));
        } else if is_safetensors(&path) {
            files.push(path);
        }
    }
    if files.is_empty() {
        bail!("{} has no .safetensors weights", dir.display());
    }
    files.sort();
    let mut hash = Sha256::new();
    for path in &files {
        let rel = path.strip_prefix(dir).unwrap_or(path);
        hash.update(rel.to_string_lossy().as_bytes());
        hash.update([0]);
        let mut file =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        std::io::copy(&mut file, &mut hash)
            .with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(format!("sha256:{}", hex::encode(hash.finalize())))
}

fn is_safetensors(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e == "safetensors")
}

/// Loads the model from its resolved folder (no second hub resolution).
fn load_from(dir: &Path, args: &ModelArgs) -> Result<SentenceTransformer> {
    let local = ModelArgs {
        model: dir.display().to_string(),
        runtime: args.runtime.clone(),
    };
    local
        .load()
        .with_context(|| format!("loading model {}", args.model))
}

fn run_query(args: &QueryArgs) -> Result<()> {
    // Cheap checks first: flags, output, queries, the manifest.
    args.runtime.check()?;
    if let Some(output) = &args.output {
        match output.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "parquet") => {}
            _ => bail!(
                "--output {} must end in .jsonl or .parquet",
                output.display()
            ),
        }
        check_output_folder(output)?;
    }
    let queries = match &args.queries {
        Some(path) => read_texts(path, args.queries_column.as_deref())
            .with_context(|| format!("reading the queries {}", path.display()))?,
        None => args.query.clone(),
    };
    let manifest = Manifest::read(&args.index)?;
    if let Some(precision) = args.precision {
        manifest.check_precision(&args.index, precision)?;
    }
    if args.hnsw && manifest.hnsw.is_none() {
        bail!(
            "--hnsw: the index {} has no hnsw graph; build one with `search index --hnsw` \
             (or add one with --append --hnsw)",
            args.index.display()
        );
    }
    if args.expansion_search.is_some() && manifest.hnsw.is_none() {
        bail!(
            "--expansion-search: the index {} has no hnsw graph",
            args.index.display()
        );
    }
    let given = args.model.is_some();
    let model_name = args
        .model
        .clone()
        .unwrap_or_else(|| pinned(&manifest.model));
    let (model_ref, dir) = model_ref(&model_name)?;
    if given {
        manifest.check_model(&args.index, &model_ref)?;
    } else if model_ref != manifest.model {
        bail!(
            "{}: the index was built with model {} at revision {}, which now resolves to \
             revision {}; pass --model to choose",
            args.index.display(),
            manifest.model.id,
            manifest.model.revision,
            model_ref.revision
        );
    }
    let mut index = load_index(&args.index)?;
    if args.no_rescore {
        // Nothing is rescored: the int8/uint8 copy of a binary index is not needed.
        index.corpus = index.corpus.without_rescore_store();
    }
    let model_args = ModelArgs {
        model: model_name.clone(),
        runtime: args.runtime.clone(),
    };
    let model = load_from(&dir, &model_args)?;
    manifest.check_dim(
        &args.index,
        &model_name,
        model.embedding_dimension() as usize,
    )?;

    let method = match (&index.graph, args.exact) {
        (Some(_), false) => SearchMethod::Hnsw,
        _ => SearchMethod::Exact,
    };
    if let (Some(graph), Some(ef)) = (&mut index.graph, args.expansion_search) {
        graph.set_expansion_search(ef)?;
    }
    let options = SearchOptions {
        top_k: args.top_k as usize,
        rescore: !args.no_rescore,
        rescore_multiplier: args.rescore_multiplier as usize,
        method,
        ..SearchOptions::default()
    };
    let start = Instant::now();
    let choice = Some(PromptChoice::Text(manifest.query_prompt.clone()));
    let embed_options = EmbedOptions {
        query_prompt: choice,
        ..EmbedOptions::default()
    };
    let embeddings = embed_texts(
        &model,
        &queries,
        Role::Query,
        &embed_options,
        args.runtime.batch_size as usize,
        !args.quiet,
    )?;
    let embedded = start.elapsed();
    let start = Instant::now();
    let results = search(
        &index.corpus,
        index.graph.as_ref(),
        embeddings.view()?,
        &options,
    )?;
    let searched = start.elapsed();
    let rows = to_rows(&queries, &results, &index.documents);
    match &args.output {
        Some(path) => write_results(path, &rows)?,
        None => print_results(&rows, args.format, &results)?,
    }
    eprintln!(
        "{} queries: embedded in {:.1} ms, searched in {:.2} ms ({:.3} ms a query; {} {}, {} \
         candidates a query, scores: {})",
        queries.len(),
        embedded.as_secs_f64() * 1e3,
        searched.as_secs_f64() * 1e3,
        searched.as_secs_f64() * 1e3 / queries.len().max(1) as f64,
        match method {
            SearchMethod::Exact => "exact",
            SearchMethod::Hnsw => "hnsw",
        },
        manifest.precision,
        results.candidates,
        results.score_kind.name()
    );
    if let Some(path) = &args.output {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// What loads the model that built an index: a hub id pinned to its commit, or the folder.
fn pinned(model: &ModelRef) -> String {
    if model.revision.starts_with("sha256:") || Path::new(&model.id).is_dir() {
        model.id.clone()
    } else {
        format!("{}@{}", model.id, model.revision)
    }
}

fn to_rows(
    queries: &[String],
    results: &SearchResults,
    documents: &[Document],
) -> Vec<QueryResult> {
    queries
        .iter()
        .zip(&results.hits)
        .map(|(query, hits)| QueryResult {
            query: query.clone(),
            hits: hits
                .iter()
                .filter_map(|h| documents.get(h.row))
                .zip(hits)
                .map(|(doc, h)| HitOut {
                    id: doc.id.clone(),
                    score: h.score,
                    text: doc.text.clone(),
                })
                .collect(),
        })
        .collect()
}

fn print_results(
    rows: &[QueryResult],
    format: ResultFormat,
    results: &SearchResults,
) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        ResultFormat::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut out, row)?;
                writeln!(out)?;
            }
        }
        ResultFormat::Table => {
            let better = if results.score_kind.higher_is_better() {
                "higher is better"
            } else {
                "lower is better"
            };
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "query: {}", row.query)?;
                writeln!(
                    out,
                    "{:>4}  {:>10}  {:>8}  text  (score: {}, {better})",
                    "rank",
                    "score",
                    "id",
                    results.score_kind.name()
                )?;
                for (rank, hit) in row.hits.iter().enumerate() {
                    writeln!(
                        out,
                        "{:>4}  {:>10.4}  {:>8}  {}",
                        rank + 1,
                        hit.score,
                        hit.id.to_string(),
                        hit.text.replace('\n', " ")
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Writes the results atomically: JSON lines as `--format jsonl`, or a parquet table of one
/// row per query (query, ids, scores, texts; ids as integers when all are row numbers).
pub(crate) fn write_results(path: &Path, rows: &[QueryResult]) -> Result<()> {
    if path.extension().is_some_and(|e| e == "parquet") {
        let all_rows = rows
            .iter()
            .flat_map(|r| &r.hits)
            .all(|h| matches!(h.id, DocumentId::Row(_)));
        let ids = if all_rows {
            data::TableColumn::IntList(
                rows.iter()
                    .map(|r| {
                        r.hits
                            .iter()
                            .map(|h| match h.id {
                                DocumentId::Row(n) => n as i64,
                                DocumentId::Name(_) => -1,
                            })
                            .collect()
                    })
                    .collect(),
            )
        } else {
            data::TableColumn::TextList(
                rows.iter()
                    .map(|r| r.hits.iter().map(|h| h.id.to_string()).collect())
                    .collect(),
            )
        };
        let columns = vec![
            (
                "query".to_string(),
                data::TableColumn::Text(rows.iter().map(|r| r.query.clone()).collect()),
            ),
            ("ids".to_string(), ids),
            (
                "scores".to_string(),
                data::TableColumn::FloatList(
                    rows.iter()
                        .map(|r| r.hits.iter().map(|h| h.score as f32).collect())
                        .collect(),
                ),
            ),
            (
                "texts".to_string(),
                data::TableColumn::TextList(
                    rows.iter()
                        .map(|r| r.hits.iter().map(|h| h.text.clone()).collect())
                        .collect(),
                ),
            ),
        ];
        data::write_table(path, &columns)?;
        return Ok(());
    }
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(folder)
        .with_context(|| format!("creating a temporary file in {}", folder.display()))?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        for row in rows {
            serde_json::to_writer(&mut out, row)?;
            writeln!(out)?;
        }
        out.flush()?;
    }
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub(crate) fn read_results(path: &Path) -> Result<Vec<QueryResult>> {
    if path.extension().is_none_or(|e| e != "jsonl") {
        bail!(
            "{} must be a .jsonl file written by `search query --output`",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| {
                format!("{} line {} is not a search result", path.display(), i + 1)
            })
        })
        .collect()
}

fn run_recall(args: &RecallArgs) -> Result<()> {
    let results = read_results(&args.results)?;
    let reference = read_results(&args.reference)?;
    if results.len() != reference.len() {
        bail!(
            "{} has {} queries but {} has {}",
            args.results.display(),
            results.len(),
            args.reference.display(),
            reference.len()
        );
    }
    if results.is_empty() {
        bail!("{} has no queries", args.results.display());
    }
    let mut total = 0.0;
    let mut k_used = 0;
    for (i, (got, want)) in results.iter().zip(&reference).enumerate() {
        if got.query != want.query {
            bail!(
                "line {}: {} has the query {:?} but {} has {:?}",
                i + 1,
                args.results.display(),
                got.query,
                args.reference.display(),
                want.query
            );
        }
        let k = args
            .k
            .map_or(want.hits.len(), |k| k as usize)
            .min(want.hits.len());
        k_used = k_used.max(k);
        if k == 0 {
            continue;
        }
        let found = want.hits[..k]
            .iter()
            .filter(|w| got.hits.iter().take(k).any(|g| g.id == w.id))
            .count();
        total += found as f64 / k as f64;
    }
    println!(
        "recall@{k_used} {:.4} over {} queries ({} against {})",
        total / results.len() as f64,
        results.len(),
        args.results.display(),
        args.reference.display()
    );
    Ok(())
}
