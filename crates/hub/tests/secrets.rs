//! The token never reaches a log, an error message or a `Debug` string, even at TRACE level.
//!
//! This binary installs the process-wide tracing subscriber (at TRACE, as `RUST_LOG=trace`
//! would), which also captures records of the `log` crate that ureq and ureq-proto use
//! (tracing-subscriber's `tracing-log` bridge); the other test binaries stay quiet.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::{empty_safetensors, sha256_hex, Route, TestServer};
use hub::{Error, HubClient, Repo};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Everything any log line of this process has written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Installs (once) a TRACE subscriber writing into the returned buffer.
fn capture() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .try_init()
                .expect("the only subscriber of this test binary");
            captured
        })
        .clone()
}

/// Fails if `text` holds `token`, any 6 consecutive bytes of it, or their hex: ureq-proto's
/// TRACE dump prints the raw request 16 bytes per line, as hex and as characters.
fn assert_no_token(text: &str, token: &str, what: &str) {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for window in token.as_bytes().windows(6) {
        let chars = std::str::from_utf8(window).unwrap();
        assert!(!text.contains(chars), "{what} leaks {chars:?} of the token");
        let hex = hex::encode(window);
        assert!(
            !compact.contains(&hex),
            "{what} leaks the token as hex {hex}"
        );
    }
}

#[test]
fn a_full_download_at_trace_level_never_logs_the_token() {
    let captured = capture();
    let token = "hf_CanaryDl7Qz9XwV3kP2mN8rT5yU";
    let weights = empty_safetensors();
    let cdn = TestServer::start([(
        "/blob/w".to_owned(),
        Route::ok(weights.clone()).header("etag", "\"cdn\""),
    )]);
    let hub_server = TestServer::start([
        (
            "/org/m/resolve/main/config.json".to_owned(),
            Route::ok(r#"{"hidden_size": 8}"#).header("x-repo-commit", COMMIT),
        ),
        (
            "/org/m/resolve/main/model.safetensors".to_owned(),
            Route::redirect(&format!("{}/blob/w", cdn.url()))
                .header("x-repo-commit", COMMIT)
                .header("x-linked-etag", &format!("\"{}\"", sha256_hex(&weights))),
        ),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&hub_server.url(), cache.path()).with_token(Some(token.to_owned()));
    let repo = Repo::model("org/m").unwrap();

    client.get(&repo, "config.json").unwrap();
    client.get(&repo, "model.safetensors").unwrap();

    // The token did go out, to the hub only.
    let sent = hub_server.requests()[0]
        .headers
        .get("authorization")
        .cloned();
    assert_eq!(sent, Some(format!("Bearer {token}")));
    assert!(!cdn.requests()[0].headers.contains_key("authorization"));
    let logs = captured.text();
    // The capture works, ureq's own TRACE lines included.
    assert!(logs.contains("ureq"), "no ureq records captured:\n{logs}");
    assert!(logs.contains("TRACE"), "no TRACE records captured:\n{logs}");
    // ureq-proto's dump of the request head went through the capture, with the placeholder.
    assert!(logs.contains("****"), "no request dump captured:\n{logs}");
    assert_no_token(&logs, token, "the TRACE log");
    assert_no_token(&format!("{client:?}"), token, "HubClient's Debug");
}

#[test]
fn a_401_at_trace_level_never_logs_the_token() {
    let captured = capture();
    let token = "hf_Canary401aB4cD6eF8gH0jK2mP";
    let server = TestServer::start([(
        "/org/gated/resolve/main/config.json".to_owned(),
        Route::status(401).header("x-error-code", "GatedRepo"),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path()).with_token(Some(token.to_owned()));

    let err = client
        .get(&Repo::model("org/gated").unwrap(), "config.json")
        .unwrap_err();

    assert!(
        matches!(err, Error::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("was sent"), "{err}");
    assert_eq!(
        server.requests()[0].headers.get("authorization").cloned(),
        Some(format!("Bearer {token}"))
    );
    assert_no_token(&err.to_string(), token, "the error message");
    assert_no_token(&format!("{err:?}"), token, "the error's Debug");
    assert_no_token(&captured.text(), token, "the TRACE log");
}
