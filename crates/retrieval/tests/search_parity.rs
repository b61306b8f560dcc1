//! Parity of `retrieval::search` with sentence-transformers 6.3.0's
//! `semantic_search_usearch(..., exact=True)` (usearch 2.26.6) on fixed embeddings:
//! `fixtures/make_search_fixture.py` wrote the inputs (`search_corpus.npy`, 300 × 48;
//! `search_queries.npy`, 20 × 48) and, per precision and rescoring setting, Python's hits:
//!
//! ```python
//! corpus_q = quantize_embeddings(corpus, precision, ranges=ranges)  # float32: unchanged
//! semantic_search_usearch(queries, corpus_embeddings=corpus_q, corpus_precision=precision,
//!                         top_k=10, ranges=ranges, rescore=rescore,
//!                         rescore_multiplier=multiplier, exact=True)
//! ```
//!
//! Ids must agree in order; scores within 1e-6 for float32 (both sides compute float32 dot
//! products) and 1e-5 otherwise (rescored scores are float64 on both sides; the fixture rounds
//! them to 10 decimals). Python reports usearch distances without rescoring: `1 - cosine` for
//! float32, `1 - inner product` for int8, the Hamming distance for binary; they are converted
//! to this crate's scores (cosine, inner product, Hamming). Binary results without rescoring
//! have Hamming ties, which usearch orders by its traversal: those are compared tie group by
//! tie group (the same distances in the same order, the same rows in every group but the one
//! cut by `top_k`). uint8, which sentence-transformers' usearch search lacks, is compared with
//! the fixture's numpy rendering of the same rule.

use eval::{Embeddings, Precision};
use retrieval::search::{search, Corpus, ScoreKind, SearchOptions};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    versions: serde_json::Value,
    top_k: usize,
    runs: Vec<Run>,
    uint8_reference: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    precision: String,
    rescore: bool,
    rescore_multiplier: usize,
    hits: Vec<Vec<(usize, f64)>>,
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load() -> (Fixture, Vec<f32>, Vec<f32>) {
    let dir = fixtures();
    let fixture: Fixture =
        serde_json::from_str(&std::fs::read_to_string(dir.join("search_usearch.json")).unwrap())
            .unwrap();
    let (corpus, rows, dim) = data::read_npy_f32(dir.join("search_corpus.npy")).unwrap();
    assert_eq!((rows, dim), (300, 48));
    let (queries, rows, dim) = data::read_npy_f32(dir.join("search_queries.npy")).unwrap();
    assert_eq!((rows, dim), (20, 48));
    (fixture, corpus, queries)
}

/// This crate's score for a score sentence-transformers reported.
fn our_score(run: &Run, precision: Precision, python: f64) -> f64 {
    let rescored = run.rescore && precision != Precision::Float32;
    match precision {
        Precision::Float32 => 1.0 - python,
        Precision::Int8 if !rescored && run.precision == "int8" => 1.0 - python,
        _ => python,
    }
}

fn check_run(run: &Run, corpus_f32: &[f32], queries_f32: &[f32], top_k: usize) {
    let precision: Precision = run.precision.parse().unwrap();
    let what = format!(
        "{} rescore={} multiplier={}",
        run.precision, run.rescore, run.rescore_multiplier
    );
    // int8/uint8 ranges from the corpus itself, as the fixture's.
    let corpus = Corpus::quantize_from(
        Embeddings::new(corpus_f32, 300, 48).unwrap(),
        precision,
        None,
    )
    .unwrap();
    let options = SearchOptions {
        top_k,
        rescore: run.rescore,
        rescore_multiplier: run.rescore_multiplier,
        ..SearchOptions::default()
    };
    let queries = Embeddings::new(queries_f32, 20, 48).unwrap();
    let got = search(&corpus, None, queries, &options).unwrap();
    let rescored = run.rescore && precision != Precision::Float32;
    assert_eq!(
        got.score_kind,
        if rescored {
            ScoreKind::Rescored
        } else {
            retrieval::search::first_stage_kind(precision)
        }
    );
    let tolerance = if precision == Precision::Float32 {
        1e-6
    } else {
        1e-5
    };
    for (q, (ours, theirs)) in got.hits.iter().zip(&run.hits).enumerate() {
        let expected: Vec<(usize, f64)> = theirs
            .iter()
            .map(|&(id, s)| (id, our_score(run, precision, s)))
            .collect();
        assert_eq!(ours.len(), expected.len(), "{what}, query {q}: hit count");
        let hamming = got.score_kind == ScoreKind::Hamming;
        if hamming {
            let ours_scores: Vec<f64> = ours.iter().map(|h| h.score).collect();
            let their_scores: Vec<f64> = expected.iter().map(|h| h.1).collect();
            assert_eq!(ours_scores, their_scores, "{what}, query {q}: distances");
            let last = *their_scores.last().unwrap();
            for distance in their_scores.iter().copied().filter(|&d| d != last) {
                let group = |rows: Vec<usize>| {
                    let mut rows = rows;
                    rows.sort_unstable();
                    rows
                };
                let a = group(
                    ours.iter()
                        .filter(|h| h.score == distance)
                        .map(|h| h.row)
                        .collect(),
                );
                let b = group(
                    expected
                        .iter()
                        .filter(|h| h.1 == distance)
                        .map(|h| h.0)
                        .collect(),
                );
                assert_eq!(a, b, "{what}, query {q}: rows at distance {distance}");
            }
            continue;
        }
        let ids: Vec<usize> = ours.iter().map(|h| h.row).collect();
        let their_ids: Vec<usize> = expected.iter().map(|h| h.0).collect();
        assert_eq!(ids, their_ids, "{what}, query {q}: ids");
        for (hit, &(_, score)) in ours.iter().zip(&expected) {
            assert!(
                (hit.score - score).abs() <= tolerance,
                "{what}, query {q}, row {}: score {} vs sentence-transformers' {score}",
                hit.row,
                hit.score
            );
        }
    }
}

#[test]
fn search_matches_sentence_transformers_usearch_exact() {
    let (fixture, corpus, queries) = load();
    assert_eq!(fixture.versions["sentence_transformers"], "6.3.0");
    assert_eq!(fixture.runs.len(), 12);
    for run in &fixture.runs {
        check_run(run, &corpus, &queries, fixture.top_k);
    }
}

#[test]
fn uint8_follows_the_same_rule() {
    let (fixture, corpus, queries) = load();
    for run in &fixture.uint8_reference {
        check_run(run, &corpus, &queries, fixture.top_k);
    }
}

#[test]
fn binary_and_ubinary_rank_identically() {
    let (_, corpus, queries) = load();
    let queries = Embeddings::new(&queries, 20, 48).unwrap();
    for rescore in [false, true] {
        let options = SearchOptions {
            top_k: 25,
            rescore,
            ..SearchOptions::default()
        };
        let run = |p| {
            let c =
                Corpus::quantize_from(Embeddings::new(&corpus, 300, 48).unwrap(), p, None).unwrap();
            search(&c, None, queries, &options).unwrap()
        };
        assert_eq!(run(Precision::Binary), run(Precision::Ubinary));
    }
}
