//! `train-cli eval` of a cross-encoder: sentence-transformers' cross-encoder evaluators
//! (`CrossEncoderCorrelationEvaluator`, `CrossEncoderClassificationEvaluator`,
//! `CrossEncoderRerankingEvaluator`) on the model's `predict` scores.

use std::num::NonZeroUsize;
use std::path::Path;

use anyhow::{bail, Context, Result};
use config::{DataFormat, RetrievalSource};
use eval::{
    CrossEncoderClassificationEvaluator, CrossEncoderCorrelationEvaluator,
    CrossEncoderRerankingConfig, CrossEncoderRerankingEvaluator, NamedMetrics, RerankingSample,
};
use model::{CrossEncoder, CrossEncoderOptions, PredictOptions};
use retrieval::search::{exact_search, Corpus};
use retrieval::{embed_texts, EmbedOptions, Role, DEFAULT_MAX_CHUNK_ELEMENTS};

use crate::eval::{EvalArgs, Task};
use crate::predict::read_pairs;

/// The evaluator a cross-encoder task builds, ready to score.
enum Evaluator {
    Correlation(CrossEncoderCorrelationEvaluator),
    Classification(CrossEncoderClassificationEvaluator),
    Reranking(CrossEncoderRerankingEvaluator),
}

impl Evaluator {
    fn pairs(&self) -> Vec<(&str, &str)> {
        match self {
            Evaluator::Correlation(e) => e.pairs(),
            Evaluator::Classification(e) => e.pairs(),
            Evaluator::Reranking(e) => e.pairs(),
        }
    }

    fn evaluate(
        &self,
        scores: &[f32],
        first_stage_weight: Option<f64>,
    ) -> Result<(eval::MetricValues, String)> {
        Ok(match self {
            Evaluator::Correlation(e) => {
                let m = e.evaluate(scores)?;
                (m.metric_values(), m.primary_metric().to_string())
            }
            Evaluator::Classification(e) => {
                let m = e.evaluate(scores)?;
                (m.metric_values(), m.primary_metric().to_string())
            }
            Evaluator::Reranking(e) => {
                let m = e.evaluate(scores)?;
                let mut values = m.metric_values();
                let mut primary = m.primary_metric().to_string();
                if let Some(weight) = first_stage_weight {
                    let mut fused = e.evaluate_fused(scores, weight)?;
                    // `base_*` are the first stage's either way.
                    fused.base = None;
                    let fused = fused.metric_values().prefixed("fused");
                    values.extend(fused);
                    primary = format!("fused_{primary}");
                }
                (values, primary)
            }
        })
    }
}

/// Runs a cross-encoder task of `train-cli eval`.
pub fn run(args: &EvalArgs) -> Result<()> {
    // The data first: a bad file fails before the (slower) model load.
    let client = hub::HubClient::from_env()?;
    let max_rows = args.max_rows;
    let model_labels = |model: &CrossEncoder| model.num_labels() as usize;
    let (evaluator, model) = match args.task {
        Task::CrossEncoderCorrelation => {
            let dataset = args.dataset.as_deref().unwrap_or("glue/stsb");
            let input = read_pairs(
                &client,
                dataset,
                args.columns.as_deref(),
                &args.split,
                max_rows,
                args.format,
            )?;
            let data::TargetColumn::Scores(gold) = input.target else {
                bail!("{dataset} has no gold scores (use a score= column or an STS dataset)");
            };
            let gold = gold.into_iter().map(f64::from).collect();
            let evaluator = CrossEncoderCorrelationEvaluator::new(input.pairs, gold)
                .with_context(|| format!("preparing the correlation evaluation on {dataset}"))?;
            (Evaluator::Correlation(evaluator), load(args)?)
        }
        Task::CrossEncoderClassification => {
            let dataset = args.dataset.as_deref().unwrap_or("snli");
            // The label count decides how NLI rows are read: 0/1 pairs for one score per
            // pair (entailment 1, contradiction 0), the three classes otherwise.
            let model = load(args)?;
            let format = args.format.or(if model_labels(&model) == 1 {
                Some(DataFormat::ScoredPairs)
            } else {
                None
            });
            let input = read_pairs(
                &client,
                dataset,
                args.columns.as_deref(),
                &args.split,
                max_rows,
                format,
            )?;
            let labels: Vec<i64> = match input.target {
                data::TargetColumn::Classes { values, .. } => values,
                data::TargetColumn::Scores(scores) => scores.iter().map(|&s| s as i64).collect(),
                data::TargetColumn::None | data::TargetColumn::Vectors { .. } => {
                    bail!("{dataset} has no labels (use a label= column or an NLI dataset)")
                }
            };
            let evaluator = CrossEncoderClassificationEvaluator::new(
                input.pairs,
                &labels,
                model_labels(&model),
            )
            .with_context(|| format!("preparing the classification evaluation on {dataset}"))?;
            (Evaluator::Classification(evaluator), model)
        }
        Task::CrossEncoderReranking => {
            let (mut samples, origin) = match (&args.samples, &args.retriever) {
                (Some(path), _) => (
                    evaluate::read_reranking_samples(path)?,
                    path.display().to_string(),
                ),
                (None, Some(retriever)) => (
                    {
                        // The cross-encoder must exist before the (slower) first stage runs.
                        args.model.resolve_dir()?;
                        first_stage_samples(&client, args, retriever)?
                    },
                    format!("{retriever}'s top {}", args.top_k),
                ),
                (None, None) => bail!(
                    "--task cross-encoder-reranking needs --samples (a .jsonl file of \
                     sentence-transformers' samples: {{\"query\", \"positive\", \"negative\" or \
                     \"documents\"}}) or --retriever (a bi-encoder whose top --top-k documents \
                     of a retrieval task are reranked)"
                ),
            };
            if let Some(n) = max_rows {
                samples.truncate(n as usize);
            }
            if let Some(weight) = args.first_stage_weight {
                eval::check_first_stage_weight(weight).context("--first-stage-weight")?;
                if let Some(row) = samples
                    .iter()
                    .position(|s| s.first_stage_scores().is_none())
                {
                    bail!(
                        "--first-stage-weight fuses the first stage's scores, but sample {row} \
                         of {origin} has no `scores` (use --retriever, or samples written by \
                         --write-samples with --retriever)"
                    );
                }
            }
            if let Some(path) = &args.write_samples {
                write_samples(path, &samples)?;
            }
            let config = CrossEncoderRerankingConfig {
                at_k: args.at_k as usize,
                always_rerank_positives: !args.rerank_found_only,
            };
            let evaluator = CrossEncoderRerankingEvaluator::new(samples, config)
                .with_context(|| format!("preparing the reranking evaluation of {origin}"))?;
            (Evaluator::Reranking(evaluator), load(args)?)
        }
        other => bail!("--task {other:?} is not a cross-encoder task"),
    };
    let options = PredictOptions {
        batch_size: args.model.runtime.batch_size as usize,
        ..Default::default()
    };
    let scores = model
        .predict(&evaluator.pairs(), &options)
        .context("scoring the evaluation pairs")?;
    let (metrics, primary) = evaluator
        .evaluate(&scores.data, args.first_stage_weight)
        .with_context(|| format!("evaluating {}", args.model.model))?;
    crate::eval::print_metrics(args, &metrics, &primary, &model.dtype().to_string())
}

fn load(args: &EvalArgs) -> Result<CrossEncoder> {
    args.model
        .load_cross_encoder(&CrossEncoderOptions::default())
}

/// Reranking samples from a first stage: `retriever`'s exact cosine top `--top-k` of each
/// query of the retrieval task the flags name, with the task's relevant documents as the
/// positives.
fn first_stage_samples(
    client: &hub::HubClient,
    args: &EvalArgs,
    retriever: &str,
) -> Result<Vec<RerankingSample>> {
    let source = match &args.beir {
        Some(dir) => RetrievalSource::Beir {
            dir: dir.clone(),
            split: args.split.clone(),
        },
        None => RetrievalSource::Nli {
            dataset: args.dataset.clone().unwrap_or_else(|| "snli".into()),
            split: args.split.clone(),
        },
    };
    let mut set = evaluate::load_retrieval_set(client, &source, "first stage")
        .context("reading the retrieval task")?;
    if let Some(n) = args.max_queries.and_then(|n| NonZeroUsize::new(n as usize)) {
        set.truncate_queries(n);
    }
    let bi = crate::load::ModelArgs {
        model: retriever.to_string(),
        runtime: args.model.runtime.clone(),
    }
    .load()?;
    let queries: Vec<String> = set.queries().iter().map(|(_, t)| t.clone()).collect();
    let corpus: Vec<String> = set.corpus().iter().map(|(_, t)| t.clone()).collect();
    let batch = args.model.runtime.batch_size as usize;
    let embed = |texts: &[String], role| -> Result<model::EmbeddingMatrix> {
        Ok(embed_texts(
            &bi,
            texts,
            role,
            &EmbedOptions::default(),
            batch,
            false,
        )?)
    };
    let corpus_embeddings = embed(&corpus, Role::Document)?;
    let query_embeddings = embed(&queries, Role::Query)?;
    let index = Corpus::quantize_from(view(&corpus_embeddings)?, eval::Precision::Float32, None)?;
    let hits = exact_search(
        &index,
        &index.quantize(view(&query_embeddings)?)?,
        args.top_k as usize,
        DEFAULT_MAX_CHUNK_ELEMENTS,
    )?;
    eprintln!(
        "first stage: {retriever}, top {} of {} documents for {} queries",
        args.top_k,
        corpus.len(),
        queries.len()
    );
    let text = |row: usize| -> Result<String> {
        corpus.get(row).cloned().with_context(|| {
            format!(
                "the first stage returned document {row} of {}",
                corpus.len()
            )
        })
    };
    queries
        .into_iter()
        .zip(hits)
        .zip(set.relevant())
        .map(|((query, hits), relevant)| {
            Ok(RerankingSample::with_documents(
                query,
                relevant.iter().map(|&d| text(d)).collect::<Result<_>>()?,
                hits.iter().map(|h| text(h.row)).collect::<Result<_>>()?,
            )
            .with_first_stage_scores(hits.iter().map(|h| h.score as f32).collect())?)
        })
        .collect()
}

fn view(m: &model::EmbeddingMatrix) -> Result<eval::Embeddings<'_>> {
    Ok(eval::Embeddings::new(&m.data, m.rows, m.dim)?)
}

/// Writes `samples` as sentence-transformers' reranking samples, one JSON object a line (what
/// `--samples` and the `cross_encoder_reranking` training evaluator read).
fn write_samples(path: &Path, samples: &[RerankingSample]) -> Result<()> {
    let mut text = String::new();
    for sample in samples {
        text.push_str(&serde_json::to_string(sample).context("writing a reranking sample")?);
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {} samples to {}", samples.len(), path.display());
    Ok(())
}
