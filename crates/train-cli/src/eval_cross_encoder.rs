//! `train-cli eval` of a cross-encoder: sentence-transformers' cross-encoder evaluators
//! (`CrossEncoderCorrelationEvaluator`, `CrossEncoderClassificationEvaluator`,
//! `CrossEncoderRerankingEvaluator`) on the model's `predict` scores.

use std::path::Path;

use anyhow::{bail, Context, Result};
use eval::{
    CrossEncoderClassificationEvaluator, CrossEncoderCorrelationEvaluator,
    CrossEncoderRerankingConfig, CrossEncoderRerankingEvaluator, NamedMetrics, RerankingSample,
};
use model::{CrossEncoder, CrossEncoderOptions, PredictOptions};
use trainer::DataFormat;

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

    fn evaluate(&self, scores: &[f32]) -> Result<(eval::MetricValues, String)> {
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
                (m.metric_values(), m.primary_metric().to_string())
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
                data::TargetColumn::None => {
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
            let Some(path) = &args.samples else {
                bail!(
                    "--task cross-encoder-reranking needs --samples: a .jsonl file of \
                     sentence-transformers' samples ({{\"query\", \"positive\", \"negative\" or \
                     \"documents\"}})"
                );
            };
            let mut samples = read_samples(path)?;
            if let Some(n) = max_rows {
                samples.truncate(n as usize);
            }
            let config = CrossEncoderRerankingConfig {
                at_k: args.at_k as usize,
                always_rerank_positives: !args.rerank_found_only,
            };
            let evaluator =
                CrossEncoderRerankingEvaluator::new(samples, config).with_context(|| {
                    format!("preparing the reranking evaluation of {}", path.display())
                })?;
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
        .evaluate(&scores.data)
        .with_context(|| format!("evaluating {}", args.model.model))?;
    crate::eval::print_metrics(args, &metrics, &primary, &model.dtype().to_string())
}

fn load(args: &EvalArgs) -> Result<CrossEncoder> {
    args.model
        .load_cross_encoder(&CrossEncoderOptions::default())
}

/// sentence-transformers' reranking samples, one JSON object a line.
fn read_samples(path: &Path) -> Result<Vec<RerankingSample>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let samples = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| {
                format!(
                    "{} line {} is not a reranking sample ({{\"query\", \"positive\", \
                     \"negative\" or \"documents\"}})",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect::<Result<Vec<RerankingSample>>>()?;
    if samples.is_empty() {
        bail!("{} holds no samples", path.display());
    }
    Ok(samples)
}
