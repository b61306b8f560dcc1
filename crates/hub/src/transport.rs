//! HTTP requests to the hub: one ureq agent, redirects followed by hand so that the hub's
//! metadata headers (sent on the redirect to the CDN) are not lost.

use std::time::Duration;

use tracing::debug;
use ureq::http::{HeaderMap, Response};
use ureq::Body;

use crate::error::{Error, Result};
use crate::url;

/// Redirect hops followed before giving up.
const MAX_REDIRECTS: usize = 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// No byte for this long (headers or body) aborts the request.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
}

/// Hub headers collected over a redirect chain; the first hop that has one wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    /// `x-repo-commit`: the commit the revision resolved to.
    pub commit: Option<String>,
    /// `x-linked-etag`: the LFS object's sha256 (the final CDN response has its own ETag).
    pub linked_etag: Option<String>,
    /// `x-error-code`: `RepoNotFound`, `RevisionNotFound`, `EntryNotFound`, `GatedRepo`, …
    pub error_code: Option<String>,
}

impl Meta {
    fn absorb(&mut self, headers: &HeaderMap) {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        self.commit = self.commit.take().or_else(|| get("x-repo-commit"));
        self.linked_etag = self.linked_etag.take().or_else(|| get("x-linked-etag"));
        self.error_code = self.error_code.take().or_else(|| get("x-error-code"));
    }
}

/// The final (non-redirect) response of a request.
pub(crate) struct Reply {
    pub status: u16,
    /// The URL that produced this response (after redirects).
    pub url: String,
    pub meta: Meta,
    /// The final response's `ETag`.
    pub etag: Option<String>,
    pub response: Response<Body>,
}

/// An agent bound to one endpoint and token.
#[derive(Clone)]
pub(crate) struct Transport {
    agent: ureq::Agent,
    endpoint: String,
    token: Option<String>,
}

/// Never prints the token.
impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(endpoint: String, token: Option<String>) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // We want the stored bytes and their real length, as huggingface_hub does.
            .accept_encoding("identity")
            .user_agent(format!("sentence-rs-hub/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_read(Some(READ_TIMEOUT))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
            endpoint,
            token,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The token, only for the endpoint's own origin: never for a CDN a redirect points to.
    fn token_for(&self, target: &str) -> Option<&str> {
        let same_origin =
            url::origin(target).is_some_and(|o| Some(o) == url::origin(&self.endpoint));
        self.token.as_deref().filter(|_| same_origin)
    }

    /// Sends `method` to `target`, following redirects; any final status is returned as is.
    pub fn request(&self, method: Method, target: &str) -> Result<Reply> {
        let mut current = target.to_owned();
        let mut meta = Meta::default();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = match method {
                Method::Get => self.agent.get(&current),
                Method::Head => self.agent.head(&current),
            };
            if let Some(token) = self.token_for(&current) {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let response = request.call().map_err(|e| self.call_error(&current, e))?;
            let status = response.status().as_u16();
            debug!(url = %current, status, ?method, "hub response");
            meta.absorb(response.headers());
            if (300..400).contains(&status) && status != 304 {
                let next = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|location| url::join(&current, location))
                    .ok_or_else(|| Error::Redirect {
                        url: target.to_owned(),
                    })?;
                current = next;
                continue;
            }
            let etag = response
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Ok(Reply {
                status,
                url: current,
                meta,
                etag,
                response,
            });
        }
        Err(Error::Redirect {
            url: target.to_owned(),
        })
    }

    /// Failures before any response: unreachable (refused, DNS, connect timeout) or other.
    fn call_error(&self, url: &str, source: ureq::Error) -> Error {
        match source {
            ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Io(_)
            | ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
                Error::Unreachable {
                    url: url.to_owned(),
                    endpoint: self.endpoint.clone(),
                    source,
                }
            }
            source => Error::Transport {
                url: url.to_owned(),
                source,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token() {
        let t = Transport::new("http://h".to_owned(), Some("hf_secret".to_owned()));
        let shown = format!("{t:?}");
        assert!(!shown.contains("hf_secret"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn token_goes_only_to_the_endpoint_origin() {
        let t = Transport::new("https://huggingface.co".to_owned(), Some("tok".to_owned()));
        assert_eq!(
            t.token_for("https://huggingface.co/org/m/resolve/main/x"),
            Some("tok")
        );
        assert_eq!(t.token_for("https://cdn-lfs.hf.co/repos/x"), None);
        assert_eq!(t.token_for("http://huggingface.co/x"), None);
    }
}
