//! The evaluators a config can name: `[[evaluation.evaluators]]` entries tagged by `type`,
//! one per sentence-transformers evaluator class. Each takes its rows from a dataset as the
//! training data does (`data = { dataset, split, format, columns, max_rows }`) and
//! sentence-transformers' own arguments under `settings`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::train::DataConfig;

/// One evaluator, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EvaluatorConfig {
    /// `EmbeddingSimilarityEvaluator`: Pearson and Spearman of similarities against gold scores.
    EmbeddingSimilarity(StsEvaluatorConfig),
    /// `InformationRetrievalEvaluator`: accuracy, precision, recall, NDCG, MRR and MAP at k.
    InformationRetrieval(RetrievalEvaluatorConfig),
    /// `BinaryClassificationEvaluator` on (text, text, 0/1 label) rows: `format =
    /// "scored_pairs"` with `neutral = "drop"` on NLI (entailment 1, contradiction 0), or
    /// columns with `label=`.
    BinaryClassification(TaskEvaluatorConfig<eval::BinaryClassificationConfig>),
    /// `TripletEvaluator` on (anchor, positive, negative) rows, e.g. `format = "hard_triplets"`.
    Triplet(TaskEvaluatorConfig<eval::TripletConfig>),
    /// `ParaphraseMiningEvaluator`: every distinct text of (text, text[, 0/1 label]) rows is
    /// mined; the rows (those labelled 1, when labelled) are the gold duplicates.
    ParaphraseMining(TaskEvaluatorConfig<eval::ParaphraseMiningConfig>),
    /// `LabelAccuracyEvaluator`: the accuracy of a SoftmaxLoss classifier trained in this
    /// run on (text, text, class) rows, e.g. NLI `format = "labelled_pairs"`. Only while
    /// training: the classifier is the loss's, not part of the saved model.
    LabelAccuracy(TaskEvaluatorConfig<LabelAccuracySettings>),
    /// `CrossEncoderCorrelationEvaluator` (cross-encoder runs): Pearson and Spearman of the
    /// model's pair scores against gold scores, on STS-like pairs read as
    /// `embedding_similarity` reads them (`precision` does not apply).
    CrossEncoderCorrelation(StsEvaluatorConfig),
    /// `CrossEncoderClassificationEvaluator` (cross-encoder runs) on (text, text, label) rows:
    /// NLI `format = "labelled_pairs"` for a three-label model, `format = "scored_pairs"`
    /// with `neutral = "drop"` (entailment 1, contradiction 0) for a one-label model, or
    /// columns with `label=`.
    CrossEncoderClassification(TaskEvaluatorConfig<NoSettings>),
    /// `CrossEncoderRerankingEvaluator` (cross-encoder runs): MAP, MRR@k and NDCG@k of each
    /// sample's candidates reranked by the model (and `base_*` of a first stage's order), on
    /// sentence-transformers' samples, one JSON object a line: `{"query", "positive": […],
    /// "negative": […]}` or `{…, "documents": […]}` (`train-cli eval --task
    /// cross-encoder-reranking --retriever … --write-samples` writes a first stage's).
    CrossEncoderReranking(RerankingEvaluatorConfig),
}

/// A reranking evaluation's samples and sentence-transformers' arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RerankingEvaluatorConfig {
    /// Metric key prefix (default: the samples file's stem).
    pub name: Option<String>,
    /// The samples, a .jsonl file.
    pub samples: PathBuf,
    /// The cut-off of MRR and NDCG.
    pub at_k: usize,
    /// Rank every positive, found by the first stage or not (sentence-transformers' default),
    /// or (`false`) only a sample's `documents` as given.
    pub always_rerank_positives: bool,
    /// Evaluate on the first this many samples only.
    pub max_samples: Option<usize>,
}

impl Default for RerankingEvaluatorConfig {
    fn default() -> Self {
        Self {
            name: None,
            samples: PathBuf::new(),
            at_k: 10,
            always_rerank_positives: true,
            max_samples: None,
        }
    }
}

impl RerankingEvaluatorConfig {
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.samples
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("reranking")
                .to_string()
        })
    }
}

/// An evaluator without arguments of its own (an empty `settings`, or none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// Which training dataset's SoftmaxLoss a `label_accuracy` evaluator scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LabelAccuracySettings {
    /// A `[[datasets]]` name; by default the run's only dataset with a SoftmaxLoss.
    pub training_dataset: Option<String>,
}

impl EvaluatorConfig {
    /// The prefix of this evaluator's metric keys.
    pub fn name(&self) -> String {
        match self {
            EvaluatorConfig::EmbeddingSimilarity(c) => c.name(),
            EvaluatorConfig::InformationRetrieval(c) => c.name(),
            EvaluatorConfig::BinaryClassification(c) => c.name(),
            EvaluatorConfig::Triplet(c) => c.name(),
            EvaluatorConfig::ParaphraseMining(c) => c.name(),
            EvaluatorConfig::LabelAccuracy(c) => c.name(),
            EvaluatorConfig::CrossEncoderCorrelation(c) => c.name(),
            EvaluatorConfig::CrossEncoderClassification(c) => c.name(),
            EvaluatorConfig::CrossEncoderReranking(c) => c.name(),
        }
    }

    /// Whether it scores a cross-encoder (the others embed with a bi-encoder).
    pub fn scores_pairs(&self) -> bool {
        matches!(
            self,
            EvaluatorConfig::CrossEncoderCorrelation(_)
                | EvaluatorConfig::CrossEncoderClassification(_)
                | EvaluatorConfig::CrossEncoderReranking(_)
        )
    }

    /// Checks what serde cannot; the message starts with the offending key.
    pub fn validate(&self) -> Result<(), String> {
        if self.name().is_empty() {
            return Err("name must not be empty".into());
        }
        let positive = |key: &str, value: Option<usize>| match value {
            Some(0) => Err(format!("{key} must be at least 1")),
            _ => Ok(()),
        };
        match self {
            EvaluatorConfig::EmbeddingSimilarity(c) => {
                if c.score_max.is_nan() || c.score_max <= 0.0 {
                    return Err("score_max must be positive".into());
                }
                positive("max_pairs", c.max_pairs)
            }
            EvaluatorConfig::InformationRetrieval(c) => {
                if let RetrievalSource::Pairs { data } = &c.source {
                    positive("source.data.max_rows", data.max_rows)?;
                }
                positive("max_queries", c.max_queries)
            }
            EvaluatorConfig::BinaryClassification(c) => positive("data.max_rows", c.data.max_rows),
            EvaluatorConfig::Triplet(c) => positive("data.max_rows", c.data.max_rows),
            EvaluatorConfig::ParaphraseMining(c) => positive("data.max_rows", c.data.max_rows),
            EvaluatorConfig::LabelAccuracy(c) => positive("data.max_rows", c.data.max_rows),
            EvaluatorConfig::CrossEncoderCorrelation(c) => {
                if c.precision.is_some() {
                    return Err(
                        "precision: a cross-encoder scores pairs, it has no embeddings \
                                to quantize"
                            .into(),
                    );
                }
                if c.score_max.is_nan() || c.score_max <= 0.0 {
                    return Err("score_max must be positive".into());
                }
                positive("max_pairs", c.max_pairs)
            }
            EvaluatorConfig::CrossEncoderClassification(c) => {
                positive("data.max_rows", c.data.max_rows)
            }
            EvaluatorConfig::CrossEncoderReranking(c) => {
                if c.samples.as_os_str().is_empty() {
                    return Err("samples: name the .jsonl file of reranking samples".into());
                }
                positive("at_k", Some(c.at_k))?;
                positive("max_samples", c.max_samples)
            }
        }
    }
}

/// Scored sentence pairs (STS-like parquet: sentence1, sentence2, score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StsEvaluatorConfig {
    /// Metric key prefix (default: the dataset's last path part and the split, `stsb-validation`).
    pub name: Option<String>,
    /// A known hub dataset (glue/stsb) or a local parquet file.
    pub dataset: String,
    pub split: String,
    /// The largest gold score (scores are divided by it).
    pub score_max: f64,
    /// Evaluate on the first this many pairs only.
    pub max_pairs: Option<usize>,
    /// Score quantized embeddings, as `EmbeddingSimilarityEvaluator(precision=…)`: `float32`,
    /// `int8`, `uint8`, `binary` or `ubinary`. The embeddings are L2-normalised first (as
    /// sentence-transformers encodes them whenever a precision is set) and the metric keys'
    /// prefix gains `_{precision}`. Unset: the model's own embeddings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<eval::Precision>,
}

impl Default for StsEvaluatorConfig {
    fn default() -> Self {
        Self {
            name: None,
            dataset: "glue/stsb".into(),
            split: "validation".into(),
            score_max: 5.0,
            max_pairs: None,
            precision: None,
        }
    }
}

impl StsEvaluatorConfig {
    /// The metric key prefix: `name`, or the dataset's, then `_{precision}` when one is set
    /// (as sentence-transformers names it).
    pub fn name(&self) -> String {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| default_evaluator_name(&self.dataset, &self.split));
        match self.precision {
            Some(precision) => format!("{name}_{precision}"),
            None => name,
        }
    }
}

/// An evaluator over rows built as `data` describes, with sentence-transformers' arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskEvaluatorConfig<S> {
    /// Metric key prefix (default: the dataset's last path part and the split).
    pub name: Option<String>,
    pub data: DataConfig,
    pub settings: S,
}

impl<S: Default> Default for TaskEvaluatorConfig<S> {
    fn default() -> Self {
        Self {
            name: None,
            data: DataConfig::default(),
            settings: S::default(),
        }
    }
}

impl<S> TaskEvaluatorConfig<S> {
    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| default_evaluator_name(&self.data.dataset, &self.data.split))
    }
}

/// Queries, a corpus and relevance judgements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalEvaluatorConfig {
    /// Metric key prefix (default: `{dataset or folder}-{split}-retrieval`).
    pub name: Option<String>,
    pub source: RetrievalSource,
    /// Keep the first this many queries (the corpus stays whole).
    pub max_queries: Option<usize>,
    pub settings: eval::InformationRetrievalConfig,
}

impl RetrievalEvaluatorConfig {
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let base = match &self.source {
                RetrievalSource::Nli { dataset, split } => default_evaluator_name(dataset, split),
                RetrievalSource::Beir { dir, split } => {
                    default_evaluator_name(&dir.display().to_string(), split)
                }
                RetrievalSource::Pairs { data } => {
                    default_evaluator_name(&data.dataset, &data.split)
                }
            };
            format!("{base}-retrieval")
        })
    }
}

/// Where a retrieval task's queries, corpus and judgements come from (`kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RetrievalSource {
    /// NLI rows (glue/mnli, snli, or a local file with premise, hypothesis, label): each
    /// distinct premise is a query, every distinct hypothesis is in the corpus, and a
    /// premise's entailment hypotheses are relevant.
    Nli { dataset: String, split: String },
    /// A BEIR folder: `corpus.jsonl`, `queries.jsonl`, `qrels/{split}.tsv`.
    Beir { dir: PathBuf, split: String },
    /// (query, positive) rows read as `data` describes (its first two text columns); the
    /// distinct positives are the corpus.
    Pairs { data: DataConfig },
}

impl Default for RetrievalSource {
    fn default() -> Self {
        RetrievalSource::Nli {
            dataset: "snli".into(),
            split: "validation".into(),
        }
    }
}

/// `glue/stsb` + `validation` → `stsb-validation`; a file path gives its stem.
fn default_evaluator_name(dataset: &str, split: &str) -> String {
    let base = Path::new(dataset)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| dataset.to_string());
    format!("{base}-{split}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{DataFormat, TrainConfig};

    #[test]
    fn every_evaluator_type_parses_from_toml() {
        let text = r#"
[evaluation]
evaluators = [
  { type = "embedding_similarity", dataset = "glue/stsb", split = "validation" },
  { type = "information_retrieval", source = { kind = "nli", dataset = "snli", split = "validation" }, max_queries = 100, settings = { ndcg_at_k = [10, 100] } },
  { type = "information_retrieval", name = "qa", source = { kind = "beir", dir = "data/scifact", split = "test" } },
  { type = "binary_classification", data = { dataset = "snli", split = "validation", format = "scored_pairs", neutral = "drop" } },
  { type = "triplet", name = "snli-triplets", data = { dataset = "snli", split = "validation", format = "hard_triplets" }, settings = { similarity_fn_names = ["cosine", "dot"] } },
  { type = "paraphrase_mining", name = "dups", data = { dataset = "pairs.jsonl", format = "columns", columns = "sentence1=a,sentence2=b" } },
]
"#;
        let config = TrainConfig::from_toml(text, "test.toml", &[]).unwrap();
        let names: Vec<String> = config
            .evaluation
            .evaluators
            .iter()
            .map(EvaluatorConfig::name)
            .collect();
        assert_eq!(
            names,
            [
                "stsb-validation",
                "snli-validation-retrieval",
                "qa",
                "snli-validation",
                "snli-triplets",
                "dups"
            ]
        );
        match &config.evaluation.evaluators[4] {
            EvaluatorConfig::Triplet(t) => {
                assert_eq!(t.data.format, DataFormat::HardTriplets);
                assert_eq!(t.settings.similarity_fn_names.len(), 2);
            }
            other => panic!("not a triplet evaluator: {other:?}"),
        }
    }

    #[test]
    fn two_evaluators_of_one_name_and_unknown_keys_are_errors() {
        let twice = r#"
[evaluation]
evaluators = [
  { type = "binary_classification", data = { dataset = "snli", split = "validation" } },
  { type = "triplet", data = { dataset = "snli", split = "validation" } },
]
"#;
        let err = TrainConfig::from_toml(twice, "t.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("evaluation.evaluators[1]") && err.contains("snli-validation"),
            "{err}"
        );
        let unknown = "[evaluation]\nevaluators = [{ type = \"triplet\", margin = 1 }]\n";
        let err = TrainConfig::from_toml(unknown, "t.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("margin"), "{err}");
        let zero =
            "[evaluation]\nevaluators = [{ type = \"information_retrieval\", max_queries = 0 }]\n";
        let err = TrainConfig::from_toml(zero, "t.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("evaluation.evaluators[0].max_queries"),
            "{err}"
        );
    }
}
