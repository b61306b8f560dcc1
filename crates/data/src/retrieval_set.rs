//! The input of a retrieval evaluation (sentence-transformers' `InformationRetrievalEvaluator`):
//! queries, a corpus, and the corpus documents relevant to each query.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use crate::error::{Error, Result};
use crate::training_set::TrainingSet;

/// Queries and corpus as `(id, text)`, and for each query the indices of its relevant
/// corpus documents (no index twice, each list non-empty).
///
/// Every query has at least one relevant document: as sentence-transformers'
/// `InformationRetrievalEvaluator` does, readers and builders leave queries without one
/// out, and count them in [`RetrievalSet::dropped_queries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrievalSet {
    queries: Vec<(String, String)>,
    corpus: Vec<(String, String)>,
    relevant: Vec<Vec<usize>>,
    dropped_queries: usize,
}

impl RetrievalSet {
    /// Checks that there is at least one query, one relevant list per query, each non-empty
    /// with in-range, distinct corpus indices, and that no query id or document id repeats.
    pub fn new(
        queries: Vec<(String, String)>,
        corpus: Vec<(String, String)>,
        relevant: Vec<Vec<usize>>,
    ) -> Result<Self> {
        check_ids("query", &queries)?;
        check_ids("document", &corpus)?;
        check_relevant(&queries, corpus.len(), &relevant)?;
        Ok(Self {
            queries,
            corpus,
            relevant,
            dropped_queries: 0,
        })
    }

    /// Records how many queries of the source were left out for having no relevant document.
    pub fn with_dropped_queries(mut self, dropped: usize) -> Self {
        self.dropped_queries = dropped;
        self
    }

    /// (query, positive) pairs as a retrieval task: queries and positives are each
    /// deduplicated by text (first occurrence order), a query's relevant documents are all
    /// its positives; ids are the 0-based positions as strings.
    pub fn from_pairs<'t>(pairs: impl IntoIterator<Item = (&'t str, &'t str)>) -> Result<Self> {
        let mut queries = Interner::default();
        let mut corpus = Interner::default();
        let mut relevant: Vec<Vec<usize>> = Vec::new();
        for (query, positive) in pairs {
            let q = queries.intern(query);
            let d = corpus.intern(positive);
            if relevant.len() <= q {
                relevant.resize_with(q + 1, Vec::new);
            }
            if let Some(list) = relevant.get_mut(q).filter(|l| !l.contains(&d)) {
                list.push(d);
            }
        }
        Self::new(queries.into_entries(), corpus.into_entries(), relevant)
    }

    /// The pairs of columns `query` and `positive` of a training set, as [`Self::from_pairs`].
    pub fn from_columns(set: &TrainingSet, query: &str, positive: &str) -> Result<Self> {
        let column = |name: &str| {
            set.column_names()
                .iter()
                .position(|n| n == name)
                .and_then(|i| set.columns().get(i))
                .ok_or_else(|| Error::RetrievalSet {
                    reason: format!(
                        "training set has no column `{name}`; columns: {}",
                        set.column_names().join(", ")
                    ),
                })
        };
        let (queries, positives) = (column(query)?, column(positive)?);
        Self::from_pairs(
            queries
                .iter()
                .map(String::as_str)
                .zip(positives.iter().map(String::as_str)),
        )
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// Whether there are no queries (never true for a constructed set).
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// The queries, `(id, text)`.
    pub fn queries(&self) -> &[(String, String)] {
        &self.queries
    }

    /// The corpus documents, `(id, text)`.
    pub fn corpus(&self) -> &[(String, String)] {
        &self.corpus
    }

    /// For each query, the corpus indices of its relevant documents.
    pub fn relevant(&self) -> &[Vec<usize>] {
        &self.relevant
    }

    /// Queries of the source left out because no document is relevant to them.
    pub fn dropped_queries(&self) -> usize {
        self.dropped_queries
    }

    /// Keeps the first `n` queries (the corpus stays whole; a set is never empty).
    pub fn truncate_queries(&mut self, n: NonZeroUsize) {
        self.queries.truncate(n.get());
        self.relevant.truncate(n.get());
    }
}

/// Texts deduplicated in first-occurrence order, ids their positions.
#[derive(Default)]
pub(crate) struct Interner<'t> {
    index: HashMap<&'t str, usize>,
    texts: Vec<&'t str>,
}

impl<'t> Interner<'t> {
    /// The position of `text`, added at the end if new.
    pub(crate) fn intern(&mut self, text: &'t str) -> usize {
        *self.index.entry(text).or_insert_with(|| {
            self.texts.push(text);
            self.texts.len() - 1
        })
    }

    /// `(position as string, text)` in order.
    pub(crate) fn into_entries(self) -> Vec<(String, String)> {
        self.texts
            .into_iter()
            .enumerate()
            .map(|(i, t)| (i.to_string(), t.to_owned()))
            .collect()
    }
}

/// The queries with at least one relevant document, their lists, and how many were left out.
pub(crate) fn keep_answered(
    queries: Vec<(String, String)>,
    relevant: Vec<Vec<usize>>,
) -> (Vec<(String, String)>, Vec<Vec<usize>>, usize) {
    let total = queries.len();
    let (kept, lists): (Vec<_>, Vec<_>) = queries
        .into_iter()
        .zip(relevant)
        .filter(|(_, docs)| !docs.is_empty())
        .unzip();
    let dropped = total - kept.len();
    (kept, lists, dropped)
}

fn check_ids(kind: &str, entries: &[(String, String)]) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    for (i, (id, _)) in entries.iter().enumerate() {
        if let Some(first) = seen.insert(id.as_str(), i) {
            return Err(Error::RetrievalSet {
                reason: format!("{kind} id `{id}` appears at positions {first} and {i}"),
            });
        }
    }
    Ok(())
}

fn check_relevant(
    queries: &[(String, String)],
    corpus_len: usize,
    relevant: &[Vec<usize>],
) -> Result<()> {
    let invalid = |reason: String| Err(Error::RetrievalSet { reason });
    if queries.is_empty() {
        return invalid("no queries".into());
    }
    if relevant.len() != queries.len() {
        return invalid(format!(
            "{} relevant-document lists for {} queries",
            relevant.len(),
            queries.len()
        ));
    }
    for ((id, _), docs) in queries.iter().zip(relevant) {
        if docs.is_empty() {
            return invalid(format!("query `{id}` has no relevant document"));
        }
        if let Some(d) = docs.iter().find(|&&d| d >= corpus_len) {
            return invalid(format!(
                "query `{id}`: document index {d} is outside the corpus of {corpus_len}"
            ));
        }
        let mut sorted = docs.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return invalid(format!("query `{id}`: document index {} repeats", w[0]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training_set::TargetColumn;

    fn entries(ids: &[&str]) -> Vec<(String, String)> {
        ids.iter()
            .map(|id| (id.to_string(), format!("text {id}")))
            .collect()
    }

    #[test]
    fn new_checks_ids_and_relevant_lists() {
        let q = entries(&["q1", "q2"]);
        let c = entries(&["d1", "d2"]);
        assert!(RetrievalSet::new(q.clone(), c.clone(), vec![vec![0], vec![1, 0]]).is_ok());
        let err = |q, c, r| RetrievalSet::new(q, c, r).unwrap_err().to_string();
        assert!(err(q.clone(), c.clone(), vec![vec![0], vec![]]).contains("`q2` has no relevant"));
        assert!(err(q.clone(), c.clone(), vec![vec![0], vec![2]]).contains("index 2 is outside"));
        assert!(err(q.clone(), c.clone(), vec![vec![1, 1], vec![0]]).contains("index 1 repeats"));
        assert!(err(q.clone(), c.clone(), vec![vec![0]]).contains("1 relevant-document lists"));
        assert!(err(q, entries(&["d", "d"]), vec![vec![0], vec![1]])
            .contains("document id `d` appears at positions 0 and 1"));
        assert!(err(Vec::new(), c, Vec::new()).contains("no queries"));
    }

    #[test]
    fn pairs_merge_repeated_queries_and_positives() {
        let set =
            RetrievalSet::from_pairs([("a", "x"), ("b", "y"), ("a", "z"), ("a", "x"), ("c", "y")])
                .unwrap();
        let texts = |v: &[(String, String)]| v.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>();
        assert_eq!(texts(set.queries()), ["a", "b", "c"]);
        assert_eq!(texts(set.corpus()), ["x", "y", "z"]);
        assert_eq!(set.relevant(), [vec![0, 2], vec![1], vec![1]]);
        assert_eq!(set.queries()[2].0, "2");
        assert!(RetrievalSet::from_pairs([]).is_err());
    }

    #[test]
    fn columns_of_a_training_set() {
        let set = TrainingSet::new(
            vec!["anchor".into(), "positive".into()],
            vec![vec!["q".into(), "r".into()], vec!["p".into(), "p".into()]],
            TargetColumn::None,
        )
        .unwrap();
        let r = RetrievalSet::from_columns(&set, "anchor", "positive").unwrap();
        assert_eq!((r.len(), r.corpus().len()), (2, 1));
        let err = RetrievalSet::from_columns(&set, "question", "positive").unwrap_err();
        assert!(err
            .to_string()
            .contains("no column `question`; columns: anchor, positive"));
    }
}
