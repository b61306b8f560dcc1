//! sentence-transformers' `InformationRetrievalEvaluator`: queries ranked against a corpus.

use std::num::NonZeroUsize;

use config::{load_training_set, resolve_dataset_file, RetrievalEvaluatorConfig, RetrievalSource};
use data::{NliColumns, RetrievalSet, UnlabeledRows};
use eval::{InformationRetrievalEvaluator, MetricValues, NamedMetrics};

use crate::embed::{encode, text_columns, view};
use crate::error::Result;
use crate::run_model::RunModel;
use crate::Evaluator;

pub struct RetrievalEvaluator {
    name: String,
    queries: Vec<String>,
    corpus: Vec<String>,
    evaluator: InformationRetrievalEvaluator,
    primary_metric: String,
}

impl RetrievalEvaluator {
    pub fn load(client: &hub::HubClient, config: &RetrievalEvaluatorConfig) -> Result<Self> {
        let name = config.name();
        let mut set = load_retrieval_set(client, &config.source, &name)?;
        if let Some(n) = config.max_queries.and_then(NonZeroUsize::new) {
            set.truncate_queries(n);
        }
        let evaluator = InformationRetrievalEvaluator::new(
            set.relevant(),
            set.corpus().len(),
            config.settings.clone(),
        )?;
        tracing::info!(
            evaluator = %name,
            queries = set.len(),
            corpus = set.corpus().len(),
            "retrieval task"
        );
        Ok(Self {
            primary_metric: evaluator.fixed_primary_metric(),
            name,
            queries: set.queries().iter().map(|(_, text)| text.clone()).collect(),
            corpus: set.corpus().iter().map(|(_, text)| text.clone()).collect(),
            evaluator,
        })
    }

    pub fn queries(&self) -> usize {
        self.queries.len()
    }

    pub fn corpus(&self) -> usize {
        self.corpus.len()
    }
}

/// The queries, corpus and relevance judgements `source` names (`name` is the evaluator's, for
/// errors).
pub fn load_retrieval_set(
    client: &hub::HubClient,
    source: &RetrievalSource,
    name: &str,
) -> Result<RetrievalSet> {
    Ok(match source {
        RetrievalSource::Nli { dataset, split } => {
            let path = resolve_dataset_file(client, dataset, split)?;
            let pairs = data::read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Skip)?;
            data::nli_retrieval(&pairs.pairs, None)?
        }
        RetrievalSource::Beir { dir, split } => data::read_beir(dir, split)?,
        RetrievalSource::Pairs { data } => {
            let set = load_training_set(client, data, 0)?;
            let names = set.column_names();
            text_columns(&set, 2, name)?;
            RetrievalSet::from_columns(&set, &names[0], &names[1])?
        }
    })
}

impl Evaluator for RetrievalEvaluator {
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
        let queries = encode(model, &self.queries, batch_size)?;
        let corpus = encode(model, &self.corpus, batch_size)?;
        let metrics = self.evaluator.evaluate(view(&queries)?, view(&corpus)?)?;
        Ok(metrics.metric_values())
    }
}
