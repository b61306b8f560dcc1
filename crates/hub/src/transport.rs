//! HTTP requests to the hub: one ureq agent, redirects followed by hand so that the hub's
//! metadata headers (sent on the redirect to the CDN) are not lost, and so that the token
//! goes only to the endpoint's own origin.
//!
//! # What counts as the same origin
//!
//! `scheme://host[:port]` of the target must equal the endpoint's, compared without regard to
//! ASCII case. Another host, another port (the LFS CDN, or a second loopback server in the
//! tests) or another scheme (also `http` → `https` on the same host) is another origin and gets
//! no `Authorization` header; so does a `Location` with user info. This is stricter than
//! `requests` (which `huggingface_hub` uses and which only strips the header when the host
//! changes, or the port or scheme change in a way other than `http` → `https` on default ports):
//! a redirect we treat as cross-origin at worst lacks the token and fails with 401.

use std::time::Duration;

use tracing::debug;
use ureq::http::{HeaderMap, Response};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, DefaultConnector};
use ureq::Body;

use crate::error::{Error, Result};
use crate::timeouts::{Timeouts, READ_TIMEOUT_VAR, STALL_TIMEOUT_VAR};
use crate::token::Token;
use crate::url;
use crate::wire::TokenConnector;

/// Redirect hops followed before giving up.
const MAX_REDIRECTS: usize = 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

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

/// An agent bound to one endpoint, token and set of time limits. `Debug` never shows the
/// token (ureq's agent is left out, and [`Token`] prints `<redacted>`).
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    endpoint: String,
    token: Option<Token>,
    timeouts: Timeouts,
    agent: AgentDebug,
}

/// ureq's agent, shown as `Agent` (its `Debug` lists the connector chain).
#[derive(Clone)]
struct AgentDebug(ureq::Agent);

impl std::fmt::Debug for AgentDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Agent")
    }
}

impl Transport {
    pub fn new(endpoint: String, token: Option<Token>, timeouts: Timeouts) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // We want the stored bytes and their real length, as huggingface_hub does.
            .accept_encoding("identity")
            .user_agent(format!("sentence-rs-hub/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_read(Some(timeouts.read))
            .timeout_recv_response(Some(timeouts.stall))
            .build();
        // The token only ever meets the bytes below ureq's logging (see `token.rs`).
        let connector = DefaultConnector::new().chain(TokenConnector::new(token.as_ref()));
        let agent = ureq::Agent::with_parts(config, connector, DefaultResolver::default());
        Self {
            agent: AgentDebug(agent),
            endpoint,
            token,
            timeouts,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The token, only for the endpoint's own origin: never for a CDN a redirect points to.
    fn token_for(&self, target: &str) -> Option<&Token> {
        let same_origin = url::origin(target)
            .is_some_and(|o| url::origin(&self.endpoint).is_some_and(|e| same_origin(o, e)));
        self.token.as_ref().filter(|_| same_origin)
    }

    /// Sends `method` to `target`, following redirects; any final status is returned as is.
    pub fn request(&self, method: Method, target: &str) -> Result<Reply> {
        let mut current = target.to_owned();
        let mut meta = Meta::default();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = match method {
                Method::Get => self.agent.0.get(&current),
                Method::Head => self.agent.0.head(&current),
            };
            if let Some(token) = self.token_for(&current) {
                // A placeholder: `wire.rs` puts the token in its place on the socket.
                request = request.header("authorization", token.header_value());
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

    /// Failures before any response: unreachable (refused, DNS, connect timeout), no data
    /// in time, or other.
    fn call_error(&self, url: &str, source: ureq::Error) -> Error {
        if let ureq::Error::Timeout(which) = source {
            if let Some((limit, setting)) = self.limit_of(which) {
                return Error::Timeout {
                    url: url.to_owned(),
                    limit,
                    setting,
                    source: source.into_io(),
                };
            }
        }
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

    /// Our time limit behind one of ureq's timeouts, and the variable that sets it.
    fn limit_of(&self, which: ureq::Timeout) -> Option<(Duration, &'static str)> {
        match which {
            ureq::Timeout::PerRead => Some((self.timeouts.read, READ_TIMEOUT_VAR)),
            ureq::Timeout::RecvResponse => Some((self.timeouts.stall, STALL_TIMEOUT_VAR)),
            _ => None,
        }
    }
}

/// Two `scheme://authority` strings name the same origin (ASCII case ignored).
fn same_origin(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(endpoint: &str, token: &str) -> Transport {
        Transport::new(endpoint.to_owned(), Token::new(token), Timeouts::default())
    }

    #[test]
    fn debug_hides_the_token() {
        let shown = format!("{:?}", transport("http://h", "hf_secret"));
        assert!(!shown.contains("hf_secret"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn token_goes_only_to_the_endpoint_origin() {
        let t = transport("https://huggingface.co", "tok");
        let tok = Token::new("tok");
        assert_eq!(
            t.token_for("https://huggingface.co/org/m/resolve/main/x"),
            tok.as_ref()
        );
        assert_eq!(t.token_for("HTTPS://HuggingFace.co/x"), tok.as_ref());
        for other in [
            "https://cdn-lfs.hf.co/repos/x",
            "http://huggingface.co/x",
            "https://huggingface.co:8443/x",
            "https://huggingface.co.evil.test/x",
            "https://huggingface.co@evil.test/x",
            "/relative",
        ] {
            assert_eq!(t.token_for(other), None, "{other}");
        }
    }
}
