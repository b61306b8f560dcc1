//! Retrieval tools on libtorch: hard-negative mining (sentence-transformers 6.3's
//! `mine_hard_negatives` without cross-encoder rescoring and FAISS), and semantic search over
//! an index folder ([`search`], sentence-transformers 6.3's `semantic_search_usearch`).
//!
//! [`MiningTexts`] turns (anchor, positive) rows and an optional extra corpus into the
//! deduplicated queries and corpus to embed; [`mine_embedded`] mines on given embeddings of
//! those (the part the parity tests drive) and [`mine`] embeds them with a
//! [`model::SentenceTransformer`] first, through an optional [`EmbeddingCache`]. Parameters are
//! [`MineParams`] (Python's defaults); the result is a [`MinedDataset`] in one of four
//! [`OutputFormat`]s and the [`MiningStats`] Python prints, whose `Display` is Python's text.
//! The similarity search ([`top_candidates`]) runs in query chunks whose memory is bounded by
//! [`MineParams::max_chunk_elements`], never by queries × corpus.

#![forbid(unsafe_code)]

mod error;
mod mine;
pub mod search;

pub use error::{Error, Result};
pub use mine::{
    chunk_rows, embed_texts, mine, mine_embedded, output_column_names, top_candidates, Candidates,
    Chunking, Column, ColumnValues, EmbedOptions, EmbeddingCache, EmbeddingInput, Filter,
    MineParams, Mined, MinedDataset, MiningStats, MiningTexts, MissingSamples, OutputFormat,
    ResolvedParams, Role, Sampling, ScoreSummary, SkippedCandidates, TextColumn,
    DEFAULT_MAX_CHUNK_ELEMENTS,
};
