//! Scoring pairs: sentence-transformers' `CrossEncoder.predict` and `rank`.

use tch::Kind;

use super::{CrossEncoder, ScoreActivation};
use crate::batch_workers::{progress_bar, run_batches};
use crate::encode::EmbeddingMatrix;
use crate::error::{Error, Result};
use crate::prompts::PromptChoice;
use crate::tokenizer::TokenizedText;

/// How `predict` scores pairs.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    pub batch_size: usize,
    /// The activation applied to the logits; `None`: the model's
    /// ([`CrossEncoder::activation`]). `Some(Identity)` gives the raw logits.
    pub activation: Option<ScoreActivation>,
    /// A softmax over each pair's labels after the activation (models with several labels;
    /// sentence-transformers' `apply_softmax`).
    pub apply_softmax: bool,
    /// The prompt prepended to the first text of every pair: by default the model's
    /// `default_prompt_name`'s.
    pub prompt: PromptChoice,
    pub show_progress: bool,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            batch_size: 32,
            activation: None,
            apply_softmax: false,
            prompt: PromptChoice::Default,
            show_progress: false,
        }
    }
}

/// One document of a ranking: its position in the input and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankedDocument {
    pub corpus_id: usize,
    pub score: f32,
}

impl CrossEncoder {
    /// The scores of `pairs`: `[pairs, num_labels]` row-major (one column for a one-label
    /// model), as sentence-transformers' `predict(pairs, batch_size, activation_fn,
    /// apply_softmax)`. Pairs are tokenised once, sorted by token count so that each batch
    /// pads to nearly its own length, and the scores are put back in input order.
    pub fn predict<A: AsRef<str> + Sync, B: AsRef<str> + Sync>(
        &self,
        pairs: &[(A, B)],
        options: &PredictOptions,
    ) -> Result<EmbeddingMatrix> {
        if options.batch_size == 0 {
            return Err(Error::InvalidInput("batch size must be at least 1".into()));
        }
        let labels = self.num_labels() as usize;
        let mut data = vec![0f32; pairs.len() * labels];
        if pairs.is_empty() {
            return Ok(EmbeddingMatrix {
                data,
                rows: 0,
                dim: labels,
            });
        }
        let tokenized = match self.prompts().resolve(&options.prompt)? {
            Some(prompt) => {
                let prompted: Vec<(String, &B)> = pairs
                    .iter()
                    .map(|(a, b)| (format!("{prompt}{}", a.as_ref()), b))
                    .collect();
                self.tokenizer().tokenize_pairs(&prompted)?
            }
            None => self.tokenizer().tokenize_pairs(pairs)?,
        };
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        // Longest first: a too-large batch fails at once, not after minutes of work.
        order.sort_by_key(|&i| std::cmp::Reverse(tokenized[i].ids.len()));
        let progress = progress_bar(options.show_progress, pairs.len(), "scoring", "pairs");
        let activation = options.activation.unwrap_or(self.activation());
        let batches: Vec<&[usize]> = order.chunks(options.batch_size).collect();
        let scored = run_batches(
            self,
            self.device(),
            &batches,
            &progress,
            |model, members| {
                model.score_members(members, &tokenized, activation, options.apply_softmax)
            },
        )?;
        for (batch_index, flat) in scored {
            for (row, &index) in flat.chunks_exact(labels).zip(batches[batch_index]) {
                data[index * labels..(index + 1) * labels].copy_from_slice(row);
            }
        }
        progress.finish_and_clear();
        Ok(EmbeddingMatrix {
            data,
            rows: pairs.len(),
            dim: labels,
        })
    }

    /// The scores of the pairs `members` (indices into `tokenized`), flattened.
    fn score_members(
        &self,
        members: &[usize],
        tokenized: &[TokenizedText],
        activation: ScoreActivation,
        apply_softmax: bool,
    ) -> Result<Vec<f32>> {
        let texts: Vec<_> = members.iter().map(|&i| &tokenized[i]).collect();
        let batch =
            crate::TokenBatch::from_encoded(&self.tokenizer().collate(&texts), self.device());
        let mut scores = activation.forward(&self.forward_t(&batch, false)?)?;
        if apply_softmax && self.num_labels() > 1 {
            scores = scores.f_softmax(1, Kind::Float)?;
        }
        let rows = scores.f_to_device(tch::Device::Cpu)?.f_contiguous()?;
        Ok(Vec::<f32>::try_from(rows.f_view(-1)?)?)
    }

    /// `documents` ranked by their score with `query`, best first (ties keep input order), at
    /// most `top_k` of them: sentence-transformers' `rank`. Only for one-label models.
    pub fn rank<S: AsRef<str> + Sync>(
        &self,
        query: &str,
        documents: &[S],
        top_k: Option<usize>,
        options: &PredictOptions,
    ) -> Result<Vec<RankedDocument>> {
        if self.num_labels() != 1 {
            return Err(Error::InvalidInput(format!(
                "rank needs a cross-encoder with one score per pair; this one has num_labels {} \
                 (use predict)",
                self.num_labels()
            )));
        }
        let pairs: Vec<(&str, &str)> = documents.iter().map(|d| (query, d.as_ref())).collect();
        let scores = self.predict(&pairs, options)?;
        Ok(rank_scores(&scores.data, top_k))
    }
}

/// Indices of `scores` best first; a stable sort, so equal scores keep input order as Python's
/// `sorted(…, reverse=True)` keeps them. NaN sorts last.
pub fn rank_scores(scores: &[f32], top_k: Option<usize>) -> Vec<RankedDocument> {
    let mut ranked: Vec<RankedDocument> = scores
        .iter()
        .enumerate()
        .map(|(corpus_id, &score)| RankedDocument { corpus_id, score })
        .collect();
    ranked.sort_by(|a, b| match (a.score.is_nan(), b.score.is_nan()) {
        (false, false) => b
            .score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal),
        (x, y) => x.cmp(&y),
    });
    ranked.truncate(top_k.unwrap_or(ranked.len()));
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_is_descending_and_stable_on_ties() {
        let ranked = rank_scores(&[0.1, 0.9, 0.5, 0.9, f32::NAN], None);
        let ids: Vec<usize> = ranked.iter().map(|r| r.corpus_id).collect();
        assert_eq!(ids, [1, 3, 2, 0, 4]);
        assert_eq!(rank_scores(&[0.1, 0.9, 0.5], Some(2)).len(), 2);
        assert_eq!(rank_scores(&[0.1], Some(5)).len(), 1);
    }
}
