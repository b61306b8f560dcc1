//! HNSW (usearch) against exact search on a few thousand random unit vectors (fixed seed):
//! recall@10 of the graph's hits against the exact top 10, at each precision the graph takes,
//! with one inserting thread (so the graph, and the recall, are the same every run), and after
//! a save and load through an index folder.

use eval::{Embeddings, Precision};
use retrieval::search::{
    documents_from_texts, load_index, search, Corpus, HnswGraph, HnswParams, IndexSpec,
    IndexWriter, ModelRef, SearchMethod, SearchOptions, SearchResults,
};
use test_support::unit_vectors;

const ROWS: usize = 4000;
const DIM: usize = 24;
const QUERIES: usize = 200;

/// The mean share of `exact`'s hits per query that `approximate` also found.
fn recall(approximate: &SearchResults, exact: &SearchResults) -> f64 {
    let per_query = approximate.hits.iter().zip(&exact.hits).map(|(a, e)| {
        let found = e
            .iter()
            .filter(|h| a.iter().any(|x| x.row == h.row))
            .count();
        found as f64 / e.len() as f64
    });
    per_query.sum::<f64>() / exact.hits.len() as f64
}

fn options(method: SearchMethod, rescore: bool) -> SearchOptions {
    SearchOptions {
        top_k: 10,
        rescore,
        method,
        ..SearchOptions::default()
    }
}

#[test]
fn hnsw_recall_at_10_against_exact_search() {
    // (precision, rescore, dim, expansion_search, floor). Random sign bits have no
    // neighbourhood structure: Hamming distances of random 256-bit codes crowd around 128, and
    // usearch's graph finds their exact top 10 poorly at the default expansion (Python usearch
    // 2.26.6 on such codes: recall@10 0.69 at 64, 0.92 at 256), so binary is checked at 256
    // against a floor of 0.9; float32 and int8 at usearch's defaults against 0.98.
    for (precision, rescore, dim, expansion_search, floor) in [
        (Precision::Float32, false, DIM, 64, 0.98),
        (Precision::Int8, false, DIM, 64, 0.98),
        (Precision::Int8, true, DIM, 64, 0.98),
        (Precision::Binary, true, 256, 256, 0.9),
        (Precision::Ubinary, false, 256, 256, 0.9),
    ] {
        let vectors = unit_vectors(11, ROWS, dim);
        let queries = unit_vectors(12, QUERIES, dim);
        let queries = Embeddings::new(&queries, QUERIES, dim).unwrap();
        let corpus = Corpus::quantize_from(
            Embeddings::new(&vectors, ROWS, dim).unwrap(),
            precision,
            None,
        )
        .unwrap();
        let params = HnswParams {
            expansion_search,
            ..HnswParams::default()
        };
        let graph = HnswGraph::build(&corpus, params, 1).unwrap();
        assert_eq!(graph.len(), ROWS);
        let exact = search(
            &corpus,
            None,
            queries,
            &options(SearchMethod::Exact, rescore),
        )
        .unwrap();
        let approximate = search(
            &corpus,
            Some(&graph),
            queries,
            &options(SearchMethod::Hnsw, rescore),
        )
        .unwrap();
        let r = recall(&approximate, &exact);
        eprintln!(
            "{precision} rescore={rescore} dim={dim} ef={expansion_search}: hnsw recall@10 {r:.4}"
        );
        assert!(
            r >= floor,
            "{precision} rescore={rescore}: recall@10 {r} < {floor}"
        );
    }
}

#[test]
fn a_saved_graph_searches_as_before() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("idx");
    let vectors = unit_vectors(21, 1500, DIM);
    let corpus = Corpus::quantize_from(
        Embeddings::new(&vectors, 1500, DIM).unwrap(),
        Precision::Float32,
        None,
    )
    .unwrap();
    let params = HnswParams {
        connectivity: 12,
        expansion_add: 100,
        expansion_search: 80,
    };
    let graph = HnswGraph::build(&corpus, params, 1).unwrap();
    let queries = unit_vectors(22, 50, DIM);
    let queries = Embeddings::new(&queries, 50, DIM).unwrap();
    let before = search(
        &corpus,
        Some(&graph),
        queries,
        &options(SearchMethod::Hnsw, true),
    )
    .unwrap();
    let spec = IndexSpec {
        model: ModelRef {
            id: "m".into(),
            revision: "r".into(),
        },
        query_prompt: String::new(),
        document_prompt: String::new(),
    };
    let docs = documents_from_texts((0..1500).map(|i| i.to_string()).collect(), None, 0).unwrap();
    IndexWriter::create(&dir)
        .unwrap()
        .write_new(spec, corpus, docs, Some(graph))
        .unwrap();
    let index = load_index(&dir).unwrap();
    assert_eq!(index.manifest.hnsw, Some(params));
    let graph = index.graph.as_ref().unwrap();
    assert_eq!(graph.params(), params);
    let after = search(
        &index.corpus,
        Some(graph),
        queries,
        &options(SearchMethod::Hnsw, true),
    )
    .unwrap();
    assert_eq!(before, after);
    let exact = search(
        &index.corpus,
        None,
        queries,
        &options(SearchMethod::Exact, true),
    )
    .unwrap();
    assert!(recall(&after, &exact) >= 0.9);
}
