//! Every `train-cli` command the README shows, and every command quoted in `--help`, runs and
//! succeeds — so an example can never go stale. Each runs as written, in a folder holding the
//! files the examples name (`qa.jsonl`, `./my-model`, …), with only its size cut: training
//! keeps 40 rows for 2 steps without evaluators, `eval` keeps 16 rows (4 retrieval queries),
//! `mine` and `predict` 40 pairs (`encode`, `search` and `rank` run on the 40-line files as
//! written; `./my-reranker` is the tiny BERT cross-encoder fixture), and a base
//! model the endpoint does not hold is replaced by all-MiniLM-L6-v2.
//! Models and datasets come through the hub client from `HF_ENDPOINT`, as for users.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

#[test]
fn every_readme_and_help_example_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut examples =
        test_support::markdown_commands(&readme, "cargo run --release -p train-cli --");
    let readme_count = examples.len();
    assert!(readme_count >= 25, "found only {examples:?}");

    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    lay_out_example_files(dir, &root);

    for help in [
        &["--help"][..],
        &["train", "--help"],
        &["encode", "--help"],
        &["eval", "--help"],
        &["predict", "--help"],
        &["rank", "--help"],
    ] {
        let out = run(dir, help);
        assert!(out.status.success(), "train-cli {help:?}: {}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        examples.extend(test_support::quoted_commands(&text, "train-cli"));
    }
    assert!(examples.len() > readme_count, "no examples in --help texts");

    for example in &examples {
        let args = shrunk(example);
        let shown = format!("train-cli {}", example.join(" "));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut out = run(dir, &argv);
        if !out.status.success() && stderr(&out).contains("not found in model repo") {
            // The book's configs name google-bert/bert-base-uncased, which a mirror may not
            // hold: the same example on the model the tests have.
            eprintln!(
                "{shown}: its model is not on this endpoint; run with {}",
                test_support::MINILM
            );
            let mut args = args.clone();
            set_flag(&mut args, "--model", test_support::MINILM);
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            out = run(dir, &argv);
        }
        assert!(
            out.status.success(),
            "the example `{shown}` (run as {args:?}) failed:\n{}",
            stderr(&out)
        );
    }
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    // The environment's hub settings (HF_ENDPOINT, HF_HOME) are the user's: inherited.
    Command::new(train_cli_binary())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run train-cli")
}

/// The example with its work cut to a test's size; what it says is otherwise unchanged.
fn shrunk(example: &[String]) -> Vec<String> {
    let mut args = example.to_vec();
    if args.iter().any(|a| a == "--help") {
        return args;
    }
    let on_cuda = args
        .windows(2)
        .any(|w| w[0] == "--device" && w[1].starts_with("cuda"));
    if on_cuda && !tch::Cuda::is_available() {
        // `--device cuda` on a machine without one: the same command on the CPU.
        set_flag(&mut args, "--device", "cpu");
    }
    match args.first().map(String::as_str) {
        // `search` examples work on the small files laid out below as they are.
        Some("encode" | "search") => {}
        Some("mine" | "predict") => set_flag(&mut args, "--max-rows", "40"),
        // `rank` examples work on the small files laid out below as they are.
        Some("rank") => {}
        Some("eval") => {
            set_flag(&mut args, "--max-rows", "16");
            if args.iter().any(|a| a == "retrieval" || a == "--retriever") {
                set_flag(&mut args, "--max-queries", "4");
            }
        }
        _ => {
            set_flag(&mut args, "--max-rows", "40");
            set_flag(&mut args, "--max-steps", "2");
            if !args.iter().any(|a| a == "--quiet") {
                args.push("--quiet".into());
            }
            // No evaluation (its settings, `metric_for_best_model` too, go with it): the
            // configs' evaluators are checked by config's every_shipped_config_parses.
            args.extend(["--set".into(), "evaluation={ evaluators = [] }".into()]);
        }
    }
    args
}

/// Sets `flag`'s value, in place when the example gives one (clap refuses a flag twice).
fn set_flag(args: &mut Vec<String>, flag: &str, value: &str) {
    match args.iter().position(|a| a == flag) {
        Some(i) if i + 1 < args.len() => args[i + 1] = value.into(),
        _ => args.extend([flag.into(), value.into()]),
    }
}

/// The files the examples name, small: texts, a parquet column, pairs, a BEIR folder, a model
/// with `query`/`passage` prompts, and the shipped configs.
fn lay_out_example_files(dir: &Path, root: &Path) {
    std::os::unix::fs::symlink(
        root.join("configs").canonicalize().unwrap(),
        dir.join("configs"),
    )
    .unwrap();
    let texts: Vec<String> = (0..40)
        .map(|i| {
            let w = |k: usize| test_support::WORDS[(i * 7 + k * 5) % test_support::WORDS.len()];
            format!("the {} {} on the {} {}", w(0), w(1), w(2), w(3))
        })
        .collect();
    let lines = texts.join("\n") + "\n";
    for name in [
        "sentences.txt",
        "queries.txt",
        "docs.txt",
        "more-docs.txt",
        "my-domain.txt",
    ] {
        std::fs::write(dir.join(name), &lines).unwrap();
    }
    data::write_embeddings_parquet(dir.join("data.parquet"), &texts, &vec![0.0; texts.len()], 1)
        .unwrap();
    let pairs = test_support::pairs_jsonl(dir, 40);
    std::fs::rename(pairs, dir.join("qa.jsonl")).unwrap();

    let samples: Vec<String> = texts
        .chunks(4)
        .map(|c| {
            serde_json::json!({ "query": c[0], "positive": [c[1]], "negative": [c[2], c[3]] })
                .to_string()
        })
        .collect();
    std::fs::write(dir.join("samples.jsonl"), samples.join("\n") + "\n").unwrap();
    let triplets: Vec<String> = texts
        .chunks(3)
        .filter(|c| c.len() == 3)
        .map(|c| serde_json::json!({ "q": c[0], "p": c[1], "n": c[2] }).to_string())
        .collect();
    std::fs::write(dir.join("triplets.jsonl"), triplets.join("\n") + "\n").unwrap();

    let mut dups = String::from("question1,question2,is_duplicate\n");
    for (i, pair) in texts.chunks(2).enumerate() {
        dups.push_str(&format!("{},{},{}\n", pair[0], pair[1], i % 2));
    }
    std::fs::write(dir.join("dups.csv"), dups).unwrap();

    let beir = dir.join("scifact");
    std::fs::create_dir_all(beir.join("qrels")).unwrap();
    let mut corpus = String::new();
    let mut queries = String::new();
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    for (i, text) in texts.iter().enumerate() {
        let doc = serde_json::json!({ "_id": format!("d{i}"), "title": "", "text": text });
        corpus.push_str(&format!("{doc}\n"));
        if i % 4 == 0 {
            let query = serde_json::json!({ "_id": format!("q{i}"), "text": text });
            queries.push_str(&format!("{query}\n"));
            qrels.push_str(&format!("q{i}\td{i}\t1\n"));
        }
    }
    std::fs::write(beir.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(beir.join("queries.jsonl"), queries).unwrap();
    std::fs::write(beir.join("qrels/test.tsv"), qrels).unwrap();

    // A reranker: the tiny BERT cross-encoder sentence-transformers saved for the model
    // crate's parity tests.
    std::os::unix::fs::symlink(
        root.join("crates/model/tests/fixtures/cross_encoder/bert-1/model")
            .canonicalize()
            .unwrap(),
        dir.join("my-reranker"),
    )
    .unwrap();

    let model: PathBuf = dir.join("my-model");
    link_minilm(&model);
    let prompts = serde_json::json!({
        "prompts": { "query": "query: ", "passage": "passage: " },
        "default_prompt_name": null,
        "similarity_fn_name": "cosine",
    });
    replace(
        &model,
        "config_sentence_transformers.json",
        prompts.to_string().as_bytes(),
    );
}
