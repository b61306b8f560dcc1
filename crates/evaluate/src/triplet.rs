//! sentence-transformers' `TripletEvaluator`: is the anchor closer to its positive?

use config::{load_training_set, TaskEvaluatorConfig};
use eval::{MetricValues, NamedMetrics, TripletConfig, TripletEvaluator as Triplets};

use crate::embed::{encode, text_columns, view};
use crate::error::Result;
use crate::run_model::RunModel;
use crate::Evaluator;

pub struct TripletEvaluator {
    name: String,
    columns: [Vec<String>; 3],
    evaluator: Triplets,
    primary_metric: String,
}

impl TripletEvaluator {
    pub fn load(
        client: &hub::HubClient,
        config: &TaskEvaluatorConfig<TripletConfig>,
    ) -> Result<Self> {
        let name = config.name();
        let set = load_training_set(client, &config.data, 0)?;
        let columns = text_columns(&set, 3, &name)?;
        let evaluator = Triplets::new(config.settings.clone())?;
        Ok(Self {
            primary_metric: evaluator.primary_metric(),
            columns: [columns[0].clone(), columns[1].clone(), columns[2].clone()],
            evaluator,
            name,
        })
    }
}

impl Evaluator for TripletEvaluator {
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
        let [a, p, n] = &self.columns;
        let (a, p, n) = (
            encode(model, a, batch_size)?,
            encode(model, p, batch_size)?,
            encode(model, n, batch_size)?,
        );
        Ok(self
            .evaluator
            .evaluate(view(&a)?, view(&p)?, view(&n)?)?
            .metric_values())
    }
}
