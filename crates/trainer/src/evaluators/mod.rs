//! The evaluator seam while training: the `evaluate` crate's evaluators (each turns a model
//! into named metrics plus a primary metric, sentence-transformers' `SentenceEvaluator`) run in
//! order, and the metric that selects the best model; metrics.jsonl, best-model selection, the
//! plot and the model card read only their reports.

use config::EvaluationConfig;

use eval::MetricValues;
pub use evaluate::{
    build, load_retrieval_set, read_reranking_samples, BinaryEvaluator, CrossEncoderClassification,
    CrossEncoderCorrelation, CrossEncoderReranking, Evaluator, LabelAccuracyEvaluator, NamedLoss,
    ParaphraseEvaluator, RetrievalEvaluator, RunModel, StsEvaluator, TripletEvaluator,
};

use crate::error::{Error, Result};

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
            .map(|c| build(client, c).map_err(Error::from))
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
            .try_for_each(|e| e.attach_losses(losses).map_err(Error::from))
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
