//! Position ids for learned position tables.

use tch::{Device, Kind, Tensor};

use crate::error::Result;

/// How an architecture numbers the positions it looks up in its position table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PositionIds {
    /// 0, 1, …, seq − 1 for every row, padding included (BERT, DistilBERT).
    Absolute,
    /// fairseq's numbering (RoBERTa, XLM-R, MPNet): real tokens count from `padding_idx + 1`
    /// in order, padding gets `padding_idx`. Counted from the attention mask, so left padding
    /// and a pad token inside a text are handled alike.
    AfterPadding { padding_idx: i64 },
}

impl PositionIds {
    /// The largest sequence the table of `table_size` rows can number.
    pub(crate) fn max_tokens(self, table_size: i64) -> i64 {
        match self {
            PositionIds::Absolute => table_size,
            PositionIds::AfterPadding { padding_idx } => table_size - padding_idx - 1,
        }
    }

    /// # Shapes
    /// attention_mask: `[batch, seq]` → `[1, seq]` (absolute) or `[batch, seq]`
    pub(crate) fn ids(self, attention_mask: &Tensor) -> Result<Tensor> {
        let (_, seq) = attention_mask.size2()?;
        match self {
            PositionIds::Absolute => absolute(seq, attention_mask.device()),
            PositionIds::AfterPadding { padding_idx } => after_padding(attention_mask, padding_idx),
        }
    }
}

/// # Shapes
/// → `[1, seq]`
fn absolute(seq: i64, device: Device) -> Result<Tensor> {
    Ok(Tensor::f_arange(seq, (Kind::Int64, device))?.f_unsqueeze(0)?)
}

/// `cumsum(mask) · mask + padding_idx`, as transformers' `create_position_ids_from_input_ids`
/// computes from `input_ids != padding_idx`. The two agree unless id `padding_idx` occurs as a
/// real token (a pad token typed inside a text, or a vocabulary whose id `padding_idx` is not
/// its pad token, e.g. a BERT vocabulary, `[UNK]` = 1, under a RoBERTa config): transformers
/// then numbers that token as padding while still attending to it; here it keeps its place.
///
/// # Shapes
/// attention_mask: `[batch, seq]` → `[batch, seq]`
fn after_padding(attention_mask: &Tensor, padding_idx: i64) -> Result<Tensor> {
    let mask = attention_mask.f_ne(0)?.f_to_kind(Kind::Int64)?;
    let counted = mask.f_cumsum(1, Kind::Int64)?.f_mul(&mask)?;
    Ok(counted.f_add_scalar(padding_idx)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_offset_positions_skip_padding_on_either_side() {
        let mask = Tensor::from_slice(&[1i64, 1, 1, 0, 0, 0, 1, 1, 1, 1]).view([2, 5]);
        let ids = PositionIds::AfterPadding { padding_idx: 1 }
            .ids(&mask)
            .unwrap();
        let got = Vec::<i64>::try_from(ids.flatten(0, -1)).unwrap();
        assert_eq!(got, [2, 3, 4, 1, 1, 1, 2, 3, 4, 5]);
        let ids = PositionIds::Absolute.ids(&mask).unwrap();
        assert_eq!(ids.size(), [1, 5]);
    }

    #[test]
    fn max_tokens_leaves_room_for_the_offset() {
        assert_eq!(PositionIds::Absolute.max_tokens(512), 512);
        assert_eq!(
            PositionIds::AfterPadding { padding_idx: 1 }.max_tokens(514),
            512
        );
    }
}
