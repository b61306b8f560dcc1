//! Binary/ubinary indexes with an int8/uint8 rescore store (the two-tier setup of Hugging
//! Face's embedding-quantization demo, beside sentence-transformers' bit rescoring): results
//! equal a brute-force reference computed here (Hamming top k × multiplier, then the float
//! query's dot product with the dequantized int8/uint8 rows, equal scores by row); appending
//! equals one-shot indexing; a damaged store file is refused by name; folders written before
//! the store existed still load.

use std::path::Path;

use eval::{Embeddings, Precision, QuantizationRanges, QuantizedValues};
use retrieval::search::{
    documents_from_texts, load_index, search, Corpus, HnswGraph, HnswParams, IndexSpec,
    IndexWriter, ModelRef, ScoreKind, SearchMethod, SearchOptions, FORMAT_VERSION,
};
use test_support::unit_vectors;

const DIM: usize = 24;

fn spec() -> IndexSpec {
    IndexSpec {
        model: ModelRef {
            id: "org/model".into(),
            revision: "0123abcd".into(),
        },
        query_prompt: String::new(),
        document_prompt: String::new(),
    }
}

fn texts(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("document {i}")).collect()
}

/// `vectors` at `bits` (binary/ubinary) with a `store` (int8/uint8) copy quantized with
/// `ranges` (default: the vectors').
fn corpus_with_store(
    vectors: &[f32],
    bits: Precision,
    store: Precision,
    ranges: Option<QuantizationRanges>,
) -> Corpus {
    let rows = vectors.len() / DIM;
    let e = Embeddings::new(vectors, rows, DIM).unwrap();
    Corpus::quantize_from(e, bits, None)
        .unwrap()
        .with_rescore_store(Corpus::quantize_from(e, store, ranges).unwrap())
        .unwrap()
}

fn write(dir: &Path, corpus: Corpus, hnsw: bool) {
    let rows = corpus.rows();
    let graph = hnsw.then(|| HnswGraph::build(&corpus, HnswParams::default(), 1).unwrap());
    let documents = documents_from_texts(texts(0, rows), None, 0).unwrap();
    IndexWriter::create(dir)
        .unwrap()
        .write_new(spec(), corpus, documents, graph)
        .unwrap();
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

type ManifestEdit = fn(&mut serde_json::Value);

fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("manifest.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

/// The reference: for each query, the `top_k * multiplier` corpus rows nearest by Hamming
/// distance of the sign bits (`x > 0`, as `quantize_embeddings(…, "binary")`), equal
/// distances by row; those rescored by the float query's dot product (f64) with the store's
/// rows dequantized as sentence-transformers' `_dequantize_embeddings` does (bucket × step +
/// minimum, step `(max - min) / 255` in float32, int8 buckets offset by 128); the best
/// `top_k`, equal scores by row.
fn reference(
    corpus: &[f32],
    queries: &[f32],
    store: &Corpus,
    top_k: usize,
    multiplier: usize,
) -> Vec<Vec<(usize, f64)>> {
    let ranges = store.ranges().unwrap();
    let buckets: Vec<f64> = match store.embeddings().values() {
        QuantizedValues::Int8(v) => v.iter().map(|&q| f64::from(q) + 128.0).collect(),
        QuantizedValues::Uint8(v) => v.iter().map(|&q| f64::from(q)).collect(),
        other => panic!("{:?}", other.precision()),
    };
    let step: Vec<f64> = ranges
        .min()
        .iter()
        .zip(ranges.max())
        .map(|(&lo, &hi)| {
            let s = (hi - lo) / 255.0f32;
            f64::from(if s == 0.0 { 1.0 } else { s })
        })
        .collect();
    let lo: Vec<f64> = ranges.min().iter().map(|&x| f64::from(x)).collect();
    queries
        .chunks_exact(DIM)
        .map(|q| {
            let mut by_bits: Vec<(usize, usize)> = corpus
                .chunks_exact(DIM)
                .enumerate()
                .map(|(row, c)| {
                    let differing = q.iter().zip(c).filter(|(a, b)| (**a > 0.0) != (**b > 0.0));
                    (differing.count(), row)
                })
                .collect();
            by_bits.sort();
            let mut rescored: Vec<(usize, f64)> = by_bits
                .iter()
                .take(top_k * multiplier)
                .map(|&(_, row)| {
                    let b = &buckets[row * DIM..(row + 1) * DIM];
                    let score = (0..DIM)
                        .map(|j| f64::from(q[j]) * (b[j] * step[j] + lo[j]))
                        .sum();
                    (row, score)
                })
                .collect();
            rescored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            rescored.truncate(top_k);
            rescored
        })
        .collect()
}

#[test]
fn rescored_results_equal_the_brute_force_reference() {
    let vectors = unit_vectors(1, 300, DIM);
    let queries = unit_vectors(2, 12, DIM);
    let q = Embeddings::new(&queries, 12, DIM).unwrap();
    for (bits, store) in [
        (Precision::Binary, Precision::Int8),
        (Precision::Ubinary, Precision::Uint8),
    ] {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("idx");
        write(&dir, corpus_with_store(&vectors, bits, store, None), true);
        let index = load_index(&dir).unwrap();
        let m = &index.manifest;
        assert_eq!(m.rescore_precision, Some(store));
        assert_eq!(m.version, FORMAT_VERSION);
        assert_eq!(
            index.corpus.rescore_store().map(Corpus::precision),
            Some(store)
        );
        for multiplier in [1, 4] {
            let options = SearchOptions {
                top_k: 5,
                rescore_multiplier: multiplier,
                ..SearchOptions::default()
            };
            let got = search(&index.corpus, None, q, &options).unwrap();
            assert_eq!(got.score_kind, ScoreKind::Rescored);
            let want = reference(
                &vectors,
                &queries,
                index.corpus.rescore_store().unwrap(),
                5,
                multiplier,
            );
            for (i, (hits, want)) in got.hits.iter().zip(&want).enumerate() {
                let rows: Vec<usize> = hits.iter().map(|h| h.row).collect();
                let want_rows: Vec<usize> = want.iter().map(|w| w.0).collect();
                assert_eq!(rows, want_rows, "{bits}+{store} ×{multiplier} query {i}");
                for (h, w) in hits.iter().zip(want) {
                    assert!((h.score - w.1).abs() < 1e-9, "{} vs {}", h.score, w.1);
                }
            }
        }
        // The store changes the ranking: bit rescoring (sentence-transformers') differs.
        let options = SearchOptions {
            top_k: 5,
            rescore_multiplier: 4,
            ..SearchOptions::default()
        };
        let bits_only = index.corpus.clone().without_rescore_store();
        assert_ne!(
            search(&index.corpus, None, q, &options).unwrap().hits,
            search(&bits_only, None, q, &options).unwrap().hits
        );
        // Without rescoring the store plays no part: Hamming distances, as without one.
        let plain = SearchOptions {
            rescore: false,
            ..SearchOptions::default()
        };
        let got = search(&index.corpus, None, q, &plain).unwrap();
        assert_eq!(got.score_kind, ScoreKind::Hamming);
        assert_eq!(got, search(&bits_only, None, q, &plain).unwrap());
        // The graph's first stage is on the bits; its candidates are rescored from the store:
        // each document finds itself first.
        let hnsw = SearchOptions {
            method: SearchMethod::Hnsw,
            top_k: 3,
            ..SearchOptions::default()
        };
        let own = Embeddings::new(&vectors[..6 * DIM], 6, DIM).unwrap();
        let found = search(&index.corpus, index.graph.as_ref(), own, &hnsw).unwrap();
        let first: Vec<usize> = found.hits.iter().map(|h| h[0].row).collect();
        assert_eq!(first, [0, 1, 2, 3, 4, 5], "{bits}+{store}");
    }
}

#[test]
fn append_equals_one_shot_indexing_and_keeps_the_store_ranges() {
    let work = tempfile::tempdir().unwrap();
    let (one, two) = (work.path().join("one"), work.path().join("two"));
    let all = unit_vectors(1, 90, DIM);
    let ranges =
        QuantizationRanges::from_embeddings(Embeddings::new(&all[..60 * DIM], 60, DIM).unwrap())
            .unwrap();
    let (bits, store) = (Precision::Binary, Precision::Int8);
    write(
        &one,
        corpus_with_store(&all, bits, store, Some(ranges.clone())),
        false,
    );
    write(
        &two,
        corpus_with_store(&all[..60 * DIM], bits, store, None),
        false,
    );
    let before = load_index(&two).unwrap().manifest;

    let writer = IndexWriter::open(&two).unwrap();
    let index = writer.load().unwrap();
    let documents = documents_from_texts(texts(60, 90), None, 60).unwrap();
    let more = Embeddings::new(&all[60 * DIM..], 30, DIM).unwrap();
    let appended = writer.append(index, more, documents, None, 1).unwrap();
    drop(writer);
    let m = &appended.manifest;
    assert_eq!((m.generation, m.rows), (2, 90));
    assert_eq!(m.rescore_precision, Some(store));
    // The store's ranges file is the first generation's; its rows file is new and the old
    // one gone.
    assert_eq!(m.files.rescore_ranges, before.files.rescore_ranges);
    let old_rows = before.files.rescore_embeddings.unwrap().name;
    assert_ne!(m.files.rescore_embeddings.as_ref().unwrap().name, old_rows);
    assert!(!two.join(&old_rows).exists());

    let (a, b) = (load_index(&one).unwrap(), load_index(&two).unwrap());
    assert_eq!(b.corpus.rescore_store().unwrap().ranges(), Some(&ranges));
    let file = |dir: &Path, m: &retrieval::search::Manifest| {
        std::fs::read(dir.join(&m.files.rescore_embeddings.as_ref().unwrap().name)).unwrap()
    };
    assert_eq!(file(&one, &a.manifest), file(&two, &b.manifest));
    assert_eq!(a.corpus, b.corpus);
    let queries = unit_vectors(2, 8, DIM);
    let queries = Embeddings::new(&queries, 8, DIM).unwrap();
    let options = SearchOptions {
        rescore_multiplier: 4,
        ..SearchOptions::default()
    };
    assert_eq!(
        search(&a.corpus, None, queries, &options).unwrap(),
        search(&b.corpus, None, queries, &options).unwrap()
    );
}

#[test]
fn damaged_store_files_are_refused_by_name() {
    let work = tempfile::tempdir().unwrap();
    let vectors = unit_vectors(1, 30, DIM);
    let fresh = |name: &str| {
        let dir = work.path().join(name);
        let corpus = corpus_with_store(&vectors, Precision::Binary, Precision::Int8, None);
        write(&dir, corpus, false);
        let m = load_index(&dir).unwrap().manifest;
        (dir, m)
    };
    let error = |dir: &Path| chain(&load_index(dir).unwrap_err());

    // Truncated: the size disagrees with the manifest.
    let (dir, m) = fresh("truncated");
    let name = m.files.rescore_embeddings.unwrap().name;
    assert_eq!(name, "rescore.1.npy");
    let path = dir.join(&name);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let e = error(&dir);
    assert!(e.contains(&name) && e.contains("truncated"), "{e}");

    // Truncated with a manifest that agrees on the size: the npy header does not.
    let short = &bytes[..bytes.len() - DIM];
    std::fs::write(&path, short).unwrap();
    edit_manifest(&dir, |v| {
        v["files"]["rescore_embeddings"]["bytes"] = short.len().into();
    });
    let e = error(&dir);
    assert!(
        e.contains(&name) && e.contains("its header") && e.contains("[30, 24]"),
        "{e}"
    );

    // Corrupt: same size, other bytes.
    for role in ["rescore_embeddings", "rescore_ranges"] {
        let (dir, m) = fresh(&format!("corrupt-{role}"));
        let file = match role {
            "rescore_embeddings" => m.files.rescore_embeddings.unwrap(),
            _ => m.files.rescore_ranges.unwrap(),
        };
        let path = dir.join(&file.name);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let e = error(&dir);
        assert!(
            e.contains(&file.name) && e.contains("corrupt") && e.contains(&file.sha256),
            "{e}"
        );
    }

    // Missing.
    let (dir, m) = fresh("missing");
    let name = m.files.rescore_ranges.unwrap().name;
    assert_eq!(name, "rescore-ranges.1.npy");
    std::fs::remove_file(dir.join(&name)).unwrap();
    let e = error(&dir);
    assert!(
        e.contains(&name) && e.contains("missing") && e.contains("rescore_ranges"),
        "{e}"
    );

    // Manifests that pair the store wrongly.
    let (dir, _) = fresh("manifest");
    let original = std::fs::read(dir.join("manifest.json")).unwrap();
    let cases: [(&str, ManifestEdit); 4] = [
        ("rescore_precision", |v| {
            v["rescore_precision"] = "binary".into()
        }),
        ("rescore_precision", |v| {
            v.as_object_mut().unwrap().remove("rescore_precision");
        }),
        ("files.rescore_ranges", |v| {
            v["files"].as_object_mut().unwrap().remove("rescore_ranges");
        }),
        ("rescore_precision", |v| v["precision"] = "float32".into()),
    ];
    for (key, edit) in cases {
        std::fs::write(dir.join("manifest.json"), &original).unwrap();
        edit_manifest(&dir, edit);
        let e = error(&dir);
        assert!(e.contains(key), "{key}: {e}");
    }
}

#[test]
fn folders_without_a_store_are_written_and_read_as_before() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("idx");
    let vectors = unit_vectors(1, 20, DIM);
    let corpus = Corpus::quantize_from(
        Embeddings::new(&vectors, 20, DIM).unwrap(),
        Precision::Binary,
        None,
    )
    .unwrap();
    write(&dir, corpus, false);
    // No new key appears, so readers that predate the store read these folders unchanged.
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(!manifest.contains("rescore"), "{manifest}");
    let index = load_index(&dir).unwrap();
    assert_eq!(index.manifest.version, 1);
    assert_eq!(index.manifest.rescore_precision, None);
    assert!(index.corpus.rescore_store().is_none());
    // Null keys (as another writer might spell "absent") load too.
    edit_manifest(&dir, |v| {
        v["rescore_precision"] = serde_json::Value::Null;
        v["files"]["rescore_embeddings"] = serde_json::Value::Null;
        v["files"]["rescore_ranges"] = serde_json::Value::Null;
    });
    assert!(load_index(&dir).unwrap().corpus.rescore_store().is_none());
}
