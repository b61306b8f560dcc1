//! Index folders: write, load and search back; append equals one-shot indexing with the ranges
//! unchanged; a failed append leaves every byte as it was; each damaged or mismatched folder is
//! refused with a message naming the file or key and both values.

use std::path::Path;

use eval::{Embeddings, Precision, QuantizationRanges};
use retrieval::search::{
    documents_from_texts, load_index, search, Corpus, HnswParams, IndexSpec, IndexWriter, Manifest,
    ModelRef, SearchMethod, SearchOptions,
};
use test_support::{dir_snapshot, unit_vectors};

const DIM: usize = 24;

fn spec() -> IndexSpec {
    IndexSpec {
        model: ModelRef {
            id: "org/model".into(),
            revision: "0123abcd".into(),
        },
        query_prompt: "query: ".into(),
        document_prompt: String::new(),
    }
}

fn texts(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("document {i}")).collect()
}

/// An index of `rows` unit vectors (seed 1) at `precision` in `dir`.
fn write_index(
    dir: &Path,
    precision: Precision,
    rows: usize,
    ranges: Option<QuantizationRanges>,
    hnsw: bool,
) -> Vec<f32> {
    let vectors = unit_vectors(1, rows, DIM);
    let corpus = Corpus::quantize_from(
        Embeddings::new(&vectors, rows, DIM).unwrap(),
        precision,
        ranges,
    )
    .unwrap();
    let graph = hnsw
        .then(|| retrieval::search::HnswGraph::build(&corpus, HnswParams::default(), 1).unwrap());
    let documents = documents_from_texts(texts(0, rows), None, 0).unwrap();
    IndexWriter::create(dir)
        .unwrap()
        .write_new(spec(), corpus, documents, graph)
        .unwrap();
    vectors
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

fn load_error(dir: &Path) -> String {
    chain(&load_index(dir).unwrap_err())
}

fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("manifest.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

#[test]
fn written_indexes_load_and_search_back() {
    for precision in Precision::ALL {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("idx");
        let hnsw = precision != Precision::Uint8;
        let vectors = write_index(&dir, precision, 120, None, hnsw);
        let index = load_index(&dir).unwrap();
        let m = &index.manifest;
        assert_eq!(
            (m.precision, m.dim, m.rows, m.generation),
            (precision, DIM, 120, 1)
        );
        assert_eq!(m.files.ranges.is_some(), precision.uses_ranges());
        assert_eq!(index.graph.is_some(), hnsw);
        assert_eq!(index.documents[7].text, "document 7");
        // Each document finds itself first.
        let queries = Embeddings::new(&vectors[..5 * DIM], 5, DIM).unwrap();
        for method in [SearchMethod::Exact, SearchMethod::Hnsw] {
            if method == SearchMethod::Hnsw && !hnsw {
                continue;
            }
            // uint8's first stage, the inner product of bucket indices (all positive), favours
            // rows of large values over the query itself: rescore every row instead.
            let rescore_multiplier = if precision == Precision::Uint8 { 40 } else { 2 };
            let options = SearchOptions {
                top_k: 3,
                method,
                rescore_multiplier,
                ..SearchOptions::default()
            };
            let got = search(&index.corpus, index.graph.as_ref(), queries, &options).unwrap();
            for (q, hits) in got.hits.iter().enumerate() {
                assert_eq!(hits[0].row, q, "{precision} {method:?}: {hits:?}");
            }
        }
        // The embeddings file is what `encode --precision` writes: numpy's dtype for it.
        let npy = std::fs::read(dir.join(&m.files.embeddings.name)).unwrap();
        let descr = match precision {
            Precision::Float32 => "<f4",
            Precision::Int8 | Precision::Binary => "|i1",
            Precision::Uint8 | Precision::Ubinary => "|u1",
        };
        assert!(
            String::from_utf8_lossy(&npy[..128]).contains(descr),
            "{precision}"
        );
    }
}

#[test]
fn append_equals_one_shot_indexing_and_keeps_the_ranges() {
    for precision in [Precision::Float32, Precision::Int8, Precision::Ubinary] {
        let work = tempfile::tempdir().unwrap();
        let (one, two) = (work.path().join("one"), work.path().join("two"));
        let all = unit_vectors(1, 90, DIM);
        // The appended index's ranges come from its first 60 rows; the one-shot index is
        // given the same ones.
        let ranges = precision.uses_ranges().then(|| {
            QuantizationRanges::from_embeddings(Embeddings::new(&all[..60 * DIM], 60, DIM).unwrap())
                .unwrap()
        });
        let hnsw = true;
        write_index(&one, precision, 90, ranges.clone(), hnsw);
        write_index(&two, precision, 60, None, hnsw);
        let before = load_index(&two).unwrap().manifest;

        let writer = IndexWriter::open(&two).unwrap();
        let index = writer.load().unwrap();
        let documents = documents_from_texts(texts(60, 90), None, 60).unwrap();
        let more = Embeddings::new(&all[60 * DIM..], 30, DIM).unwrap();
        let appended = writer.append(index, more, documents, None, 1).unwrap();
        drop(writer);
        assert_eq!(appended.manifest.generation, 2);
        assert_eq!(appended.manifest.rows, 90);
        // The ranges file is the first generation's, untouched.
        assert_eq!(appended.manifest.files.ranges, before.files.ranges);
        // The old generation's other files are gone.
        assert!(!two.join(&before.files.embeddings.name).exists());

        let (a, b) = (load_index(&one).unwrap(), load_index(&two).unwrap());
        assert_eq!(b.corpus.ranges(), ranges.as_ref());
        for file in ["embeddings", "documents"] {
            let name = |m: &Manifest| {
                if file == "embeddings" {
                    m.files.embeddings.name.clone()
                } else {
                    m.files.documents.name.clone()
                }
            };
            assert_eq!(
                std::fs::read(one.join(name(&a.manifest))).unwrap(),
                std::fs::read(two.join(name(&b.manifest))).unwrap(),
                "{precision} {file}"
            );
        }
        let queries = unit_vectors(2, 8, DIM);
        let queries = Embeddings::new(&queries, 8, DIM).unwrap();
        let exact = SearchOptions::default();
        assert_eq!(
            search(&a.corpus, None, queries, &exact).unwrap(),
            search(&b.corpus, None, queries, &exact).unwrap()
        );
        // The extended graph holds every row and finds each appended document.
        let graph = b.graph.as_ref().unwrap();
        assert_eq!(graph.len(), 90);
        let own = Embeddings::new(&all[80 * DIM..85 * DIM], 5, DIM).unwrap();
        let options = SearchOptions {
            method: SearchMethod::Hnsw,
            top_k: 1,
            ..SearchOptions::default()
        };
        let found = search(&b.corpus, Some(graph), own, &options).unwrap();
        let rows: Vec<usize> = found.hits.iter().map(|h| h[0].row).collect();
        assert_eq!(rows, [80, 81, 82, 83, 84], "{precision}");
    }
}

#[test]
fn a_failed_append_leaves_every_byte_as_it_was() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("idx");
    write_index(&dir, Precision::Int8, 40, None, true);
    let before = dir_snapshot(&dir);
    let writer = IndexWriter::open(&dir).unwrap();

    // Embeddings of another width: refused before anything is written.
    let wrong = unit_vectors(3, 2, DIM + 1);
    let docs = documents_from_texts(texts(40, 42), None, 40).unwrap();
    let err = writer
        .append(
            writer.load().unwrap(),
            Embeddings::new(&wrong, 2, DIM + 1).unwrap(),
            docs,
            None,
            1,
        )
        .unwrap_err();
    assert!(chain(&err).contains("dim 24"), "{}", chain(&err));
    assert_eq!(dir_snapshot(&dir), before);

    // A duplicate id: refused too.
    let more = unit_vectors(3, 1, DIM);
    let dup = documents_from_texts(texts(40, 41), Some(vec!["x".into()]), 40).unwrap();
    let mut index = writer.load().unwrap();
    index.documents[3].id = retrieval::search::DocumentId::Name("x".into());
    let err = writer
        .append(index, Embeddings::new(&more, 1, DIM).unwrap(), dup, None, 1)
        .unwrap_err();
    assert!(chain(&err).contains("id x"), "{}", chain(&err));
    assert_eq!(dir_snapshot(&dir), before);

    // A failure half-way through the commit (the documents file cannot be created: a folder
    // has its name) removes the embeddings file it had already written.
    std::fs::create_dir(dir.join("documents.2.jsonl")).unwrap();
    let docs = documents_from_texts(texts(40, 41), None, 40).unwrap();
    let err = writer
        .append(
            writer.load().unwrap(),
            Embeddings::new(&more, 1, DIM).unwrap(),
            docs,
            None,
            1,
        )
        .unwrap_err();
    assert!(chain(&err).contains("documents.2.jsonl"), "{}", chain(&err));
    std::fs::remove_dir(dir.join("documents.2.jsonl")).unwrap();
    assert_eq!(dir_snapshot(&dir), before);
    assert_eq!(load_index(&dir).unwrap().manifest.rows, 40);
}

#[test]
fn damaged_data_files_are_named() {
    let work = tempfile::tempdir().unwrap();
    let fresh = |name: &str| {
        let dir = work.path().join(name);
        write_index(&dir, Precision::Int8, 30, None, true);
        let m = load_index(&dir).unwrap().manifest;
        (dir, m)
    };

    // Truncated: the size disagrees with the manifest.
    let (dir, m) = fresh("truncated");
    let path = dir.join(&m.files.embeddings.name);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let e = load_error(&dir);
    assert!(
        e.contains("embeddings.1.npy")
            && e.contains(&format!("{} bytes", bytes.len() - 5))
            && e.contains(&bytes.len().to_string())
            && e.contains("truncated"),
        "{e}"
    );

    // Truncated with a manifest that agrees on the size: the npy header (30 rows) does not.
    let short = &bytes[..bytes.len() - DIM];
    std::fs::write(&path, short).unwrap();
    edit_manifest(&dir, |v| {
        v["files"]["embeddings"]["bytes"] = short.len().into();
    });
    let e = load_error(&dir);
    assert!(
        e.contains("embeddings.1.npy") && e.contains("its header") && e.contains("[30, 24]"),
        "{e}"
    );

    // Rows in the manifest that the header does not have.
    let (dir, _) = fresh("rows");
    edit_manifest(&dir, |v| v["rows"] = 31.into());
    let e = load_error(&dir);
    assert!(e.contains("[30, 24]") && e.contains("[31, 24]"), "{e}");

    // Corrupt: same size, other bytes.
    let (dir, m) = fresh("corrupt");
    let path = dir.join(&m.files.documents.name);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let e = load_error(&dir);
    assert!(
        e.contains("documents.1.jsonl")
            && e.contains("corrupt")
            && e.contains(&m.files.documents.sha256),
        "{e}"
    );

    // Missing.
    for role in ["ranges", "hnsw"] {
        let (dir, m) = fresh(&format!("missing-{role}"));
        let name = match role {
            "ranges" => m.files.ranges.clone().unwrap().name,
            _ => m.files.hnsw.clone().unwrap().name,
        };
        std::fs::remove_file(dir.join(&name)).unwrap();
        let e = load_error(&dir);
        assert!(
            e.contains(&name) && e.contains("missing") && e.contains(role),
            "{e}"
        );
    }
}

#[test]
fn bad_manifests_are_named() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("idx");
    write_index(&dir, Precision::Float32, 10, None, false);
    let original = std::fs::read(dir.join("manifest.json")).unwrap();
    let restore = || std::fs::write(dir.join("manifest.json"), &original).unwrap();

    edit_manifest(&dir, |v| v["version"] = 2.into());
    let e = load_error(&dir);
    assert!(
        e.contains("version 2") && e.contains("reads version 1"),
        "{e}"
    );
    restore();

    edit_manifest(&dir, |v| {
        v.as_object_mut().unwrap().remove("rows");
    });
    let e = load_error(&dir);
    assert!(e.contains("manifest.json") && e.contains("`rows`"), "{e}");
    restore();

    edit_manifest(&dir, |v| v["model"]["revision"] = 5.into());
    let e = load_error(&dir);
    assert!(e.contains("model.revision"), "{e}");
    restore();

    edit_manifest(&dir, |v| v["precision"] = "int4".into());
    let e = load_error(&dir);
    assert!(e.contains("precision") && e.contains("int4"), "{e}");
    restore();

    edit_manifest(&dir, |v| {
        v["files"]["documents"]["name"] = "../../etc/passwd".into()
    });
    let e = load_error(&dir);
    assert!(
        e.contains("../../etc/passwd") && e.contains("plain file name"),
        "{e}"
    );
    restore();

    edit_manifest(&dir, |v| v["precision"] = "int8".into());
    let e = load_error(&dir);
    assert!(e.contains("files.ranges") && e.contains("int8"), "{e}");
    restore();
    assert!(load_index(&dir).is_ok());

    std::fs::write(dir.join("manifest.json"), b"{ not json").unwrap();
    let e = load_error(&dir);
    assert!(e.contains("manifest.json"), "{e}");
}

#[test]
fn folders_that_are_not_indexes_or_are_taken_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = load_error(&empty);
    assert!(
        e.contains("empty") && e.contains("not a search index"),
        "{e}"
    );
    let e = chain(&IndexWriter::open(&empty).unwrap_err());
    assert!(
        e.contains("not a search index") && e.contains("manifest.json"),
        "{e}"
    );

    let dir = work.path().join("idx");
    write_index(&dir, Precision::Binary, 10, None, false);
    let e = chain(&IndexWriter::create(&dir).unwrap_err());
    assert!(
        e.contains("already holds a search index") && e.contains("--append"),
        "{e}"
    );

    let other = work.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "x").unwrap();
    let e = chain(&IndexWriter::create(&other).unwrap_err());
    assert!(e.contains("notes.txt"), "{e}");

    // One writer at a time.
    let writer = IndexWriter::open(&dir).unwrap();
    let e = chain(&IndexWriter::open(&dir).unwrap_err());
    assert!(e.contains("another process") && e.contains(".lock"), "{e}");
    drop(writer);
    assert!(IndexWriter::open(&dir).is_ok());
}

#[test]
fn mismatches_name_both_values() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("idx");
    write_index(&dir, Precision::Ubinary, 10, None, false);
    let index = load_index(&dir).unwrap();
    let m = &index.manifest;
    let other = ModelRef {
        id: "org/model".into(),
        revision: "ffff".into(),
    };
    let e = m.check_model(&dir, &other).unwrap_err().to_string();
    assert!(
        e.contains("0123abcd") && e.contains("ffff") && e.contains("org/model"),
        "{e}"
    );
    assert!(m.check_model(&dir, &spec().model).is_ok());
    let e = m.check_dim(&dir, "org/model", 384).unwrap_err().to_string();
    assert!(e.contains("24-dimensional") && e.contains("384"), "{e}");
    let e = m
        .check_precision(&dir, Precision::Int8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("ubinary") && e.contains("int8"), "{e}");

    // Queries of another width, top_k 0, hnsw without a graph, an empty corpus.
    let q = unit_vectors(5, 1, DIM + 2);
    let e = search(
        &index.corpus,
        None,
        Embeddings::new(&q, 1, DIM + 2).unwrap(),
        &SearchOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("26") && e.contains("dim 24"), "{e}");
    let q = unit_vectors(5, 1, DIM);
    let q = Embeddings::new(&q, 1, DIM).unwrap();
    let zero = SearchOptions {
        top_k: 0,
        ..SearchOptions::default()
    };
    let e = search(&index.corpus, None, q, &zero)
        .unwrap_err()
        .to_string();
    assert!(e.contains("top_k"), "{e}");
    let hnsw = SearchOptions {
        method: SearchMethod::Hnsw,
        ..SearchOptions::default()
    };
    let e = search(&index.corpus, None, q, &hnsw)
        .unwrap_err()
        .to_string();
    assert!(e.contains("hnsw graph"), "{e}");
    let e = Corpus::quantize_from(Embeddings::new(&[], 0, DIM).unwrap(), Precision::Int8, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("corpus is empty"), "{e}");
    // int8 ranges of the wrong width.
    let r = QuantizationRanges::new(vec![-1.0; 3], vec![1.0; 3]).unwrap();
    let v = unit_vectors(5, 4, DIM);
    let e = chain(
        &Corpus::quantize_from(
            Embeddings::new(&v, 4, DIM).unwrap(),
            Precision::Int8,
            Some(r),
        )
        .unwrap_err(),
    );
    assert!(e.contains("dim 3") && e.contains("dim 24"), "{e}");
}
