//! Reranking evaluation, as sentence-transformers 6.3's `CrossEncoderRerankingEvaluator`.
//!
//! Each sample is a query, its relevant documents (`positive`) and either irrelevant documents
//! (`negative`) or a first-stage ranking (`documents`). The sample's candidates are scored
//! against the query and ranked by score; MAP, MRR@k and NDCG@k are computed per sample and
//! averaged over all samples. Samples with `documents` also report the metrics of the given
//! order (`base_*`).

use serde::{Deserialize, Serialize};

use super::checked_scores;
use crate::classification_metrics::average_precision;
use crate::error::{Error, Result};
use crate::information_retrieval::{dcg, reciprocal_rank_at};
use crate::metrics::{MetricValues, NamedMetrics};
use crate::top_k::Hit;
use crate::validate::check_positive;

/// The evaluator's arguments besides the samples, as sentence-transformers names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrossEncoderRerankingConfig {
    /// The cut-off of MRR and NDCG (MAP is over the whole list).
    pub at_k: usize,
    /// For samples with `documents`: rank every positive, found by the first stage or not
    /// (`true`), or only the documents as given (`false`, a more realistic evaluation).
    /// Samples with `negative` always rank every positive.
    pub always_rerank_positives: bool,
}

impl Default for CrossEncoderRerankingConfig {
    fn default() -> Self {
        Self {
            at_k: 10,
            always_rerank_positives: true,
        }
    }
}

/// One query of a reranking evaluation.
///
/// (De)serialises as sentence-transformers' sample dict: `query`, `positive` (a list, or one
/// string) and exactly one of `negative` and `documents`; with `documents`, optionally the
/// first stage's `scores` of them (a key sentence-transformers ignores), which score fusion
/// ([`CrossEncoderRerankingEvaluator::evaluate_fused`]) reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSample", into = "RawSample")]
pub struct RerankingSample {
    pub query: String,
    /// The relevant documents.
    pub positive: Vec<String>,
    pub candidates: Candidates,
    /// The first stage's score of each of `Candidates::Documents`, in their order.
    first_stage_scores: Option<Vec<f32>>,
}

/// The documents of a sample besides its positives.
#[derive(Debug, Clone, PartialEq)]
pub enum Candidates {
    /// Irrelevant documents (`negative`): the positives and these are ranked.
    Negative(Vec<String>),
    /// A first-stage ranking, best first (`documents`), which may hold positives. Positives
    /// it misses still count as relevant documents in MAP and NDCG.
    Documents(Vec<String>),
}

impl Candidates {
    fn list(&self) -> &[String] {
        match self {
            Self::Negative(list) | Self::Documents(list) => list,
        }
    }

    /// The sample key of the list.
    fn key(&self) -> &'static str {
        match self {
            Self::Negative(_) => "negative",
            Self::Documents(_) => "documents",
        }
    }
}

impl RerankingSample {
    /// A sample of relevant and irrelevant documents.
    pub fn with_negatives(
        query: impl Into<String>,
        positive: Vec<String>,
        negative: Vec<String>,
    ) -> Self {
        Self {
            query: query.into(),
            positive,
            candidates: Candidates::Negative(negative),
            first_stage_scores: None,
        }
    }

    /// A sample of relevant documents and a first-stage ranking, best first.
    pub fn with_documents(
        query: impl Into<String>,
        positive: Vec<String>,
        documents: Vec<String>,
    ) -> Self {
        Self {
            query: query.into(),
            positive,
            candidates: Candidates::Documents(documents),
            first_stage_scores: None,
        }
    }

    /// The sample with the first stage's score of each of its `documents`, in their order.
    ///
    /// Errors on a sample with `negative`, another count than the documents, or a NaN or
    /// infinite score, naming the query.
    pub fn with_first_stage_scores(mut self, scores: Vec<f32>) -> Result<Self> {
        let reason = match &self.candidates {
            Candidates::Negative(_) => {
                Some("first-stage scores need `documents`, it has `negative`".to_string())
            }
            Candidates::Documents(documents) if documents.len() != scores.len() => Some(format!(
                "{} first-stage scores for {} documents",
                scores.len(),
                documents.len()
            )),
            Candidates::Documents(_) => scores
                .iter()
                .position(|s| !s.is_finite())
                .map(|i| format!("first-stage score {i} is {}", scores[i])),
        };
        if let Some(reason) = reason {
            return Err(Error::SampleScores {
                query: self.query,
                reason,
            });
        }
        self.first_stage_scores = Some(scores);
        Ok(self)
    }

    /// The first stage's score of each of `documents`, when the sample has them.
    pub fn first_stage_scores(&self) -> Option<&[f32]> {
        self.first_stage_scores.as_deref()
    }

    /// The text of a candidate, `None` only for a candidate of another sample.
    fn text(&self, candidate: Candidate) -> Option<&str> {
        match candidate {
            Candidate::Positive(i) => self.positive.get(i),
            Candidate::Listed(i) => self.candidates.list().get(i),
        }
        .map(String::as_str)
    }
}

/// The sample dict as sentence-transformers takes it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSample {
    query: String,
    positive: Positives,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    negative: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    documents: Option<Vec<String>>,
    /// This project's addition: the first stage's scores of `documents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scores: Option<Vec<f32>>,
}

/// sentence-transformers also takes a single positive as a bare string.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Positives {
    One(String),
    Many(Vec<String>),
}

impl TryFrom<RawSample> for RerankingSample {
    type Error = Error;

    fn try_from(raw: RawSample) -> Result<Self> {
        let positive = match raw.positive {
            Positives::One(p) => vec![p],
            Positives::Many(ps) => ps,
        };
        let candidates = match (raw.negative, raw.documents) {
            (Some(negative), None) => Candidates::Negative(negative),
            (None, Some(documents)) => Candidates::Documents(documents),
            (negative, _) => {
                return Err(Error::SampleCandidates {
                    query: raw.query,
                    got: if negative.is_some() {
                        "both"
                    } else {
                        "neither"
                    },
                })
            }
        };
        let sample = Self {
            query: raw.query,
            positive,
            candidates,
            first_stage_scores: None,
        };
        match raw.scores {
            Some(scores) => sample.with_first_stage_scores(scores),
            None => Ok(sample),
        }
    }
}

impl From<RerankingSample> for RawSample {
    fn from(sample: RerankingSample) -> Self {
        let (negative, documents) = match sample.candidates {
            Candidates::Negative(list) => (Some(list), None),
            Candidates::Documents(list) => (None, Some(list)),
        };
        Self {
            query: sample.query,
            positive: Positives::Many(sample.positive),
            negative,
            documents,
            scores: sample.first_stage_scores,
        }
    }
}

/// Where a candidate's text is: `positive[i]`, or `[i]` of the `negative`/`documents` list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Candidate {
    Positive(usize),
    Listed(usize),
}

/// What is scored of one sample: its candidates in pair order and their relevance.
#[derive(Debug, Clone)]
struct Ranking {
    sample: usize,
    candidates: Vec<Candidate>,
    relevant: Vec<bool>,
}

/// MAP, MRR@k and NDCG@k of one ranking, or their means over samples.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RankingScores {
    /// Average precision, times the share of the relevant documents that were ranked.
    pub map: f64,
    /// 1 / (rank of the first relevant document), 0 beyond rank `k`.
    pub mrr: f64,
    /// DCG@k over the DCG@k of all relevant documents ranked first.
    pub ndcg: f64,
}

impl RankingScores {
    fn add(&mut self, other: Self) {
        self.map += other.map;
        self.mrr += other.mrr;
        self.ndcg += other.ndcg;
    }

    fn divided_by(self, n: usize) -> Self {
        let n = n as f64;
        Self {
            map: self.map / n,
            mrr: self.mrr / n,
            ndcg: self.ndcg / n,
        }
    }
}

/// The result of [`CrossEncoderRerankingEvaluator::evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEncoderRerankingMetrics {
    pub at_k: usize,
    /// Means over all samples of the rankings by score (a sample without a relevant
    /// candidate counts 0).
    pub reranked: RankingScores,
    /// Means over the samples with `documents` of their given order; `None` when no sample
    /// has `documents`.
    pub base: Option<RankingScores>,
    primary_metric: String,
}

impl NamedMetrics for CrossEncoderRerankingMetrics {
    /// `map`, `mrr@{k}`, `ndcg@{k}`, then `base_map`, `base_mrr@{k}`, `base_ndcg@{k}` when
    /// samples have `documents`.
    fn metric_values(&self) -> MetricValues {
        let k = self.at_k;
        let mut values = MetricValues::new();
        let groups =
            std::iter::once(("", self.reranked)).chain(self.base.map(|base| ("base_", base)));
        for (prefix, scores) in groups {
            values.push(format!("{prefix}map"), scores.map);
            values.push(format!("{prefix}mrr@{k}"), scores.mrr);
            values.push(format!("{prefix}ndcg@{k}"), scores.ndcg);
        }
        values
    }

    /// `ndcg@{k}`.
    fn primary_metric(&self) -> &str {
        &self.primary_metric
    }
}

/// sentence-transformers 6.3's `CrossEncoderRerankingEvaluator` on precomputed scores.
///
/// **Pairs.** [`pairs`](Self::pairs) lists `(query, document)` for each sample in order:
/// with `negative`, the positives then the negatives; with `documents` and
/// `always_rerank_positives`, the positives then the documents that are not positives; with
/// `documents` alone, the documents (relevant when listed in `positive`). A sample none of
/// whose candidates is relevant contributes no pairs and scores 0 in every mean, as in
/// sentence-transformers (a query without positives, or whose first stage found none).
///
/// **Metrics.** Per sample, with `r` relevant candidates and `p = max(positives, r)`:
/// MRR@k from the ranking by score; NDCG@k as scikit-learn's `dcg_score(k)`, which gives
/// each group of equal scores the mean gain of its members, over the ideal DCG of
/// `min(p, k)` relevant documents; MAP as scikit-learn's `average_precision_score` (equal
/// scores enter together) times `r / p`. The base metrics score a sample's `documents` by
/// their position, best first, with `p = max(positives, r)` likewise.
///
/// **Ties in MRR.** sentence-transformers ranks with `np.argsort(scores)[::-1]`, whose order
/// among equal scores numpy leaves unspecified (its SIMD sort differs between CPUs). Here a
/// later candidate ranks before an earlier one with an equal score: a stable ascending sort
/// reversed, which is what numpy's generic (non-SIMD) quicksort gives for up to 16
/// candidates. So a model that scores a positive and a negative alike is not credited with
/// the positive first (positives come first in the pair order).
#[derive(Debug, Clone)]
pub struct CrossEncoderRerankingEvaluator {
    samples: Vec<RerankingSample>,
    config: CrossEncoderRerankingConfig,
    rankings: Vec<Ranking>,
    base: Option<RankingScores>,
    pair_count: usize,
}

impl CrossEncoderRerankingEvaluator {
    /// An evaluator of `samples`; the metrics of the `documents` orders are computed here.
    ///
    /// Errors on no samples, `at_k = 0`, or a sample with nothing to rank (empty `positive`
    /// and `negative`/`documents`, naming the sample; sentence-transformers would count it 0).
    pub fn new(samples: Vec<RerankingSample>, config: CrossEncoderRerankingConfig) -> Result<Self> {
        check_positive("at_k", config.at_k)?;
        if samples.is_empty() {
            return Err(Error::EmptyInput { input: "samples" });
        }
        for (i, sample) in samples.iter().enumerate() {
            if sample.positive.is_empty() && sample.candidates.list().is_empty() {
                return Err(Error::NoCandidates {
                    sample: i,
                    query: sample.query.clone(),
                    list: sample.candidates.key(),
                });
            }
        }
        let rankings: Vec<Ranking> = samples
            .iter()
            .enumerate()
            .filter_map(|(i, s)| ranking(i, s, config.always_rerank_positives))
            .collect();
        let pair_count = rankings.iter().map(|r| r.candidates.len()).sum();
        let base = base_scores(&samples, config.at_k);
        Ok(Self {
            samples,
            config,
            rankings,
            base,
            pair_count,
        })
    }

    pub fn config(&self) -> &CrossEncoderRerankingConfig {
        &self.config
    }

    pub fn samples(&self) -> &[RerankingSample] {
        &self.samples
    }

    /// The `(query, document)` pairs to score, in sentence-transformers' order.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        let mut pairs = Vec::with_capacity(self.pair_count);
        for ranking in &self.rankings {
            if let Some(sample) = self.samples.get(ranking.sample) {
                pairs.extend(
                    ranking
                        .candidates
                        .iter()
                        .filter_map(|&c| sample.text(c))
                        .map(|document| (sample.query.as_str(), document)),
                );
            }
        }
        pairs
    }

    /// How many pairs [`Self::pairs`] lists: the length [`Self::evaluate`] expects.
    pub fn num_pairs(&self) -> usize {
        self.pair_count
    }

    fn zero_metrics(&self) -> CrossEncoderRerankingMetrics {
        metrics(self.config.at_k, RankingScores::default(), self.base)
    }

    /// Every key [`Self::evaluate`] reports, in its order, known before any evaluation.
    pub fn metric_names(&self) -> Vec<String> {
        self.zero_metrics()
            .metric_values()
            .names()
            .map(str::to_string)
            .collect()
    }

    /// The primary metric of every evaluation, `ndcg@{at_k}`.
    pub fn primary_metric(&self) -> String {
        self.zero_metrics().primary_metric().to_string()
    }

    /// The metrics from the score of each pair of [`Self::pairs`] (larger: more relevant).
    ///
    /// # Shapes
    /// scores: `[num_pairs]`
    ///
    /// Errors on another length or a NaN or infinite score (naming its row).
    pub fn evaluate(&self, scores: &[f32]) -> Result<CrossEncoderRerankingMetrics> {
        self.evaluate_with(scores, None)
    }

    /// The metrics of the rankings by each pair's score fused with its first-stage score
    /// ([`fuse_first_stage`](super::fuse_first_stage): per sample, z-normalised reranker
    /// scores plus `weight` times z-normalised first-stage scores). `base_*` stay the first
    /// stage's.
    ///
    /// # Shapes
    /// scores: `[num_pairs]`
    ///
    /// Errors as [`Self::evaluate`], and on a ranked sample without first-stage scores or
    /// with a positive the first stage missed (`always_rerank_positives = true` ranks it
    /// without a first-stage score), naming the sample.
    pub fn evaluate_fused(
        &self,
        scores: &[f32],
        weight: f64,
    ) -> Result<CrossEncoderRerankingMetrics> {
        self.evaluate_with(scores, Some(weight))
    }

    fn evaluate_with(
        &self,
        scores: &[f32],
        fusion_weight: Option<f64>,
    ) -> Result<CrossEncoderRerankingMetrics> {
        let scores = checked_scores(scores, self.pair_count, 1)?.as_slice();
        let mut rest = scores;
        let mut sum = RankingScores::default();
        for ranking in &self.rankings {
            let (own, tail) =
                rest.split_at_checked(ranking.candidates.len())
                    .ok_or(Error::ScoreCount {
                        len: scores.len(),
                        pairs: self.pair_count,
                        per_pair: 1,
                        expected: self.pair_count as u128,
                    })?;
            rest = tail;
            let fused;
            let own = match fusion_weight {
                Some(weight) => {
                    let first = self.first_stage_of(ranking)?;
                    fused = super::fuse_first_stage(own, &first, weight)?;
                    fused.as_slice()
                }
                None => own,
            };
            // `+ 0.0` turns -0.0 into 0.0: numpy ties them, `total_cmp` would not.
            let own: Vec<f64> = own.iter().map(|&s| f64::from(s) + 0.0).collect();
            sum.add(ranking_scores(
                &ranking.relevant,
                &own,
                self.samples
                    .get(ranking.sample)
                    .map_or(0, |s| s.positive.len()),
                self.config.at_k,
            ));
        }
        let reranked = sum.divided_by(self.samples.len());
        tracing::debug!(
            samples = self.samples.len(),
            reranked = self.rankings.len(),
            pairs = self.pair_count,
            ndcg = reranked.ndcg,
            "cross-encoder reranking evaluation"
        );
        Ok(metrics(self.config.at_k, reranked, self.base))
    }
}

impl CrossEncoderRerankingEvaluator {
    /// The first-stage score of each candidate of `ranking`, in pair order.
    fn first_stage_of(&self, ranking: &Ranking) -> Result<Vec<f32>> {
        let sample = self.samples.get(ranking.sample);
        let missing = |reason| Error::NoFirstStageScores {
            sample: ranking.sample,
            query: sample.map(|s| s.query.clone()).unwrap_or_default(),
            reason,
        };
        let scores = sample
            .and_then(RerankingSample::first_stage_scores)
            .ok_or_else(|| missing("it has no first-stage `scores`"))?;
        ranking
            .candidates
            .iter()
            .map(|c| match c {
                Candidate::Listed(i) => scores
                    .get(*i)
                    .copied()
                    .ok_or_else(|| missing("its `scores` are fewer than its documents")),
                // always_rerank_positives ranks every positive: a found one has the score of
                // its first place in `documents`, a missed one none.
                Candidate::Positive(i) => sample
                    .and_then(|s| {
                        let text = s.positive.get(*i)?;
                        s.candidates.list().iter().position(|d| d == text)
                    })
                    .and_then(|row| scores.get(row).copied())
                    .ok_or_else(|| {
                        missing(
                            "a positive the first stage missed has no first-stage score (rank \
                             the documents as found: always_rerank_positives = false)",
                        )
                    }),
            })
            .collect()
    }
}

fn metrics(
    at_k: usize,
    reranked: RankingScores,
    base: Option<RankingScores>,
) -> CrossEncoderRerankingMetrics {
    CrossEncoderRerankingMetrics {
        at_k,
        reranked,
        base,
        primary_metric: format!("ndcg@{at_k}"),
    }
}

/// What sentence-transformers 6.3 scores of `sample`, or `None` when none of its candidates
/// is relevant (it then scores nothing and counts 0).
fn ranking(
    index: usize,
    sample: &RerankingSample,
    always_rerank_positives: bool,
) -> Option<Ranking> {
    let positives = sample.positive.len();
    let all_positives = (0..positives).map(Candidate::Positive);
    let (candidates, relevant): (Vec<Candidate>, Vec<bool>) = match &sample.candidates {
        Candidates::Negative(negative) => all_positives
            .map(|c| (c, true))
            .chain((0..negative.len()).map(|i| (Candidate::Listed(i), false)))
            .unzip(),
        Candidates::Documents(documents) if always_rerank_positives => all_positives
            .map(|c| (c, true))
            .chain(
                documents
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| !sample.positive.contains(d))
                    .map(|(i, _)| (Candidate::Listed(i), false)),
            )
            .unzip(),
        Candidates::Documents(documents) => documents
            .iter()
            .enumerate()
            .map(|(i, d)| (Candidate::Listed(i), sample.positive.contains(d)))
            .unzip(),
    };
    relevant.contains(&true).then_some(Ranking {
        sample: index,
        candidates,
        relevant,
    })
}

/// Mean metrics of the `documents` orders (scored by position, best first) over the samples
/// that have them; `None` when none has.
fn base_scores(samples: &[RerankingSample], at_k: usize) -> Option<RankingScores> {
    let mut sum = RankingScores::default();
    let mut count = 0;
    for sample in samples {
        let Candidates::Documents(documents) = &sample.candidates else {
            continue;
        };
        let relevant: Vec<bool> = documents
            .iter()
            .map(|d| sample.positive.contains(d))
            .collect();
        let n = documents.len();
        let scores: Vec<f64> = (0..n).map(|i| (n - i) as f64).collect();
        sum.add(ranking_scores(
            &relevant,
            &scores,
            sample.positive.len(),
            at_k,
        ));
        count += 1;
    }
    (count > 0).then(|| sum.divided_by(count))
}

/// sentence-transformers 6.3's `compute_metrics` of one ranking: `relevant[i]` and
/// `scores[i]` of candidate `i`, `positives` relevant documents known for the query.
fn ranking_scores(
    relevant: &[bool],
    scores: &[f64],
    positives: usize,
    at_k: usize,
) -> RankingScores {
    let retrieved = relevant.iter().filter(|&&r| r).count();
    if retrieved == 0 {
        return RankingScores::default();
    }
    // Candidates may repeat a positive, so more may be relevant than there are positives.
    let positives = positives.max(retrieved);
    let mut hits: Vec<Hit> = scores
        .iter()
        .enumerate()
        .map(|(index, &score)| Hit { score, index })
        .collect();
    hits.sort_unstable_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.index.cmp(&a.index))
    });
    let relevant_rows: Vec<usize> = (0..relevant.len()).filter(|&i| relevant[i]).collect();
    let ideal = dcg(std::iter::repeat_n(1.0, positives.min(at_k)));
    RankingScores {
        map: average_precision(relevant, scores) * (retrieved as f64 / positives as f64),
        mrr: reciprocal_rank_at(&hits, &relevant_rows, at_k),
        ndcg: tie_averaged_dcg(&hits, relevant, at_k) / ideal,
    }
}

/// scikit-learn's `dcg_score([relevant], [scores], k=k)`: each group of equal scores in
/// `hits` (ranked) spreads the mean gain of its members over its positions, so the order
/// within the group does not matter.
fn tie_averaged_dcg(hits: &[Hit], relevant: &[bool], k: usize) -> f64 {
    let mut gains = Vec::with_capacity(hits.len().min(k));
    for group in hits.chunk_by(|a, b| a.score == b.score) {
        if gains.len() >= k {
            break;
        }
        let hits_relevant = group.iter().filter(|h| relevant[h.index]).count();
        let mean = hits_relevant as f64 / group.len() as f64;
        gains.extend(std::iter::repeat_n(mean, group.len()));
    }
    dcg(gains.into_iter().take(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    fn config(at_k: usize, always_rerank_positives: bool) -> CrossEncoderRerankingConfig {
        CrossEncoderRerankingConfig {
            at_k,
            always_rerank_positives,
        }
    }

    #[test]
    fn pairs_follow_sentence_transformers_order() {
        let samples = vec![
            RerankingSample::with_negatives("q0", strings(&["p"]), strings(&["n0", "n1"])),
            // no positive: skipped, no pairs
            RerankingSample::with_negatives("q1", vec![], strings(&["n"])),
            RerankingSample::with_documents("q2", strings(&["a", "z"]), strings(&["b", "a", "c"])),
        ];
        let reranked =
            CrossEncoderRerankingEvaluator::new(samples.clone(), config(10, true)).unwrap();
        assert_eq!(
            reranked.pairs(),
            [
                ("q0", "p"),
                ("q0", "n0"),
                ("q0", "n1"),
                ("q2", "a"),
                ("q2", "z"),
                ("q2", "b"),
                ("q2", "c")
            ]
        );
        let as_given = CrossEncoderRerankingEvaluator::new(samples, config(10, false)).unwrap();
        assert_eq!(
            as_given.pairs()[3..],
            [("q2", "b"), ("q2", "a"), ("q2", "c")]
        );
        assert_eq!(as_given.num_pairs(), 6);
    }

    #[test]
    fn hand_computed_metrics() {
        // relevant, irrelevant, relevant ranked 2nd, 1st, 3rd: MRR 1/2, AP (1/2 + 2/3) / 2
        let m = ranking_scores(&[true, false, true], &[0.5, 0.9, 0.1], 2, 10);
        assert_eq!(m.mrr, 0.5);
        assert!((m.map - (0.5 + 2.0 / 3.0) / 2.0).abs() < 1e-15);
        let dcg = 1.0 / 3f64.log2() + 0.5;
        assert!((m.ndcg - dcg / (1.0 + 1.0 / 3f64.log2())).abs() < 1e-15);
        // one of two positives missing from the candidates: AP and NDCG normalised by 2
        let m = ranking_scores(&[true, false], &[0.9, 0.1], 2, 10);
        assert_eq!((m.mrr, m.map), (1.0, 0.5));
        assert!((m.ndcg - 1.0 / (1.0 + 1.0 / 3f64.log2())).abs() < 1e-15);
        assert_eq!(
            ranking_scores(&[false, false], &[0.9, 0.1], 1, 10),
            RankingScores::default()
        );
    }

    #[test]
    fn ties_average_dcg_and_rank_later_candidates_first_for_mrr() {
        // a positive and a negative tied at the top
        let m = ranking_scores(&[true, false], &[0.5, 0.5], 1, 10);
        assert_eq!(m.mrr, 0.5);
        assert_eq!(m.map, 0.5);
        assert!((m.ndcg - (1.0 + 1.0 / 3f64.log2()) / 2.0).abs() < 1e-15);
        // the tie group straddles k = 1: half its mean gain falls inside
        let m = ranking_scores(&[false, true, false], &[0.5, 0.5, 0.1], 1, 1);
        assert_eq!(m.mrr, 1.0);
        assert_eq!(m.ndcg, 0.5);
    }

    #[test]
    fn base_metrics_use_the_documents_order() {
        let samples = vec![
            RerankingSample::with_documents("q", strings(&["p", "missing"]), strings(&["n", "p"])),
            RerankingSample::with_negatives("r", strings(&["p"]), strings(&["n"])),
        ];
        let e = CrossEncoderRerankingEvaluator::new(samples, config(10, false)).unwrap();
        let m = e.evaluate(&[0.9, 0.1, 0.0, 1.0]).unwrap();
        let base = m.base.unwrap();
        // over the one sample with documents: p at rank 2 of 2 known positives
        assert_eq!(base.mrr, 0.5);
        assert_eq!(base.map, 0.25);
        // reranked: q ranks p (0.1) after n (0.9); r ranks p (0.0) after n (1.0)
        assert_eq!(m.reranked.mrr, 0.5);
        assert_eq!(
            e.metric_names(),
            [
                "map",
                "mrr@10",
                "ndcg@10",
                "base_map",
                "base_mrr@10",
                "base_ndcg@10"
            ]
        );
        assert_eq!(e.primary_metric(), "ndcg@10");
    }

    #[test]
    fn fused_rankings_add_the_first_stage_z_scores() {
        // The first stage ranks p first; the reranker puts n1 a little above p and n2 far
        // below. Alone, the reranker ranks p second; fused with equal weight, p is first.
        let sample =
            RerankingSample::with_documents("q", strings(&["p"]), strings(&["p", "n1", "n2"]))
                .with_first_stage_scores(vec![0.9, 0.5, 0.4])
                .unwrap();
        for always in [false, true] {
            let e = CrossEncoderRerankingEvaluator::new(vec![sample.clone()], config(10, always))
                .unwrap();
            // Both pair orders are p, n1, n2 here: the positive is the first document.
            let reranker = [2.0, 2.1, -3.0];
            let m = e.evaluate(&reranker).unwrap();
            assert_eq!(m.reranked.mrr, 0.5);
            let fused = e.evaluate_fused(&reranker, 1.0).unwrap();
            assert_eq!(fused.reranked.mrr, 1.0);
            assert_eq!(fused.base, m.base);
            // Weight 0 is the reranker alone.
            assert_eq!(e.evaluate_fused(&reranker, 0.0).unwrap(), m);
        }

        // A positive the first stage missed has no score to fuse.
        let missed =
            RerankingSample::with_documents("q", strings(&["p", "x"]), strings(&["p", "n"]))
                .with_first_stage_scores(vec![0.9, 0.5])
                .unwrap();
        let e =
            CrossEncoderRerankingEvaluator::new(vec![missed.clone()], config(10, true)).unwrap();
        let err = e
            .evaluate_fused(&[1.0, 1.0, 0.0], 1.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sample 0") && err.contains("missed"), "{err}");
        let e = CrossEncoderRerankingEvaluator::new(vec![missed], config(10, false)).unwrap();
        assert!(e.evaluate_fused(&[1.0, 0.0], 1.0).is_ok());

        let plain = RerankingSample::with_documents("r", strings(&["p"]), strings(&["p", "n"]));
        let e = CrossEncoderRerankingEvaluator::new(vec![plain], config(10, false)).unwrap();
        let err = e.evaluate_fused(&[1.0, 0.0], 1.0).unwrap_err().to_string();
        assert!(
            err.contains("\"r\"") && err.contains("no first-stage"),
            "{err}"
        );
    }

    #[test]
    fn first_stage_scores_round_trip_and_are_checked() {
        let s: RerankingSample = serde_json::from_str(
            r#"{"query": "q", "positive": ["p"], "documents": ["p", "n"], "scores": [0.75, 0.5]}"#,
        )
        .unwrap();
        assert_eq!(s.first_stage_scores(), Some(&[0.75f32, 0.5][..]));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"query":"q","positive":["p"],"documents":["p","n"],"scores":[0.75,0.5]}"#
        );
        for (text, want) in [
            (
                r#"{"query": "q", "positive": ["p"], "documents": ["p", "n"], "scores": [0.5]}"#,
                "1 first-stage scores for 2 documents",
            ),
            (
                r#"{"query": "q", "positive": ["p"], "negative": ["n"], "scores": [0.5]}"#,
                "need `documents`",
            ),
        ] {
            let err = serde_json::from_str::<RerankingSample>(text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want) && err.contains("\"q\""), "{err}");
        }
        let err = RerankingSample::with_documents("q", vec![], strings(&["a"]))
            .with_first_stage_scores(vec![f32::NAN])
            .unwrap_err()
            .to_string();
        assert!(err.contains("first-stage score 0 is NaN"), "{err}");
    }

    #[test]
    fn samples_deserialize_as_sentence_transformers_dicts() {
        let s: RerankingSample =
            serde_json::from_str(r#"{"query": "q", "positive": "p", "negative": ["n"]}"#).unwrap();
        assert_eq!(
            s,
            RerankingSample::with_negatives("q", strings(&["p"]), strings(&["n"]))
        );
        let s: RerankingSample =
            serde_json::from_str(r#"{"query": "q", "positive": ["p"], "documents": []}"#).unwrap();
        assert_eq!(s.candidates, Candidates::Documents(vec![]));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"query":"q","positive":["p"],"documents":[]}"#);
        let err = serde_json::from_str::<RerankingSample>(
            r#"{"query": "q", "positive": [], "negative": [], "documents": []}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("exactly one of negative and documents, got both"),
            "{err}"
        );
        let err = serde_json::from_str::<RerankingSample>(r#"{"query": "q", "positive": []}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("got neither"), "{err}");
    }

    #[test]
    fn bad_inputs_are_errors_naming_them() {
        let err = CrossEncoderRerankingEvaluator::new(vec![], Default::default())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "samples is empty");
        let one = vec![RerankingSample::with_negatives(
            "q",
            strings(&["p"]),
            strings(&["n"]),
        )];
        let err = CrossEncoderRerankingEvaluator::new(one.clone(), config(0, true))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "config key at_k must be positive, got 0");
        let empty = vec![
            one[0].clone(),
            RerankingSample::with_documents("lost", vec![], vec![]),
        ];
        let err = CrossEncoderRerankingEvaluator::new(empty, Default::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "reranking sample 1 (query \"lost\") has no documents: \
             its positive and documents lists are both empty"
        );

        let e = CrossEncoderRerankingEvaluator::new(one, Default::default()).unwrap();
        let err = e.evaluate(&[0.5]).unwrap_err().to_string();
        assert_eq!(
            err,
            "scores has 1 values but 2 pairs with 1 score(s) each need 2"
        );
        let err = e.evaluate(&[0.5, f32::NAN]).unwrap_err().to_string();
        assert_eq!(err, "scores has a non-finite value NaN at row 1");
        let err = e.evaluate(&[f32::INFINITY, 0.0]).unwrap_err().to_string();
        assert_eq!(err, "scores has a non-finite value inf at row 0");
    }
}
