//! A search: queries quantized as the corpus, a first stage (exact or HNSW) fetching
//! candidates, and rescoring with the float queries, as sentence-transformers 6.3's
//! `semantic_search_usearch`.

use eval::{Embeddings, Precision};
use serde::Serialize;

use super::corpus::Corpus;
use super::exact::{check_queries, exact_search, first_stage_kind, Scorer};
use super::hnsw::HnswGraph;
use super::rescore::rescore;
use crate::error::{Error, Result};
use crate::mine::DEFAULT_MAX_CHUNK_ELEMENTS;

/// One result: a corpus row and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub row: usize,
    pub score: f64,
}

/// What a [`Hit::score`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    /// float32 without rescoring: the cosine similarity (dot product of normalised
    /// embeddings). sentence-transformers reports usearch's distance `1 - cosine`.
    Cosine,
    /// int8/uint8 without rescoring: the integer inner product of the quantized values.
    /// sentence-transformers (int8) reports usearch's distance `1 - inner product`.
    InnerProduct,
    /// binary/ubinary without rescoring: differing bits, smaller is better (as
    /// sentence-transformers reports it).
    Hamming,
    /// The dot product of the float query with the dequantized or unpacked candidate.
    Rescored,
}

impl ScoreKind {
    pub fn higher_is_better(self) -> bool {
        self != ScoreKind::Hamming
    }

    pub fn name(self) -> &'static str {
        match self {
            ScoreKind::Cosine => "cosine",
            ScoreKind::InnerProduct => "inner_product",
            ScoreKind::Hamming => "hamming",
            ScoreKind::Rescored => "rescored",
        }
    }
}

/// How the first stage finds candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMethod {
    /// Every corpus row is scored.
    #[default]
    Exact,
    /// The HNSW graph's approximate neighbours, scored as exact search scores them.
    Hnsw,
}

/// Search parameters; the defaults are sentence-transformers' (`top_k=10`, `rescore=True`,
/// `rescore_multiplier=2`, `exact=True`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchOptions {
    /// Results per query, at least 1.
    pub top_k: usize,
    /// Rescore quantized candidates with the float query (ignored for float32 corpora, which
    /// have nothing to rescore).
    pub rescore: bool,
    /// With rescoring, the first stage fetches `top_k * rescore_multiplier` candidates.
    pub rescore_multiplier: usize,
    pub method: SearchMethod,
    /// float32 exact search computes at most this many similarities at once.
    pub max_chunk_elements: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            top_k: 10,
            rescore: true,
            rescore_multiplier: 2,
            method: SearchMethod::Exact,
            max_chunk_elements: DEFAULT_MAX_CHUNK_ELEMENTS,
        }
    }
}

impl SearchOptions {
    pub fn validate(&self) -> Result<()> {
        if self.top_k == 0 {
            return Err(Error::param("top_k", "must be at least 1, got 0"));
        }
        if self.rescore_multiplier == 0 {
            return Err(Error::param(
                "rescore_multiplier",
                "must be at least 1, got 0",
            ));
        }
        if self.max_chunk_elements == 0 {
            return Err(Error::param("max_chunk_elements", "must be at least 1"));
        }
        Ok(())
    }

    /// Whether a corpus at `precision` is rescored: rescoring asked for and something to
    /// rescore (sentence-transformers' rule, the query being float).
    pub fn rescores(&self, precision: Precision) -> bool {
        self.rescore && precision != Precision::Float32
    }

    /// Candidates the first stage fetches per query.
    pub fn candidates(&self, precision: Precision) -> usize {
        if self.rescores(precision) {
            self.top_k.saturating_mul(self.rescore_multiplier)
        } else {
            self.top_k
        }
    }
}

/// The hits of each query, best first, and what their scores are.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    /// One list per query, at most `top_k` long (shorter when the corpus or an HNSW graph
    /// gives fewer).
    pub hits: Vec<Vec<Hit>>,
    pub score_kind: ScoreKind,
    /// Candidates the first stage was asked for per query.
    pub candidates: usize,
}

/// Searches `corpus` for float `queries` (embedded like the corpus, not quantized).
///
/// # Shapes
/// queries: `[q, dim]` float32, `dim` the corpus' → `q` lists of hits
///
/// Errors on invalid options, queries of another dimension or with NaN, and
/// [`SearchMethod::Hnsw`] without a graph.
pub fn search(
    corpus: &Corpus,
    graph: Option<&HnswGraph>,
    queries: Embeddings<'_>,
    options: &SearchOptions,
) -> Result<SearchResults> {
    options.validate()?;
    let precision = corpus.precision();
    let quantized = corpus.quantize(queries)?;
    let count = options.candidates(precision);
    let first = match options.method {
        SearchMethod::Exact => exact_search(corpus, &quantized, count, options.max_chunk_elements)?,
        SearchMethod::Hnsw => {
            let graph = graph.ok_or_else(|| {
                Error::param("method", "hnsw search needs an index with an hnsw graph")
            })?;
            check_queries(corpus, &quantized)?;
            let found = graph.search(&quantized, count)?;
            let scorer = Scorer::new(corpus);
            found
                .iter()
                .enumerate()
                .map(|(q, rows)| {
                    if let Some(&bad) = rows.iter().find(|&&r| r >= corpus.rows()) {
                        return Err(Error::param(
                            "hnsw",
                            format!(
                                "the graph returned row {bad}, past the corpus' {} rows",
                                corpus.rows()
                            ),
                        ));
                    }
                    Ok(scorer.score_rows(&quantized, q, rows))
                })
                .collect::<Result<_>>()?
        }
    };
    let (hits, score_kind) = if options.rescores(precision) {
        (
            rescore(corpus, queries, &first, options.top_k)?,
            ScoreKind::Rescored,
        )
    } else {
        (first, first_stage_kind(precision))
    };
    tracing::debug!(
        queries = queries.rows(),
        %precision,
        candidates = count,
        score = score_kind.name(),
        "searched"
    );
    Ok(SearchResults {
        hits,
        score_kind,
        candidates: count,
    })
}
