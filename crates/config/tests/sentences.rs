//! `format = "sentences"` end to end: a config parsed and validated, its sentences loaded and
//! paired into training rows; the hub case through a loopback mirror of a tiny NLI file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use config::{known_dataset_file, load_training_set, load_training_sets, TrainConfig};
use data::{split_words, KnownDataset, TargetColumn, TrainingSet};
use parquet::arrow::ArrowWriter;

const SENTENCES: [&str; 10] = [
    "The cat sits on the mat.",
    "A dog runs in the park, fast.",
    "Birds sing.",
    "The cat sits on the mat.",
    "It's a small red house.",
    "Green trees grow tall.",
    "Cars drive on roads.",
    "The sun is bright today!",
    "She reads a book.",
    "We don't know (yet).",
];

fn corpus(dir: &Path) -> PathBuf {
    let path = dir.join("corpus.txt");
    std::fs::write(&path, SENTENCES.join("\n") + "\n").unwrap();
    path
}

fn config(text: &str) -> config::Result<TrainConfig> {
    TrainConfig::from_toml(text, "t.toml", &[])
}

/// The rows of a `[data]` section over `dataset`, with `extra` TOML appended.
fn load(dataset: &Path, data: &str, extra: &str) -> TrainingSet {
    let text = format!(
        "[data]\ndataset = \"{}\"\nformat = \"sentences\"\n{data}\n{extra}",
        dataset.display()
    );
    let config = config(&text).unwrap_or_else(|e| panic!("{e}"));
    load_training_set(&test_support::client(), &config.data, config.training.seed)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn text_file_without_pairing_is_one_text_column_not_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let set = load(&corpus(dir.path()), "", "");
    assert_eq!(set.column_names(), ["text"]);
    assert_eq!(set.target(), &TargetColumn::None);
    assert_eq!(set.columns()[0], SENTENCES);

    let set = load(&corpus(dir.path()), "max_rows = 3", "");
    assert_eq!(set.columns()[0], SENTENCES[..3]);
}

#[test]
fn denoising_pairs_are_noisy_and_original_and_repeat_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = corpus(dir.path());
    let set = load(&path, "pairing = { type = \"denoising\" }", "");
    assert_eq!(set.column_names(), ["noisy", "original"]);
    assert_eq!(set.target(), &TargetColumn::None);
    assert_eq!(set.columns()[1], SENTENCES);
    for (noisy, original) in set.columns()[0].iter().zip(&set.columns()[1]) {
        let (kept, all) = (split_words(noisy), split_words(original));
        assert!(!kept.is_empty() && kept.len() <= all.len(), "{noisy:?}");
        let mut rest = all.iter();
        assert!(kept.iter().all(|w| rest.any(|a| a == w)), "{noisy:?}");
    }
    // The default ratio 0.6 deletes words; a reload (a resumed run) draws the same noise; the
    // training seed changes it.
    assert!(set.columns()[0] != set.columns()[1]);
    assert_eq!(set, load(&path, "pairing = { type = \"denoising\" }", ""));
    let reseeded = load(
        &path,
        "pairing = { type = \"denoising\" }",
        "[training]\nseed = 7",
    );
    assert_ne!(set.columns()[0], reseeded.columns()[0]);

    let kept_all = load(
        &path,
        "pairing = { type = \"denoising\", deletion_ratio = 0.0 }",
        "",
    );
    assert_eq!(kept_all.columns()[0], kept_all.columns()[1]);
}

#[test]
fn identical_pairs_repeat_each_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let set = load(
        &corpus(dir.path()),
        "[data.pairing]\ntype = \"identical\"",
        "",
    );
    assert_eq!(set.column_names(), ["anchor", "positive"]);
    assert_eq!(set.target(), &TargetColumn::None);
    assert_eq!(set.columns()[0], SENTENCES);
    assert_eq!(set.columns()[1], SENTENCES);
}

#[test]
fn contrastive_tension_rows_start_each_group_with_an_identical_pair() {
    let dir = tempfile::tempdir().unwrap();
    let set = load(
        &corpus(dir.path()),
        "pairing = { type = \"contrastive_tension\", pos_neg_ratio = 2 }",
        "[training]\nbatch_sampler = \"sequential\"\nbatch_size = 4",
    );
    assert_eq!(set.column_names(), ["sentence1", "sentence2"]);
    let TargetColumn::Scores(scores) = set.target() else {
        panic!("a score target expected, got {:?}", set.target());
    };
    // 10 sentences; a group (1 identical + 1 different pair) uses 3: three groups use 9, and
    // the last sentence alone makes no row (the loader's `while sentence_idx + 1 < len`).
    assert_eq!(scores, &[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    for (k, &score) in scores.iter().enumerate() {
        let row = set.row_texts(k);
        if score == 1.0 {
            assert_eq!(row[0], row[1], "row {k}");
        }
        assert!(SENTENCES.contains(&row[0]) && SENTENCES.contains(&row[1]));
    }
    // Shuffled with the training seed.
    let reseeded = load(
        &corpus(dir.path()),
        "pairing = { type = \"contrastive_tension\", pos_neg_ratio = 2 }",
        "[training]\nbatch_sampler = \"sequential\"\nbatch_size = 4\nseed = 7",
    );
    assert_eq!(reseeded.target(), set.target());
    assert_ne!(reseeded, set);
}

#[test]
fn user_file_column_is_read_through_the_text_role() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    std::fs::write(
        &path,
        "{\"id\": 1, \"sentence\": \"first\"}\n{\"id\": 2, \"sentence\": \"first\"}\n",
    )
    .unwrap();
    let set = load(&path, "columns = \"text=sentence\"", "");
    assert_eq!(set.columns()[0], ["first", "first"]);

    std::fs::write(&path, "{\"sentence\": \"first\"}\n{\"sentence\": \"\"}\n").unwrap();
    let text = format!(
        "[data]\ndataset = \"{}\"\nformat = \"sentences\"\ncolumns = \"text=sentence\"",
        path.display()
    );
    let c = config(&text).unwrap();
    let err = load_training_set(&test_support::client(), &c.data, 0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s.jsonl: line 2, column `sentence`: empty text"),
        "{err}"
    );
}

#[test]
fn empty_line_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gaps.txt");
    std::fs::write(&path, "one\ntwo\n   \nfour\n").unwrap();
    let text = format!(
        "[data]\ndataset = \"{}\"\nformat = \"sentences\"\npairing = {{ type = \"identical\" }}",
        path.display()
    );
    let c = config(&text).unwrap();
    let err = load_training_set(&test_support::client(), &c.data, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("gaps.txt: line 3: empty line"), "{err}");
}

#[test]
fn invalid_pairings_are_refused_naming_the_key() {
    for ratio in ["1.0", "-0.1"] {
        let err = config(&format!(
            "[data]\ndataset = \"c.txt\"\nformat = \"sentences\"\n\
             pairing = {{ type = \"denoising\", deletion_ratio = {ratio} }}"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("data.pairing.deletion_ratio must be in [0, 1)"),
            "{err}"
        );
        let err = config(&format!(
            "[[datasets]]\nloss = {{ type = \"multiple_negatives_ranking\" }}\n\
             data = {{ dataset = \"c.txt\", format = \"sentences\", \
             pairing = {{ type = \"denoising\", deletion_ratio = {ratio} }} }}"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("datasets[0].data.pairing.deletion_ratio must be in [0, 1)"),
            "{err}"
        );
    }

    let err = config("[data]\ndataset = \"snli\"\npairing = { type = \"identical\" }")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data.pairing is only read with format = \"sentences\""),
        "{err}"
    );

    let err = config(
        "[data]\ndataset = \"c.txt\"\nformat = \"sentences\"\n\
         pairing = { type = \"contrastive_tension\" }",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("data.pairing.type = \"contrastive_tension\" needs training.batch_sampler")
            && err.contains("got \"no_duplicates\"")
            && err.contains("one identical pair first in every group of pos_neg_ratio"),
        "{err}"
    );

    let err =
        config("[data]\ndataset = \"c.txt\"\nformat = \"sentences\"\ncolumns = \"text=sentence\"")
            .unwrap_err()
            .to_string();
    assert!(err.contains("data.columns picks a column"), "{err}");
    let err = config(
        "[data]\ndataset = \"c.csv\"\nformat = \"sentences\"\ncolumns = \"anchor=sentence\"",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("data.columns must map one column to the role `text`"),
        "{err}"
    );
}

/// Writes an NLI parquet file (premise, hypothesis, label) at `path`.
fn write_nli(path: &Path, rows: &[(&str, &str, i64)]) {
    let texts = |pick: usize| -> ArrayRef {
        let values: Vec<&str> = rows.iter().map(|r| [r.0, r.1][pick]).collect();
        Arc::new(StringArray::from(values))
    };
    let labels: Vec<i64> = rows.iter().map(|r| r.2).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("premise", texts(0)),
        ("hypothesis", texts(1)),
        ("label", Arc::new(Int64Array::from(labels))),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), false))
            .collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut writer =
        ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn nli_sentences_are_unique_in_first_seen_order_with_every_label() {
    let mirror = tempfile::tempdir().unwrap();
    let known = KnownDataset::find("snli").unwrap();
    let (repo, file) = known_dataset_file(known, "train").unwrap();
    let served = mirror
        .path()
        .join("datasets")
        .join(repo.id())
        .join("resolve/main")
        .join(file);
    write_nli(
        &served,
        &[
            ("A man plays.", "A person plays.", 0),
            ("A man plays.", "Nobody plays.", 2),
            ("Kids run.", "A man plays.", -1),
            ("Kids run.", "", 1),
            ("A dog barks.", "Kids run.", 1),
        ],
    );
    let server = test_support::serve_dir(mirror.path().to_path_buf());
    let cache = tempfile::tempdir().unwrap();
    let client = hub::HubClient::new(&server.endpoint, cache.path());

    let c = config(
        "[[datasets]]\nname = \"snli\"\nloss = { type = \"multiple_negatives_ranking\" }\n\
         data = { dataset = \"snli\", format = \"sentences\" }\n\
         [[datasets]]\nname = \"snli-denoising\"\nloss = { type = \"multiple_negatives_ranking\" }\n\
         data = { dataset = \"snli\", format = \"sentences\", max_rows = 3, pairing = { type = \"denoising\" } }",
    )
    .unwrap();
    let sets = load_training_sets(&client, &c).unwrap();
    assert_eq!(
        sets[0].columns()[0],
        [
            "A man plays.",
            "A person plays.",
            "Nobody plays.",
            "Kids run.",
            "A dog barks."
        ]
    );
    assert_eq!(
        sets[1].columns()[1],
        ["A man plays.", "A person plays.", "Nobody plays."]
    );
}

#[test]
fn resolved_sentences_config_round_trips() {
    let c = config(
        "[data]\ndataset = \"c.txt\"\nformat = \"sentences\"\n\
         pairing = { type = \"contrastive_tension\", pos_neg_ratio = 4 }\n\
         [training]\nbatch_sampler = \"sequential\"\nbatch_size = 16",
    )
    .unwrap();
    let saved = c.to_toml().unwrap();
    assert!(saved.contains("contrastive_tension"), "{saved}");
    assert_eq!(config(&saved).unwrap(), c);
}

#[test]
fn tsdae_config_loads_noisy_and_original_for_its_loss() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[data]\ndataset = \"{}\"\nformat = \"sentences\"\npairing = {{ type = \"denoising\" }}\n\
         [loss]\ntype = \"denoising_auto_encoder\"",
        corpus(dir.path()).display()
    );
    let c = config(&text).unwrap();
    let sets = load_training_sets(&test_support::client(), &c).unwrap();
    assert_eq!(sets[0].column_names(), ["noisy", "original"]);
}
