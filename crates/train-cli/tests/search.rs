//! `train-cli search`: an index folder of a small text file embedded by all-MiniLM-L6-v2
//! (through the hub endpoint), queried as a table, JSON lines and files; appends continue the
//! ids and a failed one changes no byte; HNSW against exact search through `search recall`;
//! every refusal names what it is about. (Parity of the search itself with
//! sentence-transformers: crates/retrieval/tests/search_parity.rs.)

mod common;

use std::path::Path;
use std::process::Output;

use common::*;

const DOCS: [&str; 12] = [
    "the cat sleeps on the warm windowsill",
    "heavy rain and strong wind are expected tomorrow",
    "the stock market fell sharply after the announcement",
    "whisk two eggs with flour and sugar to make the batter",
    "the striker scored twice in the second half of the match",
    "my laptop battery drains in under an hour",
    "the museum opens a new exhibition of impressionist paintings",
    "a rocket carried the satellite into orbit this morning",
    "the doctor prescribed antibiotics for the infection",
    "the train to the airport leaves every twenty minutes",
    "our garden is full of tomatoes and courgettes this summer",
    "the violinist played a sonata by bach",
];

const MORE: [&str; 2] = [
    "penguins huddle together to survive the antarctic winter",
    "the bakery sells fresh croissants every morning",
];

fn search(dir: &Path, args: &[&str]) -> Output {
    let home = dir.join("hf");
    let _ = std::fs::create_dir_all(&home);
    let mut all = vec!["search"];
    all.extend(args);
    all.extend(["--device", "cpu"]);
    train_cli(&all, &endpoint(), &home)
}

fn recall(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["search", "recall"];
    all.extend(args);
    train_cli(&all, &endpoint(), &dir.join("hf"))
}

fn write_lines(path: &Path, lines: &[&str]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// An int8 index with an HNSW graph of DOCS, in `dir/idx`.
fn build(dir: &Path) -> std::path::PathBuf {
    let docs = dir.join("docs.txt");
    write_lines(&docs, &DOCS);
    let idx = dir.join("idx");
    let out = search(
        dir,
        &[
            "index",
            "--model",
            test_support::MINILM,
            "--corpus",
            s(&docs),
            "--index",
            s(&idx),
            "--precision",
            "int8",
            "--hnsw",
            "--quiet",
        ],
    );
    ok(&out);
    idx
}

#[test]
fn index_query_append_and_recall() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let idx = build(dir);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(idx.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["model"]["id"], test_support::MINILM);
    assert_eq!(manifest["precision"], "int8");
    assert_eq!(manifest["rows"], 12);
    assert_eq!(manifest["dim"], 384);

    // JSON lines: one object per query, its hits {id, score, text}, best first.
    let queries = ["a kitten napping in the sun", "will it storm tomorrow"];
    let out = search(
        dir,
        &[
            "query",
            "--index",
            s(&idx),
            "--query",
            queries[0],
            "--query",
            queries[1],
            "--top-k",
            "3",
            "--format",
            "jsonl",
            "--quiet",
        ],
    );
    let stdout = ok(&out);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for raw in stdout.lines() {
        assert!(
            raw.starts_with("{\"query\":") && raw.contains(",\"hits\":[{\"id\":"),
            "{raw}"
        );
    }
    for (line, query) in lines.iter().zip(queries) {
        assert_eq!(line.as_object().unwrap().len(), 2);
        assert_eq!(line["query"], query);
        let hits = line["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 3);
        for hit in hits {
            let keys: Vec<_> = hit.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["id", "score", "text"]); // serde_json's map sorts keys
        }
        let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    }
    assert_eq!(lines[0]["hits"][0]["id"], 0);
    assert_eq!(lines[0]["hits"][0]["text"], DOCS[0]);
    assert_eq!(lines[1]["hits"][0]["id"], 1);
    let err = stderr(&out);
    assert!(
        err.contains("hnsw int8") && err.contains("rescored"),
        "{err}"
    );

    // The table.
    let table = ok(&search(
        dir,
        &[
            "query",
            "--index",
            s(&idx),
            "--query",
            "baking a cake",
            "--top-k",
            "2",
            "--quiet",
        ],
    ));
    assert!(table.contains("rank") && table.contains(DOCS[3]), "{table}");

    // Files: .jsonl as stdout's lines, .parquet too; exact search and HNSW agree here.
    let queries_file = dir.join("queries.txt");
    write_lines(&queries_file, &queries);
    let mut outputs = Vec::new();
    for (name, extra) in [("hnsw.jsonl", "--hnsw"), ("exact.jsonl", "--exact")] {
        let path = dir.join(name);
        let out = search(
            dir,
            &[
                "query",
                "--index",
                s(&idx),
                "--queries",
                s(&queries_file),
                "--top-k",
                "3",
                "--output",
                s(&path),
                extra,
                "--quiet",
            ],
        );
        assert!(ok(&out).is_empty());
        outputs.push(path);
    }
    assert_eq!(std::fs::read_to_string(&outputs[0]).unwrap(), stdout);
    let out = recall(
        dir,
        &["--results", s(&outputs[0]), "--reference", s(&outputs[1])],
    );
    assert!(ok(&out).starts_with("recall@3 1.0000 over 2 queries"));
    let parquet = dir.join("results.parquet");
    ok(&search(
        dir,
        &[
            "query",
            "--index",
            s(&idx),
            "--queries",
            s(&queries_file),
            "--output",
            s(&parquet),
            "--quiet",
        ],
    ));
    assert!(std::fs::metadata(&parquet).unwrap().len() > 0);

    // Append: ids continue, the ranges file stays, the new documents are found.
    let more = dir.join("more.txt");
    write_lines(&more, &MORE);
    let ranges_before = manifest["files"]["ranges"].clone();
    ok(&search(
        dir,
        &[
            "index",
            "--model",
            test_support::MINILM,
            "--corpus",
            s(&more),
            "--index",
            s(&idx),
            "--append",
            "--quiet",
        ],
    ));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(idx.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["rows"], 14);
    assert_eq!(manifest["generation"], 2);
    assert_eq!(manifest["files"]["ranges"], ranges_before);
    let stdout = ok(&search(
        dir,
        &[
            "query",
            "--index",
            s(&idx),
            "--query",
            "emperor penguins in the cold",
            "--top-k",
            "1",
            "--format",
            "jsonl",
            "--quiet",
        ],
    ));
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["hits"][0]["id"], 12);
    assert_eq!(line["hits"][0]["text"], MORE[0]);

    // A failed append (a corpus that is not UTF-8) leaves every byte of the folder as it was.
    let before = test_support::dir_snapshot(&idx);
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, b"fine line\n\xff\xfe broken\n").unwrap();
    let out = search(
        dir,
        &[
            "index",
            "--model",
            test_support::MINILM,
            "--corpus",
            s(&bad),
            "--index",
            s(&idx),
            "--append",
            "--quiet",
        ],
    );
    assert_fails_with(&out, &["bad.txt"]);
    assert_eq!(test_support::dir_snapshot(&idx), before);
}

#[test]
fn a_binary_index_rescores_from_its_int8_store() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let docs = dir.join("docs.txt");
    write_lines(&docs, &DOCS);
    let idx = dir.join("idx");
    let index = |corpus: &Path, extra: &[&str]| {
        let mut args = vec![
            "index",
            "--model",
            test_support::MINILM,
            "--corpus",
            s(corpus),
            "--index",
            s(&idx),
            "--quiet",
        ];
        args.extend(extra);
        search(dir, &args)
    };
    let out = index(
        &docs,
        &["--precision", "binary", "--rescore-precision", "int8"],
    );
    ok(&out);
    assert!(
        stderr(&out).contains("int8 rescore store"),
        "{}",
        stderr(&out)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(idx.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["precision"], "binary");
    assert_eq!(manifest["rescore_precision"], "int8");
    assert_eq!(
        manifest["files"]["rescore_embeddings"]["name"],
        "rescore.1.npy"
    );
    assert_eq!(
        manifest["files"]["rescore_ranges"]["name"],
        "rescore-ranges.1.npy"
    );

    let query = |extra: &[&str]| {
        let mut args = vec![
            "query",
            "--index",
            s(&idx),
            "--query",
            "a kitten napping in the sun",
            "--top-k",
            "2",
            "--format",
            "jsonl",
            "--quiet",
        ];
        args.extend(extra);
        search(dir, &args)
    };
    let out = query(&[]);
    let line: serde_json::Value = serde_json::from_str(ok(&out).trim()).unwrap();
    assert_eq!(line["hits"][0]["id"], 0);
    assert!(stderr(&out).contains("rescored"), "{}", stderr(&out));
    let out = query(&["--no-rescore"]);
    ok(&out);
    assert!(stderr(&out).contains("hamming"), "{}", stderr(&out));

    // Only binary/ubinary take a store; an append keeps the index's.
    let other = dir.join("other");
    let out = search(
        dir,
        &[
            "index",
            "--model",
            test_support::MINILM,
            "--corpus",
            s(&docs),
            "--index",
            s(&other),
            "--precision",
            "int8",
            "--rescore-precision",
            "int8",
            "--quiet",
        ],
    );
    assert_fails_with(&out, &["--rescore-precision", "binary", "int8"]);
    let more = dir.join("more.txt");
    write_lines(&more, &MORE);
    let out = index(&more, &["--append", "--rescore-precision", "uint8"]);
    assert_fails_with(&out, &["--rescore-precision uint8", "int8"]);
    ok(&index(&more, &["--append"]));
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(idx.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(after["rows"], 14);
    assert_eq!(
        after["files"]["rescore_ranges"],
        manifest["files"]["rescore_ranges"]
    );
    assert_eq!(
        after["files"]["rescore_embeddings"]["name"],
        "rescore.2.npy"
    );
    let out = search(
        dir,
        &[
            "query",
            "--index",
            s(&idx),
            "--query",
            "emperor penguins in the cold",
            "--top-k",
            "1",
            "--format",
            "jsonl",
            "--quiet",
        ],
    );
    let line: serde_json::Value = serde_json::from_str(ok(&out).trim()).unwrap();
    assert_eq!(line["hits"][0]["id"], 12);
}

#[test]
fn a_parquet_corpus_keeps_its_ids() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let corpus = dir.join("docs.parquet");
    let texts: Vec<String> = DOCS.iter().map(|t| t.to_string()).collect();
    let ids: Vec<String> = (0..DOCS.len()).map(|i| format!("doc-{i:02}")).collect();
    data::write_table(
        &corpus,
        &[
            ("body".to_string(), data::TableColumn::Text(texts)),
            ("key".to_string(), data::TableColumn::Text(ids)),
        ],
    )
    .unwrap();
    let idx = dir.join("idx");
    ok(&search(
        dir,
        &[
            "index",
            "--model",
            test_support::MINILM,
            "--corpus",
            s(&corpus),
            "--column",
            "body",
            "--id-column",
            "key",
            "--index",
            s(&idx),
            "--precision",
            "ubinary",
            "--quiet",
        ],
    ));
    let stdout = ok(&search(
        dir,
        &[
            "query",
            "--index",
            s(&idx),
            "--query",
            "a rocket launch",
            "--top-k",
            "2",
            "--format",
            "jsonl",
            "--quiet",
        ],
    ));
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["hits"][0]["id"], "doc-07");
    assert_eq!(line["hits"][0]["text"], DOCS[7]);
}

#[test]
fn refusals_name_what_they_are_about() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let idx = build(dir);
    let query = |extra: &[&str]| {
        let mut args = vec!["query", "--index", s(&idx), "--query", "a cat", "--quiet"];
        args.extend(extra);
        search(dir, &args)
    };

    // Another precision than the index's.
    assert_fails_with(
        &query(&["--precision", "binary"]),
        &["int8", "binary", "idx"],
    );
    // top_k 0.
    assert_fails_with(&query(&["--top-k", "0"]), &["--top-k", "0"]);
    // Another model: a local copy of the same weights is another id.
    let copy = dir.join("copy");
    link_minilm(&copy);
    let out = query(&["--model", s(&copy)]);
    assert_fails_with(&out, &[test_support::MINILM, "copy", "at revision"]);

    // A graph the index does not have.
    let flat = dir.join("flat");
    ok(&search(
        dir,
        &[
            "index",
            "--model",
            s(&copy),
            "--corpus",
            s(&dir.join("docs.txt")),
            "--index",
            s(&flat),
            "--quiet",
        ],
    ));
    let out = search(
        dir,
        &["query", "--index", s(&flat), "--query", "x", "--hnsw"],
    );
    assert_fails_with(&out, &["--hnsw", "flat", "no hnsw graph"]);

    // Another revision of a local model: its weights changed since the index was built.
    let weights = copy.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::remove_file(&weights).unwrap();
    std::fs::write(&weights, &bytes).unwrap();
    let out = search(dir, &["query", "--index", s(&flat), "--query", "x"]);
    assert_fails_with(
        &out,
        &["flat", "revision sha256:", "now resolves to revision"],
    );
    let out = search(
        dir,
        &[
            "query",
            "--index",
            s(&flat),
            "--query",
            "x",
            "--model",
            s(&copy),
        ],
    );
    assert_fails_with(&out, &["flat", "built with model", "at revision sha256:"]);

    // A truncated embeddings file, a corrupt documents file, a missing graph.
    let damaged = dir.join("damaged");
    test_support::copy_dir(&idx, &damaged);
    let npy = damaged.join("embeddings.1.npy");
    let bytes = std::fs::read(&npy).unwrap();
    std::fs::write(&npy, &bytes[..bytes.len() - 10]).unwrap();
    let out = search(dir, &["query", "--index", s(&damaged), "--query", "x"]);
    assert_fails_with(&out, &["embeddings.1.npy", "truncated"]);
    std::fs::write(&npy, &bytes).unwrap();
    let docs = damaged.join("documents.1.jsonl");
    let mut text = std::fs::read(&docs).unwrap();
    text[20] ^= 0x20;
    std::fs::write(&docs, &text).unwrap();
    let out = search(dir, &["query", "--index", s(&damaged), "--query", "x"]);
    assert_fails_with(&out, &["documents.1.jsonl", "corrupt", "sha256"]);
    std::fs::remove_file(damaged.join("hnsw.1.usearch")).unwrap();
    let out = search(dir, &["query", "--index", s(&damaged), "--query", "x"]);
    assert_fails_with(&out, &["hnsw.1.usearch", "missing"]);

    // A manifest of an unknown version, or without a key.
    let edited = dir.join("edited");
    test_support::copy_dir(&idx, &edited);
    let path = edited.join("manifest.json");
    let original = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, original.replace("\"version\": 1", "\"version\": 7")).unwrap();
    let out = search(dir, &["query", "--index", s(&edited), "--query", "x"]);
    assert_fails_with(&out, &["manifest.json", "version 7", "version 1"]);
    std::fs::write(&path, original.replace("\"dim\": 384,", "")).unwrap();
    let out = search(dir, &["query", "--index", s(&edited), "--query", "x"]);
    assert_fails_with(&out, &["manifest.json", "dim"]);

    // Ranges of the wrong width; an empty corpus; --append to a folder that is no index.
    let ranges = dir.join("narrow.npy");
    data::write_npy_f32(&ranges, &[-1.0, -1.0, 1.0, 1.0], 2, 2).unwrap();
    let docs_txt = dir.join("docs.txt");
    let index_into = |folder: &str, extra: &[&str]| {
        let target = dir.join(folder);
        let mut args = vec![
            "index",
            "--model",
            test_support::MINILM,
            "--corpus",
            s(&docs_txt),
            "--index",
            s(&target),
            "--quiet",
        ];
        args.extend(extra);
        search(dir, &args)
    };
    let out = index_into("narrow", &["--precision", "int8", "--ranges", s(&ranges)]);
    assert_fails_with(&out, &["narrow.npy", "2 values wide", "384"]);
    let out = index_into("plain", &["--append"]);
    assert_fails_with(&out, &["plain", "not a search index"]);
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let out = search(
        dir,
        &[
            "index",
            "--model",
            test_support::MINILM,
            "--corpus",
            s(&empty),
            "--index",
            s(&dir.join("e")),
            "--quiet",
        ],
    );
    assert_fails_with(&out, &["empty.txt"]);
    let out = index_into("idx", &[]);
    assert_fails_with(&out, &["already holds a search index", "--append"]);
}
