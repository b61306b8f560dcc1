//! `HubClient` against a hostile hub on loopback: cut and trickled bodies, silent servers,
//! HTML pages answered with 200, redirects, 401/403/404. Whatever goes wrong, the error names
//! the URL, and nothing (no blob, no link, no `.incomplete`) enters the cache.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{empty_safetensors, incomplete_files, sha256_hex, tree, Route, TestServer};
use hub::{Error, HubClient, Repo, Timeouts};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const FILE_URL: &str = "/org/model/resolve/main";

fn route(file: &str, r: Route) -> (String, Route) {
    (format!("{FILE_URL}/{file}"), r)
}

fn repo() -> Repo {
    Repo::model("org/model").unwrap()
}

fn repo_root(cache: &Path) -> std::path::PathBuf {
    cache.join("models--org--model")
}

/// Short limits so that the suite stays fast.
fn quick() -> Timeouts {
    Timeouts {
        read: Duration::from_millis(500),
        stall: Duration::from_secs(1),
    }
}

/// Nothing but (possibly) empty folders in the repo's cache folder.
fn assert_nothing_cached(cache: &Path) {
    assert_eq!(tree(&repo_root(cache)), Vec::<String>::new());
}

#[test]
fn a_truncated_body_is_an_error_and_leaves_nothing() {
    let server = TestServer::start([route(
        "config.json",
        Route::ok(r#"{"hidden_size": 8"#).truncated(4096),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path()).with_timeouts(quick());

    let err = client.get(&repo(), "config.json").unwrap_err();

    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    assert!(err.to_string().contains(&server.url()), "{err}");
    assert_nothing_cached(cache.path());
}

#[test]
fn a_trickling_server_hits_the_stall_deadline() {
    // One byte every 100 ms: never silent for the 500 ms read limit, but far below
    // 64 KiB per 1 s window.
    let server = TestServer::start([route(
        "model.safetensors",
        Route::ok(vec![0u8; 400]).trickle(Duration::from_millis(100)),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path()).with_timeouts(quick());
    let started = Instant::now();

    let err = client.get(&repo(), "model.safetensors").unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(3), "{err}");
    assert!(matches!(err, Error::Stalled { .. }), "{err:?}");
    let msg = err.to_string();
    let url = format!("{}{FILE_URL}/model.safetensors", server.url());
    for part in [url.as_str(), "1s", "SENTENCE_RS_HUB_STALL_TIMEOUT"] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    assert_nothing_cached(cache.path());
}

#[test]
fn a_body_that_stops_hits_the_read_timeout() {
    let server = TestServer::start([route(
        "model.safetensors",
        Route::ok(vec![0u8; 100]).trickle(Duration::from_secs(20)),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path()).with_timeouts(quick());
    let started = Instant::now();

    let err = client.get(&repo(), "model.safetensors").unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let msg = err.to_string();
    for part in ["model.safetensors", "500ms", "HF_HUB_DOWNLOAD_TIMEOUT"] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    assert!(std::error::Error::source(&err).is_some());
    assert_nothing_cached(cache.path());
}

#[test]
fn a_server_that_never_answers_hits_the_read_timeout() {
    let server = TestServer::start([route(
        "config.json",
        Route::ok("{}").silent_for(Duration::from_secs(20)),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path()).with_timeouts(quick());
    let started = Instant::now();

    let err = client.get(&repo(), "config.json").unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("/config.json"), "{err}");
    assert!(err.to_string().contains("500ms"), "{err}");
}

#[test]
fn html_pages_are_refused_for_weights_configs_and_text() {
    let server = TestServer::start([
        route("model.safetensors", Route::html()),
        route("config.json", Route::html().header("x-repo-commit", COMMIT)),
        route("vocab.txt", Route::html()),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());

    for (file, format) in [
        ("model.safetensors", "safetensors"),
        ("config.json", "JSON"),
        ("vocab.txt", "data"),
    ] {
        let err = client.get(&repo(), file).unwrap_err();
        assert!(matches!(err, Error::InvalidContent { .. }), "{err:?}");
        let msg = err.to_string();
        let url = format!("{}{FILE_URL}/{file}", server.url());
        for part in [url.as_str(), "text/html", format] {
            assert!(msg.contains(part), "{msg:?} lacks {part:?}");
        }
        assert!(std::error::Error::source(&err).is_some());
        // get_optional does not take a refused file for a missing one.
        assert!(matches!(
            client.get_optional(&repo(), file),
            Err(Error::InvalidContent { .. })
        ));
    }
    assert_nothing_cached(cache.path());
}

#[test]
fn the_length_and_the_linked_sha256_must_hold() {
    let weights = empty_safetensors();
    let server = TestServer::start([
        route(
            "model.safetensors",
            Route::ok(weights.clone())
                .header("x-repo-commit", COMMIT)
                .header("x-linked-etag", &format!("\"{}\"", sha256_hex(&weights))),
        ),
        route(
            "2_Dense/model.safetensors",
            Route::ok(weights.clone()).header("x-linked-etag", &sha256_hex(b"other")),
        ),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());

    let path = client.get(&repo(), "model.safetensors").unwrap();
    assert_eq!(fs::read(path).unwrap(), weights);
    let err = client
        .get(&repo(), "2_Dense/model.safetensors")
        .unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err:?}");
    assert!(
        err.to_string().contains("2_Dense/model.safetensors"),
        "{err}"
    );
    assert_eq!(incomplete_files(cache.path()), Vec::<String>::new());
}

/// Puts `bytes` in the cache as `file` at `main`, as an older version would have.
fn plant(cache: &Path, file: &str, blob: &str, bytes: &[u8]) {
    let root = repo_root(cache);
    fs::create_dir_all(root.join("blobs")).unwrap();
    fs::create_dir_all(root.join("refs")).unwrap();
    fs::create_dir_all(root.join("snapshots").join(COMMIT)).unwrap();
    fs::write(root.join("blobs").join(blob), bytes).unwrap();
    fs::write(root.join("refs/main"), COMMIT).unwrap();
    std::os::unix::fs::symlink(
        format!("../../blobs/{blob}"),
        root.join("snapshots").join(COMMIT).join(file),
    )
    .unwrap();
}

#[test]
fn a_cached_html_page_is_downloaded_again_online_and_named_offline() {
    let page = b"<!DOCTYPE html><html>portal</html>";
    let cache = tempfile::tempdir().unwrap();
    plant(cache.path(), "config.json", "oldetag", page);
    let link = repo_root(cache.path()).join(format!("snapshots/{COMMIT}/config.json"));

    let offline = HubClient::new("http://127.0.0.1:9", cache.path()).offline(true);
    let err = offline.get(&repo(), "config.json").unwrap_err();
    assert!(matches!(err, Error::CorruptCache { .. }), "{err:?}");
    let msg = err.to_string();
    let blob = repo_root(cache.path()).join("blobs/oldetag");
    let blob = fs::canonicalize(blob).unwrap();
    for part in [
        link.display().to_string(),
        blob.display().to_string(),
        "remove".to_owned(),
    ] {
        assert!(msg.contains(&part), "{msg:?} lacks {part:?}");
    }
    assert!(matches!(
        offline.get_optional(&repo(), "config.json"),
        Err(Error::CorruptCache { .. })
    ));

    let server = TestServer::start([(
        format!("/org/model/resolve/{COMMIT}/config.json"),
        Route::ok(r#"{"hidden_size": 8}"#)
            .header("x-repo-commit", COMMIT)
            .header("etag", "\"newetag\""),
    )]);
    let pinned = repo().with_revision(COMMIT).unwrap();
    let online = HubClient::new(&server.url(), cache.path());
    let path = online.get(&pinned, "config.json").unwrap();
    assert_eq!(path, link);
    assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"hidden_size": 8}"#);
    assert!(!repo_root(cache.path()).join("blobs/oldetag").exists());
    // And now the offline client finds the good file.
    assert_eq!(offline.get(&pinned, "config.json").unwrap(), link);
}

#[test]
fn a_corrupt_blob_under_the_announced_etag_is_replaced() {
    let cache = tempfile::tempdir().unwrap();
    let blobs = repo_root(cache.path()).join("blobs");
    fs::create_dir_all(&blobs).unwrap();
    // An older version cached a portal page under the ETag the hub announces.
    fs::write(blobs.join("etag1"), b"<html>portal</html>").unwrap();
    let weights = empty_safetensors();
    let server = TestServer::start([route(
        "model.safetensors",
        Route::ok(weights.clone())
            .header("x-repo-commit", COMMIT)
            .header("etag", "\"etag1\""),
    )]);
    let client = HubClient::new(&server.url(), cache.path());

    let path = client.get(&repo(), "model.safetensors").unwrap();

    assert_eq!(fs::read(&path).unwrap(), weights);
    assert_eq!(fs::read(blobs.join("etag1")).unwrap(), weights);
}

#[test]
fn a_relative_redirect_keeps_the_token_on_the_same_origin() {
    // The hub answers renamed repos and some resolves with a relative Location.
    let server = TestServer::start([
        route(
            "config.json",
            Route::status(307)
                .header(
                    "location",
                    "/api/resolve-cache/models/org/model/x/config.json",
                )
                .header("x-repo-commit", COMMIT),
        ),
        (
            "/api/resolve-cache/models/org/model/x/config.json".to_owned(),
            Route::redirect("final.json"),
        ),
        (
            "/api/resolve-cache/models/org/model/x/final.json".to_owned(),
            Route::ok("{}"),
        ),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path()).with_token(Some("hf_same".to_owned()));

    let path = client.get(&repo(), "config.json").unwrap();

    assert!(path.ends_with(format!("snapshots/{COMMIT}/config.json")));
    let seen = server.requests();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for request in &seen {
        assert_eq!(
            request.headers.get("authorization").map(String::as_str),
            Some("Bearer hf_same"),
            "{}",
            request.path
        );
    }
}

#[test]
fn an_absolute_redirect_to_another_port_drops_the_token() {
    let weights = empty_safetensors();
    let cdn = TestServer::start([
        ("/lfs/a".to_owned(), Route::redirect("/lfs/b")),
        ("/lfs/b".to_owned(), Route::ok(weights.clone())),
    ]);
    let hub_server = TestServer::start([route(
        "model.safetensors",
        Route::redirect(&format!("{}/lfs/a", cdn.url()))
            .header("x-repo-commit", COMMIT)
            .header("x-linked-etag", &format!("\"{}\"", sha256_hex(&weights))),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client =
        HubClient::new(&hub_server.url(), cache.path()).with_token(Some("hf_hub_only".to_owned()));

    let path = client.get(&repo(), "model.safetensors").unwrap();

    assert_eq!(fs::read(path).unwrap(), weights);
    assert_eq!(
        hub_server.requests()[0]
            .headers
            .get("authorization")
            .map(String::as_str),
        Some("Bearer hf_hub_only")
    );
    // Neither the CDN's first URL nor its own relative redirect got the token.
    assert_eq!(cdn.request_count(), 2);
    assert!(cdn
        .requests()
        .iter()
        .all(|r| !r.headers.contains_key("authorization")));
}

#[test]
fn redirect_loops_and_missing_locations_are_errors() {
    let server = TestServer::start([
        route(
            "loop.json",
            Route::redirect(&format!("{FILE_URL}/loop.json")),
        ),
        route("nowhere.json", Route::status(302)),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    for file in ["loop.json", "nowhere.json"] {
        let err = client.get(&repo(), file).unwrap_err();
        assert!(matches!(err, Error::Redirect { .. }), "{file}: {err:?}");
        assert!(err.to_string().contains(file), "{err}");
    }
    assert!(server.request_count() <= 12, "{}", server.request_count());
}

#[test]
fn unauthorized_with_and_without_a_token() {
    let server = TestServer::start([
        route("config.json", Route::status(401)),
        route("model.safetensors", Route::status(403)),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let anonymous = HubClient::new(&server.url(), cache.path());
    let with_token = anonymous
        .clone()
        .with_token(Some("hf_no_access".to_owned()));

    for (file, status) in [("config.json", 401), ("model.safetensors", 403)] {
        let err = anonymous.get(&repo(), file).unwrap_err();
        assert!(
            matches!(err, Error::Unauthorized { status: s, token_sent: false, .. } if s == status),
            "{err:?}"
        );
        assert!(err.to_string().contains("set HF_TOKEN"), "{err}");
        assert!(err.to_string().contains(file), "{err}");

        let err = with_token.get(&repo(), file).unwrap_err();
        assert!(
            matches!(err, Error::Unauthorized { status: s, token_sent: true, .. } if s == status),
            "{err:?}"
        );
        assert!(err.to_string().contains("was sent"), "{err}");
        assert!(
            !format!("{err} {err:?}").contains("hf_no_access"),
            "{err:?}"
        );
    }
    let auth: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.headers.get("authorization").cloned())
        .collect();
    assert_eq!(
        auth,
        vec![
            None,
            Some("Bearer hf_no_access".to_owned()),
            None,
            Some("Bearer hf_no_access".to_owned()),
        ]
    );
    assert_nothing_cached(cache.path());
}

#[test]
fn not_found_is_an_error_for_get_and_none_for_get_optional() {
    let server = TestServer::start([]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let err = client.get(&repo(), "missing.json").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("/missing.json"), "{err}");
    assert_eq!(client.get_optional(&repo(), "missing.json").unwrap(), None);
}

#[test]
fn a_static_mirror_without_hub_headers_still_works() {
    let server = TestServer::start([
        route("model.safetensors", Route::ok(empty_safetensors())),
        route(
            "config.json",
            Route::ok("{}").header("content-type", "application/json"),
        ),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    for file in ["model.safetensors", "config.json"] {
        let path = client.get(&repo(), file).unwrap();
        assert!(path.ends_with(format!("snapshots/main/{file}")), "{path:?}");
    }
}
