//! Exact nearest corpus entries of each query, by chunked matrix products on libtorch.

use indicatif::{ProgressBar, ProgressStyle};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// How the query rows were split into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Query rows per chunk (the last chunk may have fewer).
    pub rows_per_chunk: usize,
    pub chunks: usize,
    /// The largest similarity block computed at once, in values (rows × corpus size).
    pub peak_elements: usize,
}

/// The `width` most similar corpus entries of each query, most similar first.
///
/// # Shapes
/// `scores`, `indices`: `[queries, width]`, row-major. Where the corpus has fewer than `width`
/// entries, each row is padded with score `-inf` and index `-1`, as sentence-transformers pads.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidates {
    pub scores: Vec<f32>,
    pub indices: Vec<i64>,
    pub rows: usize,
    pub width: usize,
    pub chunking: Chunking,
}

impl Candidates {
    /// Row `row`'s scores and corpus indices.
    pub fn row(&self, row: usize) -> Option<(&[f32], &[i64])> {
        let range = row * self.width..(row + 1) * self.width;
        Some((self.scores.get(range.clone())?, self.indices.get(range)?))
    }
}

/// Query rows per chunk so that a chunk's similarity block holds at most `max_elements`
/// values; at least one row (a single row of a corpus larger than the bound exceeds it).
pub fn chunk_rows(corpus_len: usize, max_elements: usize) -> usize {
    (max_elements / corpus_len.max(1)).max(1)
}

/// The `width` highest dot products of each query with the corpus, which are cosine
/// similarities for L2-normalised embeddings.
///
/// The query rows are processed in chunks of [`chunk_rows`]`(corpus_len, max_elements)`: only
/// one `[chunk, corpus_len]` similarity block exists at a time, reduced to its top
/// `min(width, corpus_len)` before the next one is computed, so memory is bounded by the chunk
/// and the `[queries, width]` result, never by queries × corpus.
///
/// # Shapes
/// queries: `[q, dim]`, corpus: `[c, dim]`, both float32 on one device → `[q, width]`
pub fn top_candidates(
    queries: &Tensor,
    corpus: &Tensor,
    width: usize,
    max_elements: usize,
    show_progress: bool,
) -> Result<Candidates> {
    let (n_queries, q_dim) = queries
        .size2()
        .map_err(Error::torch("reading query shape"))?;
    let (corpus_len, c_dim) = corpus
        .size2()
        .map_err(Error::torch("reading corpus shape"))?;
    if q_dim != c_dim {
        return Err(Error::EmbeddingShape {
            input: "corpus embeddings",
            shape: corpus.size(),
            expected: format!("dim {q_dim} like the query embeddings {:?}", queries.size()),
        });
    }
    let (n_queries, corpus_len) = (n_queries as usize, corpus_len as usize);
    let k = width.min(corpus_len);
    let rows_per_chunk = chunk_rows(corpus_len, max_elements).min(n_queries.max(1));
    let chunks = n_queries.div_ceil(rows_per_chunk);

    let progress = if show_progress && chunks > 1 {
        let bar = ProgressBar::new(chunks as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} similarity [{elapsed_precise}] {bar:30} {pos}/{len} chunks ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };

    let _no_grad = tch::no_grad_guard();
    let corpus_t = corpus
        .f_tr()
        .map_err(Error::torch("transposing the corpus"))?;
    let mut scores = Vec::with_capacity(n_queries * width);
    let mut indices = Vec::with_capacity(n_queries * width);
    let mut peak_elements = 0;
    for start in (0..n_queries).step_by(rows_per_chunk) {
        let rows = rows_per_chunk.min(n_queries - start);
        peak_elements = peak_elements.max(rows * corpus_len);
        let (chunk_scores, chunk_indices) = top_k_of_chunk(queries, &corpus_t, start, rows, k)?;
        for row in 0..rows {
            scores.extend_from_slice(&chunk_scores[row * k..(row + 1) * k]);
            indices.extend_from_slice(&chunk_indices[row * k..(row + 1) * k]);
            // pad as Python does when the corpus is smaller than the candidate count
            scores.extend(std::iter::repeat_n(f32::NEG_INFINITY, width - k));
            indices.extend(std::iter::repeat_n(-1, width - k));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(Candidates {
        scores,
        indices,
        rows: n_queries,
        width,
        chunking: Chunking {
            rows_per_chunk,
            chunks,
            peak_elements,
        },
    })
}

/// Similarities of query rows `start..start + rows` with the corpus, reduced to their top `k`
/// and copied to the CPU.
fn top_k_of_chunk(
    queries: &Tensor,
    corpus_t: &Tensor,
    start: usize,
    rows: usize,
    k: usize,
) -> Result<(Vec<f32>, Vec<i64>)> {
    if k == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let block = queries
        .f_narrow(0, start as i64, rows as i64)
        .and_then(|chunk| chunk.f_matmul(corpus_t))
        .map_err(Error::torch("computing query-corpus similarities"))?;
    let (values, positions) = block
        .f_topk(k as i64, 1, true, true)
        .map_err(Error::torch("taking the top candidates"))?;
    Ok((
        flat_cpu(&values, Kind::Float)?,
        flat_cpu(&positions, Kind::Int64)?,
    ))
}

/// A tensor's values, row-major, on the CPU.
pub(crate) fn flat_cpu<T: tch::kind::Element + Copy>(t: &Tensor, kind: Kind) -> Result<Vec<T>> {
    t.f_to_device(Device::Cpu)
        .and_then(|t| t.f_to_kind(kind))
        .and_then(|t| t.f_contiguous())
        .and_then(|t| t.f_reshape([-1]))
        .and_then(|t| Vec::<T>::try_from(&t))
        .map_err(Error::torch("copying results to the cpu"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[&[f32]]) -> Tensor {
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, rows[0].len() as i64])
    }

    #[test]
    fn orders_by_dot_product_and_pads() {
        let q = matrix(&[&[1.0, 0.0], &[0.0, 1.0]]);
        let c = matrix(&[&[0.6, 0.8], &[1.0, 0.0], &[0.8, -0.6]]);
        let got = top_candidates(&q, &c, 5, 1 << 20, false).unwrap();
        assert_eq!(got.width, 5);
        let (s0, i0) = got.row(0).unwrap();
        assert_eq!(i0, [1, 2, 0, -1, -1]);
        assert_eq!(s0[..3], [1.0, 0.8, 0.6]);
        assert!(s0[3..].iter().all(|s| *s == f32::NEG_INFINITY));
        let (_, i1) = got.row(1).unwrap();
        assert_eq!(i1[..3], [0, 1, 2]);
    }

    #[test]
    fn chunk_rows_respect_the_bound() {
        assert_eq!(chunk_rows(10, 100), 10);
        assert_eq!(chunk_rows(10, 95), 9);
        assert_eq!(chunk_rows(200, 100), 1);
        assert_eq!(chunk_rows(0, 100), 100);
    }

    #[test]
    fn mismatched_dims_name_both_shapes() {
        let q = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        let c = Tensor::zeros([4, 2], (Kind::Float, Device::Cpu));
        let e = top_candidates(&q, &c, 2, 100, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[4, 2]") && e.contains("[2, 3]"), "{e}");
    }
}
