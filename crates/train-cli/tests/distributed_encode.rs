//! `encode` under the launcher (`--nproc N`): each rank encodes its contiguous shard, the rows
//! are gathered in input order and rank 0 alone writes one output, the one a single process
//! writes: float32 within 1e-6 (a shard batches its texts differently, so the kernels may round
//! differently), bit-identical with one text a batch on one thread; int8 ranges are computed
//! over all rows. A rank with no texts takes part too.

mod common;

use std::path::{Path, PathBuf};

use common::{stderr, train_cli};

/// Float32 embeddings agree to this (the same texts in other batches, padded to other lengths).
const TOLERANCE: f32 = 1e-6;

/// Sentences of a few of the tiny model's words, `n` lines.
fn sentences(dir: &Path, name: &str, n: usize) -> PathBuf {
    let words = test_support::WORDS;
    let text: String = (0..n)
        .map(|i| {
            // Lengths from 1 to 6 words, so shards and batches pad differently.
            let len = 1 + (i * 5) % 6;
            let line: Vec<&str> = (0..len)
                .map(|k| words[(i * 7 + k * 3) % words.len()])
                .collect();
            format!("{}\n", line.join(" "))
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `train-cli encode` with the tiny model on the CPU; `extra` after the common flags.
fn encode(dir: &Path, model: &Path, input: &Path, output: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "encode",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--device",
        "cpu",
        "--quiet",
        "--ddp-timeout",
        "60",
    ];
    args.extend(extra);
    let out = train_cli(&args, "http://127.0.0.1:9", dir);
    let err = stderr(&out);
    assert!(out.status.success(), "train-cli {args:?} failed:\n{err}");
    err
}

fn read_f32(path: &Path) -> (Vec<f32>, usize, usize) {
    data::read_npy_f32(path).unwrap()
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The files in `dir`, by name, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn two_processes_write_what_one_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let model = model::testing::tiny_bert(dir.path(), &test_support::WORDS, 3).unwrap();
    // 9 texts: shards of 5 and 4, each in batches of 2.
    let input = sentences(dir.path(), "in.txt", 9);
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();

    let batch = ["--batch-size", "2"];
    encode(dir.path(), &model, &input, &one.join("emb.npy"), &batch);
    let err = encode(
        dir.path(),
        &model,
        &input,
        &two.join("emb.npy"),
        &[&batch[..], &["--nproc", "2"]].concat(),
    );
    assert!(
        err.contains("[rank 0] encoded 9 texts") && err.contains("by 2 processes"),
        "{err}"
    );
    assert!(!err.contains("[rank 1] encoded"), "{err}");
    let (a, rows, dim) = read_f32(&one.join("emb.npy"));
    let (b, rows_b, dim_b) = read_f32(&two.join("emb.npy"));
    assert_eq!(rows, 9, "one process's rows");
    assert_eq!((rows_b, dim_b), (rows, dim));
    let difference = max_difference(&a, &b);
    assert!(
        difference <= TOLERANCE,
        "2 processes' embeddings are {difference} away from 1 process's"
    );
    // Rows in input order: each row is nearest its own row of the one-process run.
    for i in 0..rows {
        let row = &b[i * dim..(i + 1) * dim];
        let nearest = (0..rows)
            .min_by(|&x, &y| {
                let dx = max_difference(row, &a[x * dim..(x + 1) * dim]);
                let dy = max_difference(row, &a[y * dim..(y + 1) * dim]);
                dx.total_cmp(&dy)
            })
            .unwrap();
        assert_eq!(nearest, i, "row {i} of the 2-process output");
    }

    // int8: the ranges come from all 9 rows, as one process computes them.
    for (out, extra) in [(&one, vec![]), (&two, vec!["--nproc", "2"])] {
        let extra = [&batch[..], &["--precision", "int8"], &extra].concat();
        encode(dir.path(), &model, &input, &out.join("q.npy"), &extra);
    }
    let (ranges_one, ..) = read_f32(&one.join("q.ranges.npy"));
    let (ranges_two, ..) = read_f32(&two.join("q.ranges.npy"));
    let difference = max_difference(&ranges_one, &ranges_two);
    assert!(difference <= TOLERANCE, "ranges differ by {difference}");
    let int8 = |path: &Path| match data::read_npy(path).unwrap() {
        (data::MatrixData::I8(v), r, d) => (v, r, d),
        (other, ..) => panic!("{} is not int8: {other:?}", path.display()),
    };
    let (q1, r1, d1) = int8(&one.join("q.npy"));
    let (q2, r2, d2) = int8(&two.join("q.npy"));
    assert_eq!((r1, d1), (r2, d2));
    // A value within 1e-6 of a bucket boundary may land one bucket over.
    let buckets = q1
        .iter()
        .zip(&q2)
        .map(|(x, y)| (i16::from(*x) - i16::from(*y)).abs())
        .max()
        .unwrap();
    assert!(buckets <= 1, "int8 values differ by {buckets} buckets");

    // Parquet: the texts in input order beside their embeddings.
    encode(
        dir.path(),
        &model,
        &input,
        &two.join("emb.parquet"),
        &[&batch[..], &["--nproc", "2"]].concat(),
    );
    let texts = data::read_text_column(two.join("emb.parquet"), "text").unwrap();
    assert_eq!(texts, data::read_lines(&input).unwrap());

    // Only rank 0 wrote, and nothing else: no stray temporary files.
    assert_eq!(
        files(&two),
        ["emb.npy", "emb.parquet", "q.npy", "q.ranges.npy"]
    );
}

#[test]
fn more_processes_than_texts_leave_a_rank_without_any() {
    let dir = tempfile::tempdir().unwrap();
    let model = model::testing::tiny_bert(dir.path(), &test_support::WORDS, 3).unwrap();
    let input = sentences(dir.path(), "three.txt", 3);
    let one = dir.path().join("one.npy");
    let four = dir.path().join("four.npy");
    // One text a batch on one thread: every text is computed alike in either run.
    let alike = ["--batch-size", "1", "--threads", "1"];
    encode(dir.path(), &model, &input, &one, &alike);
    // Shards of 1, 1, 1 and 0 texts.
    let err = encode(
        dir.path(),
        &model,
        &input,
        &four,
        &[&alike[..], &["--nproc", "4"]].concat(),
    );
    assert!(err.contains("[rank 0] encoded 3 texts"), "{err}");
    assert!(err.contains("by 4 processes"), "{err}");
    let (_, rows, _) = read_f32(&four);
    assert_eq!(rows, 3);
    assert!(
        std::fs::read(&one).unwrap() == std::fs::read(&four).unwrap(),
        "4 processes wrote other bytes than 1 process"
    );
}

#[test]
fn a_rank_that_cannot_start_stops_the_others_without_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let model = model::testing::tiny_bert(dir.path(), &test_support::WORDS, 3).unwrap();
    let input = sentences(dir.path(), "in.txt", 5);
    // Rank 0 alone checks the output folder: it is missing, so rank 0 fails after joining and
    // rank 1 must learn of it at once.
    let output = dir.path().join("missing").join("emb.npy");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let started = std::time::Instant::now();
    let ranks: Vec<_> = (0..2)
        .map(|rank| {
            std::process::Command::new(common::train_cli_binary())
                .args(["encode", "--model", model.to_str().unwrap()])
                .args(["--input", input.to_str().unwrap()])
                .args(["--output", output.to_str().unwrap()])
                .args(["--device", "cpu", "--quiet", "--ddp-timeout", "30"])
                .env("HF_HOME", dir.path())
                .env("RANK", rank.to_string())
                .env("WORLD_SIZE", "2")
                .env("MASTER_ADDR", "127.0.0.1")
                .env("MASTER_PORT", &port)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let errors: Vec<String> = ranks
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(!out.status.success(), "{}", stderr(&out));
            stderr(&out)
        })
        .collect();
    assert!(errors[0].contains("does not exist"), "{}", errors[0]);
    assert!(errors[1].contains("other rank(s) failed"), "{}", errors[1]);
    assert!(started.elapsed() < std::time::Duration::from_secs(25));

    // --nproc under a launcher is refused.
    let out = std::process::Command::new(common::train_cli_binary())
        .args(["encode", "--model", model.to_str().unwrap()])
        .args(["--input", input.to_str().unwrap()])
        .args(["--output", dir.path().join("x.npy").to_str().unwrap()])
        .args(["--nproc", "2"])
        .env("HF_HOME", dir.path())
        .env("RANK", "0")
        .env("WORLD_SIZE", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("leave --nproc out"),
        "{}",
        stderr(&out)
    );
}
