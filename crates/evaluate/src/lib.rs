//! sentence-transformers' evaluators on a model: each turns a bi-encoder or a cross-encoder
//! into named metrics plus a primary metric (sentence-transformers' `SentenceEvaluator`),
//! computing the metrics with the tensor-free `eval` crate. The trainer runs them while
//! training; `train-cli eval` runs them on a saved model; neither needs the other.

mod binary;
mod cross_encoder;
mod embed;
mod error;
mod label_accuracy;
mod paraphrase;
mod retrieval;
mod run_model;
mod sts;
mod triplet;

use config::EvaluatorConfig;
use eval::MetricValues;

pub use binary::BinaryEvaluator;
pub use cross_encoder::{
    read_reranking_samples, CrossEncoderClassification, CrossEncoderCorrelation,
    CrossEncoderReranking,
};
pub use error::{Error, Result};
pub use label_accuracy::LabelAccuracyEvaluator;
pub use paraphrase::ParaphraseEvaluator;
pub use retrieval::{load_retrieval_set, RetrievalEvaluator};
pub use run_model::RunModel;
pub use sts::StsEvaluator;
pub use triplet::TripletEvaluator;

/// An evaluation of a model.
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
    /// Called once a run's losses exist, before training, for evaluators that score a loss's
    /// own parameters (LabelAccuracy: SoftmaxLoss's classifier).
    fn attach_losses(&mut self, _losses: &[NamedLoss<'_>]) -> Result<()> {
        Ok(())
    }
}

/// A training dataset's loss, as evaluators see it.
pub struct NamedLoss<'a> {
    pub dataset: &'a str,
    pub loss: &'a dyn losses::Loss,
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
