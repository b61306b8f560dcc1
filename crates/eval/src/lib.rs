//! Evaluation of sentence embeddings on plain `f32` buffers (no tensor dependency).
//!
//! sentence-transformers 6.2's evaluators, each reporting its metrics under the same key
//! names ([`NamedMetrics`]):
//! - [`evaluate_sts`]: `EmbeddingSimilarityEvaluator`, Pearson and Spearman correlations of
//!   cosine, euclidean, manhattan and dot similarities with gold scores;
//! - [`InformationRetrievalEvaluator`]: accuracy, precision, recall, NDCG, MRR and MAP at `k`
//!   of queries against a corpus;
//! - [`BinaryClassificationEvaluator`]: best accuracy and F1 thresholds, average precision and
//!   Matthews correlation of labelled pairs;
//! - [`TripletEvaluator`]: accuracy of (anchor, positive, negative) triplets;
//! - [`ParaphraseMiningEvaluator`]: average precision and F1 of [`paraphrase_mining`] against
//!   gold duplicate pairs.
//!
//! [`quantize_embeddings`] is sentence-transformers 6.3's embedding quantization (float32,
//! int8, uint8, binary, ubinary) bit for bit, and [`evaluate_sts_at_precision`] the
//! `EmbeddingSimilarityEvaluator(precision=…)` on quantized embeddings.
//!
//! sentence-transformers 6.3's cross-encoder evaluators, split into the pairs to score and the
//! metrics of their scores (same key names):
//! - [`CrossEncoderRerankingEvaluator`]: MAP, MRR@k and NDCG@k of reranked candidates, and of
//!   a first-stage order;
//! - [`CrossEncoderClassificationEvaluator`]: best-threshold accuracy and F1, and average
//!   precision, of one score per pair; macro, micro and weighted F1 of the argmax of several;
//! - [`CrossEncoderCorrelationEvaluator`]: Pearson and Spearman correlations with gold scores.

mod binary_classification;
mod classification_metrics;
mod correlation;
mod cross_encoder;
mod embeddings;
mod error;
mod information_retrieval;
mod metrics;
mod paraphrase_mining;
mod quantize;
mod rank;
mod similarity;
mod sts;
mod top_k;
mod triplet;
mod validate;

pub use binary_classification::{
    BinaryClassificationConfig, BinaryClassificationEvaluator, BinaryClassificationMetrics,
    BinaryClassificationScores,
};
pub use correlation::{pearson, spearman};
pub use cross_encoder::{
    check_first_stage_weight, fuse_first_stage, Candidates, CrossEncoderBinaryScores,
    CrossEncoderClassificationEvaluator, CrossEncoderClassificationMetrics,
    CrossEncoderCorrelationEvaluator, CrossEncoderRerankingConfig, CrossEncoderRerankingEvaluator,
    CrossEncoderRerankingMetrics, MulticlassF1, RankingScores, RerankingSample,
};
pub use embeddings::Embeddings;
pub use error::{Error, Result};
pub use information_retrieval::{
    InformationRetrievalConfig, InformationRetrievalEvaluator, InformationRetrievalMetrics,
    RetrievalScores,
};
pub use metrics::{MetricValues, NamedMetrics};
pub use paraphrase_mining::{
    paraphrase_mining, MinedPair, MiningConfig, ParaphraseMiningConfig, ParaphraseMiningEvaluator,
    ParaphraseMiningMetrics,
};
pub use quantize::{
    dequantize, evaluate_sts_at_precision, quantize_embeddings, Precision, QuantizationRanges,
    QuantizedEmbeddings, QuantizedValues,
};
pub use rank::average_ranks;
pub use similarity::SimilarityFunction;
pub use sts::{evaluate_sts, normalize_sts_scores, Correlations, StsMetrics};
pub use triplet::{TripletConfig, TripletEvaluator, TripletMargin, TripletMetrics};
