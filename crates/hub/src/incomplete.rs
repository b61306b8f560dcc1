//! `.incomplete` files: a blob's bytes while they arrive, and what a killed process leaves.
//!
//! A download streams into `blobs/{name}.{random}.sentence-rs.incomplete`, renamed to
//! `blobs/{name}` only once checked. `tempfile` removes the file on every failure (error
//! return or panic); only a process that dies (SIGKILL, power loss) leaves one behind. Before
//! each download, [`sweep`] removes such leftovers from that repo's `blobs/`.
//!
//! A leftover must be told apart from a file another process is writing right now. The writer
//! holds an exclusive `flock` on its file from creation until the rename, and the kernel
//! releases it when the process ends, however it ends; the sweep removes a file only if it can
//! take that lock itself without waiting, and only if the file is also unmodified for
//! [`STALE_AFTER`]. The age check closes the short gap between creating and locking a file,
//! and guards writers that take no lock (older versions of this crate; systems other than
//! Unix, where it is the only check, and holds because a live download writes at least once
//! per stall window, see `timeouts.rs`). A pid check was not chosen: pids are reused, and a
//! cache on a shared disk is written from several hosts, whose pids mean nothing here; `flock`
//! works on local disks and on NFS (Linux maps it to `fcntl` locks there).
//!
//! Only our files are swept: those with our suffix, and those of earlier versions of this
//! crate (`{name}.{6 random characters}.incomplete`, which took no lock; the age check alone
//! decides for them, and their 60 s read timeout kept a live one from going 10 minutes
//! unmodified). `huggingface_hub` keeps its `{etag}.incomplete` files (no random part) to
//! resume downloads, under its own locks in `.locks/`: they stay.

use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use tempfile::NamedTempFile;
use tracing::{debug, info};

use crate::error::{Error, Result};

/// Suffix of the files this crate writes while downloading.
pub(crate) const SUFFIX: &str = ".sentence-rs.incomplete";

/// A file unmodified for this long, and unlocked, is a leftover.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(10 * 60);

/// Creates `blobs_dir/{name}.{random}.sentence-rs.incomplete`, locked for this process;
/// dropping it removes the file.
pub(crate) fn create(blobs_dir: &Path, name: Option<&str>) -> Result<NamedTempFile> {
    let file = tempfile::Builder::new()
        .prefix(&format!("{}.", name.unwrap_or("download")))
        .suffix(SUFFIX)
        .tempfile_in(blobs_dir)
        .map_err(|e| Error::io("create a temporary file in", blobs_dir, e))?;
    match try_lock(file.as_file()) {
        Ok(true) => Ok(file),
        Ok(false) => Err(Error::io(
            "lock",
            file.path(),
            io::Error::new(io::ErrorKind::WouldBlock, "a new file is locked already"),
        )),
        Err(e) => Err(Error::io("lock", file.path(), e)),
    }
}

/// Removes the leftovers of dead downloads in `blobs_dir` and returns how many. Best effort:
/// a file that cannot be checked or removed is left alone.
pub(crate) fn sweep(blobs_dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(blobs_dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_ours);
        if ours && remove_if_stale(&path, now) {
            removed += 1;
        }
    }
    if removed > 0 {
        info!(dir = %blobs_dir.display(), removed, "removed leftovers of interrupted downloads");
    }
    removed
}

/// Whether `name` is a download file of this crate, of this version or an earlier one.
fn is_ours(name: &str) -> bool {
    if name.ends_with(SUFFIX) {
        return true;
    }
    // Earlier versions: tempfile's `{name}.{6 alphanumerics}.incomplete`.
    name.strip_suffix(".incomplete")
        .and_then(|stem| stem.rsplit_once('.'))
        .is_some_and(|(blob, random)| {
            !blob.is_empty()
                && random.len() == 6
                && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Removes `path` if it is old enough and no live process holds its lock.
fn remove_if_stale(path: &Path, now: SystemTime) -> bool {
    let age = fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .map(|modified| now.duration_since(modified).unwrap_or(Duration::ZERO));
    if !age.is_ok_and(|age| age >= STALE_AFTER) {
        return false;
    }
    let file = match File::open(path) {
        Ok(file) => file,
        Err(_) => return false,
    };
    match try_lock(&file) {
        Ok(true) => match fs::remove_file(path) {
            Ok(()) => true,
            Err(e) => {
                debug!(path = %path.display(), error = %e, "cannot remove a stale download");
                false
            }
        },
        Ok(false) => {
            debug!(path = %path.display(), "download in progress in another process");
            false
        }
        Err(e) => {
            debug!(path = %path.display(), error = %e, "cannot lock a stale download");
            false
        }
    }
}

/// Takes an exclusive `flock` on `file` without waiting: `Ok(false)` if another open file
/// holds one. Released when every handle of this open file is closed.
#[cfg(unix)]
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// No locks here: the age alone decides (see the module docs).
#[cfg(not(unix))]
pub(crate) fn try_lock(_file: &File) -> io::Result<bool> {
    Ok(true)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn backdate(path: &Path) {
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    #[test]
    fn a_live_writer_keeps_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let writing = create(dir.path(), Some("abc")).unwrap();
        backdate(writing.path());
        assert_eq!(sweep(dir.path()), 0);
        assert!(writing.path().exists());
        // Once the writer is gone (its handle closed, the file kept), the leftover goes.
        let (file, path) = writing.keep().unwrap();
        drop(file);
        assert_eq!(sweep(dir.path()), 1);
        assert!(!path.exists());
    }

    #[test]
    fn names_of_our_files() {
        assert!(is_ours("abc.Xy12Zq.sentence-rs.incomplete"));
        assert!(is_ours("download.Xy12Zq.incomplete"));
        assert!(!is_ours(
            "0123456789abcdef0123456789abcdef01234567.incomplete"
        ));
        assert!(!is_ours("abc.Xy12Zq"));
        assert!(!is_ours(".Xy12Zq.incomplete"));
    }

    #[test]
    fn young_and_foreign_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let young = dir.path().join(format!("abc.x1{SUFFIX}"));
        fs::write(&young, b"partial").unwrap();
        let python = dir.path().join("0123abcd.incomplete");
        fs::write(&python, b"partial").unwrap();
        backdate(&python);
        let blob = dir.path().join("0123abcd");
        fs::write(&blob, b"done").unwrap();
        backdate(&blob);
        assert_eq!(sweep(dir.path()), 0);
        assert!(young.exists() && python.exists() && blob.exists());
        assert_eq!(sweep(&dir.path().join("missing")), 0);
    }
}
