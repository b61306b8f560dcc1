//! `mine_embedded` against sentence-transformers 6.3's `mine_hard_negatives` on fixed float32
//! embeddings.
//!
//! `fixtures/mine_hard_negatives.json` was written by `fixtures/make_mine_fixture.py`
//! (sentence-transformers 6.3.0, torch 2.11.0, datasets 5.2.0; the versions are recorded in the
//! file): 62 (anchor, positive) rows over 50 unique anchors, an extra corpus of 200 texts, the
//! embeddings the stand-in model returned for exactly the texts mining asked it to embed, and,
//! per parameter set, the output dataset and everything mining printed.
//!
//! For `top` sampling the datasets must be identical (texts and labels exactly, scores within
//! `TOLERANCE`) and the printed statistics identical line for line. For `random` sampling (a
//! different generator than Python's `random`), every negative must come from the candidates
//! Python's window held for that anchor (`pool`), each row must have as many negatives as the
//! pool allows, and the counts and filter lines of the statistics must be identical.

use std::collections::{HashMap, HashSet};

use retrieval::{
    mine_embedded, ColumnValues, MineParams, Mined, MiningTexts, OutputFormat, Sampling, TextColumn,
};
use serde::Deserialize;
use serde_json::Value;
use tch::Tensor;

/// Scores are float32 dot products of the same vectors in torch and libtorch: the observed
/// gap is 0, the tolerance allows a different summation order.
const TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    anchor_column: String,
    positive_column: String,
    anchors: Vec<String>,
    positives: Vec<String>,
    corpus: Vec<String>,
    query_texts: Vec<String>,
    query_embeddings: Vec<Vec<f32>>,
    corpus_texts: Vec<String>,
    corpus_embeddings: Vec<Vec<f32>>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    params: serde_json::Map<String, Value>,
    columns: Vec<String>,
    output: serde_json::Map<String, Value>,
    stdout: String,
    #[serde(default)]
    pool: Option<HashMap<String, Vec<String>>>,
}

fn fixture() -> Fixture {
    let path = format!(
        "{}/tests/fixtures/mine_hard_negatives.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn matrix(rows: &[Vec<f32>]) -> Tensor {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, rows[0].len() as i64])
}

/// The keyword arguments the fixture passed to `mine_hard_negatives`, as `MineParams`.
fn params_of(kwargs: &serde_json::Map<String, Value>) -> MineParams {
    let mut p = MineParams {
        show_progress: false,
        ..MineParams::default()
    };
    for (key, value) in kwargs {
        let int = || value.as_u64().unwrap() as usize;
        let float = || Some(value.as_f64().unwrap());
        match key.as_str() {
            "range_min" => p.range_min = int(),
            "range_max" => p.range_max = Some(int()),
            "num_negatives" => p.num_negatives = int(),
            "max_score" => p.max_score = float(),
            "min_score" => p.min_score = float(),
            "absolute_margin" => p.absolute_margin = float(),
            "relative_margin" => p.relative_margin = float(),
            "include_positives" => p.include_positives = value.as_bool().unwrap(),
            "output_scores" => p.output_scores = value.as_bool().unwrap(),
            "sampling_strategy" => {
                p.sampling = serde_json::from_value::<Sampling>(value.clone()).unwrap()
            }
            "output_format" => {
                p.output_format = serde_json::from_value::<OutputFormat>(value.clone()).unwrap()
            }
            other => panic!("the fixture passed {other}, which this test does not map"),
        }
    }
    p
}

fn texts_of(f: &Fixture) -> MiningTexts {
    MiningTexts::new(
        TextColumn::new(&f.anchor_column, &f.anchors),
        TextColumn::new(&f.positive_column, &f.positives),
        Some(&f.corpus),
    )
    .unwrap()
}

/// The lines printed from the statistics table on.
fn python_stats(stdout: &str) -> Vec<&str> {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("Metric"))
        .expect("no statistics table in the fixture's stdout");
    lines[start..].to_vec()
}

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Largest |a - b| over two float columns; panics on a shape difference.
fn float_gap(name: &str, ours: &[f32], theirs: &Value) -> f64 {
    let theirs: Vec<f64> = serde_json::from_value(theirs.clone()).unwrap();
    assert_eq!(ours.len(), theirs.len(), "column {name}: lengths differ");
    ours.iter()
        .zip(&theirs)
        .map(|(a, b)| (f64::from(*a) - b).abs())
        .fold(0.0, f64::max)
}

/// Compares every column exactly (texts, labels) or within `TOLERANCE` (scores); returns the
/// largest score gap.
fn assert_same_dataset(case: &Case, mined: &Mined) -> f64 {
    let names: Vec<&str> = mined.dataset.column_names();
    assert_eq!(names, case.columns, "{}: column names", case.name);
    let mut gap: f64 = 0.0;
    for column in mined.dataset.columns() {
        let theirs = &case.output[&column.name];
        let what = format!("{}: column {}", case.name, column.name);
        match &column.values {
            ColumnValues::Text(ours) => assert_eq!(ours, &strings(theirs), "{what}"),
            ColumnValues::TextList(ours) => {
                let theirs: Vec<Vec<String>> = serde_json::from_value(theirs.clone()).unwrap();
                assert_eq!(ours, &theirs, "{what}");
            }
            ColumnValues::Int(ours) => {
                let theirs: Vec<i64> = serde_json::from_value(theirs.clone()).unwrap();
                assert_eq!(ours, &theirs, "{what}");
            }
            ColumnValues::IntList(ours) => {
                let theirs: Vec<Vec<i64>> = serde_json::from_value(theirs.clone()).unwrap();
                assert_eq!(ours, &theirs, "{what}");
            }
            ColumnValues::Float(ours) => gap = gap.max(float_gap(&what, ours, theirs)),
            ColumnValues::FloatList(ours) => {
                let theirs = theirs.as_array().unwrap();
                assert_eq!(ours.len(), theirs.len(), "{what}: lengths differ");
                for (row, (o, t)) in ours.iter().zip(theirs).enumerate() {
                    gap = gap.max(float_gap(&format!("{what} row {row}"), o, t));
                }
            }
        }
    }
    assert!(gap <= TOLERANCE, "{}: scores differ by {gap:e}", case.name);
    gap
}

#[test]
fn mining_texts_embed_what_python_embeds() {
    let f = fixture();
    let texts = texts_of(&f);
    assert_eq!(texts.queries(), f.query_texts);
    assert_eq!(texts.corpus(), f.corpus_texts);
}

#[test]
fn top_sampling_matches_sentence_transformers() {
    let f = fixture();
    let texts = texts_of(&f);
    let queries = matrix(&f.query_embeddings);
    let corpus = matrix(&f.corpus_embeddings);
    let mut checked = 0;
    let mut largest_gap: f64 = 0.0;
    for case in f.cases.iter().filter(|c| c.pool.is_none()) {
        let params = params_of(&case.params);
        let mined = mine_embedded(&texts, &queries, &corpus, &params)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        largest_gap = largest_gap.max(assert_same_dataset(case, &mined));

        let stats = mined.stats.to_string();
        let ours: Vec<&str> = stats.lines().collect();
        assert_eq!(
            ours,
            python_stats(&case.stdout),
            "{}: statistics",
            case.name
        );
        for line in [
            format!(
                "Found {} unique queries out of {} total queries.",
                texts.queries().len(),
                texts.num_rows()
            ),
            format!(
                "Found an average of {:.3} positives per query.",
                texts.mean_positives()
            ),
        ] {
            assert!(case.stdout.contains(&line), "{}: {line}", case.name);
        }
        if mined.resolved.range_max_derived {
            let line = format!(
                "Setting range_max to {} based on the provided parameters.",
                mined.resolved.range_max
            );
            assert!(case.stdout.contains(&line), "{}: {line}", case.name);
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} top-sampling cases");
    eprintln!("{checked} cases identical; largest score gap {largest_gap:e}");
}

#[test]
fn random_sampling_draws_from_python_s_window() {
    let f = fixture();
    let texts = texts_of(&f);
    let queries = matrix(&f.query_embeddings);
    let corpus = matrix(&f.corpus_embeddings);
    let mut checked = 0;
    for case in f.cases.iter().filter(|c| c.pool.is_some()) {
        let pool = case.pool.as_ref().unwrap();
        let params = params_of(&case.params);
        let n = params.num_negatives;
        let mined = mine_embedded(&texts, &queries, &corpus, &params).unwrap();
        assert_eq!(mined.dataset.column_names(), case.columns, "{}", case.name);
        let text = |name: &str| match mined.dataset.column(name) {
            Some(ColumnValues::Text(v)) => v.clone(),
            other => panic!("{}: {name}: {other:?}", case.name),
        };
        let anchors = text(&f.anchor_column);
        let positives = text(&f.positive_column);
        let negative_columns: Vec<Vec<String>> = mined.dataset.column_names()[2..]
            .iter()
            .map(|name| text(name))
            .collect();
        let mut per_pair: HashMap<(String, String), Vec<String>> = HashMap::new();
        for (row, (anchor, positive)) in anchors.iter().zip(&positives).enumerate() {
            let window: HashSet<&String> = pool.get(anchor).into_iter().flatten().collect();
            for column in &negative_columns {
                let negative = &column[row];
                assert!(
                    window.contains(negative),
                    "{}: {negative:?} is not among Python's candidates for {anchor:?}",
                    case.name
                );
                per_pair
                    .entry((anchor.clone(), positive.clone()))
                    .or_default()
                    .push(negative.clone());
            }
        }
        for ((anchor, positive), negatives) in &per_pair {
            let distinct: HashSet<&String> = negatives.iter().collect();
            assert_eq!(
                distinct.len(),
                negatives.len(),
                "{}: repeated negative",
                case.name
            );
            let available = pool.get(anchor).map_or(0, Vec::len);
            assert_eq!(
                negatives.len(),
                n.min(available),
                "{}: ({anchor:?}, {positive:?}) got {negatives:?} of {available}",
                case.name
            );
        }
        // every (anchor, positive) pair Python kept is there, and no other
        let theirs: HashSet<(String, String)> = strings(&case.output[&f.anchor_column])
            .into_iter()
            .zip(strings(&case.output[&f.positive_column]))
            .collect();
        let ours: HashSet<(String, String)> = per_pair.keys().cloned().collect();
        assert_eq!(ours, theirs, "{}: (anchor, positive) pairs", case.name);
        assert_eq!(
            mined.dataset.num_rows(),
            strings(&case.output[&f.anchor_column]).len()
        );

        // counts and filter counters do not depend on which negatives were drawn
        let stats = mined.stats.to_string();
        let ours: Vec<&str> = stats.lines().collect();
        let theirs = python_stats(&case.stdout);
        assert_eq!(ours[..2], theirs[..2], "{}: header and counts", case.name);
        assert_eq!(ours[10..], theirs[10..], "{}: filter lines", case.name);
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} random-sampling cases");
}

#[test]
fn random_sampling_depends_on_the_seed_only() {
    let f = fixture();
    let texts = texts_of(&f);
    let queries = matrix(&f.query_embeddings);
    let corpus = matrix(&f.corpus_embeddings);
    let case = f.cases.iter().find(|c| c.pool.is_some()).unwrap();
    let params = params_of(&case.params);
    let run = |seed| {
        let p = MineParams {
            seed,
            ..params.clone()
        };
        mine_embedded(&texts, &queries, &corpus, &p)
            .unwrap()
            .dataset
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn chunked_search_and_buffers_give_the_same_result() {
    let f = fixture();
    let texts = texts_of(&f);
    let queries = matrix(&f.query_embeddings);
    let corpus = matrix(&f.corpus_embeddings);
    let case = f
        .cases
        .iter()
        .find(|c| c.name == "relative_margin")
        .unwrap();
    let params = params_of(&case.params);
    let whole = mine_embedded(&texts, &queries, &corpus, &params).unwrap();
    // one query row per chunk (the bound is below one corpus row)
    let one_row = MineParams {
        max_chunk_elements: 1,
        ..params.clone()
    };
    let flat_q: Vec<f32> = f.query_embeddings.iter().flatten().copied().collect();
    let flat_c: Vec<f32> = f.corpus_embeddings.iter().flatten().copied().collect();
    let dim = f.query_embeddings[0].len();
    let q_rows = eval::Embeddings::new(&flat_q, f.query_embeddings.len(), dim).unwrap();
    let c_rows = eval::Embeddings::new(&flat_c, f.corpus_embeddings.len(), dim).unwrap();
    let chunked = mine_embedded(&texts, q_rows, c_rows, &one_row).unwrap();
    // BLAS picks its kernel by the block's shape, so scores may differ in the last bit: the
    // texts must be identical, the scores within TOLERANCE, the filter counts identical
    assert_same_dataset(case, &whole);
    assert_same_dataset(case, &chunked);
    assert_eq!(chunked.stats.skipped, whole.stats.skipped);
    assert_eq!(chunked.stats.missing, whole.stats.missing);
}

/// The search and the positive scores on a CUDA device give Python's datasets too (within
/// `TOLERANCE`: cuBLAS sums in another order). Skipped, saying so, without a CUDA device.
#[test]
fn cuda_matches_sentence_transformers() {
    if !tch::Cuda::is_available() {
        eprintln!("skipped cuda_matches_sentence_transformers: no CUDA device");
        return;
    }
    let f = fixture();
    let texts = texts_of(&f);
    let device = tch::Device::Cuda(0);
    let queries = matrix(&f.query_embeddings).to_device(device);
    let corpus = matrix(&f.corpus_embeddings).to_device(device);
    for case in f.cases.iter().filter(|c| c.pool.is_none()) {
        let mined = mine_embedded(&texts, &queries, &corpus, &params_of(&case.params)).unwrap();
        assert_same_dataset(case, &mined);
    }
}
