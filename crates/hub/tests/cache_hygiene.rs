//! Leftovers of killed downloads: removed by the next download of the repo, unless another
//! download is writing them right now.

mod common;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::{incomplete_files, Route, TestServer};
use hub::{HubClient, Repo, Timeouts};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn blobs(cache: &Path) -> PathBuf {
    cache.join("models--org--model/blobs")
}

/// Makes `path` look untouched for an hour.
fn backdate(path: &Path) {
    let old = SystemTime::now() - Duration::from_secs(3600);
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

fn config_server() -> TestServer {
    TestServer::start([(
        "/org/model/resolve/main/config.json".to_owned(),
        Route::ok("{}").header("x-repo-commit", COMMIT),
    )])
}

#[test]
fn the_next_download_removes_stale_leftovers_only() {
    let cache = tempfile::tempdir().unwrap();
    let dir = blobs(cache.path());
    fs::create_dir_all(&dir).unwrap();
    // What a download killed an hour ago left behind.
    let stale = dir.join("abc.Xy12Zq.sentence-rs.incomplete");
    fs::write(&stale, b"half a blob").unwrap();
    backdate(&stale);
    // The same from an earlier version of this crate (no lock, no marker in the name).
    let legacy = dir.join("abc.Qw34Er.incomplete");
    fs::write(&legacy, b"half a blob").unwrap();
    backdate(&legacy);
    // A download that started a moment ago, and huggingface_hub's resumable partial file.
    let young = dir.join("def.Ab34Cd.sentence-rs.incomplete");
    fs::write(&young, b"just started").unwrap();
    let python = dir.join("0123abcd.incomplete");
    fs::write(&python, b"resumable").unwrap();
    backdate(&python);

    let server = config_server();
    let client = HubClient::new(&server.url(), cache.path());
    client
        .get(&Repo::model("org/model").unwrap(), "config.json")
        .unwrap();

    assert!(!stale.exists());
    assert!(!legacy.exists());
    assert!(young.exists());
    assert!(python.exists());
}

#[test]
fn a_download_in_progress_keeps_its_file() {
    let cache = tempfile::tempdir().unwrap();
    let slow = TestServer::start([(
        "/org/model/resolve/main/vocab.txt".to_owned(),
        Route::ok("a\nb\nc\n")
            .header("x-repo-commit", COMMIT)
            .trickle(Duration::from_millis(150)),
    )]);
    let writer = HubClient::new(&slow.url(), cache.path()).with_timeouts(Timeouts {
        read: Duration::from_secs(1),
        stall: Duration::from_secs(2),
    });
    let download =
        std::thread::spawn(move || writer.get(&Repo::model("org/model").unwrap(), "vocab.txt"));

    // Wait for its .incomplete file, then make it look abandoned: only its lock protects it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let partial = loop {
        if let Some(name) = incomplete_files(&blobs(cache.path())).pop() {
            break blobs(cache.path()).join(name);
        }
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(10));
    };
    backdate(&partial);
    let server = config_server();
    HubClient::new(&server.url(), cache.path())
        .get(&Repo::model("org/model").unwrap(), "config.json")
        .unwrap();
    assert!(partial.exists(), "the sweep removed a live download");

    let path = download.join().unwrap().unwrap();
    assert_eq!(fs::read_to_string(path).unwrap(), "a\nb\nc\n");
    assert_eq!(incomplete_files(cache.path()), Vec::<String>::new());
}
