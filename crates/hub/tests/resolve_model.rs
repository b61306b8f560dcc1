//! `resolve_model` against a fake sentence-transformers repo on a loopback server.

mod common;

use std::fs;

use common::{dead_endpoint, empty_safetensors, Route, TestServer};
use hub::{resolve_model, Error, HubClient};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

const MODULES_JSON: &str = r#"[
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
]"#;

/// The files of a small sentence-transformers repo, as the hub serves them.
fn st_repo(prefix: &str, with_commit: bool) -> Vec<(String, Route)> {
    let files: [(&str, &[u8]); 8] = [
        ("modules.json", MODULES_JSON.as_bytes()),
        (
            "config.json",
            br#"{"model_type": "bert", "hidden_size": 8}"#,
        ),
        (
            "model.safetensors",
            b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
        ),
        ("tokenizer.json", br#"{"version": "1.0"}"#),
        ("vocab.txt", b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n"),
        ("sentence_bert_config.json", br#"{"max_seq_length": 128}"#),
        (
            "1_Pooling/config.json",
            br#"{"pooling_mode_mean_tokens": true}"#,
        ),
        ("README.md", b"# fake\n"),
    ];
    // The hub answers at the branch and at the commit it points to.
    let revisions: &[&str] = if with_commit {
        &["main", COMMIT]
    } else {
        &["main"]
    };
    let mut routes = Vec::new();
    for revision in revisions {
        for (file, body) in files {
            let mut route = Route::ok(body.to_vec());
            if with_commit {
                route = route.header("x-repo-commit", COMMIT);
            }
            routes.push((format!("{prefix}/resolve/{revision}/{file}"), route));
        }
    }
    routes
}

#[test]
fn fetches_a_sentence_transformers_folder() {
    let server = TestServer::start(st_repo("/org/st", true));
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());

    let dir = resolve_model(&client, "org/st").unwrap();

    assert_eq!(
        dir,
        cache.path().join("models--org--st/snapshots").join(COMMIT)
    );
    for file in [
        "modules.json",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "vocab.txt",
        "sentence_bert_config.json",
        "README.md",
        "1_Pooling/config.json",
    ] {
        assert!(
            dir.join(file).is_file(),
            "{file} missing from {}",
            dir.display()
        );
    }
    assert_eq!(
        fs::read_to_string(dir.join("1_Pooling/config.json")).unwrap(),
        r#"{"pooling_mode_mean_tokens": true}"#
    );
    let paths = server.paths();
    assert_eq!(paths[0], "/org/st/resolve/main/modules.json");
    // After modules.json named the commit, the rest is fetched at that commit.
    assert!(paths[1..].iter().all(|p| p.contains(COMMIT)), "{paths:?}");
    assert!(
        paths.iter().any(|p| p.ends_with("/1_Pooling/config.json")),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("/2_Normalize/config.json")),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.ends_with("/added_tokens.json")),
        "{paths:?}"
    );

    // Everything, including the known-absent optional files, now comes from the cache.
    let before = server.request_count();
    assert_eq!(resolve_model(&client, "org/st").unwrap(), dir);
    assert_eq!(server.request_count(), before);
    let offline = HubClient::new(&dead_endpoint(), cache.path()).offline(true);
    assert_eq!(resolve_model(&offline, "org/st").unwrap(), dir);
}

#[test]
fn works_against_a_static_mirror() {
    let server = TestServer::start(st_repo("/org/st", false));
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let dir = resolve_model(&client, "org/st").unwrap();
    assert_eq!(dir, cache.path().join("models--org--st/snapshots/main"));
    assert!(dir.join("model.safetensors").is_file());
    assert!(dir.join("1_Pooling/config.json").is_file());
    let before = server.request_count();
    resolve_model(&client, "org/st").unwrap();
    assert_eq!(server.request_count(), before);
}

#[test]
fn plain_transformers_repo_and_revision_suffix() {
    let server = TestServer::start([
        (
            "/org/bert/resolve/v1/config.json".to_owned(),
            Route::ok("{}"),
        ),
        (
            "/org/bert/resolve/v1/model.safetensors".to_owned(),
            Route::ok(empty_safetensors()),
        ),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let dir = resolve_model(&client, "org/bert@v1").unwrap();
    assert_eq!(dir, cache.path().join("models--org--bert/snapshots/v1"));
    assert!(dir.join("config.json").is_file());
    assert!(!dir.join("modules.json").exists());
}

#[test]
fn pickle_only_repo_is_refused() {
    let server = TestServer::start([
        (
            "/org/old/resolve/main/config.json".to_owned(),
            Route::ok("{}"),
        ),
        (
            "/org/old/resolve/main/pytorch_model.bin".to_owned(),
            Route::ok("pickle"),
        ),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let err = resolve_model(&client, "org/old").unwrap_err();
    assert!(matches!(err, Error::PickleCheckpoint { .. }), "{err:?}");
    let msg = err.to_string();
    for part in [
        "org/old",
        "pickle",
        "safetensors",
        "safe_serialization=True",
    ] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    // The pickle was only probed (HEAD), never downloaded.
    let pickle_requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("pytorch_model.bin"))
        .collect();
    assert_eq!(pickle_requests.len(), 1);
    assert_eq!(pickle_requests[0].method, "HEAD");
}

#[test]
fn missing_weights_without_pickle_is_not_found() {
    let server = TestServer::start([(
        "/org/empty/resolve/main/config.json".to_owned(),
        Route::ok("{}"),
    )]);
    let cache = tempfile::tempdir().unwrap();
    let client = HubClient::new(&server.url(), cache.path());
    let err = resolve_model(&client, "org/empty").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn local_directory_is_returned_unchanged() {
    let local = tempfile::tempdir().unwrap();
    fs::write(local.path().join("config.json"), "{}").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let server = TestServer::start([]);
    let client = HubClient::new(&server.url(), cache.path());
    let model = local.path().to_str().unwrap();
    assert_eq!(resolve_model(&client, model).unwrap(), local.path());
    assert_eq!(server.request_count(), 0);
}

#[test]
fn neither_directory_nor_hub_id() {
    let cache = tempfile::tempdir().unwrap();
    let server = TestServer::start([]);
    let client = HubClient::new(&server.url(), cache.path());
    for model in ["./no/such/dir", "a/b/c", "org/name@", ""] {
        let err = resolve_model(&client, model).unwrap_err();
        assert!(
            matches!(err, Error::InvalidModel { .. }),
            "{model}: {err:?}"
        );
        assert!(err.to_string().contains("neither"), "{err}");
    }
    assert_eq!(server.request_count(), 0);
}
