//! The texts of a mining run: the deduplicated queries and corpus that get embedded, and which
//! corpus entries are each query's positives.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// A named column of texts.
#[derive(Debug, Clone, Copy)]
pub struct TextColumn<'a, S> {
    pub name: &'a str,
    pub texts: &'a [S],
}

impl<'a, S> TextColumn<'a, S> {
    pub fn new(name: &'a str, texts: &'a [S]) -> Self {
        TextColumn { name, texts }
    }
}

/// (anchor, positive) rows turned into what mining embeds and masks, as
/// sentence-transformers' `mine_hard_negatives` builds it:
/// - the corpus: the extra corpus texts, then the positives, deduplicated keeping first
///   occurrences;
/// - the queries: the anchors, deduplicated keeping first occurrences (rows sharing an anchor
///   are all its positives);
/// - per query, the corpus indices of its positives in order of first appearance, without
///   repeats.
#[derive(Debug, Clone)]
pub struct MiningTexts {
    anchor_column: String,
    positive_column: String,
    corpus: Vec<String>,
    queries: Vec<String>,
    positives: Vec<Vec<usize>>,
    query_in_corpus: Vec<Option<usize>>,
    query_is_positive: Vec<bool>,
    rows: usize,
    max_positives: usize,
}

impl MiningTexts {
    /// Collects the rows `(anchors[i], positives[i])` and the optional extra corpus.
    pub fn new<S: AsRef<str>>(
        anchors: TextColumn<'_, S>,
        positives: TextColumn<'_, S>,
        corpus: Option<&[S]>,
    ) -> Result<Self> {
        for name in [anchors.name, positives.name] {
            if name.is_empty() {
                return Err(Error::ColumnName {
                    name: name.to_string(),
                    reason: "is empty",
                });
            }
        }
        if anchors.name == positives.name {
            return Err(Error::ColumnName {
                name: anchors.name.to_string(),
                reason: "names both the anchor and the positive column",
            });
        }
        if anchors.texts.len() != positives.texts.len() {
            return Err(Error::ColumnLengths {
                anchor_column: anchors.name.to_string(),
                anchors: anchors.texts.len(),
                positive_column: positives.name.to_string(),
                positives: positives.texts.len(),
            });
        }
        if anchors.texts.is_empty() {
            return Err(Error::EmptyDataset);
        }
        // An empty anchor or positive embeds to noise and mines nonsense: refused, named.
        for column in [&anchors, &positives] {
            if let Some(row) = column
                .texts
                .iter()
                .position(|t| t.as_ref().trim().is_empty())
            {
                return Err(Error::EmptyText {
                    column: column.name.to_string(),
                    row,
                });
            }
        }
        let extra = corpus.unwrap_or(&[]);
        let (corpus, corpus_index) = dedupe(
            extra
                .iter()
                .chain(positives.texts.iter())
                .map(AsRef::as_ref),
        );
        let (queries, query_index) = dedupe(anchors.texts.iter().map(AsRef::as_ref));

        let mut positives_of = vec![Vec::new(); queries.len()];
        let mut rows_of = vec![0usize; queries.len()];
        let mut query_is_positive = vec![false; queries.len()];
        for (anchor, positive) in anchors.texts.iter().zip(positives.texts) {
            let (anchor, positive) = (anchor.as_ref(), positive.as_ref());
            // Both maps hold every anchor and positive by construction.
            let (Some(&q), Some(&c)) = (query_index.get(anchor), corpus_index.get(positive)) else {
                continue;
            };
            rows_of[q] += 1;
            if !positives_of[q].contains(&c) {
                positives_of[q].push(c);
            }
            if anchor == positive {
                query_is_positive[q] = true;
            }
        }
        let query_in_corpus = queries
            .iter()
            .map(|q| corpus_index.get(q.as_str()).copied())
            .collect();
        Ok(MiningTexts {
            anchor_column: anchors.name.to_string(),
            positive_column: positives.name.to_string(),
            corpus,
            queries,
            positives: positives_of,
            query_in_corpus,
            query_is_positive,
            rows: anchors.texts.len(),
            // Python counts rows per anchor (pandas groupby count), repeated pairs included.
            max_positives: rows_of.into_iter().max().unwrap_or(0),
        })
    }

    pub fn anchor_column(&self) -> &str {
        &self.anchor_column
    }

    pub fn positive_column(&self) -> &str {
        &self.positive_column
    }

    /// The texts embedded as documents, in embedding order.
    pub fn corpus(&self) -> &[String] {
        &self.corpus
    }

    /// The texts embedded as queries (unique anchors), in embedding order.
    pub fn queries(&self) -> &[String] {
        &self.queries
    }

    /// Corpus indices of query `query`'s positives, in order of first appearance.
    pub fn positives_of(&self, query: usize) -> &[usize] {
        self.positives.get(query).map_or(&[], Vec::as_slice)
    }

    /// The corpus index of the query's own text, if the corpus holds it.
    pub fn query_in_corpus(&self, query: usize) -> Option<usize> {
        self.query_in_corpus.get(query).copied().flatten()
    }

    /// Whether some row pairs the query with itself as positive.
    pub fn query_is_own_positive(&self, query: usize) -> bool {
        self.query_is_positive.get(query).copied().unwrap_or(false)
    }

    /// Rows of the input dataset.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// (query, positive) pairs after removing repeated pairs: the rows of most output formats.
    pub fn num_pairs(&self) -> usize {
        self.positives.iter().map(Vec::len).sum()
    }

    /// The most input rows that share one anchor (repeated pairs counted), which sizes the
    /// candidate window.
    pub fn max_positives(&self) -> usize {
        self.max_positives
    }

    /// The mean number of input rows per unique anchor.
    pub fn mean_positives(&self) -> f64 {
        self.rows as f64 / self.queries.len() as f64
    }
}

/// The texts without repeats, first occurrences kept in order, and each text's position.
fn dedupe<'a>(texts: impl Iterator<Item = &'a str>) -> (Vec<String>, HashMap<&'a str, usize>) {
    let mut unique = Vec::new();
    let mut index = HashMap::new();
    for text in texts {
        index.entry(text).or_insert_with(|| {
            unique.push(text.to_string());
            unique.len() - 1
        });
    }
    (unique, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(anchors: &[&str], positives: &[&str], corpus: Option<&[&str]>) -> MiningTexts {
        MiningTexts::new(
            TextColumn::new("query", anchors),
            TextColumn::new("answer", positives),
            corpus,
        )
        .unwrap()
    }

    #[test]
    fn corpus_is_extra_then_positives_deduplicated() {
        let t = texts(
            &["q1", "q2", "q3"],
            &["p1", "d2", "p1"],
            Some(&["d1", "d2", "d1", "d3"]),
        );
        assert_eq!(t.corpus(), ["d1", "d2", "d3", "p1"]);
        let t = texts(&["q1", "q2"], &["p2", "p1"], None);
        assert_eq!(t.corpus(), ["p2", "p1"]);
    }

    #[test]
    fn queries_deduplicated_in_first_order() {
        let t = texts(&["b", "a", "b", "c", "a"], &["1", "2", "3", "4", "5"], None);
        assert_eq!(t.queries(), ["b", "a", "c"]);
        assert_eq!(t.num_rows(), 5);
    }

    #[test]
    fn positives_per_query_with_duplicate_anchors() {
        // "a" has p2, p1, p2 again (a repeated pair) and p3; "b" shares p1.
        let t = texts(
            &["a", "b", "a", "a", "a"],
            &["p2", "p1", "p1", "p2", "p3"],
            Some(&["p3", "x"]),
        );
        assert_eq!(t.corpus(), ["p3", "x", "p2", "p1"]);
        assert_eq!(t.positives_of(0), [2, 3, 0]);
        assert_eq!(t.positives_of(1), [3]);
        assert_eq!(t.num_pairs(), 4);
        // repeated pairs count for the window size, as pandas' groupby count does
        assert_eq!(t.max_positives(), 4);
        assert!((t.mean_positives() - 2.5).abs() < 1e-12);
    }

    #[test]
    fn query_in_corpus_and_own_positive() {
        let t = texts(&["a", "b", "c"], &["a", "a", "p"], Some(&["b"]));
        assert_eq!(t.corpus(), ["b", "a", "p"]);
        assert_eq!(t.query_in_corpus(0), Some(1));
        assert_eq!(t.query_in_corpus(1), Some(0));
        assert_eq!(t.query_in_corpus(2), None);
        assert!(t.query_is_own_positive(0));
        assert!(!t.query_is_own_positive(1));
    }

    #[test]
    fn bad_columns_are_named() {
        let e = MiningTexts::new(
            TextColumn::new("q", &["a", "b"]),
            TextColumn::new("p", &["a"]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("column q has 2 rows") && e.contains("p has 1"),
            "{e}"
        );
        let e = MiningTexts::new(
            TextColumn::new("x", &["a"]),
            TextColumn::new("x", &["a"]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"x\""), "{e}");
        let blank = ["q1", " "];
        let e = MiningTexts::new(
            TextColumn::new("q", &["a", "b"]),
            TextColumn::new("p", &blank),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::EmptyText { column, row: 1 } if column == "p"),
            "{e}"
        );
        let empty: [&str; 0] = [];
        let e = MiningTexts::new(
            TextColumn::new("q", &empty),
            TextColumn::new("p", &empty),
            None,
        )
        .unwrap_err();
        assert!(matches!(e, Error::EmptyDataset));
    }

    proptest! {
        #[test]
        fn dedupe_keeps_each_text_once_in_first_order(
            anchors in proptest::collection::vec(0u8..6, 1..30),
            extra in proptest::collection::vec(0u8..6, 0..10),
        ) {
            let anchors: Vec<String> = anchors.iter().map(|a| format!("t{a}")).collect();
            let positives: Vec<String> = anchors.iter().rev().map(|a| format!("{a}+")).collect();
            let extra: Vec<String> = extra.iter().map(|e| format!("t{e}+")).collect();
            let t = MiningTexts::new(
                TextColumn::new("a", &anchors),
                TextColumn::new("p", &positives),
                Some(&extra),
            )
            .unwrap();
            let mut seen = Vec::new();
            for text in extra.iter().chain(&positives) {
                if !seen.contains(text) {
                    seen.push(text.clone());
                }
            }
            prop_assert_eq!(t.corpus(), seen.as_slice());
            for (a, p) in anchors.iter().zip(&positives) {
                let q = t.queries().iter().position(|x| x == a).unwrap();
                let c = t.corpus().iter().position(|x| x == p).unwrap();
                prop_assert!(t.positives_of(q).contains(&c));
            }
            prop_assert!(t.num_pairs() <= t.num_rows());
        }
    }
}
