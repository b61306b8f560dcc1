//! Length packing for training steps: the texts of all columns of a batch are pooled, sorted by
//! token count and cut into chunks that pad to almost nothing.
//!
//! sentence-transformers embeds each column as one batch padded to its longest text; on MNLI
//! triplets at batch 32 (320 rows counted) that is 2.2 padded tokens per real token: one long
//! premise pads 31 others. BERT treats every text independently (padding is masked out of
//! attention and pooling), so re-grouping texts changes which positions are computed, not the
//! embeddings. The same holds for every architecture behind the encoder seam: positions are
//! numbered per row from the attention mask, and MPNet's relative bias depends on distances
//! only, which padding at the far end of a row does not change. ModernBERT numbers positions
//! 0, 1, … and pads on the right, so its real tokens keep their positions, and its window
//! depends on distances only. Qwen3 pads on the left (chunks are cut and padded at that end):
//! its causal mask hides the padding from every real token, and its rotary scores depend only
//! on distances, so the shift of absolute positions that left padding brings changes the
//! result by float rounding only.

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::sentence_transformer::SentenceTransformer;
use crate::token_batch::TokenBatch;
use crate::tokenizer::PaddingSide;

/// The fixed cost of one forward chunk, in padded-token equivalents: kernel launches, the
/// per-layer bookkeeping, small-matrix inefficiency. It keeps the partition from splitting
/// into many tiny chunks for a few tokens of padding saved. Measured with `cargo xtask bench
/// train` (MNLI triplets, batch 32, 2 CPU threads): 0 gave 12 examples/s, 8 gave 20,
/// 16–32 gave 18–23, 96 gave 19, 256 gave 18.
pub(crate) const CHUNK_OVERHEAD_TOKENS: usize = 32;

/// One text of the pooled batch: its column, its row in the column, its token count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Text {
    column: usize,
    row: usize,
    len: usize,
}

/// Splits texts sorted by length into contiguous chunks minimising the padded tokens plus
/// `overhead` per chunk (exact, by dynamic programming over the cut points). Returns the chunk
/// end indices.
pub(crate) fn partition(sorted_lens: &[usize], overhead: usize) -> Vec<usize> {
    let n = sorted_lens.len();
    // cost[i]: the cheapest packing of the first i texts; cut[i]: where its last chunk starts.
    let mut cost = vec![0usize; n + 1];
    let mut cut = vec![0usize; n + 1];
    for end in 1..=n {
        let longest = sorted_lens[end - 1];
        let (best_start, best_cost) = (0..end)
            .map(|start| (start, cost[start] + (end - start) * longest + overhead))
            .min_by_key(|&(_, c)| c)
            .unwrap_or((0, usize::MAX));
        cost[end] = best_cost;
        cut[end] = best_start;
    }
    let mut ends = Vec::new();
    let mut end = n;
    while end > 0 {
        ends.push(end);
        end = cut[end];
    }
    ends.reverse();
    ends
}

impl SentenceTransformer {
    /// Sentence embeddings of several columns of one training batch, as
    /// `columns.iter().map(|c| self.forward_t(c, train))` gives them (equal up to float
    /// rounding), but computed over length-packed chunks.
    ///
    /// Columns must be padded on the tokenizer's side (as [`crate::SentenceTokenizer::collate`]
    /// pads). Dropout draws from libtorch's generator chunk by chunk, in a fixed order, so a
    /// seeded step is reproducible.
    ///
    /// # Shapes
    /// each column `[batch_c, seq_c]` → each result `[batch_c, embedding_dimension]`
    pub fn forward_columns_t(&self, columns: &[TokenBatch], train: bool) -> Result<Vec<Tensor>> {
        if columns.len() < 2 {
            return columns.iter().map(|c| self.forward_t(c, train)).collect();
        }
        let mut texts = Vec::new();
        for (column, batch) in columns.iter().enumerate() {
            batch.check()?;
            let lens = Vec::<i64>::try_from(
                &batch
                    .attention_mask
                    .f_sum_dim_intlist(1, false, Kind::Int64)?
                    .f_to_device(Device::Cpu)?,
            )?;
            for (row, len) in lens.into_iter().enumerate() {
                texts.push(Text {
                    column,
                    row,
                    // An all-padding row still needs one position to flow through the encoder.
                    len: usize::try_from(len).unwrap_or(0).max(1),
                });
            }
        }
        texts.sort_by_key(|t| (t.len, t.column, t.row));
        let lens: Vec<usize> = texts.iter().map(|t| t.len).collect();
        let ends = partition(&lens, CHUNK_OVERHEAD_TOKENS);
        // Within a chunk, texts are gathered column by column (one index_select per column);
        // order them that way so a text's position in `texts` is its row of the result.
        let mut start = 0;
        for &end in &ends {
            texts[start..end].sort_by_key(|t| t.column);
            start = end;
        }

        let device = self.device();
        let side = self.tokenizer().padding_side();
        let mut chunks = Vec::with_capacity(ends.len());
        let mut start = 0;
        for &end in &ends {
            let chunk = &texts[start..end];
            let seq = chunk.iter().map(|t| t.len).max().unwrap_or(1) as i64;
            chunks.push(gather_chunk(columns, chunk, seq, side, device)?);
            start = end;
        }
        // One autocast region for all chunks: the weights are cast once per step, not once
        // per chunk (leaving the region drops the cast cache).
        let token_embeddings =
            self.autocast_encoder(train, || self.encoder().forward_chunks_t(&chunks, train))?;
        let chunk_embeddings = chunks
            .iter()
            .zip(token_embeddings)
            .map(|(batch, xs)| self.modules_forward(xs, batch, None))
            .collect::<Result<Vec<_>>>()?;
        let all = Tensor::f_cat(&chunk_embeddings, 0)?;

        // Row `i` of column `c` sits at position_of[c][i] of the concatenated chunks.
        let mut position_of: Vec<Vec<i64>> = columns
            .iter()
            .map(|b| vec![0; b.input_ids.size().first().copied().unwrap_or(0) as usize])
            .collect();
        for (position, t) in texts.iter().enumerate() {
            let slot = position_of
                .get_mut(t.column)
                .and_then(|c| c.get_mut(t.row))
                .ok_or_else(|| Error::InvalidInput("packing lost track of a row".into()))?;
            *slot = position as i64;
        }
        position_of
            .iter()
            .map(|positions| {
                let index = Tensor::from_slice(positions).f_to_device(device)?;
                Ok(all.f_index_select(0, &index)?)
            })
            .collect()
    }
}

/// The rows of `chunk`, taken from their columns and cut (or padded) to `seq` positions at
/// the padding end.
fn gather_chunk(
    columns: &[TokenBatch],
    chunk: &[Text],
    seq: i64,
    side: PaddingSide,
    device: Device,
) -> Result<TokenBatch> {
    let mut ids = Vec::new();
    let mut masks = Vec::new();
    let mut types = Vec::new();
    let mut prompts = Vec::new();
    let any_prompts = columns.iter().any(|c| c.prompt_lengths.is_some());
    // The chunk is ordered by column, so the concatenation keeps the chunk's order.
    for (column, batch) in columns.iter().enumerate() {
        let rows: Vec<i64> = chunk
            .iter()
            .filter(|t| t.column == column)
            .map(|t| t.row as i64)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let index = Tensor::from_slice(&rows).f_to_device(device)?;
        // The chunk's longest text may come from another, longer column: cut or pad to it.
        let take = |t: &Tensor| -> Result<Tensor> {
            let have = t.size().get(1).copied().unwrap_or(0);
            let rows = t.f_index_select(0, &index)?;
            Ok(match (side, have >= seq) {
                (PaddingSide::Right, true) => rows.f_narrow(1, 0, seq)?,
                (PaddingSide::Right, false) => rows.f_constant_pad_nd([0, seq - have])?,
                (PaddingSide::Left, true) => rows.f_narrow(1, have - seq, seq)?,
                (PaddingSide::Left, false) => rows.f_constant_pad_nd([seq - have, 0])?,
            })
        };
        ids.push(take(&batch.input_ids)?);
        masks.push(take(&batch.attention_mask)?);
        types.push(take(&batch.token_type_ids)?);
        if any_prompts {
            prompts.push(match &batch.prompt_lengths {
                Some(lengths) => lengths.f_index_select(0, &index)?,
                None => Tensor::f_zeros([rows.len() as i64], (Kind::Int64, device))?,
            });
        }
    }
    Ok(TokenBatch {
        input_ids: Tensor::f_cat(&ids, 0)?,
        attention_mask: Tensor::f_cat(&masks, 0)?,
        token_type_ids: Tensor::f_cat(&types, 0)?,
        prompt_lengths: if any_prompts {
            Some(Tensor::f_cat(&prompts, 0)?)
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::partition;

    #[test]
    fn partition_is_one_chunk_when_lengths_are_equal() {
        assert_eq!(partition(&[10; 40], 96), vec![40]);
    }

    #[test]
    fn partition_splits_off_a_long_outlier() {
        // 31 texts of 10 tokens and one of 100: one chunk pads to 3,200 tokens, two cost
        // 310 + 100 + 2 × 96.
        let mut lens = vec![10; 31];
        lens.push(100);
        assert_eq!(partition(&lens, 96), vec![31, 32]);
    }

    #[test]
    fn partition_minimises_the_cost() {
        let lens = [3, 4, 4, 9, 9, 10, 30, 31, 60];
        let ends = partition(&lens, 20);
        let cost = |ends: &[usize]| {
            let mut start = 0;
            let mut total = 0;
            for &end in ends {
                total += (end - start) * lens[end - 1] + 20;
                start = end;
            }
            total
        };
        // Every way of cutting 9 texts (2^8 cut sets) costs at least as much.
        for mask in 0u32..256 {
            let mut candidate: Vec<usize> = (1..9).filter(|i| mask & (1 << (i - 1)) != 0).collect();
            candidate.push(9);
            assert!(cost(&ends) <= cost(&candidate), "{ends:?} vs {candidate:?}");
        }
    }
}
