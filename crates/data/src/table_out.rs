//! A table of named columns written as JSON lines or parquet (by the file's extension), the
//! form `train-cli mine` writes its datasets in and `train-cli train` reads back.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float32Array, Float32Builder, Int64Array, Int64Builder, ListBuilder, RecordBatch,
    StringArray, StringBuilder,
};
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};
use crate::npy::write_atomically;

/// One column's values, one entry per row.
#[derive(Debug, Clone, PartialEq)]
pub enum TableColumn {
    Text(Vec<String>),
    TextList(Vec<Vec<String>>),
    Int(Vec<i64>),
    IntList(Vec<Vec<i64>>),
    Float(Vec<f32>),
    FloatList(Vec<Vec<f32>>),
}

impl TableColumn {
    pub fn len(&self) -> usize {
        match self {
            TableColumn::Text(v) => v.len(),
            TableColumn::TextList(v) => v.len(),
            TableColumn::Int(v) => v.len(),
            TableColumn::IntList(v) => v.len(),
            TableColumn::Float(v) => v.len(),
            TableColumn::FloatList(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn json(&self, row: usize) -> serde_json::Value {
        use serde_json::Value;
        let float = |x: f32| {
            // JSON has no NaN or infinity: null, as pandas writes them.
            serde_json::Number::from_f64(f64::from(x)).map_or(Value::Null, Value::Number)
        };
        match self {
            TableColumn::Text(v) => Value::from(v[row].clone()),
            TableColumn::TextList(v) => Value::from(v[row].clone()),
            TableColumn::Int(v) => Value::from(v[row]),
            TableColumn::IntList(v) => Value::from(v[row].clone()),
            TableColumn::Float(v) => float(v[row]),
            TableColumn::FloatList(v) => Value::Array(v[row].iter().map(|&x| float(x)).collect()),
        }
    }

    fn arrow(&self) -> ArrayRef {
        match self {
            TableColumn::Text(v) => Arc::new(StringArray::from_iter_values(v)),
            TableColumn::Int(v) => Arc::new(Int64Array::from(v.clone())),
            TableColumn::Float(v) => Arc::new(Float32Array::from(v.clone())),
            TableColumn::TextList(v) => {
                let mut b = ListBuilder::new(StringBuilder::new());
                for row in v {
                    row.iter().for_each(|s| b.values().append_value(s));
                    b.append(true);
                }
                Arc::new(b.finish())
            }
            TableColumn::IntList(v) => {
                let mut b = ListBuilder::new(Int64Builder::new());
                for row in v {
                    b.values().append_slice(row);
                    b.append(true);
                }
                Arc::new(b.finish())
            }
            TableColumn::FloatList(v) => {
                let mut b = ListBuilder::new(Float32Builder::new());
                for row in v {
                    b.values().append_slice(row);
                    b.append(true);
                }
                Arc::new(b.finish())
            }
        }
    }
}

/// Writes `columns` (equally long, names unique) to `path`, atomically: `.jsonl` gives one JSON
/// object per row with the keys in column order, `.parquet` a parquet file (lists as list
/// columns). Any other extension is an error naming the path.
pub fn write_table(path: impl AsRef<Path>, columns: &[(String, TableColumn)]) -> Result<()> {
    let path = path.as_ref();
    let bad = |reason: String| Error::TableWrite {
        path: path.to_path_buf(),
        reason,
    };
    let rows = columns.first().map_or(0, |(_, c)| c.len());
    if let Some((name, column)) = columns.iter().find(|(_, c)| c.len() != rows) {
        return Err(bad(format!(
            "column {name} has {} rows, the first column {rows}",
            column.len()
        )));
    }
    for (i, (name, _)) in columns.iter().enumerate() {
        if columns[..i].iter().any(|(other, _)| other == name) {
            return Err(bad(format!("two columns are named {name}")));
        }
    }
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => jsonl(columns, rows),
        Some("parquet") => parquet(path, columns)?,
        _ => return Err(bad("the file name must end in .jsonl or .parquet".into())),
    };
    write_atomically(path, &bytes)
}

fn jsonl(columns: &[(String, TableColumn)], rows: usize) -> Vec<u8> {
    let mut out = String::new();
    for row in 0..rows {
        // Built by hand: serde_json's map would sort the keys.
        let fields: Vec<String> = columns
            .iter()
            .map(|(name, column)| {
                format!(
                    "{}: {}",
                    serde_json::Value::from(name.clone()),
                    column.json(row)
                )
            })
            .collect();
        out.push('{');
        out.push_str(&fields.join(", "));
        out.push_str("}\n");
    }
    out.into_bytes()
}

fn parquet(path: &Path, columns: &[(String, TableColumn)]) -> Result<Vec<u8>> {
    let arrays: Vec<ArrayRef> = columns.iter().map(|(_, c)| c.arrow()).collect();
    let fields: Vec<Field> = columns
        .iter()
        .zip(&arrays)
        .map(|((name, _), array)| Field::new(name, array.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|source| Error::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    let write_err = |source| Error::ParquetWrite {
        path: path.to_path_buf(),
        source,
    };
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, schema, None).map_err(write_err)?;
    writer.write(&batch).map_err(write_err)?;
    writer.close().map_err(write_err)?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<(String, TableColumn)> {
        vec![
            (
                "anchor".into(),
                TableColumn::Text(vec!["a".into(), "b \"q\"".into()]),
            ),
            (
                "positive".into(),
                TableColumn::TextList(vec![vec!["p".into(), "n".into()], vec!["p2".into()]]),
            ),
            (
                "labels".into(),
                TableColumn::IntList(vec![vec![1, 0], vec![1]]),
            ),
            (
                "score".into(),
                TableColumn::Float(vec![0.5, f32::NEG_INFINITY]),
            ),
        ]
    }

    #[test]
    fn jsonl_keeps_column_order_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        write_table(&path, &table()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"anchor": "a", "positive": ["p","n"], "labels": [1,0], "score": 0.5}"#
        );
        let row: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(row["anchor"], "b \"q\"");
        assert!(row["score"].is_null());
    }

    #[test]
    fn parquet_text_columns_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_table(&path, &table()).unwrap();
        assert_eq!(
            crate::read_text_column(&path, "anchor").unwrap(),
            vec!["a", "b \"q\""]
        );
    }

    #[test]
    fn bad_tables_are_refused_naming_the_path_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = table();
        t[3].1 = TableColumn::Float(vec![1.0]);
        let err = write_table(dir.path().join("t.jsonl"), &t)
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.jsonl") && err.contains("score"), "{err}");
        let mut t = table();
        t[1].0 = "anchor".into();
        let err = write_table(dir.path().join("t.jsonl"), &t)
            .unwrap_err()
            .to_string();
        assert!(err.contains("anchor"), "{err}");
        let err = write_table(dir.path().join("t.csv"), &table())
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.csv") && err.contains(".jsonl"), "{err}");
        assert!(!dir.path().join("t.jsonl").exists());
    }
}
