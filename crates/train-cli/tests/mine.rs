//! `train-cli mine`: hard negatives for MNLI's (premise, entailment hypothesis) pairs with
//! all-MiniLM-L6-v2, through the hub endpoint; the outputs `train` reads; the embedding cache;
//! bad input named before any work. (Parity of the mining itself with sentence-transformers:
//! crates/retrieval/tests/parity.rs.)

mod common;

use std::path::Path;

use common::*;

fn mine(dir: &Path, extra: &[&str]) -> std::process::Output {
    let home = dir.join("hf");
    let mut args = vec![
        "mine",
        "--model",
        test_support::MINILM,
        "--pairs",
        "glue/mnli",
        "--max-rows",
        "120",
        "--device",
        "cpu",
        "--quiet",
    ];
    args.extend(extra);
    let _ = std::fs::create_dir_all(&home);
    train_cli(&args, &endpoint(), &home)
}

fn jsonl_rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn mined_triplets_exclude_positives_and_train_reads_them() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let out = dir.join("triplets.jsonl");
    let cache = dir.join("cache");
    let run = mine(
        dir,
        &[
            "--output",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--output-scores",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    for line in ["Metric", "Count", "Mean", "Median", "Std", "25%", "Max"] {
        assert!(stdout.contains(line), "statistics lack {line}:\n{stdout}");
    }
    let rows = jsonl_rows(&out);
    assert!(rows.len() >= 120, "{} triplets for 120 pairs", rows.len());
    let mut positives_of = std::collections::HashMap::<String, Vec<String>>::new();
    for row in &rows {
        positives_of
            .entry(row["anchor"].as_str().unwrap().into())
            .or_default()
            .push(row["positive"].as_str().unwrap().into());
    }
    for row in &rows {
        let (anchor, negative) = (
            row["anchor"].as_str().unwrap(),
            row["negative"].as_str().unwrap(),
        );
        assert_ne!(anchor, negative, "an anchor mined as its own negative");
        assert!(
            !positives_of[anchor].iter().any(|p| p == negative),
            "a positive of {anchor:?} mined as a negative"
        );
        let scores = row["scores"].as_array().unwrap();
        assert_eq!(scores.len(), 2);
    }
    let cached = std::fs::read_dir(&cache).unwrap().count();
    assert_eq!(cached, 2, "one query and one corpus embedding file");

    // Other filters, another format: the cached embeddings serve, nothing is re-encoded.
    let tuples = dir.join("tuples.parquet");
    let run = mine(
        dir,
        &[
            "--output",
            tuples.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--format",
            "n-tuple",
            "--num-negatives",
            "2",
            "--relative-margin",
            "0.05",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), cached);
    for column in ["anchor", "positive", "negative_1", "negative_2"] {
        assert!(!data::read_text_column(&tuples, column).unwrap().is_empty());
    }

    // The mined triplets train as they are.
    let model = dir.join("trained");
    let train = train_cli(
        &[
            "--dataset",
            out.to_str().unwrap(),
            "--set",
            "data.format=\"columns\"",
            "--set",
            "data.columns=\"anchor=anchor,positive=positive,negative=negative\"",
            "--set",
            "evaluation={ evaluators = [] }",
            "--max-steps",
            "2",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--quiet",
            "--output",
            model.to_str().unwrap(),
        ],
        &endpoint(),
        &dir.join("hf"),
    );
    assert!(train.status.success(), "{}", stderr(&train));
    assert!(model.join("model.safetensors").is_file());
}

#[test]
fn bad_mining_input_is_named_before_any_work() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let out = dir.join("out.jsonl");
    let o = out.to_str().unwrap();
    assert_fails_with(
        &mine(dir, &["--output", o, "--corpus", "no/such/corpus.txt"]),
        &["no/such/corpus.txt"],
    );
    assert_fails_with(
        &mine(
            dir,
            &["--output", o, "--range-min", "10", "--range-max", "5"],
        ),
        &["range_min", "range_max"],
    );
    assert_fails_with(
        &mine(
            dir,
            &["--output", o, "--range-max", "4", "--num-negatives", "5"],
        ),
        &["num_negatives", "5"],
    );
    assert_fails_with(&mine(dir, &["--output", "out.csv"]), &["out.csv", ".jsonl"]);

    let pairs = dir.join("pairs.jsonl");
    std::fs::write(
        &pairs,
        "{\"q\": \"a cat\", \"a\": \"a feline\"}\n{\"q\": \"a dog\", \"a\": \"\"}\n",
    )
    .unwrap();
    let mine_file = |extra: &[&str]| {
        let mut args = vec![
            "mine",
            "--model",
            test_support::MINILM,
            "--pairs",
            pairs.to_str().unwrap(),
            "--columns",
            "anchor=q,positive=a",
            "--output",
            o,
        ];
        args.extend(extra);
        train_cli(&args, &endpoint(), &dir.join("hf"))
    };
    assert_fails_with(&mine_file(&[]), &["pairs.jsonl", "line 2", "empty"]);
    assert!(!out.exists(), "a refused run wrote its output");

    assert_fails_with(
        &mine_file(&["--all-hypotheses"]),
        &["--all-hypotheses", "pairs.jsonl"],
    );
}

/// The corpus size `mine` reports ("a corpus of N").
fn corpus_size(run: &std::process::Output) -> usize {
    let err = stderr(run);
    let tail = err
        .split("a corpus of ")
        .nth(1)
        .unwrap_or_else(|| panic!("no corpus size in:\n{err}"));
    tail.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no corpus size in:\n{err}"))
}

#[test]
fn all_hypotheses_put_the_non_entailments_in_the_corpus() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let plain = dir.join("plain.jsonl");
    let all = dir.join("all.jsonl");
    let common = ["--format", "n-tuple", "--num-negatives", "3"];
    let run = mine(
        dir,
        &[&["--output", plain.to_str().unwrap()], &common[..]].concat(),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let plain_corpus = corpus_size(&run);
    let run = mine(
        dir,
        &[
            &["--output", all.to_str().unwrap(), "--all-hypotheses"],
            &common[..],
        ]
        .concat(),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    // MNLI is balanced: the rows up to the 120th entailment hold about twice as many
    // neutral and contradiction hypotheses.
    let all_corpus = corpus_size(&run);
    assert!(
        all_corpus > 2 * plain_corpus,
        "{all_corpus} texts with every hypothesis against {plain_corpus} entailments"
    );

    let (plain_rows, all_rows) = (jsonl_rows(&plain), jsonl_rows(&all));
    assert_eq!(plain_rows.len(), all_rows.len(), "the same pairs");
    let entailments: std::collections::HashSet<&str> = plain_rows
        .iter()
        .map(|r| r["positive"].as_str().unwrap())
        .collect();
    let negatives = |rows: &[serde_json::Value]| -> Vec<String> {
        rows.iter()
            .flat_map(|r| (1..=3).map(move |i| r[format!("negative_{i}")].clone()))
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(negatives(&plain_rows)
        .iter()
        .all(|n| entailments.contains(n.as_str())));
    let others = negatives(&all_rows)
        .into_iter()
        .filter(|n| !entailments.contains(n.as_str()))
        .count();
    assert!(
        others > all_rows.len(),
        "only {others} of the negatives are neutral or contradiction hypotheses"
    );
}
