//! Content checks a file must pass to enter the cache, chosen by its name.
//!
//! A proxy or captive portal can answer 200 with an HTML page, and a file cached once is
//! never fetched again, so what the name promises is checked before the rename into
//! `blobs/`:
//!
//! - `*.safetensors`: an 8-byte little-endian header length, then that many bytes of JSON
//!   holding an object (at most 100 MB, safetensors' own limit);
//! - `*.json`: parses as JSON;
//! - `*.parquet`: the magic `PAR1` at its start and at its end;
//! - any other file (except `*.html`/`*.htm`): not served as `text/html`.
//!
//! Files already in the cache get the cheap form of the same checks on each lookup (the
//! safetensors header, the parquet magic, and for JSON only its first non-blank byte), which
//! catches an HTML page an older version cached without reading large files whole.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::de::IgnoredAny;

/// safetensors refuses headers larger than this (`MAX_HEADER_SIZE`).
const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;
const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
/// How much of a cached JSON file the cheap check reads, at most.
const JSON_SNIFF_BYTES: u64 = 1024;

/// What is wrong with a file's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// An HTML page where a data file was expected.
    #[error("it is an HTML page")]
    Html,
    /// Shorter than the safetensors length prefix.
    #[error("{size} bytes cannot hold the 8-byte safetensors header length")]
    SafetensorsTooShort { size: u64 },
    /// The length prefix points past the end of the file (or over the 100 MB limit).
    #[error("the safetensors header length {len} does not fit the {size}-byte file")]
    SafetensorsHeaderLength { len: u64, size: u64 },
    /// The header bytes are not a JSON object.
    #[error("the safetensors header is not a JSON object")]
    SafetensorsHeader(#[source] serde_json::Error),
    /// A `.json` file that does not parse.
    #[error("it is not valid JSON")]
    Json(#[source] serde_json::Error),
    /// A cached `.json` file whose first non-blank byte cannot start JSON (`<` of HTML).
    #[error("it does not start like JSON (first bytes {start:?})")]
    NotJson { start: String },
    /// No `PAR1` at both ends.
    #[error("it lacks the parquet magic `PAR1` at its start and end")]
    Parquet,
    /// Reading the file back failed.
    #[error("cannot read it back")]
    Read(#[source] io::Error),
}

type Check = Result<(), ContentError>;

/// The format a file name promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Safetensors,
    Json,
    Parquet,
    Html,
    Other,
}

impl Format {
    fn of(file: &str) -> Self {
        let ext = file
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase());
        match ext.as_deref() {
            Some("safetensors") => Self::Safetensors,
            Some("json") => Self::Json,
            Some("parquet") => Self::Parquet,
            Some("html" | "htm") => Self::Html,
            _ => Self::Other,
        }
    }

    /// The name used in error messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Safetensors => "safetensors",
            Self::Json => "JSON",
            Self::Parquet => "parquet",
            Self::Html => "HTML",
            Self::Other => "data",
        }
    }
}

/// What the name of `file` promises, for messages ("safetensors", "JSON", …).
pub(crate) fn expected_format(file: &str) -> &'static str {
    Format::of(file).label()
}

/// Whether a `Content-Type` value is HTML.
fn is_html(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("text/html") || mime.eq_ignore_ascii_case("application/xhtml+xml")
}

/// "61 bytes of text/html", for messages about what a server sent.
pub(crate) fn describe_arrival(content_type: Option<&str>, size: u64) -> String {
    match content_type {
        Some(ct) => format!("{size} bytes of {ct}"),
        None => format!("{size} bytes without a content-type"),
    }
}

/// The full checks on a finished download of `file`, `size` bytes in `content`.
pub(crate) fn check_download(
    file: &str,
    content: &mut File,
    size: u64,
    content_type: Option<&str>,
) -> Check {
    match Format::of(file) {
        Format::Safetensors => check_safetensors(content, size),
        Format::Json => {
            content
                .seek(SeekFrom::Start(0))
                .map_err(ContentError::Read)?;
            serde_json::from_reader::<_, IgnoredAny>(BufReader::new(content))
                .map(|_| ())
                .map_err(ContentError::Json)
        }
        Format::Parquet => check_parquet(content, size),
        Format::Html => Ok(()),
        Format::Other if content_type.is_some_and(is_html) => Err(ContentError::Html),
        Format::Other => Ok(()),
    }
}

/// The cheap checks on `file`, cached at `path`.
pub(crate) fn check_cached(file: &str, path: &Path) -> Check {
    let format = Format::of(file);
    if !matches!(format, Format::Safetensors | Format::Json | Format::Parquet) {
        return Ok(());
    }
    let mut content = File::open(path).map_err(ContentError::Read)?;
    let size = content.metadata().map_err(ContentError::Read)?.len();
    match format {
        Format::Safetensors => check_safetensors(&mut content, size),
        Format::Parquet => check_parquet(&mut content, size),
        _ => sniff_json(&mut content),
    }
}

fn check_safetensors(content: &mut File, size: u64) -> Check {
    if size < 8 {
        return Err(ContentError::SafetensorsTooShort { size });
    }
    content
        .seek(SeekFrom::Start(0))
        .map_err(ContentError::Read)?;
    let mut prefix = [0u8; 8];
    content
        .read_exact(&mut prefix)
        .map_err(ContentError::Read)?;
    let len = u64::from_le_bytes(prefix);
    if len > size - 8 || len > MAX_SAFETENSORS_HEADER {
        return Err(ContentError::SafetensorsHeaderLength { len, size });
    }
    let mut header = Vec::new();
    content
        .take(len)
        .read_to_end(&mut header)
        .map_err(ContentError::Read)?;
    serde_json::from_slice::<BTreeMap<String, IgnoredAny>>(&header)
        .map(|_| ())
        .map_err(ContentError::SafetensorsHeader)
}

fn check_parquet(content: &mut File, size: u64) -> Check {
    if size < 8 {
        return Err(ContentError::Parquet);
    }
    let mut head = [0u8; 4];
    let mut tail = [0u8; 4];
    content
        .seek(SeekFrom::Start(0))
        .map_err(ContentError::Read)?;
    content.read_exact(&mut head).map_err(ContentError::Read)?;
    content
        .seek(SeekFrom::End(-4))
        .map_err(ContentError::Read)?;
    content.read_exact(&mut tail).map_err(ContentError::Read)?;
    if &head == PARQUET_MAGIC && &tail == PARQUET_MAGIC {
        Ok(())
    } else {
        Err(ContentError::Parquet)
    }
}

/// The first non-blank byte (after a UTF-8 BOM) must be able to start a JSON value.
fn sniff_json(content: &mut File) -> Check {
    let mut start = Vec::new();
    content
        .take(JSON_SNIFF_BYTES)
        .read_to_end(&mut start)
        .map_err(ContentError::Read)?;
    let body = start.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&start);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let plausible = first.is_some_and(|b| {
        matches!(b, b'{' | b'[' | b'"' | b'-' | b't' | b'f' | b'n') || b.is_ascii_digit()
    });
    if plausible {
        return Ok(());
    }
    let shown = body.iter().take(16).copied().collect::<Vec<u8>>();
    Err(ContentError::NotJson {
        start: String::from_utf8_lossy(&shown).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, u64) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        (f, bytes.len() as u64)
    }

    fn download(file: &str, bytes: &[u8], content_type: Option<&str>) -> Check {
        let (mut f, size) = file_with(bytes);
        check_download(file, f.as_file_mut(), size, content_type)
    }

    fn cached(file: &str, bytes: &[u8]) -> Check {
        let (f, _) = file_with(bytes);
        check_cached(file, f.path())
    }

    const HTML: &[u8] = b"<!DOCTYPE html><html></html>";

    fn safetensors(header: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0u8; 16]);
        bytes
    }

    #[test]
    fn safetensors_headers() {
        let good = safetensors(br#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#);
        assert!(download("model.safetensors", &good, None).is_ok());
        assert!(cached("2_Dense/model.safetensors", &good).is_ok());
        assert!(matches!(
            download("model.safetensors", HTML, Some("text/html")),
            Err(ContentError::SafetensorsHeaderLength { .. })
        ));
        assert!(matches!(
            download("model.safetensors", b"abc", None),
            Err(ContentError::SafetensorsTooShort { size: 3 })
        ));
        assert!(matches!(
            cached("model.safetensors", &safetensors(b"[1, 2]")),
            Err(ContentError::SafetensorsHeader(_))
        ));
    }

    #[test]
    fn json_files() {
        assert!(download("config.json", br#"{"a": 1}"#, Some("text/html")).is_ok());
        assert!(matches!(
            download("config.json", HTML, Some("text/html")),
            Err(ContentError::Json(_))
        ));
        assert!(matches!(
            download("config.json", br#"{"a": "#, None),
            Err(ContentError::Json(_))
        ));
        assert!(cached("tokenizer.json", b"\xEF\xBB\xBF\n  {\"x\": 1}").is_ok());
        assert!(matches!(
            cached("tokenizer.json", HTML),
            Err(ContentError::NotJson { .. })
        ));
        assert!(cached("config.json", b"").is_err());
    }

    #[test]
    fn parquet_and_other_files() {
        assert!(download("a/train.parquet", b"PAR1....PAR1", None).is_ok());
        assert!(download("a/train.parquet", HTML, None).is_err());
        assert!(cached("a/train.parquet", b"PAR1").is_err());
        assert!(download("vocab.txt", b"[PAD]\n", Some("text/plain")).is_ok());
        assert!(matches!(
            download("vocab.txt", HTML, Some("text/html; charset=utf-8")),
            Err(ContentError::Html)
        ));
        assert!(download("docs/index.html", HTML, Some("text/html")).is_ok());
        // Cached files of other types are not checked (their content type is unknown).
        assert!(cached("vocab.txt", HTML).is_ok());
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            describe_arrival(Some("text/html"), 61),
            "61 bytes of text/html"
        );
        assert_eq!(expected_format("m.safetensors"), "safetensors");
        assert!(describe_arrival(None, 0).contains("without a content-type"));
    }
}
