//! `train-cli` training runs on a tiny random BERT: output folder, exact resume after SIGKILL,
//! and configs rejected before any step is taken.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_fails_with, endpoint, stderr, train_cli};
use model::SentenceTransformer;

fn tiny_model(dir: &Path) -> PathBuf {
    model::testing::tiny_bert(dir, &test_support::WORDS, 3).unwrap()
}

/// A tiny random model of `arch` committed with its sentence-transformers parity fixture.
fn fixture_model(arch: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../model/tests/fixtures")
        .join(arch)
        .join("model")
}

/// Trains `config` for 4 epochs at lr 3e-4 into `out` (32 steps of the 64 test pairs), and
/// returns the loss summed over the first epoch and over the last (the same batches,
/// reshuffled: the last is lower when the model learns).
fn fine_tune_four_epochs(config: &Path, out: &Path, hf_home: &Path) -> (f64, f64) {
    let args = [
        "train",
        "-c",
        config.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--set",
        "output.logging_steps=1",
        "--epochs",
        "4",
        "--lr",
        "3e-4",
    ];
    let stdout = run_ok(&args, hf_home);
    assert!(stdout.contains("trained 32 steps"), "{stdout}");
    let (metrics, losses) = logged_losses(out);
    assert_eq!(losses.len(), 32, "{metrics}");
    (
        losses[..8].iter().sum::<f64>(),
        losses[24..].iter().sum::<f64>(),
    )
}

#[test]
fn every_architecture_fine_tunes_with_a_falling_loss() {
    let dir = tempfile::tempdir().unwrap();
    let data = pairs_jsonl(dir.path(), 64);
    for arch in [
        "mpnet",
        "xlm-roberta",
        "roberta",
        "distilbert",
        "modernbert",
        "qwen3",
    ] {
        let config = write_config(
            dir.path(),
            &format!("{arch}.toml"),
            &fixture_model(arch),
            &data,
            "save_steps = 0",
        );
        let out = dir.path().join(arch);
        let (first, last) = fine_tune_four_epochs(&config, &out, dir.path());
        eprintln!("{arch}: loss summed over the first epoch {first:.3}, the last {last:.3}");
        assert!(last < first, "{arch}: the loss did not go down");
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap())
                .unwrap();
        let saved = config["model_type"].as_str().unwrap().to_string();
        assert_eq!(saved, arch, "the saved config.json keeps the architecture");
    }
}

#[test]
fn a_dense_stack_fine_tunes_and_saves_its_trained_dense_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = pairs_jsonl(dir.path(), 64);
    // BERT → mean → Dense(tanh) → Dense(identity) → Normalize (make_module_fixtures.py)
    let model = fixture_model("modules/dense");
    let config = write_config(dir.path(), "dense.toml", &model, &data, "save_steps = 0");
    let out = dir.path().join("dense");
    let (first, last) = fine_tune_four_epochs(&config, &out, dir.path());
    assert!(last < first, "the loss did not go down");
    for folder in ["2_Dense", "3_Dense"] {
        let read = |root: &Path| {
            let mut t =
                tch::Tensor::read_safetensors(root.join(folder).join("model.safetensors")).unwrap();
            t.sort_by(|a, b| a.0.cmp(&b.0));
            t
        };
        let (before, after) = (read(&model), read(&out));
        assert_eq!(before.len(), after.len(), "{folder}");
        for ((name, a), (_, b)) in before.iter().zip(&after) {
            assert!(!a.equal(b), "{folder}: {name} was not trained");
        }
    }
    let reloaded = SentenceTransformer::load(&out, tch::Device::Cpu).unwrap();
    assert_eq!(reloaded.embedding_dimension(), 16);
}

fn pairs_jsonl(dir: &Path, rows: usize) -> PathBuf {
    test_support::pairs_jsonl(dir, rows)
}

fn write_config(dir: &Path, name: &str, model: &Path, data: &Path, extra: &str) -> PathBuf {
    let text = format!(
        r#"
[model]
base = "{}"

[data]
dataset = "{}"
format = "columns"
columns = "anchor=question,positive=answer"

[loss]
type = "multiple_negatives_ranking"

[training]
epochs = 2
batch_size = 8
learning_rate = 1e-3
warmup_steps = 4
seed = 11
device = "cpu"
threads = 1

[evaluation]
evaluators = []

[output]
logging_steps = 5
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

fn run_ok(args: &[&str], hf_home: &Path) -> String {
    let out = train_cli(args, "http://127.0.0.1:9", hf_home);
    assert!(
        out.status.success(),
        "train-cli {args:?} failed:\n{}",
        stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// metrics.jsonl as text, and the training losses it logged.
fn logged_losses(out_dir: &Path) -> (String, Vec<f64>) {
    let metrics = std::fs::read_to_string(out_dir.join("metrics.jsonl")).unwrap();
    let losses = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "train")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect();
    (metrics, losses)
}

#[test]
fn a_run_writes_a_loadable_model_card_config_metrics_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = pairs_jsonl(dir.path(), 64);
    let config = write_config(dir.path(), "run.toml", &model, &data, "save_steps = 0");
    let out_dir = dir.path().join("out");
    let stdout = run_ok(
        &[
            "train",
            "--config",
            config.to_str().unwrap(),
            "--output",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(
        stdout.contains("trained 16 steps on 64 examples"),
        "{stdout}"
    );
    for file in [
        "modules.json",
        "model.safetensors",
        "README.md",
        "train_config.toml",
        "metrics.jsonl",
        "training_plot.png",
    ] {
        assert!(
            out_dir.join(file).is_file(),
            "{file} missing from the output folder"
        );
    }
    let trained = SentenceTransformer::load(&out_dir, tch::Device::Cpu).unwrap();
    let base = SentenceTransformer::load(&model, tch::Device::Cpu).unwrap();
    let texts = ["the cat sits on the mat", "a dog runs"];
    let opts = model::EncodeOptions::default();
    assert_ne!(
        trained.encode(&texts, &opts).unwrap().data,
        base.encode(&texts, &opts).unwrap().data,
        "training left the weights unchanged"
    );
    let (metrics, losses) = logged_losses(&out_dir);
    assert_eq!(losses.len(), 4, "{metrics}");
    assert!(
        losses.iter().all(|l| l.is_finite() && *l >= 0.0),
        "{losses:?}"
    );
    let resolved = std::fs::read_to_string(out_dir.join("train_config.toml")).unwrap();
    assert!(
        resolved.contains("multiple_negatives_ranking"),
        "{resolved}"
    );
}

#[test]
fn a_run_killed_mid_way_and_resumed_ends_with_the_uninterrupted_weights() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = pairs_jsonl(dir.path(), 240);
    let config = write_config(
        dir.path(),
        "resume.toml",
        &model,
        &data,
        "save_steps = 3\nsave_total_limit = 2",
    );
    killed_and_resumed_ends_like_straight(dir.path(), &config);
}

#[test]
fn a_killed_xlm_roberta_run_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = pairs_jsonl(dir.path(), 240);
    let config = write_config(
        dir.path(),
        "resume.toml",
        &fixture_model("xlm-roberta"),
        &data,
        "save_steps = 3\nsave_total_limit = 2",
    );
    killed_and_resumed_ends_like_straight(dir.path(), &config);
}

#[test]
fn a_killed_two_dataset_run_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = pairs_jsonl(dir.path(), 160);
    let single = write_config(dir.path(), "single.toml", &model, &data, "save_steps = 3");
    // The same run with [data]/[loss] replaced by two datasets: the pairs with MNRL, and the
    // pairs scored by their row parity with CoSENT.
    let scored = dir.path().join("scored.jsonl");
    let rows: String = std::fs::read_to_string(&data)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["score"] = serde_json::json!((i % 2) as f64);
            format!("{v}\n")
        })
        .collect();
    std::fs::write(&scored, rows).unwrap();
    let text = std::fs::read_to_string(&single).unwrap();
    let data_section = text
        .split("[training]")
        .next()
        .unwrap()
        .split("[data]")
        .next()
        .unwrap()
        .to_string();
    let two = format!(
        "{data_section}\n[[datasets]]\nname = \"qa\"\ndata = {{ dataset = \"{}\", format = \"columns\", columns = \"anchor=question,positive=answer\" }}\nloss = {{ type = \"multiple_negatives_ranking\" }}\n\n[[datasets]]\nname = \"scored\"\ndata = {{ dataset = \"{}\", format = \"columns\", columns = \"s1=question,s2=answer,score=score\" }}\nloss = {{ type = \"cosent\" }}\n\n[training]{}",
        data.display(),
        scored.display(),
        text.split("[training]").nth(1).unwrap()
    );
    let config = dir.path().join("two.toml");
    std::fs::write(&config, two).unwrap();
    killed_and_resumed_ends_like_straight(dir.path(), &config);
}

/// Runs `config` straight through, and again SIGKILLed after checkpoint-9 and resumed with
/// `--resume latest`: the final weights are byte-identical, the metrics log has no duplicate
/// step, and the killed run's lock is taken over.
fn killed_and_resumed_ends_like_straight(dir: &Path, config: &Path) {
    let config = config.to_str().unwrap();
    let straight = dir.join("straight");
    let straight_stdout = run_ok(
        &["train", "-c", config, "-o", straight.to_str().unwrap()],
        dir,
    );
    let steps = |stdout: &str| stdout.split_whitespace().nth(1).map(str::to_owned);

    let killed = dir.join("killed");
    let mut child = Command::new(common::train_cli_binary())
        .args(["train", "-c", config, "-o", killed.to_str().unwrap()])
        .env("HF_HOME", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoints = killed.join("checkpoints");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !checkpoints.join("checkpoint-9").is_dir() {
        assert!(
            Instant::now() < deadline,
            "no checkpoint-9 within 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no chance to write anything more
    child.wait().unwrap();
    assert!(
        !killed.join("README.md").exists(),
        "the run finished before it was killed; the test did not test resuming"
    );
    // The killed run's lock file stays; the kernel released its flock, so it is taken over.
    assert!(killed.join(".train.lock").is_file(), "no lock file left");

    let stdout = run_ok(
        &[
            "train",
            "-c",
            config,
            "-o",
            killed.to_str().unwrap(),
            "--resume",
            "latest",
        ],
        dir,
    );
    assert_eq!(steps(&stdout), steps(&straight_stdout), "{stdout}");
    assert!(
        !killed.join(".train.lock").exists(),
        "the lock outlived the run"
    );
    let a = std::fs::read(straight.join("model.safetensors")).unwrap();
    let b = std::fs::read(killed.join("model.safetensors")).unwrap();
    assert!(a == b, "resumed weights differ from the uninterrupted run");
    // Metrics of the resumed run have no duplicate steps.
    let metrics = std::fs::read_to_string(killed.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = metrics
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut sorted = steps.clone();
    sorted.dedup();
    assert_eq!(steps, sorted, "{metrics}");
}

/// `train-cli train -c CONFIG -o OUT EXTRA…` started in the background.
fn spawn_train(config: &Path, out: &Path, extra: &[&str], hf_home: &Path) -> std::process::Child {
    Command::new(common::train_cli_binary())
        .args(["train", "-c", config.to_str().unwrap()])
        .args(["-o", out.to_str().unwrap()])
        .args(extra)
        .env("HF_HOME", hf_home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_second_run_on_a_running_output_folder_fails_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = pairs_jsonl(dir.path(), 240);
    let config = write_config(dir.path(), "long.toml", &model, &data, "save_steps = 0");
    let out_dir = dir.path().join("shared");
    let mut first = spawn_train(&config, &out_dir, &["--epochs", "300"], dir.path());
    let lock = out_dir.join(".train.lock");
    let deadline = Instant::now() + Duration::from_secs(120);
    let owner = loop {
        let text = std::fs::read_to_string(&lock).unwrap_or_default();
        if let Ok(owner) = serde_json::from_str::<trainer::LockOwner>(&text) {
            break owner;
        }
        assert!(Instant::now() < deadline, "no lock within 2 minutes");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(owner.pid, first.id());

    let config = config.to_str().unwrap();
    // (A few steps only: without the lock it would train alongside the first run.)
    let out = out_dir.to_str().unwrap();
    let second = train_cli(
        &["train", "-c", config, "-o", out, "--max-steps", "2"],
        "http://127.0.0.1:9",
        dir.path(),
    );
    let still_running = first.try_wait().unwrap().is_none();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        still_running,
        "the first run ended before the second one started"
    );
    assert_fails_with(
        &second,
        &[
            "output.dir is in use by another run",
            &format!(
                "pid {} on host {} since {}",
                owner.pid, owner.host, owner.started
            ),
            &lock.display().to_string(),
        ],
    );
}

/// Every file under `dir` with its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}

#[test]
fn resuming_with_another_batch_size_is_refused_and_changes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = pairs_jsonl(dir.path(), 64);
    let config = write_config(
        dir.path(),
        "run.toml",
        &model,
        &data,
        "save_steps = 3\nsave_total_limit = 2",
    );
    let (config, out_dir) = (config.to_str().unwrap(), dir.path().join("out"));
    let out = out_dir.to_str().unwrap();
    run_ok(&["train", "-c", config, "-o", out], dir.path());
    let before = snapshot(&out_dir);

    let resume = ["train", "-c", config, "-o", out, "--resume", "latest"];
    let refused = train_cli(
        &[&resume[..], &["--batch-size", "4"]].concat(),
        "http://127.0.0.1:9",
        dir.path(),
    );
    assert_fails_with(
        &refused,
        &[
            "checkpoint-15",
            "training.batch_size is 8 in the checkpoint, 4 now",
        ],
    );
    assert!(
        before == snapshot(&out_dir),
        "a refused resume changed files"
    );
    // Logging is not part of the run's math: that change resumes.
    run_ok(
        &[&resume[..], &["--set", "output.logging_steps=1"]].concat(),
        dir.path(),
    );
}

#[test]
fn output_dirs_that_are_not_a_runs_own_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = pairs_jsonl(dir.path(), 16);
    // A model that cannot load: the old behaviour fails there, before any write.
    let config = write_config(
        dir.path(),
        "run.toml",
        &dir.path().join("no-such-model"),
        &data,
        "",
    );
    let foreign = dir.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let previous = dir.path().join("previous");
    std::fs::create_dir(&previous).unwrap();
    std::fs::write(previous.join("metrics.jsonl"), "").unwrap();
    let run = |out: &str| {
        // clap refuses `-o ""`; a config file or --set can still say it
        let set_dir = format!("output.dir={}", toml::Value::String(out.into()));
        Command::new(common::train_cli_binary())
            .args(["train", "-c", config.to_str().unwrap(), "--set", &set_dir])
            .current_dir(dir.path())
            .env("HF_ENDPOINT", "http://127.0.0.1:9")
            .env("HF_HOME", dir.path().join("hf"))
            .output()
            .unwrap()
    };
    assert_fails_with(&run(""), &["output.dir", "is empty"]);
    assert_fails_with(&run("/"), &["output.dir", "filesystem root"]);
    assert_fails_with(&run("."), &["output.dir", "current working directory"]);
    assert_fails_with(
        &run(foreign.to_str().unwrap()),
        &["output.dir", "mine is not empty", "notes.txt"],
    );
    let accepted = run(previous.to_str().unwrap());
    assert_fails_with(&accepted, &["no-such-model"]);
    assert!(
        !stderr(&accepted).contains("output.dir"),
        "{}",
        stderr(&accepted)
    );
    assert_eq!(
        std::fs::read(foreign.join("notes.txt")).unwrap(),
        b"keep me"
    );
}

#[test]
fn bad_configs_are_rejected_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = pairs_jsonl(dir.path(), 16);
    let endpoint = endpoint();
    let home = dir.path().join("hf");
    let out = dir.path().join("out");
    let run = |config: &Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "-c",
            config.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        train_cli(&args, &endpoint, &home)
    };

    let unknown = write_config(dir.path(), "unknown.toml", &model, &data, "save_step = 3");
    assert_fails_with(&run(&unknown, &[]), &["unknown.toml", "save_step"]);

    let wrong_type = write_config(
        dir.path(),
        "type.toml",
        &model,
        &data,
        "save_steps = \"often\"",
    );
    assert_fails_with(&run(&wrong_type, &[]), &["type.toml", "save_steps"]);

    let ok = write_config(dir.path(), "ok.toml", &model, &data, "");
    assert_fails_with(
        &run(&ok, &["--batch-size", "0"]),
        &["training.batch_size must be at least 1"],
    );
    assert_fails_with(
        &run(&ok, &["--dataset", "/no/such/file.jsonl"]),
        &["/no/such/file.jsonl", "does not exist"],
    );
    assert_fails_with(
        &run(&ok, &["--set", "data.columns=anchor=q,positive=answer"]),
        &["pairs.jsonl", "`q`"],
    );
    // STS-B's test split has no gold scores (-1): useless for evaluation.
    assert_fails_with(
        &run(
            &ok,
            &[
                "--set",
                r#"evaluation.evaluators=[{type="embedding_similarity",dataset="glue/stsb",split="test"}]"#,
            ],
        ),
        &["test", "no gold"],
    );
    // Softmax needs class labels; the pairs have none.
    assert_fails_with(
        &run(&ok, &["--set", "loss.type=softmax"]),
        &["SoftmaxLoss", "class labels"],
    );
    assert!(
        !out.join("checkpoints").exists(),
        "a rejected config still trained"
    );
}

#[test]
fn dry_run_prints_the_default_config_with_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_ok(&["--epochs", "3", "--lr", "2e-5", "--dry-run"], dir.path());
    let config: toml::Table = stdout.parse().unwrap();
    assert_eq!(config["training"]["epochs"].as_integer(), Some(3));
    assert_eq!(config["training"]["learning_rate"].as_float(), Some(2e-5));
    assert_eq!(config["data"]["dataset"].as_str(), Some("glue/mnli"));
}

/// bf16 autocast runs on the CPU too: the loss stays finite and falls, and the saved weights
/// stay float32 (autocast casts per op; the master weights are not converted).
#[test]
fn bf16_autocast_trains_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = pairs_jsonl(dir.path(), 64);
    let config = write_config(dir.path(), "bf16.toml", &model, &data, "save_steps = 0");
    let out_dir = dir.path().join("out-bf16");
    run_ok(
        &[
            "train",
            "--config",
            config.to_str().unwrap(),
            "--precision",
            "bf16",
            "--output",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    let (_, losses) = logged_losses(&out_dir);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[losses.len() - 1] < losses[0], "{losses:?}");
    let trained = SentenceTransformer::load(&out_dir, tch::Device::Cpu).unwrap();
    let kinds: Vec<tch::Kind> = trained
        .var_store()
        .variables()
        .values()
        .map(|t| t.kind())
        .collect();
    assert!(kinds.iter().all(|k| *k == tch::Kind::Float), "{kinds:?}");
}

#[test]
fn a_killed_tsdae_run_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    // Single sentences, damaged by word deletion drawn from the seed per row: the resumed run
    // must redraw exactly the same noise.
    let words = test_support::WORDS;
    let lines: String = (0..240)
        .map(|i| {
            format!(
                "{} {} {} {} {}\n",
                words[i % 24],
                words[(i / 3 + 7) % 24],
                words[(i * 5 + 1) % 24],
                words[(i / 7 + 2) % 24],
                words[(i * 11 + 3) % 24]
            )
        })
        .collect();
    let sentences = dir.path().join("sentences.txt");
    std::fs::write(&sentences, lines).unwrap();
    let config = write_config(
        dir.path(),
        "tsdae.toml",
        &model,
        &sentences,
        "save_steps = 3\nsave_total_limit = 2",
    );
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "format = \"columns\"\ncolumns = \"anchor=question,positive=answer\"",
            "format = \"sentences\"\npairing = { type = \"denoising\", deletion_ratio = 0.6 }",
        )
        .replace(
            "type = \"multiple_negatives_ranking\"",
            "type = \"denoising_auto_encoder\"",
        );
    assert!(text.contains("denoising_auto_encoder") && text.contains("sentences"));
    std::fs::write(&config, text).unwrap();
    killed_and_resumed_ends_like_straight(dir.path(), &config);
}
