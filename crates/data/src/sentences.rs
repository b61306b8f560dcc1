//! Single sentences for unsupervised training (TSDAE, SimCSE, Contrastive Tension): from text
//! columns of a hub parquet file, a `.txt` file (one per line) or one column of a user file.

use std::path::Path;

use ahash::AHashSet;

use crate::column::{push_strings, ColumnKind};
use crate::column_mapping::ColumnMapping;
use crate::error::{Error, Result};
use crate::parquet_file::{ParquetColumns, DEFAULT_BATCH_SIZE};
use crate::user_dataset::read_user_dataset;

/// Every distinct text of the string columns `columns` of a parquet file, in first-seen order:
/// row by row, and within a row in the order of `columns` (premise before hypothesis).
///
/// Exact string equality decides what is a duplicate. Every row counts whatever its other
/// columns hold (an NLI row without gold label too: labels are not read). Empty and
/// whitespace-only texts are left out (a hub file cannot be fixed by the user, and they carry
/// no training signal); a null is an error naming file, row and column.
pub fn read_unique_texts(path: impl AsRef<Path>, columns: &[&str]) -> Result<Vec<String>> {
    let path = path.as_ref();
    let wanted: Vec<(&str, ColumnKind)> = columns.iter().map(|&c| (c, ColumnKind::Text)).collect();
    let mut file = ParquetColumns::open(path, &wanted, DEFAULT_BATCH_SIZE)?;
    let mut all = Vec::with_capacity(file.num_rows().saturating_mul(columns.len()));
    let mut per_column: Vec<Vec<String>> = vec![Vec::new(); columns.len()];
    while let Some(batch) = file.next_batch()? {
        for (&name, texts) in columns.iter().zip(&mut per_column) {
            let column = file.column_ref(name);
            texts.clear();
            push_strings(batch.column(column)?, column, batch.first_row, texts)?;
        }
        for row in 0..batch.batch.num_rows() {
            for texts in &mut per_column {
                if let Some(text) = texts.get_mut(row) {
                    all.push(std::mem::take(text));
                }
            }
        }
    }
    let texts = unique_non_blank(all);
    tracing::debug!(path = %path.display(), ?columns, texts = texts.len(), "read unique texts");
    Ok(texts)
}

/// One sentence per line of a UTF-8 text file (as [`crate::read_lines`]: `\n` or `\r\n`, a
/// leading byte-order mark dropped). An empty or whitespace-only line is an error naming the
/// file and its 1-based line. Lines are kept as they are: not trimmed, not de-duplicated.
pub fn read_sentence_lines(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let lines = crate::lines::read_lines(path)?;
    if let Some(i) = lines.iter().position(|l| l.trim().is_empty()) {
        return Err(Error::EmptyLine {
            path: path.to_path_buf(),
            line: i + 1,
        });
    }
    Ok(lines)
}

/// The texts of the one text column of a user dataset (.csv, .tsv, .jsonl, .parquet; see
/// [`read_user_dataset`]) that `mapping` selects, e.g. `text=sentence`, in file order, not
/// de-duplicated. An empty text is an error naming the file and row (or line). The mapping
/// (or, for the identity mapping, the file) must give exactly one text column; a target
/// column it maps is read and checked, then ignored.
pub fn read_user_sentences(path: impl AsRef<Path>, mapping: &ColumnMapping) -> Result<Vec<String>> {
    let path = path.as_ref();
    let set = read_user_dataset(path, mapping)?;
    if set.column_names().len() != 1 || set.lists().is_some() {
        let mut columns = set.column_names().to_vec();
        columns.extend(set.lists().map(|l| l.name().to_owned()));
        return Err(Error::SentenceColumns {
            path: path.to_path_buf(),
            columns,
        });
    }
    Ok(set.into_columns().into_iter().next().unwrap_or_default())
}

/// `texts` without empty or whitespace-only ones and without repeats, first occurrence kept.
fn unique_non_blank(texts: Vec<String>) -> Vec<String> {
    let keep: Vec<bool> = {
        let mut seen: AHashSet<&str> = AHashSet::with_capacity(texts.len());
        texts
            .iter()
            .map(|t| !t.trim().is_empty() && seen.insert(t.as_str()))
            .collect()
    };
    texts
        .into_iter()
        .zip(keep)
        .filter_map(|(text, keep)| keep.then_some(text))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, LargeStringArray, StringArray};

    use super::*;
    use crate::test_support::write_columns;

    #[test]
    fn unique_texts_in_first_seen_order_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let premises = ["p1", "p1", "p2", "h1", "p3"];
        let hypotheses = ["h1", "h2", "p1", " ", "p3"];
        let path = write_columns(
            dir.path(),
            "nli.parquet",
            vec![
                (
                    "premise",
                    Arc::new(StringArray::from(premises.to_vec())) as _,
                ),
                (
                    "hypothesis",
                    Arc::new(LargeStringArray::from(hypotheses.to_vec())) as _,
                ),
                (
                    "label",
                    Arc::new(Int64Array::from(vec![0, -1, 2, 1, 0])) as _,
                ),
            ],
            2,
        );
        let texts = read_unique_texts(&path, &["premise", "hypothesis"]).unwrap();
        assert_eq!(texts, ["p1", "h1", "h2", "p2", "p3"]);
    }

    #[test]
    fn missing_column_and_null_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_columns(
            dir.path(),
            "s.parquet",
            vec![(
                "sentence1",
                Arc::new(StringArray::from(vec![Some("a"), None])) as _,
            )],
            8,
        );
        let err = read_unique_texts(&path, &["sentence1"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s.parquet: row 1, column `sentence1`: null"),
            "{err}"
        );
        let err = read_unique_texts(&path, &["sentence2"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("column `sentence2` not found"), "{err}");
    }

    #[test]
    fn blank_lines_are_errors_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corpus.txt");
        std::fs::write(&path, "one\r\ntwo\n  two  \none\n").unwrap();
        assert_eq!(
            read_sentence_lines(&path).unwrap(),
            ["one", "two", "  two  ", "one"]
        );
        std::fs::write(&path, "one\ntwo\n \t\nfour\n").unwrap();
        let err = read_sentence_lines(&path).unwrap_err().to_string();
        assert!(err.contains("corpus.txt: line 3: empty line"), "{err}");
        std::fs::write(&path, "one\n\n").unwrap();
        let err = read_sentence_lines(&path).unwrap_err().to_string();
        assert!(err.contains("corpus.txt: line 2: empty line"), "{err}");
    }

    #[test]
    fn user_file_needs_exactly_one_text_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, "id,sentence\n1,first\n2,second\n").unwrap();
        let mapping: ColumnMapping = "text=sentence".parse().unwrap();
        assert_eq!(
            read_user_sentences(&path, &mapping).unwrap(),
            ["first", "second"]
        );
        let err = read_user_sentences(&path, &ColumnMapping::identity())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s.csv: 2 text columns (id, sentence)"),
            "{err}"
        );
        std::fs::write(&path, "sentence\nfirst\n\"\"\n").unwrap();
        let err = read_user_sentences(&path, &mapping)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s.csv: line 3") && err.contains("empty"),
            "{err}"
        );
    }
}
