//! Token id lists padded into batches: the tensor-free half of batching. A model crate turns
//! an [`EncodedBatch`]'s buffers into tensors without copying them row by row.

use rayon::prelude::*;

/// Token ids of one text, before padding (already truncated by the tokenizer).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenizedText {
    pub ids: Vec<i64>,
    /// Segment ids, one per id; missing ones count as 0, extra ones are ignored.
    pub type_ids: Vec<i64>,
}

/// A padded batch of token ids: row-major `[batch, seq_len]` buffers.
///
/// # Shapes
/// `input_ids`, `attention_mask`, `token_type_ids`: `batch * seq_len` values each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodedBatch {
    pub input_ids: Vec<i64>,
    /// 1 over a text's tokens, 0 over padding.
    pub attention_mask: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    pub batch: usize,
    pub seq_len: usize,
}

impl EncodedBatch {
    /// Row `i` of the input ids, padding included; `None` past the last row.
    pub fn row_ids(&self, i: usize) -> Option<&[i64]> {
        row(&self.input_ids, i, self.batch, self.seq_len)
    }

    /// The number of real (unpadded) tokens of every row.
    pub fn lengths(&self) -> Vec<usize> {
        (0..self.batch)
            .map(|i| {
                row(&self.attention_mask, i, self.batch, self.seq_len)
                    .map_or(0, |mask| mask.iter().filter(|&&m| m != 0).count())
            })
            .collect()
    }
}

fn row(values: &[i64], i: usize, batch: usize, seq_len: usize) -> Option<&[i64]> {
    if i >= batch {
        return None;
    }
    values.get(i * seq_len..(i + 1) * seq_len)
}

/// Pads `texts` to the longest of them (dynamic padding): ids with `pad_id`, mask and type
/// ids with 0. Texts are never cut; truncation is the tokenizer's job.
pub fn collate(texts: &[&TokenizedText], pad_id: i64) -> EncodedBatch {
    let batch = texts.len();
    let seq_len = texts.iter().map(|t| t.ids.len()).max().unwrap_or(0);
    let mut input_ids = vec![pad_id; batch * seq_len];
    let mut attention_mask = vec![0; batch * seq_len];
    let mut token_type_ids = vec![0; batch * seq_len];
    let rows = input_ids
        .chunks_mut(seq_len.max(1))
        .zip(attention_mask.chunks_mut(seq_len.max(1)))
        .zip(token_type_ids.chunks_mut(seq_len.max(1)));
    for (((ids, mask), types), text) in rows.zip(texts) {
        let n = text.ids.len();
        ids[..n].copy_from_slice(&text.ids);
        mask[..n].fill(1);
        let typed = text.type_ids.len().min(n);
        types[..typed].copy_from_slice(&text.type_ids[..typed]);
    }
    EncodedBatch {
        input_ids,
        attention_mask,
        token_type_ids,
        batch,
        seq_len,
    }
}

/// [`collate`] for many batches at once, in parallel on rayon's pool; results keep the order
/// of `batches`. Worth it when a data loader prepares several batches ahead (an epoch of
/// pre-tokenized texts), not for a single batch.
pub fn collate_many<'t, B>(batches: &[B], pad_id: i64) -> Vec<EncodedBatch>
where
    B: AsRef<[&'t TokenizedText]> + Sync,
{
    batches
        .par_iter()
        .map(|batch| collate(batch.as_ref(), pad_id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ids: &[i64], type_ids: &[i64]) -> TokenizedText {
        TokenizedText {
            ids: ids.to_vec(),
            type_ids: type_ids.to_vec(),
        }
    }

    #[test]
    fn pads_to_the_longest_text() {
        let a = text(&[101, 7, 102], &[0, 0, 0]);
        let b = text(&[101, 7, 8, 9, 102], &[0, 0, 1, 1, 1]);
        let batch = collate(&[&a, &b], 0);
        assert_eq!((batch.batch, batch.seq_len), (2, 5));
        assert_eq!(batch.input_ids, [101, 7, 102, 0, 0, 101, 7, 8, 9, 102]);
        assert_eq!(batch.attention_mask, [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(batch.token_type_ids, [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
        assert_eq!(batch.lengths(), [3, 5]);
        assert_eq!(batch.row_ids(1), Some(&b.ids[..]));
        assert_eq!(batch.row_ids(2), None);
    }

    #[test]
    fn keeps_truncated_texts_whole_and_uses_the_pad_id() {
        // Texts the tokenizer already cut to max_seq_length = 4: no padding beyond them.
        let full = text(&[2, 5, 6, 3], &[0; 4]);
        let batch = collate(&[&full, &full], 0);
        assert_eq!(batch.seq_len, 4);
        assert!(batch.attention_mask.iter().all(|&m| m == 1));
        let short = text(&[2, 3], &[0, 0]);
        let batch = collate(&[&short, &full], 9);
        assert_eq!(&batch.input_ids[..4], &[2, 3, 9, 9]);
    }

    #[test]
    fn tolerates_odd_inputs() {
        assert_eq!(collate(&[], 0), EncodedBatch::default());
        let empty = TokenizedText::default();
        let batch = collate(&[&empty, &empty], 0);
        assert_eq!((batch.batch, batch.seq_len), (2, 0));
        assert_eq!(batch.lengths(), [0, 0]);
        // Type ids shorter or longer than the ids: 0-filled or cut, never a panic.
        let batch = collate(&[&text(&[1, 2, 3], &[1]), &text(&[1], &[1, 1, 1])], 0);
        assert_eq!(batch.token_type_ids, [1, 0, 0, 1, 0, 0]);
    }

    #[test]
    fn many_batches_match_one_by_one() {
        let texts: Vec<TokenizedText> = (1..40)
            .map(|n| text(&vec![n; (n % 7 + 1) as usize], &[]))
            .collect();
        let batches: Vec<Vec<&TokenizedText>> =
            texts.chunks(6).map(|c| c.iter().collect()).collect();
        let all = collate_many(&batches, 0);
        assert_eq!(all.len(), batches.len());
        for (got, batch) in all.iter().zip(&batches) {
            assert_eq!(got, &collate(batch, 0));
        }
    }
}
