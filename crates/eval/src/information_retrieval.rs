//! Retrieval evaluation, as sentence-transformers' `InformationRetrievalEvaluator`.
//!
//! Every query is scored against the whole corpus, `corpus_chunk_size` corpus rows at a time,
//! keeping only each query's best `max_k` documents (the largest `k` of any metric). The
//! metrics are then computed on those ranked lists exactly as sentence-transformers 6.2's
//! `compute_metrics` does.

use serde::{Deserialize, Serialize};

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::metrics::{MetricValues, NamedMetrics};
use crate::similarity::SimilarityFunction;
use crate::top_k::{scored_rows, Hit, TopK};
use crate::validate::{check_functions, check_main_listed, check_positive, check_same_dim};

/// Which metrics at which cut-offs, and how to score, as the arguments of
/// sentence-transformers' `InformationRetrievalEvaluator` (same names and defaults).
///
/// `score_functions` defaults to cosine, what sentence-transformers uses for a model whose
/// `similarity_fn_name` is cosine. A `k` may not be listed twice in one list
/// (sentence-transformers 6.2 then counts `accuracy@k` and `mrr@k` twice, beyond 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InformationRetrievalConfig {
    /// Corpus rows scored at a time: one chunk is held in `f64` (`corpus_chunk_size * dim`
    /// values) besides each query's best `max_k` documents. Results do not depend on it.
    pub corpus_chunk_size: usize,
    pub mrr_at_k: Vec<usize>,
    pub ndcg_at_k: Vec<usize>,
    pub accuracy_at_k: Vec<usize>,
    pub precision_recall_at_k: Vec<usize>,
    pub map_at_k: Vec<usize>,
    /// Each one yields a full set of metrics, keys prefixed by its name (`cosine_ndcg@10`).
    pub score_functions: Vec<SimilarityFunction>,
    /// The function whose `ndcg@max(ndcg_at_k)` is the primary metric; `None` picks the best.
    pub main_score_function: Option<SimilarityFunction>,
}

impl Default for InformationRetrievalConfig {
    fn default() -> Self {
        Self {
            corpus_chunk_size: 50_000,
            mrr_at_k: vec![10],
            ndcg_at_k: vec![10],
            accuracy_at_k: vec![1, 3, 5, 10],
            precision_recall_at_k: vec![1, 3, 5, 10],
            map_at_k: vec![100],
            score_functions: vec![SimilarityFunction::Cosine],
            main_score_function: None,
        }
    }
}

impl InformationRetrievalConfig {
    /// Errors naming the key when a chunk size or `k` is 0, a `k` list is empty or repeats a
    /// `k`, or the functions are invalid.
    fn validate(&self) -> Result<()> {
        check_positive("corpus_chunk_size", self.corpus_chunk_size)?;
        check_functions("score_functions", &self.score_functions)?;
        check_main_listed(
            "main_score_function",
            self.main_score_function,
            "score_functions",
            &self.score_functions,
        )?;
        check_ks("mrr_at_k", &self.mrr_at_k)?;
        check_ks("ndcg_at_k", &self.ndcg_at_k)?;
        check_ks("accuracy_at_k", &self.accuracy_at_k)?;
        check_ks("precision_recall_at_k", &self.precision_recall_at_k)?;
        check_ks("map_at_k", &self.map_at_k)
    }

    /// The largest `k` of any metric: how many documents each query keeps.
    fn max_k(&self) -> usize {
        [
            &self.mrr_at_k,
            &self.ndcg_at_k,
            &self.accuracy_at_k,
            &self.precision_recall_at_k,
            &self.map_at_k,
        ]
        .into_iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
    }

    /// The largest `k` of `ndcg_at_k`, the cut-off of the primary metric.
    fn max_ndcg_k(&self) -> usize {
        self.ndcg_at_k.iter().copied().max().unwrap_or(0)
    }
}

/// Errors on an empty list, a zero `k` or a repeated `k`.
fn check_ks(key: &'static str, ks: &[usize]) -> Result<()> {
    if ks.is_empty() {
        return Err(Error::EmptyKList { key });
    }
    for (i, &k) in ks.iter().enumerate() {
        check_positive(key, k)?;
        if ks[..i].contains(&k) {
            return Err(Error::RepeatedK { key, k });
        }
    }
    Ok(())
}

/// The metrics of one score function: `(k, value)` in the config's order of `k`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalScores {
    pub function: SimilarityFunction,
    /// Fraction of queries with a relevant document in the top `k`.
    pub accuracy_at_k: Vec<(usize, f64)>,
    /// Mean over queries of (relevant documents in the top `k`) / `k`.
    pub precision_at_k: Vec<(usize, f64)>,
    /// Mean over queries of (relevant documents in the top `k`) / (relevant documents).
    pub recall_at_k: Vec<(usize, f64)>,
    /// Mean over queries of binary-relevance DCG@k / ideal DCG@k (`1 / log2(rank + 1)` gains).
    pub ndcg_at_k: Vec<(usize, f64)>,
    /// Mean over queries of 1 / (rank of the first relevant document), 0 beyond rank `k`.
    pub mrr_at_k: Vec<(usize, f64)>,
    /// Mean over queries of the sum of precision@rank at each relevant rank within `k`,
    /// divided by `min(k, relevant documents)`.
    pub map_at_k: Vec<(usize, f64)>,
}

impl RetrievalScores {
    /// `(metric name, values)` in sentence-transformers' order.
    fn groups(&self) -> [(&'static str, &[(usize, f64)]); 6] {
        [
            ("accuracy", &self.accuracy_at_k),
            ("precision", &self.precision_at_k),
            ("recall", &self.recall_at_k),
            ("ndcg", &self.ndcg_at_k),
            ("mrr", &self.mrr_at_k),
            ("map", &self.map_at_k),
        ]
    }

    fn ndcg_at(&self, k: usize) -> Option<f64> {
        self.ndcg_at_k.iter().find(|(at, _)| *at == k).map(|p| p.1)
    }
}

/// The result of [`InformationRetrievalEvaluator::evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct InformationRetrievalMetrics {
    /// One entry per score function, in the config's order.
    pub scores: Vec<RetrievalScores>,
    /// Queries that were evaluated (those with at least one relevant document).
    pub queries: usize,
    primary_metric: String,
}

impl NamedMetrics for InformationRetrievalMetrics {
    /// Keys `{function}_{metric}@{k}`, e.g. `cosine_accuracy@1`, `cosine_precision@1`,
    /// `cosine_recall@1`, `cosine_ndcg@10`, `cosine_mrr@10`, `cosine_map@100`, grouped per
    /// function as sentence-transformers orders them.
    fn metric_values(&self) -> MetricValues {
        let mut values = MetricValues::new();
        for scores in &self.scores {
            for (metric, at_k) in scores.groups() {
                for &(k, value) in at_k {
                    values.push(format!("{}_{metric}@{k}", scores.function.name()), value);
                }
            }
        }
        values
    }

    /// `{function}_ndcg@{max ndcg k}` for `main_score_function`, else for the function with
    /// the highest such NDCG (equal values: the alphabetically first name, as
    /// sentence-transformers' `max` over its sorted names).
    ///
    /// sentence-transformers fixes this choice on an evaluator's first call; here each
    /// evaluation chooses afresh.
    fn primary_metric(&self) -> &str {
        &self.primary_metric
    }
}

/// sentence-transformers' `InformationRetrievalEvaluator` on precomputed embeddings.
///
/// Built once from the relevance judgements, then [`evaluate`](Self::evaluate)d on each
/// model's query and corpus embeddings.
///
/// **Ranking and ties.** Documents are ranked by score (in `f64`) descending, equal scores by
/// ascending corpus row. sentence-transformers breaks ties by ascending corpus *id*
/// (a string compare of the dict keys) under the same total order, whatever the chunk size;
/// the two agree whenever the corpus ids sort in corpus order (e.g. zero-padded ids). The
/// result never depends on `corpus_chunk_size`. sentence-transformers scores in `f32`, so
/// documents whose scores differ by less than `f32` resolution may tie there but not here.
#[derive(Debug, Clone)]
pub struct InformationRetrievalEvaluator {
    config: InformationRetrievalConfig,
    query_rows: usize,
    corpus_rows: usize,
    /// `(query row, sorted distinct relevant corpus rows)` of each query that has any.
    judged: Vec<(usize, Vec<usize>)>,
}

impl InformationRetrievalEvaluator {
    /// An evaluator for `relevant_docs.len()` queries against a corpus of `corpus_rows` rows;
    /// `relevant_docs[q]` lists the corpus rows relevant to query `q` (repeats count once).
    ///
    /// Queries with no relevant document are skipped, as sentence-transformers does, and do
    /// not count in any mean. Errors when there are no queries, an empty corpus, a relevant
    /// row outside the corpus (naming the query and row), no query with a relevant document,
    /// or an invalid config (naming the key).
    pub fn new(
        relevant_docs: &[Vec<usize>],
        corpus_rows: usize,
        config: InformationRetrievalConfig,
    ) -> Result<Self> {
        config.validate()?;
        if relevant_docs.is_empty() {
            return Err(Error::EmptyInput {
                input: "relevant_docs",
            });
        }
        if corpus_rows == 0 {
            return Err(Error::EmptyInput { input: "corpus" });
        }
        let mut judged = Vec::new();
        for (query, docs) in relevant_docs.iter().enumerate() {
            if let Some(&doc) = docs.iter().find(|&&doc| doc >= corpus_rows) {
                return Err(Error::RelevantDocOutOfRange {
                    query,
                    doc,
                    corpus: corpus_rows,
                });
            }
            let mut docs = docs.clone();
            docs.sort_unstable();
            docs.dedup();
            if !docs.is_empty() {
                judged.push((query, docs));
            }
        }
        if judged.is_empty() {
            return Err(Error::NoRelevantDocs {
                queries: relevant_docs.len(),
            });
        }
        Ok(Self {
            config,
            query_rows: relevant_docs.len(),
            corpus_rows,
            judged,
        })
    }

    /// The config.
    pub fn config(&self) -> &InformationRetrievalConfig {
        &self.config
    }

    /// Every key [`Self::evaluate`] reports, in its order, known before any evaluation.
    pub fn metric_names(&self) -> Vec<String> {
        let c = &self.config;
        let zero = |ks: &[usize]| ks.iter().map(|&k| (k, 0.0)).collect::<Vec<_>>();
        let scores = c
            .score_functions
            .iter()
            .map(|&function| RetrievalScores {
                function,
                accuracy_at_k: zero(&c.accuracy_at_k),
                precision_at_k: zero(&c.precision_recall_at_k),
                recall_at_k: zero(&c.precision_recall_at_k),
                ndcg_at_k: zero(&c.ndcg_at_k),
                mrr_at_k: zero(&c.mrr_at_k),
                map_at_k: zero(&c.map_at_k),
            })
            .collect();
        let metrics = InformationRetrievalMetrics {
            scores,
            queries: 0,
            primary_metric: String::new(),
        };
        metrics
            .metric_values()
            .names()
            .map(str::to_string)
            .collect()
    }

    /// A primary metric that does not change between evaluations (for best-model selection):
    /// `{function}_ndcg@{max ndcg k}` of `main_score_function`, else of the first function.
    pub fn fixed_primary_metric(&self) -> String {
        let c = &self.config;
        let function = c
            .main_score_function
            .or_else(|| c.score_functions.first().copied())
            .unwrap_or(SimilarityFunction::Cosine);
        format!("{}_ndcg@{}", function.name(), c.max_ndcg_k())
    }

    /// Ranks the corpus for every judged query under each score function and computes the
    /// metrics.
    ///
    /// # Shapes
    /// queries: `[relevant_docs.len(), dim]`, corpus: `[corpus_rows, dim]`
    ///
    /// Errors on other row counts, differing dims, or NaN/infinite values (naming the input
    /// and row).
    pub fn evaluate(
        &self,
        queries: Embeddings<'_>,
        corpus: Embeddings<'_>,
    ) -> Result<InformationRetrievalMetrics> {
        self.check_inputs(queries, corpus)?;
        let scores: Vec<RetrievalScores> = self
            .config
            .score_functions
            .iter()
            .map(|&function| {
                let hits = self.rank(function, queries, corpus);
                self.retrieval_scores(function, &hits)
            })
            .collect();
        let primary_metric = self.primary_metric(&scores);
        tracing::debug!(
            queries = self.judged.len(),
            corpus = self.corpus_rows,
            primary_metric = %primary_metric,
            "information retrieval evaluation"
        );
        Ok(InformationRetrievalMetrics {
            scores,
            queries: self.judged.len(),
            primary_metric,
        })
    }

    fn check_inputs(&self, queries: Embeddings<'_>, corpus: Embeddings<'_>) -> Result<()> {
        if queries.rows() != self.query_rows {
            return Err(Error::InputRows {
                input: "queries",
                rows: queries.rows(),
                reference: "relevant_docs",
                expected: self.query_rows,
            });
        }
        if corpus.rows() != self.corpus_rows {
            return Err(Error::InputRows {
                input: "corpus",
                rows: corpus.rows(),
                reference: "the evaluator's corpus",
                expected: self.corpus_rows,
            });
        }
        check_same_dim("corpus", corpus, "queries", queries)?;
        queries.check_finite("queries")?;
        corpus.check_finite("corpus")
    }

    /// Each judged query's best `max_k` corpus rows under `function`, in rank order, scoring
    /// `corpus_chunk_size` corpus rows at a time.
    fn rank(
        &self,
        function: SimilarityFunction,
        queries: Embeddings<'_>,
        corpus: Embeddings<'_>,
    ) -> Vec<Vec<Hit>> {
        let dim = queries.dim();
        let judged_rows: Vec<f32> = self
            .judged
            .iter()
            .filter_map(|&(q, _)| queries.row(q))
            .flatten()
            .copied()
            .collect();
        let prepared_queries = function.prepare(&judged_rows, dim);
        let mut top = TopK::new(self.config.max_k());
        let mut hits = vec![Vec::new(); self.judged.len()];
        let chunk_len = self.config.corpus_chunk_size.saturating_mul(dim);
        for (chunk, docs) in corpus.as_slice().chunks(chunk_len).enumerate() {
            let start = chunk * self.config.corpus_chunk_size;
            let docs = function.prepare(docs, dim);
            for (list, query) in hits.iter_mut().zip(prepared_queries.chunks_exact(dim)) {
                top.merge(list, scored_rows(function, query, &docs, dim, start));
            }
        }
        hits
    }

    /// The metrics of one function from each judged query's ranked hits.
    fn retrieval_scores(&self, function: SimilarityFunction, hits: &[Vec<Hit>]) -> RetrievalScores {
        let c = &self.config;
        let per_query = |k: usize, metric: fn(&[Hit], &[usize], usize) -> f64| {
            mean(
                hits.iter()
                    .zip(&self.judged)
                    .map(|(h, (_, relevant))| metric(h, relevant, k)),
                self.judged.len(),
            )
        };
        let at = |ks: &[usize], metric: fn(&[Hit], &[usize], usize) -> f64| {
            ks.iter().map(|&k| (k, per_query(k, metric))).collect()
        };
        RetrievalScores {
            function,
            accuracy_at_k: at(&c.accuracy_at_k, hit_at),
            precision_at_k: at(&c.precision_recall_at_k, precision_at),
            recall_at_k: at(&c.precision_recall_at_k, recall_at),
            ndcg_at_k: at(&c.ndcg_at_k, ndcg_at),
            mrr_at_k: at(&c.mrr_at_k, reciprocal_rank_at),
            map_at_k: at(&c.map_at_k, average_precision_at),
        }
    }

    fn primary_metric(&self, scores: &[RetrievalScores]) -> String {
        let k = self.config.max_ndcg_k();
        let function = self.config.main_score_function.or_else(|| {
            // sentence-transformers: max over the alphabetically sorted names, first max wins.
            let mut by_name: Vec<&RetrievalScores> = scores.iter().collect();
            by_name.sort_by_key(|s| s.function.name());
            let mut best: Option<(SimilarityFunction, f64)> = None;
            for s in by_name {
                let ndcg = s.ndcg_at(k).unwrap_or(f64::NEG_INFINITY);
                if best.is_none_or(|(_, b)| ndcg > b) {
                    best = Some((s.function, ndcg));
                }
            }
            best.map(|(f, _)| f)
        });
        // `score_functions` is never empty, so `function` is always set.
        let name = function.map_or("cosine", SimilarityFunction::name);
        format!("{name}_ndcg@{k}")
    }
}

/// Sum of `values` divided by `n` (the number of judged queries, never 0).
fn mean(values: impl Iterator<Item = f64>, n: usize) -> f64 {
    values.sum::<f64>() / n as f64
}

fn is_relevant(hit: &Hit, relevant: &[usize]) -> bool {
    relevant.binary_search(&hit.index).is_ok()
}

/// Relevant documents among the first `k` hits.
fn correct_at(hits: &[Hit], relevant: &[usize], k: usize) -> usize {
    hits.iter()
        .take(k)
        .filter(|h| is_relevant(h, relevant))
        .count()
}

/// 1 when a relevant document is among the first `k` hits, else 0.
fn hit_at(hits: &[Hit], relevant: &[usize], k: usize) -> f64 {
    f64::from(u8::from(correct_at(hits, relevant, k) > 0))
}

fn precision_at(hits: &[Hit], relevant: &[usize], k: usize) -> f64 {
    correct_at(hits, relevant, k) as f64 / k as f64
}

fn recall_at(hits: &[Hit], relevant: &[usize], k: usize) -> f64 {
    correct_at(hits, relevant, k) as f64 / relevant.len() as f64
}

/// 1 / (1-based rank of the first relevant hit within `k`), or 0.
pub(crate) fn reciprocal_rank_at(hits: &[Hit], relevant: &[usize], k: usize) -> f64 {
    hits.iter()
        .take(k)
        .position(|h| is_relevant(h, relevant))
        .map_or(0.0, |rank| 1.0 / (rank + 1) as f64)
}

/// DCG@k of the hits over the DCG@k of a perfect ranking of all relevant documents.
fn ndcg_at(hits: &[Hit], relevant: &[usize], k: usize) -> f64 {
    let gains = hits
        .iter()
        .take(k)
        .map(|h| f64::from(u8::from(is_relevant(h, relevant))));
    dcg(gains) / dcg(std::iter::repeat_n(1.0, relevant.len().min(k)))
}

/// `sum_i gain_i / log2(i + 2)` over 0-based positions `i`.
pub(crate) fn dcg(gains: impl Iterator<Item = f64>) -> f64 {
    gains
        .enumerate()
        .map(|(i, gain)| gain / ((i + 2) as f64).log2())
        .sum()
}

/// Sum of precision@rank at each relevant hit within `k`, over `min(k, relevant)`.
fn average_precision_at(hits: &[Hit], relevant: &[usize], k: usize) -> f64 {
    let mut correct = 0usize;
    let mut sum = 0.0;
    for (rank, hit) in hits.iter().take(k).enumerate() {
        if is_relevant(hit, relevant) {
            correct += 1;
            sum += correct as f64 / (rank + 1) as f64;
        }
    }
    sum / k.min(relevant.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(data: &[f32], dim: usize) -> Embeddings<'_> {
        Embeddings::new(data, data.len() / dim, dim).unwrap()
    }

    /// Two queries, four 2-d documents; query 0 is closest to doc 2, then 0, 3, 1.
    const QUERIES: [f32; 4] = [1.0, 0.0, 0.0, 1.0];
    const CORPUS: [f32; 8] = [0.8, 0.2, -1.0, 0.1, 1.0, 0.0, 0.3, 0.3];

    fn config(ks: &[usize]) -> InformationRetrievalConfig {
        InformationRetrievalConfig {
            mrr_at_k: ks.to_vec(),
            ndcg_at_k: ks.to_vec(),
            accuracy_at_k: ks.to_vec(),
            precision_recall_at_k: ks.to_vec(),
            map_at_k: ks.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn hand_computed_metrics() {
        // query 0: ranking 2, 0, 3, 1 with relevant {0, 1}; query 1: ranking 3, 1, 0, 2 with {3}
        let evaluator =
            InformationRetrievalEvaluator::new(&[vec![0, 1], vec![3]], 4, config(&[1, 2, 4]))
                .unwrap();
        let m = evaluator
            .evaluate(emb(&QUERIES, 2), emb(&CORPUS, 2))
            .unwrap();
        let v = m.metric_values();
        assert_eq!(v.get("cosine_accuracy@1"), Some(0.5));
        assert_eq!(v.get("cosine_accuracy@2"), Some(1.0));
        assert_eq!(v.get("cosine_precision@2"), Some(0.5));
        assert_eq!(v.get("cosine_recall@2"), Some(0.75));
        assert_eq!(v.get("cosine_recall@4"), Some(1.0));
        assert_eq!(v.get("cosine_mrr@4"), Some(0.75));
        // query 0 map@4: (1/2 + 2/4) / 2 = 0.5; query 1: 1
        assert_eq!(v.get("cosine_map@4"), Some(0.75));
        // query 0 ndcg@2: (1 / log2 3) / (1 + 1 / log2 3)
        let q0 = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        let ndcg = v.get("cosine_ndcg@2").unwrap();
        assert!((ndcg - (q0 + 1.0) / 2.0).abs() < 1e-15, "{ndcg}");
        assert_eq!(m.primary_metric(), "cosine_ndcg@4");
        assert_eq!(m.queries, 2);
    }

    #[test]
    fn queries_without_relevant_docs_are_skipped() {
        let with = InformationRetrievalEvaluator::new(&[vec![0, 1], vec![]], 4, config(&[2]))
            .unwrap()
            .evaluate(emb(&QUERIES, 2), emb(&CORPUS, 2))
            .unwrap();
        let alone = InformationRetrievalEvaluator::new(&[vec![1, 0, 1]], 4, config(&[2]))
            .unwrap()
            .evaluate(emb(&QUERIES[..2], 2), emb(&CORPUS, 2))
            .unwrap();
        assert_eq!(with.metric_values(), alone.metric_values());
        assert_eq!(with.queries, 1);
    }

    #[test]
    fn ties_rank_lower_corpus_rows_first() {
        // docs 0 and 2 are identical; with k = 1 only doc 0 is kept, whatever the chunking.
        let corpus = [0.5, 0.5, 1.0, 0.0, 0.5, 0.5];
        for chunk in [1, 2, 3] {
            let cfg = InformationRetrievalConfig {
                corpus_chunk_size: chunk,
                ..config(&[1])
            };
            let evaluator = InformationRetrievalEvaluator::new(&[vec![2]], 3, cfg).unwrap();
            let m = evaluator
                .evaluate(emb(&[0.7, 0.7], 2), emb(&corpus, 2))
                .unwrap();
            assert_eq!(m.metric_values().get("cosine_accuracy@1"), Some(0.0));
        }
    }

    #[test]
    fn key_names_follow_sentence_transformers() {
        let cfg = InformationRetrievalConfig {
            score_functions: vec![SimilarityFunction::Dot, SimilarityFunction::Cosine],
            ..Default::default()
        };
        let evaluator = InformationRetrievalEvaluator::new(&[vec![0]], 4, cfg).unwrap();
        let m = evaluator
            .evaluate(emb(&QUERIES[..2], 2), emb(&CORPUS, 2))
            .unwrap();
        let names: Vec<String> = m.metric_values().names().map(String::from).collect();
        let mut expected = Vec::new();
        for f in ["dot", "cosine"] {
            for k in [1, 3, 5, 10] {
                expected.push(format!("{f}_accuracy@{k}"));
            }
            for m in ["precision", "recall"] {
                for k in [1, 3, 5, 10] {
                    expected.push(format!("{f}_{m}@{k}"));
                }
            }
            expected.extend([
                format!("{f}_ndcg@10"),
                format!("{f}_mrr@10"),
                format!("{f}_map@100"),
            ]);
        }
        assert_eq!(names, expected);
        // equal NDCG: the alphabetically first function
        assert_eq!(m.primary_metric(), "cosine_ndcg@10");
    }

    #[test]
    fn bad_inputs_are_errors_naming_them() {
        let err = InformationRetrievalEvaluator::new(&[vec![0, 4]], 4, config(&[1]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "relevant_docs of query 0 names corpus row 4, but the corpus has 4 rows"
        );
        let err = InformationRetrievalEvaluator::new(&[vec![], vec![]], 4, config(&[1]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("no query has a relevant document"), "{err}");
        let err = InformationRetrievalEvaluator::new(&[vec![0]], 4, config(&[1, 0]))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "config key mrr_at_k must be positive, got 0");
        let err = InformationRetrievalEvaluator::new(&[vec![0]], 4, config(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("mrr_at_k is empty"), "{err}");
        let err = InformationRetrievalEvaluator::new(&[vec![0]], 4, config(&[1, 3, 1]))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "config key mrr_at_k lists k = 1 twice");
        let cfg = InformationRetrievalConfig {
            main_score_function: Some(SimilarityFunction::Dot),
            ..Default::default()
        };
        let err = InformationRetrievalEvaluator::new(&[vec![0]], 4, cfg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("main_score_function is dot"), "{err}");

        let evaluator = InformationRetrievalEvaluator::new(&[vec![0]], 4, config(&[1])).unwrap();
        let err = evaluator
            .evaluate(emb(&QUERIES, 2), emb(&CORPUS, 2))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "queries has 2 rows but relevant_docs has 1");
        let err = evaluator
            .evaluate(emb(&QUERIES[..2], 2), emb(&CORPUS[..6], 2))
            .unwrap_err()
            .to_string();
        assert!(err.contains("corpus has 3 rows"), "{err}");
        let err = evaluator
            .evaluate(emb(&QUERIES[..1], 1), emb(&CORPUS, 2))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "corpus has dim 2 but queries has dim 1");
        let mut corpus = CORPUS;
        corpus[5] = f32::NAN;
        let err = evaluator
            .evaluate(emb(&QUERIES[..2], 2), emb(&corpus, 2))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "corpus has a non-finite value NaN at row 2");
    }
}
