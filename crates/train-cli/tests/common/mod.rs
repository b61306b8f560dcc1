//! Test helpers: the binary run against the hub endpoint users configure (`HF_ENDPOINT`; CI
//! serves a mirror on loopback), so it runs the same download code as for users.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The hub endpoint the tests' downloads use: `HF_ENDPOINT` (CI: a loopback mirror), else
/// the public hub.
pub fn endpoint() -> String {
    test_support::endpoint()
}

/// all-MiniLM-L6-v2's folder, fetched through the hub client into the shared cache.
pub fn minilm_dir() -> PathBuf {
    test_support::model_dir(test_support::MINILM)
}

/// GLUE STS-B's test split (labels -1: no gold scores).
pub fn stsb_test_parquet() -> PathBuf {
    test_support::dataset_file("nyu-mll/glue", "stsb/test-00000-of-00001.parquet")
}

/// The binary under test: this build's, or `SENTENCE_RS_TRAIN_CLI` (an older build, to show
/// which hostile-input tests an earlier commit fails; docs/hostile-inputs.md).
pub fn train_cli_binary() -> PathBuf {
    std::env::var_os("SENTENCE_RS_TRAIN_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_train-cli")))
}

/// `train-cli ARGS` with its own empty HF cache and the given endpoint.
pub fn train_cli(args: &[&str], endpoint: &str, hf_home: &Path) -> Output {
    Command::new(train_cli_binary())
        .args(args)
        .env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", hf_home)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN")
        .output()
        .expect("run train-cli")
}

#[allow(unused_imports)]
pub use test_support::{assert_fails_with, stderr};

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
