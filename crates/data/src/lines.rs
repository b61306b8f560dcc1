//! Plain text input: one sentence per line.

use std::path::Path;

use crate::error::{Error, Result};

/// Reads a UTF-8 text file as one sentence per line.
///
/// Lines end with `\n` or `\r\n`; a leading byte-order mark is dropped. Empty lines are
/// kept as empty strings, except the empty "line" after a final newline. A file without
/// lines is an error; invalid UTF-8 is an error naming the 1-based line.
pub fn read_lines(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|err| {
        let valid = err.as_bytes().get(..err.utf8_error().valid_up_to());
        let line = valid.map_or(0, |v| v.iter().filter(|&&b| b == b'\n').count()) + 1;
        Error::InvalidUtf8 {
            path: path.to_path_buf(),
            line,
            source: err.utf8_error(),
        }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return Err(Error::NoLines {
            path: path.to_path_buf(),
        });
    }
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line).to_owned())
        .collect();
    tracing::debug!(path = %path.display(), lines = lines.len(), "read text lines");
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &[u8]) -> Result<Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.txt");
        std::fs::write(&path, content).unwrap();
        read_lines(&path)
    }

    #[test]
    fn splits_lines_and_strips_carriage_returns() {
        assert_eq!(read(b"a\r\nb\n\nc").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(read(b"a\nb\n").unwrap(), ["a", "b"]);
        assert_eq!(read(b"\xef\xbb\xbfa\r\n").unwrap(), ["a"]);
        assert_eq!(read(b"a\n\n").unwrap(), ["a", ""]);
    }

    #[test]
    fn empty_file_is_an_error() {
        let err = read(b"").unwrap_err().to_string();
        assert!(
            err.contains("input.txt") && err.contains("no lines"),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err = read(b"ok\nstill ok\nbad \xff here\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("input.txt: line 3: invalid utf-8"), "{err}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_lines("/nonexistent/dir/sentences.txt")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/dir/sentences.txt"), "{err}");
    }
}
