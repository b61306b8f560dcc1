//! Inference: texts to embeddings, batched by length with dynamic padding.

use indicatif::{ProgressBar, ProgressStyle};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::normalize::l2_normalize;
use crate::sentence_transformer::SentenceTransformer;

#[derive(Debug, Clone)]
pub struct EncodeOptions {
    pub batch_size: usize,
    /// L2-normalise the output even if the model has no Normalize module.
    pub normalize: bool,
    pub show_progress: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions { batch_size: 32, normalize: false, show_progress: false }
    }
}

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
    /// Embeds `texts`. Texts are tokenised once, sorted by token count so that each batch pads
    /// to nearly its own length, and the results are put back in input order.
    pub fn encode<S: AsRef<str> + Sync>(&self, texts: &[S], options: &EncodeOptions) -> Result<EmbeddingMatrix> {
        if options.batch_size == 0 {
            return Err(Error::InvalidInput("batch size must be at least 1".into()));
        }
        let dim = self.embedding_dimension() as usize;
        let mut data = vec![0f32; texts.len() * dim];
        if texts.is_empty() {
            return Ok(EmbeddingMatrix { data, rows: 0, dim });
        }
        let tokenized = self.tokenizer().tokenize(texts)?;
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
        tch::no_grad(|| -> Result<()> {
            for chunk in order.chunks(options.batch_size) {
                let members: Vec<_> = chunk.iter().map(|&i| &tokenized[i]).collect();
                let batch = self.to_tensors(&self.tokenizer().collate(&members));
                let mut embeddings = self.forward_t(&batch, false)?;
                if options.normalize {
                    embeddings = l2_normalize(&embeddings);
                }
                let rows = embeddings.to_kind(Kind::Float).to_device(tch::Device::Cpu).contiguous();
                let flat = Vec::<f32>::try_from(rows.view(-1))?;
                for (row, &index) in flat.chunks_exact(dim).zip(chunk) {
                    data[index * dim..(index + 1) * dim].copy_from_slice(row);
                }
                progress.inc(chunk.len() as u64);
            }
            Ok(())
        })?;
        progress.finish_and_clear();
        Ok(EmbeddingMatrix { data, rows: texts.len(), dim })
    }

    /// [`encode`](Self::encode) returning a `[rows, dim]` CPU tensor.
    pub fn encode_tensor<S: AsRef<str> + Sync>(&self, texts: &[S], options: &EncodeOptions) -> Result<Tensor> {
        let m = self.encode(texts, options)?;
        Ok(Tensor::from_slice(&m.data).view([m.rows as i64, m.dim as i64]))
    }
}
