//! `read_user_dataset` on CSV, TSV, JSONL and parquet files written by each test.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use data::{
    read_user_dataset, ColumnMapping, DatasetFormat, Error, MappingError, Position, TargetColumn,
    TrainingSet, ValueProblem,
};
use parquet::arrow::ArrowWriter;
use tempfile::TempDir;

fn file(dir: &TempDir, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn mapping(spec: &str) -> ColumnMapping {
    spec.parse().unwrap()
}

fn read(name: &str, content: &str, spec: &str) -> data::Result<TrainingSet> {
    let dir = tempfile::tempdir().unwrap();
    read_user_dataset(file(&dir, name, content), &mapping(spec))
}

fn read_err(name: &str, content: &str, spec: &str) -> (Error, String) {
    let err = read(name, content, spec).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(name), "{message}");
    (err, message)
}

fn write_parquet(dir: &Path, name: &str, columns: Vec<(&str, ArrayRef)>) -> PathBuf {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let path = dir.join(name);
    let mut writer =
        ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

#[test]
fn csv_pairs_with_quoted_commas_and_newlines() {
    let csv = "id,question,answer\n\
               1,\"What is 1, 2?\",Numbers\n\
               2,Multi,\"line one\nline \"\"two\"\"\"\n";
    let set = read("qa.csv", csv, "anchor=question,positive=answer").unwrap();
    assert_eq!(set.column_names(), ["anchor", "positive"]);
    assert_eq!(set.row_texts(0), ["What is 1, 2?", "Numbers"]);
    assert_eq!(set.row_texts(1), ["Multi", "line one\nline \"two\""]);
    assert_eq!(set.target(), &TargetColumn::None);
    // A byte-order mark (Excel's "CSV UTF-8") and spaces around header names are ignored.
    let set = read("bom.csv", "\u{feff}q , a\r\nx,y\r\n", "anchor=q,positive=a").unwrap();
    assert_eq!(set.row_texts(0), ["x", "y"]);
}

#[test]
fn tsv_scores_follow_the_mapping_order() {
    let tsv = "s1\ts2\tgold\na\tb\t4.5\nc\td\t0\n";
    let set = read("sts.tsv", tsv, "sentence2=s2,sentence1=s1,score=gold").unwrap();
    assert_eq!(set.column_names(), ["sentence2", "sentence1"]);
    assert_eq!(set.row_texts(1), ["d", "c"]);
    assert_eq!(set.target(), &TargetColumn::Scores(vec![4.5, 0.0]));
}

#[test]
fn labels_count_classes_or_take_the_given_number() {
    let csv = "p,h,gold\na,b,0\nc,d,2\ne,f,1.0\n";
    let set = read("nli.csv", csv, "premise=p,hypothesis=h,label=gold").unwrap();
    assert_eq!(
        set.target(),
        &TargetColumn::Classes {
            values: vec![0, 2, 1],
            num_labels: 3
        }
    );
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "nli.csv", csv);
    let five = mapping("premise=p,hypothesis=h,label=gold").with_num_labels(5);
    let set = read_user_dataset(&path, &five).unwrap();
    assert!(matches!(
        set.target(),
        TargetColumn::Classes { num_labels: 5, .. }
    ));
    let two = mapping("premise=p,hypothesis=h,label=gold").with_num_labels(2);
    let err = read_user_dataset(&path, &two).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 3, column `gold`: label 2 is outside 0..2",
            path.display()
        )
    );
}

#[test]
fn csv_errors_name_file_line_and_column() {
    let (err, msg) = read_err("d.csv", "q,a\nx,y\n", "anchor=question,positive=a");
    assert!(matches!(err, Error::MissingColumn { .. }), "{err:?}");
    assert!(
        msg.ends_with("column `question` not found; columns present: q, a"),
        "{msg}"
    );

    let (_, msg) = read_err("d.csv", "q,a\nx,y\n,z\n", "anchor=q,positive=a");
    assert!(
        msg.ends_with("d.csv: line 3, column `q`: empty text"),
        "{msg}"
    );

    let (err, msg) = read_err(
        "d.csv",
        "q,a\nx,y\n\"multi\nline\",y\nx,y,z\n",
        "anchor=q,positive=a",
    );
    assert!(
        matches!(
            err,
            Error::FieldCount {
                at: Position::Line(5),
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        msg.ends_with("line 5: record has 3 fields, the header has 2"),
        "{msg}"
    );

    for (score, problem) in [
        ("high", "`high` is not a number"),
        ("NaN", "score NaN is not finite (as f32)"),
        ("inf", "score inf is not finite (as f32)"),
        ("1e300", "score 1e300 is not finite (as f32)"),
    ] {
        let (_, msg) = read_err("s.csv", &format!("a,s\nx,1\ny,{score}\n"), "a=a,score=s");
        assert!(
            msg.ends_with(&format!("line 3, column `s`: {problem}")),
            "{msg}"
        );
    }
    for (label, problem) in [
        ("1.5", "`1.5` is not an integer label"),
        ("two", "`two` is not an integer label"),
        ("-1", "label -1 is negative"),
        ("", "empty text"),
    ] {
        let (_, msg) = read_err("l.csv", &format!("a,l\nx,{label}\n"), "a=a,label=l");
        assert!(
            msg.ends_with(&format!("line 2, column `l`: {problem}")),
            "{msg}"
        );
    }

    let (err, _) = read_err("dup.csv", "a,a,b\nx,y,z\n", "x=a,y=b");
    assert!(matches!(err, Error::DuplicateColumn { ref column, .. } if column == "a"));

    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "bad.csv", b"a,b\nx,\xff\n");
    let err = read_user_dataset(&path, &mapping("x=a")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Csv {
                at: Position::Line(2),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn empty_and_header_only_files_are_errors() {
    for (name, content) in [
        ("e.csv", ""),
        ("h.csv", "q,a\n"),
        ("e.tsv", "\n"),
        ("e.jsonl", ""),
        ("b.jsonl", "\n  \n"),
    ] {
        let (err, msg) = read_err(name, content, "anchor=q");
        assert!(matches!(err, Error::NoRows { .. }), "{name}: {err:?}");
        assert!(msg.contains("no rows"), "{msg}");
    }
}

#[test]
fn jsonl_reads_objects_and_skips_blank_lines() {
    let jsonl = "\u{feff}{\"q\": \"a?\", \"a\": \"b\", \"s\": 1}\n\n\r\n{\"a\": \"d\", \"q\": \"c?\", \"s\": 0.25}\r\n";
    let set = read("d.jsonl", jsonl, "anchor=q,positive=a,score=s").unwrap();
    assert_eq!(set.row_texts(1), ["c?", "d"]);
    assert_eq!(set.target(), &TargetColumn::Scores(vec![1.0, 0.25]));
    let set = read("d.ndjson", "{\"t\":\"x\",\"l\":2.0}\n", "text=t,label=l").unwrap();
    assert!(matches!(
        set.target(),
        TargetColumn::Classes { num_labels: 3, .. }
    ));
}

#[test]
fn jsonl_errors_name_file_line_and_column() {
    let first = "{\"q\":\"x\",\"a\":\"y\",\"l\":0}\n";
    let cases = [
        ("{\"q\":\"x\",\"l\":1}", "line 2, column `a`: missing value"),
        (
            "{\"q\":\"x\",\"a\":null,\"l\":1}",
            "line 2, column `a`: null value",
        ),
        (
            "{\"q\":\"x\",\"a\":3,\"l\":1}",
            "line 2, column `a`: expected a string, found a number",
        ),
        (
            "{\"q\":\"x\",\"a\":\"\",\"l\":1}",
            "line 2, column `a`: empty text",
        ),
        (
            "{\"q\":\"x\",\"a\":\"y\",\"l\":\"1\"}",
            "line 2, column `l`: expected a number, found a string",
        ),
        (
            "{\"q\":\"x\",\"a\":\"y\",\"l\":1.5}",
            "line 2, column `l`: `1.5` is not an integer label",
        ),
        (
            "{\"q\":\"x\",\"a\":\"y\",\"l\":-2}",
            "line 2, column `l`: label -2 is negative",
        ),
        (
            "{\"q\":\"x\",\"a\":\"y\",\"l\":18446744073709551615}",
            "line 2, column `l`: `18446744073709551615` is not an integer label",
        ),
        ("{\"q\":\"x\",", "line 2: not a json object"),
        ("[1, 2]", "line 2: not a json object"),
    ];
    for (second, want) in cases {
        let (_, msg) = read_err(
            "d.jsonl",
            &format!("{first}{second}\n"),
            "anchor=q,positive=a,label=l",
        );
        assert!(msg.ends_with(want), "{second}: {msg}");
    }
    let (err, msg) = read_err("d.jsonl", first, "anchor=question,positive=a");
    assert!(matches!(err, Error::MissingColumn { .. }));
    assert!(msg.ends_with("columns present: q, a, l"), "{msg}");
    let (_, msg) = read_err("s.jsonl", "{\"t\":\"x\",\"s\":1e39}\n", "t=t,score=s");
    assert!(
        msg.ends_with("line 1, column `s`: score 1e39 is not finite (as f32)"),
        "{msg}"
    );
}

#[test]
fn parquet_with_two_columns_of_one_name_is_refused_naming_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = |values: &[&str]| Arc::new(StringArray::from(values.to_vec())) as ArrayRef;
    let path = write_parquet(
        dir.path(),
        "dup.parquet",
        vec![
            ("a", text(&["x"])),
            ("a", text(&["y"])),
            ("b", text(&["z"])),
        ],
    );
    for spec in ["anchor=a,positive=b", "anchor=b,positive=a"] {
        let err = read_user_dataset(&path, &mapping(spec)).unwrap_err();
        assert!(
            matches!(err, Error::DuplicateColumn { ref column, .. } if column == "a"),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("dup.parquet") && msg.contains("column `a` appears more than once"),
            "{msg}"
        );
    }
}

#[test]
fn parquet_with_a_mapping_and_with_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_parquet(
        dir.path(),
        "nli.parquet",
        vec![
            (
                "premise",
                Arc::new(StringArray::from(vec!["p0", "p1"])) as _,
            ),
            (
                "hypothesis",
                Arc::new(StringArray::from(vec!["h0", "h1"])) as _,
            ),
            ("label", Arc::new(Int64Array::from(vec![2, 0])) as _),
            ("idx", Arc::new(Int64Array::from(vec![0, 1])) as _),
        ],
    );
    let set = read_user_dataset(&path, &ColumnMapping::identity()).unwrap();
    assert_eq!(set.column_names(), ["premise", "hypothesis"]);
    assert_eq!(
        set.target(),
        &TargetColumn::Classes {
            values: vec![2, 0],
            num_labels: 3
        }
    );
    let set = read_user_dataset(&path, &mapping("anchor=hypothesis,score=idx")).unwrap();
    assert_eq!(set.row_texts(1), ["h1"]);
    assert_eq!(set.target(), &TargetColumn::Scores(vec![0.0, 1.0]));

    let err = read_user_dataset(
        &path,
        &mapping("anchor=premise,label=idx").with_num_labels(1),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.ends_with("nli.parquet: row 1, column `idx`: label 1 is outside 0..1"),
        "{err}"
    );
    let err = read_user_dataset(&path, &mapping("anchor=premise,positive=gold"))
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("columns present: premise, hypothesis, label, idx"),
        "{err}"
    );

    let path = write_parquet(
        dir.path(),
        "sts.parquet",
        vec![
            (
                "s1",
                Arc::new(StringArray::from(vec![Some("a"), Some("")])) as _,
            ),
            (
                "s2",
                Arc::new(StringArray::from(vec![Some("b"), None])) as _,
            ),
            (
                "label",
                Arc::new(Float64Array::from(vec![0.5, f64::NAN])) as _,
            ),
        ],
    );
    let err = |spec: &str| {
        read_user_dataset(&path, &mapping(spec))
            .unwrap_err()
            .to_string()
    };
    assert!(err("a=s1").ends_with("row 1, column `s1`: empty text"));
    assert!(err("a=s2").ends_with("row 1, column `s2`: null value"));
    assert!(
        err("a=s1,label=label").contains("column `label` has type Float64, expected an integer")
    );
    let nan = read_user_dataset(&path, &mapping("a=s1,score=label")).unwrap_err();
    // Row 1's empty text comes first within its batch: texts are checked before the target.
    assert!(
        matches!(
            nan,
            Error::Value {
                at: Position::Row(1),
                problem: ValueProblem::Empty,
                ..
            }
        ),
        "{nan:?}"
    );
}

#[test]
fn identity_for_text_formats() {
    let set = read_identity("d.csv", "text,label,other\nx,1,y\n");
    assert_eq!(set.column_names(), ["text", "other"]);
    assert!(matches!(
        set.target(),
        TargetColumn::Classes { num_labels: 2, .. }
    ));
    let set = read_identity(
        "d.jsonl",
        "{\"b\":\"x\",\"n\":1,\"a\":\"y\",\"score\":0.5}\n",
    );
    assert_eq!(set.column_names(), ["b", "a"], "file order, strings only");
    assert_eq!(set.target(), &TargetColumn::Scores(vec![0.5]));
    let dir = tempfile::tempdir().unwrap();
    let err = read_user_dataset(
        file(&dir, "n.jsonl", "{\"n\":1}\n"),
        &ColumnMapping::identity(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::ColumnMapping(MappingError::NoTextRole)),
        "{err:?}"
    );
}

fn read_identity(name: &str, content: &str) -> TrainingSet {
    let dir = tempfile::tempdir().unwrap();
    read_user_dataset(file(&dir, name, content), &ColumnMapping::identity()).unwrap()
}

#[test]
fn format_comes_from_the_extension() {
    assert_eq!(
        DatasetFormat::from_path(Path::new("a/B.CSV")),
        Some(DatasetFormat::Csv)
    );
    assert_eq!(
        DatasetFormat::from_path(Path::new("x.ndjson")),
        Some(DatasetFormat::Jsonl)
    );
    assert_eq!(DatasetFormat::from_path(Path::new("x")), None);
    let (err, msg) = read_err("data.xlsx", "", "a=b");
    assert!(matches!(err, Error::UnsupportedFormat { .. }));
    assert!(
        msg.ends_with("unsupported dataset format (accepted extensions: .csv, .tsv, .jsonl, .ndjson, .parquet)"),
        "{msg}"
    );
    let err = read_user_dataset("/nonexistent/d.csv", &mapping("a=b")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

#[test]
fn mapping_errors_convert_into_the_crate_error() {
    let err: Error = "anchor".parse::<ColumnMapping>().unwrap_err().into();
    assert!(matches!(
        err,
        Error::ColumnMapping(MappingError::MissingEquals { .. })
    ));
}
