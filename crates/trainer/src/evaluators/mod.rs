//! The evaluator seam: every evaluator turns a model into named metrics plus a primary metric
//! (sentence-transformers' `SentenceEvaluator`); the trainer, metrics.jsonl, best-model
//! selection, the plot, the model card and the CLI read only those.

mod binary;
mod cross_encoder;
mod embed;
mod label_accuracy;
mod paraphrase;
mod retrieval;
mod sts;
mod triplet;

use config::{EvaluationConfig, EvaluatorConfig};
use eval::MetricValues;

pub use binary::BinaryEvaluator;
pub use cross_encoder::{
    read_reranking_samples, CrossEncoderClassification, CrossEncoderCorrelation,
    CrossEncoderReranking,
};
pub use label_accuracy::LabelAccuracyEvaluator;
pub use paraphrase::ParaphraseEvaluator;
pub use retrieval::{load_retrieval_set, RetrievalEvaluator};
pub use sts::StsEvaluator;
pub use triplet::TripletEvaluator;

use crate::error::{Error, Result};
use crate::run_model::RunModel;

/// An evaluation run on the model while (and after) training.
pub trait Evaluator {
    /// The prefix of this evaluator's metric keys (`{name}_{metric}`).
    fn name(&self) -> &str;
    /// Every metric key [`Evaluator::evaluate`] reports, unprefixed, in its order.
    fn metric_names(&self) -> Vec<String>;
    /// The unprefixed key sentence-transformers calls this evaluator's `primary_metric`.
    fn primary_metric(&self) -> &str;
    /// Scores the model in inference mode; keys as [`Evaluator::metric_names`]. Embedding
    /// evaluators take a bi-encoder, the cross-encoder ones a cross-encoder; the other kind is
    /// an error.
    fn evaluate(&self, model: &RunModel, batch_size: usize) -> Result<MetricValues>;
    /// Called once the run's losses exist, before training, for evaluators that score a
    /// loss's own parameters (LabelAccuracy: SoftmaxLoss's classifier).
    fn attach_losses(&mut self, _losses: &[NamedLoss<'_>]) -> Result<()> {
        Ok(())
    }
}

/// A training dataset's loss, as evaluators see it.
pub struct NamedLoss<'a> {
    pub dataset: &'a str,
    pub loss: &'a dyn losses::Loss,
}

/// What one evaluator reported at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    pub evaluator: String,
    /// Unprefixed metric keys.
    pub metrics: MetricValues,
    pub primary_metric: String,
}

impl EvalReport {
    pub fn primary_value(&self) -> Option<f64> {
        self.metrics.get(&self.primary_metric)
    }
}

/// The metric that selects the best model: `{evaluator}_{metric}`, checked against what the
/// evaluators report before any training.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionMetric {
    pub evaluator: String,
    pub metric: String,
    pub greater_is_better: bool,
}

impl SelectionMetric {
    /// `evaluator_metric`, the key metrics.jsonl and the model card use.
    pub fn key(&self) -> String {
        format!("{}_{}", self.evaluator, self.metric)
    }

    /// This metric's value among one step's reports.
    pub fn value_in(&self, reports: &[EvalReport]) -> Option<f64> {
        reports
            .iter()
            .find(|r| r.evaluator == self.evaluator)
            .and_then(|r| r.metrics.get(&self.metric))
    }

    /// Whether `candidate` beats `incumbent` (ties keep the incumbent, as the HF trainer does).
    pub fn improves(&self, candidate: f64, incumbent: Option<f64>) -> bool {
        match incumbent {
            None => candidate.is_finite(),
            Some(best) if self.greater_is_better => candidate > best,
            Some(best) => candidate < best,
        }
    }
}

/// The configured evaluators, run in order (sentence-transformers' `SequentialEvaluator`).
pub struct EvaluatorSet {
    evaluators: Vec<Box<dyn Evaluator>>,
    batch_size: usize,
    selection: Option<SelectionMetric>,
}

impl EvaluatorSet {
    /// Loads every configured evaluator's data (before the model, so bad data fails fast),
    /// appends `custom` ones, and checks `metric_for_best_model` against the metrics they all
    /// report.
    pub fn from_config(
        client: &hub::HubClient,
        config: &EvaluationConfig,
        custom: Vec<Box<dyn Evaluator>>,
    ) -> Result<Self> {
        let mut evaluators = config
            .evaluators
            .iter()
            .map(|c| build(client, c))
            .collect::<Result<Vec<_>>>()?;
        evaluators.extend(custom);
        Self::new(evaluators, config)
    }

    /// A set of ready evaluators (for tests and custom evaluators).
    pub fn new(evaluators: Vec<Box<dyn Evaluator>>, config: &EvaluationConfig) -> Result<Self> {
        let selection = select_metric(&evaluators, config)?;
        Ok(Self {
            evaluators,
            batch_size: config.batch_size,
            selection,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.evaluators.is_empty()
    }

    pub fn names(&self) -> Vec<&str> {
        self.evaluators.iter().map(|e| e.name()).collect()
    }

    /// The metric best-model selection and the plot follow (`None` without evaluators).
    pub fn selection(&self) -> Option<&SelectionMetric> {
        self.selection.as_ref()
    }

    /// The primary metric of the evaluator named `name` (empty for an unknown name).
    pub fn primary_metric_of(&self, name: &str) -> String {
        self.evaluators
            .iter()
            .find(|e| e.name() == name)
            .map(|e| e.primary_metric().to_string())
            .unwrap_or_default()
    }

    /// Hands the run's losses to every evaluator ([`Evaluator::attach_losses`]).
    pub fn attach_losses(&mut self, losses: &[NamedLoss<'_>]) -> Result<()> {
        self.evaluators
            .iter_mut()
            .try_for_each(|e| e.attach_losses(losses))
    }

    /// Runs every evaluator in order.
    pub fn evaluate(&self, model: &RunModel) -> Result<Vec<EvalReport>> {
        self.evaluators
            .iter()
            .map(|e| {
                Ok(EvalReport {
                    evaluator: e.name().to_string(),
                    metrics: e.evaluate(model, self.batch_size)?,
                    primary_metric: e.primary_metric().to_string(),
                })
            })
            .collect()
    }
}

/// The evaluator `config` describes, its data loaded and checked (no model needed yet).
pub fn build(client: &hub::HubClient, config: &EvaluatorConfig) -> Result<Box<dyn Evaluator>> {
    Ok(match config {
        EvaluatorConfig::EmbeddingSimilarity(c) => Box::new(StsEvaluator::load(client, c)?),
        EvaluatorConfig::InformationRetrieval(c) => Box::new(RetrievalEvaluator::load(client, c)?),
        EvaluatorConfig::BinaryClassification(c) => Box::new(BinaryEvaluator::load(client, c)?),
        EvaluatorConfig::Triplet(c) => Box::new(TripletEvaluator::load(client, c)?),
        EvaluatorConfig::ParaphraseMining(c) => Box::new(ParaphraseEvaluator::load(client, c)?),
        EvaluatorConfig::LabelAccuracy(c) => Box::new(LabelAccuracyEvaluator::load(client, c)?),
        EvaluatorConfig::CrossEncoderCorrelation(c) => {
            Box::new(CrossEncoderCorrelation::load(client, c)?)
        }
        EvaluatorConfig::CrossEncoderReranking(c) => Box::new(CrossEncoderReranking::load(c)?),
        EvaluatorConfig::CrossEncoderClassification(c) => {
            Box::new(CrossEncoderClassification::load(client, c)?)
        }
    })
}

fn select_metric(
    evaluators: &[Box<dyn Evaluator>],
    config: &EvaluationConfig,
) -> Result<Option<SelectionMetric>> {
    let Some(first) = evaluators.first() else {
        return match &config.metric_for_best_model {
            Some(key) => Err(bad_metric(format!(
                "{key:?} names a metric, but there are no evaluators"
            ))),
            None => Ok(None),
        };
    };
    let Some(wanted) = &config.metric_for_best_model else {
        return Ok(Some(SelectionMetric {
            evaluator: first.name().to_string(),
            metric: first.primary_metric().to_string(),
            greater_is_better: config.greater_is_better,
        }));
    };
    let bare = wanted.strip_prefix("eval_").unwrap_or(wanted);
    let mut known = Vec::new();
    for evaluator in evaluators {
        for metric in evaluator.metric_names() {
            let key = format!("{}_{metric}", evaluator.name());
            if key == *wanted || key == bare {
                return Ok(Some(SelectionMetric {
                    evaluator: evaluator.name().to_string(),
                    metric,
                    greater_is_better: config.greater_is_better,
                }));
            }
            known.push(key);
        }
    }
    Err(bad_metric(format!(
        "no evaluator reports {wanted:?}; the metrics are {}",
        known.join(", ")
    )))
}

fn bad_metric(message: String) -> Error {
    Error::Config {
        origin: "evaluation.metric_for_best_model".into(),
        message,
    }
}
