//! Small training files made in code.

use std::path::{Path, PathBuf};

/// Words the tiny test models know (`model::testing::tiny_bert(dir, &WORDS, seed)`); the
/// files here are made of them.
pub const WORDS: [&str; 24] = [
    "the", "a", "cat", "dog", "sits", "runs", "on", "mat", "big", "small", "red", "house", "tree",
    "and", "is", ".", "bird", "sings", "car", "drives", "fast", "slow", "green", "blue",
];

/// `rows` (anchor, positive) pairs of distinct word sequences as JSONL with the keys
/// `question` and `answer`, at `dir/pairs.jsonl`.
pub fn pairs_jsonl(dir: &Path, rows: usize) -> PathBuf {
    let word = |i: usize| WORDS[i % WORDS.len()];
    let mut text = String::new();
    for i in 0..rows {
        let anchor = format!("{} {} {} {}", word(i), word(i / 3 + 5), word(i / 7 + 2), i);
        let positive = format!("{} {} {}", word(i), word(i / 3 + 5), word(i + 11));
        text.push_str(&serde_json::json!({ "question": anchor, "answer": positive }).to_string());
        text.push('\n');
    }
    let path = dir.join("pairs.jsonl");
    std::fs::write(&path, text).expect("write pairs.jsonl");
    path
}

/// Copies the folder `from` into `to` (created), recursively: a writable copy of a fixture.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` (recursively) by its path relative to `dir`, with its bytes: two
/// snapshots are equal when a folder was left exactly as it was.
pub fn dir_snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), bytes);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
