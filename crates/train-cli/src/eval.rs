//! `train-cli eval`: one of sentence-transformers' evaluators on a model, built from the same
//! evaluator configs training uses (so both score a model identically).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use config::{
    DataConfig, DataFormat, EvaluatorConfig, NeutralChoice, RetrievalEvaluatorConfig,
    RetrievalSource, StsEvaluatorConfig, TaskEvaluatorConfig,
};

use crate::load::ModelArgs;

/// Which evaluator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Task {
    /// EmbeddingSimilarityEvaluator: Pearson/Spearman of similarities against gold scores
    Sts,
    /// InformationRetrievalEvaluator: NDCG, MRR, MAP, accuracy/precision/recall@k
    Retrieval,
    /// BinaryClassificationEvaluator: accuracy, F1, AP with their best thresholds
    Binary,
    /// TripletEvaluator: how often the anchor is closer to the positive than the negative
    Triplet,
    /// ParaphraseMiningEvaluator: average precision of the mined most-similar pairs
    Paraphrase,
    /// Cross-encoders: CrossEncoderCorrelationEvaluator, Pearson/Spearman of the scores
    /// against gold scores (default glue/stsb)
    CrossEncoderCorrelation,
    /// Cross-encoders: CrossEncoderClassificationEvaluator, best-threshold accuracy/F1/AP of
    /// one score per pair (NLI: entailment 1, contradiction 0), F1 of the argmax of several
    /// (NLI: the three classes); default snli
    CrossEncoderClassification,
    /// Cross-encoders: CrossEncoderRerankingEvaluator, MAP, MRR@k, NDCG@k of each --samples
    /// query's candidates reranked (and of their given order, for `documents`)
    CrossEncoderReranking,
}

impl Task {
    fn is_cross_encoder(self) -> bool {
        matches!(
            self,
            Task::CrossEncoderCorrelation
                | Task::CrossEncoderClassification
                | Task::CrossEncoderReranking
        )
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The evaluator
    #[arg(long, value_enum, default_value = "sts")]
    pub task: Task,
    /// A known dataset (glue/stsb, glue/mnli, snli; downloaded into the HF cache) or a local
    /// file. Default: glue/stsb for sts, snli for the others
    #[arg(long)]
    pub dataset: Option<String>,
    /// Split of a known dataset
    #[arg(long, default_value = "validation")]
    pub split: String,
    /// How rows are built from the dataset (as training's data.format). Default: sts_pairs
    /// for sts, scored_pairs with neutral rows dropped for binary and paraphrase (entailment
    /// 1, contradiction 0), hard_triplets for triplet; `columns` with --columns
    #[arg(long, value_parser = parse_format)]
    pub format: Option<DataFormat>,
    /// A column mapping for a local file, e.g. `anchor=question,positive=answer` (implies
    /// --format columns)
    #[arg(long)]
    pub columns: Option<String>,
    /// A BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) for --task retrieval
    #[arg(long)]
    pub beir: Option<PathBuf>,
    /// Keep this many rows (sts: pairs)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: Option<u64>,
    /// Keep this many queries (retrieval; the corpus stays whole)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_queries: Option<u64>,
    /// Largest gold score for sts; scores are divided by it (STS-B: 0–5)
    #[arg(long, default_value_t = 5.0)]
    pub score_max: f64,
    /// Print one JSON object (metric name → value) instead of a table
    #[arg(long)]
    pub json: bool,
    /// sts: score embeddings quantized to float32, int8, uint8, binary or ubinary
    /// (normalised first), as EmbeddingSimilarityEvaluator(precision=…)
    #[arg(long)]
    pub precision: Option<eval::Precision>,
    /// cross-encoder-reranking: a .jsonl file of sentence-transformers' samples, one a line:
    /// `{"query": …, "positive": […], "negative": […]}` or `… "documents": […]}` (a first
    /// stage's ranking, best first)
    #[arg(long)]
    pub samples: Option<PathBuf>,
    /// cross-encoder-reranking: the candidates from a first stage instead of --samples: this
    /// bi-encoder (hub id or folder) retrieves each query's --top-k documents of a retrieval
    /// task (--dataset, an NLI dataset: premises as queries, hypotheses as the corpus; or
    /// --beir) by cosine similarity, exactly; the positives are the task's relevant documents
    #[arg(long, conflicts_with = "samples")]
    pub retriever: Option<String>,
    /// cross-encoder-reranking with --retriever: the documents each query's first stage hands
    /// to the cross-encoder
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub top_k: u32,
    /// cross-encoder-reranking: also write the samples evaluated (with --retriever: the first
    /// stage's) to this .jsonl file, for --samples or a `cross_encoder_reranking` evaluator
    /// while training
    #[arg(long)]
    pub write_samples: Option<PathBuf>,
    /// cross-encoder-reranking: the cut-off of MRR and NDCG
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub at_k: u32,
    /// cross-encoder-reranking: rank only the `documents` as given, not also the positives
    /// the first stage missed (always_rerank_positives=False)
    #[arg(long)]
    pub rerank_found_only: bool,
    /// cross-encoder-reranking: also report the rankings by the cross-encoder's score fused
    /// with the first stage's (`fused_*`: per query, the z-normalised scores plus this
    /// weight times the z-normalised first-stage scores; 1 weighs them equally). Needs
    /// first-stage scores: --retriever, or --samples whose rows carry `scores`
    #[arg(long)]
    pub first_stage_weight: Option<f64>,
}

pub(crate) fn parse_format(text: &str) -> Result<DataFormat, String> {
    toml::Value::String(text.to_string())
        .try_into::<DataFormat>()
        .map_err(|_| {
            "use one of soft_triplets, hard_triplets, labelled_pairs, scored_pairs, sts_pairs, \
             columns"
                .to_string()
        })
}

impl EvalArgs {
    /// The evaluator config these flags describe (of a sentence embedding task; the
    /// cross-encoder tasks are built from the flags directly).
    pub fn evaluator_config(&self) -> EvaluatorConfig {
        let dataset = self.dataset.clone().unwrap_or_else(|| match self.task {
            Task::Sts => "glue/stsb".into(),
            _ => "snli".into(),
        });
        let max_rows = self.max_rows.map(|n| n as usize);
        let data = |default: DataFormat| DataConfig {
            dataset: dataset.clone(),
            split: self.split.clone(),
            format: match (&self.columns, self.format) {
                (_, Some(format)) => format,
                (Some(_), None) => DataFormat::Columns,
                (None, None) => default,
            },
            neutral: NeutralChoice::Drop,
            columns: self.columns.clone(),
            max_rows,
            score_max: self.score_max,
            prompts: None,
            pairing: None,
        };
        match self.task {
            Task::Sts => EvaluatorConfig::EmbeddingSimilarity(StsEvaluatorConfig {
                name: None,
                dataset: dataset.clone(),
                split: self.split.clone(),
                score_max: self.score_max,
                max_pairs: max_rows,
                precision: self.precision,
            }),
            Task::Retrieval => EvaluatorConfig::InformationRetrieval(RetrievalEvaluatorConfig {
                source: match (&self.beir, &self.columns) {
                    (Some(dir), _) => RetrievalSource::Beir {
                        dir: dir.clone(),
                        split: self.split.clone(),
                    },
                    (None, Some(_)) => RetrievalSource::Pairs {
                        data: data(DataFormat::Columns),
                    },
                    (None, None) => RetrievalSource::Nli {
                        dataset: dataset.clone(),
                        split: self.split.clone(),
                    },
                },
                max_queries: self.max_queries.map(|n| n as usize),
                ..RetrievalEvaluatorConfig::default()
            }),
            Task::Binary => EvaluatorConfig::BinaryClassification(TaskEvaluatorConfig {
                data: data(DataFormat::ScoredPairs),
                ..TaskEvaluatorConfig::default()
            }),
            Task::Triplet => EvaluatorConfig::Triplet(TaskEvaluatorConfig {
                data: data(DataFormat::HardTriplets),
                ..TaskEvaluatorConfig::default()
            }),
            Task::Paraphrase
            | Task::CrossEncoderCorrelation
            | Task::CrossEncoderClassification
            | Task::CrossEncoderReranking => {
                EvaluatorConfig::ParaphraseMining(TaskEvaluatorConfig {
                    data: data(DataFormat::ScoredPairs),
                    ..TaskEvaluatorConfig::default()
                })
            }
        }
    }
}

pub fn run(args: &EvalArgs) -> Result<()> {
    args.model.check()?;
    if args.precision.is_some() && args.task != Task::Sts {
        anyhow::bail!(
            "--precision applies to --task sts (EmbeddingSimilarityEvaluator), not --task {:?}",
            args.task
        );
    }
    let reranking_flags = [
        ("--samples", args.samples.is_some()),
        ("--retriever", args.retriever.is_some()),
        ("--write-samples", args.write_samples.is_some()),
        ("--first-stage-weight", args.first_stage_weight.is_some()),
    ];
    if let Some((flag, _)) = reranking_flags.iter().find(|(_, given)| *given) {
        if args.task != Task::CrossEncoderReranking {
            anyhow::bail!(
                "{flag} applies to --task cross-encoder-reranking, not --task {:?}",
                args.task
            );
        }
    }
    if args.task.is_cross_encoder() {
        return crate::eval_cross_encoder::run(args);
    }
    let config = args.evaluator_config();
    config
        .validate()
        .map_err(|message| anyhow::anyhow!("--task {:?}: {message}", args.task))?;
    // The data first: a bad file fails before the (slower) model load.
    let client = hub::HubClient::from_env()?;
    let evaluator = evaluate::build(&client, &config)
        .with_context(|| format!("preparing the {} evaluation", config.name()))?;
    let model = args.model.load()?;
    let dtype = model.dtype().to_string();
    let model = evaluate::RunModel::Bi(model);
    let metrics = evaluator
        .evaluate(&model, args.model.runtime.batch_size as usize)
        .with_context(|| format!("evaluating {} on {}", args.model.model, config.name()))?;
    print_metrics(args, &metrics, evaluator.primary_metric(), &dtype)
}

/// The metrics as a table, or one JSON object with `--json`.
pub(crate) fn print_metrics(
    args: &EvalArgs,
    metrics: &eval::MetricValues,
    primary: &str,
    dtype: &str,
) -> Result<()> {
    if args.json {
        println!("{}", serde_json::to_string(metrics)?);
        eprintln!("computed in {dtype}");
        return Ok(());
    }
    println!(
        "{} on {:?} (primary metric: {primary}; computed in {dtype})",
        args.model.model, args.task
    );
    println!("{:<28} {:>10}", "metric", "value");
    for (name, value) in metrics.iter() {
        println!("{name:<28} {value:>10.4}");
    }
    Ok(())
}
