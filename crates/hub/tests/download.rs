//! `HubClient` against an in-process loopback server: cache layout, cache-first lookups,
//! errors, offline mode, atomic downloads.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{dead_endpoint, empty_safetensors, sha256_hex, tree, Route, TestServer};
use hub::{Error, HubClient, Repo};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn route(path: &str, r: Route) -> (String, Route) {
    (path.to_owned(), r)
}

fn repo_dir(cache: &Path, folder: &str) -> PathBuf {
    cache.join(folder)
}

#[test]
fn download_writes_the_standard_layout() {
    let server = TestServer::start([route(
        "/org/model/resolve/main/config.json",
        Route::ok(r#"{"hidden_size": 8}"#)
            .header("x-repo-commit", COMMIT)
            .header("etag", "W/\"abc123\""),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let repo = Repo::model("org/model").unwrap();

    let path = client.get(&repo, "config.json").unwrap();

    let root = repo_dir(cache.path(), "models--org--model");
    assert_eq!(
        path,
        root.join("snapshots").join(COMMIT).join("config.json")
    );
    assert_eq!(
        fs::read_link(&path).unwrap(),
        PathBuf::from("../../blobs/abc123")
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"hidden_size": 8}"#);
    assert_eq!(fs::read_to_string(root.join("refs/main")).unwrap(), COMMIT);
    assert_eq!(
        tree(&root),
        vec![
            "blobs/abc123".to_owned(),
            "refs/main".to_owned(),
            format!("snapshots/{COMMIT}/config.json"),
        ]
    );
    assert!(client.is_cached(&repo, "config.json"));
    assert!(!client.is_cached(&repo, "vocab.txt"));
}

#[test]
fn second_get_makes_no_request() {
    let server = TestServer::start([route(
        "/org/model/resolve/main/vocab.txt",
        Route::ok("[PAD]\n[UNK]\n").header("x-repo-commit", COMMIT),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let repo = Repo::model("org/model").unwrap();
    let first = client.get(&repo, "vocab.txt").unwrap();
    assert_eq!(server.request_count(), 1);

    let second = client.get(&repo, "vocab.txt").unwrap();
    assert_eq!(first, second);
    assert_eq!(server.request_count(), 1);

    // Another client on a dead endpoint still finds it: no network at all on a hit.
    let offline_ish = HubClient::new(&dead_endpoint(), cache.path());
    assert_eq!(offline_ish.get(&repo, "vocab.txt").unwrap(), first);
}

#[test]
fn not_found_names_file_repo_and_url() {
    let server = TestServer::start([]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let repo = Repo::model("org/model").unwrap();

    let err = client.get(&repo, "missing.json").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let msg = err.to_string();
    for part in [
        "missing.json",
        "model repo org/model",
        "revision main",
        &format!("{}/org/model/resolve/main/missing.json", server.url()),
    ] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    assert!(!repo_dir(cache.path(), "models--org--model")
        .join("snapshots/main/missing.json")
        .exists());
}

#[test]
fn get_optional_is_none_on_404_and_remembers_it() {
    let server = TestServer::start([route(
        "/org/model/resolve/main/config.json",
        Route::ok("{}").header("x-repo-commit", COMMIT),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let repo = Repo::model("org/model").unwrap();

    assert!(client.get_optional(&repo, "config.json").unwrap().is_some());
    assert_eq!(
        client.get_optional(&repo, "added_tokens.json").unwrap(),
        None
    );
    assert_eq!(server.request_count(), 2);
    // The 404 carried no commit header: it must not move refs/main off the snapshot.
    assert!(client.is_cached(&repo, "config.json"));
    // The 404 is recorded as .no_exist/{commit}/{file}: asking again costs nothing.
    assert_eq!(
        client.get_optional(&repo, "added_tokens.json").unwrap(),
        None
    );
    assert_eq!(server.request_count(), 2);
    assert!(repo_dir(cache.path(), "models--org--model")
        .join(".no_exist")
        .join(COMMIT)
        .join("added_tokens.json")
        .is_file());
}

#[test]
fn get_optional_keeps_other_errors() {
    let server = TestServer::start([route("/org/model/resolve/main/x.json", Route::status(500))]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let repo = Repo::model("org/model").unwrap();
    let err = client.get_optional(&repo, "x.json").unwrap_err();
    assert!(matches!(err, Error::Http { status: 500, .. }), "{err:?}");
    assert!(
        err.to_string().contains("/org/model/resolve/main/x.json"),
        "{err}"
    );
}

#[test]
fn unreachable_endpoint_mentions_hf_endpoint() {
    let cache = tempfile::tempdir().unwrap();
    let endpoint = dead_endpoint();
    let client = HubClient::new(&endpoint, cache.path());
    let repo = Repo::model("org/model").unwrap();

    let err = client.get(&repo, "config.json").unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("HF_ENDPOINT"), "{msg}");
    assert!(msg.contains("HF_HUB_OFFLINE"), "{msg}");
    assert!(msg.contains(&endpoint), "{msg}");
    assert!(std::error::Error::source(&err).is_some());
    // get_optional does not hide it either.
    assert!(matches!(
        client.get_optional(&repo, "config.json"),
        Err(Error::Unreachable { .. })
    ));
}

#[test]
fn offline_mode_uses_only_the_cache() {
    let server = TestServer::start([route(
        "/org/model/resolve/main/config.json",
        Route::ok("{}").header("x-repo-commit", COMMIT),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let repo = Repo::model("org/model").unwrap();
    let offline = HubClient::new(&server.url(), cache.path()).offline(true);

    let err = offline.get(&repo, "config.json").unwrap_err();
    assert!(matches!(err, Error::Offline { .. }), "{err:?}");
    let msg = err.to_string();
    for part in ["config.json", "org/model", "main", "offline"] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    assert_eq!(server.request_count(), 0);

    let online = HubClient::new(&server.url(), cache.path());
    let path = online.get(&repo, "config.json").unwrap();
    assert_eq!(server.request_count(), 1);
    assert_eq!(offline.get(&repo, "config.json").unwrap(), path);
    assert_eq!(offline.get_optional(&repo, "vocab.txt").unwrap(), None);
    assert_eq!(server.request_count(), 1);
}

#[test]
fn nested_file_link_resolves() {
    let server = TestServer::start([route(
        "/org/model/resolve/main/1_Pooling/config.json",
        Route::ok(r#"{"pooling_mode_mean_tokens": true}"#)
            .header("x-repo-commit", COMMIT)
            .header("etag", "\"pool\""),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let repo = Repo::model("org/model").unwrap();

    let path = client.get(&repo, "1_Pooling/config.json").unwrap();
    assert!(path.ends_with(format!("snapshots/{COMMIT}/1_Pooling/config.json")));
    assert_eq!(
        fs::read_link(&path).unwrap(),
        PathBuf::from("../../../blobs/pool")
    );
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        r#"{"pooling_mode_mean_tokens": true}"#
    );
}

#[test]
fn static_mirror_without_headers() {
    // python3 -m http.server sends no x-repo-commit, x-linked-etag or ETag.
    let body = b"mirror bytes".to_vec();
    let server = TestServer::start([
        route("/org/model/resolve/main/a.txt", Route::ok(body.clone())),
        route(
            &format!("/org/model/resolve/{COMMIT}/a.txt"),
            Route::ok(body.clone()),
        ),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let root = repo_dir(cache.path(), "models--org--model");
    let sha = sha256_hex(&body);

    let path = client
        .get(&Repo::model("org/model").unwrap(), "a.txt")
        .unwrap();
    assert_eq!(path, root.join("snapshots/main/a.txt"));
    assert_eq!(fs::read_to_string(root.join("refs/main")).unwrap(), "main");
    assert_eq!(
        fs::read_link(&path).unwrap(),
        PathBuf::from(format!("../../blobs/{sha}"))
    );
    assert_eq!(fs::read(&path).unwrap(), body);

    // A commit revision names its snapshot directly, without a ref.
    let pinned = Repo::model("org/model")
        .unwrap()
        .with_revision(COMMIT)
        .unwrap();
    let path = client.get(&pinned, "a.txt").unwrap();
    assert_eq!(path, root.join("snapshots").join(COMMIT).join("a.txt"));
    assert!(!root.join("refs").join(COMMIT).exists());
    assert_eq!(server.request_count(), 2);
}

#[test]
fn lfs_redirect_uses_linked_etag_and_keeps_the_token_on_the_hub() {
    let content = empty_safetensors();
    let sha = sha256_hex(&content);
    let cdn = TestServer::start([route(
        "/blob/xyz",
        Route::ok(content.clone()).header("etag", "\"cdn-etag\""),
    )]);
    let hub_server = TestServer::start([route(
        "/org/model/resolve/main/model.safetensors",
        Route::redirect(&format!("{}/blob/xyz", cdn.url()))
            .header("x-repo-commit", COMMIT)
            .header("x-linked-etag", &format!("\"{sha}\"")),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client =
        HubClient::new(&hub_server.url(), cache.path()).with_token(Some("hf_secret".to_owned()));
    let repo = Repo::model("org/model").unwrap();

    let path = client.get(&repo, "model.safetensors").unwrap();
    assert_eq!(
        fs::read_link(&path).unwrap(),
        PathBuf::from(format!("../../blobs/{sha}"))
    );
    assert_eq!(fs::read(&path).unwrap(), content);
    let hub_req = &hub_server.requests()[0];
    assert_eq!(
        hub_req.headers.get("authorization").map(String::as_str),
        Some("Bearer hf_secret")
    );
    assert_eq!(cdn.request_count(), 1);
    assert!(!cdn.requests()[0].headers.contains_key("authorization"));
}

#[test]
fn lfs_checksum_mismatch_is_an_error_and_leaves_nothing() {
    let server = TestServer::start([route(
        "/org/model/resolve/main/model.safetensors",
        Route::ok("tampered")
            .header("x-repo-commit", COMMIT)
            .header("x-linked-etag", &sha256_hex(b"original")),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let err = client
        .get(&Repo::model("org/model").unwrap(), "model.safetensors")
        .unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err:?}");
    let root = repo_dir(cache.path(), "models--org--model");
    assert_eq!(tree(&root), Vec::<String>::new());
}

#[test]
fn interrupted_download_leaves_no_file() {
    let server = TestServer::start([route(
        "/org/model/resolve/main/model.safetensors",
        Route::ok(vec![7u8; 1000])
            .header("x-repo-commit", COMMIT)
            .truncated(5000),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let repo = Repo::model("org/model").unwrap();

    let err = client.get(&repo, "model.safetensors").unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    let root = repo_dir(cache.path(), "models--org--model");
    // No snapshot link, no blob, no leftover .incomplete file.
    assert_eq!(tree(&root), Vec::<String>::new());
    assert!(!client.is_cached(&repo, "model.safetensors"));
}

#[test]
fn dataset_urls_use_the_datasets_prefix() {
    let server = TestServer::start([route(
        "/datasets/nyu-mll/glue/resolve/main/stsb/train-00000-of-00001.parquet",
        Route::ok("PAR1 rows PAR1"),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&format!("{}/", server.url()), cache.path());
    let repo = Repo::dataset("nyu-mll/glue").unwrap();

    let path = client
        .get(&repo, "stsb/train-00000-of-00001.parquet")
        .unwrap();
    assert_eq!(
        path,
        cache
            .path()
            .join("datasets--nyu-mll--glue/snapshots/main/stsb/train-00000-of-00001.parquet")
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "PAR1 rows PAR1");
    assert_eq!(
        server.paths(),
        vec!["/datasets/nyu-mll/glue/resolve/main/stsb/train-00000-of-00001.parquet".to_owned()]
    );
}

#[test]
fn revisions_are_encoded_in_urls() {
    let server = TestServer::start([route(
        "/org/model/resolve/refs%2Fpr%2F1/config.json",
        Route::ok("{}").header("x-repo-commit", COMMIT),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let repo = Repo::model("org/model")
        .unwrap()
        .with_revision("refs/pr/1")
        .unwrap();
    client.get(&repo, "config.json").unwrap();
    let root = repo_dir(cache.path(), "models--org--model");
    assert_eq!(
        fs::read_to_string(root.join("refs/refs/pr/1")).unwrap(),
        COMMIT
    );
    assert!(client.is_cached(&repo, "config.json"));
}

#[test]
fn gated_and_missing_repos() {
    let server = TestServer::start([
        route(
            "/org/gated/resolve/main/config.json",
            Route::status(401).header("x-error-code", "GatedRepo"),
        ),
        route(
            "/org/nope/resolve/main/config.json",
            Route::status(401).header("x-error-code", "RepoNotFound"),
        ),
        route(
            "/org/model/resolve/v9/config.json",
            Route::status(404).header("x-error-code", "RevisionNotFound"),
        ),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());

    let err = client
        .get(&Repo::model("org/gated").unwrap(), "config.json")
        .unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("HF_TOKEN"), "{err}");
    assert!(err.to_string().contains("org/gated"), "{err}");

    let err = client
        .get_optional(&Repo::model("org/nope").unwrap(), "config.json")
        .unwrap_err();
    assert!(matches!(err, Error::RepoNotFound { .. }), "{err:?}");

    let repo = Repo::model("org/model")
        .unwrap()
        .with_revision("v9")
        .unwrap();
    let err = client.get_optional(&repo, "config.json").unwrap_err();
    assert!(matches!(err, Error::RevisionNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("v9"), "{err}");
}

#[test]
fn bad_names_are_rejected_before_any_request() {
    let server = TestServer::start([]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let repo = Repo::model("org/model").unwrap();
    for file in ["../../etc/passwd", "/abs", "a//b", ""] {
        let err = client.get(&repo, file).unwrap_err();
        assert!(
            matches!(err, Error::InvalidFileName { .. }),
            "{file}: {err:?}"
        );
    }
    assert!(matches!(
        Repo::model("/org/x"),
        Err(Error::InvalidRepoId { .. })
    ));
    assert!(matches!(
        Repo::dataset("a/../b"),
        Err(Error::InvalidRepoId { .. })
    ));
    assert_eq!(server.request_count(), 0);
}
