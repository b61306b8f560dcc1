//! Retrieval datasets in the BEIR layout: `corpus.jsonl`, `queries.jsonl` and
//! `qrels/<split>.tsv` in one folder.
//!
//! Text files are read line by line (1-based line numbers in errors); a leading byte-order
//! mark, `\r\n` endings and blank lines (counted, not read) are accepted.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::retrieval_set::{keep_answered, RetrievalSet};

/// The header line of a BEIR qrels file.
pub const BEIR_QRELS_HEADER: &str = "query-id\tcorpus-id\tscore";

/// A line of `corpus.jsonl`: `_id` (a string, or an integer taken as its decimal text),
/// optional `title`, `text`. Other keys (`metadata`) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BeirDocument {
    #[serde(rename = "_id", deserialize_with = "beir_id")]
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    pub text: String,
}

impl BeirDocument {
    /// The text a model embeds: `title + " " + text`, trimmed, as sentence-transformers'
    /// BEIR examples build it (`(x["title"] + " " + x["text"]).strip()`).
    pub fn joined_text(&self) -> String {
        match self.title.as_deref() {
            Some(title) if !title.trim().is_empty() => format!("{title} {}", self.text),
            _ => self.text.clone(),
        }
        .trim()
        .to_owned()
    }
}

/// A line of `queries.jsonl`: `_id`, `text`. Other keys are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BeirQuery {
    #[serde(rename = "_id", deserialize_with = "beir_id")]
    pub id: String,
    pub text: String,
}

/// A line of a qrels file: a query, a document and their relevance grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qrel {
    pub query_id: String,
    pub corpus_id: String,
    pub score: i64,
    /// 1-based line in the qrels file.
    pub line: u64,
}

/// Records that carry an id.
trait Identified {
    fn id(&self) -> &str;
}

impl Identified for BeirDocument {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Identified for BeirQuery {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Reads the split `split` of the BEIR folder `dir` into a [`RetrievalSet`].
///
/// Documents are embedded as [`BeirDocument::joined_text`]; the corpus keeps every document,
/// in file order. A query-document pair is relevant when its score is > 0 (a pair listed
/// twice takes its last score, as BEIR's loader does). Queries keep their file order; those
/// without a relevant document in this split are left out (as BEIR keeps only the queries of
/// the qrels file, and sentence-transformers' evaluator only those with a relevant
/// document), counted in [`RetrievalSet::dropped_queries`] and logged.
///
/// Errors name the file and 1-based line: malformed records, duplicate ids, qrels naming an
/// unknown query or document, empty files, or no relevant pair at all.
pub fn read_beir(dir: impl AsRef<Path>, split: &str) -> Result<RetrievalSet> {
    let [corpus_path, queries_path, qrels_path] = beir_paths(dir, split);
    let (documents, document_index) = read_records::<BeirDocument>(&corpus_path)?;
    let (queries, query_index) = read_records::<BeirQuery>(&queries_path)?;
    let qrels = read_beir_qrels(&qrels_path)?;
    let relevant = relevant_documents(
        &qrels,
        &qrels_path,
        &IdMap {
            kind: "query",
            index: &query_index,
            defined_in: &queries_path,
        },
        &IdMap {
            kind: "document",
            index: &document_index,
            defined_in: &corpus_path,
        },
    )?;
    let queries = queries.into_iter().map(|q| (q.id, q.text)).collect();
    let (queries, relevant, dropped) = keep_answered(queries, relevant);
    if queries.is_empty() {
        return Err(Error::NoRelevantDocuments { path: qrels_path });
    }
    if dropped > 0 {
        tracing::info!(
            qrels = %qrels_path.display(),
            dropped,
            kept = queries.len(),
            "left out queries without a relevant document"
        );
    }
    let corpus = documents
        .iter()
        .map(|d| (d.id.clone(), d.joined_text()))
        .collect();
    Ok(RetrievalSet::new(queries, corpus, relevant)?.with_dropped_queries(dropped))
}

/// Reads a BEIR `corpus.jsonl`; ids must be unique.
pub fn read_beir_corpus(path: impl AsRef<Path>) -> Result<Vec<BeirDocument>> {
    Ok(read_records(path.as_ref())?.0)
}

/// Reads a BEIR `queries.jsonl`; ids must be unique.
pub fn read_beir_queries(path: impl AsRef<Path>) -> Result<Vec<BeirQuery>> {
    Ok(read_records(path.as_ref())?.0)
}

/// Reads a BEIR qrels file: the header [`BEIR_QRELS_HEADER`], then one
/// `query-id<tab>corpus-id<tab>score` line per pair (integer scores).
pub fn read_beir_qrels(path: impl AsRef<Path>) -> Result<Vec<Qrel>> {
    let path = path.as_ref();
    let mut qrels = Vec::new();
    let mut header_seen = false;
    let lines = for_each_line(path, |line, bytes| {
        let text = std::str::from_utf8(bytes).map_err(|source| Error::InvalidUtf8 {
            path: path.to_path_buf(),
            line: line as usize,
            source,
        })?;
        if !header_seen {
            header_seen = true;
            return check_header(path, text);
        }
        qrels.push(parse_qrel(path, line, text)?);
        Ok(())
    })?;
    if lines == 0 {
        return Err(Error::NoLines {
            path: path.to_path_buf(),
        });
    }
    tracing::debug!(path = %path.display(), qrels = qrels.len(), "read beir qrels");
    Ok(qrels)
}

fn check_header(path: &Path, text: &str) -> Result<()> {
    if text.trim_end() == BEIR_QRELS_HEADER {
        Ok(())
    } else {
        Err(Error::QrelsHeader {
            path: path.to_path_buf(),
            found: text.chars().take(80).collect(),
        })
    }
}

fn parse_qrel(path: &Path, line: u64, text: &str) -> Result<Qrel> {
    let fields: Vec<&str> = text.split('\t').collect();
    let [query_id, corpus_id, score] = fields[..] else {
        return Err(Error::QrelFields {
            path: path.to_path_buf(),
            line,
            found: fields.len(),
        });
    };
    let score = score.trim().parse().map_err(|source| Error::QrelScore {
        path: path.to_path_buf(),
        line,
        text: score.to_owned(),
        source,
    })?;
    Ok(Qrel {
        query_id: query_id.to_owned(),
        corpus_id: corpus_id.to_owned(),
        score,
        line,
    })
}

/// The records of a JSONL file and the position of each id; ids must be unique.
fn read_records<T: DeserializeOwned + Identified>(
    path: &Path,
) -> Result<(Vec<T>, HashMap<String, usize>)> {
    let mut records: Vec<T> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut lines_of: Vec<u64> = Vec::new();
    let lines = for_each_line(path, |line, bytes| {
        let record: T = serde_json::from_slice(bytes).map_err(|source| Error::BeirRecord {
            path: path.to_path_buf(),
            line,
            source,
        })?;
        if let Some(&first) = index.get(record.id()) {
            return Err(Error::DuplicateId {
                path: path.to_path_buf(),
                line,
                id: record.id().to_owned(),
                first_line: lines_of.get(first).copied().unwrap_or(0),
            });
        }
        index.insert(record.id().to_owned(), records.len());
        records.push(record);
        lines_of.push(line);
        Ok(())
    })?;
    if lines == 0 {
        return Err(Error::NoLines {
            path: path.to_path_buf(),
        });
    }
    tracing::debug!(path = %path.display(), records = records.len(), "read beir records");
    Ok((records, index))
}

/// Calls `f(line, bytes)` for every non-blank line (without its line ending, the first
/// line without a byte-order mark); returns the number of such lines.
fn for_each_line(path: &Path, mut f: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<u64> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut buffer = Vec::new();
    let (mut line, mut read_lines) = (0u64, 0u64);
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer).map_err(io)? == 0 {
            return Ok(read_lines);
        }
        line += 1;
        let mut bytes = buffer.as_slice();
        if line == 1 {
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        }
        bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        read_lines += 1;
        f(line, bytes)?;
    }
}

/// The positions of one file's ids, and the file (for errors).
struct IdMap<'a> {
    kind: &'static str,
    index: &'a HashMap<String, usize>,
    defined_in: &'a Path,
}

impl IdMap<'_> {
    fn find(&self, id: &str, qrels: &Path, line: u64) -> Result<usize> {
        self.index.get(id).copied().ok_or_else(|| Error::UnknownId {
            path: qrels.to_path_buf(),
            line,
            kind: self.kind,
            id: id.to_owned(),
            defined_in: self.defined_in.to_path_buf(),
        })
    }
}

/// For each query (by position), its documents with score > 0, in order of first listing;
/// a pair listed twice takes its last score.
fn relevant_documents(
    qrels: &[Qrel],
    qrels_path: &Path,
    queries: &IdMap<'_>,
    documents: &IdMap<'_>,
) -> Result<Vec<Vec<usize>>> {
    let mut graded: Vec<Vec<(usize, i64)>> = vec![Vec::new(); queries.index.len()];
    let mut slot: HashMap<(usize, usize), usize> = HashMap::new();
    for qrel in qrels {
        let q = queries.find(&qrel.query_id, qrels_path, qrel.line)?;
        let d = documents.find(&qrel.corpus_id, qrels_path, qrel.line)?;
        let Some(list) = graded.get_mut(q) else {
            continue;
        };
        match slot.get(&(q, d)).and_then(|&i| list.get_mut(i)) {
            Some(entry) => entry.1 = qrel.score,
            None => {
                slot.insert((q, d), list.len());
                list.push((d, qrel.score));
            }
        }
    }
    Ok(graded
        .into_iter()
        .map(|list| {
            list.into_iter()
                .filter(|&(_, score)| score > 0)
                .map(|(d, _)| d)
                .collect()
        })
        .collect())
}

/// A BEIR id: a non-empty string, or an integer taken as its decimal text.
fn beir_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserializer.deserialize_any(IdVisitor)
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-empty string or integer id")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if v.is_empty() {
            return Err(E::custom("empty id"));
        }
        Ok(v.to_owned())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// Where the files of a BEIR split live, for callers that report them.
pub fn beir_paths(dir: impl AsRef<Path>, split: &str) -> [PathBuf; 3] {
    let dir = dir.as_ref();
    [
        dir.join("corpus.jsonl"),
        dir.join("queries.jsonl"),
        dir.join("qrels").join(format!("{split}.tsv")),
    ]
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn folder(corpus: &str, queries: &str, qrels: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("corpus.jsonl"), corpus).unwrap();
        std::fs::write(dir.path().join("queries.jsonl"), queries).unwrap();
        std::fs::create_dir(dir.path().join("qrels")).unwrap();
        std::fs::write(dir.path().join("qrels/test.tsv"), qrels).unwrap();
        dir
    }

    const CORPUS: &str = "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"one\"}\n\
                          {\"_id\": 2, \"text\": \"two\", \"metadata\": {}}\r\n\n\
                          {\"_id\": \"d3\", \"title\": \"\", \"text\": \" three\"}\n";
    const QUERIES: &str = "\u{feff}{\"_id\": \"q1\", \"text\": \"first\"}\n\
                           {\"_id\": \"q2\", \"text\": \"second\"}\n\
                           {\"_id\": \"q3\", \"text\": \"third\"}\n";

    fn read_err(corpus: &str, queries: &str, qrels: &str) -> Error {
        let dir = folder(corpus, queries, qrels);
        read_beir(dir.path(), "test").unwrap_err()
    }

    #[test]
    fn reads_a_split_and_drops_unanswered_queries() {
        let qrels =
            "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\t2\t0\nq3\td3\t2\nq3\td1\t1\nq3\td1\t0\n";
        let dir = folder(CORPUS, QUERIES, qrels);
        let set = read_beir(dir.path(), "test").unwrap();
        let ids: Vec<&str> = set.queries().iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["q1", "q3"]);
        assert_eq!(set.relevant(), [vec![0], vec![2]]);
        assert_eq!(set.dropped_queries(), 1);
        let texts: Vec<&str> = set.corpus().iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["T one", "two", "three"]);
        assert_eq!(set.corpus()[1].0, "2");
    }

    #[test]
    fn qrels_errors_name_file_and_line() {
        let cases = [
            (
                "query-id\tcorpus-id\tscore\nq9\td1\t1\n",
                "test.tsv: line 2: query id `q9` is not in",
            ),
            (
                "query-id\tcorpus-id\tscore\n\nq1\tdx\t1\n",
                "test.tsv: line 3: document id `dx` is not in",
            ),
            (
                "query-id\tcorpus-id\tscore\nq1\td1\n",
                "test.tsv: line 2: 2 tab-separated fields",
            ),
            (
                "query-id\tcorpus-id\tscore\nq1\td1\thigh\n",
                "test.tsv: line 2: score `high` is not an integer",
            ),
            ("qid\tdid\tscore\n", "test.tsv: line 1: expected the header"),
            (
                "query-id\tcorpus-id\tscore\nq1\td1\t0\n",
                "test.tsv: no query has a relevant document",
            ),
            ("", "test.tsv: file has no lines"),
        ];
        for (qrels, want) in cases {
            let err = read_err(CORPUS, QUERIES, qrels).to_string();
            assert!(err.contains(want), "{err} / {want}");
        }
        let err = read_err(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq9\td1\t1\n").to_string();
        assert!(err.ends_with("queries.jsonl"), "{err}");
    }

    #[test]
    fn record_errors_name_file_and_line() {
        let qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\n";
        let dup = format!("{QUERIES}{{\"_id\": \"q2\", \"text\": \"again\"}}\n");
        let err = read_err(CORPUS, &dup, qrels).to_string();
        assert!(
            err.contains("queries.jsonl: line 4: id `q2` already appears on line 2"),
            "{err}"
        );
        let cases = [
            (
                "{\"_id\": \"d1\", \"title\": \"T\"}\n",
                "missing field `text`",
            ),
            ("{\"_id\": \"\", \"text\": \"x\"}\n", "empty id"),
            (
                "{\"_id\": [1], \"text\": \"x\"}\n",
                "non-empty string or integer id",
            ),
            ("not json\n", "expected"),
        ];
        for (corpus, cause) in cases {
            let err = read_err(corpus, QUERIES, qrels);
            assert!(
                err.to_string()
                    .contains("corpus.jsonl: line 1: not a valid beir record"),
                "{err}"
            );
            let source = err.source().map(ToString::to_string).unwrap_or_default();
            assert!(source.contains(cause), "{source} / {cause}");
        }
        let err = read_err("\n \n", QUERIES, qrels).to_string();
        assert!(err.contains("corpus.jsonl: file has no lines"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = read_beir(dir.path(), "dev").unwrap_err().to_string();
        assert!(
            err.contains("cannot read") && err.contains("corpus.jsonl"),
            "{err}"
        );
    }

    #[test]
    fn paths_follow_the_layout() {
        let [c, q, r] = beir_paths("/x", "dev");
        assert_eq!(
            (c, q, r),
            (
                "/x/corpus.jsonl".into(),
                "/x/queries.jsonl".into(),
                "/x/qrels/dev.tsv".into()
            )
        );
    }
}
