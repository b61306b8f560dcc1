//! `cargo xtask bench mine`: `train-cli mine` against sentence-transformers 6.3's
//! `mine_hard_negatives` (its default path and `use_faiss=True`) on the same anchors and the
//! same corpus, each run its own process, the sides alternating round by round, with each
//! process's peak resident memory and how this project's peak changes with the query count.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::ValueEnum;
use serde_json::{json, Value};

use crate::alternate::{report, report_json, SideRuns, Spread};
use crate::bench::{last_json_line, BENCH_MODEL};
use crate::python_env::reference_python;

/// What every sentence-transformers side's median time must be of this project's.
const TARGET_RATIO: f64 = 1.5;
/// The faiss the `use_faiss=True` side installs into the project's venv.
const FAISS_PACKAGE: &str = "faiss-cpu==1.15.1";
/// Peak memory counts as flat in the query count while it moves less than this fraction (one
/// process's peak varied by about ±5% between identical runs on the shared 2-core machine).
const FLAT_MEMORY: f64 = 0.10;
const GNU_TIME: &str = "/usr/bin/time";

/// Hard-negative mining of MNLI anchors against a corpus of unique sentences, by this project
/// and by sentence-transformers: time, ratio and peak memory of each
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct MineBench {
    /// (premise, entailment hypothesis) pairs: the first N of MNLI train
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub anchors: u64,
    /// Unique corpus texts: MNLI train, then SNLI validation and test, then STS-B train,
    /// validation and test, in file order
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub corpus_size: u64,
    /// Alternating rounds (every side run once per round)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,
    /// CPU threads for every side
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: u64,
    /// Texts per forward pass, both sides
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Sides to run (each round runs them in this order: rust, st, st-faiss)
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = MineSide::ALL)]
    pub sides: Vec<MineSide>,
    /// Skip the extra runs of this project at 1/5 and 1/2 of --anchors (peak memory against
    /// the query count)
    #[arg(long)]
    pub no_scaling: bool,
    /// Hub id or local folder of the model both sides mine with
    #[arg(long, default_value = BENCH_MODEL)]
    pub model: String,
    /// A Python with sentence-transformers to use instead of the project's .venv-bench
    #[arg(long)]
    pub python: Option<String>,
    /// A release train-cli binary to run instead of building target/release/train-cli
    #[arg(long)]
    pub train_cli: Option<PathBuf>,
}

/// One side of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum MineSide {
    /// `train-cli mine`
    Rust,
    /// sentence-transformers' `mine_hard_negatives`, exact search in torch (its default)
    St,
    /// sentence-transformers' `mine_hard_negatives(use_faiss=True)` (faiss-cpu)
    StFaiss,
}

impl MineSide {
    const ALL: [Self; 3] = [Self::Rust, Self::St, Self::StFaiss];

    fn label(self) -> &'static str {
        match self {
            Self::Rust => "this project",
            Self::St => "sentence-transformers",
            Self::StFaiss => "sentence-transformers faiss",
        }
    }

    fn file_stem(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::St => "st-default",
            Self::StFaiss => "st-faiss",
        }
    }
}

/// The sides in the order a round runs them, each once.
fn round_order(sides: &[MineSide]) -> Vec<MineSide> {
    let mut order = sides.to_vec();
    order.sort();
    order.dedup();
    order
}

/// Where the corpus texts come from, taken in this order: a known dataset, a split, and its
/// two text columns, read row by row.
const CORPUS_SOURCES: [(&str, &str, [&str; 2]); 6] = [
    ("glue/mnli", "train", ["premise", "hypothesis"]),
    ("snli", "validation", ["premise", "hypothesis"]),
    ("snli", "test", ["premise", "hypothesis"]),
    ("glue/stsb", "train", ["sentence1", "sentence2"]),
    ("glue/stsb", "validation", ["sentence1", "sentence2"]),
    ("glue/stsb", "test", ["sentence1", "sentence2"]),
];

/// What one source gave the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceUse {
    name: String,
    /// Unique non-blank texts the source offered.
    offered: usize,
    /// Of them, new to the corpus and taken before it was full.
    added: usize,
    /// Texts left out because they hold a line break (the corpus file has one text a line).
    with_line_break: usize,
}

/// A corpus of unique texts, filled from sources in order until it holds `target` texts.
struct CorpusFill {
    target: usize,
    texts: Vec<String>,
    seen: HashSet<String>,
    sources: Vec<SourceUse>,
}

impl CorpusFill {
    fn new(target: usize) -> Self {
        Self {
            target,
            texts: Vec::with_capacity(target),
            seen: HashSet::with_capacity(target),
            sources: Vec::new(),
        }
    }

    fn is_full(&self) -> bool {
        self.texts.len() >= self.target
    }

    /// Takes the texts of `name` in their order that are new, non-blank and on one line,
    /// until the corpus is full.
    fn add(&mut self, name: &str, texts: Vec<String>) {
        let mut used = SourceUse {
            name: name.to_string(),
            offered: texts.len(),
            added: 0,
            with_line_break: 0,
        };
        for text in texts {
            if self.is_full() {
                break;
            }
            if text.contains(['\n', '\r']) {
                used.with_line_break += 1;
            } else if !text.trim().is_empty() && self.seen.insert(text.clone()) {
                self.texts.push(text);
                used.added += 1;
            }
        }
        self.sources.push(used);
    }

    /// The texts, or an error when the sources ran out first.
    fn finish(self) -> Result<(Vec<String>, Vec<SourceUse>)> {
        ensure!(
            self.is_full(),
            "--corpus-size {}: the sources hold only {} unique one-line texts ({}); ask for fewer",
            self.target,
            self.texts.len(),
            describe_sources(&self.sources)
        );
        Ok((self.texts, self.sources))
    }
}

fn describe_sources(sources: &[SourceUse]) -> String {
    sources
        .iter()
        .map(|s| format!("{} {}", s.name, s.added))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The local parquet file of a known dataset's split, through the project's hub client.
pub(crate) fn dataset_file(client: &hub::HubClient, name: &str, split: &str) -> Result<PathBuf> {
    let known = data::KnownDataset::find(name).with_context(|| format!("{name} is not known"))?;
    let file = known.file(split).map_err(anyhow::Error::msg)?;
    client
        .get(&hub::Repo::dataset(file.repo)?, &file.path)
        .with_context(|| format!("downloading {name} {split}"))
}

fn build_corpus(client: &hub::HubClient, size: usize) -> Result<(Vec<String>, Vec<SourceUse>)> {
    let mut fill = CorpusFill::new(size);
    for (name, split, columns) in CORPUS_SOURCES {
        if fill.is_full() {
            break;
        }
        let path = dataset_file(client, name, split)?;
        let texts = data::read_unique_texts(&path, &columns)
            .with_context(|| format!("reading {name} {split}"))?;
        fill.add(&format!("{name} {split}"), texts);
    }
    fill.finish()
}

/// The first `n` (premise, hypothesis) entailment pairs of MNLI train in file order, as
/// `train-cli mine --pairs glue/mnli --max-rows n` and mine_compare.py take them.
fn read_pairs(path: &Path, n: usize) -> Result<Vec<(String, String)>> {
    let all = data::read_nli_pairs(path, &data::NliColumns::GLUE, data::UnlabeledRows::Skip)?;
    let pairs: Vec<(String, String)> = all
        .pairs
        .into_iter()
        .filter(|p| p.label == data::NliLabel::Entailment)
        .take(n)
        .map(|p| (p.premise, p.hypothesis))
        .collect();
    ensure!(
        pairs.len() == n,
        "--anchors {n}: MNLI train ({}) has only {} entailment pairs",
        path.display(),
        pairs.len()
    );
    Ok(pairs)
}

/// What a side reports having mined from: both sides must see the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InputCounts {
    pairs: u64,
    /// Unique anchors.
    queries: u64,
    /// Unique texts of the corpus and the positives together.
    corpus: u64,
}

impl InputCounts {
    fn expected(pairs: &[(String, String)], corpus: &[String]) -> Self {
        let queries: HashSet<&str> = pairs.iter().map(|(a, _)| a.as_str()).collect();
        let all: HashSet<&str> = corpus
            .iter()
            .map(String::as_str)
            .chain(pairs.iter().map(|(_, p)| p.as_str()))
            .collect();
        Self {
            pairs: pairs.len() as u64,
            queries: queries.len() as u64,
            corpus: all.len() as u64,
        }
    }
}

/// The summary line `train-cli mine` writes to stderr:
/// `mined R rows from P pairs (Q unique anchors, a corpus of C) in S s, wrote …`,
/// S timing mining and writing, not loading the model.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RustSummary {
    rows: u64,
    counts: InputCounts,
    seconds: f64,
}

fn parse_rust_summary(stderr: &str) -> Result<RustSummary> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("mined "))
        .context("train-cli mine printed no `mined … in … s` line")?;
    let number = |marker: &str| number_after(line, marker);
    Ok(RustSummary {
        rows: number("mined ")? as u64,
        counts: InputCounts {
            pairs: number(" from ")? as u64,
            queries: number(" (")? as u64,
            corpus: number("a corpus of ")? as u64,
        },
        seconds: number(") in ")?,
    })
}

/// The number that follows the first `marker` in a summary line `line`.
pub(crate) fn number_after(line: &str, marker: &str) -> Result<f64> {
    let start = line
        .find(marker)
        .with_context(|| format!("no `{marker}` in {line:?}"))?
        + marker.len();
    let digits: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits
        .parse()
        .with_context(|| format!("no number after `{marker}` in {line:?}"))
}

/// How a process's peak resident memory is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemoryProbe {
    /// GNU time's `%M`: the kernel's maxrss of the waited process (wait4).
    GnuTime,
    /// `VmHWM` of /proc/<pid>/status, polled while the process runs.
    ProcPolling,
}

impl MemoryProbe {
    pub(crate) fn detect() -> Self {
        let works = Command::new(GNU_TIME)
            .args(["-f", "%M", "-o", "/dev/null", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            Self::GnuTime
        } else {
            Self::ProcPolling
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::GnuTime => "maxrss of each process (GNU time %M, from wait4)",
            Self::ProcPolling => "VmHWM of each process, polled every 10 ms",
        }
    }
}

/// A finished process: its output, its wall time and its peak resident memory.
pub(crate) struct Measured {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) seconds: f64,
    pub(crate) peak_rss_kib: u64,
}

/// Runs `program args` with `threads` CPU threads (OpenMP, MKL), measuring its wall time and
/// peak resident memory; a failure carries the end of its stderr.
pub(crate) fn run_measured(
    program: &Path,
    args: &[OsString],
    threads: u64,
    probe: MemoryProbe,
    rss_file: &Path,
) -> Result<Measured> {
    let mut cmd = match probe {
        MemoryProbe::GnuTime => {
            let mut c = Command::new(GNU_TIME);
            c.args(["-f", "%M", "-o"]).arg(rss_file).arg(program);
            c
        }
        MemoryProbe::ProcPolling => Command::new(program),
    };
    let threads = threads.to_string();
    cmd.args(args)
        .env("OMP_NUM_THREADS", &threads)
        .env("MKL_NUM_THREADS", &threads)
        .env("TOKENIZERS_PARALLELISM", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {}", program.display()))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let mut polled_kib = 0;
    let status = match probe {
        MemoryProbe::GnuTime => child.wait()?,
        MemoryProbe::ProcPolling => loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            polled_kib = polled_kib.max(vm_hwm_kib(child.id()).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(10));
        },
    };
    let seconds = start.elapsed().as_secs_f64();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{} failed ({status}):\n{}",
            program.display(),
            tail.join("\n")
        );
    }
    let peak_rss_kib = match probe {
        MemoryProbe::GnuTime => {
            let text = std::fs::read_to_string(rss_file)
                .with_context(|| format!("reading {}", rss_file.display()))?;
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| l.trim().parse().ok())
                .with_context(|| format!("no maxrss in {}: {text:?}", rss_file.display()))?
        }
        MemoryProbe::ProcPolling => polled_kib,
    };
    Ok(Measured {
        stdout,
        stderr,
        seconds,
        peak_rss_kib,
    })
}

/// The `VmHWM:   123 kB` line of /proc/<pid>/status.
pub(crate) fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One run of one side.
struct SideRun {
    /// Mining (and writing the mined rows), timed inside the process.
    mining_seconds: f64,
    process_seconds: f64,
    peak_rss_kib: u64,
    rows: u64,
    raw: Value,
}

/// Everything a run needs besides the side and the anchor count.
struct Inputs<'a> {
    train_cli: &'a Path,
    python: Option<&'a Path>,
    script: &'a Path,
    model_dir: &'a Path,
    mnli_train: &'a Path,
    corpus_file: &'a Path,
    out_dir: &'a Path,
    probe: MemoryProbe,
}

fn run_side(
    side: MineSide,
    anchors: usize,
    expected: InputCounts,
    inputs: &Inputs<'_>,
    opts: &MineBench,
) -> Result<SideRun> {
    let output = inputs
        .out_dir
        .join(format!("{}-{anchors}.jsonl", side.file_stem()));
    let rss_file = inputs
        .out_dir
        .join(format!("{}-{anchors}.maxrss", side.file_stem()));
    let os = |s: &str| OsString::from(s);
    let (program, args) = match side {
        MineSide::Rust => {
            let mut args: Vec<OsString> =
                ["mine", "--device", "cpu", "--pairs", "glue/mnli", "--model"]
                    .map(os)
                    .into();
            args.push(inputs.model_dir.into());
            args.extend([
                os("--threads"),
                os(&opts.threads.to_string()),
                os("--batch-size"),
                os(&opts.batch_size.to_string()),
                os("--max-rows"),
                os(&anchors.to_string()),
                os("--corpus"),
                inputs.corpus_file.into(),
                os("--output"),
                output.clone().into(),
            ]);
            (inputs.train_cli.to_path_buf(), args)
        }
        MineSide::St | MineSide::StFaiss => {
            let python = inputs.python.context("no Python for a Python side")?;
            let args = vec![
                inputs.script.into(),
                inputs.model_dir.into(),
                inputs.mnli_train.into(),
                os(&anchors.to_string()),
                inputs.corpus_file.into(),
                output.clone().into(),
                os(&opts.threads.to_string()),
                os(&opts.batch_size.to_string()),
                os(if side == MineSide::StFaiss {
                    "faiss"
                } else {
                    "default"
                }),
            ];
            (python.to_path_buf(), args)
        }
    };
    let measured = run_measured(&program, &args, opts.threads, inputs.probe, &rss_file)?;
    let (mining_seconds, rows, counts, raw) = match side {
        MineSide::Rust => {
            let s = parse_rust_summary(&measured.stderr)?;
            let raw = json!({ "side": "rust", "rows": s.rows, "seconds": s.seconds,
                "pairs": s.counts.pairs, "queries": s.counts.queries, "corpus": s.counts.corpus });
            (s.seconds, s.rows, s.counts, raw)
        }
        MineSide::St | MineSide::StFaiss => {
            let r = last_json_line(&measured.stdout)
                .with_context(|| format!("{} printed no JSON report", side.label()))?;
            let n = |k: &str| r[k].as_u64().unwrap_or(0);
            let counts = InputCounts {
                pairs: n("pairs"),
                queries: n("queries"),
                corpus: n("corpus"),
            };
            let seconds = r["seconds"].as_f64().unwrap_or(f64::NAN);
            (seconds, n("rows"), counts, r)
        }
    };
    ensure!(
        counts == expected,
        "{} mined from {counts:?}, expected {expected:?}: the sides do not see the same input",
        side.label()
    );
    Ok(SideRun {
        mining_seconds,
        process_seconds: measured.seconds,
        peak_rss_kib: measured.peak_rss_kib,
        rows,
        raw: json!({
            "mining_seconds": mining_seconds, "process_seconds": measured.seconds,
            "peak_rss_kib": measured.peak_rss_kib, "output": output, "report": raw,
        }),
    })
}

/// Whether `python` imports faiss; the project's own venv gets faiss-cpu installed first.
fn ensure_faiss(python: &Path, own_venv: bool) -> Result<(), String> {
    let imports = || {
        Command::new(python)
            .args(["-c", "import faiss"])
            .output()
            .map_err(|e| e.to_string())
            .and_then(|o| {
                if o.status.success() {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
                }
            })
    };
    let Err(first) = imports() else {
        return Ok(());
    };
    if !own_venv {
        return Err(format!(
            "{} cannot import faiss ({first}); pip install {FAISS_PACKAGE} into it",
            python.display()
        ));
    }
    println!("installing {FAISS_PACKAGE} into {}…", python.display());
    let status = Command::new(python)
        .args(["-m", "pip", "install", "--quiet", FAISS_PACKAGE])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("pip install {FAISS_PACKAGE} failed ({status})"));
    }
    imports()
}

/// The query counts of the memory check: 1/5 and 1/2 of `anchors` (the rounds measure
/// `anchors` itself), leaving out counts under 1.
fn scaling_counts(anchors: usize) -> Vec<usize> {
    let mut counts: Vec<usize> = [anchors / 5, anchors / 2]
        .into_iter()
        .filter(|&n| n >= 1 && n < anchors)
        .collect();
    counts.dedup();
    counts
}

pub(crate) fn build_train_cli(root: &Path) -> Result<PathBuf> {
    println!("building train-cli (release)…");
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["build", "--quiet", "--release", "-p", "train-cli"])
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "building train-cli failed");
    Ok(root.join("target").join("release").join("train-cli"))
}

pub fn mine(root: &Path, opts: &MineBench) -> Result<()> {
    let anchors = usize::try_from(opts.anchors)?;
    let corpus_size = usize::try_from(opts.corpus_size)?;
    let mut order = round_order(&opts.sides);
    ensure!(!order.is_empty(), "--sides names no side");

    let client = hub::HubClient::from_env()?;
    let model_dir = hub::resolve_model(&client, &opts.model)?;
    let mnli_train = dataset_file(&client, "glue/mnli", "train")?;
    let pairs = read_pairs(&mnli_train, anchors)?;
    let (corpus, sources) = build_corpus(&client, corpus_size)?;
    let out_dir = root.join("target").join("bench").join("mine");
    std::fs::create_dir_all(&out_dir)?;
    let corpus_file = out_dir.join(format!("corpus_{corpus_size}.txt"));
    std::fs::write(&corpus_file, corpus.join("\n") + "\n")?;
    let expected = InputCounts::expected(&pairs, &corpus);

    let train_cli = match (&opts.train_cli, order.contains(&MineSide::Rust)) {
        (Some(bin), _) => bin.clone(),
        (None, true) => build_train_cli(root)?,
        (None, false) => PathBuf::new(),
    };
    let python = if order.iter().any(|s| *s != MineSide::Rust) {
        Some(reference_python(root, opts.python.as_deref())?)
    } else {
        None
    };
    if let (Some(python), true) = (&python, order.contains(&MineSide::StFaiss)) {
        if let Err(why) = ensure_faiss(python, opts.python.is_none()) {
            println!("skipping the use_faiss=True side: {why}");
            order.retain(|s| *s != MineSide::StFaiss);
        }
    }
    let probe = MemoryProbe::detect();
    let script = root.join("xtask").join("python").join("mine_bench.py");
    let inputs = Inputs {
        train_cli: &train_cli,
        python: python.as_deref(),
        script: &script,
        model_dir: &model_dir,
        mnli_train: &mnli_train,
        corpus_file: &corpus_file,
        out_dir: &out_dir,
        probe,
    };

    println!(
        "{} (premise, entailment hypothesis) pairs of glue/mnli train ({} unique anchors) against \
         a corpus of {} unique texts ({}; {}), {} with the positives",
        expected.pairs,
        expected.queries,
        corpus.len(),
        describe_sources(&sources),
        corpus_file.display(),
        expected.corpus
    );
    println!(
        "model {}, batch {}, {} threads, default filters, no embedding cache; {} round(s) of {} \
         (alternating); time = mining + writing the rows, timed inside each process (model \
         load excluded), beside the process's wall time; memory = {}",
        opts.model,
        opts.batch_size,
        opts.threads,
        opts.rounds,
        order
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", "),
        probe.describe()
    );

    let new_runs = || -> Vec<SideRuns> {
        order
            .iter()
            .map(|s| SideRuns {
                label: s.label().into(),
                values: Vec::new(),
            })
            .collect()
    };
    let (mut mining, mut process, mut rss) = (new_runs(), new_runs(), new_runs());
    let mut rows: Vec<Vec<u64>> = vec![Vec::new(); order.len()];
    let mut failed: Vec<Option<String>> = vec![None; order.len()];
    let mut raw = Vec::new();
    for round in 1..=opts.rounds {
        for (i, &side) in order.iter().enumerate() {
            let result = if failed[i].is_some() {
                None
            } else {
                match run_side(side, anchors, expected, &inputs, opts) {
                    Ok(run) => Some(run),
                    // faiss may be missing pieces (a GPU build, a CPU feature): report why and
                    // go on with the other sides.
                    Err(err) if side == MineSide::StFaiss => {
                        println!("round {round}: {} failed: {err:#}", side.label());
                        failed[i] = Some(format!("{err:#}"));
                        None
                    }
                    Err(err) => return Err(err.context(format!("round {round}, {}", side.label()))),
                }
            };
            let Some(run) = result else {
                for runs in [&mut mining, &mut process, &mut rss] {
                    runs[i].values.push(f64::NAN);
                }
                continue;
            };
            println!(
                "round {round}: {:<28} mining {:>8.1} s   process {:>8.1} s   peak RSS {:>7.0} MiB   {} rows",
                side.label(),
                run.mining_seconds,
                run.process_seconds,
                mib(run.peak_rss_kib),
                run.rows
            );
            mining[i].values.push(run.mining_seconds);
            process[i].values.push(run.process_seconds);
            rss[i].values.push(mib(run.peak_rss_kib));
            rows[i].push(run.rows);
            raw.push(json!({ "round": round, "side": side.label(), "anchors": anchors, "result": run.raw }));
        }
    }

    let rust: Vec<usize> = (0..order.len())
        .filter(|&i| order[i] == MineSide::Rust)
        .collect();
    let theirs: Vec<usize> = (0..order.len())
        .filter(|&i| order[i] != MineSide::Rust)
        .collect();
    println!();
    print!("{}", report("mining s", &mining, &theirs, &rust));
    print!("{}", report("process s", &process, &theirs, &rust));
    print!("{}", report("peak RSS MiB", &rss, &[], &[]));
    let row_counts: HashSet<&u64> = rows.iter().flatten().collect();
    if row_counts.len() > 1 {
        println!("note: the sides mined different row counts: {rows:?}");
    }
    let mut verdicts = Vec::new();
    if let Some(&r) = rust.first() {
        for &t in &theirs {
            let ratio = Spread::of(&crate::alternate::ratios(&mining[t], &mining[r])).median;
            if ratio.is_nan() {
                continue;
            }
            let met = ratio >= TARGET_RATIO;
            println!(
                "{} / {}: {ratio:.2}x, target ≥ {TARGET_RATIO}x {}",
                mining[t].label,
                mining[r].label,
                if met { "met" } else { "NOT met" }
            );
            verdicts.push(json!({ "side": mining[t].label, "median_ratio": ratio, "met": met }));
        }
    }

    let scaling = if order.contains(&MineSide::Rust) && !opts.no_scaling {
        let r = rust[0];
        memory_scaling(anchors, &pairs, &corpus, &inputs, opts, &rss[r], &mining[r])?
    } else {
        Value::Null
    };

    let report_value = json!({
        "model": opts.model, "anchors": anchors, "corpus_size": corpus_size,
        "corpus_sources": sources.iter().map(|s| json!({
            "source": s.name, "offered": s.offered, "added": s.added,
            "left_out_with_line_break": s.with_line_break,
        })).collect::<Vec<_>>(),
        "inputs": { "pairs": expected.pairs, "queries": expected.queries, "corpus_with_positives": expected.corpus },
        "threads": opts.threads, "batch_size": opts.batch_size, "rounds": opts.rounds,
        "memory_probe": probe.describe(),
        "mining_seconds": report_json(&mining, &theirs, &rust),
        "process_seconds": report_json(&process, &theirs, &rust),
        "peak_rss_mib": report_json(&rss, &[], &[]),
        "target_ratio": TARGET_RATIO, "verdicts": verdicts,
        "failed": order.iter().zip(&failed).filter_map(|(s, f)| f.as_ref().map(|f| json!({ "side": s.label(), "error": f }))).collect::<Vec<_>>(),
        "memory_scaling": scaling, "runs": raw,
    });
    let report_path = root.join("target").join("bench").join("mine.json");
    std::fs::write(
        &report_path,
        serde_json::to_string_pretty(&report_value)? + "\n",
    )?;
    println!("report: {}", report_path.display());
    Ok(())
}

/// This project's peak memory at one query count.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MemoryPoint {
    anchors: usize,
    queries: u64,
    peak_rss_mib: f64,
    mining_seconds: f64,
}

/// How the peak moved from the fewest queries to the most.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Growth {
    mib: f64,
    fraction: f64,
    /// What a float32 score matrix of the extra queries against the corpus would take: what
    /// memory that grows with queries × corpus would add.
    matrix_mib: f64,
    flat: bool,
}

/// `points` in rising query count, against a corpus of `corpus` texts.
fn memory_growth(points: &[MemoryPoint], corpus: u64) -> Growth {
    let (first, last) = (points[0], points[points.len() - 1]);
    let mib = last.peak_rss_mib - first.peak_rss_mib;
    let fraction = mib / first.peak_rss_mib;
    Growth {
        mib,
        fraction,
        matrix_mib: (last.queries - first.queries) as f64 * corpus as f64 * 4.0 / (1024.0 * 1024.0),
        flat: fraction.abs() < FLAT_MEMORY,
    }
}

/// This project's peak memory at 1/5 and 1/2 of the anchors (one run each) beside the rounds'
/// median at all of them, against the same corpus.
fn memory_scaling(
    anchors: usize,
    pairs: &[(String, String)],
    corpus: &[String],
    inputs: &Inputs<'_>,
    opts: &MineBench,
    rss: &SideRuns,
    mining: &SideRuns,
) -> Result<Value> {
    let mut points = Vec::new();
    for n in scaling_counts(anchors) {
        let expected = InputCounts::expected(&pairs[..n], corpus);
        let run = run_side(MineSide::Rust, n, expected, inputs, opts)
            .with_context(|| format!("the memory run at {n} anchors"))?;
        points.push(MemoryPoint {
            anchors: n,
            queries: expected.queries,
            peak_rss_mib: mib(run.peak_rss_kib),
            mining_seconds: run.mining_seconds,
        });
    }
    let all = InputCounts::expected(pairs, corpus);
    points.push(MemoryPoint {
        anchors,
        queries: all.queries,
        peak_rss_mib: Spread::of(&rss.values).median,
        mining_seconds: Spread::of(&mining.values).median,
    });
    println!();
    println!(
        "this project's peak RSS against the query count (same corpus; the last row is the \
         rounds' median):"
    );
    println!("anchors  queries  peak RSS MiB  mining s");
    for p in &points {
        println!(
            "{:>7}  {:>7}  {:>12.0}  {:>8.1}",
            p.anchors, p.queries, p.peak_rss_mib, p.mining_seconds
        );
    }
    let growth = memory_growth(&points, all.corpus);
    if points.len() > 1 {
        println!(
            "from {} to {} queries: {:+.0} MiB ({:+.1}%; a score matrix of the extra queries \
             against the corpus would be {:.0} MiB): {}",
            points[0].queries,
            all.queries,
            growth.mib,
            100.0 * growth.fraction,
            growth.matrix_mib,
            if growth.flat {
                format!("flat (within {:.0}%)", 100.0 * FLAT_MEMORY)
            } else {
                "GROWS with the query count".to_string()
            }
        );
    }
    Ok(json!({
        "points": points.iter().map(|p| json!({
            "anchors": p.anchors, "queries": p.queries, "peak_rss_mib": p.peak_rss_mib,
            "mining_seconds": p.mining_seconds,
        })).collect::<Vec<_>>(),
        "growth_mib": growth.mib, "growth_fraction": growth.fraction,
        "extra_score_matrix_mib": growth.matrix_mib, "flat": growth.flat,
        "flat_threshold": FLAT_MEMORY,
    }))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: MineBench,
    }

    fn parse(args: &[&str]) -> MineBench {
        Cli::try_parse_from(std::iter::once("bench-mine").chain(args.iter().copied()))
            .unwrap()
            .bench
    }

    #[test]
    fn defaults_are_the_issue_sizes() {
        let b = parse(&[]);
        assert_eq!((b.anchors, b.corpus_size, b.rounds), (5000, 100_000, 2));
        assert_eq!((b.threads, b.batch_size), (2, 32));
        assert_eq!(b.sides, MineSide::ALL);
        assert!(!b.no_scaling);
        assert_eq!(b.model, BENCH_MODEL);
        assert_eq!((b.python, b.train_cli), (None, None));
    }

    #[test]
    fn sides_run_in_one_fixed_order_each_once() {
        let b = parse(&[
            "--sides",
            "st-faiss,rust,st-faiss",
            "--anchors",
            "200",
            "--no-scaling",
        ]);
        assert_eq!(round_order(&b.sides), [MineSide::Rust, MineSide::StFaiss]);
        assert_eq!(b.anchors, 200);
        assert!(b.no_scaling);
        assert!(Cli::try_parse_from(["x", "--anchors", "0"]).is_err());
        assert!(Cli::try_parse_from(["x", "--sides", "python"]).is_err());
    }

    #[test]
    fn corpus_fills_in_source_order_without_duplicates() {
        let texts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut fill = CorpusFill::new(5);
        fill.add("a", texts(&["x", "y", "x", "two\nlines", " ", "z"]));
        assert!(!fill.is_full());
        fill.add("b", texts(&["z", "w", "v\r", "u", "t"]));
        assert!(fill.is_full());
        let (corpus, sources) = fill.finish().unwrap();
        assert_eq!(corpus, ["x", "y", "z", "w", "u"]);
        assert_eq!(
            sources
                .iter()
                .map(|s| (s.name.as_str(), s.offered, s.added, s.with_line_break))
                .collect::<Vec<_>>(),
            [("a", 6, 3, 1), ("b", 5, 2, 1)]
        );
    }

    #[test]
    fn too_small_sources_are_an_error_naming_them() {
        let mut fill = CorpusFill::new(10);
        fill.add("glue/stsb test", vec!["a".into(), "b".into(), "a".into()]);
        let err = fill.finish().unwrap_err().to_string();
        assert!(
            err.contains("--corpus-size 10")
                && err.contains("only 2")
                && err.contains("glue/stsb test 2"),
            "{err}"
        );
    }

    #[test]
    fn expected_counts_join_corpus_and_positives() {
        let pairs = vec![
            ("q1".to_string(), "p1".to_string()),
            ("q1".to_string(), "p2".to_string()),
            ("q2".to_string(), "c1".to_string()),
        ];
        let corpus = vec!["c1".to_string(), "c2".to_string()];
        assert_eq!(
            InputCounts::expected(&pairs, &corpus),
            InputCounts {
                pairs: 3,
                queries: 2,
                corpus: 4
            }
        );
    }

    #[test]
    fn reads_train_cli_summary_line() {
        // As crates/train-cli/src/mine.rs prints it.
        let stderr =
            "loading…\nmined 14982 rows from 5000 pairs (4994 unique anchors, a corpus of \
                      100000) in 123.4 s, wrote target/bench/mine/rust-5000.jsonl\n";
        let s = parse_rust_summary(stderr).unwrap();
        assert_eq!(s.rows, 14982);
        assert_eq!(
            s.counts,
            InputCounts {
                pairs: 5000,
                queries: 4994,
                corpus: 100_000
            }
        );
        assert_eq!(s.seconds, 123.4);
        assert!(parse_rust_summary("no summary here").is_err());
    }

    #[test]
    fn memory_growth_sets_the_peaks_against_a_score_matrix() {
        let point = |queries, peak_rss_mib| MemoryPoint {
            anchors: queries as usize,
            queries,
            peak_rss_mib,
            mining_seconds: 1.0,
        };
        let g = memory_growth(
            &[
                point(1000, 1000.0),
                point(2500, 1020.0),
                point(5000, 1050.0),
            ],
            100_000,
        );
        assert_eq!((g.mib, g.fraction, g.flat), (50.0, 0.05, true));
        // 4,000 queries × 100,000 texts × 4 bytes.
        assert!((g.matrix_mib - 1525.88).abs() < 0.01, "{}", g.matrix_mib);
        assert!(!memory_growth(&[point(1000, 1000.0), point(5000, 2600.0)], 100_000).flat);
    }

    #[test]
    fn scaling_runs_a_fifth_and_a_half() {
        assert_eq!(scaling_counts(5000), [1000, 2500]);
        assert_eq!(scaling_counts(3), [1]);
        assert!(scaling_counts(1).is_empty());
    }

    #[test]
    fn measures_a_process() {
        let dir = tempfile::tempdir().unwrap();
        for probe in [MemoryProbe::detect(), MemoryProbe::ProcPolling] {
            let m = run_measured(
                Path::new("sh"),
                &["-c".into(), "echo out; echo err >&2; sleep 0.1".into()],
                1,
                probe,
                &dir.path().join("rss"),
            )
            .unwrap();
            assert_eq!((m.stdout.as_str(), m.stderr.as_str()), ("out\n", "err\n"));
            assert!(m.seconds >= 0.1, "{}", m.seconds);
            assert!(m.peak_rss_kib > 0, "{probe:?}");
        }
        let err = run_measured(
            Path::new("sh"),
            &["-c".into(), "echo broken >&2; exit 3".into()],
            1,
            MemoryProbe::ProcPolling,
            &dir.path().join("rss"),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("broken"), "{err}");
    }
}
