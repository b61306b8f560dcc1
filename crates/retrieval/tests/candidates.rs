//! The chunked candidate search: the same exact top-k whatever the chunk bound, and no chunk
//! larger than the bound allows.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retrieval::{chunk_rows, top_candidates, Candidates};
use tch::Tensor;

/// Tolerance for one float32 dot product of short vectors computed in another block shape.
const TOLERANCE: f32 = 1e-5;

fn random_matrix(rng: &mut ChaCha8Rng, rows: usize, dim: usize) -> (Vec<f32>, Tensor) {
    let data: Vec<f32> = (0..rows * dim)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let t = Tensor::from_slice(&data).view([rows as i64, dim as i64]);
    (data, t)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Each row lists distinct corpus entries by descending score, each score is that entry's dot
/// product, nothing left out scores higher than what was kept, and padding only follows the
/// whole corpus.
fn assert_exact_top_k(c: &Candidates, q: &[f32], corpus: &[f32], dim: usize, corpus_len: usize) {
    for row in 0..c.rows {
        let (scores, indices) = c.row(row).unwrap();
        let query = &q[row * dim..(row + 1) * dim];
        let kept = corpus_len.min(c.width);
        assert!(indices[kept..].iter().all(|&i| i == -1));
        assert!(scores[kept..].iter().all(|&s| s == f32::NEG_INFINITY));
        let mut seen = std::collections::HashSet::new();
        for (j, (&s, &i)) in scores[..kept].iter().zip(&indices[..kept]).enumerate() {
            assert!(seen.insert(i), "row {row}: index {i} twice");
            let i = i as usize;
            let expected = dot(query, &corpus[i * dim..(i + 1) * dim]);
            assert!((s - expected).abs() <= TOLERANCE, "row {row} slot {j}");
            if j > 0 {
                assert!(scores[j - 1] >= s, "row {row}: not descending");
            }
        }
        let lowest_kept = scores[..kept].iter().copied().fold(f32::INFINITY, f32::min);
        for i in (0..corpus_len).filter(|i| !seen.contains(&(*i as i64))) {
            let s = dot(query, &corpus[i * dim..(i + 1) * dim]);
            assert!(s <= lowest_kept + TOLERANCE, "row {row}: {i} left out");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn chunked_equals_unchunked(
        seed in any::<u64>(),
        n_queries in 1usize..40,
        corpus_len in 1usize..60,
        dim in 1usize..8,
        width in 1usize..70,
        bound in 1usize..400,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (q, qt) = random_matrix(&mut rng, n_queries, dim);
        let (c, ct) = random_matrix(&mut rng, corpus_len, dim);
        let whole = top_candidates(&qt, &ct, width, usize::MAX, false).unwrap();
        let chunked = top_candidates(&qt, &ct, width, bound, false).unwrap();

        prop_assert_eq!(whole.chunking.chunks, 1);
        prop_assert_eq!(whole.chunking.peak_elements, n_queries * corpus_len);
        let rows = chunk_rows(corpus_len, bound).min(n_queries);
        prop_assert_eq!(chunked.chunking.rows_per_chunk, rows);
        prop_assert_eq!(chunked.chunking.chunks, n_queries.div_ceil(rows));
        // the bound holds whenever one corpus row fits in it; a chunk is never below one row
        prop_assert!(chunked.chunking.peak_elements <= bound.max(corpus_len));
        prop_assert!(chunked.chunking.peak_elements <= rows * corpus_len);

        prop_assert_eq!(chunked.scores.len(), n_queries * width);
        assert_exact_top_k(&whole, &q, &c, dim, corpus_len);
        assert_exact_top_k(&chunked, &q, &c, dim, corpus_len);
        for (a, b) in whole.scores.iter().zip(&chunked.scores) {
            prop_assert!(a == b || (a - b).abs() <= TOLERANCE, "{} vs {}", a, b);
        }
    }
}

#[test]
fn many_chunks_give_the_one_chunk_result() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (_, q) = random_matrix(&mut rng, 101, 12);
    let (_, c) = random_matrix(&mut rng, 77, 12);
    let whole = top_candidates(&q, &c, 9, 1 << 25, false).unwrap();
    // 2 query rows per chunk: 51 chunks of at most 154 values
    let chunked = top_candidates(&q, &c, 9, 2 * 77 + 5, false).unwrap();
    assert_eq!(chunked.chunking.rows_per_chunk, 2);
    assert_eq!(chunked.chunking.chunks, 51);
    assert_eq!(chunked.chunking.peak_elements, 154);
    assert_eq!(whole.indices, chunked.indices);
    // BLAS picks its kernel by the block's shape, so a value may differ in the last bit
    for (a, b) in whole.scores.iter().zip(&chunked.scores) {
        assert!((a - b).abs() <= TOLERANCE, "{a} vs {b}");
    }
}
