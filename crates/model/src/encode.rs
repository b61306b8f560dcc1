//! Inference: texts to embeddings, batched by length with dynamic padding.

use tch::{Kind, Tensor};

use crate::batch_workers::{progress_bar, run_batches};
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

        let progress = progress_bar(options.show_progress, texts.len(), "encoding", "sentences");
        let batches: Vec<&[usize]> = order.chunks(options.batch_size).collect();
        let encoded = run_batches(
            self,
            self.device(),
            &batches,
            &progress,
            |model, members| model.encode_members(members, &tokenized, prompt_length, options),
        )?;
        for (batch_index, flat) in encoded {
            for (row, &index) in flat.chunks_exact(dim).zip(batches[batch_index]) {
                data[index * dim..(index + 1) * dim].copy_from_slice(row);
            }
        }
        progress.finish_and_clear();
        Ok(EmbeddingMatrix {
            data,
            rows: texts.len(),
            dim,
        })
    }

    /// The embeddings of the texts `members` (indices into `tokenized`), flattened.
    fn encode_members(
        &self,
        members: &[usize],
        tokenized: &[crate::tokenizer::TokenizedText],
        prompt_length: Option<usize>,
        options: &EncodeOptions,
    ) -> Result<Vec<f32>> {
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
        Ok(Vec::<f32>::try_from(rows.view(-1))?)
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
