//! `train-cli rank`: documents reranked by a cross-encoder, as sentence-transformers'
//! `CrossEncoder.rank`: one query against a file of documents, or every query of a retrieval
//! file (what `search query --output X.jsonl` writes) with its candidate list.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use model::{CrossEncoderOptions, PredictOptions, ScoreActivation};

use crate::encode::check_output_folder;
use crate::load::ModelArgs;
use crate::search::{read_results, write_results, HitOut, QueryResult};

#[derive(Args, Debug)]
pub struct RankArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The query to rank --documents for
    #[arg(long, requires = "documents", conflicts_with = "candidates")]
    pub query: Option<String>,
    /// A text file with one document per line
    #[arg(long, requires = "query")]
    pub documents: Option<PathBuf>,
    /// Queries with their candidates, as `search query --output X.jsonl` writes them: a JSON
    /// line per query, `{"query": …, "hits": [{"id": …, "score": …, "text": …}, …]}`
    #[arg(long, required_unless_present = "query")]
    pub candidates: Option<PathBuf>,
    /// Keep the best this many documents of each query (default: all)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub top_k: Option<u64>,
    /// Write the reranked lists here (.jsonl or .parquet, the format of `search query
    /// --output`, scores the cross-encoder's); without it, a table on standard output
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// The activation on the logits: the model's by default; `identity` gives raw logits
    #[arg(long)]
    pub activation: Option<ScoreActivation>,
    /// With --candidates: rank by the cross-encoder's score fused with the first stage's
    /// `score` (per query, the z-normalised scores plus this weight times the z-normalised
    /// first-stage scores; 1 weighs them equally); the fused score is what is written
    #[arg(long, requires = "candidates")]
    pub first_stage_weight: Option<f64>,
    /// Hide the progress bar
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: &RankArgs) -> Result<()> {
    args.model.check()?;
    if let Some(output) = &args.output {
        if output
            .extension()
            .is_none_or(|e| e != "jsonl" && e != "parquet")
        {
            bail!(
                "--output {} must end in .jsonl or .parquet",
                output.display()
            );
        }
        check_output_folder(output)?;
    }
    if let Some(weight) = args.first_stage_weight {
        eval::check_first_stage_weight(weight).context("--first-stage-weight")?;
    }
    let queries = match (&args.query, &args.documents, &args.candidates) {
        (Some(query), Some(documents), None) => {
            let texts = data::read_lines(documents)?;
            vec![QueryResult {
                query: query.clone(),
                hits: texts
                    .into_iter()
                    .enumerate()
                    .map(|(row, text)| HitOut {
                        id: retrieval::search::DocumentId::Row(row as u64),
                        score: f64::NAN,
                        text,
                    })
                    .collect(),
            }]
        }
        (None, None, Some(candidates)) => {
            let queries = read_results(candidates)?;
            if args.first_stage_weight.is_some() {
                check_first_stage_scores(candidates, &queries)?;
            }
            queries
        }
        _ => bail!("give --query with --documents, or --candidates"),
    };
    let model = args.model.load_cross_encoder(&CrossEncoderOptions {
        activation: args.activation,
        ..Default::default()
    })?;
    if model.num_labels() != 1 {
        bail!(
            "{} scores {} labels per pair; ranking needs one score (use predict)",
            args.model.model,
            model.num_labels()
        );
    }
    let options = PredictOptions {
        batch_size: args.model.runtime.batch_size as usize,
        activation: args.activation,
        show_progress: !args.quiet,
        ..Default::default()
    };
    // Every query's pairs in one call: batches fill across queries.
    let pairs: Vec<(&str, &str)> = queries
        .iter()
        .flat_map(|q| q.hits.iter().map(|h| (q.query.as_str(), h.text.as_str())))
        .collect();
    let start = std::time::Instant::now();
    let scores = model.predict(&pairs, &options).context("scoring")?;
    let seconds = start.elapsed().as_secs_f64();
    let pair_count = pairs.len();
    drop(pairs);
    let mut offset = 0;
    let mut reranked = Vec::with_capacity(queries.len());
    for query in queries {
        let n = query.hits.len();
        let own = &scores.data[offset..offset + n];
        let fused;
        let own = match args.first_stage_weight {
            Some(weight) => {
                let first: Vec<f32> = query.hits.iter().map(|h| h.score as f32).collect();
                fused = eval::fuse_first_stage(own, &first, weight)
                    .with_context(|| format!("fusing the scores of query {:?}", query.query))?;
                fused.as_slice()
            }
            None => own,
        };
        let ranking = model::rank_scores(own, args.top_k.map(|k| k as usize));
        offset += n;
        let mut hits: Vec<Option<HitOut>> = query.hits.into_iter().map(Some).collect();
        let hits = ranking
            .into_iter()
            .filter_map(|r| {
                hits[r.corpus_id].take().map(|hit| HitOut {
                    score: f64::from(r.score),
                    ..hit
                })
            })
            .collect();
        reranked.push(QueryResult {
            query: query.query,
            hits,
        });
    }
    eprintln!(
        "scored {} pairs of {} queries in {seconds:.2} s ({:.0} pairs/s)",
        pair_count,
        reranked.len(),
        pair_count as f64 / seconds.max(1e-9)
    );
    if args.first_stage_weight.is_some() {
        eprintln!("scores are the cross-encoder's fused with the first stage's");
    }
    match &args.output {
        Some(path) => {
            write_results(path, &reranked)?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            for query in &reranked {
                println!("query: {}", query.query);
                for (rank, hit) in query.hits.iter().enumerate() {
                    println!(
                        "{:>4}  {:>10.6}  {:>6}  {}",
                        rank + 1,
                        hit.score,
                        hit.id,
                        hit.text
                    );
                }
            }
        }
    }
    Ok(())
}

/// Fusion needs a finite first-stage score on every hit; names the file, query and hit.
fn check_first_stage_scores(path: &std::path::Path, queries: &[QueryResult]) -> Result<()> {
    for (row, query) in queries.iter().enumerate() {
        if let Some(hit) = query.hits.iter().position(|h| !h.score.is_finite()) {
            bail!(
                "{}: query {row} ({:?}), hit {hit}: --first-stage-weight needs a finite \
                 first-stage `score`, got {}",
                path.display(),
                query.query,
                query.hits[hit].score
            );
        }
    }
    Ok(())
}
