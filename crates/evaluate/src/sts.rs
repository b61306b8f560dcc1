//! sentence-transformers' `EmbeddingSimilarityEvaluator` on scored sentence pairs.

use config::{load_sts_pairs, StsEvaluatorConfig};
use eval::{
    evaluate_sts, evaluate_sts_at_precision, normalize_sts_scores, Embeddings, MetricValues,
    NamedMetrics, Precision, StsMetrics,
};
use model::{EncodeOptions, SentenceTransformer};

use crate::error::Result;
use crate::run_model::RunModel;
use crate::Evaluator;

/// Sentence pairs with gold scores in `[0, 1]`.
#[derive(Debug, Clone)]
pub struct StsEvaluator {
    name: String,
    texts: Vec<String>,
    scores: Vec<f64>,
    precision: Option<Precision>,
}

impl StsEvaluator {
    pub fn load(client: &hub::HubClient, config: &StsEvaluatorConfig) -> Result<Self> {
        let pairs = load_sts_pairs(client, config)?;
        let raw: Vec<f32> = pairs.iter().map(|p| p.score).collect();
        let scores = normalize_sts_scores(&raw, config.score_max)?;
        // sentence1 of every pair, then sentence2: one encode call batches them best.
        let texts = pairs
            .iter()
            .map(|p| p.sentence1.clone())
            .chain(pairs.iter().map(|p| p.sentence2.clone()))
            .collect();
        Ok(Self {
            name: config.name(),
            texts,
            scores,
            precision: config.precision,
        })
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Embeds both columns in inference mode and correlates the similarities with the scores.
    pub fn evaluate_sts(
        &self,
        model: &SentenceTransformer,
        batch_size: usize,
    ) -> Result<StsMetrics> {
        let options = EncodeOptions {
            batch_size,
            // sentence-transformers normalises whenever a precision is set.
            normalize: self.precision.is_some(),
            show_progress: false,
            ..Default::default()
        };
        let embeddings = model.encode(&self.texts, &options)?;
        let (n, dim) = (self.scores.len(), embeddings.dim);
        let (first, second) = embeddings.data.split_at(n * dim);
        let (first, second) = (
            Embeddings::new(first, n, dim)?,
            Embeddings::new(second, n, dim)?,
        );
        Ok(match self.precision {
            None => evaluate_sts(first, second, &self.scores)?,
            Some(precision) => evaluate_sts_at_precision(first, second, &self.scores, precision)?,
        })
    }
}

impl Evaluator for StsEvaluator {
    fn name(&self) -> &str {
        &self.name
    }

    fn metric_names(&self) -> Vec<String> {
        // The keys do not depend on the values.
        StsMetrics::default()
            .metric_values()
            .names()
            .map(str::to_string)
            .collect()
    }

    fn primary_metric(&self) -> &str {
        "spearman_cosine"
    }

    fn evaluate(&self, model: &RunModel, batch_size: usize) -> Result<MetricValues> {
        let model = model.expect_bi(&format!("evaluator {}", self.name()))?;
        Ok(self.evaluate_sts(model, batch_size)?.metric_values())
    }
}
