//! sentence-transformers' `BinaryClassificationEvaluator`: labelled pairs, best thresholds.

use config::{load_training_set, TaskEvaluatorConfig};
use eval::{BinaryClassificationConfig, BinaryClassificationEvaluator, MetricValues, NamedMetrics};

use crate::embed::{binary_labels, encode, text_columns, view};
use crate::error::{Error, Result};
use crate::run_model::RunModel;
use crate::Evaluator;

pub struct BinaryEvaluator {
    name: String,
    first: Vec<String>,
    second: Vec<String>,
    evaluator: BinaryClassificationEvaluator,
    primary_metric: String,
}

impl BinaryEvaluator {
    pub fn load(
        client: &hub::HubClient,
        config: &TaskEvaluatorConfig<BinaryClassificationConfig>,
    ) -> Result<Self> {
        let name = config.name();
        let set = load_training_set(client, &config.data, 0)?;
        let columns = text_columns(&set, 2, &name)?;
        let labels = binary_labels(&set, &name)?.ok_or_else(|| {
            Error::Dataset(format!(
                "evaluator {name} needs a 0/1 label per pair, but its data has none"
            ))
        })?;
        let evaluator = BinaryClassificationEvaluator::new(&labels, config.settings.clone())?;
        Ok(Self {
            primary_metric: evaluator.primary_metric(),
            evaluator,
            first: columns[0].clone(),
            second: columns[1].clone(),
            name,
        })
    }
}

impl Evaluator for BinaryEvaluator {
    fn name(&self) -> &str {
        &self.name
    }

    fn metric_names(&self) -> Vec<String> {
        self.evaluator.metric_names()
    }

    fn primary_metric(&self) -> &str {
        &self.primary_metric
    }

    fn evaluate(&self, model: &RunModel, batch_size: usize) -> Result<MetricValues> {
        let model = model.expect_bi(&format!("evaluator {}", self.name()))?;
        let first = encode(model, &self.first, batch_size)?;
        let second = encode(model, &self.second, batch_size)?;
        Ok(self
            .evaluator
            .evaluate(view(&first)?, view(&second)?)?
            .metric_values())
    }
}
