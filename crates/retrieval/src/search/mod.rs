//! Semantic search over an index folder, at sentence-transformers 6.3's
//! `semantic_search_usearch` semantics: corpus embeddings stored at a precision (float32,
//! int8, uint8, binary, ubinary; int8/uint8 with the ranges that quantized them), queries
//! quantized alike, an exact or HNSW (usearch) first stage, and rescoring of quantized
//! candidates with the float query.
//!
//! - [`Corpus`]: the stored embeddings and ranges; [`search`] runs a search on one with
//!   [`SearchOptions`] and gives [`SearchResults`] (hits by corpus row, and the
//!   [`ScoreKind`] of their scores). [`exact_search`] and [`rescore`] are its two stages.
//! - [`HnswGraph`]: the usearch graph ([`HnswParams`]), saved in the folder.
//! - [`IndexWriter`] writes a folder (a new index, or an append) atomically; [`load_index`]
//!   reads one back, checking every file against the [`Manifest`].

mod corpus;
mod documents;
mod exact;
mod hnsw;
mod index_folder;
mod manifest;
mod query;
mod rescore;

pub use corpus::Corpus;
pub use documents::{check_unique_ids, documents_from_texts, Document, DocumentId};
pub use exact::{exact_search, first_stage_kind};
pub use hnsw::{HnswGraph, HnswParams};
pub use index_folder::{load_index, IndexContents, IndexSpec, IndexWriter, LOCK_FILE};
pub use manifest::{
    DataFile, DataFiles, Manifest, ModelRef, FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE,
};
pub use query::{search, Hit, ScoreKind, SearchMethod, SearchOptions, SearchResults};
pub use rescore::rescore;
