//! Parity with scipy and sentence-transformers on committed fixtures.
//!
//! Fixtures: `tests/fixtures/{correlations,sts}.json`, written by
//! `crates/eval/tests/fixtures/make_correlation_fixture.py` (seed 20240611) with
//! python 3.11.7, numpy 2.4.6, scipy 1.17.1:
//! - correlations: `scipy.stats.pearsonr(x, y).statistic` and
//!   `scipy.stats.spearmanr(x, y).statistic` of 32 random cases with ties (lengths 2..=200,
//!   small integer ranges, negative values, 1e6 offsets, 1e-6 scales);
//! - sts: 20 pairs of 8-dim float32 embeddings; the eight metrics of sentence-transformers'
//!   `EmbeddingSimilarityEvaluator` with all four similarity functions, in float64:
//!   ```python
//!   a, b = e1.astype(np.float64), e2.astype(np.float64)
//!   gold = raw.astype(np.float32).astype(np.float64) / 5.0
//!   sims = {"cosine": (normalize(a) * normalize(b)).sum(1),   # pairwise_cos_sim
//!           "euclidean": -np.sqrt(((a - b) ** 2).sum(1)),     # pairwise_euclidean_sim
//!           "manhattan": -np.abs(a - b).sum(1),               # pairwise_manhattan_sim
//!           "dot": (a * b).sum(1)}                            # pairwise_dot_score
//!   pearsonr(sims[k], gold).statistic, spearmanr(sims[k], gold).statistic
//!   ```
//!
//! Tolerance: 1e-9 absolute.

use std::collections::BTreeMap;

use eval::{evaluate_sts, normalize_sts_scores, pearson, spearman, Embeddings};
use serde::Deserialize;

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Versions {
    script: String,
    python: String,
    numpy: String,
    scipy: String,
}

#[derive(Deserialize)]
struct CorrelationFixture {
    #[serde(flatten)]
    versions: Versions,
    cases: Vec<CorrelationCase>,
}

#[derive(Deserialize)]
struct CorrelationCase {
    kind: String,
    x: Vec<f64>,
    y: Vec<f64>,
    pearson: f64,
    spearman: f64,
}

#[derive(Deserialize)]
struct StsFixture {
    #[serde(flatten)]
    versions: Versions,
    embeddings1: Vec<f32>,
    embeddings2: Vec<f32>,
    rows: usize,
    dim: usize,
    raw_scores: Vec<f32>,
    max_score: f64,
    expected: BTreeMap<String, f64>,
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

fn check_versions(v: &Versions) {
    assert_eq!(
        v.script,
        "crates/eval/tests/fixtures/make_correlation_fixture.py"
    );
    assert!(!v.python.is_empty() && !v.numpy.is_empty() && !v.scipy.is_empty());
}

#[test]
fn correlations_match_scipy() {
    let fixture: CorrelationFixture = load("correlations.json");
    check_versions(&fixture.versions);
    assert!(fixture.cases.len() >= 30);
    for (i, case) in fixture.cases.iter().enumerate() {
        let p = pearson(&case.x, &case.y).unwrap();
        let s = spearman(&case.x, &case.y).unwrap();
        let what = format!("case {i} ({}, n = {})", case.kind, case.x.len());
        assert!(
            (p - case.pearson).abs() <= TOLERANCE,
            "{what}: pearson {p} != scipy {}",
            case.pearson
        );
        assert!(
            (s - case.spearman).abs() <= TOLERANCE,
            "{what}: spearman {s} != scipy {}",
            case.spearman
        );
    }
}

#[test]
fn sts_metrics_match_sentence_transformers() {
    let fixture: StsFixture = load("sts.json");
    check_versions(&fixture.versions);
    let e1 = Embeddings::new(&fixture.embeddings1, fixture.rows, fixture.dim).unwrap();
    let e2 = Embeddings::new(&fixture.embeddings2, fixture.rows, fixture.dim).unwrap();
    let scores = normalize_sts_scores(&fixture.raw_scores, fixture.max_score).unwrap();
    let metrics = evaluate_sts(e1, e2, &scores).unwrap();

    let actual: BTreeMap<String, f64> =
        serde_json::from_value(serde_json::to_value(metrics).unwrap()).unwrap();
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        fixture.expected.keys().collect::<Vec<_>>()
    );
    for (key, expected) in &fixture.expected {
        let got = actual[key];
        assert!(
            (got - expected).abs() <= TOLERANCE,
            "{key}: {got} != sentence-transformers {expected}"
        );
    }
}
