//! Times reading a GLUE-MNLI-shaped parquet file and building hard and soft triplets from it;
//! `cargo xtask bench data` builds it in release mode and runs it. Prints one JSON line.
//!
//! Usage: nli_bench PARQUET ROWS REPEATS
//!
//! PARQUET is written first if it does not exist: ROWS rows of synthetic NLI data shaped like
//! MNLI train (premise about 100 characters, hypothesis about 50, int64 label, int32 idx; every
//! premise has one hypothesis per label, rows shuffled).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use data::{hard_triplets, read_nli_pairs, soft_triplets, NliColumns, UnlabeledRows};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BoxResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, rows, repeats] = &args[..] else {
        return Err("usage: nli_bench PARQUET ROWS REPEATS".into());
    };
    let path = Path::new(path);
    let rows: usize = rows.parse()?;
    let repeats: usize = repeats.parse::<usize>()?.max(1);
    if !path.is_file() {
        let start = Instant::now();
        write_synthetic_mnli(path, rows)?;
        eprintln!(
            "wrote {rows} rows to {} in {:.1} s",
            path.display(),
            start.elapsed().as_secs_f64()
        );
    }

    let mut runs = Vec::new();
    for _ in 0..repeats {
        let start = Instant::now();
        let pairs = read_nli_pairs(path, &NliColumns::GLUE, UnlabeledRows::Skip)?.pairs;
        let read = start.elapsed().as_secs_f64();
        let hard = hard_triplets(&pairs, None);
        let hard_s = start.elapsed().as_secs_f64() - read;
        let soft = soft_triplets(&pairs, None, 42);
        let total = start.elapsed().as_secs_f64();
        runs.push(Run {
            read,
            hard: hard_s,
            soft: total - read - hard_s,
            total,
            rows: pairs.len(),
            hard_triplets: hard.len(),
            soft_triplets: soft.len(),
        });
    }
    runs.sort_by(|a, b| a.total.total_cmp(&b.total));
    let median = &runs[runs.len() / 2];
    println!(
        "{{\"rows\": {}, \"hard_triplets\": {}, \"soft_triplets\": {}, \"read_seconds\": {:.4}, \
         \"hard_seconds\": {:.4}, \"soft_seconds\": {:.4}, \"median_seconds\": {:.4}, \
         \"rows_per_second\": {:.0}, \"runs\": {:?}}}",
        median.rows,
        median.hard_triplets,
        median.soft_triplets,
        median.read,
        median.hard,
        median.soft,
        median.total,
        median.rows as f64 / median.total,
        runs.iter().map(|r| r.total).collect::<Vec<_>>(),
    );
    Ok(())
}

struct Run {
    read: f64,
    hard: f64,
    soft: f64,
    total: f64,
    rows: usize,
    hard_triplets: usize,
    soft_triplets: usize,
}

/// xorshift64*: deterministic text without a rand dependency in the example's hot loop.
struct Words(u64);

const VOCABULARY: [&str; 48] = [
    "the",
    "a",
    "man",
    "woman",
    "child",
    "dog",
    "is",
    "was",
    "walking",
    "running",
    "near",
    "river",
    "city",
    "market",
    "with",
    "his",
    "her",
    "old",
    "friend",
    "during",
    "morning",
    "evening",
    "government",
    "report",
    "said",
    "that",
    "there",
    "were",
    "several",
    "people",
    "waiting",
    "outside",
    "building",
    "because",
    "rain",
    "started",
    "suddenly",
    "and",
    "they",
    "decided",
    "to",
    "leave",
    "early",
    "not",
    "every",
    "student",
    "passed",
    "exam",
];

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A sentence of about `chars` characters (± a quarter), unique per `id`.
    fn sentence(&mut self, chars: usize, id: usize) -> String {
        let target = chars * 3 / 4 + (self.next() % (chars as u64 / 2 + 1)) as usize;
        let mut text = format!("{id}");
        while text.len() < target {
            text.push(' ');
            text.push_str(VOCABULARY[(self.next() % VOCABULARY.len() as u64) as usize]);
        }
        text.push('.');
        text
    }
}

fn write_synthetic_mnli(path: &Path, rows: usize) -> BoxResult<()> {
    let mut words = Words(0x9e37_79b9_7f4a_7c15);
    let premises: Vec<String> = (0..rows.div_ceil(3))
        .map(|i| words.sentence(100, i))
        .collect();
    // Row r holds hypothesis (r % 3) of premise r / 3; a Fisher-Yates shuffle then scatters a
    // premise's rows over the file, as in MNLI.
    let mut order: Vec<usize> = (0..rows).collect();
    for i in (1..rows).rev() {
        let j = (words.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("premise", DataType::Utf8, true),
        Field::new("hypothesis", DataType::Utf8, true),
        Field::new("label", DataType::Int64, true),
        Field::new("idx", DataType::Int32, true),
    ]));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let partial = path.with_extension("parquet.partial");
    let mut writer = ArrowWriter::try_new(File::create(&partial)?, schema.clone(), Some(props))?;
    for (chunk_index, chunk) in order.chunks(8192).enumerate() {
        let premise: Vec<&str> = chunk.iter().map(|&r| premises[r / 3].as_str()).collect();
        let hypothesis: Vec<String> = chunk.iter().map(|&r| words.sentence(50, r)).collect();
        let label: Vec<i64> = chunk.iter().map(|&r| (r % 3) as i64).collect();
        let first = (chunk_index * 8192) as i32;
        let idx = Int32Array::from_iter_values(first..first + chunk.len() as i32);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(premise)),
            Arc::new(StringArray::from(hypothesis)),
            Arc::new(Int64Array::from(label)),
            Arc::new(idx),
        ];
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
    }
    writer.close()?;
    std::fs::rename(&partial, path)?;
    Ok(())
}
