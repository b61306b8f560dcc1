//! Streaming a response body into `blobs/`, atomically.

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};
use tracing::info;
use ureq::http::Response;
use ureq::Body;

use crate::error::{Error, Result};
use crate::progress::download_bar;

/// What the hub told us about the blob before its body arrived.
pub(crate) struct BlobInfo<'a> {
    /// The blob's name when the headers gave one (ETag); else it is the content's sha256.
    pub name: Option<&'a str>,
    /// A sha256 the content must have (LFS files announce it in `x-linked-etag`).
    pub sha256: Option<&'a str>,
}

/// Streams `response` into `blobs_dir/{name}` and returns the name.
///
/// The bytes go to `blobs_dir/{name}.{random}.incomplete` first, which is removed on any
/// failure (including a panic or an early return) and renamed into place only once the body
/// is complete and checked: the final path never holds a partial file.
pub(crate) fn save_blob(
    blobs_dir: &Path,
    mut response: Response<Body>,
    url: &str,
    info: &BlobInfo<'_>,
    label: &str,
) -> Result<String> {
    std::fs::create_dir_all(blobs_dir).map_err(|e| Error::io("create directory", blobs_dir, e))?;
    let mut incomplete = tempfile::Builder::new()
        .prefix(&format!("{}.", info.name.unwrap_or("download")))
        .suffix(".incomplete")
        .tempfile_in(blobs_dir)
        .map_err(|e| Error::io("create a temporary file in", blobs_dir, e))?;

    // A body Content-Encoding would make Content-Length count encoded bytes.
    let encoded = response
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() != b"identity");
    let expected_len = response.body().content_length().filter(|_| !encoded);
    // Hashing costs far less than the transfer; it names ETag-less blobs and checks LFS ones.
    let mut hasher = Sha256::new();
    let bar = download_bar(expected_len, label);
    let started = Instant::now();

    let mut reader = response.body_mut().as_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut received: u64 = 0;
    let copied: Result<()> = loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                break Err(Error::Download {
                    url: url.to_owned(),
                    source,
                })
            }
        };
        let chunk = &buf[..n];
        if let Err(e) = incomplete.as_file_mut().write_all(chunk) {
            break Err(Error::io("write", incomplete.path(), e));
        }
        hasher.update(chunk);
        received += n as u64;
        bar.inc(n as u64);
    };
    let checked = copied.and_then(|()| match expected_len {
        Some(expected) if expected != received => Err(Error::Download {
            url: url.to_owned(),
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("received {received} of {expected} bytes"),
            ),
        }),
        _ => Ok(()),
    });
    if let Err(e) = checked {
        bar.abandon();
        return Err(e);
    }

    let digest = hex::encode(hasher.finalize());
    if let Some(expected) = info.sha256 {
        if !expected.eq_ignore_ascii_case(&digest) {
            bar.abandon();
            return Err(Error::Checksum {
                url: url.to_owned(),
                expected: expected.to_owned(),
                actual: digest,
            });
        }
    }
    let name = info.name.map_or(digest, str::to_owned);

    incomplete
        .as_file()
        .sync_all()
        .map_err(|e| Error::io("flush", incomplete.path(), e))?;
    let path = blobs_dir.join(&name);
    incomplete
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
