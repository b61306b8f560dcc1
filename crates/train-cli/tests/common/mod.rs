//! Test helpers: the hub mirror served on loopback (so the CLI runs the same download code as
//! for users) and running the binary.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn mirror_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/hf-mirror");
    assert!(
        dir.is_dir(),
        "hub mirror not found at {} (expected ../shared beside the repo)",
        dir.display()
    );
    dir
}

pub fn minilm_dir() -> PathBuf {
    mirror_dir().join("sentence-transformers/all-MiniLM-L6-v2/resolve/main")
}

/// Serves `root` over HTTP/1.1 on 127.0.0.1 until the test process exits: GET and HEAD of
/// files, 404 otherwise. Returns the endpoint URL.
pub fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = handle(stream, &root);
            });
        }
    });
    format!("http://127.0.0.1:{port}")
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

/// `train-cli ARGS` with its own empty HF cache and the given endpoint.
pub fn train_cli(args: &[&str], endpoint: &str, hf_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_train-cli"))
        .args(args)
        .env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", hf_home)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN")
        .output()
        .expect("run train-cli")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a clean failure: non-zero exit, no panic, and stderr containing every `needle`.
pub fn assert_fails_with(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr:\n{err}"
    );
    assert!(
        !err.contains("panicked"),
        "panicked instead of reporting an error:\n{err}"
    );
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
}

/// A copy of all-MiniLM-L6-v2 in `dst` made of symlinks, so a test can replace single files.
pub fn link_minilm(dst: &Path) {
    let src = minilm_dir();
    for entry in walk(&src) {
        let rel = entry.strip_prefix(&src).unwrap();
        let target = dst.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&entry, &target).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Replaces the symlink `rel` in a linked model folder with a real file holding `contents`.
pub fn replace(dir: &Path, rel: &str, contents: &[u8]) {
    let path = dir.join(rel);
    let _ = std::fs::remove_file(&path);
    std::fs::write(path, contents).unwrap();
}

/// `train-cli encode --model M --input I --output O EXTRA…` in its own HF cache `home`.
pub fn encode(
    model: &str,
    input: &Path,
    output: &Path,
    extra: &[&str],
    endpoint: &str,
    home: &Path,
) -> Output {
    let mut args = vec!["encode", "--model", model, "--input"];
    let (input, output) = (input.to_str().unwrap(), output.to_str().unwrap());
    args.extend([input, "--output", output]);
    args.extend(extra);
    train_cli(&args, endpoint, home)
}
