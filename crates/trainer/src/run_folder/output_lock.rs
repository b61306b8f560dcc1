//! One run per output folder: `{output.dir}/.train.lock`, held from the run's first write to
//! its end, so a second run on the same folder is refused instead of interleaving its
//! checkpoints, metrics and weights with the first one's.
//!
//! The lock is an exclusive `flock` on that file, not the file's existence: the kernel
//! releases it when the holder ends, however it ends, so a run killed with SIGKILL (or a
//! machine that lost power) leaves a file that the next run simply locks and takes over. A
//! pid file alone was not chosen: it needs a liveness guess (pids are reused, and an output
//! folder on a shared disk is written from several hosts, whose pids mean nothing here).
//! `flock` works on local disks and on NFS (Linux maps it to `fcntl` locks there). It comes
//! from `rustix`, as in the hub's download files: `std::fs::File::try_lock` would do the same
//! but needs Rust 1.89, above this workspace's `rust-version`.
//!
//! The file's text (pid, host, start time) only serves the message that names the running
//! run. The holder removes the file while still holding the lock when it ends; a run that
//! opened the old file just before and locks it afterwards sees that the path no longer
//! leads to its file and starts over with the new one, so two runs never both hold a lock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::error::{io_error, Error, Result};

/// The lock's file name inside the output folder.
pub(crate) const LOCK_FILE: &str = ".train.lock";

/// Tries before giving up when the file keeps being replaced under us (never in practice).
const ATTEMPTS: usize = 5;

/// Who holds the lock, as written into the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOwner {
    pub pid: u32,
    pub host: String,
    /// UTC, RFC 3339.
    pub started: String,
}

impl std::fmt::Display for LockOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on host {} since {}",
            self.pid, self.host, self.started
        )
    }
}

/// The held lock of an output folder; dropping it removes the file and releases the lock.
#[derive(Debug)]
pub(crate) struct OutputLock {
    path: PathBuf,
    /// Holds the flock: it goes when this handle closes.
    file: File,
}

impl OutputLock {
    /// Takes `dir/.train.lock` without waiting: an error naming the running run when another
    /// process (or another `OutputLock` in this one) holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..ATTEMPTS {
            let mut file = open(&path)?;
            if !try_lock(&file).map_err(io_error(&path))? {
                return Err(Error::OutputInUse {
                    owner: read_owner(&mut file),
                    lock: path,
                });
            }
            if leads_to(&path, &file)? {
                if let Some(previous) = read_owner(&mut file) {
                    info!(lock = %path.display(), %previous, "taking over the lock of a run that ended without removing it");
                }
                write_owner(&path, &mut file)?;
                return Ok(Self { path, file });
            }
        }
        Err(Error::Io {
            source: std::io::Error::other("the lock file kept being replaced while locking it"),
            path,
        })
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still locked (see the module docs), and only if it is still ours (not
        // a file a later run made after someone deleted ours); the lock goes with the handle.
        if leads_to(&self.path, &self.file).unwrap_or(false) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_error(path))
}

/// Whether `path` still names the file `file` has open (the previous holder may have removed
/// it between our open and our lock).
#[cfg(unix)]
fn leads_to(path: &Path, file: &File) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata().map_err(io_error(path))?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(path)(e)),
    }
}

fn write_owner(path: &Path, file: &mut File) -> Result<()> {
    let owner = LockOwner {
        pid: std::process::id(),
        host: hostname(),
        started: utc_now(),
    };
    let text = serde_json::to_string(&owner).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    file.set_len(0).map_err(io_error(path))?;
    file.seek(SeekFrom::Start(0)).map_err(io_error(path))?;
    file.write_all(text.as_bytes()).map_err(io_error(path))?;
    file.flush().map_err(io_error(path))
}

/// The holder's entry; `None` when it has not written it yet (it locks, then writes).
fn read_owner(file: &mut File) -> Option<LockOwner> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Takes an exclusive `flock` on `file` without waiting: `Ok(false)` if another open file
/// holds one. Released when every handle of this open file is closed.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

// Elsewhere no lock is taken (libtorch builds of this project are Unix-only today).
#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(not(unix))]
fn leads_to(_path: &Path, _file: &File) -> Result<bool> {
    Ok(true)
}

/// This machine's name (Linux's `uname` node name), for the message only.
/// This machine's host name (`/proc`, `/etc/hostname`, then `$HOSTNAME`), if any is known.
pub(crate) fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
}

fn hostname() -> String {
    host_name().unwrap_or_else(|| "(unknown)".into())
}

fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (the proleptic Gregorian
/// calendar, Howard Hinnant's `civil_from_days`).
fn rfc3339(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3_600, rem % 3_600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_folder_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = OutputLock::acquire(dir.path()).unwrap();
        let err = OutputLock::acquire(dir.path()).unwrap_err();
        let text = err.to_string();
        let lock = dir.path().join(LOCK_FILE);
        assert!(
            text.contains(&format!("pid {}", std::process::id()))
                && text.contains(&hostname())
                && text.contains(&lock.display().to_string()),
            "{text}"
        );
        match err {
            Error::OutputInUse { owner: Some(o), .. } => assert_eq!(o.pid, std::process::id()),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert!(!lock.exists(), "the lock file is removed at the end");
        OutputLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_lock_file_no_process_holds_is_taken_over() {
        // What a run killed with SIGKILL leaves: the file with its entry, but no flock.
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(LOCK_FILE);
        std::fs::write(
            &lock,
            r#"{"pid":999999,"host":"gone","started":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let _held = OutputLock::acquire(dir.path()).unwrap();
        let owner: LockOwner =
            serde_json::from_str(&std::fs::read_to_string(&lock).unwrap()).unwrap();
        assert_eq!(owner.pid, std::process::id());
    }

    #[test]
    fn a_holder_that_has_not_written_its_entry_yet_is_still_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = open(&dir.path().join(LOCK_FILE)).unwrap();
        assert!(try_lock(&file).unwrap());
        let text = OutputLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            text.contains("another run") && text.contains(LOCK_FILE),
            "{text}"
        );
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // date -u -d @1709210096 +%FT%TZ (a leap day)
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
