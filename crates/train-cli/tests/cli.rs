//! End-to-end runs of the `train-cli` binary against the configured hub endpoint (`HF_ENDPOINT`).

mod common;

use common::*;

#[test]
fn eval_minilm_on_stsb_validation_matches_sentence_transformers() {
    let endpoint = endpoint();
    let home = tempfile::tempdir().unwrap();
    let args = [
        "eval",
        "--model",
        "sentence-transformers/all-MiniLM-L6-v2",
        "--dataset",
        "glue/stsb",
        "--split",
        "validation",
        "--json",
        "--device",
        "cpu",
    ];
    let out = train_cli(&args, &endpoint, home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let metrics: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    let keys = [
        "pearson_cosine",
        "spearman_cosine",
        "pearson_euclidean",
        "spearman_euclidean",
        "pearson_manhattan",
        "spearman_manhattan",
        "pearson_dot",
        "spearman_dot",
    ];
    assert_eq!(metrics.as_object().unwrap().len(), keys.len());
    for key in keys {
        assert!(metrics[key].is_f64(), "missing {key}");
    }
    // sentence-transformers 6.2 on the same model and split: 0.86962 / 0.86716
    let pearson = metrics["pearson_cosine"].as_f64().unwrap();
    let spearman = metrics["spearman_cosine"].as_f64().unwrap();
    assert!((pearson - 0.8696).abs() <= 5e-4, "pearson_cosine {pearson}");
    assert!(
        (spearman - 0.8672).abs() <= 5e-4,
        "spearman_cosine {spearman}"
    );
    // The files went into the standard cache layout.
    let cached = home.path().join("hub/datasets--nyu-mll--glue");
    assert!(cached.is_dir(), "dataset not cached under HF_HOME/hub");
}

#[test]
fn encode_text_lines_to_npy_and_parquet_column_to_parquet() {
    let endpoint = endpoint();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.txt");
    std::fs::write(
        &input,
        "A man is playing a guitar.\nA woman slices an onion.\nThe cat sleeps.\n",
    )
    .unwrap();
    let npy = work.path().join("out.npy");
    let model = minilm_dir();
    let out = train_cli(
        &[
            "encode",
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            npy.to_str().unwrap(),
            "--device",
            "cpu",
            "--quiet",
        ],
        &endpoint,
        home.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (values, rows, dim) = data::read_npy_f32(&npy).unwrap();
    assert_eq!((rows, dim), (3, 384));
    for row in values.chunks(dim) {
        let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-5,
            "all-MiniLM-L6-v2 normalises: norm {norm}"
        );
    }

    let stsb = stsb_test_parquet();
    let parquet_out = work.path().join("out.parquet");
    let out = train_cli(
        &[
            "encode",
            "--model",
            "sentence-transformers/all-MiniLM-L6-v2",
            "--input",
            stsb.to_str().unwrap(),
            "--column",
            "sentence1",
            "--output",
            parquet_out.to_str().unwrap(),
            "--batch-size",
            "64",
            "--quiet",
        ],
        &endpoint,
        home.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let texts = data::read_text_column(&parquet_out, "text").unwrap();
    assert_eq!(texts.len(), 1379);
    assert_eq!(
        texts,
        data::read_text_column(&stsb, "sentence1").unwrap(),
        "rows keep input order"
    );
}

/// The SNLI-validation retrieval task (premises as queries, all hypotheses as the corpus)
/// with all-MiniLM-L6-v2 gives sentence-transformers' InformationRetrievalEvaluator metrics.
/// Reference: tests/fixtures/nli_retrieval_minilm.json, made by make_nli_retrieval_fixture.py
/// (sentence-transformers 6.2.0, torch 2.11.0, CPU fp32).
#[test]
fn eval_retrieval_on_snli_matches_sentence_transformers() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/nli_retrieval_minilm.json")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let args = [
        "eval",
        "--model",
        "sentence-transformers/all-MiniLM-L6-v2",
        "--task",
        "retrieval",
        "--dataset",
        "snli",
        "--split",
        "validation",
        "--json",
        "--device",
        "cpu",
    ];
    let out = train_cli(&args, &endpoint(), home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let ours: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    let reference = fixture["metrics"].as_object().unwrap();
    let mut keys: Vec<&String> = ours.keys().collect();
    let mut expected: Vec<&String> = reference.keys().collect();
    keys.sort();
    expected.sort();
    assert_eq!(
        keys, expected,
        "metric keys differ from sentence-transformers'"
    );
    // Embeddings agree to about 1e-6, not bit for bit (oneDNN's products here, MKL's there),
    // so a query whose relevant document sits in a near-tie at rank k may count on one side
    // only: a count metric at k may differ by one query's share (measured: one query of 3,074
    // at k = 5, the rank-averaged metrics within 1.1e-5).
    let queries = fixture["queries"].as_f64().unwrap();
    for (key, value) in reference {
        let (a, b) = (ours[key].as_f64().unwrap(), value.as_f64().unwrap());
        let counted = ["accuracy@", "precision@", "recall@"]
            .iter()
            .any(|m| key.contains(m));
        let tolerance = if counted { 1.0 / queries + 1e-9 } else { 1e-4 };
        assert!(
            (a - b).abs() <= tolerance,
            "{key}: ours {a}, sentence-transformers {b}"
        );
    }
}
