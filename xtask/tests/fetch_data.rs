//! `cargo xtask fetch-data` end to end: downloads from the configured hub (`HF_ENDPOINT`,
//! default the public hub; CI serves a mirror on loopback) into a fresh `HF_HOME`, then a
//! second run offline with the endpoint pointing at a closed port, which must not need it.

use std::path::Path;
use std::process::{Command, Output};

/// The endpoint users configure, as the hub client reads it.
fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "https://huggingface.co".into())
}

/// Nothing listens here: a request to it fails at once.
const CLOSED_ENDPOINT: &str = "http://127.0.0.1:9";

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
        "fetch-data from {endpoint} failed (set HF_ENDPOINT to a reachable hub or mirror):\n{}",
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

/// STS-B's splits have the hub's row counts; MNLI train has rows (the full hub file has
/// 392,702, the project's offline mirror a 41,235-row slice); MNLI's validation_matched is
/// counted, or reported as skipped where a mirror lacks it.
fn check_counts(stdout: &str) -> String {
    for (split, rows) in [
        ("train", "5,749"),
        ("validation", "1,500"),
        ("test", "1,379"),
    ] {
        assert_eq!(
            printed_rows(stdout, "glue/stsb", split).as_deref(),
            Some(rows),
            "glue/stsb {split} in:\n{stdout}"
        );
    }
    let mnli = printed_rows(stdout, "glue/mnli", "train").expect("glue/mnli train counted");
    assert!(mnli != "0", "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("validation_matched")
                && (l.contains("skipped") || l.contains("rows"))),
        "{stdout}"
    );
    mnli
}

#[test]
fn fetches_glue_into_a_fresh_cache_then_works_offline() {
    let endpoint = endpoint();
    let home = tempfile::tempdir().unwrap();

    let first = fetch_data(&endpoint, home.path(), false);
    let online_mnli = check_counts(&String::from_utf8_lossy(&first.stdout));
    let cached = home.path().join("hub/datasets--nyu-mll--glue/snapshots");
    assert!(cached.is_dir(), "{} not in the cache", cached.display());

    // Offline, the endpoint is never asked: a closed port would fail any request.
    let second = fetch_data(CLOSED_ENDPOINT, home.path(), true);
    let offline_mnli = check_counts(&String::from_utf8_lossy(&second.stdout));
    assert_eq!(offline_mnli, online_mnli);
}
