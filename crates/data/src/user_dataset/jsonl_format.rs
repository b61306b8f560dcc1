//! JSON Lines user datasets: one object per line, strings for texts, numbers for targets,
//! arrays of strings and of numbers for a list set's documents and labels.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::rows::{integral, Rows};
use crate::column_mapping::{ColumnMapping, TargetRole};
use crate::error::{Error, Position, Result, ValueProblem};
use crate::training_set::TrainingSet;

/// Reads a JSONL file; positions are 1-based line numbers, blank lines skipped (but counted).
///
/// The first object decides the columns: a mapped column it lacks is a missing column (listing
/// its keys); a later object lacking it is a missing value on that line.
pub(super) fn read(path: &Path, mapping: &ColumnMapping) -> Result<TrainingSet> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut state: Option<(Rows<'_>, Columns)> = None;
    let mut buffer = Vec::new();
    let mut line: u64 = 0;
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if read == 0 {
            break;
        }
        line += 1;
        let mut bytes = buffer.as_slice();
        if line == 1 {
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = Position::Line(line);
        let object: Object = serde_json::from_slice(bytes).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            at,
            source,
        })?;
        let (rows, columns) = match &mut state {
            Some(state) => state,
            None => state.insert(first_rows(path, mapping, &object)?),
        };
        push_object(rows, columns, at, &object)?;
    }
    match state {
        Some((rows, _)) => rows.finish(),
        None => Err(Error::NoRows {
            path: path.to_path_buf(),
        }),
    }
}

/// The file columns of the text roles and of the target, looked up in every object.
struct Columns {
    texts: Vec<String>,
    target: Option<(TargetRole, String)>,
}

impl Columns {
    /// The documents column of a list set: the second text role's.
    fn documents(&self) -> Option<&str> {
        match &self.target {
            Some((TargetRole::LabelLists, _)) => self.texts.get(1).map(String::as_str),
            _ => None,
        }
    }
}

/// Resolves the mapping against the first object's keys and checks they are all there.
fn first_rows<'a>(
    path: &'a Path,
    mapping: &ColumnMapping,
    first: &Object,
) -> Result<(Rows<'a>, Columns)> {
    let keys: Vec<&str> = first.0.iter().map(|(k, _)| k.as_str()).collect();
    let resolved = mapping.resolve(&keys, |key| {
        matches!(first.get(key), Some(Value::String(_)))
    })?;
    let mapped = resolved
        .texts
        .iter()
        .map(|(_, c)| c)
        .chain(resolved.target.iter().map(|(_, c)| c));
    for column in mapped {
        if first.get(column).is_none() {
            return Err(Error::MissingColumn {
                path: path.to_path_buf(),
                column: column.clone(),
                present: keys.iter().map(|k| (*k).to_owned()).collect(),
            });
        }
    }
    let columns = Columns {
        texts: resolved.texts.iter().map(|(_, c)| c.clone()).collect(),
        target: resolved.target.clone(),
    };
    Ok((Rows::new(path, resolved, mapping.num_labels()), columns))
}

fn push_object(
    rows: &mut Rows<'_>,
    columns: &Columns,
    at: Position,
    object: &Object,
) -> Result<()> {
    let documents = columns.documents();
    for (index, column) in columns.texts.iter().enumerate() {
        // A list set's documents are read with its labels.
        if documents.is_some() && index == 1 {
            continue;
        }
        let text = match object.get(column) {
            Some(Value::String(text)) => text.as_str(),
            other => return Err(rows.problem(at, column, unusable(other, "a string"))),
        };
        rows.push_text(index, at, text)?;
    }
    let Some((role, column)) = &columns.target else {
        return Ok(());
    };
    if let Some(documents) = documents {
        return push_list(rows, at, object, documents, column);
    }
    if *role == TargetRole::Embedding {
        let values = match object.get(column) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| match item {
                    Value::Number(number) => Ok(number.as_f64().unwrap_or(f64::NAN)),
                    other => {
                        Err(rows.item_problem(at, column, index, unusable(Some(other), "a number")))
                    }
                })
                .collect::<Result<Vec<f64>>>()?,
            other => return Err(rows.problem(at, column, unusable(other, "an array of numbers"))),
        };
        return rows.push_vector(at, &values);
    }
    let number = match object.get(column) {
        Some(Value::Number(number)) => number,
        other => return Err(rows.problem(at, column, unusable(other, "a number"))),
    };
    match role {
        TargetRole::Score => rows.push_score(at, number.as_f64().unwrap_or(f64::NAN)),
        // `2.0` is a label, `2.5` or a u64 beyond i64 is not.
        TargetRole::Label => match number
            .as_i64()
            .or_else(|| number.as_f64().and_then(integral))
        {
            Some(label) => rows.push_label(at, label),
            None => Err(rows.problem(
                at,
                column,
                ValueProblem::NotAnInteger {
                    text: number.to_string(),
                },
            )),
        },
        TargetRole::LabelLists | TargetRole::Embedding => Ok(()),
    }
}

/// A list row's documents (an array of strings) and labels (an array of numbers, one per
/// document).
fn push_list(
    rows: &mut Rows<'_>,
    at: Position,
    object: &Object,
    documents_column: &str,
    labels_column: &str,
) -> Result<()> {
    let array = |column: &str, expected: &'static str| match object.get(column) {
        Some(Value::Array(items)) => Ok(items),
        other => Err(rows.problem(at, column, unusable(other, expected))),
    };
    let documents = array(documents_column, "an array of strings")?
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(text) => Ok(text.clone()),
            other => Err(rows.item_problem(
                at,
                documents_column,
                index,
                unusable(Some(other), "a string"),
            )),
        })
        .collect::<Result<Vec<String>>>()?;
    let labels = array(labels_column, "an array of numbers")?
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Number(number) => Ok(number.as_f64().unwrap_or(f64::NAN)),
            other => {
                Err(rows.item_problem(at, labels_column, index, unusable(Some(other), "a number")))
            }
        })
        .collect::<Result<Vec<f64>>>()?;
    rows.push_documents(at, documents)?;
    rows.push_label_list(at, &labels)?;
    rows.check_last_list(at)
}

/// Why `value` is not what the column needs.
fn unusable(value: Option<&Value>, expected: &'static str) -> ValueProblem {
    let found = match value {
        None => return ValueProblem::Missing,
        Some(Value::Null) => return ValueProblem::Null,
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "a string",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
    };
    ValueProblem::WrongType { expected, found }
}

/// A JSON object with its keys in file order (`serde_json::Map` sorts them unless the
/// workspace-wide `preserve_order` feature is on, which would change every other crate's maps).
struct Object(Vec<(String, Value)>);

impl Object {
    /// The first value under `key`.
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Object;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4).min(64));
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(Object(entries))
    }
}
