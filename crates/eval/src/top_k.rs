//! A running top-k of scored rows, in a total order so that results do not depend on chunking.

use std::cmp::Ordering;

use crate::similarity::SimilarityFunction;

/// A candidate row and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    pub(crate) score: f64,
    pub(crate) index: usize,
}

/// Rank order: higher score first, equal scores by lower index first.
///
/// A total order (`f64::total_cmp`); scores are finite and `-0.0` has been turned into `0.0`
/// by `SimilarityFunction::score_prepared`, so equal scores really tie.
pub(crate) fn rank_order(a: &Hit, b: &Hit) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| a.index.cmp(&b.index))
}

/// Merges candidates into per-query top-`k` lists, reusing one scratch buffer so that each list
/// holds at most `k` hits between merges.
#[derive(Debug)]
pub(crate) struct TopK {
    k: usize,
    scratch: Vec<Hit>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        Self {
            k,
            scratch: Vec::new(),
        }
    }

    /// Replaces `hits` (sorted in [`rank_order`], at most `k` long) with the first `k` of
    /// `hits ∪ candidates` in [`rank_order`], sorted.
    pub(crate) fn merge(&mut self, hits: &mut Vec<Hit>, candidates: impl IntoIterator<Item = Hit>) {
        let k = self.k;
        self.scratch.clear();
        self.scratch.extend_from_slice(hits);
        // Once the list is full, only candidates that beat its last hit can enter.
        let worst = (hits.len() == k).then(|| hits.last().copied()).flatten();
        match worst {
            Some(worst) => self.scratch.extend(
                candidates
                    .into_iter()
                    .filter(|c| rank_order(c, &worst) == Ordering::Less),
            ),
            None if k == 0 => {}
            None => self.scratch.extend(candidates),
        }
        if self.scratch.len() > k {
            self.scratch.select_nth_unstable_by(k, rank_order);
            self.scratch.truncate(k);
        }
        self.scratch.sort_unstable_by(rank_order);
        hits.clear();
        hits.extend_from_slice(&self.scratch);
    }
}

/// The score of `query` against each row of `docs` (prepared rows `start..`), as [`Hit`]s.
pub(crate) fn scored_rows<'a>(
    function: SimilarityFunction,
    query: &'a [f64],
    docs: &'a [f64],
    dim: usize,
    start: usize,
) -> impl Iterator<Item = Hit> + 'a {
    docs.chunks_exact(dim).enumerate().map(move |(j, doc)| Hit {
        score: function.score_prepared(query, doc),
        index: start + j,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(pairs: &[(f64, usize)]) -> Vec<Hit> {
        pairs
            .iter()
            .map(|&(score, index)| Hit { score, index })
            .collect()
    }

    #[test]
    fn keeps_the_best_k_with_ties_by_lower_index() {
        let mut top = TopK::new(3);
        let mut list = Vec::new();
        top.merge(&mut list, hits(&[(0.5, 4), (0.9, 7), (0.5, 2)]));
        assert_eq!(list, hits(&[(0.9, 7), (0.5, 2), (0.5, 4)]));
        top.merge(&mut list, hits(&[(0.5, 1), (0.1, 0), (1.0, 9)]));
        assert_eq!(list, hits(&[(1.0, 9), (0.9, 7), (0.5, 1)]));
    }

    #[test]
    fn chunked_merging_equals_one_merge() {
        let all: Vec<Hit> = (0..50)
            .map(|i| Hit {
                score: f64::from((i * 7 % 11) as u8),
                index: i,
            })
            .collect();
        let mut one = Vec::new();
        TopK::new(8).merge(&mut one, all.clone());
        let mut chunked = Vec::new();
        let mut top = TopK::new(8);
        for chunk in all.chunks(3) {
            top.merge(&mut chunked, chunk.iter().copied());
        }
        assert_eq!(one, chunked);
        let mut sorted = all;
        sorted.sort_by(rank_order);
        assert_eq!(one, sorted[..8]);
    }

    #[test]
    fn k_zero_keeps_nothing() {
        let mut list = Vec::new();
        TopK::new(0).merge(&mut list, hits(&[(1.0, 0)]));
        assert!(list.is_empty());
    }
}
