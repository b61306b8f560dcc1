//! `cargo xtask fetch-data` end to end: the hub mirror (`../shared/hf-mirror` beside the
//! repository) served on loopback, a fresh `HF_HOME`, then a second run offline.
//!
//! Fails (does not skip) when the mirror is missing.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn mirror_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/hf-mirror");
    assert!(
        dir.is_dir(),
        "hub mirror not found at {} (expected ../shared beside the repo)",
        dir.display()
    );
    dir
}

/// Serves the files below `root` (GET and HEAD, 404 otherwise) on 127.0.0.1 until the test
/// process exits; returns the endpoint URL and a count of the requests answered.
fn serve(root: PathBuf) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = handle(stream, &root);
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), requests)
}

fn handle(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let relative = target
        .split('?')
        .next()
        .unwrap_or("")
        .trim_start_matches('/');
    let path = root.join(relative);
    let safe = !relative.split('/').any(|p| p == "..");
    match std::fs::read(&path) {
        Ok(body) if safe && path.is_file() => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            if method != "HEAD" {
                stream.write_all(&body)?;
            }
        }
        _ => write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    stream.flush()
}

fn fetch_data(endpoint: &str, hf_home: &Path, offline: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["fetch-data", "glue/mnli", "glue/stsb"])
        .env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", hf_home)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_TOKEN")
        .env_remove("HF_TOKEN_PATH");
    if offline {
        cmd.env("HF_HUB_OFFLINE", "1");
    } else {
        cmd.env_remove("HF_HUB_OFFLINE");
    }
    let out = cmd.output().expect("run xtask");
    assert!(
        out.status.success(),
        "fetch-data failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The row count printed for `name` `split`, e.g. "41,235".
fn printed_rows(stdout: &str, name: &str, split: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? != name || words.next()? != split {
            return None;
        }
        let count = words.next()?;
        (words.next()? == "rows").then(|| count.to_owned())
    })
}

fn check_counts(stdout: &str) {
    for (name, split, rows) in [
        ("glue/mnli", "train", "41,235"),
        ("glue/stsb", "train", "5,749"),
        ("glue/stsb", "validation", "1,500"),
        ("glue/stsb", "test", "1,379"),
    ] {
        assert_eq!(
            printed_rows(stdout, name, split).as_deref(),
            Some(rows),
            "{name} {split} in:\n{stdout}"
        );
    }
    // The mirror has no MNLI validation_matched file: reported and skipped, not an error.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("validation_matched") && l.contains("skipped")),
        "{stdout}"
    );
}

#[test]
fn fetches_glue_into_a_fresh_cache_then_works_offline() {
    let (endpoint, requests) = serve(mirror_dir());
    let home = tempfile::tempdir().unwrap();

    let first = fetch_data(&endpoint, home.path(), false);
    let stdout = String::from_utf8_lossy(&first.stdout);
    check_counts(&stdout);
    let online_requests = requests.load(Ordering::SeqCst);
    assert!(online_requests >= 4, "{online_requests} requests");
    let cached = home
        .path()
        .join("hub/datasets--nyu-mll--glue/snapshots/main/mnli/train-00000-of-00001.parquet");
    assert!(cached.is_file(), "{} not in the cache", cached.display());

    let second = fetch_data(&endpoint, home.path(), true);
    check_counts(&String::from_utf8_lossy(&second.stdout));
    assert_eq!(
        requests.load(Ordering::SeqCst),
        online_requests,
        "the offline run made requests"
    );
}
