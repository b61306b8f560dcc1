//! sentence-transformers' cross-encoder evaluators while training a cross-encoder: the
//! model's `predict` scores of each pair (its default activation, as sentence-transformers'
//! evaluators call `predict`) handed to `eval`'s `CrossEncoderCorrelationEvaluator` and
//! `CrossEncoderClassificationEvaluator`, and `CrossEncoderRerankingEvaluator` on samples
//! read from a file.

use std::path::Path;

use config::{
    load_sts_pairs, load_training_set, NoSettings, RerankingEvaluatorConfig, StsEvaluatorConfig,
    TaskEvaluatorConfig,
};
use data::TargetColumn;
use eval::{
    normalize_sts_scores, CrossEncoderClassificationEvaluator, CrossEncoderCorrelationEvaluator,
    CrossEncoderRerankingConfig, CrossEncoderRerankingEvaluator, MetricValues, NamedMetrics,
    RerankingSample,
};
use model::{CrossEncoder, PredictOptions};

use crate::embed::{binary_labels, text_columns};
use crate::error::{Error, Result};
use crate::run_model::RunModel;
use crate::Evaluator;

fn predict(model: &CrossEncoder, pairs: &[(&str, &str)], batch_size: usize) -> Result<Vec<f32>> {
    let options = PredictOptions {
        batch_size,
        ..Default::default()
    };
    Ok(model.predict(pairs, &options)?.data)
}

/// `CrossEncoderCorrelationEvaluator`: Pearson and Spearman of the pair scores against gold
/// scores (STS-like pairs, the gold divided by `score_max`).
pub struct CrossEncoderCorrelation {
    name: String,
    evaluator: CrossEncoderCorrelationEvaluator,
}

impl CrossEncoderCorrelation {
    pub fn load(client: &hub::HubClient, config: &StsEvaluatorConfig) -> Result<Self> {
        let pairs = load_sts_pairs(client, config)?;
        let raw: Vec<f32> = pairs.iter().map(|p| p.score).collect();
        let gold = normalize_sts_scores(&raw, config.score_max)?;
        let texts = pairs
            .into_iter()
            .map(|p| (p.sentence1, p.sentence2))
            .collect();
        Ok(Self {
            name: config.name(),
            evaluator: CrossEncoderCorrelationEvaluator::new(texts, gold)?,
        })
    }
}

impl Evaluator for CrossEncoderCorrelation {
    fn name(&self) -> &str {
        &self.name
    }

    fn metric_names(&self) -> Vec<String> {
        self.evaluator.metric_names()
    }

    fn primary_metric(&self) -> &str {
        "spearman"
    }

    fn evaluate(&self, model: &RunModel, batch_size: usize) -> Result<MetricValues> {
        let model = model.expect_cross(&format!("evaluator {}", self.name))?;
        let scores = predict(model, &self.evaluator.pairs(), batch_size)?;
        Ok(self.evaluator.evaluate(&scores)?.metric_values())
    }
}

/// `CrossEncoderClassificationEvaluator`: binary metrics (accuracy, F1, precision, recall,
/// average precision at the best thresholds) for a one-label model on 0/1 labels; macro,
/// micro and weighted F1 of the arg-max class for a model with several labels.
pub struct CrossEncoderClassification {
    name: String,
    pairs: Vec<(String, String)>,
    labels: Vec<i64>,
    /// Built for the label count the data suggests (1 for 0/1 labels, else the largest
    /// class + 1) so that the metric names are known before the model; rebuilt for the model's
    /// own count if that differs.
    evaluator: CrossEncoderClassificationEvaluator,
    primary: String,
}

impl CrossEncoderClassification {
    pub fn load(client: &hub::HubClient, config: &TaskEvaluatorConfig<NoSettings>) -> Result<Self> {
        let name = config.name();
        let set = load_training_set(client, &config.data, 0)?;
        let columns = text_columns(&set, 2, &name)?;
        // Classes as they are (several labels); scores must be 0/1 (one label).
        let labels = match set.target() {
            TargetColumn::Classes { values, .. } => Some(values.clone()),
            _ => binary_labels(&set, &name)?,
        }
        .ok_or_else(|| {
            Error::Dataset(format!(
                "evaluator {name} needs a label per pair (e.g. format = \"labelled_pairs\", or \
                 \"scored_pairs\" with neutral = \"drop\"), but its data has none"
            ))
        })?;
        let pairs: Vec<(String, String)> = columns[0]
            .iter()
            .cloned()
            .zip(columns[1].iter().cloned())
            .collect();
        let largest = labels.iter().copied().max().unwrap_or(0);
        let num_labels = if largest <= 1 {
            1
        } else {
            largest as usize + 1
        };
        let evaluator =
            CrossEncoderClassificationEvaluator::new(pairs.clone(), &labels, num_labels)?;
        Ok(Self {
            primary: evaluator.primary_metric(),
            name,
            pairs,
            labels,
            evaluator,
        })
    }
}

impl Evaluator for CrossEncoderClassification {
    fn name(&self) -> &str {
        &self.name
    }

    fn metric_names(&self) -> Vec<String> {
        self.evaluator.metric_names()
    }

    fn primary_metric(&self) -> &str {
        &self.primary
    }

    fn evaluate(&self, model: &RunModel, batch_size: usize) -> Result<MetricValues> {
        let model = model.expect_cross(&format!("evaluator {}", self.name))?;
        let num_labels = model.num_labels() as usize;
        let rebuilt;
        let evaluator = if num_labels == self.evaluator.num_labels() {
            &self.evaluator
        } else {
            rebuilt = CrossEncoderClassificationEvaluator::new(
                self.pairs.clone(),
                &self.labels,
                num_labels,
            )?;
            &rebuilt
        };
        let scores = predict(model, &evaluator.pairs(), batch_size)?;
        Ok(evaluator.evaluate(&scores)?.metric_values())
    }
}

/// `CrossEncoderRerankingEvaluator`: MAP, MRR@k and NDCG@k of each sample's candidates ranked
/// by the model's scores.
pub struct CrossEncoderReranking {
    name: String,
    evaluator: CrossEncoderRerankingEvaluator,
    primary: String,
}

impl CrossEncoderReranking {
    pub fn load(config: &RerankingEvaluatorConfig) -> Result<Self> {
        let name = config.name();
        let mut samples = read_reranking_samples(&config.samples)?;
        if let Some(n) = config.max_samples {
            samples.truncate(n);
        }
        let settings = CrossEncoderRerankingConfig {
            at_k: config.at_k,
            always_rerank_positives: config.always_rerank_positives,
        };
        let evaluator = CrossEncoderRerankingEvaluator::new(samples, settings).map_err(|e| {
            Error::Dataset(format!(
                "evaluator {name}: the samples of {}: {e}",
                config.samples.display()
            ))
        })?;
        Ok(Self {
            primary: evaluator.primary_metric(),
            name,
            evaluator,
        })
    }
}

impl Evaluator for CrossEncoderReranking {
    fn name(&self) -> &str {
        &self.name
    }

    fn metric_names(&self) -> Vec<String> {
        self.evaluator.metric_names()
    }

    fn primary_metric(&self) -> &str {
        &self.primary
    }

    fn evaluate(&self, model: &RunModel, batch_size: usize) -> Result<MetricValues> {
        let model = model.expect_cross(&format!("evaluator {}", self.name))?;
        let scores = predict(model, &self.evaluator.pairs(), batch_size)?;
        Ok(self.evaluator.evaluate(&scores)?.metric_values())
    }
}

/// sentence-transformers' reranking samples, one JSON object a line (blank lines skipped); an
/// unreadable file, a line that is not a sample, or no samples is an error naming the file
/// (and line).
pub fn read_reranking_samples(path: &Path) -> Result<Vec<RerankingSample>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Dataset(format!(
            "reading the reranking samples {}: {e}",
            path.display()
        ))
    })?;
    let samples = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                Error::Dataset(format!(
                    "{} line {} is not a reranking sample ({{\"query\", \"positive\", \
                     \"negative\" or \"documents\"}}): {e}",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect::<Result<Vec<RerankingSample>>>()?;
    if samples.is_empty() {
        return Err(Error::Dataset(format!(
            "{} holds no reranking samples",
            path.display()
        )));
    }
    Ok(samples)
}
