//! `train-cli mine`: hard negatives for (anchor, positive) pairs, as sentence-transformers'
//! `mine_hard_negatives`, written as a dataset `train-cli train` reads.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use config::{DataConfig, DataFormat, NeutralChoice};
use model::PromptChoice;
use retrieval::{EmbedOptions, EmbeddingCache, MineParams, MiningTexts, OutputFormat, Sampling};

use crate::encode::{check_output_folder, read_texts};
use crate::load::ModelArgs;

#[derive(Args, Debug)]
pub struct MineArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// (anchor, positive) pairs: an NLI hub dataset (glue/mnli, snli: its entailment pairs,
    /// premise as anchor) or a local .parquet/.csv/.tsv/.jsonl file with --columns
    #[arg(long)]
    pub pairs: String,
    /// Split of a hub dataset
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Column mapping of a local file: `anchor=<column>,positive=<column>`
    #[arg(long)]
    pub columns: Option<String>,
    /// Keep the first this many pairs
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: Option<u64>,
    /// More corpus texts (besides the positives): a text file, one a line, or a parquet file
    /// with --corpus-column
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Text column of a parquet --corpus
    #[arg(long)]
    pub corpus_column: Option<String>,
    /// With an NLI hub dataset as --pairs: every hypothesis of the split joins the corpus,
    /// the neutral and contradiction ones too (the corpus of the NLI retrieval task), so the
    /// negatives include each premise's own non-entailments
    #[arg(long)]
    pub all_hypotheses: bool,
    /// Where to write: .jsonl or .parquet (columns anchor, positive, negative…)
    #[arg(long, short)]
    pub output: PathBuf,
    /// Skip the first this many candidates by rank
    #[arg(long, default_value_t = 0)]
    pub range_min: usize,
    /// Consider candidates up to this rank (default: sentence-transformers' rule from
    /// --num-negatives, the margins and the positives per anchor)
    #[arg(long)]
    pub range_max: Option<usize>,
    /// Skip candidates scoring above this
    #[arg(long)]
    pub max_score: Option<f64>,
    /// Skip candidates scoring below this
    #[arg(long)]
    pub min_score: Option<f64>,
    /// Skip candidates within this much of the positive's score (score + margin > positive)
    #[arg(long)]
    pub absolute_margin: Option<f64>,
    /// Skip candidates above positive - |positive| * margin
    #[arg(long)]
    pub relative_margin: Option<f64>,
    /// Negatives per anchor
    #[arg(long, default_value_t = 3)]
    pub num_negatives: usize,
    /// top (the best-ranked candidates left) or random (drawn from them, seeded)
    #[arg(long, default_value = "top", value_parser = parse_choice::<Sampling>)]
    pub sampling: Sampling,
    /// Keep the positives among the candidates (implies --format n-tuple)
    #[arg(long)]
    pub include_positives: bool,
    /// triplet, n-tuple, labeled-pair or labeled-list
    #[arg(long, default_value = "triplet", value_parser = parse_choice::<OutputFormat>)]
    pub format: OutputFormat,
    /// Add the scores (a `scores` or `score` column)
    #[arg(long)]
    pub output_scores: bool,
    /// Seed of --sampling random
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Prompt name for the anchors (default: the model's `query` prompt, if it has one)
    #[arg(long, conflicts_with = "query_prompt")]
    pub query_prompt_name: Option<String>,
    /// Prompt text for the anchors
    #[arg(long)]
    pub query_prompt: Option<String>,
    /// Prompt name for the corpus (default: the model's `document`/`passage`/`corpus` prompt)
    #[arg(long, conflicts_with = "corpus_prompt")]
    pub corpus_prompt_name: Option<String>,
    /// Prompt text for the corpus
    #[arg(long)]
    pub corpus_prompt: Option<String>,
    /// Keep the embeddings in this folder, keyed by model, prompt and texts, so a run with
    /// other filters does not encode again
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Hide the progress bars
    #[arg(long)]
    pub quiet: bool,
}

fn parse_choice<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    toml::Value::String(text.to_string())
        .try_into::<T>()
        .map_err(|e| e.to_string())
}

fn prompt(name: &Option<String>, text: &Option<String>) -> Option<PromptChoice> {
    match (name, text) {
        (Some(name), _) => Some(PromptChoice::Name(name.clone())),
        (None, Some(text)) => Some(PromptChoice::Text(text.clone())),
        (None, None) => None,
    }
}

impl MineArgs {
    fn params(&self) -> MineParams {
        MineParams {
            range_min: self.range_min,
            range_max: self.range_max,
            max_score: self.max_score,
            min_score: self.min_score,
            absolute_margin: self.absolute_margin,
            relative_margin: self.relative_margin,
            num_negatives: self.num_negatives,
            sampling: self.sampling,
            include_positives: self.include_positives,
            output_format: self.format,
            output_scores: self.output_scores,
            batch_size: self.model.runtime.batch_size as usize,
            seed: self.seed,
            show_progress: !self.quiet,
            ..MineParams::default()
        }
    }

    /// The pairs as (anchor name, positive name, anchors, positives, and with
    /// --all-hypotheses every hypothesis of the split).
    fn read_pairs(&self, client: &hub::HubClient) -> Result<MinePairs> {
        let local = std::path::Path::new(&self.pairs).is_file();
        if local && self.columns.is_none() {
            bail!(
                "--pairs {} is a file: name its columns with --columns anchor=<column>,positive=<column>",
                self.pairs
            );
        }
        if local && self.all_hypotheses {
            bail!(
                "--all-hypotheses takes the hypotheses of an NLI hub dataset (glue/mnli, snli); --pairs {} is a file (give its other texts with --corpus)",
                self.pairs
            );
        }
        let max_rows = self.max_rows.map(|n| n as usize);
        let config = DataConfig {
            dataset: self.pairs.clone(),
            split: self.split.clone(),
            format: if local {
                DataFormat::Columns
            } else {
                DataFormat::ScoredPairs
            },
            // Neutral pairs are never positives; --all-hypotheses keeps them for the corpus.
            neutral: if self.all_hypotheses {
                NeutralChoice::Zero
            } else {
                NeutralChoice::Drop
            },
            columns: self.columns.clone(),
            max_rows: if local { max_rows } else { None },
            ..DataConfig::default()
        };
        let set = config::load_training_set(client, &config, self.seed)
            .with_context(|| format!("reading the pairs {}", self.pairs))?;
        let names = set.column_names().to_vec();
        let columns = set.columns().to_vec();
        if columns.len() != 2 {
            bail!(
                "--pairs {} gives the columns {names:?}; mining needs exactly two, the anchor and the positive",
                self.pairs
            );
        }
        let (mut anchors, mut positives) = (columns[0].clone(), columns[1].clone());
        if !local {
            // NLI: the entailment pairs (score 1), premise as the anchor.
            let data::TargetColumn::Scores(scores) = set.target() else {
                bail!("{} has no entailment labels", self.pairs);
            };
            // The rows up to the --max-rows-th entailment: their entailments are the pairs,
            // and with --all-hypotheses all their hypotheses join the corpus.
            let end = match max_rows {
                Some(n) => scores
                    .iter()
                    .enumerate()
                    .filter(|(_, &s)| s == 1.0)
                    .nth(n.saturating_sub(1))
                    .map_or(scores.len(), |(row, _)| row + 1),
                None => scores.len(),
            };
            let hypotheses = self.all_hypotheses.then(|| positives[..end].to_vec());
            let take = |v: Vec<String>| -> Vec<String> {
                v.into_iter()
                    .zip(&scores[..end])
                    .filter_map(|(t, &s)| (s == 1.0).then_some(t))
                    .collect()
            };
            anchors = take(anchors);
            positives = take(positives);
            return Ok(MinePairs {
                anchor_name: "anchor".into(),
                positive_name: "positive".into(),
                anchors,
                positives,
                hypotheses,
            });
        }
        Ok(MinePairs {
            anchor_name: names[0].clone(),
            positive_name: names[1].clone(),
            anchors,
            positives,
            hypotheses: None,
        })
    }
}

/// What `mine` reads from --pairs.
struct MinePairs {
    anchor_name: String,
    positive_name: String,
    anchors: Vec<String>,
    positives: Vec<String>,
    /// Every hypothesis of an NLI split (--all-hypotheses), for the corpus.
    hypotheses: Option<Vec<String>>,
}

pub fn run(args: &MineArgs) -> Result<()> {
    // Everything cheap first: the output folder, the parameters, the pairs and the corpus.
    args.model.check()?;
    match args.output.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "parquet") => {}
        _ => bail!(
            "--output {} must end in .jsonl or .parquet",
            args.output.display()
        ),
    }
    check_output_folder(&args.output)?;
    let params = args.params();
    let client = hub::HubClient::from_env()?;
    let MinePairs {
        anchor_name,
        positive_name,
        anchors,
        positives,
        hypotheses,
    } = args.read_pairs(&client)?;
    let mut corpus = match &args.corpus {
        Some(path) => Some(
            read_texts(path, args.corpus_column.as_deref())
                .with_context(|| format!("reading the corpus {}", path.display()))?,
        ),
        None => None,
    };
    if let Some(hypotheses) = hypotheses {
        corpus.get_or_insert_with(Vec::new).extend(hypotheses);
    }
    let texts = MiningTexts::new(
        retrieval::TextColumn::new(&anchor_name, &anchors),
        retrieval::TextColumn::new(&positive_name, &positives),
        corpus.as_deref(),
    )?;
    params
        .validate(texts.max_positives())
        .context("the mining parameters")?;

    let model = args.model.load()?;
    let options = EmbedOptions {
        query_prompt: prompt(&args.query_prompt_name, &args.query_prompt),
        corpus_prompt: prompt(&args.corpus_prompt_name, &args.corpus_prompt),
        cache: match &args.cache {
            Some(dir) => Some(EmbeddingCache::new(
                dir,
                &args.model.model,
                model_revision(&args.model)?,
            )),
            None => None,
        },
    };
    let start = std::time::Instant::now();
    let mined = retrieval::mine(&model, &texts, &params, &options).context("mining")?;
    let columns: Vec<(String, data::TableColumn)> = mined
        .dataset
        .columns()
        .iter()
        .map(|c| (c.name.clone(), c.values.clone()))
        .collect();
    data::write_table(&args.output, &columns)?;
    println!("{}", mined.stats);
    eprintln!(
        "mined {} rows from {} pairs ({} unique anchors, a corpus of {}) in {:.1} s, wrote {}",
        mined.dataset.num_rows(),
        texts.num_rows(),
        texts.queries().len(),
        texts.corpus().len(),
        start.elapsed().as_secs_f64(),
        args.output.display()
    );
    Ok(())
}

/// What identifies the weights behind the model for the cache: its folder (a hub snapshot's
/// folder name is its commit) and the modification time of its weights, which a retrained
/// local model changes.
fn model_revision(args: &ModelArgs) -> Result<String> {
    let dir = args.resolve_dir()?;
    let modified = std::fs::metadata(dir.join("model.safetensors"))
        .and_then(|m| m.modified())
        .map(|t| format!("{t:?}"))
        .unwrap_or_default();
    let canonical = dir.canonicalize().unwrap_or(dir);
    Ok(format!("{} {modified}", canonical.display()))
}
