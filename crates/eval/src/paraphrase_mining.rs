//! Paraphrase mining and its evaluation, as sentence-transformers' `paraphrase_mining` and
//! `ParaphraseMiningEvaluator`.
//!
//! Mining compares every sentence with every other by cosine similarity, keeps each sentence's
//! `top_k` most similar others and the best `max_pairs` pairs overall. The evaluator walks the
//! mined pairs from the most similar down against gold duplicate pairs and reports average
//! precision and the best F1 with its threshold.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};

use serde::{Deserialize, Serialize};

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::metrics::{MetricValues, NamedMetrics};
use crate::similarity::SimilarityFunction;
use crate::top_k::{scored_rows, TopK};
use crate::validate::check_positive;

/// `paraphrase_mining`'s arguments, with sentence-transformers' names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MiningConfig {
    /// Sentences scored at a time as queries.
    pub query_chunk_size: usize,
    /// Sentences scored at a time as candidates. Neither chunk size changes the result; the
    /// embeddings are held once in `f64` (`n * dim` values) besides each query chunk's
    /// `top_k + 1` best candidates.
    pub corpus_chunk_size: usize,
    /// At most this many pairs are returned (the most similar).
    pub max_pairs: usize,
    /// Each sentence proposes at most its `top_k` most similar other sentences.
    pub top_k: usize,
}

impl Default for MiningConfig {
    fn default() -> Self {
        Self {
            query_chunk_size: 5000,
            corpus_chunk_size: 100_000,
            max_pairs: 500_000,
            top_k: 100,
        }
    }
}

impl MiningConfig {
    fn validate(&self) -> Result<()> {
        check_positive("query_chunk_size", self.query_chunk_size)?;
        check_positive("corpus_chunk_size", self.corpus_chunk_size)?;
        check_positive("max_pairs", self.max_pairs)?;
        check_positive("top_k", self.top_k)
    }
}

/// A mined pair of sentence rows, `first < second`, and their cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinedPair {
    pub score: f64,
    pub first: usize,
    pub second: usize,
}

impl MinedPair {
    /// Python's tuple order on `(score, first, second)`, the order of the pair heap.
    fn tuple_order(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| (self.first, self.second).cmp(&(other.first, other.second)))
    }
}

/// [`MinedPair`] ordered as sentence-transformers' heap orders its `(score, i, j)` tuples.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HeapPair(MinedPair);

impl Eq for HeapPair {}

impl PartialOrd for HeapPair {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HeapPair {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.tuple_order(&other.0)
    }
}

/// sentence-transformers' `paraphrase_mining_embeddings` with cosine similarity (in `f64`).
///
/// For each sentence `i` in order: its `top_k + 1` best rows (itself included) by score, then
/// without `i`, the first `top_k`; each pair `(min, max)` not yet kept and scoring above the
/// last evicted score joins a min-heap of at most `max_pairs` pairs, evicting the smallest
/// `(score, first, second)`. Returns the kept pairs, most similar first (equal scores by
/// `(first, second)`).
///
/// **Ties.** Candidates with equal scores are ranked by lower row first; sentence-transformers
/// takes `torch.topk`'s arbitrary order, so the two can differ only when equal scores straddle
/// a sentence's `top_k` cut-off. Scores are `f64` here, `f32` there.
///
/// # Shapes
/// embeddings: `[n, dim]` → at most `min(max_pairs, n * top_k)` pairs
///
/// Errors on a zero config value (naming the key) or a NaN/infinite value (naming the row).
pub fn paraphrase_mining(
    embeddings: Embeddings<'_>,
    config: &MiningConfig,
) -> Result<Vec<MinedPair>> {
    config.validate()?;
    embeddings.check_finite("embeddings")?;
    let function = SimilarityFunction::Cosine;
    let dim = embeddings.dim();
    let prepared = function.prepare(embeddings.as_slice(), dim);
    let mut heap = PairHeap::new(config.max_pairs);
    let mut top = TopK::new(config.top_k.saturating_add(1));
    let query_len = config.query_chunk_size.saturating_mul(dim);
    let corpus_len = config.corpus_chunk_size.saturating_mul(dim);
    for (q_chunk, queries) in prepared.chunks(query_len).enumerate() {
        let q_start = q_chunk * config.query_chunk_size;
        let mut lists = vec![Vec::new(); queries.len() / dim];
        for (c_chunk, docs) in prepared.chunks(corpus_len).enumerate() {
            let c_start = c_chunk * config.corpus_chunk_size;
            for (list, query) in lists.iter_mut().zip(queries.chunks_exact(dim)) {
                top.merge(list, scored_rows(function, query, docs, dim, c_start));
            }
        }
        for (offset, list) in lists.iter().enumerate() {
            let i = q_start + offset;
            for hit in list.iter().filter(|h| h.index != i).take(config.top_k) {
                heap.offer(i, hit.index, hit.score);
            }
        }
    }
    Ok(heap.into_sorted())
}

/// The bounded pair heap of `paraphrase_mining_embeddings`.
#[derive(Debug)]
struct PairHeap {
    max_pairs: usize,
    heap: BinaryHeap<Reverse<HeapPair>>,
    queued: HashSet<(usize, usize)>,
    /// Score of the last evicted pair; pairs scoring at most this are not offered.
    min_score: f64,
}

impl PairHeap {
    fn new(max_pairs: usize) -> Self {
        Self {
            max_pairs,
            heap: BinaryHeap::new(),
            queued: HashSet::new(),
            min_score: f64::NEG_INFINITY,
        }
    }

    fn offer(&mut self, i: usize, j: usize, score: f64) {
        if score <= self.min_score {
            return;
        }
        let (first, second) = if i < j { (i, j) } else { (j, i) };
        if !self.queued.insert((first, second)) {
            return;
        }
        self.heap.push(Reverse(HeapPair(MinedPair {
            score,
            first,
            second,
        })));
        if self.heap.len() > self.max_pairs {
            if let Some(Reverse(HeapPair(evicted))) = self.heap.pop() {
                self.queued.remove(&(evicted.first, evicted.second));
                self.min_score = evicted.score;
            }
        }
    }

    fn into_sorted(self) -> Vec<MinedPair> {
        let mut pairs: Vec<MinedPair> = self.heap.into_iter().map(|Reverse(p)| p.0).collect();
        pairs.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| (a.first, a.second).cmp(&(b.first, b.second)))
        });
        pairs
    }
}

/// The evaluator's arguments: transitive closure of the gold pairs, and the mining config.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParaphraseMiningConfig {
    /// Also count every pair within a connected group of gold duplicates as a duplicate.
    pub add_transitive_closure: bool,
    pub mining: MiningConfig,
}

/// The result of [`ParaphraseMiningEvaluator::evaluate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParaphraseMiningMetrics {
    /// Sum of precision at each score group that adds gold duplicates, weighted by how many
    /// it adds, over the number of gold duplicate pairs (0 when there are none).
    pub average_precision: f64,
    /// Best F1 over the cut-offs after each score group.
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
    /// Midpoint of the last score kept and the next mined score at the best F1 (0 when no
    /// duplicate is mined).
    pub threshold: f64,
    /// How many pairs were mined.
    pub candidate_pairs: usize,
}

impl NamedMetrics for ParaphraseMiningMetrics {
    /// `average_precision`, `f1`, `precision`, `recall`, `threshold`.
    fn metric_values(&self) -> MetricValues {
        [
            ("average_precision", self.average_precision),
            ("f1", self.f1),
            ("precision", self.precision),
            ("recall", self.recall),
            ("threshold", self.threshold),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }

    fn primary_metric(&self) -> &str {
        "average_precision"
    }
}

/// sentence-transformers' `ParaphraseMiningEvaluator` on precomputed embeddings of
/// `sentences` sentences; gold duplicates are pairs of sentence rows.
#[derive(Debug, Clone)]
pub struct ParaphraseMiningEvaluator {
    sentences: usize,
    /// Gold duplicate pairs `(first, second)`, `first < second`.
    duplicates: HashSet<(usize, usize)>,
    config: ParaphraseMiningConfig,
}

impl ParaphraseMiningEvaluator {
    /// An evaluator for `sentences` sentences with gold `duplicates` (order within a pair
    /// and repeats do not matter).
    ///
    /// Errors on no sentences, a pair naming a row outside `0..sentences` or a sentence
    /// with itself (naming the row of `duplicates`), or a zero config value (naming the key).
    /// No gold pairs at all is valid: every metric is then 0, as in sentence-transformers.
    pub fn new(
        sentences: usize,
        duplicates: &[(usize, usize)],
        config: ParaphraseMiningConfig,
    ) -> Result<Self> {
        config.mining.validate()?;
        if sentences == 0 {
            return Err(Error::EmptyInput { input: "sentences" });
        }
        let mut pairs = HashSet::new();
        for (row, &(a, b)) in duplicates.iter().enumerate() {
            if let Some(index) = [a, b].into_iter().find(|&i| i >= sentences) {
                return Err(Error::DuplicateOutOfRange {
                    row,
                    index,
                    sentences,
                });
            }
            if a == b {
                return Err(Error::SelfDuplicate { row, index: a });
            }
            pairs.insert((a.min(b), a.max(b)));
        }
        if config.add_transitive_closure {
            pairs = transitive_closure(sentences, &pairs);
        }
        Ok(Self {
            sentences,
            duplicates: pairs,
            config,
        })
    }

    /// The number of gold duplicate pairs (after the transitive closure, if enabled).
    pub fn gold_pairs(&self) -> usize {
        self.duplicates.len()
    }

    /// Every key [`Self::evaluate`] reports, in its order.
    pub fn metric_names() -> Vec<String> {
        let zero = ParaphraseMiningMetrics {
            average_precision: 0.0,
            f1: 0.0,
            precision: 0.0,
            recall: 0.0,
            threshold: 0.0,
            candidate_pairs: 0,
        };
        zero.metric_values().names().map(str::to_string).collect()
    }

    /// Mines `embeddings` with [`paraphrase_mining`] and scores the mined pairs.
    ///
    /// # Shapes
    /// embeddings: `[sentences, dim]`
    ///
    /// Errors on another row count or a NaN/infinite value (naming the row).
    pub fn evaluate(&self, embeddings: Embeddings<'_>) -> Result<ParaphraseMiningMetrics> {
        if embeddings.rows() != self.sentences {
            return Err(Error::InputRows {
                input: "embeddings",
                rows: embeddings.rows(),
                reference: "sentences",
                expected: self.sentences,
            });
        }
        let pairs = paraphrase_mining(embeddings, &self.config.mining)?;
        let metrics = self.score_pairs(&pairs);
        tracing::debug!(
            sentences = self.sentences,
            candidate_pairs = pairs.len(),
            average_precision = metrics.average_precision,
            "paraphrase mining evaluation"
        );
        Ok(metrics)
    }

    /// Walks `pairs` (most similar first), taking each group of equal scores at once.
    fn score_pairs(&self, pairs: &[MinedPair]) -> ParaphraseMiningMetrics {
        let total = self.duplicates.len();
        let mut m = ParaphraseMiningMetrics {
            average_precision: 0.0,
            f1: 0.0,
            precision: 0.0,
            recall: 0.0,
            threshold: 0.0,
            candidate_pairs: pairs.len(),
        };
        let (mut correct, mut previous_correct) = (0usize, 0usize);
        for (idx, pair) in pairs.iter().enumerate() {
            correct += usize::from(self.duplicates.contains(&(pair.first, pair.second)));
            let next = pairs.get(idx + 1);
            if next.is_some_and(|n| n.score == pair.score) {
                continue;
            }
            if correct > previous_correct {
                let precision = correct as f64 / (idx + 1) as f64;
                let recall = correct as f64 / total as f64;
                let f1 = 2.0 * precision * recall / (precision + recall);
                m.average_precision += precision * (correct - previous_correct) as f64;
                if f1 > m.f1 {
                    let next_score = next.map_or(pair.score, |n| n.score);
                    m.f1 = f1;
                    m.precision = precision;
                    m.recall = recall;
                    m.threshold = (pair.score + next_score) / 2.0;
                }
            }
            previous_correct = correct;
        }
        if total > 0 {
            m.average_precision /= total as f64;
        }
        m
    }
}

/// Every pair `(a, b)`, `a < b`, of rows connected through `pairs`.
fn transitive_closure(rows: usize, pairs: &HashSet<(usize, usize)>) -> HashSet<(usize, usize)> {
    let mut parent: Vec<usize> = (0..rows).collect();
    for &(a, b) in pairs {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        parent[ra.max(rb)] = ra.min(rb);
    }
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); rows];
    for i in 0..rows {
        let r = root(&mut parent, i);
        groups[r].push(i);
    }
    groups
        .iter()
        .flat_map(|g| {
            g.iter()
                .enumerate()
                .flat_map(move |(x, &a)| g[x + 1..].iter().map(move |&b| (a, b)))
        })
        .collect()
}

/// The representative of `i`'s group in the union-find forest `parent` (halving paths).
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(data: &[f32]) -> Embeddings<'_> {
        Embeddings::new(data, data.len() / 2, 2).unwrap()
    }

    /// Five 2-d sentences: 0 ≈ 1, 2 ≈ 3, 4 alone.
    const SENTENCES: [f32; 10] = [1.0, 0.0, 0.99, 0.1, 0.0, 1.0, 0.1, 0.99, -1.0, -1.0];

    #[test]
    fn mining_returns_best_pairs_first_without_self_pairs() {
        let pairs = paraphrase_mining(emb(&SENTENCES), &MiningConfig::default()).unwrap();
        assert_eq!(pairs.len(), 10);
        // {0, 1} and {2, 3} are mirror images: equal scores, ordered by row
        assert_eq!((pairs[0].first, pairs[0].second), (0, 1));
        assert_eq!((pairs[1].first, pairs[1].second), (2, 3));
        assert_eq!(pairs[0].score, pairs[1].score);
        assert!(pairs.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(pairs.iter().all(|p| p.first < p.second));
    }

    #[test]
    fn max_pairs_and_top_k_bound_the_result() {
        let config = MiningConfig {
            max_pairs: 3,
            ..Default::default()
        };
        let pairs = paraphrase_mining(emb(&SENTENCES), &config).unwrap();
        assert_eq!(pairs.len(), 3);
        let config = MiningConfig {
            top_k: 1,
            ..Default::default()
        };
        let pairs = paraphrase_mining(emb(&SENTENCES), &config).unwrap();
        // each sentence proposes its nearest neighbour: {0,1}, {2,3} and 4's nearest
        assert_eq!(pairs.len(), 3);
    }

    #[test]
    fn chunk_sizes_do_not_change_the_pairs() {
        let reference = paraphrase_mining(emb(&SENTENCES), &MiningConfig::default()).unwrap();
        for (q, c) in [(1, 1), (2, 3), (4, 2)] {
            let config = MiningConfig {
                query_chunk_size: q,
                corpus_chunk_size: c,
                ..Default::default()
            };
            assert_eq!(
                paraphrase_mining(emb(&SENTENCES), &config).unwrap(),
                reference
            );
        }
    }

    #[test]
    fn perfect_mining_scores_one() {
        let evaluator =
            ParaphraseMiningEvaluator::new(5, &[(1, 0), (2, 3)], Default::default()).unwrap();
        let m = evaluator.evaluate(emb(&SENTENCES)).unwrap();
        assert_eq!(
            (m.average_precision, m.f1, m.precision, m.recall),
            (1.0, 1.0, 1.0, 1.0)
        );
        assert_eq!(m.candidate_pairs, 10);
        let pairs = paraphrase_mining(emb(&SENTENCES), &MiningConfig::default()).unwrap();
        assert_eq!(m.threshold, (pairs[1].score + pairs[2].score) / 2.0);
        assert_eq!(m.primary_metric(), "average_precision");
        let names: Vec<String> = m.metric_values().names().map(String::from).collect();
        assert_eq!(
            names,
            [
                "average_precision",
                "f1",
                "precision",
                "recall",
                "threshold"
            ]
        );
    }

    #[test]
    fn transitive_closure_connects_groups() {
        let config = ParaphraseMiningConfig {
            add_transitive_closure: true,
            ..Default::default()
        };
        let evaluator =
            ParaphraseMiningEvaluator::new(5, &[(0, 1), (1, 2), (3, 4)], config).unwrap();
        assert_eq!(evaluator.gold_pairs(), 4);
        let plain =
            ParaphraseMiningEvaluator::new(5, &[(0, 1), (1, 0)], Default::default()).unwrap();
        assert_eq!(plain.gold_pairs(), 1);
    }

    #[test]
    fn no_gold_pairs_gives_zeros() {
        let m = ParaphraseMiningEvaluator::new(5, &[], Default::default())
            .unwrap()
            .evaluate(emb(&SENTENCES))
            .unwrap();
        assert_eq!(m.metric_values().iter().map(|(_, v)| v).sum::<f64>(), 0.0);
    }

    #[test]
    fn bad_inputs_are_errors_naming_them() {
        let err = ParaphraseMiningEvaluator::new(5, &[(0, 1), (2, 5)], Default::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "duplicates row 1 names sentence 5, but there are 5 sentences"
        );
        let err = ParaphraseMiningEvaluator::new(5, &[(3, 3)], Default::default())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "duplicates row 0 pairs sentence 3 with itself");
        let err = ParaphraseMiningEvaluator::new(0, &[], Default::default())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "sentences is empty");
        let config = ParaphraseMiningConfig {
            mining: MiningConfig {
                top_k: 0,
                ..Default::default()
            },
            ..Default::default()
        };
        let err = ParaphraseMiningEvaluator::new(5, &[], config)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "config key top_k must be positive, got 0");
        let evaluator = ParaphraseMiningEvaluator::new(4, &[], Default::default()).unwrap();
        let err = evaluator.evaluate(emb(&SENTENCES)).unwrap_err().to_string();
        assert_eq!(err, "embeddings has 5 rows but sentences has 4");
        let mut data = SENTENCES;
        data[9] = f32::NAN;
        let evaluator = ParaphraseMiningEvaluator::new(5, &[], Default::default()).unwrap();
        let err = evaluator.evaluate(emb(&data)).unwrap_err().to_string();
        assert_eq!(err, "embeddings has a non-finite value NaN at row 4");
    }
}
