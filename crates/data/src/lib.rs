//! Datasets for training and evaluating sentence embedding models.
//!
//! This crate has no tensor dependency: it reads files into typed records
//! ([`ScoredPair`], [`NliPair`], plain strings), users' CSV/TSV/JSONL/parquet files into a
//! [`TrainingSet`] ([`read_user_dataset`]; (query, documents, labels) lists for the listwise
//! cross-encoder losses too), and pads token ids into [`EncodedBatch`]es.
//! Single sentences ([`read_unique_texts`], [`read_sentence_lines`], [`read_user_sentences`])
//! become unsupervised training rows: TSDAE's word-deletion noise ([`denoising_pairs`],
//! [`delete_words`]), SimCSE's identical pairs, Contrastive Tension's rows.
//! Batches come from an [`EpochSampler`] (shuffled, no-duplicates, length-grouped) or a
//! [`GroupByLabelSampler`]; a [`BatchSchedule`] interleaves several datasets' batches
//! (proportional or round-robin) with a resumable [`SamplerState`]. Retrieval evaluation data
//! is a [`RetrievalSet`], read from the BEIR layout ([`read_beir`]), built from (query,
//! positive) columns, or from NLI pairs ([`nli_retrieval`]).
//! Parquet files are streamed as arrow record batches, projected onto the needed columns.
//! Row numbers in parquet errors are 0-based indices across the whole file; text formats
//! (lines, CSV/TSV, JSONL) give 1-based line numbers ([`Position`]).

mod batch_schedule;
mod beir;
mod collate;
mod column;
mod column_mapping;
mod embeddings_parquet;
mod epoch_iter;
mod error;
mod group_by_label;
mod hub_datasets;
mod lines;
mod nli;
mod nli_builders;
mod nli_retrieval;
mod noise;
mod npy;
mod parquet_file;
mod retrieval_set;
mod sampler;
mod scored_pair;
mod sentence_pairing;
mod sentences;
mod table_out;
#[cfg(test)]
mod test_support;
mod text_column;
mod training_set;
mod user_dataset;

pub use batch_schedule::{
    dataset_order, interleave, shard_range, BatchSchedule, BatchSource, MultiDatasetSampling,
    ScheduleIter, ScheduledBatch,
};
pub use beir::{
    beir_paths, read_beir, read_beir_corpus, read_beir_qrels, read_beir_queries, BeirDocument,
    BeirQuery, Qrel, BEIR_QRELS_HEADER,
};
pub use collate::{collate, collate_many, EncodedBatch, TokenizedText};
pub use column_mapping::{
    ColumnMapping, MappingError, TargetRole, EMBEDDING_ROLE, LABELS_ROLE, LABEL_ROLE, SCORE_ROLE,
};
pub use embeddings_parquet::{write_embeddings_parquet, write_embeddings_parquet_as};
pub use epoch_iter::{EpochIter, EpochSource};
pub use error::{Error, Position, Result, ValueProblem};
pub use group_by_label::GroupByLabelSampler;
pub use hub_datasets::{
    known_dataset_names, DatasetKind, HubDatasetFile, KnownDataset, KNOWN_DATASETS,
};
pub use lines::read_lines;
pub use nli::{read_nli_pairs, NliColumns, NliLabel, NliPair, NliPairs, UnlabeledRows};
pub use nli_builders::{
    hard_triplets, labelled_pairs, scored_pairs, soft_triplets, LabelledPair, NeutralPolicy,
    Triplet,
};
pub use nli_retrieval::nli_retrieval;
pub use noise::{delete_words, row_rng, split_words};
pub use npy::{
    parse_npy, parse_npy_header, read_npy, read_npy_f32, write_npy, write_npy_f32, MatrixData,
    MatrixValues, NpyDtype, NpyHeader,
};
pub use retrieval_set::RetrievalSet;
pub use sampler::{BatchIter, EpochSampler, SamplerState, LENGTH_GROUP_WINDOW_BATCHES};
pub use scored_pair::{read_scored_pairs, ScoredPair, ScoredPairColumns};
pub use sentence_pairing::{
    contrastive_tension_pairs, denoising_pairs, identical_pairs, sentence_rows,
    DEFAULT_DELETION_RATIO, DEFAULT_POS_NEG_RATIO,
};
pub use sentences::{read_sentence_lines, read_unique_texts, read_user_sentences};
pub use table_out::{write_table, TableColumn};
pub use text_column::read_text_column;
pub use training_set::{DocumentLists, TargetColumn, TrainingSet};
pub use user_dataset::{read_user_dataset, DatasetFormat};
