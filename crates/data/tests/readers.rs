//! Public readers against parquet fixtures written in code.

use std::error::Error as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, StringViewArray,
};
use arrow::datatypes::{Field, Schema};
use data::{
    read_nli_pairs, read_scored_pairs, read_text_column, Error, NliColumns, NliLabel, ScoredPair,
    ScoredPairColumns, UnlabeledRows,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use proptest::prelude::*;

/// More rows than one decoded record batch (8,192), in row groups of 3,000.
const ROWS: usize = 20_000;
const ROW_GROUP: usize = 3_000;

fn write(dir: &Path, name: &str, columns: Vec<(&str, ArrayRef)>) -> PathBuf {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let path = dir.join(name);
    let props = WriterProperties::builder()
        .set_max_row_group_size(ROW_GROUP)
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer =
        ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props)).unwrap();
    // Several writes: several input batches as well as several row groups.
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = 4_321.min(batch.num_rows() - offset);
        writer.write(&batch.slice(offset, len)).unwrap();
        offset += len;
    }
    writer.close().unwrap();
    path
}

fn texts(prefix: &str, n: usize) -> Vec<Option<String>> {
    (0..n).map(|i| Some(format!("{prefix} {i}"))).collect()
}

fn stsb(dir: &Path, name: &str, s2: Vec<Option<String>>, scores: ArrayRef) -> PathBuf {
    let n = s2.len();
    write(
        dir,
        name,
        vec![
            (
                "idx",
                Arc::new(Int32Array::from_iter_values(0..n as i32)) as _,
            ),
            (
                "sentence1",
                Arc::new(StringArray::from(texts("first", n))) as _,
            ),
            ("sentence2", Arc::new(StringArray::from(s2)) as _),
            ("label", scores),
        ],
    )
}

fn scores(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 21) as f32 / 4.0).collect()
}

fn message(err: Error) -> String {
    err.to_string()
}

#[test]
fn scored_pairs_across_batches_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let path = stsb(
        dir.path(),
        "stsb.parquet",
        texts("second", ROWS),
        Arc::new(Float32Array::from(scores(ROWS))),
    );
    let pairs = read_scored_pairs(&path, &ScoredPairColumns::default()).unwrap();
    assert_eq!(pairs.len(), ROWS);
    for (i, pair) in pairs.iter().enumerate() {
        assert_eq!(pair.sentence1, format!("first {i}"));
        assert_eq!(pair.sentence2, format!("second {i}"));
        assert_eq!(pair.score, (i % 21) as f32 / 4.0);
    }
}

#[test]
fn float64_and_integer_scores() {
    let dir = tempfile::tempdir().unwrap();
    let n = 10;
    let f64_path = stsb(
        dir.path(),
        "f64.parquet",
        texts("second", n),
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| i as f64 / 2.0),
        )),
    );
    let pairs = read_scored_pairs(&f64_path, &ScoredPairColumns::GLUE).unwrap();
    assert_eq!(pairs[7].score, 3.5);

    let int_path = stsb(
        dir.path(),
        "int.parquet",
        texts("second", n),
        Arc::new(Int64Array::from_iter_values(0..n as i64)),
    );
    let pairs = read_scored_pairs(&int_path, &ScoredPairColumns::GLUE).unwrap();
    assert_eq!(pairs[4].score, 4.0);
}

#[test]
fn custom_column_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "custom.parquet",
        vec![
            ("a", Arc::new(StringArray::from(vec!["x", "y"])) as _),
            ("b", Arc::new(StringArray::from(vec!["p", "q"])) as _),
            ("sim", Arc::new(Float32Array::from(vec![0.5, 1.0])) as _),
        ],
    );
    let columns = ScoredPairColumns {
        sentence1: "a",
        sentence2: "b",
        score: "sim",
    };
    let pairs = read_scored_pairs(&path, &columns).unwrap();
    assert_eq!(
        pairs[1],
        ScoredPair {
            sentence1: "y".into(),
            sentence2: "q".into(),
            score: 1.0
        }
    );
}

#[test]
fn large_utf8_and_utf8_view_strings() {
    let dir = tempfile::tempdir().unwrap();
    let s1: Vec<String> = (0..ROWS).map(|i| format!("large {i}")).collect();
    let s2: Vec<String> = (0..ROWS)
        .map(|i| format!("a view string longer than twelve bytes {i}"))
        .collect();
    let path = write(
        dir.path(),
        "views.parquet",
        vec![
            (
                "sentence1",
                Arc::new(LargeStringArray::from(s1.clone())) as _,
            ),
            (
                "sentence2",
                Arc::new(StringViewArray::from(s2.clone())) as _,
            ),
            ("label", Arc::new(Float32Array::from(scores(ROWS))) as _),
        ],
    );
    let pairs = read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap();
    assert_eq!(pairs.len(), ROWS);
    assert!(pairs
        .iter()
        .zip(s1.iter().zip(&s2))
        .all(|(p, (a, b))| &p.sentence1 == a && &p.sentence2 == b));
    assert_eq!(read_text_column(&path, "sentence2").unwrap(), s2);
    assert_eq!(read_text_column(&path, "sentence1").unwrap(), s1);
}

#[test]
fn null_sentence_names_file_absolute_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut s2 = texts("second", ROWS);
    s2[17_017] = None;
    let path = stsb(
        dir.path(),
        "nulls.parquet",
        s2,
        Arc::new(Float32Array::from(scores(ROWS))),
    );
    let err = message(read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap_err());
    assert!(err.contains("nulls.parquet"), "{err}");
    assert!(
        err.contains("row 17017, column `sentence2`: null value"),
        "{err}"
    );
    let err = message(read_text_column(&path, "sentence2").unwrap_err());
    assert!(err.contains("row 17017, column `sentence2`"), "{err}");
}

#[test]
fn null_score_names_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut values: Vec<Option<f32>> = scores(ROWS).into_iter().map(Some).collect();
    values[9_999] = None;
    let path = stsb(
        dir.path(),
        "null-score.parquet",
        texts("second", ROWS),
        Arc::new(Float32Array::from(values)),
    );
    let err = message(read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap_err());
    assert!(
        err.contains("null-score.parquet: row 9999, column `label`: null value"),
        "{err}"
    );
}

#[test]
fn non_finite_scores_name_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bad) in [("nan.parquet", f32::NAN), ("inf.parquet", f32::INFINITY)] {
        let mut values = scores(ROWS);
        values[12_345] = bad;
        let path = stsb(
            dir.path(),
            name,
            texts("second", ROWS),
            Arc::new(Float32Array::from(values)),
        );
        let err = message(read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap_err());
        assert!(err.contains(name), "{err}");
        assert!(err.contains("row 12345, column `label`"), "{err}");
        assert!(err.contains("not finite"), "{err}");
    }
}

#[test]
fn negative_score_means_no_gold_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = stsb(
        dir.path(),
        "test.parquet",
        texts("second", 5),
        Arc::new(Float32Array::from(vec![-1.0; 5])),
    );
    let err = read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap_err();
    assert!(matches!(err, Error::NoGoldScore { row: 0, .. }), "{err:?}");
    let err = message(err);
    assert!(err.contains("test.parquet: row 0, column `label`"), "{err}");
    assert!(err.contains("no gold labels"), "{err}");
}

#[test]
fn wrong_type_names_column_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = stsb(
        dir.path(),
        "typed.parquet",
        texts("second", 3),
        Arc::new(StringArray::from(vec!["1.0", "2.0", "3.0"])),
    );
    let err = message(read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap_err());
    assert!(err.contains("typed.parquet"), "{err}");
    assert!(
        err.contains("column `label` has type Utf8, expected a number"),
        "{err}"
    );
    let err = message(read_text_column(&path, "idx").unwrap_err());
    assert!(
        err.contains("column `idx` has type Int32, expected a string"),
        "{err}"
    );
}

#[test]
fn missing_column_lists_columns_present() {
    let dir = tempfile::tempdir().unwrap();
    let path = stsb(
        dir.path(),
        "cols.parquet",
        texts("second", 3),
        Arc::new(Float32Array::from(vec![1.0; 3])),
    );
    let err = message(read_text_column(&path, "question").unwrap_err());
    assert!(err.contains("cols.parquet"), "{err}");
    assert!(
        err.contains(
            "column `question` not found; columns present: idx, sentence1, sentence2, label"
        ),
        "{err}"
    );
}

#[test]
fn empty_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = stsb(
        dir.path(),
        "empty.parquet",
        Vec::new(),
        Arc::new(Float32Array::from(Vec::<f32>::new())),
    );
    let err = read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap_err();
    assert!(matches!(err, Error::NoRows { .. }), "{err:?}");
    assert!(message(err).contains("empty.parquet: file has no rows"));
}

#[test]
fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.parquet");
    let err = read_text_column(&path, "sentence1").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(message(err).contains(&path.display().to_string()));
}

#[test]
fn not_parquet_truncated_and_corrupt_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.parquet");
    std::fs::write(&text, "sentence1,sentence2\nhello,world\n").unwrap();

    let good = stsb(
        dir.path(),
        "good.parquet",
        texts("second", ROWS),
        Arc::new(Float32Array::from(scores(ROWS))),
    );
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    // Overwrite data pages (after the leading magic) with garbage, keep the footer.
    let mut garbled = bytes.clone();
    for byte in &mut garbled[4..bytes.len() / 2] {
        *byte = 0xAB;
    }
    let corrupt = dir.path().join("corrupt.parquet");
    std::fs::write(&corrupt, &garbled).unwrap();

    for path in [text, truncated, corrupt] {
        let err = read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap_err();
        assert!(
            matches!(err, Error::Parquet { .. } | Error::Decode { .. }),
            "{err:?}"
        );
        assert!(err.source().is_some(), "{err:?} keeps its source");
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(message(err).contains(name), "{name}");
    }
}

fn nli(dir: &Path, name: &str, labels: ArrayRef) -> PathBuf {
    let n = labels.len();
    write(
        dir,
        name,
        vec![
            (
                "premise",
                Arc::new(StringArray::from(texts("premise", n))) as _,
            ),
            (
                "hypothesis",
                Arc::new(StringArray::from(texts("hypothesis", n))) as _,
            ),
            ("label", labels),
        ],
    )
}

#[test]
fn nli_pairs_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<i64> = (0..ROWS as i64).map(|i| i % 3).collect();
    let path = nli(dir.path(), "mnli.parquet", Arc::new(Int64Array::from(ids)));
    let read = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Reject).unwrap();
    assert_eq!(read.skipped_unlabeled, 0);
    assert_eq!(read.pairs.len(), ROWS);
    let pair = &read.pairs[12_347];
    assert_eq!(pair.premise, "premise 12347");
    assert_eq!(pair.hypothesis, "hypothesis 12347");
    assert_eq!(pair.label, NliLabel::Contradiction);
}

#[test]
fn nli_unlabeled_rows_are_skipped_and_counted_or_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<i32> = (0..ROWS as i32)
        .map(|i| if i % 1000 == 999 { -1 } else { i % 3 })
        .collect();
    let path = nli(dir.path(), "snli.parquet", Arc::new(Int32Array::from(ids)));
    let read = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Skip).unwrap();
    assert_eq!(read.skipped_unlabeled, 20);
    assert_eq!(read.pairs.len(), ROWS - 20);
    assert!(read.pairs.iter().all(|p| !p.premise.ends_with("999")));

    let err = message(read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Reject).unwrap_err());
    assert!(
        err.contains("snli.parquet: row 999, column `label`"),
        "{err}"
    );
    assert!(err.contains("UnlabeledRows::Skip"), "{err}");
}

#[test]
fn nli_out_of_range_label_names_file_row_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids: Vec<i64> = (0..ROWS as i64).map(|i| i % 3).collect();
    ids[15_000] = 3;
    let path = nli(
        dir.path(),
        "bad-label.parquet",
        Arc::new(Int64Array::from(ids)),
    );
    for unlabeled in [UnlabeledRows::Skip, UnlabeledRows::Reject] {
        let err = message(read_nli_pairs(&path, &NliColumns::GLUE, unlabeled).unwrap_err());
        assert!(
            err.contains(
                "bad-label.parquet: row 15000, column `label`: label 3 is not an nli label"
            ),
            "{err}"
        );
    }
}

#[test]
fn nli_float_label_is_a_type_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = nli(
        dir.path(),
        "float-label.parquet",
        Arc::new(Float32Array::from(vec![0.0, 1.0])),
    );
    let err = message(read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Reject).unwrap_err());
    assert!(
        err.contains("column `label` has type Float32, expected an integer"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn scored_pairs_round_trip(
        rows in prop::collection::vec((any::<String>(), any::<String>(), 0.0f32..=5.0), 1..40)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let s1: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let s2: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        let path = write(dir.path(), "prop.parquet", vec![
            ("sentence1", Arc::new(StringArray::from(s1)) as _),
            ("sentence2", Arc::new(StringArray::from(s2)) as _),
            ("label", Arc::new(Float32Array::from_iter_values(rows.iter().map(|r| r.2))) as _),
        ]);
        let pairs = read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap();
        let back: Vec<(String, String, f32)> = pairs
            .into_iter()
            .map(|p| (p.sentence1, p.sentence2, p.score))
            .collect();
        prop_assert_eq!(back, rows);
    }
}
