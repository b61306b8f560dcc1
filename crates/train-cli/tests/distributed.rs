//! Data-parallel training over c10d/Gloo on 127.0.0.1: two processes end with the weights of
//! one process over the same global batches, a killed rank stops the run with an error naming
//! it and `--resume latest` then continues exactly, and bad launch variables are refused
//! without a hang.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, train_cli, train_cli_binary};

const TOLERANCE: f64 = 1e-5;

/// A tiny random BERT without dropout: ranks draw different masks than one process would.
fn tiny_model(dir: &Path) -> PathBuf {
    let model = model::testing::tiny_bert(dir, &test_support::WORDS, 3).unwrap();
    for entry in walk(&model) {
        if entry.file_name().is_some_and(|n| n == "config.json") {
            let text = std::fs::read_to_string(&entry).unwrap();
            let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
            if json.get("hidden_dropout_prob").is_some() {
                json["hidden_dropout_prob"] = 0.0.into();
                json["attention_probs_dropout_prob"] = 0.0.into();
                std::fs::write(&entry, json.to_string()).unwrap();
            }
        }
    }
    model
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// (anchor, positive, hard negative) rows.
fn triplets_jsonl(dir: &Path, rows: usize) -> PathBuf {
    let words = test_support::WORDS;
    let word = |i: usize| words[i % words.len()];
    let mut text = String::new();
    for i in 0..rows {
        let row = serde_json::json!({
            "anchor": format!("{} {} {} {}", word(i), word(i / 3 + 5), word(i / 7 + 2), i),
            "positive": format!("{} {} {}", word(i), word(i / 3 + 5), word(i + 11)),
            "negative": format!("{} {} {}", word(i + 1), word(i / 2 + 7), word(i + 3)),
        });
        text.push_str(&row.to_string());
        text.push('\n');
    }
    let path = dir.join("triplets.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn write_config(dir: &Path, name: &str, model: &Path, data: &Path, extra: &str) -> PathBuf {
    let text = format!(
        r#"
[model]
base = "{}"

[data]
dataset = "{}"
format = "columns"
columns = "anchor=anchor,positive=positive,negative=negative"

[loss]
type = "multiple_negatives_ranking"
gather_across_devices = true

[training]
epochs = 2
max_steps = 24
batch_size = 7
learning_rate = 1e-3
warmup_steps = 2
seed = 11
device = "cpu"
threads = 1
ddp_timeout = 60

[evaluation]
evaluators = []

[output]
logging_steps = 4
save_steps = 4
progress = false
{extra}
"#,
        model.display(),
        data.display()
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run_ok(args: &[&str], dir: &Path) -> Output {
    let out = train_cli(args, "http://127.0.0.1:9", dir);
    assert!(
        out.status.success(),
        "train-cli {args:?} failed:\n{}",
        stderr(&out)
    );
    out
}

fn weights(dir: &Path) -> Vec<(String, tch::Tensor)> {
    let mut named = tch::Tensor::read_safetensors(dir.join("model.safetensors")).unwrap();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

fn max_difference(a: &Path, b: &Path) -> f64 {
    let (a, b) = (weights(a), weights(b));
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|((na, ta), (nb, tb))| {
            assert_eq!(na, nb);
            (ta - tb).abs().max().double_value(&[])
        })
        .fold(0.0, f64::max)
}

/// The process ids of `pid`'s children.
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn rank_of(pid: u32) -> Option<usize> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ
        .split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix("RANK=").and_then(|r| r.parse().ok()))
}

#[test]
fn two_processes_train_like_one_and_resume_exactly_after_a_killed_rank() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    // 7 rows per step over 2 processes: shares of 4 and 3.
    let data = triplets_jsonl(dir.path(), 84);
    let config = write_config(dir.path(), "ddp.toml", &model, &data, "");
    let config = config.to_str().unwrap();
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    run_ok(
        &["train", "-c", config, "-o", one.to_str().unwrap()],
        dir.path(),
    );
    let out = run_ok(
        &[
            "train",
            "--nproc",
            "2",
            "-c",
            config,
            "-o",
            two.to_str().unwrap(),
        ],
        dir.path(),
    );
    let difference = max_difference(&one, &two);
    eprintln!("2 processes vs 1: largest weight difference {difference:e}");
    assert!(
        difference < TOLERANCE,
        "2 processes end {difference} away from 1 process"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[rank 0] trained 24 steps"), "{stdout}");
    let card = std::fs::read_to_string(two.join("README.md")).unwrap();
    assert!(card.contains("| processes | 2 |"), "{card}");
    let metrics = std::fs::read_to_string(two.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"world_size\":2"), "{metrics}");

    // Kill rank 1 once checkpoint-4 is written: rank 0 must fail naming it, then the run
    // resumes to the uninterrupted 2-process weights.
    let killed = dir.path().join("killed");
    let launcher = Command::new(train_cli_binary())
        .args([
            "train",
            "--nproc",
            "2",
            "-c",
            config,
            "-o",
            killed.to_str().unwrap(),
        ])
        .env("HF_HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !killed.join("checkpoints/checkpoint-4").is_dir() {
        assert!(
            Instant::now() < deadline,
            "no checkpoint-4 within 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let rank1 = children_of(launcher.id())
        .into_iter()
        .find(|&pid| rank_of(pid) == Some(1))
        .expect("rank 1's process");
    let killed_at = Instant::now();
    // SAFETY: sending a signal to a child process we started.
    assert_eq!(unsafe { libc::kill(rank1 as i32, libc::SIGKILL) }, 0);
    let out = launcher.wait_with_output().unwrap();
    let elapsed = killed_at.elapsed();
    let err = stderr(&out);
    eprintln!("rank 1 SIGKILLed: the run ended {elapsed:?} later");
    assert!(!out.status.success());
    assert!(
        !killed.join("README.md").exists(),
        "the run finished before rank 1 was killed"
    );
    assert!(err.contains("rank 1 failed (killed by SIGKILL)"), "{err}");
    assert!(
        err.contains("[rank 0]") && err.contains("lost rank 1"),
        "{err}"
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}\n{err}");

    run_ok(
        &[
            "train",
            "--nproc",
            "2",
            "-c",
            config,
            "-o",
            killed.to_str().unwrap(),
            "--resume",
            "latest",
        ],
        dir.path(),
    );
    let difference = max_difference(&two, &killed);
    assert!(difference == 0.0, "resumed weights differ by {difference}");
}

/// `train-cli train` as one rank with these launch variables (and a short timeout).
fn rank_run(dir: &Path, config: &str, out: &Path, vars: &[(&str, String)]) -> Output {
    let mut command = Command::new(train_cli_binary());
    command
        .args(["train", "-c", config, "-o", out.to_str().unwrap()])
        .args(["--set", "training.ddp_timeout=5"])
        .env("HF_HOME", dir)
        .env_remove("RANK")
        .env_remove("WORLD_SIZE");
    for (k, v) in vars {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn bad_launch_variables_fail_fast_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = triplets_jsonl(dir.path(), 28);
    let config = write_config(dir.path(), "bad.toml", &model, &data, "");
    let config = config.to_str().unwrap();
    let out = dir.path().join("out");
    let s = |v: &str| v.to_string();

    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![("WORLD_SIZE", s("2"))], "RANK"),
        (
            vec![("RANK", s("2")), ("WORLD_SIZE", s("2"))],
            "not below WORLD_SIZE 2",
        ),
        (
            // Nothing listens on 127.0.0.2 (loopback): rank 1 must give up within the timeout.
            vec![
                ("RANK", s("1")),
                ("WORLD_SIZE", s("2")),
                ("MASTER_ADDR", s("127.0.0.2")),
                ("MASTER_PORT", free_port().to_string()),
            ],
            "127.0.0.2",
        ),
    ];
    for (vars, needle) in cases {
        let started = Instant::now();
        let result = rank_run(dir.path(), config, &out, &vars);
        let err = stderr(&result);
        assert!(!result.status.success(), "{vars:?} succeeded");
        assert!(err.contains(needle), "{vars:?}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{vars:?} took {:?}",
            started.elapsed()
        );
    }

    // A port already in use: rank 0 cannot serve the store there.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let result = rank_run(
        dir.path(),
        config,
        &out,
        &[
            ("RANK", s("0")),
            ("WORLD_SIZE", s("2")),
            ("MASTER_ADDR", s("127.0.0.1")),
            ("MASTER_PORT", port),
        ],
    );
    let err = stderr(&result);
    assert!(!result.status.success());
    assert!(err.contains("already in use"), "{err}");
    drop(taken);

    // More processes than examples per step.
    let result = train_cli(
        &[
            "train",
            "--nproc",
            "8",
            "-c",
            config,
            "-o",
            out.to_str().unwrap(),
        ],
        "http://127.0.0.1:9",
        dir.path(),
    );
    assert!(!result.status.success());
    assert!(stderr(&result).contains("--nproc 8"), "{}", stderr(&result));
}

#[test]
fn ranks_with_different_configs_refuse_to_train() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = triplets_jsonl(dir.path(), 28);
    let config = write_config(dir.path(), "cfg.toml", &model, &data, "");
    let config = config.to_str().unwrap();
    let out = dir.path().join("out");
    let port = free_port().to_string();
    let spawn = |rank: usize, seed: &str| {
        Command::new(train_cli_binary())
            .args(["train", "-c", config, "-o", out.to_str().unwrap()])
            .args(["--seed", seed, "--set", "training.ddp_timeout=20"])
            .env("HF_HOME", dir.path())
            .env("RANK", rank.to_string())
            .env("WORLD_SIZE", "2")
            .env("MASTER_ADDR", "127.0.0.1")
            .env("MASTER_PORT", &port)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let started = Instant::now();
    let zero = spawn(0, "11");
    let one = spawn(1, "12");
    for (rank, child) in [zero, one].into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "rank {rank} trained");
        assert!(err.contains("runs another config"), "rank {rank}: {err}");
        assert!(err.contains("seed"), "rank {rank}: {err}");
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}
