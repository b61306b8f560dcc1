//! Streaming a response body into `blobs/`, atomically and checked.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Instant;

use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;
use tracing::info;
use ureq::http::Response;
use ureq::Body;

use crate::error::{Error, Result};
use crate::incomplete;
use crate::progress::download_bar;
use crate::timeouts::{
    StallGuard, Timeouts, MIN_BYTES_PER_WINDOW, READ_TIMEOUT_VAR, STALL_TIMEOUT_VAR,
};
use crate::verify;

/// What the hub told us about the blob before its body arrived.
pub(crate) struct BlobInfo<'a> {
    /// The repo file this is (`config.json`): decides the content checks, labels the bar.
    pub file: &'a str,
    /// The blob's name when the headers gave one (ETag); else it is the content's sha256.
    pub name: Option<&'a str>,
    /// A sha256 the content must have (LFS files announce it in `x-linked-etag`).
    pub sha256: Option<&'a str>,
}

/// Streams `response` into `blobs_dir/{name}` and returns the name.
///
/// Leftovers of killed downloads in `blobs_dir` are swept first (see `incomplete.rs`). The
/// bytes go to a locked `.incomplete` file, which is removed on any failure (including a
/// panic or an early return) and renamed into place only once every check holds: the length
/// the server announced, the announced sha256, and the content checks of `verify.rs`. The
/// final path never holds a partial or refused file.
pub(crate) fn save_blob(
    blobs_dir: &Path,
    mut response: Response<Body>,
    url: &str,
    info: &BlobInfo<'_>,
    timeouts: &Timeouts,
) -> Result<String> {
    std::fs::create_dir_all(blobs_dir).map_err(|e| Error::io("create directory", blobs_dir, e))?;
    incomplete::sweep(blobs_dir);
    let mut partial = incomplete::create(blobs_dir, info.name)?;

    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type");
    // A body Content-Encoding would make Content-Length count encoded bytes.
    let encoded = header("content-encoding").is_some_and(|v| v != "identity");
    let expected_len = response.body().content_length().filter(|_| !encoded);
    let bar = download_bar(expected_len, info.file);
    let started = Instant::now();

    let mut reader = response.body_mut().as_reader();
    let body = copy_body(&mut reader, &mut partial, url, timeouts, &bar);
    let checked = body.and_then(|(received, digest)| {
        check_length(url, expected_len, received)?;
        check_sha256(url, info.sha256, &digest)?;
        check_content(
            url,
            info.file,
            partial.as_file_mut(),
            received,
            content_type,
        )?;
        Ok((received, digest))
    });
    let (received, digest) = checked.inspect_err(|_| bar.abandon())?;
    let name = info.name.map_or(digest, str::to_owned);

    partial
        .as_file()
        .sync_all()
        .map_err(|e| Error::io("flush", partial.path(), e))?;
    let path = blobs_dir.join(&name);
    partial
        .persist(&path)
        .map_err(|e| Error::io("rename into place", &path, e.error))?;
    bar.finish();
    info!(
        url,
        bytes = received,
        secs = started.elapsed().as_secs_f64(),
        "downloaded"
    );
    Ok(name)
}

/// Copies the body into `out`, hashing it (which costs far less than the transfer; it names
/// ETag-less blobs and checks LFS ones) and enforcing the time limits. Returns the byte count
/// and the sha256 in hex.
fn copy_body(
    reader: &mut impl Read,
    out: &mut NamedTempFile,
    url: &str,
    timeouts: &Timeouts,
    bar: &ProgressBar,
) -> Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut guard = StallGuard::new(timeouts.stall, Instant::now());
    let mut buf = vec![0u8; 1 << 16];
    let mut received: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok((received, hex::encode(hasher.finalize()))),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(read_error(url, timeouts, source)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        out.as_file_mut()
            .write_all(chunk)
            .map_err(|e| Error::io("write", out.path(), e))?;
        hasher.update(chunk);
        received += n as u64;
        bar.inc(n as u64);
        guard
            .record(n as u64, Instant::now())
            .map_err(|stall| Error::Stalled {
                url: url.to_owned(),
                window: stall.window,
                received: stall.received,
                min_bytes: MIN_BYTES_PER_WINDOW,
                setting: STALL_TIMEOUT_VAR,
            })?;
    }
}

/// A failed body read: a read timeout becomes [`Error::Timeout`], the rest
/// [`Error::Download`].
fn read_error(url: &str, timeouts: &Timeouts, source: io::Error) -> Error {
    // ureq hands its own timeout errors through `io::Error::other`.
    let ureq_timeout = source
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
        .is_some_and(|e| matches!(e, ureq::Error::Timeout(_)));
    if ureq_timeout || source.kind() == io::ErrorKind::TimedOut {
        return Error::Timeout {
            url: url.to_owned(),
            limit: timeouts.read,
            setting: READ_TIMEOUT_VAR,
            source,
        };
    }
    Error::Download {
        url: url.to_owned(),
        source,
    }
}

fn check_length(url: &str, expected: Option<u64>, received: u64) -> Result<()> {
    match expected {
        Some(expected) if expected != received => Err(Error::Download {
            url: url.to_owned(),
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("received {received} of {expected} bytes"),
            ),
        }),
        _ => Ok(()),
    }
}

fn check_sha256(url: &str, expected: Option<&str>, actual: &str) -> Result<()> {
    match expected {
        Some(expected) if !expected.eq_ignore_ascii_case(actual) => Err(Error::Checksum {
            url: url.to_owned(),
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        }),
        _ => Ok(()),
    }
}

fn check_content(
    url: &str,
    file: &str,
    content: &mut File,
    size: u64,
    content_type: Option<String>,
) -> Result<()> {
    verify::check_download(file, content, size, content_type.as_deref()).map_err(|source| {
        Error::InvalidContent {
            file: file.to_owned(),
            url: url.to_owned(),
            arrived: verify::describe_arrival(content_type.as_deref(), size),
            expected: verify::expected_format(file),
            source,
        }
    })
}
