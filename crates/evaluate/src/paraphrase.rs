//! sentence-transformers' `ParaphraseMiningEvaluator`: mine the most similar pairs among all
//! texts and compare them with the gold duplicates.

use std::collections::HashMap;

use config::{load_training_set, TaskEvaluatorConfig};
use eval::{MetricValues, NamedMetrics, ParaphraseMiningConfig, ParaphraseMiningEvaluator};

use crate::embed::{binary_labels, encode, text_columns, view};
use crate::error::{Error, Result};
use crate::run_model::RunModel;
use crate::Evaluator;

pub struct ParaphraseEvaluator {
    name: String,
    sentences: Vec<String>,
    evaluator: ParaphraseMiningEvaluator,
}

impl ParaphraseEvaluator {
    pub fn load(
        client: &hub::HubClient,
        config: &TaskEvaluatorConfig<ParaphraseMiningConfig>,
    ) -> Result<Self> {
        let name = config.name();
        let set = load_training_set(client, &config.data, 0)?;
        let columns = text_columns(&set, 2, &name)?;
        let labels = binary_labels(&set, &name)?;
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut sentences: Vec<String> = Vec::new();
        let mut duplicates = Vec::new();
        for (row, (a, b)) in columns[0].iter().zip(&columns[1]).enumerate() {
            let mut ids = [0usize; 2];
            for (id, text) in ids.iter_mut().zip([a.as_str(), b.as_str()]) {
                let next = index.len();
                *id = *index.entry(text).or_insert(next);
                if *id == next {
                    sentences.push(text.to_string());
                }
            }
            let gold = labels.as_ref().is_none_or(|l| l[row] == 1);
            if gold && ids[0] != ids[1] {
                duplicates.push((ids[0], ids[1]));
            }
        }
        if duplicates.is_empty() {
            return Err(Error::Dataset(format!(
                "evaluator {name}: no pair of distinct texts is a gold duplicate"
            )));
        }
        let evaluator =
            ParaphraseMiningEvaluator::new(sentences.len(), &duplicates, config.settings)?;
        Ok(Self {
            name,
            sentences,
            evaluator,
        })
    }
}

impl Evaluator for ParaphraseEvaluator {
    fn name(&self) -> &str {
        &self.name
    }

    fn metric_names(&self) -> Vec<String> {
        ParaphraseMiningEvaluator::metric_names()
    }

    fn primary_metric(&self) -> &str {
        "average_precision"
    }

    fn evaluate(&self, model: &RunModel, batch_size: usize) -> Result<MetricValues> {
        let model = model.expect_bi(&format!("evaluator {}", self.name()))?;
        let embeddings = encode(model, &self.sentences, batch_size)?;
        Ok(self.evaluator.evaluate(view(&embeddings)?)?.metric_values())
    }
}
