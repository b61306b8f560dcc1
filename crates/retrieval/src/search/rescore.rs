//! Rescoring quantized candidates with the float query, as sentence-transformers 6.3's
//! `semantic_search_usearch` does when the query is float and the corpus quantized: int8/uint8
//! candidates are dequantized with the corpus' ranges (`_dequantize_embeddings`), binary and
//! ubinary ones unpacked to 0/1 bits trimmed to the embedding dimension, and each is scored by
//! its dot product with the float query, in `f64` as numpy's `einsum` of those arrays.
//!
//! A binary/ubinary corpus with a rescore store (not in sentence-transformers: the two-tier
//! setup of Hugging Face's embedding-quantization demo) is rescored from the store instead:
//! its int8/uint8 rows dequantized with its ranges, exactly as an int8/uint8 corpus is.

use eval::{dequantize, Embeddings, Precision};

use super::corpus::Corpus;
use super::exact::best_hits;
use super::query::{Hit, ScoreKind};
use crate::error::{Error, Result};

/// The `top_k` best of each query's `candidates` by the rescored score, best first; equal
/// scores by row, lower first.
///
/// # Shapes
/// queries: `[q, dim]` float32 (not quantized); candidates: `q` lists of corpus rows
pub fn rescore(
    corpus: &Corpus,
    queries: Embeddings<'_>,
    candidates: &[Vec<Hit>],
    top_k: usize,
) -> Result<Vec<Vec<Hit>>> {
    let dim = corpus.dim();
    if queries.dim() != dim || queries.rows() != candidates.len() {
        return Err(Error::EmbeddingShape {
            input: "query embeddings",
            shape: vec![queries.rows() as i64, queries.dim() as i64],
            expected: format!(
                "{} rows (one per candidate list) of dim {dim} like the corpus",
                candidates.len()
            ),
        });
    }
    queries
        .iter_rows()
        .zip(candidates)
        .map(|(query, hits)| {
            let rows: Vec<usize> = hits.iter().map(|h| h.row).collect();
            let vectors = float_candidates(corpus, &rows)?;
            let rescored = rows
                .iter()
                .zip(vectors.chunks_exact(dim))
                .map(|(&row, v)| Hit {
                    row,
                    score: query.iter().zip(v).map(|(&q, &x)| f64::from(q) * x).sum(),
                })
                .collect();
            Ok(best_hits(rescored, top_k, ScoreKind::Rescored))
        })
        .collect()
}

/// The candidate rows as float vectors of `dim` values, row-major: dequantized (int8/uint8,
/// or the rescore store of a binary/ubinary corpus that has one), unpacked bits
/// (binary/ubinary) or unchanged (float32).
fn float_candidates(corpus: &Corpus, rows: &[usize]) -> Result<Vec<f64>> {
    if let Some(store) = corpus.rescore_store() {
        return float_candidates(store, rows);
    }
    let selected = corpus.select_rows(rows)?;
    let dim = corpus.dim();
    match corpus.precision() {
        Precision::Int8 | Precision::Uint8 => {
            let ranges = corpus.ranges().ok_or_else(|| {
                Error::param(
                    "ranges",
                    "an int8/uint8 corpus without ranges cannot be rescored",
                )
            })?;
            dequantize(&selected, ranges).map_err(Error::quantize("dequantize the candidates"))
        }
        Precision::Binary | Precision::Ubinary | Precision::Float32 => {
            let view = selected.to_float_view();
            let view_dim = selected.float_view_dim();
            Ok(view
                .chunks_exact(view_dim.max(1))
                .flat_map(|row| row[..dim].iter().map(|&x| f64::from(x)))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_candidates_score_the_query_values_of_their_set_bits() {
        // dim 10: bits 8 and 9 sit in a padded second byte, whose padding is trimmed.
        let rows = [
            1.0f32, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0, -1.0, // bits 0 and 8
            -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0, // bits 1 and 9
        ];
        let corpus = Corpus::quantize_from(
            Embeddings::new(&rows, 2, 10).unwrap(),
            Precision::Binary,
            None,
        )
        .unwrap();
        let q = [0.5f32, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.125, 1.0];
        let candidates = vec![vec![Hit { row: 0, score: 0.0 }, Hit { row: 1, score: 0.0 }]];
        let got = rescore(&corpus, Embeddings::new(&q, 1, 10).unwrap(), &candidates, 5).unwrap();
        assert_eq!(
            got,
            [vec![
                Hit {
                    row: 1,
                    score: 1.25
                },
                Hit {
                    row: 0,
                    score: 0.625
                }
            ]]
        );
    }

    #[test]
    fn a_rescore_store_is_dequantized_instead_of_the_bits() {
        let rows = [1.0f32, -1.0, 0.5, -0.5, 0.0, 1.0, 0.25, -0.25];
        let e = Embeddings::new(&rows, 2, 4).unwrap();
        let store = Corpus::quantize_from(e, Precision::Int8, None).unwrap();
        let int8 = store.clone();
        let corpus = Corpus::quantize_from(e, Precision::Binary, None)
            .unwrap()
            .with_rescore_store(store)
            .unwrap();
        let q = [0.5f32, 0.25, -1.0, 0.125];
        let candidates = vec![vec![Hit { row: 0, score: 0.0 }, Hit { row: 1, score: 0.0 }]];
        let query = Embeddings::new(&q, 1, 4).unwrap();
        let got = rescore(&corpus, query, &candidates, 2).unwrap();
        assert_eq!(got, rescore(&int8, query, &candidates, 2).unwrap());
        let bits = rescore(&corpus.without_rescore_store(), query, &candidates, 2).unwrap();
        assert_ne!(got, bits);
    }
}
