//! Repo identity: kind, id and revision, validated once at construction.

use std::fmt;

use crate::error::{Error, Result};

/// The branch used when no revision is given.
pub const DEFAULT_REVISION: &str = "main";

/// Longest repo id the hub accepts.
const MAX_REPO_ID_LEN: usize = 96;

/// Which namespace of the hub a repo lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoKind {
    /// `{endpoint}/{id}/…`, cached under `models--…`.
    Model,
    /// `{endpoint}/datasets/{id}/…`, cached under `datasets--…`.
    Dataset,
}

impl RepoKind {
    /// Path prefix in hub URLs.
    pub(crate) fn url_prefix(self) -> &'static str {
        match self {
            Self::Model => "",
            Self::Dataset => "datasets/",
        }
    }

    /// Prefix of the repo folder in the cache (`models`, `datasets`).
    pub(crate) fn cache_prefix(self) -> &'static str {
        match self {
            Self::Model => "models",
            Self::Dataset => "datasets",
        }
    }
}

impl fmt::Display for RepoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Model => "model",
            Self::Dataset => "dataset",
        })
    }
}

/// A hub repo at a revision. Construction validates the id and the revision, so a `Repo` is
/// always safe to put in a URL and in a cache path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repo {
    id: String,
    kind: RepoKind,
    revision: String,
}

impl Repo {
    /// A repo of `kind` at the default revision (`main`).
    pub fn new(kind: RepoKind, id: &str) -> Result<Self> {
        validate_repo_id(id)?;
        Ok(Self {
            id: id.to_owned(),
            kind,
            revision: DEFAULT_REVISION.to_owned(),
        })
    }

    /// A model repo (`org/name` or `name`) at `main`.
    pub fn model(id: &str) -> Result<Self> {
        Self::new(RepoKind::Model, id)
    }

    /// A dataset repo (`org/name` or `name`) at `main`.
    pub fn dataset(id: &str) -> Result<Self> {
        Self::new(RepoKind::Dataset, id)
    }

    /// The same repo at another revision (branch, tag or commit hash).
    pub fn with_revision(self, revision: &str) -> Result<Self> {
        validate_revision(revision)?;
        Ok(Self {
            revision: revision.to_owned(),
            ..self
        })
    }

    /// The repo id, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Model or dataset.
    pub fn kind(&self) -> RepoKind {
        self.kind
    }

    /// Branch, tag or commit hash.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// Folder name in the hub cache: `models--org--name`.
    pub(crate) fn cache_folder_name(&self) -> String {
        format!(
            "{}--{}",
            self.kind.cache_prefix(),
            self.id.replace('/', "--")
        )
    }
}

/// Checks a repo id the way `huggingface_hub.utils.validate_repo_id` does: `name` or
/// `org/name`, each part of ASCII letters, digits, `-`, `_`, `.`, starting and ending with a
/// letter, digit or `_`; no `--` or `..` (the cache uses `--` as separator).
pub(crate) fn validate_repo_id(id: &str) -> Result<()> {
    let fail = |reason| {
        Err(Error::InvalidRepoId {
            id: id.to_owned(),
            reason,
        })
    };
    if id.is_empty() {
        return fail("it is empty");
    }
    if id.len() > MAX_REPO_ID_LEN {
        return fail("it is longer than 96 characters");
    }
    if id.starts_with('/') {
        return fail("it starts with a slash");
    }
    if id.contains("..") {
        return fail("it contains `..`");
    }
    if id.contains("--") {
        return fail("it contains `--`");
    }
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() > 2 {
        return fail("expected `name` or `org/name`");
    }
    for part in parts {
        if part.is_empty() {
            return fail("it has an empty part");
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return fail("only ASCII letters, digits, `-`, `_` and `.` are allowed");
        }
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let bytes = part.as_bytes();
        if !bytes.first().copied().is_some_and(word) || !bytes.last().copied().is_some_and(word) {
            return fail("each part must start and end with a letter, digit or `_`");
        }
    }
    if id.ends_with(".git") {
        return fail("it ends with `.git`");
    }
    Ok(())
}

/// Checks a revision: non-empty `/`-separated parts (branches like `refs/pr/1` are allowed),
/// no `.`/`..` parts, no backslashes or control characters.
pub(crate) fn validate_revision(revision: &str) -> Result<()> {
    check_relative_path(revision).map_err(|reason| Error::InvalidRevision {
        revision: revision.to_owned(),
        reason,
    })
}

/// Checks a file name inside a repo: a clean relative path such as `1_Pooling/config.json`.
pub(crate) fn validate_file(file: &str) -> Result<()> {
    check_relative_path(file).map_err(|reason| Error::InvalidFileName {
        file: file.to_owned(),
        reason,
    })
}

fn check_relative_path(s: &str) -> std::result::Result<(), &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.starts_with('/') {
        return Err("it starts with a slash");
    }
    if s.contains('\\') {
        return Err("it contains a backslash");
    }
    if s.chars().any(char::is_control) {
        return Err("it contains a control character");
    }
    for part in s.split('/') {
        match part {
            "" => return Err("it has an empty path part"),
            "." | ".." => return Err("it has a `.` or `..` path part"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hub_ids() {
        for id in [
            "bert-base-uncased",
            "sentence-transformers/all-MiniLM-L6-v2",
            "a/b",
            "x_1.2",
        ] {
            assert!(validate_repo_id(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_bad_ids() {
        for id in [
            "",
            "/org/name",
            "org/",
            "/name",
            "org//name",
            "a/b/c",
            "org/../x",
            "a--b/c",
            "./x",
            "org/name.",
            "-org/name",
            "org/na me",
            "org/name.git",
        ] {
            let err = validate_repo_id(id).unwrap_err();
            assert!(matches!(err, Error::InvalidRepoId { .. }), "{id}");
            assert!(err.to_string().contains(&format!("`{id}`")), "{err}");
        }
    }

    #[test]
    fn files_and_revisions() {
        assert!(validate_file("1_Pooling/config.json").is_ok());
        assert!(validate_revision("refs/pr/1").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "..",
            "a\\b",
            "a/./b",
            "a/",
        ] {
            assert!(validate_file(bad).is_err(), "{bad}");
            assert!(validate_revision(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_folder_names() {
        let m = Repo::model("org/name").unwrap();
        assert_eq!(m.cache_folder_name(), "models--org--name");
        let d = Repo::dataset("nyu-mll/glue").unwrap();
        assert_eq!(d.cache_folder_name(), "datasets--nyu-mll--glue");
        assert_eq!(
            Repo::model("bert").unwrap().cache_folder_name(),
            "models--bert"
        );
        assert_eq!(m.revision(), "main");
        assert_eq!(m.with_revision("v1").unwrap().revision(), "v1");
    }
}
