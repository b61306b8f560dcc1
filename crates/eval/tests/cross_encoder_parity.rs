//! Parity with sentence-transformers 6.3's cross-encoder evaluator classes on a committed
//! fixture, and invariants of the three evaluators.
//!
//! Fixture: `tests/fixtures/cross_encoder_evaluators.json`, written by
//! `crates/eval/tests/fixtures/make_cross_encoder_evaluator_fixtures.py` (seed 20261215) with
//! python 3.11.7, sentence-transformers 6.3.0, transformers 5.25.0, torch 2.11.0, numpy 2.4.6,
//! scipy 1.17.1 and scikit-learn 1.9.1 (the versions are recorded in the fixture). Each case
//! runs the real class on a stand-in model whose `predict` returns the fixture's float32 score
//! of each pair:
//! ```python
//! model = FixedScoreModel(table, num_labels)   # predict(pairs) -> float32 table[pair] per pair
//! ev = CrossEncoderRerankingEvaluator(samples, at_k=at_k, always_rerank_positives=arp, name=name)
//! ev = CrossEncoderClassificationEvaluator(pairs, labels, name=name)
//! ev = CrossEncoderCorrelationEvaluator(pairs, gold, name=name)
//! expected, primary_metric = ev(model), ev.primary_metric
//! pairs, scores = model.calls   # what ev passed to predict, and what predict returned
//! ```
//! Checked: the pairs in sentence-transformers' order, identical key sets (with the
//! evaluator's name prefix), every value within 1e-6 absolute, thresholds bit for bit (both
//! sides compute them in float32), and the same `primary_metric`. The script checks that no
//! reranking case's MRR depends on how numpy orders tied scores (which numpy leaves
//! unspecified).

use std::collections::{BTreeMap, BTreeSet};

use eval::{
    CrossEncoderClassificationEvaluator, CrossEncoderClassificationMetrics,
    CrossEncoderCorrelationEvaluator, CrossEncoderRerankingConfig, CrossEncoderRerankingEvaluator,
    MetricValues, NamedMetrics, RerankingSample,
};
use proptest::prelude::*;
use serde::Deserialize;

const TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    script: String,
    versions: BTreeMap<String, String>,
    snippet: String,
    reranking: Vec<RerankingCase>,
    classification: Vec<ClassificationCase>,
    correlation: Vec<CorrelationCase>,
}

#[derive(Deserialize)]
struct Expected {
    name: String,
    /// The evaluator's `name` argument: the prefix of its keys.
    evaluator_name: String,
    expected: BTreeMap<String, f64>,
    primary_metric: String,
    /// The pairs `predict` was given, in order.
    pairs: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct RerankingCase {
    #[serde(flatten)]
    expected: Expected,
    config: CrossEncoderRerankingConfig,
    samples: Vec<RerankingSample>,
    scores: Vec<f64>,
}

#[derive(Deserialize)]
struct ClassificationCase {
    #[serde(flatten)]
    expected: Expected,
    num_labels: usize,
    labels: Vec<i64>,
    /// `[pairs, num_labels]` row-major.
    scores: Vec<f64>,
}

#[derive(Deserialize)]
struct CorrelationCase {
    #[serde(flatten)]
    expected: Expected,
    gold: Vec<f64>,
    scores: Vec<f64>,
}

fn load() -> Fixture {
    let path = format!(
        "{}/tests/fixtures/cross_encoder_evaluators.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let fixture: Fixture =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"));
    assert_eq!(
        fixture.script,
        "crates/eval/tests/fixtures/make_cross_encoder_evaluator_fixtures.py"
    );
    assert_eq!(fixture.versions["sentence_transformers"], "6.3.0");
    for key in [
        "transformers",
        "torch",
        "numpy",
        "scipy",
        "scikit_learn",
        "python",
    ] {
        assert!(!fixture.versions[key].is_empty(), "{key}");
    }
    assert!(fixture.snippet.contains("CrossEncoderRerankingEvaluator"));
    fixture
}

/// The fixture's float32 scores (stored exactly as float64).
fn f32s(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

fn owned(pairs: Vec<(&str, &str)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Checks pairs, keys, values and primary metric; returns the largest absolute gap.
fn compare(
    what: &str,
    expected: &Expected,
    pairs: Vec<(&str, &str)>,
    metrics: &dyn NamedMetrics,
) -> f64 {
    let what = format!("{what} {}", expected.name);
    assert_eq!(owned(pairs), expected.pairs, "{what}: pairs differ");
    let (actual, primary): (MetricValues, String) = match expected.evaluator_name.as_str() {
        "" => (
            metrics.metric_values(),
            metrics.primary_metric().to_string(),
        ),
        name => (
            metrics.metric_values().prefixed(name),
            format!("{name}_{}", metrics.primary_metric()),
        ),
    };
    let keys: BTreeSet<&str> = actual.names().collect();
    let expected_keys: BTreeSet<&str> = expected.expected.keys().map(String::as_str).collect();
    assert_eq!(keys, expected_keys, "{what}: key sets differ");
    assert_eq!(actual.len(), keys.len(), "{what}: repeated keys");
    assert_eq!(primary, expected.primary_metric, "{what}: primary metric");
    let mut largest = 0.0f64;
    for (key, value) in actual.iter() {
        let reference = expected.expected[key];
        if key.ends_with("_threshold") {
            assert_eq!(
                value, reference,
                "{what}: {key} is not the float32 threshold"
            );
        }
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
fn reranking_matches_sentence_transformers() {
    let fixture = load();
    assert_eq!(fixture.reranking.len(), 7);
    let mut largest = 0.0f64;
    for case in &fixture.reranking {
        let evaluator =
            CrossEncoderRerankingEvaluator::new(case.samples.clone(), case.config).unwrap();
        assert_eq!(evaluator.num_pairs(), case.scores.len());
        let metrics = evaluator.evaluate(&f32s(&case.scores)).unwrap();
        assert_eq!(
            evaluator.metric_names(),
            metrics.metric_values().names().collect::<Vec<_>>()
        );
        let gap = compare("reranking", &case.expected, evaluator.pairs(), &metrics);
        largest = largest.max(gap);
    }
    println!("reranking: largest gap {largest:e}");
}

#[test]
fn classification_matches_sentence_transformers() {
    let fixture = load();
    assert_eq!(fixture.classification.len(), 7);
    let mut largest = 0.0f64;
    for case in &fixture.classification {
        let evaluator = CrossEncoderClassificationEvaluator::new(
            case.expected.pairs.clone(),
            &case.labels,
            case.num_labels,
        )
        .unwrap();
        let metrics = evaluator.evaluate(&f32s(&case.scores)).unwrap();
        assert_eq!(evaluator.primary_metric(), metrics.primary_metric());
        let gap = compare(
            "classification",
            &case.expected,
            evaluator.pairs(),
            &metrics,
        );
        largest = largest.max(gap);
    }
    println!("classification: largest gap {largest:e}");
}

#[test]
fn correlation_matches_sentence_transformers() {
    let fixture = load();
    assert_eq!(fixture.correlation.len(), 2);
    let mut largest = 0.0f64;
    for case in &fixture.correlation {
        let evaluator =
            CrossEncoderCorrelationEvaluator::new(case.expected.pairs.clone(), case.gold.clone())
                .unwrap();
        let metrics = evaluator.evaluate(&f32s(&case.scores)).unwrap();
        let gap = compare("correlation", &case.expected, evaluator.pairs(), &metrics);
        largest = largest.max(gap);
    }
    println!("correlation: largest gap {largest:e}");
}

// ---- invariants ----

/// Samples with negatives: `(positives, negatives)` counts, at least one positive each.
fn negative_samples() -> impl Strategy<Value = Vec<RerankingSample>> {
    prop::collection::vec((1usize..4, 0usize..12), 1..8).prop_map(|counts| {
        counts
            .into_iter()
            .enumerate()
            .map(|(q, (p, n))| {
                RerankingSample::with_negatives(
                    format!("q{q}"),
                    (0..p).map(|i| format!("q{q} p{i}")).collect(),
                    (0..n).map(|i| format!("q{q} n{i}")).collect(),
                )
            })
            .collect()
    })
}

/// Samples with ranked documents, some positives missing, some documents positive.
fn document_samples() -> impl Strategy<Value = Vec<RerankingSample>> {
    prop::collection::vec(
        (prop::collection::vec(any::<bool>(), 1..4), 0usize..12),
        1..8,
    )
    .prop_map(|samples| {
        samples
            .into_iter()
            .enumerate()
            .map(|(q, (found, n))| {
                let positive: Vec<String> =
                    (0..found.len()).map(|i| format!("q{q} p{i}")).collect();
                let mut documents: Vec<String> = (0..n).map(|i| format!("q{q} n{i}")).collect();
                for (i, _) in found.iter().enumerate().filter(|(_, &f)| f) {
                    documents.insert((i * 3).min(documents.len()), positive[i].clone());
                }
                RerankingSample::with_documents(format!("q{q}"), positive, documents)
            })
            .collect()
    })
}

fn any_samples() -> impl Strategy<Value = Vec<RerankingSample>> {
    prop_oneof![negative_samples(), document_samples()]
}

/// Coarse scores, so that ties are frequent.
fn coarse_scores(n: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec((-4i8..5).prop_map(|s| f32::from(s) / 2.0), n)
}

proptest! {
    #[test]
    fn perfect_scores_give_one(samples in negative_samples(), at_k in 1usize..12) {
        let config = CrossEncoderRerankingConfig { at_k, always_rerank_positives: true };
        let samples_copy = samples.clone();
        let evaluator = CrossEncoderRerankingEvaluator::new(samples, config).unwrap();
        // each positive above every negative of its query
        let scores: Vec<f32> = evaluator
            .pairs()
            .iter()
            .map(|(q, d)| {
                let sample = samples_copy.iter().find(|s| s.query == *q).unwrap();
                if sample.positive.iter().any(|p| p == d) { 1.0 } else { 0.0 }
            })
            .collect();
        let m = evaluator.evaluate(&scores).unwrap();
        prop_assert_eq!(m.reranked.map, 1.0);
        prop_assert_eq!(m.reranked.mrr, 1.0);
        prop_assert!((m.reranked.ndcg - 1.0).abs() < 1e-12, "{}", m.reranked.ndcg);
    }

    #[test]
    fn reranking_metrics_are_in_unit_interval_and_scale_free(
        samples in any_samples(),
        always_rerank_positives in any::<bool>(),
        at_k in 1usize..12,
        seed in prop::collection::vec(-4i8..5, 64),
    ) {
        let config = CrossEncoderRerankingConfig { at_k, always_rerank_positives };
        let evaluator = CrossEncoderRerankingEvaluator::new(samples, config).unwrap();
        let scores: Vec<f32> = (0..evaluator.num_pairs())
            .map(|i| f32::from(seed[i % seed.len()]) / 2.0)
            .collect();
        let m = evaluator.evaluate(&scores).unwrap();
        for (name, value) in m.metric_values().iter() {
            prop_assert!((0.0..=1.0 + 1e-12).contains(&value), "{} = {}", name, value);
        }
        // doubling every score keeps the order and the ties
        let doubled: Vec<f32> = scores.iter().map(|s| s * 2.0 + 1.0).collect();
        prop_assert_eq!(evaluator.evaluate(&doubled).unwrap(), m);
    }

    #[test]
    fn binary_accuracy_beats_predicting_all_zero(
        labels in prop::collection::vec(0i64..2, 1..40),
        seed in coarse_scores(40),
    ) {
        let pairs: Vec<(String, String)> =
            (0..labels.len()).map(|i| (format!("a{i}"), format!("b{i}"))).collect();
        let evaluator = CrossEncoderClassificationEvaluator::new(pairs, &labels, 1).unwrap();
        let m = evaluator.evaluate(&seed[..labels.len()]).unwrap();
        let CrossEncoderClassificationMetrics::Binary(s) = m else {
            panic!("one label is binary: {m:?}");
        };
        let zeros = labels.iter().filter(|&&l| l == 0).count() as f64 / labels.len() as f64;
        prop_assert!(s.accuracy >= zeros);
        for value in [s.accuracy, s.f1, s.precision, s.recall, s.average_precision] {
            prop_assert!((0.0..=1.0).contains(&value), "{:?}", s);
        }
    }

    #[test]
    fn micro_f1_is_the_argmax_accuracy(
        rows in prop::collection::vec((0i64..3, coarse_scores(3)), 1..30),
    ) {
        let labels: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let scores: Vec<f32> = rows.iter().flat_map(|r| r.1.clone()).collect();
        let pairs: Vec<(String, String)> =
            (0..labels.len()).map(|i| (format!("a{i}"), format!("b{i}"))).collect();
        let evaluator = CrossEncoderClassificationEvaluator::new(pairs, &labels, 3).unwrap();
        let m = evaluator.evaluate(&scores).unwrap();
        let CrossEncoderClassificationMetrics::Multiclass(f) = m else {
            panic!("three labels are multiclass: {m:?}");
        };
        let correct = rows
            .iter()
            .filter(|(label, s)| {
                // first maximum, as np.argmax
                let mut best = 0;
                for i in 1..3 {
                    if s[i] > s[best] {
                        best = i;
                    }
                }
                best as i64 == *label
            })
            .count();
        prop_assert!((f.micro_f1 - correct as f64 / rows.len() as f64).abs() < 1e-12);
        for value in [f.macro_f1, f.micro_f1, f.weighted_f1] {
            prop_assert!((0.0..=1.0).contains(&value), "{:?}", f);
        }
    }
}

#[test]
fn fixture_samples_round_trip_through_serde() {
    let fixture = load();
    for case in &fixture.reranking {
        let json = serde_json::to_string(&case.samples).unwrap();
        let back: Vec<RerankingSample> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, case.samples, "{}", case.expected.name);
    }
}
