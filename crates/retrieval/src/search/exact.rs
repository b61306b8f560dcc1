//! Exhaustive (exact) search of quantized queries against the corpus at its precision, the
//! first stage of sentence-transformers' `semantic_search_usearch(..., exact=True)`:
//!
//! - float32: cosine similarity of normalised embeddings, the dot product, on libtorch in
//!   memory-bounded query chunks ([`top_candidates`]);
//! - int8/uint8: the inner product of the quantized values, summed exactly in integers (usearch's
//!   `ip` on `i8`; sentence-transformers reports `1 - ip`, a distance);
//! - binary/ubinary: the Hamming distance of the packed bits (popcount of XOR over `u64`
//!   words; binary's bytes are XORed with 0x80 first, so both rank alike), smaller first.
//!
//! Ties are broken by corpus row, lower first. (usearch breaks them by its own traversal order,
//! which differs between runs of different sizes; results agree up to the order of equal
//! scores.)

use std::cmp::Ordering;

use eval::{Precision, QuantizedEmbeddings, QuantizedValues};
use rayon::prelude::*;
use tch::Tensor;

use super::corpus::Corpus;
use super::query::{Hit, ScoreKind};
use crate::error::{Error, Result};
use crate::mine::top_candidates;

/// The kind of score the first stage gives at `precision`.
pub fn first_stage_kind(precision: Precision) -> ScoreKind {
    match precision {
        Precision::Float32 => ScoreKind::Cosine,
        Precision::Int8 | Precision::Uint8 => ScoreKind::InnerProduct,
        Precision::Binary | Precision::Ubinary => ScoreKind::Hamming,
    }
}

/// The ranking order of `kind`: better scores first, equal scores by row, lower first.
pub(crate) fn rank_order(kind: ScoreKind) -> impl Fn(&Hit, &Hit) -> Ordering + Copy {
    let higher_is_better = kind.higher_is_better();
    move |a: &Hit, b: &Hit| {
        let by_score = if higher_is_better {
            b.score.total_cmp(&a.score)
        } else {
            a.score.total_cmp(&b.score)
        };
        by_score.then(a.row.cmp(&b.row))
    }
}

/// The best `count` of `hits` in rank order.
pub(crate) fn best_hits(mut hits: Vec<Hit>, count: usize, kind: ScoreKind) -> Vec<Hit> {
    let order = rank_order(kind);
    if count == 0 {
        return Vec::new();
    }
    if count < hits.len() {
        hits.select_nth_unstable_by(count - 1, order);
        hits.truncate(count);
    }
    hits.sort_unstable_by(order);
    hits
}

/// The `count` best corpus rows of each query by the first-stage score of the corpus'
/// precision, best first.
///
/// # Shapes
/// queries: `[q, dim]` quantized as the corpus → `q` lists of `min(count, rows)` hits
pub fn exact_search(
    corpus: &Corpus,
    queries: &QuantizedEmbeddings,
    count: usize,
    max_chunk_elements: usize,
) -> Result<Vec<Vec<Hit>>> {
    check_queries(corpus, queries)?;
    let kind = first_stage_kind(corpus.precision());
    if let (QuantizedValues::Float32(c), QuantizedValues::Float32(q)) =
        (corpus.embeddings().values(), queries.values())
    {
        let dim = corpus.dim() as i64;
        let tensor = |values: &[f32], rows: usize| {
            Tensor::f_from_slice(values)
                .and_then(|t| t.f_view([rows as i64, dim]))
                .map_err(Error::torch("copying embeddings into a tensor"))
        };
        let found = top_candidates(
            &tensor(q, queries.rows())?,
            &tensor(c, corpus.rows())?,
            count,
            max_chunk_elements,
            false,
        )?;
        return (0..found.rows)
            .map(|row| {
                let (scores, rows) = found.row(row).ok_or_else(|| {
                    Error::param("queries", format!("no candidates for query {row}"))
                })?;
                let hits = scores
                    .iter()
                    .zip(rows)
                    .filter(|(_, &r)| r >= 0)
                    .map(|(&score, &r)| Hit {
                        row: r as usize,
                        score: f64::from(score),
                    })
                    .collect();
                // libtorch's top-k leaves equal scores in no set order: rows, lower first.
                Ok(best_hits(hits, count, kind))
            })
            .collect();
    }
    let scorer = Scorer::new(corpus);
    Ok((0..queries.rows())
        .into_par_iter()
        .map(|q| {
            let query = scorer.prepare(queries, q);
            let hits = (0..corpus.rows())
                .map(|row| Hit {
                    row,
                    score: scorer.score(&query, row),
                })
                .collect();
            best_hits(hits, count, kind)
        })
        .collect())
}

pub(crate) fn check_queries(corpus: &Corpus, queries: &QuantizedEmbeddings) -> Result<()> {
    if queries.precision() != corpus.precision() || queries.dim() != corpus.dim() {
        return Err(Error::param(
            "queries",
            format!(
                "are {} of dim {}, the corpus {} of dim {}",
                queries.precision(),
                queries.dim(),
                corpus.precision(),
                corpus.dim()
            ),
        ));
    }
    Ok(())
}

/// One query, ready to score against corpus rows.
enum Prepared<'q> {
    Float(&'q [f32]),
    Int8(&'q [i8]),
    Uint8(&'q [u8]),
    Bits(Vec<u64>),
}

/// Scores of one query against single corpus rows, at the corpus' precision.
pub(crate) struct Scorer<'c> {
    corpus: &'c QuantizedEmbeddings,
    width: usize,
    /// binary/ubinary: each row's bits as `u64` words.
    words: Vec<u64>,
    words_per_row: usize,
}

impl<'c> Scorer<'c> {
    pub(crate) fn new(corpus: &'c Corpus) -> Self {
        let embeddings = corpus.embeddings();
        let width = embeddings.quantized_dim();
        let words_per_row = width.div_ceil(8);
        let words = match unsigned_bytes(embeddings.values()) {
            Some(bytes) => bytes.chunks(width).flat_map(pack_words).collect(),
            None => Vec::new(),
        };
        Scorer {
            corpus: embeddings,
            width,
            words,
            words_per_row,
        }
    }

    /// The first-stage score of each of `rows` (all below the corpus' row count) for query
    /// `q` of `queries` (quantized as the corpus), in rank order: for the candidates an HNSW
    /// graph returns.
    pub(crate) fn score_rows(
        &self,
        queries: &QuantizedEmbeddings,
        q: usize,
        rows: &[usize],
    ) -> Vec<Hit> {
        let query = self.prepare(queries, q);
        let hits = rows
            .iter()
            .map(|&row| Hit {
                row,
                score: self.score(&query, row),
            })
            .collect();
        best_hits(hits, rows.len(), first_stage_kind(self.corpus.precision()))
    }

    fn prepare<'q>(&self, queries: &'q QuantizedEmbeddings, q: usize) -> Prepared<'q> {
        let range = q * self.width..(q + 1) * self.width;
        match queries.values() {
            QuantizedValues::Float32(v) => Prepared::Float(&v[range]),
            QuantizedValues::Int8(v) => Prepared::Int8(&v[range]),
            QuantizedValues::Uint8(v) => Prepared::Uint8(&v[range]),
            QuantizedValues::Binary(v) => {
                let bytes: Vec<u8> = v[range].iter().map(|&b| (b as u8) ^ 0x80).collect();
                Prepared::Bits(pack_words(&bytes))
            }
            QuantizedValues::Ubinary(v) => Prepared::Bits(pack_words(&v[range])),
        }
    }

    fn score(&self, query: &Prepared<'_>, row: usize) -> f64 {
        let range = row * self.width..(row + 1) * self.width;
        match (query, self.corpus.values()) {
            (Prepared::Float(q), QuantizedValues::Float32(c)) => q
                .iter()
                .zip(&c[range])
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum(),
            (Prepared::Int8(q), QuantizedValues::Int8(c)) => dot_i8(q, &c[range]) as f64,
            (Prepared::Uint8(q), QuantizedValues::Uint8(c)) => dot_u8(q, &c[range]) as f64,
            (Prepared::Bits(q), _) => {
                let words = &self.words[row * self.words_per_row..(row + 1) * self.words_per_row];
                q.iter()
                    .zip(words)
                    .map(|(a, b)| (a ^ b).count_ones())
                    .sum::<u32>() as f64
            }
            // `check_queries` makes the query's precision the corpus'.
            _ => f64::NAN,
        }
    }
}

/// binary/ubinary bytes as unsigned bits (`binary ^ 0x80`); `None` for other precisions.
fn unsigned_bytes(values: &QuantizedValues) -> Option<std::borrow::Cow<'_, [u8]>> {
    match values {
        QuantizedValues::Ubinary(v) => Some(std::borrow::Cow::Borrowed(v.as_slice())),
        QuantizedValues::Binary(v) => Some(std::borrow::Cow::Owned(
            v.iter().map(|&b| (b as u8) ^ 0x80).collect(),
        )),
        _ => None,
    }
}

/// Bytes packed 8 to a `u64` word, the last word zero-padded (zeros add no Hamming distance).
fn pack_words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            u64::from_le_bytes(word)
        })
        .collect()
}

/// Elements per block whose products sum without overflow: `2^16 · 128² = 2^30` for int8,
/// `2^16 · 255² < 2^32` for uint8.
const EXACT_BLOCK: usize = 1 << 16;

/// The exact inner product of two int8 vectors.
fn dot_i8(a: &[i8], b: &[i8]) -> i64 {
    a.chunks(EXACT_BLOCK)
        .zip(b.chunks(EXACT_BLOCK))
        .map(|(x, y)| {
            let block: i32 = x
                .iter()
                .zip(y)
                .map(|(&p, &q)| i32::from(p) * i32::from(q))
                .sum();
            i64::from(block)
        })
        .sum()
}

/// The exact inner product of two uint8 vectors.
fn dot_u8(a: &[u8], b: &[u8]) -> i64 {
    a.chunks(EXACT_BLOCK)
        .zip(b.chunks(EXACT_BLOCK))
        .map(|(x, y)| {
            let block: u32 = x
                .iter()
                .zip(y)
                .map(|(&p, &q)| u32::from(p) * u32::from(q))
                .sum();
            i64::from(block)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eval::Embeddings;

    #[test]
    fn integer_products_are_exact_at_the_extremes() {
        let a = vec![-128i8; 3 * EXACT_BLOCK + 5];
        assert_eq!(dot_i8(&a, &a), 16384 * a.len() as i64);
        let b = vec![255u8; 2 * EXACT_BLOCK + 1];
        assert_eq!(dot_u8(&b, &b), 65025 * b.len() as i64);
    }

    #[test]
    fn hamming_counts_differing_bits_and_binary_equals_ubinary() {
        let rows = [1.0f32, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0];
        let q = [1.0f32, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        for precision in [Precision::Binary, Precision::Ubinary] {
            let corpus =
                Corpus::quantize_from(Embeddings::new(&rows, 1, 10).unwrap(), precision, None)
                    .unwrap();
            let qq = corpus
                .quantize(Embeddings::new(&q, 1, 10).unwrap())
                .unwrap();
            let hits = exact_search(&corpus, &qq, 5, 1 << 20).unwrap();
            assert_eq!(hits, [vec![Hit { row: 0, score: 4.0 }]]);
        }
    }

    #[test]
    fn ties_rank_lower_rows_first_and_count_truncates() {
        let hits = vec![
            Hit { row: 3, score: 1.0 },
            Hit { row: 1, score: 1.0 },
            Hit { row: 2, score: 2.0 },
            Hit { row: 0, score: 0.5 },
        ];
        let best = best_hits(hits.clone(), 2, ScoreKind::Cosine);
        assert_eq!(best.iter().map(|h| h.row).collect::<Vec<_>>(), [2, 1]);
        let best = best_hits(hits, 3, ScoreKind::Hamming);
        assert_eq!(best.iter().map(|h| h.row).collect::<Vec<_>>(), [0, 1, 3]);
    }
}
