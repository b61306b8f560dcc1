//! `read_user_dataset` on (query, documents, labels) lists, the rows of the listwise
//! cross-encoder losses: JSONL arrays and parquet list columns, and every bad input as an error
//! naming the file, the row (JSONL line, 0-based parquet row) and the column.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, LargeListBuilder, ListBuilder, StringArray,
    StringBuilder,
};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use data::{read_user_dataset, ColumnMapping, Error, Position, TargetColumn, ValueProblem};
use parquet::arrow::ArrowWriter;

const LISTS: &str = "query=query,documents=docs,labels=labels";

fn mapping(spec: &str) -> ColumnMapping {
    spec.parse().unwrap()
}

fn read_jsonl(dir: &Path, lines: &[serde_json::Value]) -> data::Result<data::TrainingSet> {
    let path = dir.join("lists.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    read_user_dataset(&path, &mapping(LISTS))
}

fn jsonl_err(lines: &[serde_json::Value]) -> (Error, String) {
    let dir = tempfile::tempdir().unwrap();
    let err = read_jsonl(dir.path(), lines).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("lists.jsonl"), "{message}");
    (err, message)
}

fn good() -> serde_json::Value {
    serde_json::json!({"query": "q", "docs": ["a", "b"], "labels": [1, 0]})
}

#[test]
fn jsonl_lists_become_a_list_set() {
    let dir = tempfile::tempdir().unwrap();
    let set = read_jsonl(
        dir.path(),
        &[
            serde_json::json!({"id": 3, "query": "q0", "docs": ["a", "b", "c"], "labels": [2, 0.5, 0]}),
            serde_json::json!({"query": "q1", "docs": ["d"], "labels": [1.0]}),
        ],
    )
    .unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.column_names(), ["query"]);
    assert_eq!(set.target(), &TargetColumn::None);
    let lists = set.lists().unwrap();
    assert_eq!(lists.name(), "documents");
    assert_eq!(lists.row_documents(0).unwrap(), ["a", "b", "c"]);
    assert_eq!(lists.labels(), [vec![2.0, 0.5, 0.0], vec![1.0]]);
    assert_eq!(set.row_texts(1), ["q1", "d"]);
}

#[test]
fn jsonl_list_errors_name_file_line_and_column() {
    let line = |value: serde_json::Value| vec![good(), good(), value];
    // Documents and labels of different lengths: both columns and the line.
    let (err, message) = jsonl_err(&line(
        serde_json::json!({"query": "q", "docs": ["a", "b", "c", "d", "e"], "labels": [1, 0, 0, 0]}),
    ));
    assert!(
        matches!(
            err,
            Error::ListLength {
                at: Position::Line(3),
                documents: 5,
                labels: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        message.ends_with(
            "lists.jsonl: line 3, columns `docs` and `labels`: 5 documents but 4 labels \
             (one label per document)"
        ),
        "{message}"
    );
    let cases: [(serde_json::Value, &str); 10] = [
        (
            serde_json::json!({"query": "q", "docs": [], "labels": []}),
            "line 3, column `docs`: empty list (a row needs at least one document)",
        ),
        (
            serde_json::json!({"query": "q", "docs": ["a", ""], "labels": [1, 0]}),
            "line 3, column `docs`: item 1: empty text",
        ),
        (
            serde_json::json!({"query": "q", "docs": ["a", 7], "labels": [1, 0]}),
            "line 3, column `docs`: item 1: expected a string, found a number",
        ),
        (
            serde_json::json!({"query": "q", "docs": [null], "labels": [1]}),
            "line 3, column `docs`: item 0: null value",
        ),
        (
            serde_json::json!({"query": "q", "docs": ["a", "b"], "labels": [1, "high"]}),
            "line 3, column `labels`: item 1: expected a number, found a string",
        ),
        (
            serde_json::json!({"query": "q", "docs": ["a"], "labels": [1e300]}),
            "line 3, column `labels`: item 0: label 1e300 is not finite (as f32)",
        ),
        // A list where a text is expected, and texts where lists are.
        (
            serde_json::json!({"query": ["q"], "docs": ["a"], "labels": [1]}),
            "line 3, column `query`: expected a string, found an array",
        ),
        (
            serde_json::json!({"query": "q", "docs": "a", "labels": [1]}),
            "line 3, column `docs`: expected an array of strings, found a string",
        ),
        (
            serde_json::json!({"query": "q", "docs": ["a"], "labels": 1}),
            "line 3, column `labels`: expected an array of numbers, found a number",
        ),
        (
            serde_json::json!({"query": "q", "labels": [1]}),
            "line 3, column `docs`: missing value",
        ),
    ];
    for (value, expected) in cases {
        let (err, message) = jsonl_err(&line(value));
        assert!(matches!(err, Error::Value { .. }), "{err:?}");
        assert!(message.ends_with(expected), "{message} vs {expected}");
    }
    let (err, _) = jsonl_err(&line(
        serde_json::json!({"query": "q", "docs": ["a", ""], "labels": [1, 0]}),
    ));
    let Error::Value { problem, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        problem,
        ValueProblem::Item {
            index: 1,
            problem: Box::new(ValueProblem::Empty)
        }
    );
}

#[test]
fn csv_and_tsv_cannot_hold_lists() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["lists.csv", "lists.tsv"] {
        let path = dir.path().join(name);
        std::fs::write(&path, "query,docs,labels\nq,a,1\n").unwrap();
        let err = read_user_dataset(&path, &mapping(LISTS)).unwrap_err();
        assert!(matches!(err, Error::ListsInTextFile { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(name) && message.contains("cannot hold lists"),
            "{message}"
        );
    }
}

fn write_parquet(dir: &Path, columns: Vec<(&str, ArrayRef)>) -> PathBuf {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let path = dir.join("lists.parquet");
    let mut writer =
        ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

fn text_lists(rows: &[&[Option<&str>]]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for row in rows {
        for item in *row {
            b.values().append_option(*item);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn float_lists(rows: &[&[Option<f64>]]) -> ArrayRef {
    let mut b = ListBuilder::new(Float64Builder::new());
    for row in rows {
        for item in *row {
            b.values().append_option(*item);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn queries(n: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("q{i}")),
    ))
}

#[test]
fn parquet_list_columns_become_a_list_set() {
    let dir = tempfile::tempdir().unwrap();
    // Integer labels in a large list, as `mine --format labeled-list` writes them (int64).
    let mut labels = LargeListBuilder::new(Int64Builder::new());
    labels.values().append_slice(&[1, 0, 0]);
    labels.append(true);
    labels.values().append_slice(&[3]);
    labels.append(true);
    let path = write_parquet(
        dir.path(),
        vec![
            ("query", queries(2)),
            (
                "docs",
                text_lists(&[&[Some("a"), Some("b"), Some("c")], &[Some("d")]]),
            ),
            ("labels", Arc::new(labels.finish())),
        ],
    );
    let set = read_user_dataset(&path, &mapping(LISTS)).unwrap();
    assert_eq!(set.column_names(), ["query"]);
    let lists = set.lists().unwrap();
    assert_eq!(lists.documents()[0], ["a", "b", "c"]);
    assert_eq!(lists.labels(), [vec![1.0, 0.0, 0.0], vec![3.0]]);

    // Float labels too.
    let path = write_parquet(
        dir.path(),
        vec![
            ("query", queries(1)),
            ("docs", text_lists(&[&[Some("a"), Some("b")]])),
            ("labels", float_lists(&[&[Some(0.25), Some(-1.0)]])),
        ],
    );
    let set = read_user_dataset(&path, &mapping(LISTS)).unwrap();
    assert_eq!(set.lists().unwrap().labels(), [vec![0.25, -1.0]]);
}

#[test]
fn parquet_list_errors_name_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let read = |docs: ArrayRef, labels: ArrayRef| {
        let n = docs.len();
        let path = write_parquet(
            dir.path(),
            vec![("query", queries(n)), ("docs", docs), ("labels", labels)],
        );
        let message = read_user_dataset(&path, &mapping(LISTS))
            .unwrap_err()
            .to_string();
        assert!(message.contains("lists.parquet"), "{message}");
        message
    };
    let a: &[Option<&str>] = &[Some("a")];
    let ab: &[Option<&str>] = &[Some("a"), Some("b")];
    let one: &[Option<f64>] = &[Some(1.0)];
    let two: &[Option<f64>] = &[Some(1.0), Some(0.0)];
    let message = read(text_lists(&[a, ab, a]), float_lists(&[one, one, one]));
    assert!(
        message.ends_with(
            "row 1, columns `docs` and `labels`: 2 documents but 1 labels (one label per document)"
        ),
        "{message}"
    );
    let message = read(text_lists(&[a, &[]]), float_lists(&[one, &[]]));
    assert!(
        message.ends_with("row 1, column `docs`: empty list (a row needs at least one document)"),
        "{message}"
    );
    let message = read(
        text_lists(&[a, &[Some("a"), Some("")]]),
        float_lists(&[one, two]),
    );
    assert!(
        message.ends_with("row 1, column `docs`: item 1: empty text"),
        "{message}"
    );
    let message = read(text_lists(&[a, &[None]]), float_lists(&[one, one]));
    assert!(
        message.ends_with("row 1, column `docs`: item 0: null value"),
        "{message}"
    );
    let message = read(text_lists(&[a, a]), float_lists(&[one, &[None]]));
    assert!(
        message.ends_with("row 1, column `labels`: item 0: null value"),
        "{message}"
    );
    let message = read(text_lists(&[a, a]), float_lists(&[one, &[Some(f64::NAN)]]));
    assert!(
        message.ends_with("row 1, column `labels`: item 0: label NaN is not finite (as f32)"),
        "{message}"
    );
    // Texts where lists are expected, a list of strings where numbers are, and a list where
    // a text is.
    let message = read(Arc::new(StringArray::from(vec!["a"])), float_lists(&[one]));
    assert!(
        message.contains("column `docs` has type Utf8, expected a list of strings"),
        "{message}"
    );
    let message = read(text_lists(&[a]), text_lists(&[&[Some("1")]]));
    assert!(
        message.contains("column `labels` has type List")
            && message.contains("expected a list of numbers"),
        "{message}"
    );
    let path = write_parquet(
        dir.path(),
        vec![
            ("query", text_lists(&[a])),
            ("docs", text_lists(&[a])),
            ("labels", float_lists(&[one])),
        ],
    );
    let message = read_user_dataset(&path, &mapping(LISTS))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("column `query` has type List") && message.contains("expected a string"),
        "{message}"
    );
}
