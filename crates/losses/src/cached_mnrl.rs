//! CachedMultipleNegativesRankingLoss: MNRL with GradCache (Gao et al., 2021), so the batch of
//! in-batch negatives can be far larger than what fits through the model at once.
//!
//! One step runs in three stages:
//! 1. embed every column in mini-batches without a graph;
//! 2. compute the MNRL loss on detached copies of those embeddings, in chunks of anchors, and
//!    back-propagate it only as far as the embeddings, whose gradients are cached;
//! 3. re-embed each mini-batch with a graph and back-propagate the cached gradient slice into
//!    the model.
//!
//! Peak memory is then one mini-batch's activations plus the batch's embeddings and one chunk's
//! `[mini_batch, batch × (columns − 1)]` similarity matrix, instead of the whole batch's
//! activations.
//!
//! Dropout: stage 3 must see the masks of stage 1, or the cached gradients belong to other
//! embeddings. sentence-transformers snapshots and restores the RNG state (`RandContext`); tch
//! exposes no RNG state, so each mini-batch instead gets a seed drawn from the torch RNG and both
//! of its forward passes run right after `tch::manual_seed(seed)` (which seeds the CPU and every
//! CUDA generator). A last drawn seed re-seeds the RNG afterwards, so later random ops neither
//! replay these masks nor lose determinism under a fixed initial seed.

use model::{SentenceTransformer, TokenBatch};
use tch::{Device, Kind, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::gather::RowGather;
use crate::loss::{Loss, TargetKind, Targets};
use crate::mnrl::{Candidates, Hardness, MultipleNegativesRankingLoss};

const NAME: &str = "CachedMultipleNegativesRankingLoss";

#[derive(Debug, Clone)]
pub struct CachedMultipleNegativesRankingLoss {
    /// The loss of each chunk of anchors (never symmetric).
    mnrl: MultipleNegativesRankingLoss,
    mini_batch_size: i64,
}

impl CachedMultipleNegativesRankingLoss {
    pub fn new(scale: f64, mini_batch_size: usize) -> Result<Self> {
        if mini_batch_size == 0 {
            return Err(Error::Config(
                "cached_multiple_negatives_ranking: mini_batch_size must be at least 1".into(),
            ));
        }
        Ok(CachedMultipleNegativesRankingLoss {
            mnrl: MultipleNegativesRankingLoss::new(scale, false),
            mini_batch_size: mini_batch_size as i64,
        })
    }

    /// MNRL's hardness weighting ([`MultipleNegativesRankingLoss::with_hardness`]).
    pub fn with_hardness(self, hardness: Option<Hardness>) -> Self {
        CachedMultipleNegativesRankingLoss {
            mnrl: self.mnrl.with_hardness(hardness),
            ..self
        }
    }

    /// MNRL's `gather_across_devices`
    /// ([`MultipleNegativesRankingLoss::gathering_across_devices`]).
    pub fn gathering_across_devices(self, on: bool) -> Self {
        CachedMultipleNegativesRankingLoss {
            mnrl: self.mnrl.gathering_across_devices(on),
            ..self
        }
    }

    pub fn mini_batch_size(&self) -> usize {
        self.mini_batch_size as usize
    }

    /// `(begin, len)` of each mini-batch of a batch.
    fn ranges(&self, batch: i64) -> Vec<(i64, i64)> {
        (0..batch)
            .step_by(self.mini_batch_size as usize)
            .map(|begin| (begin, self.mini_batch_size.min(batch - begin)))
            .collect()
    }

    /// Stage 2: the loss and `grad_scale` · d loss / d embeddings, one chunk of anchors at a
    /// time so that only one chunk's similarity matrix is alive.
    fn loss_and_embedding_grads(
        &self,
        leaves: &[Tensor],
        grad_scale: f64,
    ) -> Result<(f64, Vec<Tensor>), TchError> {
        if let Some(gather) = self.mnrl.gather() {
            return self.gathered_loss_and_embedding_grads(leaves, gather, grad_scale);
        }
        let candidates = Candidates::new(leaves, None, false)?;
        let mut value = 0.0;
        let mut grads: Vec<Option<Tensor>> = leaves.iter().map(|_| None).collect();
        let ranges = self.ranges(candidates.batch);
        for (i, &(begin, len)) in ranges.iter().enumerate() {
            let chunk = candidates.chunk_loss(begin, len, &self.mnrl)?;
            value += chunk.f_double_value(&[])?;
            // The normalised embeddings are shared by every chunk: keep their graph until the last.
            let keep_graph = i + 1 < ranges.len();
            let chunk_grads = Tensor::f_run_backward(&[&chunk], leaves, keep_graph, false)?;
            for (sum, g) in grads.iter_mut().zip(chunk_grads) {
                *sum = Some(match sum.take() {
                    Some(sum) => sum.f_add(&g)?,
                    None => g,
                });
            }
        }
        let grads = grads
            .into_iter()
            .zip(leaves)
            .map(|(g, leaf)| g.map_or_else(|| leaf.f_zeros_like(), |g| g.f_mul_scalar(grad_scale)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((value, grads))
    }
}

impl CachedMultipleNegativesRankingLoss {
    /// Stage 2 of a gathering data-parallel run: the candidates of every process are gathered
    /// once into one detached leaf, the chunks back-propagate into it locally, and one
    /// reduce-scatter per candidate column then hands each process the summed gradient of its
    /// own rows. (Back-propagating every chunk through a differentiable all-gather would issue
    /// one collective per chunk, and processes with different chunk counts would wait for
    /// each other forever.) Every process scales its gradients by its own `grad_scale` before
    /// they are summed: processes with different shares of the batch weigh differently.
    fn gathered_loss_and_embedding_grads(
        &self,
        leaves: &[Tensor],
        gather: &RowGather,
        grad_scale: f64,
    ) -> Result<(f64, Vec<Tensor>), TchError> {
        let layout = gather.layout(leaves[0].size()[0], leaves[0].device())?;
        let columns = tch::no_grad(|| {
            leaves[1..]
                .iter()
                .map(|leaf| gather.gather(&leaf.f_detach()?))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let gathered = Tensor::f_cat(&columns, 0)?
            .f_detach()?
            .f_set_requires_grad(true)?;
        let candidates = Candidates::gathered(&leaves[0], &gathered, &layout)?;
        let inputs = [&leaves[0], &gathered];
        let mut value = 0.0;
        let mut sums: [Option<Tensor>; 2] = [None, None];
        let ranges = self.ranges(candidates.batch);
        for (i, &(begin, len)) in ranges.iter().enumerate() {
            let chunk = candidates.chunk_loss(begin, len, &self.mnrl)?;
            value += chunk.f_double_value(&[])?;
            let keep_graph = i + 1 < ranges.len();
            let chunk_grads = Tensor::f_run_backward(&[&chunk], &inputs, keep_graph, false)?;
            for (sum, g) in sums.iter_mut().zip(chunk_grads) {
                *sum = Some(match sum.take() {
                    Some(sum) => sum.f_add(&g)?,
                    None => g,
                });
            }
        }
        let [anchor_grad, gathered_grad] = sums;
        let scaled = |g: Option<Tensor>, like: &Tensor| {
            g.map_or_else(|| like.f_zeros_like(), |g| g.f_mul_scalar(grad_scale))
        };
        let mut grads = vec![scaled(anchor_grad, &leaves[0])?];
        let gathered_grad = scaled(gathered_grad, &gathered)?;
        for c in 0..leaves.len() - 1 {
            let column = gathered_grad.f_narrow(0, c as i64 * layout.total, layout.total)?;
            grads.push(gather.reduce_scatter_rows(&column, &layout)?);
        }
        Ok((value, grads))
    }
}

/// Rows `begin..begin + len` of a batch, without the trailing columns that are padding in every
/// one of those rows (as sentence-transformers trims them): the embeddings are unchanged and a
/// mini-batch of short texts costs less.
fn mini_batch(batch: &TokenBatch, begin: i64, len: i64) -> Result<TokenBatch, TchError> {
    let rows = |t: &Tensor| t.f_narrow(0, begin, len);
    let mask = rows(&batch.attention_mask)?;
    let seq = mask.size()[1];
    let positions = Tensor::f_arange_start(1, seq + 1, (Kind::Int64, mask.device()))?;
    let width = mask
        .f_ne(0)?
        .f_to_kind(Kind::Int64)?
        .f_mul(&positions)?
        .f_max()?
        .f_int64_value(&[])?;
    let width = if width == 0 { seq } else { width };
    let cols = |t: Tensor| t.f_narrow(1, 0, width);
    Ok(TokenBatch {
        input_ids: cols(rows(&batch.input_ids)?)?,
        attention_mask: cols(mask)?,
        token_type_ids: cols(rows(&batch.token_type_ids)?)?,
        prompt_lengths: batch.prompt_lengths.as_ref().map(rows).transpose()?,
    })
}

fn draw_seeds(n: usize) -> Result<Vec<i64>, TchError> {
    let seeds = Tensor::f_randint(1 << 62, [n as i64], (Kind::Int64, Device::Cpu))?;
    Vec::<i64>::try_from(&seeds)
}

impl Loss for CachedMultipleNegativesRankingLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::None
    }

    fn columns(&self) -> (usize, Option<usize>) {
        (2, None)
    }

    fn distribute(&mut self, gather: &RowGather) {
        self.mnrl.set_gather(gather);
    }

    /// Without a model to re-run, this is plain MNRL on the given embeddings (the same value
    /// and gradients, with the whole batch's graph).
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        self.mnrl.compute(embeddings, targets).map_err(|e| match e {
            Error::Torch { source, .. } => Error::Torch { loss: NAME, source },
            other => other,
        })
    }

    fn forward_backward(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
        _targets: Targets<'_>,
        grad_scale: f64,
    ) -> Result<f64> {
        check::column_count(NAME, columns.len(), self.columns())?;
        let first = columns[0].input_ids.size();
        for (i, column) in columns.iter().enumerate() {
            let size = column.input_ids.size();
            if size.len() != 2 || size[0] != first[0] || column.attention_mask.size() != size {
                return Err(Error::Shape {
                    loss: NAME,
                    context: format!("column 0 input_ids vs column {i} input_ids"),
                    left: first,
                    right: size,
                });
            }
        }
        let batch = first[0];
        if batch == 0 {
            return Err(Error::Shape {
                loss: NAME,
                context: "an empty batch vs at least one anchor".into(),
                left: first,
                right: vec![1, -1],
            });
        }
        let torch = Error::torch(NAME);
        let ranges = self.ranges(batch);
        let seeds = draw_seeds(columns.len() * ranges.len() + 1).map_err(&torch)?;
        let seed_of = |column: usize, range: usize| seeds[column * ranges.len() + range];

        // Stage 1: embeddings without a graph, as leaves of the loss stage.
        let mut leaves = Vec::with_capacity(columns.len());
        for (c, column) in columns.iter().enumerate() {
            let parts = tch::no_grad(|| -> Result<Vec<Tensor>> {
                let mut parts = Vec::with_capacity(ranges.len());
                for (r, &(begin, len)) in ranges.iter().enumerate() {
                    let mb = mini_batch(column, begin, len).map_err(&torch)?;
                    tch::manual_seed(seed_of(c, r));
                    parts.push(model.forward_t(&mb, true)?);
                }
                Ok(parts)
            })?;
            let leaf = Tensor::f_cat(&parts, 0)
                .and_then(|t| t.f_detach())
                .and_then(|t| t.f_set_requires_grad(true))
                .map_err(&torch)?;
            leaves.push(leaf);
        }
        check::embeddings(NAME, &leaves, self.columns())?;

        // Stage 2: the loss and its gradient with respect to every embedding.
        let (value, grads) = self
            .loss_and_embedding_grads(&leaves, grad_scale)
            .map_err(&torch)?;
        drop(leaves);

        // Stage 3: replay each mini-batch with a graph and push its cached gradient through.
        for (c, (column, grad)) in columns.iter().zip(&grads).enumerate() {
            for (r, &(begin, len)) in ranges.iter().enumerate() {
                let mb = mini_batch(column, begin, len).map_err(&torch)?;
                tch::manual_seed(seed_of(c, r));
                let embeddings = model.forward_t(&mb, true)?;
                grad.f_narrow(0, begin, len)
                    .and_then(|g| g.f_to_kind(embeddings.kind()))
                    .and_then(|g| embeddings.f_mul(&g))
                    .and_then(|surrogate| surrogate.f_sum(None::<Kind>))
                    .and_then(|surrogate| surrogate.f_backward())
                    .map_err(&torch)?;
            }
        }
        tch::manual_seed(seeds[seeds.len() - 1]);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_batch_once() {
        let loss = CachedMultipleNegativesRankingLoss::new(20.0, 4).unwrap();
        assert_eq!(loss.ranges(10), vec![(0, 4), (4, 4), (8, 2)]);
        assert_eq!(loss.ranges(4), vec![(0, 4)]);
        assert!(CachedMultipleNegativesRankingLoss::new(20.0, 0).is_err());
    }

    #[test]
    fn mini_batch_drops_columns_padded_in_every_row() {
        let ids =
            Tensor::from_slice(&[2i64, 7, 3, 0, 0, 2, 3, 0, 0, 0, 2, 8, 9, 9, 3]).view([3, 5]);
        let mask = ids.ne(0).to_kind(Kind::Int64);
        let batch = TokenBatch {
            input_ids: ids.shallow_clone(),
            attention_mask: mask,
            token_type_ids: ids.zeros_like(),
            prompt_lengths: None,
        };
        let first_two = mini_batch(&batch, 0, 2).unwrap();
        assert_eq!(first_two.input_ids.size(), vec![2, 3]);
        let last = mini_batch(&batch, 2, 1).unwrap();
        assert_eq!(last.input_ids.size(), vec![1, 5]);
    }

    #[test]
    fn reseeding_replays_dropout_masks() {
        let _rng = crate::rng_lock();
        let x = Tensor::ones([64], (Kind::Float, Device::Cpu));
        let seeds = draw_seeds(2).unwrap();
        tch::manual_seed(seeds[0]);
        let a = x.dropout(0.5, true);
        tch::manual_seed(seeds[0]);
        let b = x.dropout(0.5, true);
        assert!(a.equal(&b));
        tch::manual_seed(seeds[1]);
        assert!(!x.dropout(0.5, true).equal(&a));
    }
}
