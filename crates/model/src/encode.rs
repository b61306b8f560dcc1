//! Inference: texts to embeddings, batched by length with dynamic padding.

use indicatif::{ProgressBar, ProgressStyle};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::normalize::l2_normalize;
use crate::prompts::PromptChoice;
use crate::sentence_transformer::SentenceTransformer;

#[derive(Debug, Clone)]
pub struct EncodeOptions {
    pub batch_size: usize,
    /// L2-normalise the output even if the model has no Normalize module.
    pub normalize: bool,
    pub show_progress: bool,
    /// The prompt prepended to every text: by default the model's `default_prompt_name`'s.
    pub prompt: PromptChoice,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            batch_size: 32,
            normalize: false,
            show_progress: false,
            prompt: PromptChoice::Default,
        }
    }
}

/// `(batch index, the batch's embeddings flattened row-major)` for each batch a worker ran.
type BatchRows = Vec<(usize, Vec<f32>)>;

/// Row-major `[rows, dim]` float32 embeddings, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingMatrix {
    pub data: Vec<f32>,
    pub rows: usize,
    pub dim: usize,
}

impl EmbeddingMatrix {
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        self.data.get(i * self.dim..(i + 1) * self.dim)
    }
}

impl SentenceTransformer {
    /// Embeds `texts`, each with the prompt of `options.prompt` prepended (as
    /// sentence-transformers' `encode(prompt=…, prompt_name=…)`). Texts are tokenised once,
    /// sorted by token count so that each batch pads to nearly its own length, and the results
    /// are put back in input order.
    pub fn encode<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        options: &EncodeOptions,
    ) -> Result<EmbeddingMatrix> {
        if options.batch_size == 0 {
            return Err(Error::InvalidInput("batch size must be at least 1".into()));
        }
        let dim = self.embedding_dimension() as usize;
        let mut data = vec![0f32; texts.len() * dim];
        if texts.is_empty() {
            return Ok(EmbeddingMatrix { data, rows: 0, dim });
        }
        let prompt = self.prompts().resolve(&options.prompt)?;
        let (tokenized, prompt_length) = match prompt {
            Some(prompt) => {
                let prompted: Vec<String> = texts
                    .iter()
                    .map(|t| format!("{prompt}{}", t.as_ref()))
                    .collect();
                let length = self.tokenizer().prompt_length(prompt)?;
                (self.tokenizer().tokenize(&prompted)?, Some(length))
            }
            None => (self.tokenizer().tokenize(texts)?, None),
        };
        let mut order: Vec<usize> = (0..texts.len()).collect();
        // Longest first: a too-large batch fails at once, not after minutes of work.
        order.sort_by_key(|&i| std::cmp::Reverse(tokenized[i].ids.len()));

        let progress = if options.show_progress {
            let bar = ProgressBar::new(texts.len() as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} encoding [{elapsed_precise}] {bar:30} {pos}/{len} sentences ({per_sec}, eta {eta})",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        let batches: Vec<&[usize]> = order.chunks(options.batch_size).collect();
        let workers = cpu_workers(self, batches.len());
        let encoded: Vec<Result<BatchRows>> = if workers > 1 {
            // Data-parallel on the CPU: one batch stream per core, each running libtorch
            // single-threaded. Small-batch GEMMs scale poorly across threads, independent
            // batches scale almost linearly (measured: 1.24x on 2 cores for all-MiniLM-L6-v2).
            let saved_threads = tch::get_num_threads();
            let shared = SharedModel(self);
            let results = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|worker| {
                        let shared = &shared;
                        let (batches, tokenized, progress) = (&batches, &tokenized, &progress);
                        scope.spawn(move || {
                            // libtorch's thread count is per OS thread (OpenMP); set it here.
                            tch::set_num_threads(1);
                            let mine = batches.iter().enumerate().skip(worker).step_by(workers);
                            shared.0.encode_batches(
                                mine,
                                tokenized,
                                prompt_length,
                                options,
                                progress,
                            )
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(Error::InvalidInput("an encoding worker panicked".into()))
                        })
                    })
                    .collect()
            });
            tch::set_num_threads(saved_threads);
            results
        } else {
            vec![self.encode_batches(
                batches.iter().enumerate(),
                &tokenized,
                prompt_length,
                options,
                &progress,
            )]
        };
        for part in encoded {
            for (batch_index, flat) in part? {
                for (row, &index) in flat.chunks_exact(dim).zip(batches[batch_index]) {
                    data[index * dim..(index + 1) * dim].copy_from_slice(row);
                }
            }
        }
        progress.finish_and_clear();
        Ok(EmbeddingMatrix {
            data,
            rows: texts.len(),
            dim,
        })
    }

    /// Runs the given `(index, members)` batches; returns each batch's rows, flattened.
    fn encode_batches<'b>(
        &self,
        batches: impl Iterator<Item = (usize, &'b &'b [usize])>,
        tokenized: &[crate::tokenizer::TokenizedText],
        prompt_length: Option<usize>,
        options: &EncodeOptions,
        progress: &ProgressBar,
    ) -> Result<BatchRows> {
        tch::no_grad(|| {
            let mut out = Vec::new();
            for (batch_index, members) in batches {
                let texts: Vec<_> = members.iter().map(|&i| &tokenized[i]).collect();
                let batch = self.to_tensors(&self.tokenizer().collate(&texts));
                let mut embeddings = self.forward_with_prompt_t(&batch, prompt_length, false)?;
                if options.normalize {
                    embeddings = l2_normalize(&embeddings);
                }
                let rows = embeddings
                    .to_kind(Kind::Float)
                    .to_device(tch::Device::Cpu)
                    .contiguous();
                out.push((batch_index, Vec::<f32>::try_from(rows.view(-1))?));
                progress.inc(members.len() as u64);
            }
            Ok(out)
        })
    }

    /// [`encode`](Self::encode) returning a `[rows, dim]` CPU tensor.
    pub fn encode_tensor<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        options: &EncodeOptions,
    ) -> Result<Tensor> {
        let m = self.encode(texts, options)?;
        Ok(Tensor::from_slice(&m.data).view([m.rows as i64, m.dim as i64]))
    }
}

/// How many parallel batch streams to run: one per libtorch CPU thread, when there are enough
/// batches to keep them all busy.
fn cpu_workers(model: &SentenceTransformer, batches: usize) -> usize {
    if model.device() != tch::Device::Cpu {
        return 1;
    }
    let threads = tch::get_num_threads().max(1) as usize;
    if batches >= 2 * threads {
        threads
    } else {
        1
    }
}

/// Lends the model to encoding workers.
struct SharedModel<'a>(&'a SentenceTransformer);

// SAFETY: workers only run `forward_t` under `no_grad` (grad mode is thread-local in
// libtorch), which reads the weight tensors and never mutates them or the VarStore; ATen
// operators are safe to call concurrently on shared read-only tensors. `Tensor` is not `Sync`
// in tch only because mutation through `&Tensor` is possible, which this path never does.
unsafe impl Sync for SharedModel<'_> {}
