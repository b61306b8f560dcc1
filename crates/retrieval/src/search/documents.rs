//! The documents of an index: an id and the text, one per embedding row, stored as JSON lines.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A document's id: its row number by default (the corpus file's line number counted from 0,
/// continued by appends), or a name from an id column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DocumentId {
    Row(u64),
    Name(String),
}

impl std::fmt::Display for DocumentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocumentId::Row(row) => write!(f, "{row}"),
            DocumentId::Name(name) => f.write_str(name),
        }
    }
}

/// One document of an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub id: DocumentId,
    pub text: String,
}

/// Documents for `texts` that will be rows `first_row..` of an index: named by `ids` when
/// given (one per text), else numbered by row.
pub fn documents_from_texts(
    texts: Vec<String>,
    ids: Option<Vec<String>>,
    first_row: usize,
) -> Result<Vec<Document>> {
    match ids {
        Some(ids) if ids.len() != texts.len() => Err(Error::DocumentCount {
            what: "ids",
            found: ids.len(),
            expected: texts.len(),
        }),
        Some(ids) => Ok(texts
            .into_iter()
            .zip(ids)
            .map(|(text, id)| Document {
                id: DocumentId::Name(id),
                text,
            })
            .collect()),
        None => Ok(texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| Document {
                id: DocumentId::Row((first_row + i) as u64),
                text,
            })
            .collect()),
    }
}

/// Errors naming the first id two documents share, and both rows.
pub fn check_unique_ids(documents: &[Document]) -> Result<()> {
    let mut seen = HashMap::with_capacity(documents.len());
    for (row, doc) in documents.iter().enumerate() {
        if let Some(first) = seen.insert(&doc.id, row) {
            return Err(Error::DuplicateId {
                id: doc.id.to_string(),
                first,
                second: row,
            });
        }
    }
    Ok(())
}

/// The documents as JSON lines.
pub(crate) fn to_jsonl(documents: &[Document]) -> Vec<u8> {
    let mut out = Vec::new();
    for doc in documents {
        // A struct of a string or integer and a string always serialises.
        if let Ok(line) = serde_json::to_vec(doc) {
            out.extend_from_slice(&line);
        }
        out.push(b'\n');
    }
    out
}

/// Parses JSON lines of documents; `path` names the file in errors (with the line, from 1).
pub(crate) fn parse_jsonl(path: &Path, bytes: &[u8]) -> Result<Vec<Document>> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::DataFileContent {
        path: path.to_path_buf(),
        reason: format!("is not UTF-8 ({e})"),
    })?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| Error::DocumentLine {
                path: path.to_path_buf(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_round_trips_both_id_kinds() {
        let mut docs = documents_from_texts(vec!["a".into(), "b\nc".into()], None, 5).unwrap();
        docs.extend(documents_from_texts(vec!["d".into()], Some(vec!["x1".into()]), 7).unwrap());
        let bytes = to_jsonl(&docs);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "{\"id\":5,\"text\":\"a\"}\n{\"id\":6,\"text\":\"b\\nc\"}\n{\"id\":\"x1\",\"text\":\"d\"}\n"
        );
        assert_eq!(parse_jsonl(Path::new("d.jsonl"), &bytes).unwrap(), docs);
        let err = parse_jsonl(
            Path::new("d.jsonl"),
            b"{\"id\":1,\"text\":\"a\"}\n{\"id\":2}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("d.jsonl line 2"), "{err}");
    }

    #[test]
    fn duplicate_ids_are_named() {
        let docs = documents_from_texts(
            vec!["a".into(), "b".into(), "c".into()],
            Some(vec!["p".into(), "q".into(), "p".into()]),
            0,
        )
        .unwrap();
        let err = check_unique_ids(&docs).unwrap_err().to_string();
        assert!(
            err.contains("id p") && err.contains("rows 0 and 2"),
            "{err}"
        );
        assert!(documents_from_texts(vec!["a".into()], Some(vec![]), 0).is_err());
    }
}
