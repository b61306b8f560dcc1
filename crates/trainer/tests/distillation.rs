//! Distillation of a teacher's embeddings into a student (MSELoss, EmbedDistillLoss): teacher
//! embeddings read from the training file's `embedding=` column, and what bad ones give.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use model::{EncodeOptions, SentenceTransformer};
use test_support::WORDS;
use trainer::{Resume, TrainConfig, Trainer};

fn client(dir: &Path) -> hub::HubClient {
    hub::HubClient::new("http://127.0.0.1:9", dir.join("hub-cache"))
}

fn tiny_bert(dir: &Path, seed: i64) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    model::testing::tiny_bert(dir, &WORDS, seed).unwrap()
}

fn texts(rows: usize) -> Vec<(String, String)> {
    (0..rows)
        .map(|i| {
            let w = |k: usize| WORDS[(i * 7 + k) % WORDS.len()];
            (
                format!("{} {} {}", w(0), w(1), w(2)),
                format!("{} {} {} {}", w(2), w(0), w(5), w(1)),
            )
        })
        .collect()
}

fn encode(model: &SentenceTransformer, texts: &[String]) -> Vec<Vec<f32>> {
    let options = EncodeOptions {
        batch_size: 16,
        show_progress: false,
        ..Default::default()
    };
    let m = model.encode(texts, &options).unwrap();
    m.data.chunks(m.dim).map(<[f32]>::to_vec).collect()
}

/// (english, other, embedding) rows: the teacher's embedding of the first text.
fn teacher_jsonl(dir: &Path, teacher: &SentenceTransformer, rows: usize) -> PathBuf {
    let rows = texts(rows);
    let english: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let embeddings = encode(teacher, &english);
    let text: String = rows
        .iter()
        .zip(&embeddings)
        .map(|((e, o), v)| {
            format!(
                "{}\n",
                serde_json::json!({"english": e, "other": o, "embedding": v})
            )
        })
        .collect();
    let path = dir.join("teacher.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn config(dir: &Path, student: &Path, data: &Path, loss: &str, out: &str) -> TrainConfig {
    let text = format!(
        r#"
[model]
base = "{student}"
[data]
dataset = "{data}"
format = "columns"
columns = "english=english,other=other,embedding=embedding"
[loss]
{loss}
[training]
epochs = 6
batch_size = 8
learning_rate = 2e-3
warmup_steps = 0
seed = 5
device = "cpu"
threads = 1
[evaluation]
evaluators = []
[output]
dir = "{out}"
logging_steps = 1
save_steps = 0
progress = false
"#,
        student = student.display(),
        data = data.display(),
        out = dir.join(out).display()
    );
    TrainConfig::from_toml(&text, "test", &[]).unwrap()
}

/// How far the student's embeddings of both columns are from the teacher's embedding of the
/// first: the mean squared distance per dimension, or (`cosine`) the mean cosine distance,
/// which is what EmbedDistillLoss's default distance trains (it leaves the norms free).
fn gap(student: &SentenceTransformer, teacher: &[Vec<f32>], rows: usize, cosine: bool) -> f64 {
    let rows = texts(rows);
    let mut total = 0.0;
    let mut count = 0usize;
    for column in [0, 1] {
        let column: Vec<String> = rows
            .iter()
            .map(|r| {
                if column == 0 {
                    r.0.clone()
                } else {
                    r.1.clone()
                }
            })
            .collect();
        for (s, t) in encode(student, &column).iter().zip(teacher) {
            if cosine {
                let dot = |x: &[f32], y: &[f32]| -> f64 {
                    x.iter().zip(y).map(|(a, b)| f64::from(a * b)).sum()
                };
                total += 1.0 - dot(s, t) / (dot(s, s) * dot(t, t)).sqrt();
                count += 1;
            } else {
                total += s
                    .iter()
                    .zip(t)
                    .map(|(a, b)| f64::from(a - b).powi(2))
                    .sum::<f64>();
                count += s.len();
            }
        }
    }
    total / count as f64
}

#[test]
fn mse_pulls_both_columns_towards_the_teachers_embedding() {
    let dir = tempfile::tempdir().unwrap();
    let teacher_dir = tiny_bert(&dir.path().join("teacher"), 3);
    let student_dir = tiny_bert(&dir.path().join("student"), 4);
    let teacher = SentenceTransformer::load(&teacher_dir, tch::Device::Cpu).unwrap();
    let data = teacher_jsonl(dir.path(), &teacher, 32);
    let english: Vec<String> = texts(32).into_iter().map(|r| r.0).collect();
    let targets = encode(&teacher, &english);
    let initial = SentenceTransformer::load(&student_dir, tch::Device::Cpu).unwrap();
    for (loss, out) in [
        (r#"type = "mse""#, "mse"),
        (r#"type = "embed_distill""#, "cosine"),
    ] {
        let cosine = out == "cosine";
        let before = gap(&initial, &targets, 32, cosine);
        let c = config(dir.path(), &student_dir, &data, loss, out);
        let t = Trainer::new(&c, Resume::Fresh, &client(dir.path())).unwrap();
        t.run(&AtomicBool::new(false)).unwrap();
        let student = SentenceTransformer::load(&dir.path().join(out), tch::Device::Cpu).unwrap();
        let after = gap(&student, &targets, 32, cosine);
        assert!(after < 0.5 * before, "{loss}: {before} -> {after}");
        let card = std::fs::read_to_string(dir.path().join(out).join("README.md")).unwrap();
        let class = if out == "mse" {
            "MSELoss"
        } else {
            "EmbedDistillLoss"
        };
        assert!(card.contains(class), "{card}");
    }
}

#[test]
fn bad_teacher_embeddings_are_errors_naming_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let student_dir = tiny_bert(&dir.path().join("student"), 4);
    let student = SentenceTransformer::load(&student_dir, tch::Device::Cpu).unwrap();
    let good = teacher_jsonl(dir.path(), &student, 16);
    let lines: Vec<String> = std::fs::read_to_string(&good)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let write = |name: &str, lines: &[String]| {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n")).unwrap();
        path
    };
    let fails = |data: &Path, loss: &str| -> String {
        let c = config(dir.path(), &student_dir, data, loss, "out");
        match Trainer::new(&c, Resume::Fresh, &client(dir.path())) {
            Err(e) => format!("{e:#}"),
            Ok(t) => format!("{:#}", t.run(&AtomicBool::new(false)).unwrap_err()),
        }
    };

    // Row 3 (line 3) one value short.
    let mut short = lines.clone();
    let mut row: serde_json::Value = serde_json::from_str(&short[2]).unwrap();
    row["embedding"].as_array_mut().unwrap().pop();
    short[2] = row.to_string();
    let err = fails(&write("short.jsonl", &short), r#"type = "mse""#);
    assert!(
        err.contains("short.jsonl") && err.contains("line 3") && err.contains("embedding"),
        "{err}"
    );

    // A string among the numbers.
    let mut text = lines.clone();
    let mut row: serde_json::Value = serde_json::from_str(&text[1]).unwrap();
    row["embedding"][4] = serde_json::json!("x");
    text[1] = row.to_string();
    let err = fails(&write("text.jsonl", &text), r#"type = "mse""#);
    assert!(
        err.contains("line 2") && err.contains("item 4") && err.contains("number"),
        "{err}"
    );

    // Another width than the student's: refused at the first step, naming both shapes.
    let wide: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut row: serde_json::Value = serde_json::from_str(l).unwrap();
            row["embedding"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!(0.5));
            row.to_string()
        })
        .collect();
    let err = fails(&write("wide.jsonl", &wide), r#"type = "mse""#);
    assert!(
        err.contains("teacher must embed in the student's dimension"),
        "{err}"
    );

    // A score loss on embedding targets, and an embedding loss on scores.
    let err = fails(&good, r#"type = "cosine_similarity""#);
    assert!(err.contains("teacher embeddings"), "{err}");
    let scored: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut row: serde_json::Value = serde_json::from_str(l).unwrap();
            row["embedding"] = serde_json::json!(0.5);
            row.to_string()
        })
        .collect();
    let err = fails(&write("scalar.jsonl", &scored), r#"type = "mse""#);
    assert!(err.contains("an array of numbers"), "{err}");
}
