//! Invariants of `RetrievalSet` builders and the BEIR reader: every given positive is
//! relevant, nothing else is, texts are deduplicated, and files read back as written.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use data::{nli_retrieval, read_beir, NliLabel, NliPair, RetrievalSet};
use proptest::prelude::*;

fn texts(v: &[(String, String)]) -> Vec<&str> {
    v.iter().map(|(_, t)| t.as_str()).collect()
}

/// (query text, relevant document texts) of a set, as a map.
fn relevance(set: &RetrievalSet) -> HashMap<String, BTreeSet<String>> {
    set.queries()
        .iter()
        .zip(set.relevant())
        .map(|((_, q), docs)| {
            let docs = docs.iter().map(|&d| set.corpus()[d].1.clone()).collect();
            (q.clone(), docs)
        })
        .collect()
}

fn unique(v: &[&str]) -> bool {
    v.iter().collect::<BTreeSet<_>>().len() == v.len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    #[test]
    fn pairs_give_exactly_their_positives(
        pairs in prop::collection::vec((0u8..8, 0u8..10), 1..40),
    ) {
        let owned: Vec<(String, String)> =
            pairs.iter().map(|(q, p)| (format!("q{q}"), format!("p{p}"))).collect();
        let set = RetrievalSet::from_pairs(owned.iter().map(|(q, p)| (q.as_str(), p.as_str()))).unwrap();
        prop_assert!(unique(&texts(set.queries())) && unique(&texts(set.corpus())));
        let mut want: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (q, p) in &owned {
            want.entry(q.clone()).or_default().insert(p.clone());
        }
        prop_assert_eq!(relevance(&set), want);
    }

    #[test]
    fn nli_premises_retrieve_their_entailments(
        rows in prop::collection::vec((0u8..6, 0u8..12, 0u8..3), 1..50), cap in 1usize..8,
    ) {
        let pairs: Vec<NliPair> = rows.iter().map(|&(p, h, l)| NliPair {
            premise: format!("p{p}"),
            hypothesis: format!("h{h}"),
            label: NliLabel::from_id(i64::from(l)).unwrap(),
        }).collect();
        let mut want: HashMap<String, BTreeSet<String>> = HashMap::new();
        for p in pairs.iter().filter(|p| p.label == NliLabel::Entailment) {
            want.entry(p.premise.clone()).or_default().insert(p.hypothesis.clone());
        }
        let Ok(set) = nli_retrieval(&pairs, None) else {
            prop_assert!(want.is_empty());
            return Ok(());
        };
        prop_assert_eq!(relevance(&set), want.clone());
        let hypotheses: BTreeSet<&str> = pairs.iter().map(|p| p.hypothesis.as_str()).collect();
        prop_assert!(unique(&texts(set.corpus())));
        prop_assert_eq!(texts(set.corpus()).into_iter().collect::<BTreeSet<_>>(), hypotheses);
        let premises: BTreeSet<&str> = pairs.iter().map(|p| p.premise.as_str()).collect();
        prop_assert_eq!(set.dropped_queries(), premises.len() - want.len());
        let capped = nli_retrieval(&pairs, Some(cap)).unwrap();
        prop_assert_eq!(capped.queries(), &set.queries()[..cap.min(set.len())]);
        prop_assert_eq!(capped.corpus(), set.corpus());
    }

    #[test]
    fn beir_files_read_back(
        docs in prop::collection::vec("[a-z \t\"\\\\é]{0,12}", 1..12),
        queries in prop::collection::vec("[a-z \t\"]{1,8}", 1..8),
        qrels in prop::collection::vec((0usize..8, 0usize..12, -1i64..3), 0..30),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut corpus_file = String::new();
        for (i, text) in docs.iter().enumerate() {
            let line = serde_json::json!({"_id": format!("d{i}"), "title": "", "text": text});
            writeln!(corpus_file, "{line}").unwrap();
        }
        let mut queries_file = String::new();
        for (i, text) in queries.iter().enumerate() {
            writeln!(queries_file, "{}", serde_json::json!({"_id": i, "text": text})).unwrap();
        }
        let mut qrels_file = String::from("query-id\tcorpus-id\tscore\n");
        // Last score of each pair wins, as in BEIR's loader.
        let mut last: HashMap<(usize, usize), i64> = HashMap::new();
        let mut first_seen: Vec<(usize, usize)> = Vec::new();
        for &(q, d, score) in &qrels {
            let (q, d) = (q % queries.len(), d % docs.len());
            writeln!(qrels_file, "{q}\td{d}\t{score}").unwrap();
            if last.insert((q, d), score).is_none() {
                first_seen.push((q, d));
            }
        }
        std::fs::write(dir.path().join("corpus.jsonl"), corpus_file).unwrap();
        std::fs::write(dir.path().join("queries.jsonl"), queries_file).unwrap();
        std::fs::create_dir(dir.path().join("qrels")).unwrap();
        std::fs::write(dir.path().join("qrels/dev.tsv"), qrels_file).unwrap();

        let mut want: Vec<(String, Vec<usize>)> = Vec::new();
        for q in 0..queries.len() {
            let docs: Vec<usize> = first_seen.iter()
                .filter(|&&(qq, d)| qq == q && last[&(qq, d)] > 0)
                .map(|&(_, d)| d)
                .collect();
            if !docs.is_empty() {
                want.push((q.to_string(), docs));
            }
        }
        match read_beir(dir.path(), "dev") {
            Ok(set) => {
                let got: Vec<(String, Vec<usize>)> = set.queries().iter()
                    .map(|(id, _)| id.clone())
                    .zip(set.relevant().iter().cloned())
                    .collect();
                prop_assert_eq!(got, want.clone());
                prop_assert_eq!(set.dropped_queries(), queries.len() - want.len());
                prop_assert_eq!(texts(set.corpus()), docs.iter().map(|d| d.trim()).collect::<Vec<_>>());
                for (id, text) in set.queries() {
                    prop_assert_eq!(text, &queries[id.parse::<usize>().unwrap()]);
                }
            }
            Err(err) => {
                prop_assert!(want.is_empty(), "{}", err);
                prop_assert!(err.to_string().contains("no query has a relevant document"), "{}", err);
            }
        }
    }
}
