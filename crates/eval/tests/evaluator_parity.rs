//! Parity with sentence-transformers 6.2's evaluator classes on a committed fixture.
//!
//! Fixture: `tests/fixtures/evaluators.json`, written by
//! `crates/eval/tests/fixtures/make_evaluator_fixtures.py` (seed 20261201) with python 3.11.7,
//! sentence-transformers 6.2.0, transformers 5.24.0, torch 2.11.0, numpy 2.4.6 and
//! scikit-learn 1.9.1 (the versions are recorded in the fixture). Each case runs the real class
//! on a stand-in model whose `encode` returns the fixture's float32 embeddings:
//! ```python
//! model = LookupModel(table)                       # encode(texts) -> table[text] for each text
//! ev = InformationRetrievalEvaluator(queries, corpus, relevant_docs, **config)
//! ev = BinaryClassificationEvaluator(s1, s2, labels, similarity_fn_names=fns)
//! ev = TripletEvaluator(anchors, positives, negatives, similarity_fn_names=fns,
//!                       main_similarity_function=main, margin=margin)
//! ev = ParaphraseMiningEvaluator(sentences_map, duplicates_list, add_transitive_closure, **mining)
//! expected, primary_metric = ev(model), ev.primary_metric
//! mined_pairs = paraphrase_mining_embeddings(embeddings, **mining)
//! ```
//! Checked: identical key sets, every value within 1e-6 absolute (sentence-transformers scores
//! in float32, this crate in float64; the script checks that both rank and tie alike, so only
//! thresholds carry float32 rounding), and the same `primary_metric`.

use std::collections::{BTreeMap, BTreeSet};

use eval::{
    paraphrase_mining, BinaryClassificationConfig, BinaryClassificationEvaluator, Embeddings,
    InformationRetrievalConfig, InformationRetrievalEvaluator, MetricValues, NamedMetrics,
    ParaphraseMiningConfig, ParaphraseMiningEvaluator, TripletConfig, TripletEvaluator,
};
use serde::Deserialize;

const TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    script: String,
    versions: BTreeMap<String, String>,
    information_retrieval: Vec<IrCase>,
    binary_classification: Vec<BinaryCase>,
    triplet: Vec<TripletCase>,
    paraphrase_mining: Vec<MiningCase>,
}

#[derive(Deserialize)]
struct Expected {
    name: String,
    expected: BTreeMap<String, f64>,
    primary_metric: String,
}

#[derive(Deserialize)]
struct IrCase {
    #[serde(flatten)]
    expected: Expected,
    dim: usize,
    queries: Vec<f64>,
    corpus: Vec<f64>,
    relevant_docs: Vec<Vec<usize>>,
    config: InformationRetrievalConfig,
}

#[derive(Deserialize)]
struct BinaryCase {
    #[serde(flatten)]
    expected: Expected,
    dim: usize,
    embeddings1: Vec<f64>,
    embeddings2: Vec<f64>,
    labels: Vec<i64>,
    config: BinaryClassificationConfig,
}

#[derive(Deserialize)]
struct TripletCase {
    #[serde(flatten)]
    expected: Expected,
    dim: usize,
    anchors: Vec<f64>,
    positives: Vec<f64>,
    negatives: Vec<f64>,
    config: TripletConfig,
}

#[derive(Deserialize)]
struct MiningCase {
    #[serde(flatten)]
    expected: Expected,
    dim: usize,
    embeddings: Vec<f64>,
    duplicates: Vec<(usize, usize)>,
    config: ParaphraseMiningConfig,
    /// `[score, i, j]`, most similar first.
    mined_pairs: Vec<(f64, usize, usize)>,
}

fn load() -> Fixture {
    let path = format!(
        "{}/tests/fixtures/evaluators.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let fixture: Fixture =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"));
    assert_eq!(
        fixture.script,
        "crates/eval/tests/fixtures/make_evaluator_fixtures.py"
    );
    assert_eq!(fixture.versions["sentence_transformers"], "6.2.0");
    for key in ["transformers", "torch", "numpy", "scikit_learn", "python"] {
        assert!(!fixture.versions[key].is_empty(), "{key}");
    }
    fixture
}

/// The fixture's float32 values (stored exactly as float64).
fn f32s(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

fn emb(data: &[f32], dim: usize) -> Embeddings<'_> {
    Embeddings::new(data, data.len() / dim, dim).unwrap()
}

/// Checks keys, values and primary metric; returns the largest absolute gap.
fn compare(what: &str, expected: &Expected, actual: &MetricValues, primary: &str) -> f64 {
    let what = format!("{what} {}", expected.name);
    let keys: BTreeSet<&str> = actual.names().collect();
    let expected_keys: BTreeSet<&str> = expected.expected.keys().map(String::as_str).collect();
    assert_eq!(keys, expected_keys, "{what}: key sets differ");
    assert_eq!(actual.len(), keys.len(), "{what}: repeated keys");
    assert_eq!(primary, expected.primary_metric, "{what}: primary metric");
    let mut largest = 0.0f64;
    for (key, value) in actual.iter() {
        let reference = expected.expected[key];
        let gap = (value - reference).abs();
        assert!(
            gap <= TOLERANCE,
            "{what}: {key} = {value}, sentence-transformers {reference}"
        );
        largest = largest.max(gap);
    }
    largest
}

#[test]
fn information_retrieval_matches_sentence_transformers() {
    let fixture = load();
    assert_eq!(fixture.information_retrieval.len(), 3);
    let mut largest = 0.0f64;
    for case in &fixture.information_retrieval {
        let (queries, corpus) = (f32s(&case.queries), f32s(&case.corpus));
        let corpus = emb(&corpus, case.dim);
        let evaluator = InformationRetrievalEvaluator::new(
            &case.relevant_docs,
            corpus.rows(),
            case.config.clone(),
        )
        .unwrap();
        let metrics = evaluator.evaluate(emb(&queries, case.dim), corpus).unwrap();
        let gap = compare(
            "information retrieval",
            &case.expected,
            &metrics.metric_values(),
            metrics.primary_metric(),
        );
        largest = largest.max(gap);
    }
    println!("information retrieval: largest gap {largest:e}");
}

#[test]
fn binary_classification_matches_sentence_transformers() {
    let fixture = load();
    assert_eq!(fixture.binary_classification.len(), 7);
    let mut largest = 0.0f64;
    for case in &fixture.binary_classification {
        let (e1, e2) = (f32s(&case.embeddings1), f32s(&case.embeddings2));
        let evaluator =
            BinaryClassificationEvaluator::new(&case.labels, case.config.clone()).unwrap();
        let metrics = evaluator
            .evaluate(emb(&e1, case.dim), emb(&e2, case.dim))
            .unwrap();
        let gap = compare(
            "binary classification",
            &case.expected,
            &metrics.metric_values(),
            metrics.primary_metric(),
        );
        largest = largest.max(gap);
    }
    println!("binary classification: largest gap {largest:e}");
}

#[test]
fn triplet_matches_sentence_transformers() {
    let fixture = load();
    assert_eq!(fixture.triplet.len(), 3);
    let mut largest = 0.0f64;
    for case in &fixture.triplet {
        let (a, p, n) = (
            f32s(&case.anchors),
            f32s(&case.positives),
            f32s(&case.negatives),
        );
        let evaluator = TripletEvaluator::new(case.config.clone()).unwrap();
        let metrics = evaluator
            .evaluate(emb(&a, case.dim), emb(&p, case.dim), emb(&n, case.dim))
            .unwrap();
        let gap = compare(
            "triplet",
            &case.expected,
            &metrics.metric_values(),
            metrics.primary_metric(),
        );
        largest = largest.max(gap);
    }
    println!("triplet: largest gap {largest:e}");
}

#[test]
fn paraphrase_mining_matches_sentence_transformers() {
    let fixture = load();
    assert_eq!(fixture.paraphrase_mining.len(), 4);
    let (mut largest, mut largest_score) = (0.0f64, 0.0f64);
    for case in &fixture.paraphrase_mining {
        let data = f32s(&case.embeddings);
        let embeddings = emb(&data, case.dim);

        // The mined pairs themselves: the same set, scores within the tolerance.
        let mined = paraphrase_mining(embeddings, &case.config.mining).unwrap();
        let ours: BTreeMap<(usize, usize), f64> = mined
            .iter()
            .map(|p| ((p.first, p.second), p.score))
            .collect();
        let reference: BTreeMap<(usize, usize), f64> = case
            .mined_pairs
            .iter()
            .map(|&(score, i, j)| ((i, j), score))
            .collect();
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            reference.keys().collect::<Vec<_>>(),
            "{}: mined pairs differ",
            case.expected.name
        );
        for (pair, score) in &ours {
            let gap = (score - reference[pair]).abs();
            assert!(gap <= TOLERANCE, "{}: pair {pair:?}", case.expected.name);
            largest_score = largest_score.max(gap);
        }

        let evaluator =
            ParaphraseMiningEvaluator::new(embeddings.rows(), &case.duplicates, case.config)
                .unwrap();
        let metrics = evaluator.evaluate(embeddings).unwrap();
        assert_eq!(metrics.candidate_pairs, case.mined_pairs.len());
        let gap = compare(
            "paraphrase mining",
            &case.expected,
            &metrics.metric_values(),
            metrics.primary_metric(),
        );
        largest = largest.max(gap);
    }
    println!(
        "paraphrase mining: largest metric gap {largest:e}, largest pair score gap {largest_score:e}"
    );
}
