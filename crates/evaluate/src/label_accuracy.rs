//! sentence-transformers' `LabelAccuracyEvaluator`: how often the SoftmaxLoss classifier
//! trained beside the model picks each pair's gold label. It needs that loss, so it is bound
//! to the run's losses before training ([`Evaluator::attach_losses`]).

use config::{load_training_set, LabelAccuracySettings, TaskEvaluatorConfig};
use data::TargetColumn;
use eval::MetricValues;
use losses::PairClassifier;
use model::SentenceTransformer;
use tch::{Kind, Tensor};

use crate::embed::{encode, text_columns};
use crate::error::{Error, Result};
use crate::run_model::RunModel;
use crate::{Evaluator, NamedLoss};

pub struct LabelAccuracyEvaluator {
    name: String,
    first: Vec<String>,
    second: Vec<String>,
    labels: Vec<i64>,
    training_dataset: Option<String>,
    classifier: Option<PairClassifier>,
}

impl LabelAccuracyEvaluator {
    pub fn load(
        client: &hub::HubClient,
        config: &TaskEvaluatorConfig<LabelAccuracySettings>,
    ) -> Result<Self> {
        let name = config.name();
        let set = load_training_set(client, &config.data, 0)?;
        let columns = text_columns(&set, 2, &name)?;
        let TargetColumn::Classes { values, .. } = set.target() else {
            return Err(Error::Dataset(format!(
                "evaluator {name} needs a class label per pair (e.g. format = \"labelled_pairs\" \
                 or columns with label=), but its data has none"
            )));
        };
        Ok(Self {
            first: columns[0].clone(),
            second: columns[1].clone(),
            labels: values.clone(),
            training_dataset: config.settings.training_dataset.clone(),
            classifier: None,
            name,
        })
    }

    fn accuracy(&self, model: &SentenceTransformer, batch_size: usize) -> Result<f64> {
        let classifier = self.classifier.as_ref().ok_or_else(|| {
            Error::Dataset(format!(
                "evaluator {} has no SoftmaxLoss classifier to score (it runs only while training)",
                self.name
            ))
        })?;
        let torch = |source| Error::Torch {
            context: format!("scoring evaluator {}", self.name),
            source,
        };
        let to_tensor = |m: &model::EmbeddingMatrix| {
            Tensor::from_slice(&m.data).f_view([m.rows as i64, m.dim as i64])
        };
        let u = to_tensor(&encode(model, &self.first, batch_size)?).map_err(torch)?;
        let v = to_tensor(&encode(model, &self.second, batch_size)?).map_err(torch)?;
        let predicted = tch::no_grad(|| classifier.logits(&u, &v))
            .and_then(|logits| logits.f_argmax(1, false))
            .and_then(|p| p.f_to_device(tch::Device::Cpu))
            .map_err(torch)?;
        let gold = Tensor::from_slice(&self.labels);
        let correct = predicted
            .f_eq_tensor(&gold)
            .and_then(|c| c.f_sum(Kind::Int64))
            .and_then(|c| c.f_int64_value(&[]))
            .map_err(torch)?;
        Ok(correct as f64 / self.labels.len().max(1) as f64)
    }
}

impl Evaluator for LabelAccuracyEvaluator {
    fn name(&self) -> &str {
        &self.name
    }

    fn metric_names(&self) -> Vec<String> {
        vec!["accuracy".into()]
    }

    fn primary_metric(&self) -> &str {
        "accuracy"
    }

    /// Takes the classifier of the named training dataset's loss (or of the only one that
    /// has a classifier), naming what there is when that fails.
    fn attach_losses(&mut self, losses: &[NamedLoss<'_>]) -> Result<()> {
        let with_classifier: Vec<&NamedLoss<'_>> = losses
            .iter()
            .filter(|l| l.loss.pair_classifier().is_some())
            .collect();
        let chosen = match &self.training_dataset {
            Some(wanted) => with_classifier.iter().find(|l| l.dataset == *wanted),
            None if with_classifier.len() == 1 => with_classifier.first(),
            None => None,
        };
        let Some(chosen) = chosen else {
            let listed: Vec<String> = losses
                .iter()
                .map(|l| format!("{} ({})", l.dataset, l.loss.name()))
                .collect();
            return Err(Error::Config {
                origin: format!("evaluation.evaluators.{}", self.name),
                message: format!(
                    "label_accuracy scores a SoftmaxLoss classifier{}; the training datasets \
                     are {}",
                    match &self.training_dataset {
                        Some(w) => format!(" of training dataset {w:?}"),
                        None => ": set training_dataset to pick exactly one".into(),
                    },
                    listed.join(", ")
                ),
            });
        };
        self.classifier = chosen.loss.pair_classifier();
        Ok(())
    }

    fn evaluate(&self, model: &RunModel, batch_size: usize) -> Result<MetricValues> {
        let model = model.expect_bi(&format!("evaluator {}", self.name()))?;
        let accuracy = self.accuracy(model, batch_size)?;
        let mut metrics = MetricValues::new();
        metrics.push("accuracy", accuracy);
        Ok(metrics)
    }
}
