//! `train-cli predict` and `train-cli rank` on the tiny cross-encoders of
//! crates/model/tests/fixtures/cross_encoder (saved by sentence-transformers 6.3, with its
//! `predict` scores in each reference.json): scores written as arrays and datasets equal the
//! recorded ones; rankings follow the scores; bad input is refused by name. (Parity of the
//! models themselves: crates/model/tests/cross_encoder.rs.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures/cross_encoder")
}

fn model(case: &str) -> String {
    fixtures().join(case).join("model").display().to_string()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The first `n` fixture pairs, and sentence-transformers' default-activation scores of them
/// by the model `case` (one row per pair).
fn reference(case: &str, n: usize) -> (Vec<(String, String)>, Vec<Vec<f32>>) {
    let pairs = json(&fixtures().join("pairs.json"))["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .take(n)
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let scores = json(&fixtures().join(case).join("reference.json"))["scores"]
        .as_array()
        .unwrap()
        .iter()
        .take(n)
        .map(|row| match row {
            Value::Array(items) => items.iter().map(|x| x.as_f64().unwrap() as f32).collect(),
            x => vec![x.as_f64().unwrap() as f32],
        })
        .collect();
    (pairs, scores)
}

fn write_pairs(path: &Path, pairs: &[(String, String)]) {
    let lines: Vec<String> = pairs
        .iter()
        .map(|(q, d)| serde_json::json!({"q": q, "passage": d}).to_string())
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--device", "cpu"]);
    if args[0] != "eval" {
        all.push("--quiet");
    }
    train_cli(&all, &endpoint(), &dir.join("hf"))
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn predict_writes_sentence_transformers_scores_as_a_dataset_and_an_array() {
    let dir = tempfile::tempdir().unwrap();
    for case in ["bert-1", "roberta-3"] {
        let (pairs, want) = reference(case, 20);
        let input = dir.path().join("pairs.jsonl");
        write_pairs(&input, &pairs);
        let out = dir.path().join(format!("{case}.jsonl"));
        let result = run(
            dir.path(),
            &[
                "predict",
                "--model",
                &model(case),
                "--pairs",
                s(&input),
                "--columns",
                "query=q,document=passage",
                "--output",
                s(&out),
                "--batch-size",
                "7",
            ],
        );
        assert!(result.status.success(), "{}", stderr(&result));
        let written = rows(&out);
        assert_eq!(written.len(), pairs.len());
        for (i, (row, want)) in written.iter().zip(&want).enumerate() {
            assert_eq!(row["query"], pairs[i].0.as_str());
            assert_eq!(row["document"], pairs[i].1.as_str());
            let got: Vec<f32> = if want.len() == 1 {
                vec![row["score"].as_f64().unwrap() as f32]
            } else {
                let scores: Vec<f32> = row["scores"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect();
                let best =
                    (0..scores.len()).fold(0, |b, j| if scores[j] > scores[b] { j } else { b });
                assert_eq!(row["label"], best as i64, "{case} row {i}");
                scores
            };
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() <= 1e-5, "{case} row {i}: {g} vs {w}");
            }
        }
        let npy = dir.path().join(format!("{case}.npy"));
        let result = run(
            dir.path(),
            &[
                "predict",
                "--model",
                &model(case),
                "--pairs",
                s(&input),
                "--columns",
                "query=q,document=passage",
                "--output",
                s(&npy),
                "--activation",
                "identity",
            ],
        );
        assert!(result.status.success(), "{}", stderr(&result));
        let (_, n, labels) = data::read_npy_f32(&npy).unwrap();
        assert_eq!((n, labels), (pairs.len(), want[0].len()));
    }
}

#[test]
fn rank_orders_a_query_s_documents_and_each_query_s_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let (pairs, _) = reference("bert-1", 12);
    let documents = dir.path().join("docs.txt");
    let texts: Vec<&str> = pairs
        .iter()
        .map(|(_, d)| d.as_str())
        .filter(|d| !d.trim().is_empty() && !d.contains('\n'))
        .collect();
    std::fs::write(&documents, texts.join("\n") + "\n").unwrap();
    let result = run(
        dir.path(),
        &[
            "rank",
            "--model",
            &model("bert-1"),
            "--query",
            "the cat sits on the mat",
            "--documents",
            s(&documents),
            "--top-k",
            "3",
        ],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let table = String::from_utf8(result.stdout).unwrap();
    assert_eq!(table.lines().count(), 4, "{table}");

    // A retrieval file as `search query --output` writes it: reranked, best first.
    let candidates = dir.path().join("candidates.jsonl");
    let lines: Vec<String> = ["the cat sits on the mat", "music plays loud"]
        .iter()
        .map(|q| {
            let hits: Vec<Value> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| serde_json::json!({"id": i, "score": 1.0 - i as f64 / 100.0, "text": t}))
                .collect();
            serde_json::json!({"query": q, "hits": hits}).to_string()
        })
        .collect();
    std::fs::write(&candidates, lines.join("\n") + "\n").unwrap();
    let bert = model("bert-1");
    let rank_candidates = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "rank",
            "--model",
            bert.as_str(),
            "--candidates",
            s(&candidates),
            "--output",
            s(out),
        ];
        args.extend(extra);
        let result = run(dir.path(), &args);
        assert!(result.status.success(), "{}", stderr(&result));
    };
    let out = dir.path().join("reranked.jsonl");
    rank_candidates(&out, &[]);
    let reranked = rows(&out);
    assert_eq!(reranked.len(), 2);
    for query in &reranked {
        let hits = query["hits"].as_array().unwrap();
        assert_eq!(hits.len(), texts.len());
        let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        for hit in hits {
            let id = hit["id"].as_u64().unwrap() as usize;
            assert_eq!(hit["text"], texts[id]);
        }
    }

    // Fused with the first stage's scores: weight 0 keeps the cross-encoder's order, a large
    // weight gives back the first stage's (ids in order, the scores above descend).
    let ids = |path: &Path| -> Vec<Vec<u64>> {
        rows(path)
            .iter()
            .map(|q| {
                q["hits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h["id"].as_u64().unwrap())
                    .collect()
            })
            .collect()
    };
    for (weight, want) in [
        ("0", ids(&out)),
        ("1000", vec![(0..texts.len() as u64).collect(); 2]),
    ] {
        let fused = dir.path().join(format!("fused-{weight}.jsonl"));
        rank_candidates(&fused, &["--first-stage-weight", weight]);
        assert_eq!(ids(&fused), want, "weight {weight}");
    }
}

#[test]
fn bad_input_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    // A pair file with one column.
    let single = dir.path().join("single.jsonl");
    std::fs::write(&single, "{\"q\": \"a\"}\n{\"q\": \"b\"}\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let result = run(
        dir.path(),
        &[
            "predict",
            "--model",
            &model("bert-1"),
            "--pairs",
            s(&single),
            "--columns",
            "query=q",
            "--output",
            s(&out),
        ],
    );
    assert_fails_with(&result, &["single.jsonl"]);
    assert!(!out.exists());
    // A reranking flag with another task is refused, not ignored.
    let result = run(
        dir.path(),
        &[
            "eval",
            "--model",
            &model("bert-1"),
            "--task",
            "cross-encoder-correlation",
            "--retriever",
            "sentence-transformers/all-MiniLM-L6-v2",
        ],
    );
    assert_fails_with(&result, &["--retriever", "cross-encoder-reranking"]);
    // A file without --columns.
    let result = run(
        dir.path(),
        &[
            "predict",
            "--model",
            &model("bert-1"),
            "--pairs",
            s(&single),
            "--output",
            s(&out),
        ],
    );
    assert_fails_with(&result, &["--columns", "single.jsonl"]);
    // An output of another kind.
    let result = run(
        dir.path(),
        &[
            "predict",
            "--model",
            &model("bert-1"),
            "--pairs",
            s(&single),
            "--columns",
            "query=q",
            "--output",
            s(&dir.path().join("out.txt")),
        ],
    );
    assert_fails_with(&result, &["out.txt", ".npy"]);
    // An activation that is not a torch module.
    let result = run(
        dir.path(),
        &[
            "predict",
            "--model",
            &model("bert-1"),
            "--pairs",
            s(&single),
            "--columns",
            "query=q",
            "--output",
            s(&out),
            "--activation",
            "swish",
        ],
    );
    assert_fails_with(&result, &["swish"]);
    // Ranking with a three-label model.
    let documents = dir.path().join("docs.txt");
    std::fs::write(&documents, "a\nb\n").unwrap();
    let result = run(
        dir.path(),
        &[
            "rank",
            "--model",
            &model("bert-3"),
            "--query",
            "q",
            "--documents",
            s(&documents),
        ],
    );
    assert_fails_with(&result, &["3 labels", "predict"]);
    // A candidates file with a broken line.
    let candidates = dir.path().join("broken.jsonl");
    std::fs::write(
        &candidates,
        "{\"query\": \"q\", \"hits\": []}\n{\"query\": 1}\n",
    )
    .unwrap();
    let result = run(
        dir.path(),
        &[
            "rank",
            "--model",
            &model("bert-1"),
            "--candidates",
            s(&candidates),
        ],
    );
    assert_fails_with(&result, &["broken.jsonl", "line 2"]);
    // A sentence embedding model is not a cross-encoder.
    let result = run(
        dir.path(),
        &[
            "rank",
            "--model",
            s(&minilm_dir()),
            "--query",
            "q",
            "--documents",
            s(&documents),
        ],
    );
    assert_fails_with(&result, &["no sequence-classification head"]);
}

/// `eval --task cross-encoder-reranking --samples` of the bert-1 cross-encoder.
fn eval_samples(dir: &Path, samples: &Path, extra: &[&str]) -> Output {
    let bert = model("bert-1");
    let mut args = vec![
        "eval",
        "--model",
        bert.as_str(),
        "--task",
        "cross-encoder-reranking",
        "--samples",
        s(samples),
    ];
    args.extend(extra);
    run(dir, &args)
}

fn eval_json(dir: &Path, args: &[&str]) -> serde_json::Map<String, Value> {
    let mut all = vec!["eval", "--json"];
    all.extend(args);
    let result = run(dir, &all);
    assert!(result.status.success(), "{}", stderr(&result));
    let text = String::from_utf8(result.stdout).unwrap();
    serde_json::from_str::<Value>(text.trim())
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

#[test]
fn eval_runs_the_cross_encoder_evaluators_on_predict_s_scores() {
    let dir = tempfile::tempdir().unwrap();
    // Correlation on STS-B: the same number as Spearman of predict's scores.
    let metrics = eval_json(
        dir.path(),
        &[
            "--model",
            &model("bert-1"),
            "--task",
            "cross-encoder-correlation",
            "--max-rows",
            "50",
        ],
    );
    let npy = dir.path().join("stsb.npy");
    let result = run(
        dir.path(),
        &[
            "predict",
            "--model",
            &model("bert-1"),
            "--pairs",
            "glue/stsb",
            "--split",
            "validation",
            "--max-rows",
            "50",
            "--output",
            s(&npy),
        ],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let (scores, _, _) = data::read_npy_f32(&npy).unwrap();
    let stsb = test_support::dataset_file("nyu-mll/glue", "stsb/validation-00000-of-00001.parquet");
    let gold: Vec<f64> = data::read_scored_pairs(&stsb, &data::ScoredPairColumns::GLUE)
        .unwrap()
        .iter()
        .take(50)
        .map(|p| f64::from(p.score))
        .collect();
    let scores: Vec<f64> = scores.iter().map(|&x| f64::from(x)).collect();
    let want = eval::spearman(&scores, &gold).unwrap();
    let got = metrics["spearman"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    assert!(metrics.contains_key("pearson"));

    // Classification: three labels on SNLI's classes, one label on its 0/1 pairs.
    let metrics = eval_json(
        dir.path(),
        &[
            "--model",
            &model("bert-3"),
            "--task",
            "cross-encoder-classification",
            "--max-rows",
            "60",
        ],
    );
    assert!(metrics.contains_key("f1_macro") && metrics.contains_key("f1_weighted"));
    let metrics = eval_json(
        dir.path(),
        &[
            "--model",
            &model("bert-1"),
            "--task",
            "cross-encoder-classification",
            "--max-rows",
            "60",
        ],
    );
    assert!(metrics.contains_key("average_precision") && metrics.contains_key("f1_threshold"));

    // Reranking of sentence-transformers' samples.
    let samples = dir.path().join("samples.jsonl");
    let lines = [
        serde_json::json!({"query": "the cat", "positive": ["a cat sits"], "negative": ["a dog runs", "music plays"]}),
        serde_json::json!({"query": "the dog", "positive": ["a dog runs"], "documents": ["music plays", "a dog runs", "a cat sits"]}),
    ];
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&samples, text.join("\n") + "\n").unwrap();
    let metrics = eval_json(
        dir.path(),
        &[
            "--model",
            &model("bert-1"),
            "--task",
            "cross-encoder-reranking",
            "--samples",
            s(&samples),
            "--at-k",
            "5",
        ],
    );
    for key in [
        "map",
        "mrr@5",
        "ndcg@5",
        "base_map",
        "base_mrr@5",
        "base_ndcg@5",
    ] {
        let value = metrics[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {metrics:?}"));
        assert!((0.0..=1.0).contains(&value), "{key} {value}");
    }
    // The second sample's first stage ranks its positive second: MRR 1/2.
    assert!((metrics["base_mrr@5"].as_f64().unwrap() - 0.5).abs() < 1e-12);

    // Bad samples are named by file and line.
    std::fs::write(&samples, format!("{}\n{{\"query\": \"q\"}}\n", text[0])).unwrap();
    let result = eval_samples(dir.path(), &samples, &[]);
    assert_fails_with(&result, &["samples.jsonl", "line 2"]);
    let result = run(
        dir.path(),
        &[
            "eval",
            "--model",
            &model("bert-1"),
            "--task",
            "cross-encoder-reranking",
        ],
    );
    assert_fails_with(&result, &["--samples"]);
}

/// `predict --skip` scores the rows after the ones a model trained on (the same scores as the
/// longer run's tail); with 0/1 gold scores and sigmoid scores it prints their agreement;
/// three columns give the teacher's margin of each row.
#[test]
fn predict_scores_a_slice_reports_agreement_and_writes_margins() {
    let dir = tempfile::tempdir().unwrap();
    let model_path = model("bert-1");
    let predict = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "predict",
            "--model",
            &model_path,
            "--pairs",
            "glue/mnli",
            "--format",
            "scored_pairs",
            "--output",
        ];
        let out = s(out).to_string();
        args.push(&out);
        args.extend(extra);
        let result = run(dir.path(), &args);
        assert!(result.status.success(), "{}", stderr(&result));
        stderr(&result)
    };
    let head = dir.path().join("head.jsonl");
    predict(&head, &["--max-rows", "15"]);
    let tail = dir.path().join("tail.jsonl");
    let log = predict(&tail, &["--skip", "5", "--max-rows", "10"]);
    let (head, tail) = (rows(&head), rows(&tail));
    assert_eq!(tail.len(), 10);
    for (a, b) in head[5..].iter().zip(&tail) {
        assert_eq!(a["sentence1"], b["sentence1"]);
        assert!((a["score"].as_f64().unwrap() - b["score"].as_f64().unwrap()).abs() < 1e-6);
    }
    let agree = tail
        .iter()
        .filter(|r| (r["score"].as_f64().unwrap() >= 0.5) == (r["gold_score"] == 1.0))
        .count();
    assert!(
        log.contains(&format!("{agree} of 10 pairs")),
        "expected {agree} agreeing: {log}"
    );

    // Margins: score(q, p) - score(q, n) of the raw logits, as two pair runs give them.
    let (pairs, _) = reference("bert-1", 12);
    let triplets = dir.path().join("triplets.jsonl");
    let lines: Vec<String> = pairs
        .chunks(2)
        .map(|c| serde_json::json!({"q": c[0].0, "p": c[0].1, "n": c[1].1}).to_string())
        .collect();
    std::fs::write(&triplets, lines.join("\n") + "\n").unwrap();
    let score = |columns: &str, out: &Path| {
        let result = run(
            dir.path(),
            &[
                "predict",
                "--model",
                &model_path,
                "--pairs",
                s(&triplets),
                "--columns",
                columns,
                "--activation",
                "identity",
                "--output",
                s(out),
            ],
        );
        assert!(result.status.success(), "{}", stderr(&result));
        rows(out)
    };
    let margins = score(
        "query=q,positive=p,negative=n",
        &dir.path().join("margins.jsonl"),
    );
    let positives = score("query=q,positive=p", &dir.path().join("p.jsonl"));
    let negatives = score("query=q,negative=n", &dir.path().join("n.jsonl"));
    assert_eq!(margins.len(), 6);
    for ((m, p), n) in margins.iter().zip(&positives).zip(&negatives) {
        let want = p["score"].as_f64().unwrap() - n["score"].as_f64().unwrap();
        assert!(
            (m["score"].as_f64().unwrap() - want).abs() < 1e-5,
            "{m} {p} {n}"
        );
        assert_eq!(m["negative"], n["negative"]);
    }
}

/// `eval --retriever`: a bi-encoder's exact top-k of a retrieval task (a BEIR folder here)
/// becomes the reranking samples, written with --write-samples and scored with the first
/// stage's order as `base_*`.
#[test]
fn eval_reranks_a_retrievers_first_stage() {
    let dir = tempfile::tempdir().unwrap();
    let beir = dir.path().join("beir");
    std::fs::create_dir_all(beir.join("qrels")).unwrap();
    let docs = [
        "a cat sits on the mat",
        "a dog runs in the park",
        "music plays in the hall",
        "a bird sings",
        "rain falls on the town",
        "wind blows at night",
    ];
    let corpus: String = docs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "{}\n",
                serde_json::json!({"_id": format!("d{i}"), "title": "", "text": t})
            )
        })
        .collect();
    std::fs::write(beir.join("corpus.jsonl"), corpus).unwrap();
    let queries = [("q0", "where is the cat", "d0"), ("q1", "a dog", "d1")];
    let text: String = queries
        .iter()
        .map(|(id, t, _)| format!("{}\n", serde_json::json!({"_id": id, "text": t})))
        .collect();
    std::fs::write(beir.join("queries.jsonl"), text).unwrap();
    let qrels: String = queries
        .iter()
        .map(|(q, _, d)| format!("{q}\t{d}\t1\n"))
        .collect();
    std::fs::write(
        beir.join("qrels/test.tsv"),
        format!("query-id\tcorpus-id\tscore\n{qrels}"),
    )
    .unwrap();
    let written = dir.path().join("first-stage.jsonl");
    let metrics = eval_json(
        dir.path(),
        &[
            "--model",
            &model("bert-1"),
            "--task",
            "cross-encoder-reranking",
            "--beir",
            s(&beir),
            "--split",
            "test",
            "--retriever",
            s(&minilm_dir()),
            "--top-k",
            "3",
            "--rerank-found-only",
            "--write-samples",
            s(&written),
        ],
    );
    assert!(metrics.contains_key("base_ndcg@10") && metrics.contains_key("ndcg@10"));
    let samples = rows(&written);
    assert_eq!(samples.len(), 2);
    for (sample, (_, query, doc)) in samples.iter().zip(&queries) {
        assert_eq!(sample["query"], *query);
        let want = docs[doc[1..].parse::<usize>().unwrap()];
        assert_eq!(sample["positive"], serde_json::json!([want]));
        assert_eq!(sample["documents"].as_array().unwrap().len(), 3);
    }
    // MiniLM finds each query's document first, so the first stage is perfect.
    assert!(
        (metrics["base_ndcg@10"].as_f64().unwrap() - 1.0).abs() < 1e-12,
        "{metrics:?}"
    );

    // The samples it wrote evaluate the same way through --samples.
    let bert = model("bert-1");
    let from_samples = |extra: &[&str]| {
        let mut args = vec![
            "--model",
            bert.as_str(),
            "--task",
            "cross-encoder-reranking",
            "--samples",
            s(&written),
            "--rerank-found-only",
        ];
        args.extend(extra);
        eval_json(dir.path(), &args)
    };
    let again = from_samples(&[]);
    assert_eq!(again["ndcg@10"], metrics["ndcg@10"]);

    // The first stage's scores travel with the samples, best first, for score fusion.
    for sample in &samples {
        let scores: Vec<f64> = sample["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(scores.len(), 3);
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    }
    let fused = |weight: &str| from_samples(&["--first-stage-weight", weight]);
    // Weight 0 is the cross-encoder alone; a large weight is the (perfect) first stage.
    let alone = fused("0");
    assert_eq!(alone["fused_ndcg@10"], metrics["ndcg@10"], "{alone:?}");
    assert_eq!(alone["fused_map"], metrics["map"], "{alone:?}");
    let first = fused("1000");
    assert!(
        (first["fused_ndcg@10"].as_f64().unwrap() - 1.0).abs() < 1e-12,
        "{first:?}"
    );
    assert_eq!(first["ndcg@10"], metrics["ndcg@10"], "{first:?}");

    // Samples without first-stage scores, or a negative weight: refused by name.
    let plain = dir.path().join("plain.jsonl");
    let text: String = samples
        .iter()
        .map(|row| {
            let mut row = row.clone();
            row.as_object_mut().unwrap().remove("scores");
            format!("{row}\n")
        })
        .collect();
    std::fs::write(&plain, text).unwrap();
    let result = eval_samples(dir.path(), &plain, &["--first-stage-weight", "1"]);
    assert_fails_with(&result, &["sample 0", "plain.jsonl", "scores"]);
    let result = eval_samples(dir.path(), &written, &["--first-stage-weight=-1"]);
    assert_fails_with(&result, &["--first-stage-weight", "-1"]);
}
