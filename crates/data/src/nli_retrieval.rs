//! An offline retrieval task made from NLI pairs: find a premise's entailed hypotheses among
//! all hypotheses of the split.

use std::num::NonZeroUsize;

use crate::error::{Error, Result};
use crate::nli::{NliLabel, NliPair};
use crate::retrieval_set::{keep_answered, Interner, RetrievalSet};

/// Premises as queries, every hypothesis of `pairs` as the corpus, a premise's entailment
/// hypotheses as its relevant documents.
///
/// Premises and hypotheses are deduplicated by text, in order of first appearance; ids are
/// their positions as strings. Premises without an entailment hypothesis are left out (as
/// sentence-transformers' evaluator leaves out queries without a relevant document) and
/// counted in [`RetrievalSet::dropped_queries`]. `max_queries` then keeps the first `n`
/// queries in that order (`Some(0)` is an error); the corpus stays whole (every hypothesis, of every label, is a
/// candidate), so a capped task is smaller to query but as hard per query.
pub fn nli_retrieval(pairs: &[NliPair], max_queries: Option<usize>) -> Result<RetrievalSet> {
    let cap = match max_queries.map(NonZeroUsize::new) {
        Some(None) => {
            return Err(Error::RetrievalSet {
                reason: "max_queries must be at least 1".into(),
            })
        }
        Some(Some(n)) => Some(n),
        None => None,
    };
    let mut premises = Interner::default();
    let mut hypotheses = Interner::default();
    let mut relevant: Vec<Vec<usize>> = Vec::new();
    for pair in pairs {
        let q = premises.intern(&pair.premise);
        let d = hypotheses.intern(&pair.hypothesis);
        if relevant.len() <= q {
            relevant.resize_with(q + 1, Vec::new);
        }
        if pair.label != NliLabel::Entailment {
            continue;
        }
        if let Some(list) = relevant.get_mut(q).filter(|l| !l.contains(&d)) {
            list.push(d);
        }
    }
    let (queries, relevant, dropped) = keep_answered(premises.into_entries(), relevant);
    if queries.is_empty() {
        return Err(Error::RetrievalSet {
            reason: format!("none of {} nli pairs is an entailment", pairs.len()),
        });
    }
    let mut set = RetrievalSet::new(queries, hypotheses.into_entries(), relevant)?
        .with_dropped_queries(dropped);
    if let Some(n) = cap {
        set.truncate_queries(n);
    }
    tracing::info!(
        queries = set.len(),
        corpus = set.corpus().len(),
        dropped,
        "built nli retrieval task"
    );
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use NliLabel::{Contradiction as C, Entailment as E, Neutral as N};

    fn pair(premise: &str, hypothesis: &str, label: NliLabel) -> NliPair {
        NliPair {
            premise: premise.into(),
            hypothesis: hypothesis.into(),
            label,
        }
    }

    #[test]
    fn premises_query_all_hypotheses() {
        let pairs = [
            pair("p1", "h1", E),
            pair("p1", "h2", C),
            pair("p2", "h3", N), // p2: no entailment, dropped
            pair("p3", "h2", E),
            pair("p1", "h1", E), // repeated row
            pair("p3", "h4", E),
        ];
        let set = nli_retrieval(&pairs, None).unwrap();
        let texts = |v: &[(String, String)]| v.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>();
        assert_eq!(texts(set.queries()), ["p1", "p3"]);
        assert_eq!(texts(set.corpus()), ["h1", "h2", "h3", "h4"]);
        assert_eq!(set.relevant(), [vec![0], vec![1, 3]]);
        assert_eq!(set.dropped_queries(), 1);
        // Ids are positions among all distinct premises.
        assert_eq!(set.queries()[1].0, "2");

        let capped = nli_retrieval(&pairs, Some(1)).unwrap();
        assert_eq!(capped.len(), 1);
        assert_eq!(capped.corpus().len(), 4);
    }

    #[test]
    fn no_entailment_is_an_error() {
        let err = nli_retrieval(&[pair("p", "h", C)], None).unwrap_err();
        assert!(err.to_string().contains("none of 1 nli pairs"), "{err}");
        assert!(nli_retrieval(&[pair("p", "h", E)], Some(0)).is_err());
    }
}
