//! The Hugging Face hub cache layout on disk (see the crate docs for why this layout).
//!
//! ```text
//! {cache_dir}/models--org--name/
//!     blobs/{etag}                        file contents, named by ETag or sha256
//!     refs/{revision}                     text file holding the snapshot name (a commit)
//!     snapshots/{commit}/{file}           relative symlink to ../../blobs/{etag}
//!     .no_exist/{commit}/{file}           empty marker: the file is known to be absent
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use crate::error::{Error, Result};
use crate::repo::{validate_revision, Repo};
use crate::verify;

/// One repo's folder in the cache.
#[derive(Debug, Clone)]
pub(crate) struct RepoCache {
    root: PathBuf,
}

impl RepoCache {
    pub fn new(cache_dir: &Path, repo: &Repo) -> Self {
        Self {
            root: cache_dir.join(repo.cache_folder_name()),
        }
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    pub fn snapshot_dir(&self, snapshot: &str) -> PathBuf {
        self.root.join("snapshots").join(snapshot)
    }

    /// The snapshot folder name for `revision`: the content of `refs/{revision}` if that file
    /// exists, else the revision itself if it is a commit hash.
    pub fn snapshot_name(&self, revision: &str) -> Option<String> {
        let ref_path = self.root.join("refs").join(revision);
        match fs::read_to_string(&ref_path) {
            Ok(content) => {
                let name = content.trim();
                // A hand-edited or corrupt ref must not send us outside the cache.
                if validate_revision(name).is_ok() {
                    return Some(name.to_owned());
                }
                debug!(path = %ref_path.display(), "ignoring unusable ref file");
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                debug!(path = %ref_path.display(), error = %e, "cannot read ref file");
            }
            Err(_) => {}
        }
        is_commit_hash(revision).then(|| revision.to_owned())
    }

    /// Decides the snapshot folder for a response to a request at `revision`, and the value
    /// `refs/{revision}` must then hold (`None`: leave the refs alone).
    ///
    /// The hub sends the commit in `x-repo-commit`: the snapshot is that commit, recorded in
    /// `refs/{revision}` unless the revision already is that commit. A plain static mirror
    /// (e.g. `python3 -m http.server` over a copy of the hub's URL layout) sends no commit.
    /// Then the snapshot `refs/{revision}` already names is kept (so a 404 or a mirror never
    /// orphans a complete snapshot); failing that, a 40-hex revision is a commit and names the
    /// snapshot itself, and any other revision (`main`) names the snapshot folder, with
    /// `refs/{revision}` containing the revision name. The layout stays valid for
    /// `huggingface_hub`, which reads `refs/main` and then `snapshots/{content}/`, so offline
    /// Python finds these files too.
    pub fn snapshot_for(&self, revision: &str, commit: Option<&str>) -> (String, Option<String>) {
        match commit.filter(|c| validate_revision(c).is_ok()) {
            Some(commit) if commit == revision => (commit.to_owned(), None),
            Some(commit) => (commit.to_owned(), Some(commit.to_owned())),
            None => match self.snapshot_name(revision) {
                Some(existing) => (existing, None),
                None => (revision.to_owned(), Some(revision.to_owned())),
            },
        }
    }

    /// The snapshot path of `file` if it is in the cache (a dangling link counts as absent).
    pub fn cached_file(&self, revision: &str, file: &str) -> Option<PathBuf> {
        let snapshot = self.snapshot_name(revision)?;
        let path = self.snapshot_dir(&snapshot).join(file);
        path.is_file().then_some(path)
    }

    /// Whether an earlier request found that `file` does not exist at `revision`.
    pub fn known_missing(&self, revision: &str, file: &str) -> bool {
        self.snapshot_name(revision)
            .is_some_and(|snapshot| self.no_exist_path(&snapshot, file).is_file())
    }

    /// Records that `file` does not exist in `snapshot` (as `huggingface_hub` does).
    pub fn mark_missing(&self, snapshot: &str, file: &str) -> Result<()> {
        let path = self.no_exist_path(snapshot, file);
        create_parent(&path)?;
        fs::write(&path, b"").map_err(|e| Error::io("write", &path, e))
    }

    fn no_exist_path(&self, snapshot: &str, file: &str) -> PathBuf {
        self.root.join(".no_exist").join(snapshot).join(file)
    }

    /// Points `refs/{revision}` at `snapshot`, atomically; a no-op when it already does.
    pub fn write_ref(&self, revision: &str, snapshot: &str) -> Result<()> {
        let path = self.root.join("refs").join(revision);
        if fs::read_to_string(&path).is_ok_and(|c| c.trim() == snapshot) {
            return Ok(());
        }
        create_parent(&path)?;
        let tmp = sibling_tmp(&path);
        fs::write(&tmp, snapshot).map_err(|e| Error::io("write", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io("rename into place", &path, e)
        })
    }

    /// Whether `blobs/{blob}` exists and passes the cheap checks for `file`. A blob that fails
    /// them (cached by an older version) is removed, so that it is downloaded again.
    pub fn reusable_blob(&self, blob: &str, file: &str) -> Result<bool> {
        let path = self.blobs_dir().join(blob);
        if !path.is_file() {
            return Ok(false);
        }
        match verify::check_cached(file, &path) {
            Ok(()) => Ok(true),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cached blob is corrupt; replacing it");
                remove_if_present(&path)?;
                Ok(false)
            }
        }
    }

    /// Removes the snapshot link `link` and the blob it points to (only a blob inside this
    /// repo's `blobs/`: a hand-made link elsewhere is not followed).
    pub fn evict(&self, link: &Path) -> Result<()> {
        let blob = fs::canonicalize(link).ok();
        let blobs = fs::canonicalize(self.blobs_dir()).ok();
        if let (Some(blob), Some(blobs)) = (blob, blobs) {
            if blob.starts_with(&blobs) {
                remove_if_present(&blob)?;
            }
        }
        remove_if_present(link)
    }

    /// Creates (or replaces) `snapshots/{snapshot}/{file}` as a relative link to `blobs/{blob}`
    /// and returns its path.
    pub fn link(&self, snapshot: &str, file: &str, blob: &str) -> Result<PathBuf> {
        let path = self.snapshot_dir(snapshot).join(file);
        create_parent(&path)?;
        // From snapshots/{snapshot}/{file} back up to the repo folder: one `..` per component
        // of the snapshot name and of the file, plus one for `snapshots/` itself, minus the
        // file name: e.g. snapshots/abc/1_Pooling/config.json -> ../../../blobs/{blob}.
        let depth = snapshot.split('/').count() + file.split('/').count();
        let target = format!("{}blobs/{blob}", "../".repeat(depth));
        let tmp = sibling_tmp(&path);
        make_link(&target, &self.blobs_dir().join(blob), &tmp)?;
        // rename(2) atomically replaces a stale link or file at `path`.
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io("rename into place", &path, e)
        })?;
        Ok(path)
    }
}

#[cfg(unix)]
fn make_link(target: &str, _blob: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).map_err(|e| Error::io("create symlink", link, e))
}

/// Symlinks need privileges on Windows; `huggingface_hub` also falls back to copies there.
#[cfg(not(unix))]
fn make_link(_target: &str, blob: &Path, link: &Path) -> Result<()> {
    fs::copy(blob, link)
        .map(|_| ())
        .map_err(|e| Error::io("copy blob to", link, e))
}

/// `huggingface_hub`'s `REGEX_COMMIT_HASH`: 40 lowercase hex digits.
pub(crate) fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Turns an `ETag`/`x-linked-etag` value into a blob file name: strips `W/` and quotes;
/// refuses anything that is not a plain token (a server must not pick our paths).
pub(crate) fn blob_name_from_etag(raw: &str) -> Option<String> {
    let value = raw.trim();
    let value = value.strip_prefix("W/").unwrap_or(value).trim_matches('"');
    let plain = !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    plain.then(|| value.to_owned())
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}

fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => {
            fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))
        }
        None => Ok(()),
    }
}

/// A name next to `path` that no other process or thread uses at the same time.
fn sibling_tmp(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", unique_suffix()))
}

/// Process id, a per-process counter and the clock: unique across threads and processes.
pub(crate) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{n}-{nanos}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_become_safe_names() {
        assert_eq!(blob_name_from_etag("\"abc123\"").as_deref(), Some("abc123"));
        assert_eq!(blob_name_from_etag("W/\"abc-1\"").as_deref(), Some("abc-1"));
        assert_eq!(blob_name_from_etag("\"../../x\""), None);
        assert_eq!(blob_name_from_etag("\"..\""), None);
        assert_eq!(blob_name_from_etag("\"\""), None);
        assert_eq!(blob_name_from_etag("a/b"), None);
    }

    #[test]
    fn snapshot_choice() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RepoCache::new(dir.path(), &Repo::model("org/name").unwrap());
        let c = "0123456789abcdef0123456789abcdef01234567";
        let owned = |s: &str| s.to_owned();
        assert_eq!(
            cache.snapshot_for("main", Some(c)),
            (owned(c), Some(owned(c)))
        );
        assert_eq!(cache.snapshot_for(c, Some(c)), (owned(c), None));
        assert_eq!(cache.snapshot_for(c, None), (owned(c), None));
        assert_eq!(
            cache.snapshot_for("main", None),
            (owned("main"), Some(owned("main")))
        );
        // Without a commit header, an existing ref is kept.
        cache.write_ref("main", c).unwrap();
        assert_eq!(cache.snapshot_for("main", None), (owned(c), None));
        assert!(is_commit_hash(c));
        assert!(!is_commit_hash("main"));
        assert!(!is_commit_hash(&c.to_uppercase()));
    }

    #[test]
    fn links_and_refs() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::model("org/name").unwrap();
        let cache = RepoCache::new(dir.path(), &repo);
        fs::create_dir_all(cache.blobs_dir()).unwrap();
        fs::write(cache.blobs_dir().join("b1"), "one").unwrap();
        fs::write(cache.blobs_dir().join("b2"), "two").unwrap();
        cache.write_ref("main", "c1").unwrap();
        assert_eq!(cache.snapshot_name("main").as_deref(), Some("c1"));
        let p = cache.link("c1", "1_Pooling/config.json", "b1").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "one");
        assert_eq!(
            fs::read_link(&p).unwrap(),
            PathBuf::from("../../../blobs/b1")
        );
        // A stale link is replaced.
        let p = cache.link("c1", "1_Pooling/config.json", "b2").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(cache.cached_file("main", "1_Pooling/config.json"), Some(p));
        assert_eq!(cache.cached_file("main", "other.json"), None);
        cache.mark_missing("c1", "vocab.txt").unwrap();
        assert!(cache.known_missing("main", "vocab.txt"));
        assert!(!cache.known_missing("v2", "vocab.txt"));
    }
}
