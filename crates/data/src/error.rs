//! Errors of the `data` crate.

use std::fmt;
use std::path::PathBuf;

use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use parquet::errors::ParquetError;

use crate::column_mapping::MappingError;

/// Result with the crate's [`Error`] as default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading a dataset file or configuring a sampler.
///
/// Messages name the file, and where it applies the 0-based row (parquet),
/// 1-based line (text files) and column.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read (missing, permissions, ...).
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not a parquet file, or its footer/metadata is truncated or corrupt.
    #[error("{}: not a readable parquet file", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },

    /// A record batch could not be decoded (corrupt page, bad compression, ...).
    #[error("{}: cannot decode parquet data", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: ArrowError,
    },

    /// A requested column is not in the file.
    #[error(
        "{}: column `{column}` not found; columns present: {}",
        path.display(),
        present.join(", ")
    )]
    MissingColumn {
        path: PathBuf,
        column: String,
        present: Vec<String>,
    },

    /// A column has an arrow type the reader does not accept.
    #[error("{}: column `{column}` has type {found}, expected {expected}", path.display())]
    ColumnType {
        path: PathBuf,
        column: String,
        expected: &'static str,
        found: DataType,
    },

    /// The parquet file holds no rows.
    #[error("{}: file has no rows", path.display())]
    NoRows { path: PathBuf },

    /// A value is null where the reader needs one.
    #[error("{}: row {row}, column `{column}`: null value", path.display())]
    Null {
        path: PathBuf,
        row: usize,
        column: String,
    },

    /// A score is NaN or infinite (or too large for `f32`).
    #[error("{}: row {row}, column `{column}`: score {value} is not finite", path.display())]
    NonFiniteScore {
        path: PathBuf,
        row: usize,
        column: String,
        value: f64,
    },

    /// A score is negative: GLUE marks rows without gold score with -1 (STS-B test split).
    #[error(
        "{}: row {row}, column `{column}`: score {value} is negative; the split has no gold labels \
         (GLUE test splits mark them with -1)",
        path.display()
    )]
    NoGoldScore {
        path: PathBuf,
        row: usize,
        column: String,
        value: f64,
    },

    /// An NLI label of -1 (no gold label, as in SNLI) while such rows are rejected.
    #[error(
        "{}: row {row}, column `{column}`: label -1 marks a row without gold label; \
         use UnlabeledRows::Skip to skip such rows",
        path.display()
    )]
    UnlabeledNliRow {
        path: PathBuf,
        row: usize,
        column: String,
    },

    /// An NLI label outside 0 (entailment), 1 (neutral), 2 (contradiction) and -1.
    #[error(
        "{}: row {row}, column `{column}`: label {value} is not an nli label \
         (0 entailment, 1 neutral, 2 contradiction)",
        path.display()
    )]
    InvalidNliLabel {
        path: PathBuf,
        row: usize,
        column: String,
        value: i64,
    },

    /// A text file is not valid UTF-8.
    #[error("{}: line {line}: invalid utf-8", path.display())]
    InvalidUtf8 {
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        #[source]
        source: std::str::Utf8Error,
    },

    /// A text file holds no lines.
    #[error("{}: file has no lines", path.display())]
    NoLines { path: PathBuf },

    /// A sentence file has an empty or whitespace-only line.
    #[error("{}: line {line}: empty line (one sentence per line expected)", path.display())]
    EmptyLine {
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },

    /// Single-sentence data read from a user file gives other than one text column.
    #[error(
        "{}: {} text columns ({}); single-sentence data needs exactly one, e.g. the mapping \
         `text=<column>`",
        path.display(),
        columns.len(),
        columns.join(", ")
    )]
    SentenceColumns { path: PathBuf, columns: Vec<String> },

    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A `.npy` file is not a matrix we can read (or, for a float32 reader, not float32).
    #[error("{}: not a readable 2-d .npy matrix: {reason}", path.display())]
    Npy { path: PathBuf, reason: String },

    /// An in-memory matrix does not have `rows × dim` values.
    #[error("embedding buffer holds {len} values, expected {rows} rows × {dim} = {}", rows * dim)]
    MatrixShape { len: usize, rows: usize, dim: usize },

    /// A table cannot be written as given (mismatched columns, an unknown file type).
    #[error("cannot write {}: {reason}", path.display())]
    TableWrite { path: PathBuf, reason: String },

    /// Writing a parquet file failed.
    #[error("cannot write parquet file {}", path.display())]
    ParquetWrite {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },

    /// A batch sampler was configured inconsistently.
    #[error("invalid batch sampler: {reason}")]
    Sampler { reason: String },

    /// Columns of a training set disagree (lengths, labels out of range, non-finite scores).
    #[error("invalid training set: {reason}")]
    TrainingSet { reason: String },

    /// A column mapping such as `anchor=question,positive=answer` does not parse.
    #[error("invalid column mapping")]
    ColumnMapping(#[from] MappingError),

    /// A user dataset whose extension names no format we read.
    #[error(
        "{}: unsupported dataset format (accepted extensions: .csv, .tsv, .jsonl, .ndjson, .parquet)",
        path.display()
    )]
    UnsupportedFormat { path: PathBuf },

    /// A column to read has a name that occurs more than once (a CSV/TSV header, a parquet
    /// schema): which of them is meant is a guess we refuse to make.
    #[error("{}: column `{column}` appears more than once", path.display())]
    DuplicateColumn { path: PathBuf, column: String },

    /// A value of a user dataset cannot be used (missing, empty, wrong type, out of range).
    #[error("{}: {at}, column `{column}`: {problem}", path.display())]
    Value {
        path: PathBuf,
        at: Position,
        column: String,
        problem: ValueProblem,
    },

    /// A list row's documents and labels differ in number.
    #[error(
        "{}: {at}, columns `{documents_column}` and `{labels_column}`: {documents} documents \
         but {labels} labels (one label per document)",
        path.display()
    )]
    ListLength {
        path: PathBuf,
        at: Position,
        documents_column: String,
        labels_column: String,
        documents: usize,
        labels: usize,
    },

    /// A mapping with `labels` lists over a CSV/TSV file, which holds only texts.
    #[error(
        "{}: csv/tsv files cannot hold lists; (query, documents, labels) rows need a .jsonl file \
         (documents as an array of strings, labels as an array of numbers) or a .parquet file \
         (list<string> and list<float|double|int> columns)",
        path.display()
    )]
    ListsInTextFile { path: PathBuf },

    /// A mapping with an `embedding` target over a CSV/TSV file, which holds only texts.
    #[error(
        "{}: column `{column}`: csv/tsv files cannot hold embeddings; teacher embeddings need a \
         .jsonl file (an array of numbers per row) or a .parquet file (a list of floats, as \
         `train-cli encode --output X.parquet` writes)",
        path.display()
    )]
    EmbeddingsInTextFile { path: PathBuf, column: String },

    /// A CSV/TSV record has a different number of fields than the header.
    #[error("{}: {at}: record has {found} fields, the header has {expected}", path.display())]
    FieldCount {
        path: PathBuf,
        at: Position,
        expected: usize,
        found: usize,
    },

    /// A CSV/TSV record cannot be read (invalid UTF-8, an I/O error, ...).
    #[error("{}: {at}: cannot read csv record", path.display())]
    Csv {
        path: PathBuf,
        at: Position,
        #[source]
        source: csv::Error,
    },

    /// A retrieval set's parts disagree (ids repeat, relevant lists out of range or empty).
    #[error("invalid retrieval set: {reason}")]
    RetrievalSet { reason: String },

    /// A line of a BEIR `corpus.jsonl` or `queries.jsonl` is not a record of that file
    /// (not json, a missing `_id` or `text`, a value of the wrong type, an empty id).
    #[error("{}: line {line}: not a valid beir record", path.display())]
    BeirRecord {
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        #[source]
        source: serde_json::Error,
    },

    /// An id appears on two lines of a BEIR file.
    #[error("{}: line {line}: id `{id}` already appears on line {first_line}", path.display())]
    DuplicateId {
        path: PathBuf,
        line: u64,
        id: String,
        first_line: u64,
    },

    /// A qrels file does not start with the BEIR header.
    #[error(
        "{}: line 1: expected the header `query-id<tab>corpus-id<tab>score`, found `{found}`",
        path.display()
    )]
    QrelsHeader { path: PathBuf, found: String },

    /// A qrels line does not have three tab-separated fields.
    #[error(
        "{}: line {line}: {found} tab-separated fields, expected 3 (query-id, corpus-id, score)",
        path.display()
    )]
    QrelFields {
        path: PathBuf,
        line: u64,
        found: usize,
    },

    /// A qrels score is not an integer (BEIR scores are integer relevance grades).
    #[error("{}: line {line}: score `{text}` is not an integer", path.display())]
    QrelScore {
        path: PathBuf,
        line: u64,
        text: String,
        #[source]
        source: std::num::ParseIntError,
    },

    /// A qrels line names a query or document id that its queries or corpus file lacks.
    #[error(
        "{}: line {line}: {kind} id `{id}` is not in {}",
        path.display(),
        defined_in.display()
    )]
    UnknownId {
        path: PathBuf,
        line: u64,
        /// `query` or `document`.
        kind: &'static str,
        id: String,
        defined_in: PathBuf,
    },

    /// A qrels file gives no query a document with score > 0.
    #[error("{}: no query has a relevant document (score > 0)", path.display())]
    NoRelevantDocuments { path: PathBuf },

    /// A JSONL line is not a JSON object.
    #[error("{}: {at}: not a json object", path.display())]
    Json {
        path: PathBuf,
        at: Position,
        #[source]
        source: serde_json::Error,
    },
}

/// Where in a file a value sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 0-based row index across the whole file (parquet, as in every parquet reader here).
    Row(usize),
    /// 1-based line number in a text file (CSV/TSV: the line where the record starts, the
    /// header being line 1; JSONL: the line of the object).
    Line(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Row(row) => write!(f, "row {row}"),
            Self::Line(line) => write!(f, "line {line}"),
        }
    }
}

/// What is wrong with one value of a user dataset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueProblem {
    /// A JSONL object lacks the key.
    #[error("missing value")]
    Missing,
    #[error("null value")]
    Null,
    /// An empty text (in CSV/TSV an empty field is how a missing value looks).
    #[error("empty text")]
    Empty,
    /// A JSON value of the wrong type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("`{text}` is not a number")]
    NotANumber { text: String },
    #[error("score {value:e} is not finite (as f32)")]
    NonFiniteScore { value: f64 },
    #[error("`{text}` is not an integer label")]
    NotAnInteger { text: String },
    #[error("label {value} is negative")]
    NegativeLabel { value: i64 },
    #[error("label {value} is outside 0..{num_labels}")]
    LabelOutOfRange { value: i64, num_labels: usize },
    /// A list row without documents.
    #[error("empty list (a row needs at least one document)")]
    EmptyList,
    /// One item of a list value (0-based).
    #[error("item {index}: {problem}")]
    Item {
        index: usize,
        problem: Box<ValueProblem>,
    },
    #[error("label {value:e} is not finite (as f32)")]
    NonFiniteLabel { value: f64 },
    /// A teacher embedding without values.
    #[error("empty embedding")]
    EmptyEmbedding,
    #[error("embedding value {value:e} is not finite (as f32)")]
    NonFiniteEmbedding { value: f64 },
    /// A teacher embedding of another length than the file's first row's.
    #[error("an embedding of {found} values, but the first row's has {expected}")]
    EmbeddingLength { expected: usize, found: usize },
}
