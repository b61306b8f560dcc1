//! Public-API tests of the run config: `[[datasets]]` validation and resolving datasets to rows.

use config::{load_training_sets, DataFormat, TrainConfig};
use test_support::pairs_jsonl;

#[test]
fn a_dataset_without_a_loss_or_beside_data_is_refused() {
    let no_loss = r#"
[[datasets]]
name = "qa"
data = { dataset = "qa.jsonl", format = "columns", columns = "anchor=q,positive=a" }
"#;
    let err = TrainConfig::from_toml(no_loss, "t.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("t.toml") && err.contains("loss"), "{err}");

    let both = r#"
[data]
dataset = "snli"
[[datasets]]
data = { dataset = "glue/stsb", format = "sts_pairs" }
loss = { type = "cosent" }
"#;
    let err = TrainConfig::from_toml(both, "t.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("[[datasets]]"), "{err}");

    let twice = r#"
[[datasets]]
data = { dataset = "glue/stsb", format = "sts_pairs" }
loss = { type = "cosent" }
[[datasets]]
data = { dataset = "glue/stsb", format = "sts_pairs" }
loss = { type = "cosine_similarity" }
"#;
    let err = TrainConfig::from_toml(twice, "t.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("datasets[1]") && err.contains("stsb-train"),
        "{err}"
    );
}

#[test]
fn each_dataset_resolves_to_its_rows_and_a_failing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = pairs_jsonl(dir.path(), 12);
    let text = format!(
        r#"
[[datasets]]
name = "qa"
data = {{ dataset = "{pairs}", format = "columns", columns = "anchor=question,positive=answer", max_rows = 5 }}
loss = {{ type = "multiple_negatives_ranking" }}
[[datasets]]
name = "missing"
data = {{ dataset = "{missing}", format = "columns", columns = "anchor=question,positive=answer" }}
loss = {{ type = "multiple_negatives_ranking" }}
"#,
        pairs = pairs.display(),
        missing = dir.path().join("no-such.jsonl").display(),
    );
    let mut config = TrainConfig::from_toml(&text, "t.toml", &[]).unwrap();
    assert_eq!(config.datasets[0].data.format, DataFormat::Columns);
    let client = test_support::client();

    let err = load_training_sets(&client, &config).unwrap_err();
    // The same words train-cli printed before the config crate existed (`{:#}` of the chain).
    assert_eq!(err.to_string(), "dataset: dataset missing");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        cause.contains("no-such.jsonl") && cause.contains("does not exist"),
        "{cause}"
    );

    config.datasets.pop();
    let sets = load_training_sets(&client, &config).unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].len(), 5);
    assert_eq!(sets[0].column_names(), ["anchor", "positive"]);
}
