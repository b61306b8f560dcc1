//! `read_user_dataset` with an `embedding=` target: a teacher's embedding per row, the rows of
//! MSELoss and EmbedDistillLoss, from JSONL arrays or parquet lists (the fixed-size lists
//! `train-cli encode --output X.parquet` writes), and bad ones named by file, row and column.

use std::path::Path;

use data::{read_user_dataset, ColumnMapping, MatrixValues, TargetColumn};

fn mapping(spec: &str) -> ColumnMapping {
    spec.parse().unwrap()
}

fn jsonl(dir: &Path, lines: &[serde_json::Value]) -> std::path::PathBuf {
    let path = dir.join("teacher.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn jsonl_and_encodes_parquet_give_one_vector_per_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = jsonl(
        dir.path(),
        &[
            serde_json::json!({"en": "a cat", "de": "eine Katze", "v": [0.5, -1, 2]}),
            serde_json::json!({"en": "a dog", "de": "ein Hund", "v": [1.0, 0.25, 0]}),
        ],
    );
    let set = read_user_dataset(&path, &mapping("en=en,de=de,embedding=v")).unwrap();
    assert_eq!(set.column_names(), ["en", "de"]);
    assert_eq!(
        set.target(),
        &TargetColumn::Vectors {
            values: vec![0.5, -1.0, 2.0, 1.0, 0.25, 0.0],
            dim: 3
        }
    );

    let parquet = dir.path().join("encoded.parquet");
    let values = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    data::write_embeddings_parquet_as(&parquet, &["one", "two"], MatrixValues::F32(&values), 4)
        .unwrap();
    let mut set = read_user_dataset(&parquet, &mapping("text=text,embedding=embedding")).unwrap();
    assert_eq!(set.column_names(), ["text"]);
    assert_eq!(
        set.target(),
        &TargetColumn::Vectors {
            values: values.to_vec(),
            dim: 4
        }
    );
    set.skip(1);
    assert_eq!(
        set.target(),
        &TargetColumn::Vectors {
            values: values[4..].to_vec(),
            dim: 4
        }
    );
    set.truncate(0);
    assert!(set.is_empty());
}

#[test]
fn bad_embeddings_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let read = |lines: &[serde_json::Value]| {
        read_user_dataset(jsonl(dir.path(), lines), &mapping("en=en,embedding=v"))
            .unwrap_err()
            .to_string()
    };
    let ok = serde_json::json!({"en": "a", "v": [1, 2]});
    let err = read(&[ok.clone(), serde_json::json!({"en": "b", "v": [1, 2, 3]})]);
    assert!(
        err.contains("teacher.jsonl")
            && err.contains("line 2")
            && err.contains("`v`")
            && err.contains("3 values, but the first row's has 2"),
        "{err}"
    );
    let err = read(&[ok.clone(), serde_json::json!({"en": "b", "v": []})]);
    assert!(
        err.contains("line 2") && err.contains("empty embedding"),
        "{err}"
    );
    let err = read(&[serde_json::json!({"en": "b", "v": 0.5})]);
    assert!(
        err.contains("line 1") && err.contains("an array of numbers"),
        "{err}"
    );
    let err = read(&[serde_json::json!({"en": "b", "v": [1, "x"]})]);
    assert!(err.contains("item 1") && err.contains("a number"), "{err}");
    let err = read(&[serde_json::json!({"en": "b", "v": [1, 1e300]})]);
    assert!(
        err.contains("item 1") && err.contains("not finite"),
        "{err}"
    );

    let csv = dir.path().join("teacher.csv");
    std::fs::write(&csv, "en,v\na,1\n").unwrap();
    let err = read_user_dataset(&csv, &mapping("en=en,embedding=v"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("teacher.csv") && err.contains("cannot hold embeddings"),
        "{err}"
    );
}
