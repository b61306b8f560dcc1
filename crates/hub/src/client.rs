//! [`HubClient`]: cache-first access to files of hub repos.

use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use crate::cache::{blob_name_from_etag, is_commit_hash, RepoCache};
use crate::download::{save_blob, BlobInfo};
use crate::error::{Error, Result};
use crate::repo::{validate_file, Repo};
use crate::settings::{normalize_endpoint, Settings};
use crate::timeouts::Timeouts;
use crate::token::Token;
use crate::transport::{Method, Reply, Transport};
use crate::url::file_url;
use crate::verify;

/// A hub client: an endpoint, a cache directory, an optional token, time limits and an
/// offline switch. `Debug` shows the token as `<redacted>`.
///
/// Every lookup goes to the cache first; the network is used only for files the cache does not
/// have, and never in offline mode. A cached file that fails the cheap content checks of
/// `verify.rs` (e.g. an HTML page an older version cached) is downloaded again when online;
/// offline it is [`Error::CorruptCache`], which names the path to remove.
#[derive(Debug, Clone)]
pub struct HubClient {
    transport: Transport,
    cache_dir: PathBuf,
    offline: bool,
}

/// The outcome of asking the hub for a file.
enum Fetch {
    Found(PathBuf),
    /// HTTP 404 for the file itself (the repo and revision exist, or the server cannot tell).
    Missing {
        url: String,
        commit: Option<String>,
    },
}

impl HubClient {
    /// A client for `endpoint` (trailing slashes trimmed) caching into `cache_dir`, online,
    /// without a token. Nothing is read from the environment.
    pub fn new(endpoint: &str, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            transport: Transport::new(normalize_endpoint(endpoint), None, Timeouts::default()),
            cache_dir: cache_dir.into(),
            offline: false,
        }
    }

    /// A client configured like `huggingface_hub`: `HF_ENDPOINT` (default
    /// `https://huggingface.co`), cache `HF_HUB_CACHE` else `$HF_HOME/hub` (`HF_HOME` defaults
    /// to `$XDG_CACHE_HOME/huggingface`, then `~/.cache/huggingface`), token `HF_TOKEN` else
    /// the file `huggingface-cli login` writes (`HF_TOKEN_PATH`, default `$HF_HOME/token`),
    /// offline when `HF_HUB_OFFLINE` is `1`, `true`, `yes` or `on`; time limits from
    /// `HF_HUB_DOWNLOAD_TIMEOUT` and `SENTENCE_RS_HUB_STALL_TIMEOUT` (see [`Timeouts`]).
    pub fn from_env() -> Result<Self> {
        let settings = Settings::from_lookup(|name| std::env::var(name).ok())?;
        let token = settings.token.clone().or_else(|| {
            let path = settings.token_path.as_ref()?;
            Token::new(&std::fs::read_to_string(path).ok()?)
        });
        Ok(Self {
            transport: Transport::new(settings.endpoint, token, settings.timeouts),
            cache_dir: settings.cache_dir,
            offline: settings.offline,
        })
    }

    /// Turns offline mode on or off. Offline, only the cache is used.
    #[must_use]
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Sets the token sent as `Authorization: Bearer` to the endpoint (never to redirects
    /// to other origins, see `transport.rs`). Whitespace around it is dropped; an empty
    /// token is ignored, and so is one with inner spaces or non-ASCII characters (with a
    /// warning that does not show it).
    #[must_use]
    pub fn with_token(self, token: Option<String>) -> Self {
        let token = token.as_deref().and_then(Token::new);
        let transport = Transport::new(
            self.transport.endpoint().to_owned(),
            token,
            self.transport.timeouts(),
        );
        Self { transport, ..self }
    }

    /// Sets the time limits of requests and downloads.
    #[must_use]
    pub fn with_timeouts(self, timeouts: Timeouts) -> Self {
        let transport = Transport::new(
            self.transport.endpoint().to_owned(),
            self.transport.token().cloned(),
            timeouts,
        );
        Self { transport, ..self }
    }

    /// The time limits in use.
    pub fn timeouts(&self) -> Timeouts {
        self.transport.timeouts()
    }

    /// The endpoint, without trailing slash.
    pub fn endpoint(&self) -> &str {
        self.transport.endpoint()
    }

    /// The hub cache directory (the folder holding `models--…` folders).
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// Whether offline mode is on.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// The URL `file` of `repo` is downloaded from.
    pub fn file_url(&self, repo: &Repo, file: &str) -> String {
        file_url(self.endpoint(), repo, file)
    }

    /// The path of `file` in the cache's snapshot folder, downloading it if the cache does
    /// not have it. A missing file is [`Error::NotFound`]; offline, [`Error::Offline`].
    pub fn get(&self, repo: &Repo, file: &str) -> Result<PathBuf> {
        validate_file(file)?;
        let cache = RepoCache::new(&self.cache_dir, repo);
        if let Some(path) = self.cached(repo, file, &cache)? {
            return Ok(path);
        }
        if self.offline {
            return Err(self.offline_error(repo, file));
        }
        match self.fetch(repo, file, &cache)? {
            Fetch::Found(path) => Ok(path),
            Fetch::Missing { url, .. } => Err(Error::NotFound {
                kind: repo.kind(),
                repo: repo.id().to_owned(),
                revision: repo.revision().to_owned(),
                file: file.to_owned(),
                url,
            }),
        }
    }

    /// Like [`HubClient::get`], but a file the repo does not have is `Ok(None)`; every other
    /// failure stays an error. A 404 is remembered in the cache (`.no_exist/`, as
    /// `huggingface_hub` does), so asking again needs no request.
    ///
    /// In offline mode a file that is not cached is `Ok(None)`, as in `huggingface_hub`-based
    /// loaders: optional files cannot be told apart from absent ones without the network.
    pub fn get_optional(&self, repo: &Repo, file: &str) -> Result<Option<PathBuf>> {
        validate_file(file)?;
        let cache = RepoCache::new(&self.cache_dir, repo);
        if let Some(path) = self.cached(repo, file, &cache)? {
            return Ok(Some(path));
        }
        if cache.known_missing(repo.revision(), file) {
            debug!(repo = repo.id(), file, "known to be absent");
            return Ok(None);
        }
        if self.offline {
            debug!(
                repo = repo.id(),
                file, "not cached, offline: treated as absent"
            );
            return Ok(None);
        }
        match self.fetch(repo, file, &cache)? {
            Fetch::Found(path) => Ok(Some(path)),
            Fetch::Missing { commit, .. } => {
                let (snapshot, ref_value) = cache.snapshot_for(repo.revision(), commit.as_deref());
                let marked = cache
                    .mark_missing(&snapshot, file)
                    .and_then(|()| match ref_value {
                        Some(value) => cache.write_ref(repo.revision(), &value),
                        None => Ok(()),
                    });
                if let Err(e) = marked {
                    warn!(error = %e, "cannot record a missing file in the cache");
                }
                Ok(None)
            }
        }
    }

    /// Whether `file` of `repo` is in the cache (no network).
    pub fn is_cached(&self, repo: &Repo, file: &str) -> bool {
        validate_file(file).is_ok()
            && RepoCache::new(&self.cache_dir, repo)
                .cached_file(repo.revision(), file)
                .is_some()
    }

    /// Whether the hub has `file` (a HEAD request; nothing is downloaded or cached).
    pub(crate) fn exists_remote(&self, repo: &Repo, file: &str) -> Result<bool> {
        validate_file(file)?;
        let url = self.file_url(repo, file);
        let reply = self.transport.request(Method::Head, &url)?;
        match reply.status {
            200..=299 => Ok(true),
            _ => self
                .classify_failure(repo, file, &url, reply)
                .map(|_| false),
        }
    }

    /// `repo` pinned to the commit its revision resolves to in the cache, so that several
    /// files fetched one after the other come from one snapshot even if the branch moves.
    pub(crate) fn pinned(&self, repo: &Repo) -> Repo {
        let cache = RepoCache::new(&self.cache_dir, repo);
        match cache.snapshot_name(repo.revision()) {
            Some(commit) if is_commit_hash(&commit) && commit != repo.revision() => repo
                .clone()
                .with_revision(&commit)
                .unwrap_or_else(|_| repo.clone()),
            _ => repo.clone(),
        }
    }

    /// The cached `file` if it passes the cheap content checks. One that fails them is
    /// [`Error::CorruptCache`] offline; online its link and blob are removed and `None`
    /// returned, so that the caller downloads it again.
    fn cached(&self, repo: &Repo, file: &str, cache: &RepoCache) -> Result<Option<PathBuf>> {
        let Some(path) = cache.cached_file(repo.revision(), file) else {
            return Ok(None);
        };
        let Err(source) = verify::check_cached(file, &path) else {
            debug!(repo = repo.id(), file, path = %path.display(), "cache hit");
            return Ok(Some(path));
        };
        let blob = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.offline {
            return Err(Error::CorruptCache {
                file: file.to_owned(),
                path,
                blob,
                source,
            });
        }
        warn!(
            path = %path.display(), blob = %blob.display(), error = %source,
            "cached file is corrupt; downloading it again"
        );
        cache.evict(&path)?;
        Ok(None)
    }

    fn offline_error(&self, repo: &Repo, file: &str) -> Error {
        Error::Offline {
            kind: repo.kind(),
            repo: repo.id().to_owned(),
            revision: repo.revision().to_owned(),
            file: file.to_owned(),
        }
    }

    /// Downloads `file` into the cache: blob, then snapshot link, then ref.
    fn fetch(&self, repo: &Repo, file: &str, cache: &RepoCache) -> Result<Fetch> {
        let url = self.file_url(repo, file);
        let reply = self.transport.request(Method::Get, &url)?;
        if !(200..=299).contains(&reply.status) {
            return self.classify_failure(repo, file, &url, reply);
        }
        let (snapshot, ref_value) =
            cache.snapshot_for(repo.revision(), reply.meta.commit.as_deref());
        let linked = reply
            .meta
            .linked_etag
            .as_deref()
            .and_then(blob_name_from_etag);
        let name = linked
            .clone()
            .or_else(|| reply.etag.as_deref().and_then(blob_name_from_etag));
        // LFS files are named by their sha256, which lets us check the bytes.
        let sha256 = linked.filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()));

        let blob = match name {
            Some(name) if cache.reusable_blob(&name, file)? => {
                debug!(url, blob = name, "blob already cached, body skipped");
                name
            }
            _ => save_blob(
                &cache.blobs_dir(),
                reply.response,
                &reply.url,
                &BlobInfo {
                    file,
                    name: name.as_deref(),
                    sha256: sha256.as_deref(),
                },
                &self.transport.timeouts(),
            )?,
        };
        let path = cache.link(&snapshot, file, &blob)?;
        if let Some(value) = ref_value {
            cache.write_ref(repo.revision(), &value)?;
        }
        Ok(Fetch::Found(path))
    }

    /// Maps a non-2xx reply to [`Fetch::Missing`] (file 404) or the matching error.
    fn classify_failure(&self, repo: &Repo, file: &str, url: &str, reply: Reply) -> Result<Fetch> {
        let kind = repo.kind();
        match (reply.status, reply.meta.error_code.as_deref()) {
            (401 | 403 | 404, Some("RepoNotFound")) => Err(Error::RepoNotFound {
                kind,
                repo: repo.id().to_owned(),
                url: url.to_owned(),
            }),
            (400 | 404, Some("RevisionNotFound")) => Err(Error::RevisionNotFound {
                kind,
                repo: repo.id().to_owned(),
                revision: repo.revision().to_owned(),
                url: url.to_owned(),
            }),
            (404, _) => Ok(Fetch::Missing {
                url: url.to_owned(),
                commit: reply.meta.commit,
            }),
            (status @ (401 | 403), _) => Err(Error::Unauthorized {
                status,
                kind,
                repo: repo.id().to_owned(),
                file: file.to_owned(),
                url: url.to_owned(),
                token_sent: self.transport.has_token(),
            }),
            (status, _) => Err(Error::Http {
                status,
                url: reply.url,
            }),
        }
    }
}
