//! Training sets built from NLI pairs, as in "Creating Text Embedding Models" (Alammar &
//! Grootendorst, ch. 10) and the sentence-transformers NLI examples.
//!
//! Every builder keeps the input order and is deterministic (the random one per seed).

use std::collections::{HashMap, HashSet};

use ahash::RandomState;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::nli::{NliLabel, NliPair};
use crate::scored_pair::ScoredPair;

/// A sentence pair with a class index, the input of a softmax (classification) loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledPair {
    pub sentence1: String,
    pub sentence2: String,
    /// [`NliLabel::index`]: 0 entailment, 1 neutral, 2 contradiction.
    pub label: usize,
}

/// What [`scored_pairs`] does with neutral pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeutralPolicy {
    /// Score neutral pairs 0.0, like contradictions (the book's `{2: 0, 1: 0, 0: 1}` mapping).
    AsZero,
    /// Leave neutral pairs out.
    Drop,
}

/// An anchor, a sentence that should embed close to it and one that should not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Triplet {
    pub anchor: String,
    pub positive: String,
    pub negative: String,
}

/// The first `max_rows` input rows (all of them for `None`).
fn head(pairs: &[NliPair], max_rows: Option<usize>) -> &[NliPair] {
    match max_rows {
        Some(n) => pairs.get(..n).unwrap_or(pairs),
        None => pairs,
    }
}

/// One labelled pair per NLI pair of the first `max_rows` rows, for a 3-way softmax loss.
pub fn labelled_pairs(pairs: &[NliPair], max_rows: Option<usize>) -> Vec<LabelledPair> {
    head(pairs, max_rows)
        .iter()
        .map(|p| LabelledPair {
            sentence1: p.premise.clone(),
            sentence2: p.hypothesis.clone(),
            label: p.label.index(),
        })
        .collect()
}

/// Similarity-scored pairs for a cosine loss: entailment 1.0, contradiction 0.0, neutral
/// 0.0 or dropped.
///
/// `max_rows` limits the input rows read (as the book's `select(range(n))` before mapping),
/// so with [`NeutralPolicy::Drop`] fewer than `max_rows` pairs can come back.
pub fn scored_pairs(
    pairs: &[NliPair],
    neutral: NeutralPolicy,
    max_rows: Option<usize>,
) -> Vec<ScoredPair> {
    head(pairs, max_rows)
        .iter()
        .filter_map(|p| {
            let score = match (p.label, neutral) {
                (NliLabel::Entailment, _) => 1.0,
                (NliLabel::Contradiction, _) | (NliLabel::Neutral, NeutralPolicy::AsZero) => 0.0,
                (NliLabel::Neutral, NeutralPolicy::Drop) => return None,
            };
            Some(ScoredPair {
                sentence1: p.premise.clone(),
                sentence2: p.hypothesis.clone(),
                score,
            })
        })
        .collect()
}

/// Triplets with hard negatives: anchor = premise, positive = one of its entailment
/// hypotheses, negative = its first contradiction hypothesis (in input order).
///
/// Each entailment hypothesis of a premise gives one triplet; premises without both an
/// entailment and a contradiction hypothesis give none. Identical triplets are kept once;
/// triplets come in the order their premise (then entailment hypothesis) first appears.
/// `max_rows` limits the input rows read.
pub fn hard_triplets(pairs: &[NliPair], max_rows: Option<usize>) -> Vec<Triplet> {
    // One hash lookup of the (long) premise per row: premises become dense ids, and a
    // premise's first contradiction and entailment hypotheses are gathered by id.
    struct Premise<'a> {
        text: &'a str,
        negative: Option<&'a str>,
        positives: Vec<&'a str>,
    }
    let mut ids: HashMap<&str, usize, RandomState> = HashMap::default();
    let mut premises: Vec<Premise<'_>> = Vec::new();
    // Premises in the order of their first entailment row.
    let mut order: Vec<usize> = Vec::new();
    for p in head(pairs, max_rows) {
        if p.label == NliLabel::Neutral {
            continue;
        }
        let id = *ids.entry(p.premise.as_str()).or_insert_with(|| {
            premises.push(Premise {
                text: p.premise.as_str(),
                negative: None,
                positives: Vec::new(),
            });
            premises.len() - 1
        });
        let Some(premise) = premises.get_mut(id) else {
            continue;
        };
        match p.label {
            NliLabel::Contradiction => {
                premise.negative.get_or_insert(p.hypothesis.as_str());
            }
            NliLabel::Entailment => {
                if premise.positives.is_empty() {
                    order.push(id);
                }
                premise.positives.push(p.hypothesis.as_str());
            }
            NliLabel::Neutral => {}
        }
    }
    // The negative is fixed per premise, so (premise, positive) identifies a triplet.
    let mut seen: HashSet<(usize, &str), RandomState> = HashSet::default();
    let mut triplets = Vec::new();
    for id in order {
        let Some(Premise {
            text,
            negative: Some(negative),
            positives,
        }) = premises.get(id)
        else {
            continue;
        };
        for &positive in positives {
            if seen.insert((id, positive)) {
                triplets.push(Triplet {
                    anchor: (*text).to_owned(),
                    positive: positive.to_owned(),
                    negative: (*negative).to_owned(),
                });
            }
        }
    }
    triplets
}

/// Random draws before [`soft_triplets`] falls back to a scan for a valid negative.
const MAX_DRAWS: usize = 64;

/// Triplets with random ("soft") negatives, the book's MNR-loss recipe.
///
/// The entailment pairs are taken in input order, and `max_rows` keeps the first
/// `max_rows` of them **after** filtering to entailment (the book filters `label == 0`,
/// then selects). anchor = premise, positive = hypothesis, negative = a hypothesis drawn
/// uniformly from **all** hypotheses of `pairs` (every label, every row) with a
/// [`ChaCha8Rng`] seeded by `seed`, redrawn when it equals the positive or is an entailment
/// hypothesis of the same premise. After 64 rejected draws the first valid hypothesis
/// from a random offset is taken; an anchor with no valid negative at all is skipped.
/// The result is deterministic per seed.
pub fn soft_triplets(pairs: &[NliPair], max_rows: Option<usize>, seed: u64) -> Vec<Triplet> {
    let hypotheses: Vec<&str> = pairs.iter().map(|p| p.hypothesis.as_str()).collect();
    let mut entailed: HashMap<&str, HashSet<&str, RandomState>, RandomState> = HashMap::default();
    for p in pairs.iter().filter(|p| p.label == NliLabel::Entailment) {
        entailed
            .entry(p.premise.as_str())
            .or_default()
            .insert(p.hypothesis.as_str());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let limit = max_rows.unwrap_or(usize::MAX);
    let mut triplets = Vec::new();
    for p in pairs
        .iter()
        .filter(|p| p.label == NliLabel::Entailment)
        .take(limit)
    {
        let own = entailed.get(p.premise.as_str());
        let invalid = |candidate: &str| {
            candidate == p.hypothesis || own.is_some_and(|set| set.contains(candidate))
        };
        let mut negative = None;
        for _ in 0..MAX_DRAWS {
            let candidate = hypotheses
                .get(rng.random_range(0..hypotheses.len()))
                .copied();
            if let Some(c) = candidate.filter(|c| !invalid(c)) {
                negative = Some(c);
                break;
            }
        }
        if negative.is_none() {
            let start = rng.random_range(0..hypotheses.len());
            negative = hypotheses
                .iter()
                .cycle()
                .skip(start)
                .take(hypotheses.len())
                .copied()
                .find(|c| !invalid(c));
        }
        if let Some(negative) = negative {
            triplets.push(Triplet {
                anchor: p.premise.clone(),
                positive: p.hypothesis.clone(),
                negative: negative.to_owned(),
            });
        }
    }
    triplets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(premise: &str, hypothesis: &str, label: NliLabel) -> NliPair {
        NliPair {
            premise: premise.into(),
            hypothesis: hypothesis.into(),
            label,
        }
    }

    fn fixture() -> Vec<NliPair> {
        use NliLabel::{Contradiction as C, Entailment as E, Neutral as N};
        vec![
            pair("p1", "e1a", E),
            pair("p1", "c1a", C),
            pair("p1", "n1", N),
            pair("p2", "e2", E), // p2 has no contradiction
            pair("p1", "e1b", E),
            pair("p1", "c1b", C),
            pair("p3", "c3", C),
            pair("p3", "e3", E),
            pair("p1", "e1a", E), // duplicate row
        ]
    }

    fn triplet(a: &str, p: &str, n: &str) -> Triplet {
        Triplet {
            anchor: a.into(),
            positive: p.into(),
            negative: n.into(),
        }
    }

    #[test]
    fn labelled_pairs_keep_rows_and_class_indices() {
        let got = labelled_pairs(&fixture(), Some(3));
        let want: Vec<(&str, &str, usize)> =
            vec![("p1", "e1a", 0), ("p1", "c1a", 2), ("p1", "n1", 1)];
        let got: Vec<(&str, &str, usize)> = got
            .iter()
            .map(|p| (p.sentence1.as_str(), p.sentence2.as_str(), p.label))
            .collect();
        assert_eq!(got, want);
        assert_eq!(labelled_pairs(&fixture(), None).len(), 9);
        assert_eq!(labelled_pairs(&fixture(), Some(100)).len(), 9);
    }

    #[test]
    fn scored_pairs_map_labels() {
        let rows = fixture();
        let scores = |policy, max| -> Vec<(String, f32)> {
            scored_pairs(&rows, policy, max)
                .into_iter()
                .map(|p| (p.sentence2, p.score))
                .collect()
        };
        let s = |h: &str, v: f32| (h.to_owned(), v);
        assert_eq!(
            scores(NeutralPolicy::AsZero, Some(4)),
            vec![s("e1a", 1.0), s("c1a", 0.0), s("n1", 0.0), s("e2", 1.0)]
        );
        // max_rows counts input rows, before neutral rows are dropped.
        assert_eq!(
            scores(NeutralPolicy::Drop, Some(4)),
            vec![s("e1a", 1.0), s("c1a", 0.0), s("e2", 1.0)]
        );
        assert_eq!(scores(NeutralPolicy::Drop, None).len(), 8);
        assert!(scored_pairs(&rows, NeutralPolicy::AsZero, None)
            .iter()
            .all(|p| p.sentence1.starts_with('p')));
    }

    #[test]
    fn hard_triplets_pair_entailment_with_first_contradiction_of_same_premise() {
        assert_eq!(
            hard_triplets(&fixture(), None),
            vec![
                triplet("p1", "e1a", "c1a"),
                triplet("p1", "e1b", "c1a"),
                triplet("p3", "e3", "c3"),
            ]
        );
        // Only the first two rows: p1 has e1a and c1a.
        assert_eq!(
            hard_triplets(&fixture(), Some(2)),
            vec![triplet("p1", "e1a", "c1a")]
        );
        // p1's contradiction not yet read.
        assert!(hard_triplets(&fixture(), Some(1)).is_empty());
    }

    #[test]
    fn soft_triplets_follow_entailment_rows_with_valid_negatives() {
        let rows = fixture();
        for seed in 0..50 {
            let got = soft_triplets(&rows, None, seed);
            let anchors: Vec<(&str, &str)> = got
                .iter()
                .map(|t| (t.anchor.as_str(), t.positive.as_str()))
                .collect();
            assert_eq!(
                anchors,
                vec![
                    ("p1", "e1a"),
                    ("p2", "e2"),
                    ("p1", "e1b"),
                    ("p3", "e3"),
                    ("p1", "e1a")
                ]
            );
            for t in &got {
                assert_ne!(t.negative, t.positive);
                assert!(rows.iter().any(|p| p.hypothesis == t.negative));
                if t.anchor == "p1" {
                    assert!(t.negative != "e1a" && t.negative != "e1b", "{t:?}");
                }
            }
            assert_eq!(got, soft_triplets(&rows, None, seed));
            assert_eq!(soft_triplets(&rows, Some(2,), seed).len(), 2);
        }
        let differ =
            (0..20).any(|s| soft_triplets(&rows, None, s) != soft_triplets(&rows, None, 99));
        assert!(differ);
    }

    #[test]
    fn soft_triplets_skip_anchor_without_any_valid_negative() {
        use NliLabel::Entailment as E;
        let rows = vec![pair("p", "a", E), pair("p", "b", E)];
        assert!(soft_triplets(&rows, None, 1).is_empty());
        let rows = vec![pair("p", "a", E), pair("q", "b", E)];
        assert_eq!(
            soft_triplets(&rows, None, 1),
            vec![triplet("p", "a", "b"), triplet("q", "b", "a")]
        );
        assert!(soft_triplets(&[], None, 1).is_empty());
    }
}
