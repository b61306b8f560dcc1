//! Times `SentenceTransformer::encode` on the lines of a text file; `cargo xtask bench encode`
//! runs it beside Python sentence-transformers. Prints one JSON line.
//!
//! Usage: encode_bench MODEL_DIR TEXT_FILE BATCH_SIZE THREADS REPEATS [fp32|bf16]

use std::time::Instant;

use model::{EncodeOptions, SentenceTransformer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model_dir, text_file, batch_size, threads, repeats, rest @ ..] = &args[..] else {
        return Err(
            "usage: encode_bench MODEL_DIR TEXT_FILE BATCH_SIZE THREADS REPEATS [fp32|bf16]".into(),
        );
    };
    let threads: i32 = threads.parse()?;
    tch::set_num_threads(threads);
    let device = if rest.iter().any(|a| a == "cuda") {
        tch::Device::Cuda(0)
    } else {
        tch::Device::Cpu
    };
    let mut model = SentenceTransformer::load(model_dir.as_ref(), device)?;
    if rest.iter().any(|a| a == "bf16") {
        model.set_dtype(model::ComputeDtype::Bf16)?;
    }
    let texts: Vec<String> = std::fs::read_to_string(text_file)?
        .lines()
        .map(str::to_string)
        .collect();
    let options = EncodeOptions {
        batch_size: batch_size.parse()?,
        ..Default::default()
    };
    model.encode(&texts[..64.min(texts.len())], &options)?;
    let mut seconds = Vec::new();
    for _ in 0..repeats.parse::<usize>()? {
        let start = Instant::now();
        let out = model.encode(&texts, &options)?;
        seconds.push(start.elapsed().as_secs_f64());
        assert_eq!(out.rows, texts.len());
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    println!(
        "{{\"side\": \"rust\", \"texts\": {}, \"median_seconds\": {median}, \"rate\": {}, \"threads\": {threads}, \"runs\": {:?}}}",
        texts.len(),
        texts.len() as f64 / median,
        seconds
    );
    Ok(())
}
