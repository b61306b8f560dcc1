//! Inference over length-sorted batches, data-parallel on the CPU: one batch stream per
//! libtorch thread, each stream single-threaded. Small-batch GEMMs scale poorly across
//! threads, independent batches almost linearly (measured: 1.24x on 2 cores for
//! all-MiniLM-L6-v2). Encoding (bi-encoders) and prediction (cross-encoders) both run here.

use indicatif::{ProgressBar, ProgressStyle};
use tch::Device;

use crate::error::{Error, Result};

/// `(batch index, the batch's outputs flattened row-major)` for each batch a worker ran.
pub(crate) type BatchRows = Vec<(usize, Vec<f32>)>;

/// Runs `run(model, members)` on every batch under `no_grad`, on several threads when the
/// model is on the CPU and there are at least two batches per thread, and returns each
/// batch's output rows with its index.
///
/// `run` must only read `model` (forward passes); it may not change a tensor of it in place.
pub(crate) fn run_batches<M, F>(
    model: &M,
    device: Device,
    batches: &[&[usize]],
    progress: &ProgressBar,
    run: F,
) -> Result<BatchRows>
where
    F: Fn(&M, &[usize]) -> Result<Vec<f32>> + Sync,
{
    let stream = |model: &M, worker: usize, workers: usize| -> Result<BatchRows> {
        tch::no_grad(|| {
            let mut out = Vec::new();
            for (index, members) in batches.iter().enumerate().skip(worker).step_by(workers) {
                out.push((index, run(model, members)?));
                progress.inc(members.len() as u64);
            }
            Ok(out)
        })
    };
    let workers = cpu_workers(device, batches.len());
    if workers <= 1 {
        return stream(model, 0, 1);
    }
    let saved_threads = tch::get_num_threads();
    let shared = ReadOnly(model);
    let results: Vec<Result<BatchRows>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (shared, stream) = (&shared, &stream);
                scope.spawn(move || {
                    // libtorch's thread count is per OS thread (OpenMP); set it here.
                    tch::set_num_threads(1);
                    stream(shared.0, worker, workers)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::InvalidInput("an inference worker panicked".into()))
                })
            })
            .collect()
    });
    tch::set_num_threads(saved_threads);
    let mut rows = Vec::new();
    for part in results {
        rows.extend(part?);
    }
    Ok(rows)
}

/// A progress bar over `total` inputs (`unit`: "sentences", "pairs"), hidden unless `show`.
pub(crate) fn progress_bar(show: bool, total: usize, what: &str, unit: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} {what} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
    )) {
        bar.set_style(style);
    }
    bar
}

/// How many parallel batch streams to run: one per libtorch CPU thread, when there are enough
/// batches to keep them all busy.
fn cpu_workers(device: Device, batches: usize) -> usize {
    if device != Device::Cpu {
        return 1;
    }
    let threads = tch::get_num_threads().max(1) as usize;
    if batches >= 2 * threads {
        threads
    } else {
        1
    }
}

/// Lends a model to inference workers.
struct ReadOnly<'a, M>(&'a M);

// SAFETY: `run_batches` hands the model only to its `run`, under `no_grad` (grad mode is
// thread-local in libtorch), and its contract is that `run` reads the weight tensors and never
// mutates them or the VarStore; ATen operators are safe to call concurrently on shared
// read-only tensors. `Tensor` is not `Sync` in tch only because mutation through `&Tensor` is
// possible, which this path never does.
unsafe impl<M> Sync for ReadOnly<'_, M> {}
