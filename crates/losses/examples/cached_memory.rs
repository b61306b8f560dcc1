//! Peak memory of one training step, MNRL vs CachedMNRL, at a large batch on a small random
//! BERT. Each configuration runs in its own process, since VmHWM (the peak resident set in
//! `/proc/self/status`) only ever grows.
//!
//! ```text
//! cargo run -p losses --example cached_memory             # the comparison table
//! cargo run -p losses --example cached_memory -- run cached 1024 32
//! ```

use std::error::Error;
use std::process::Command;
use std::time::Instant;

use losses::{BuildLoss, LossConfig, Targets};
use model::{BertConfig, PoolingMode, SentenceTokenizer, SentenceTransformer};
use tch::{nn, Device};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const WORDS: [&str; 16] = [
    "the", "a", "cat", "dog", "sits", "runs", "on", "mat", "big", "small", "red", "house", "tree",
    "and", "is", ".",
];
/// Words per text: 16–31, about 20–35 tokens with [CLS] and [SEP].
const MIN_WORDS: usize = 16;

fn vm_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    let kib = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| format!("malformed line {line:?}"))?;
    Ok(kib.parse()?)
}

fn run(mode: &str, batch: usize, mini_batch_size: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(WORDS);
    let path = dir.path().join("vocab.txt");
    std::fs::write(&path, vocab.join("\n"))?;
    let tokenizer = SentenceTokenizer::from_vocab(&path, true, 64)?;
    tch::manual_seed(0);
    let config = BertConfig {
        hidden_size: 128,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 512,
        ..BertConfig::tiny(vocab.len() as i64)
    };
    let model = SentenceTransformer::from_config(
        &config,
        tokenizer,
        vec![PoolingMode::Mean],
        false,
        Device::Cpu,
    )?;
    let columns = (0..2)
        .map(|c| {
            let texts: Vec<String> = (0..batch)
                .map(|i| {
                    let len = MIN_WORDS + (i * 7 + c) % 16;
                    (0..len)
                        .map(|j| WORDS[(i * 5 + j * 3 + c * 11) % WORDS.len()])
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            let tokenized = model.tokenizer().tokenize(&texts)?;
            let refs: Vec<_> = tokenized.iter().collect();
            Ok(model.to_tensors(&model.tokenizer().collate(&refs)))
        })
        .collect::<Result<Vec<_>>>()?;
    let seq = columns[0].input_ids.size()[1];
    let loss_config = match mode {
        "mnrl" => LossConfig::default(),
        "cached" => LossConfig::CachedMultipleNegativesRanking {
            scale: 20.0,
            mini_batch_size,
            hardness_mode: None,
            hardness_strength: 0.0,
            gather_across_devices: false,
        },
        other => return Err(format!("unknown mode {other:?}: use mnrl or cached").into()),
    };
    let vs = nn::VarStore::new(Device::Cpu);
    let loss = loss_config.build(&vs.root(), model.embedding_dimension())?;
    let before = vm_kib("VmHWM:")?;
    let start = Instant::now();
    let value = loss.forward_backward(&model, &columns, Targets::None, 1.0)?;
    let seconds = start.elapsed().as_secs_f64();
    let peak = vm_kib("VmHWM:")?;
    println!(
        "mode={mode} batch={batch} mini_batch={mini_batch_size} seq={seq} loss={value:.4} \
         seconds={seconds:.2} before_kib={before} peak_kib={peak}"
    );
    Ok(())
}

fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_default()
}

fn compare() -> Result<()> {
    let exe = std::env::current_exe()?;
    println!("one training step, 2 columns, BERT hidden 128 × 2 layers, CPU, dropout 0.1");
    println!(
        "| loss | batch | mini-batch | seq | loss value | step s | RSS before MiB | peak RSS MiB | step Δ MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (mode, batch, mini) in [
        ("mnrl", 256, 0),
        ("mnrl", 1024, 0),
        ("cached", 256, 32),
        ("cached", 1024, 32),
        ("cached", 1024, 8),
    ] {
        let out = Command::new(&exe)
            .args(["run", mode, &batch.to_string(), &mini.max(1).to_string()])
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "{mode} at batch {batch} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let line = String::from_utf8_lossy(&out.stdout).to_string();
        let mib = |key: &str| field(&line, key).parse::<f64>().unwrap_or(f64::NAN) / 1024.0;
        let (before, peak) = (mib("before_kib"), mib("peak_kib"));
        let name = if mode == "mnrl" { "MNRL" } else { "CachedMNRL" };
        let mini = if mini == 0 {
            "-".to_string()
        } else {
            mini.to_string()
        };
        println!(
            "| {name} | {batch} | {mini} | {} | {} | {} | {before:.0} | {peak:.0} | {:.0} |",
            field(&line, "seq"),
            field(&line, "loss"),
            field(&line, "seconds"),
            peak - before
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("compare") => compare(),
        Some("run") if args.len() == 4 => run(&args[1], args[2].parse()?, args[3].parse()?),
        _ => Err("usage: cached_memory [compare | run <mnrl|cached> <batch> <mini_batch>]".into()),
    }
}
